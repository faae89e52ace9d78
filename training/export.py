"""Export a trained model as a bundle the app lists and runs.

    tagatlas-train export runs/k2c2-msd --name k2c2-msd-mine

Writes ``NAME.safetensors`` + ``NAME.json`` (:func:`engine.bundle.save_bundle`) into the user's
models folder (or ``--out``): the weights of the run's best checkpoint, the FeatureSpec the
data was prepared with, the tags with categories and display names, the per-tag thresholds
tuned on validation by ``evaluate`` (0.5 when the run was not evaluated), the test metrics
with the data set they were measured on, and provenance (what trained it, from which data,
with which settings). ``engine.bundle.list_bundles`` finds it there; ``Tagger(NAME)`` runs it.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

from engine.bundle import BundleInfo, save_bundle
from engine.errors import ParameterError
from engine.features import FeatureSpec
from engine.paths import user_models_dir
from engine.vocab import TagInfo, display_name, msd_category

from .train import load_model, resolve_checkpoint

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _tag_infos(names: list[str], data: str | None) -> list[TagInfo]:
    """Tag infos from the prepared data's meta.json (categories, display names) when available."""
    if data and (Path(data) / "meta.json").is_file():
        meta = json.loads((Path(data) / "meta.json").read_text(encoding="utf-8"))
        by_name = {t["name"]: TagInfo(t["name"], t["category"], t["display"]) for t in meta["tags"]}
        if all(n in by_name for n in names):
            return [by_name[n] for n in names]
    return [TagInfo(n, msd_category(n), display_name(n)) for n in names]


def export(source: str | os.PathLike, name: str, *, out_dir: str | os.PathLike | None = None,
           metrics_path: str | os.PathLike | None = None, description: str = "",
           license: str = "", overwrite: bool = False) -> Path:
    """Write bundle ``name`` from a run folder (its best checkpoint) or a checkpoint folder.

    The bundle holds the checkpoint's weights, its FeatureSpec, the tags (with categories and
    display names from the prepared data's ``meta.json`` when it is found), the per-tag
    thresholds and test metrics of ``evaluate`` (0.5 thresholds when there are none), and
    provenance.

    Parameters
    ----------
    source : str or os.PathLike
        A run folder (its ``checkpoints/best``, else ``checkpoints/last``) or a checkpoint folder
        (``model.safetensors`` + ``state.json``).
    name : str
        The bundle's name: letters, digits, ".", "_" and "-", starting with a letter or digit,
        at most 100 characters.
    out_dir : str or os.PathLike, optional
        Where to write the bundle; None: the user's models folder
        (:func:`engine.paths.user_models_dir`).
    metrics_path : str or os.PathLike, optional
        The ``metrics.json`` of ``evaluate``: its thresholds and test metrics go into the bundle.
        None: ``RUN/eval/metrics.json`` when present.
    description : str, default ""
        The bundle's description; empty: "ARCHITECTURE trained on DATASET with tagatlas-train".
    license : str, default ""
        The license of the weights, stored in the bundle.
    overwrite : bool, default False
        Replace a bundle of the same name in ``out_dir`` instead of refusing.

    Returns
    -------
    Path
        The bundle's JSON file.

    Raises
    ------
    ParameterError
        For a ``name`` that is not allowed.
    FileNotFoundError
        When ``source`` holds no checkpoint.
    FileExistsError
        When a bundle named ``name`` already exists and ``overwrite`` is False.
    """
    if not _NAME_OK.match(name):
        raise ParameterError(f"bundle name {name!r}: use letters, digits, '.', '_' and '-' only")
    src = Path(source)
    ckpt = resolve_checkpoint(src)
    if ckpt is None:
        raise FileNotFoundError(f"{src} holds no checkpoint (model.safetensors + state.json)")
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
    out = Path(out_dir) if out_dir is not None else user_models_dir()
    if (out / f"{name}.json").exists() and not overwrite:
        raise FileExistsError(f"a bundle named {name!r} already exists in {out}; pass --overwrite "
                              "or choose another --name")
    model, state = load_model(ckpt, "cpu")
    tags = list(state["tags"])

    metrics: dict[str, Any] = {"dataset": state.get("dataset"), "data": state.get("data"),
                               "validation_roc_auc": state.get("best_roc_auc"),
                               "validation_epoch": state.get("best_epoch")}
    thresholds = None
    mpath = Path(metrics_path) if metrics_path else (run_dir / "eval" / "metrics.json" if run_dir else None)
    if mpath is not None and mpath.is_file():
        ev = json.loads(mpath.read_text(encoding="utf-8"))
        run = _matching_run(ev, src, ckpt, run_dir)
        if run is not None:
            if len(run["thresholds"]) == len(tags):
                thresholds = [float(t) for t in run["thresholds"]]
            metrics.update({
                "split": ev["split"], "n_items": run["n_items"], "roc_auc": run["roc_auc"],
                "pr_auc": run["pr_auc"], "thresholds_tuned_on": ev["threshold_split"],
                "per_tag_roc_auc": {t: m["roc_auc"] for t, m in run["per_tag"].items()},
                "per_tag_pr_auc": {t: m["pr_auc"] for t, m in run["per_tag"].items()},
            })
            if ev["summary"]["n_runs"] > 1:
                metrics["over_runs"] = {k: ev["summary"][k] for k in ("n_runs", "roc_auc", "roc_auc_ci",
                                                                      "pr_auc", "pr_auc_ci")}

    cfg = state.get("config", {})
    provenance = {
        "trained_by": "tagatlas-train (Tag Atlas training suite)",
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": state.get("dataset"), "data": state.get("data"),
        "epochs_trained": state.get("epoch"), "best_epoch": state.get("best_epoch"),
        "config": cfg, "torch": torch.__version__, "python": platform.python_version(),
        "checkpoint": str(ckpt.resolve()),
    }
    info = BundleInfo(
        name=name, architecture=state["architecture"], arch_args=state["arch_args"],
        feature_spec=FeatureSpec.from_dict(state["feature_spec"]),
        tags=_tag_infos(tags, state.get("data")), thresholds=thresholds, metrics=metrics,
        provenance=provenance, license=license,
        description=description or f"{state['architecture']} trained on {state.get('dataset')} "
                                   f"with tagatlas-train",
    )
    return save_bundle(model, info, out)


def _matching_run(ev: dict, src: Path, ckpt: Path, run_dir: Path | None) -> dict | None:
    """The entry of ``metrics.json`` that evaluated this model (by path), else the only one."""
    targets = {str(p.resolve()) for p in (src, ckpt, run_dir) if p is not None}
    for r in ev.get("runs", []):
        if str(Path(r["source"]).resolve()) in targets:
            return r
    return ev["runs"][0] if len(ev.get("runs", [])) == 1 else None
