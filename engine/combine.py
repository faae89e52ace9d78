"""Several models' scores -> one calibrated score per canonical tag, with the evidence behind it.

Each model's raw sigmoid outputs live on their own scale: musicnn-msd's best genre for a typical
track scores 0.34, and a model's scores for rare tags stay low even when the tag fits. So every
raw score ``s`` of a model tag is first *calibrated* against that tag's threshold ``t`` (the
score from which the tag is worth writing) by the piecewise-linear map

    c = 0.5 * s / t                        for s <= t
    c = 0.5 + 0.5 * (s - t) / (1 - t)      for s >  t

so that 0.5 means "at the threshold" for every tag of every model, order is kept within a tag,
and 0 and 1 stay 0 and 1. Thresholds come from the bundle when it has per-tag ones (models
trained with ``tagatlas-train`` choose them on their validation split), else from
``resources/vocabulary/calibration.json`` (one threshold per model and category, chosen on the
labelled development set, see ``benchmarks/devset``), else 0.5.

Model tags are then folded onto the canonical vocabulary (:mod:`engine.canonical`); a canonical
tag's combined score is the highest calibrated score of the model tags that mean it (a tag only
one model knows keeps that model's evidence instead of being averaged down). Every combined
score keeps its evidence: which model said what, raw and calibrated.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .canonical import canonical_for, canonical_tags
from .errors import ParameterError
from .vocab import CATEGORIES, TagInfo


@dataclass(frozen=True)
class ModelVocabulary:
    """What the combiner needs to know of one model: its name, tags and per-tag thresholds."""

    name: str
    tags: list[TagInfo]
    thresholds: np.ndarray | None = None       # from the bundle; None: calibration table / 0.5


@dataclass(frozen=True)
class Evidence:
    model: str
    tag: str            # the model's raw tag
    raw: float          # its sigmoid score
    calibrated: float


@dataclass
class CombinedScores:
    scores: np.ndarray                         # [n canonical tags] calibrated, in Combiner.tags order
    evidence: list[list[Evidence]] = field(default_factory=list)   # per tag, strongest first
    models: list[str] = field(default_factory=list)                # the models that contributed


def calibrate(raw: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The piecewise-linear map of the module docstring, elementwise (pure)."""
    s = np.clip(np.asarray(raw, dtype=np.float64), 0.0, 1.0)
    t = np.clip(np.asarray(thresholds, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    return np.where(s <= t, 0.5 * s / t, 0.5 + 0.5 * (s - t) / (1.0 - t))


@functools.cache
def _calibration_table() -> dict:
    path = resources.files("resources").joinpath("vocabulary", "calibration.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def calibrated_relative(category: str, table: dict | None = None) -> float | None:
    """The relative-to-the-best rule chosen for ``category`` with the calibration (its
    ``"relative"`` section), or None where the table has none."""
    table = _calibration_table() if table is None else table
    value = table.get("relative", {}).get(category)
    return None if value is None else float(value)


def model_thresholds(model: ModelVocabulary, table: dict | None = None) -> np.ndarray:
    """Per-tag thresholds of ``model``: the bundle's, else the calibration table's per canonical
    category (``{"models": {name: {category: t}}}``), else 0.5."""
    if model.thresholds is not None:
        return np.asarray(model.thresholds, dtype=np.float64)
    table = _calibration_table() if table is None else table
    per_cat = table.get("models", {}).get(model.name, {})
    out = []
    for t in model.tags:          # keyed by the canonical category: MSD's "ambient" is a genre here
        c = canonical_for(t)
        cat = c.category if c is not None else t.category
        out.append(float(per_cat.get(cat, per_cat.get("*", 0.5))))
    return np.array(out)


class Combiner:
    """Fold the scores of ``models`` onto the canonical vocabulary (see the module docstring).

    ``tags``: the canonical tags any of the models can say, as :class:`TagInfo` (name = the
    canonical id), in the canonical table's order. ``name``: the models joined with "+".
    """

    def __init__(self, models: Sequence[ModelVocabulary], calibration: dict | None = None) -> None:
        if not models:
            raise ParameterError("no model to combine")
        self.models = list(models)
        self.name = "+".join(m.name for m in self.models)
        order = {tid: i for i, tid in enumerate(canonical_tags())}
        targets: dict[str, TagInfo] = {}
        per_model: list[list[str | None]] = []
        for m in self.models:
            ids = []
            for t in m.tags:
                c = canonical_for(t)
                if c is not None:
                    targets.setdefault(c.id, c.as_tag_info())
                ids.append(None if c is None else c.id)
            per_model.append(ids)
        ranked = sorted(targets, key=lambda tid: (order.get(tid, len(order)), tid))
        self.tags: list[TagInfo] = [targets[tid] for tid in ranked]
        index = {tid: i for i, tid in enumerate(ranked)}
        #: per model, per output: the index in ``tags`` it counts for (None: not written)
        self.targets: list[list[int | None]] = [[None if tid is None else index[tid] for tid in ids]
                                                for ids in per_model]
        self._thresholds = [model_thresholds(m, calibration) for m in self.models]

    def combine(self, scores: Sequence[np.ndarray | None]) -> CombinedScores:
        """``scores[k]``: model k's raw scores for one track, or None when it has none (the
        others still count)."""
        if len(scores) != len(self.models):
            raise ParameterError(f"{len(scores)} score vectors for {len(self.models)} models")
        out = np.zeros(len(self.tags), dtype=np.float64)
        evidence: list[list[Evidence]] = [[] for _ in self.tags]
        used = []
        for model, mapping, thr, raw in zip(self.models, self.targets, self._thresholds, scores):
            if raw is None:
                continue
            raw = np.asarray(raw, dtype=np.float64).ravel()
            if raw.shape[0] != len(mapping):
                raise ParameterError(f"model {model.name!r}: {raw.shape[0]} scores for {len(mapping)} tags")
            used.append(model.name)
            cal = calibrate(raw, thr)
            for j, target in enumerate(mapping):
                if target is None:
                    continue
                evidence[target].append(Evidence(model.name, model.tags[j].name, float(raw[j]), float(cal[j])))
                out[target] = max(out[target], cal[j])
        for ev in evidence:
            ev.sort(key=lambda e: -e.calibrated)
        return CombinedScores(out.astype(np.float32), evidence, used)

    def combine_matrix(self, matrices: Sequence[np.ndarray | None]) -> np.ndarray:
        """Many tracks at once: ``matrices[k]`` is model k's raw scores ``[n, its tags]`` for the
        same ``n`` tracks (rows of zeros, or None for the whole matrix, where it has none).
        Returns the combined scores ``[n, len(tags)]``, as :meth:`combine` gives them row by row."""
        if len(matrices) != len(self.models):
            raise ParameterError(f"{len(matrices)} score matrices for {len(self.models)} models")
        n = next((m.shape[0] for m in matrices if m is not None), 0)
        out = np.zeros((n, len(self.tags)), dtype=np.float64)
        for model, mapping, thr, raw in zip(self.models, self.targets, self._thresholds, matrices):
            if raw is None:
                continue
            if raw.shape != (n, len(mapping)):
                raise ParameterError(f"model {model.name!r}: scores of shape {raw.shape}, expected {(n, len(mapping))}")
            cal = calibrate(raw, thr[None, :])
            for j, target in enumerate(mapping):
                if target is not None:
                    np.maximum(out[:, target], cal[:, j], out=out[:, target])
        return out.astype(np.float32)


def best_per_category(tags: Sequence[TagInfo], scores: np.ndarray) -> dict[str, tuple[TagInfo, float]]:
    """The highest-scoring tag of each category that has one."""
    best: dict[str, tuple[TagInfo, float]] = {}
    for t, s in zip(tags, np.asarray(scores, dtype=np.float64)):
        if t.category in CATEGORIES and (t.category not in best or s > best[t.category][1]):
            best[t.category] = (t, float(s))
    return best


__all__ = ["calibrated_relative", "ModelVocabulary", "Evidence", "CombinedScores", "Combiner", "calibrate",
           "model_thresholds", "best_per_category"]
