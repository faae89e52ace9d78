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
        if not info.tags:
            raise ModelError(f"model bundle{where} lists no tags")
        if info.thresholds is not None:
            if len(info.thresholds) != len(info.tags):
                raise ModelError(f"model bundle{where}: {len(info.thresholds)} thresholds for {len(info.tags)} tags")
            if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0.0 <= t <= 1.0
                       for t in info.thresholds):
                raise ModelError(f"model bundle{where}: thresholds must be numbers from 0 to 1")
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
    validate_bundle(info, weights)
    try:
        model = build_model(info.architecture, **info.arch_args)
    except (ModelError, MemoryError):
        raise
    except Exception as exc:  # validated on meta already; name the file anyway
        raise ModelError(f"model bundle {info.path}: the model cannot be built: {exc}") from exc
    try:
        state = load_file(str(weights), device="cpu")
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors raises its own types; name the bundle in plain words
        raise ModelError(f"model bundle {info.name!r}: weights do not fit the architecture: {exc}") from exc
    return model.to(device).eval(), info


# --- validation, before anything big is allocated -------------------------------------------
#: Limits no real tagger comes near (the bundled ones: 0.8-3 M parameters, 3-12 MB).
MAX_WEIGHTS_BYTES = 4 << 30
MAX_PARAMETERS = 1 << 30
MAX_HEADER_BYTES = 100 << 20
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}


def read_safetensors_header(weights: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from a safetensors file's header, reading no tensor data;
    raises ModelError naming the file when the header or the file's size is wrong."""
    try:
        size = weights.stat().st_size
        with open(weights, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelError(f"weights file {weights} is not a safetensors file (too short)")
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER_BYTES or 8 + n > size:
                raise ModelError(f"weights file {weights} is not a safetensors file "
                                 f"(its header claims {n} bytes)")
            header = json.loads(f.read(n).decode("utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read weights file {weights}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"weights file {weights} is not a safetensors file (unreadable header)") from None
    if size > MAX_WEIGHTS_BYTES:
        raise ModelError(f"weights file {weights} is {size / 2**30:.1f} GiB; "
                         f"a tagger's weights are far smaller (at most {MAX_WEIGHTS_BYTES >> 30} GiB)")
    if not isinstance(header, dict):
        raise ModelError(f"weights file {weights} is not a safetensors file (unreadable header)")
    data = size - 8 - n
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            width = _DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            raise ModelError(f"weights file {weights}: tensor {name!r} is described wrongly") from None
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= data or end - begin != count * width:
            raise ModelError(f"weights file {weights}: tensor {name!r} does not fit in the file "
                             f"(the file is damaged or truncated)")
        out[name] = (dtype, shape)
    return out


def validate_bundle(info: BundleInfo, weights: Path) -> None:
    """Everything that can be checked without allocating the model: the constructor arguments,
    the model built on the meta device (no memory), its parameter count, its output size
    against the tag list, and its tensors' names and shapes against the safetensors header.
    Raises ModelError naming the file that is wrong."""
    import torch

    from .models.registry import build_model, check_arch_args

    js = info.path or weights.with_suffix(".json")
    check_arch_args(info.architecture, info.arch_args, f" {js}")
    tensors = read_safetensors_header(weights)
    try:
        with torch.device("meta"):
            model = build_model(info.architecture, **info.arch_args)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 -- constructors raise anything on bad arguments
        raise ModelError(f"model bundle {js}: arch_args do not build a {info.architecture!r} "
                         f"model: {exc}") from None
    state = model.state_dict()
    n_params = sum(t.numel() for t in state.values())
    if n_params > MAX_PARAMETERS:
        raise ModelError(f"model bundle {js}: arch_args describe a model of {n_params:,} "
                         f"parameters, far beyond any tagger (at most {MAX_PARAMETERS:,})")
    n_out = _output_size(model, info)
    if n_out is not None and n_out != len(info.tags):
        raise ModelError(f"model bundle {js} lists {len(info.tags)} tags but the model "
                         f"gives {n_out} scores")
    missing = [k for k in state if k not in tensors]
    unexpected = [k for k in tensors if k not in state]
    wrong = [f"{k} is {list(tensors[k][1])}, expected {list(state[k].shape)}"
             for k in state if k in tensors and tuple(state[k].shape) != tensors[k][1]]
    problems = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
               ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []) + wrong[:3]
    if problems:
        raise ModelError(f"model bundle {info.name!r}: weights do not fit the architecture: "
                         f"weights file {weights}: {'; '.join(problems)}")


def _output_size(model, info: BundleInfo) -> int | None:
    """How many scores the model gives for one input of the bundle's feature spec, worked out
    on the meta device; None when the model cannot say there (then the tags are checked
    against the weights' shapes only)."""
    import torch

    spec = info.feature_spec
    try:
        with torch.no_grad():
            logits = model.eval()(torch.empty(1, spec.n_mels, spec.input_frames, device="meta"))
        return int(logits.shape[-1])
    except Exception:  # noqa: BLE001 -- an op without a meta kernel: skip this one check
        n = info.arch_args.get("n_tags")
        return n if isinstance(n, int) else None
