"""Evaluate trained taggers as the literature does, and tune their thresholds.

    tagatlas-train evaluate runs/k2c2-seed0 runs/k2c2-seed1 runs/k2c2-seed2 --data ~/data/msd-seed

For each model (a run folder, a checkpoint folder or a bundle): track-level predictions on the
validation and test splits (patch probabilities averaged per track exactly as the app does);
per-tag thresholds that maximise F1 on validation; on test, macro and per-tag ROC-AUC and
PR-AUC (scikit-learn), per-tag accuracy at 0.5 and F1 at the tuned thresholds. With N runs
(e.g. N seeds), means come with a Student-t 95% confidence interval over the runs, as in the
dissertation. Writes ``metrics.json`` (read by ``export``), ``per_tag.csv``, plots (loss
curves, per-tag ROC-AUC bars, PR curves) and ``report.md``.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import ParameterError
from engine.features import FeatureSpec
from engine.tagger import pick_device

from .data import ShardDataset, StridedSampler, make_loader
from .metrics import accuracy_at, best_f1_thresholds, f1_at, macro, mean_ci, per_tag_auc
from .shards import read_index, read_meta
from .train import FitConfig, amp_dtype, load_model, predict, resolve_checkpoint


@dataclass
class LoadedModel:
    label: str                      # what the report calls it
    source: str                     # run folder, checkpoint folder or bundle
    model: torch.nn.Module
    tags: list[str]
    spec: FeatureSpec
    run_dir: Path | None            # for loss curves (log.csv)


def load_for_eval(source: str, device: torch.device) -> LoadedModel:
    p = Path(source)
    ckpt = resolve_checkpoint(p) if p.is_dir() else None
    if ckpt is not None:
        model, state = load_model(ckpt, device)
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
        label = (run_dir or ckpt).name
        return LoadedModel(label, str(p), model, list(state["tags"]),
                           FeatureSpec.from_dict(state["feature_spec"]), run_dir)
    from engine.bundle import load_bundle

    model, info = load_bundle(source, str(device))
    return LoadedModel(info.name, str(info.path), model, info.tag_names, info.feature_spec, None)


def _predict_split(lm: LoadedModel, data: str, split: str, index, meta, device, dtype,
                   batch_size: int, workers: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(y, p, columns)``: labels and predictions of the data set's tags the model knows."""
    ds = ShardDataset(data, split, mode="eval", index=index, meta=meta)
    loader = make_loader(ds, batch_size=batch_size, sampler=StridedSampler(len(ds)), workers=workers,
                         pin_memory=device.type == "cuda")
    p = predict(lm.model, loader, device, dtype, len(ds))
    pos = {t: i for i, t in enumerate(lm.tags)}
    cols = [j for j, t in enumerate(meta.tag_names) if t in pos]
    return ds.labels[:, cols], p[:, [pos[meta.tag_names[j]] for j in cols]], cols


def evaluate(sources: list[str], data: str, out: str | os.PathLike | None = None, *,
             split: str = "test", valid_split: str = "valid", device: str = "auto",
             batch_size: int = 64, workers: int = 2, plots: bool = True) -> dict[str, Any]:
    """Evaluate ``sources`` (N runs of one setup) on ``data``; returns what ``metrics.json`` holds.

    Per-tag thresholds are tuned for F1 on ``valid_split``; ROC-AUC, PR-AUC, accuracy at 0.5
    and F1 at the tuned thresholds are measured on ``split``. Writes ``metrics.json``,
    ``per_tag.csv``, ``report.md`` and (with ``plots``) the plots into the output folder.

    Parameters
    ----------
    sources : list of str
        Run folders, checkpoint folders or bundles (at least one), all with the FeatureSpec the
        data was prepared with.
    data : str
        The prepared data set's folder (:mod:`training.prepare`).
    out : str or os.PathLike, optional
        The folder to write into; None: ``RUN/eval`` of the only source, which must then be a run
        folder.
    split : str, default "test"
        The split the metrics are measured on.
    valid_split : str, default "valid"
        The split the thresholds are tuned on.
    device : str, default "auto"
        Where the models run ("cpu", "cuda", ...); "auto": CUDA when present, else the CPU.
    batch_size : int, default 64
        Tracks per evaluation batch (each with all its patches).
    workers : int, default 2
        Loader worker processes (0: load in this process).
    plots : bool, default True
        Also draw the loss curves, per-tag ROC-AUC bars and PR curves.

    Returns
    -------
    dict
        The contents of ``metrics.json`` (data set, splits, one entry per run, and the summary
        over the runs with 95% confidence intervals), plus ``out_dir``.

    Raises
    ------
    ParameterError
        When no source is given, a source's FeatureSpec differs from the data's, none of a
        source's tags are in the data, or ``out`` is needed and not given.
    """
    if not sources:
        raise ParameterError("name at least one run folder, checkpoint or bundle to evaluate")
    dev = torch.device(pick_device(device) if device != "auto"
                       else ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = amp_dtype(FitConfig(amp="auto"), dev)
    meta = read_meta(data)
    index = read_index(data)
    runs, per_run_arrays = [], []
    loaded = []
    for src in sources:
        lm = load_for_eval(src, dev)
        if lm.spec != meta.spec:
            raise ParameterError(f"{src}: its FeatureSpec differs from the one {data} was prepared with; "
                             "prepare the data with the model's spec")
        y_val, p_val, cols = _predict_split(lm, data, valid_split, index, meta, dev, dtype, batch_size, workers)
        y, p, cols_t = _predict_split(lm, data, split, index, meta, dev, dtype, batch_size, workers)
        if not cols:
            raise ParameterError(f"{src}: none of its tags are in {data}")
        thresholds, val_f1 = best_f1_thresholds(y_val, p_val)
        roc, pr = per_tag_auc(y, p)
        acc = accuracy_at(y, p, 0.5)
        f1 = f1_at(y, p, thresholds)
        names = [meta.tag_names[j] for j in cols]
        # thresholds in the model's own tag order (what the bundle stores); 0.5 for tags not in the data
        model_th = np.full(len(lm.tags), 0.5, np.float32)
        for name, t in zip(names, thresholds):
            model_th[lm.tags.index(name)] = t
        runs.append({
            "model": lm.label, "source": lm.source, "n_items": int(len(y)),
            "roc_auc": _num(macro(roc)), "pr_auc": _num(macro(pr)), "accuracy_at_0.5": float(np.mean(acc)),
            "f1_at_thresholds": _num(macro(f1)),
            "tags": names,
            "per_tag": {n: {"roc_auc": _num(roc[k]), "pr_auc": _num(pr[k]), "accuracy_at_0.5": _num(acc[k]),
                            "threshold": float(thresholds[k]), "valid_f1": _num(val_f1[k]),
                            "test_f1": _num(f1[k]), "test_positives": int(y[:, k].sum())}
                        for k, n in enumerate(names)},
            "thresholds": [float(t) for t in model_th],
        })
        per_run_arrays.append((names, roc, pr, acc, y, p))
        loaded.append(lm)

    # summary over runs: only tags every run predicts
    common = [t for t in runs[0]["tags"] if all(t in r["tags"] for r in runs)]
    def stack(key):
        return np.array([[r["per_tag"][t][key] if r["per_tag"][t][key] is not None else np.nan
                          for t in common] for r in runs])
    acc_mean, acc_ci = mean_ci(stack("accuracy_at_0.5"))
    roc_mean, roc_ci = mean_ci(stack("roc_auc"))
    pr_mean, pr_ci = mean_ci(stack("pr_auc"))
    m_roc, m_roc_ci = mean_ci(np.array([np.nan if r["roc_auc"] is None else r["roc_auc"] for r in runs]))
    m_pr, m_pr_ci = mean_ci(np.array([np.nan if r["pr_auc"] is None else r["pr_auc"] for r in runs]))
    summary = {
        "n_runs": len(runs), "confidence": 0.95,
        "roc_auc": _num(m_roc), "roc_auc_ci": _num(m_roc_ci),
        "pr_auc": _num(m_pr), "pr_auc_ci": _num(m_pr_ci),
        "per_tag": {t: {"roc_auc": _num(roc_mean[k]), "roc_auc_ci": _num(roc_ci[k]),
                        "pr_auc": _num(pr_mean[k]), "pr_auc_ci": _num(pr_ci[k]),
                        "accuracy_at_0.5": _num(acc_mean[k]), "accuracy_ci": _num(acc_ci[k])}
                    for k, t in enumerate(common)},
    }
    result = {"dataset": meta.dataset, "data": str(Path(data).resolve()), "data_notes": meta.notes,
              "split": split, "threshold_split": valid_split, "runs": runs, "summary": summary}

    out_dir = Path(out) if out is not None else _default_out(loaded)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    _write_per_tag_csv(out_dir / "per_tag.csv", result)
    images = _plots(out_dir, loaded, per_run_arrays, summary, common) if plots else {}
    _write_report(out_dir / "report.md", result, images)
    result["out_dir"] = str(out_dir)
    return result


def _num(v) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


def _default_out(loaded: list[LoadedModel]) -> Path:
    if len(loaded) == 1 and loaded[0].run_dir is not None:
        return loaded[0].run_dir / "eval"
    raise ParameterError("say where to write the evaluation with --out")


def _write_per_tag_csv(path: Path, result: dict) -> None:
    s = result["summary"]["per_tag"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["tag", "roc_auc", "roc_auc_ci", "pr_auc", "pr_auc_ci", "accuracy_at_0.5",
                    "accuracy_ci", "threshold_run1", "test_f1_run1", "test_positives"])
        r0 = result["runs"][0]["per_tag"]
        for t, m in s.items():
            w.writerow([t, m["roc_auc"], m["roc_auc_ci"], m["pr_auc"], m["pr_auc_ci"],
                        m["accuracy_at_0.5"], m["accuracy_ci"], r0[t]["threshold"], r0[t]["test_f1"],
                        r0[t]["test_positives"]])


# --- plots -----------------------------------------------------------------------------------------
def _plots(out: Path, loaded: list[LoadedModel], arrays, summary: dict, common: list[str]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    images: dict[str, str] = {}
    # loss curves
    logs = [(lm.label, lm.run_dir / "log.csv") for lm in loaded
            if lm.run_dir is not None and (lm.run_dir / "log.csv").is_file()]
    if logs:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for label, path in logs:
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            ep = [int(r["epoch"]) for r in rows]
            ax1.plot(ep, [float(r["train_loss"]) for r in rows], label=f"{label} train")
            ax1.plot(ep, [float(r["val_loss"]) for r in rows], "--", label=f"{label} valid")
            ax2.plot(ep, [float(r["val_roc_auc"]) for r in rows], label=label)
        ax1.set(xlabel="epoch", ylabel="binary cross-entropy", title="Loss")
        ax2.set(xlabel="epoch", ylabel="ROC-AUC", title="Validation ROC-AUC (macro)")
        ax1.legend(fontsize=7)
        ax2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "loss_curves.png", dpi=110)
        plt.close(fig)
        images["Loss curves"] = "loss_curves.png"

    # per-tag ROC-AUC bars (mean over runs, CI whiskers when N > 1)
    per = summary["per_tag"]
    tags = sorted(common, key=lambda t: -(per[t]["roc_auc"] or 0))
    vals = [per[t]["roc_auc"] or 0 for t in tags]
    err = [per[t]["roc_auc_ci"] or 0 for t in tags]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.22 * len(tags) + 1)))
    ax.barh(range(len(tags)), vals, xerr=err if any(err) else None, color="#4878a8")
    ax.set_yticks(range(len(tags)), tags, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(min([0.5] + vals) - 0.02, 1.0)
    ax.axvline(summary["roc_auc"] or 0, color="k", lw=0.8, ls="--")
    ax.set(xlabel="ROC-AUC (test)", title=f"Per-tag ROC-AUC, macro {summary['roc_auc'] or 0:.4f}")
    fig.tight_layout()
    fig.savefig(out / "per_tag_roc_auc.png", dpi=110)
    plt.close(fig)
    images["Per-tag ROC-AUC"] = "per_tag_roc_auc.png"

    # PR curves of the first run, one small panel per tag
    names, _roc, pr, _acc, y, p = arrays[0]
    n = len(names)
    cols = min(5, n)
    rows_n = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(2.4 * cols, 2.0 * rows_n), squeeze=False)
    for k in range(rows_n * cols):
        ax = axes[k // cols][k % cols]
        if k >= n:
            ax.axis("off")
            continue
        if 0 < y[:, k].sum() < len(y):
            prec, rec, _ = precision_recall_curve(y[:, k], p[:, k])
            ax.plot(rec, prec, lw=1)
            ax.axhline(y[:, k].mean(), color="grey", lw=0.6, ls=":")
        ax.set_title(f"{names[k]} ({pr[k]:.2f})" if not np.isnan(pr[k]) else names[k], fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=5)
    fig.suptitle(f"Precision-recall curves ({loaded[0].label}; dotted: positive rate)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "pr_curves.png", dpi=100)
    plt.close(fig)
    images["Precision-recall curves"] = "pr_curves.png"
    return images


# --- report ----------------------------------------------------------------------------------------
def _fmt(v, ci=None, digits=4) -> str:
    if v is None:
        return "n/a"
    s = f"{v:.{digits}f}"
    if ci is not None:
        s += f" ± {ci:.{digits}f}"
    return s


def _write_report(path: Path, result: dict, images: dict[str, str]) -> None:
    s = result["summary"]
    runs = result["runs"]
    lines = [
        f"# Evaluation on {result['dataset']} ({result['split']} split)", "",
        f"- Data: `{result['data']}`" + (f" — {result['data_notes']}" if result["data_notes"] else ""),
        f"- Items evaluated: {runs[0]['n_items']}; thresholds tuned for maximum F1 on the "
        f"{result['threshold_split']} split.",
        f"- Runs: {s['n_runs']} ({', '.join(r['model'] for r in runs)}); "
        + ("means ± half-width of the Student-t 95% confidence interval over the runs."
           if s["n_runs"] > 1 else "one run, so no confidence interval."),
        "- Track-level scores are the mean of the patch probabilities, as the app computes them.", "",
        "## Summary", "",
        "| | ROC-AUC | PR-AUC |", "|---|---|---|",
        f"| macro, mean over runs | {_fmt(s['roc_auc'], s['roc_auc_ci'])} | {_fmt(s['pr_auc'], s['pr_auc_ci'])} |",
    ]
    for r in runs:
        lines.append(f"| {r['model']} | {_fmt(r['roc_auc'])} | {_fmt(r['pr_auc'])} |")
    lines += ["", "## Per tag", "",
              "| tag | ROC-AUC | PR-AUC | accuracy at 0.5 | threshold | F1 at threshold | test positives |",
              "|---|---|---|---|---|---|---|"]
    r0 = runs[0]["per_tag"]
    for t, m in s["per_tag"].items():
        lines.append(f"| {t} | {_fmt(m['roc_auc'], m['roc_auc_ci'])} | {_fmt(m['pr_auc'], m['pr_auc_ci'])} | "
                     f"{_fmt(m['accuracy_at_0.5'], m['accuracy_ci'], 3)} | {r0[t]['threshold']:.3f} | "
                     f"{_fmt(r0[t]['test_f1'], digits=3)} | {r0[t]['test_positives']} |")
    if any(m["roc_auc"] is None for m in s["per_tag"].values()):
        lines += ["", "n/a: the tag has no positive (or no negative) example in this split."]
    for title, img in images.items():
        lines += ["", f"## {title}", "", f"![{title}]({img})"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
