"""Model bundles: ``NAME.safetensors`` (weights) + ``NAME.json`` (everything else).

The JSON describes the model completely (architecture and constructor arguments, the
FeatureSpec, the ordered tags with categories and display names, per-tag thresholds, metrics
with the data they were measured on, provenance, license), so the app rebuilds any model
without reading training code. Loading never unpickles anything.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BundleNotFoundError, ModelError
from .features import FeatureSpec
from .paths import bundled_models_dir, user_models_dir
from .vocab import TagInfo, tag_infos_from_json

FORMAT_VERSION = 1
DEFAULT_MODEL = "musicnn-msd"


@dataclass
class BundleInfo:
    """The JSON half of a bundle."""

    name: str
    architecture: str
    arch_args: dict[str, Any]
    feature_spec: FeatureSpec
    tags: list[TagInfo]
    thresholds: list[float] | None = None       # per tag; None = 0.5 everywhere
    metrics: dict[str, Any] = field(default_factory=dict)     # e.g. {"dataset": ..., "roc_auc": ...}
    provenance: dict[str, Any] = field(default_factory=dict)  # who/what trained it, from which data
    license: str = ""
    description: str = ""
    embedding_dim: int | None = None
    path: Path | None = None                     # the .json file it was read from

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    def threshold_array(self) -> np.ndarray:
        if self.thresholds is None:
            return np.full(len(self.tags), 0.5, dtype=np.float32)
        return np.asarray(self.thresholds, dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "architecture": self.architecture,
            "arch_args": self.arch_args,
            "feature_spec": self.feature_spec.to_dict(),
            "tags": [{"name": t.name, "category": t.category, "display": t.display} for t in self.tags],
            "thresholds": self.thresholds,
            "embedding_dim": self.embedding_dim,
            "metrics": self.metrics,
            "provenance": self.provenance,
            "license": self.license,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | None = None) -> "BundleInfo":
        where = f" in {path}" if path else ""
        try:
            version = data.get("format_version", 1)
            if version > FORMAT_VERSION:
                raise ModelError(f"model bundle{where} needs a newer Tag Atlas (format {version})")
            info = cls(
                name=data["name"],
                architecture=data["architecture"],
                arch_args=dict(data.get("arch_args", {})),
                feature_spec=FeatureSpec.from_dict(data["feature_spec"]),
                tags=tag_infos_from_json(data["tags"]),
                thresholds=data.get("thresholds"),
                metrics=data.get("metrics", {}),
                provenance=data.get("provenance", {}),
                license=data.get("license", ""),
                description=data.get("description", ""),
                embedding_dim=data.get("embedding_dim"),
                path=path,
            )
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model bundle{where} is malformed: {exc}") from exc
        if info.thresholds is not None and len(info.thresholds) != len(info.tags):
            raise ModelError(f"model bundle{where}: {len(info.thresholds)} thresholds for {len(info.tags)} tags")
        return info


def models_search_path() -> list[Path]:
    """Folders searched for bundles, the user's first (so a user model can shadow a bundled one)."""
    return [user_models_dir(), bundled_models_dir()]


def find_bundle(name_or_path: str | os.PathLike) -> Path:
    """The ``.json`` of bundle ``name_or_path`` (a name, a .json/.safetensors path, or a stem)."""
    p = Path(name_or_path)
    candidates = []
    if p.suffix in (".json", ".safetensors") or p.parent != Path("."):
        candidates.append(p.with_suffix(".json"))
    else:
        candidates += [d / f"{p.name}.json" for d in models_search_path()]
    for c in candidates:
        if c.is_file():
            return c
    known = ", ".join(b.name for b in list_bundles()) or "none"
    raise BundleNotFoundError(f"no model bundle named {str(name_or_path)!r} (available: {known})")


def read_bundle_info(name_or_path: str | os.PathLike) -> BundleInfo:
    path = find_bundle(name_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read model bundle {path}: {exc}") from exc
    return BundleInfo.from_json(data, path)


def list_bundles() -> list[BundleInfo]:
    """Every readable bundle in the search path (the first of each name wins)."""
    seen: dict[str, BundleInfo] = {}
    for folder in models_search_path():
        if not folder.is_dir():
            continue
        for js in sorted(folder.glob("*.json")):
            if not js.with_suffix(".safetensors").is_file():
                continue
            try:
                info = BundleInfo.from_json(json.loads(js.read_text(encoding="utf-8")), js)
            except (ModelError, OSError, ValueError):
                continue
            seen.setdefault(info.name, info)
    return list(seen.values())


def save_bundle(model, info: BundleInfo, out_dir: str | os.PathLike) -> Path:
    """Write ``out_dir/NAME.safetensors`` and ``out_dir/NAME.json``; returns the JSON path."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info.architecture = model.architecture
    info.arch_args = model.config()
    info.embedding_dim = getattr(model, "embedding_dim", None)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = out / f"{info.name}.safetensors"
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp), metadata={"name": info.name, "architecture": info.architecture})
    os.replace(tmp, weights)
    js = out / f"{info.name}.json"
    tmp_js = js.with_suffix(".json.tmp")
    tmp_js.write_text(json.dumps(info.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp_js, js)
    info.path = js
    return js


def load_bundle(name_or_path: str | os.PathLike, device: str = "cpu"):
    """Rebuild a bundle's model in eval mode on ``device``; returns ``(model, info)``."""
    from safetensors.torch import load_file

    from .models.registry import build_model

    info = read_bundle_info(name_or_path)
    assert info.path is not None
    weights = info.path.with_suffix(".safetensors")
    if not weights.is_file():
        raise ModelError(f"model bundle {info.name!r}: weights file {weights} is missing")
    model = build_model(info.architecture, **info.arch_args)
    try:
        state = load_file(str(weights), device="cpu")
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors raises its own types; name the bundle in plain words
        raise ModelError(f"model bundle {info.name!r}: weights do not fit the architecture: {exc}") from exc
    return model.to(device).eval(), info
