"""A library's predictions in the canonical vocabulary: every profile model's stored analysis,
calibrated and combined (:mod:`engine.combine`), for one track or for the whole library at once.

The analyses stay stored per model (the map, "more like this" and learn-my-tags read them as
they are); combining happens when predictions are shown or written.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..combine import CombinedScores, Combiner, ModelVocabulary
from ..errors import LibraryError
from .db import Library


def choose_models(lib: Library, model: str | Sequence[str] | None = None) -> list[str]:
    """The models whose analyses to combine: those of ``model`` (a profile, a bundle name or a
    list) that analysed something here; by default the default profile's, else the only model
    the library has. A :class:`LibraryError` says in words what is missing."""
    from ..profiles import DEFAULT_PROFILE, profile_models

    have = lib.analysed_models()
    if not have:
        raise LibraryError("no track in the library has been analysed yet; run 'tagatlas scan' first")
    if model is not None:
        wanted = profile_models(model)
        present = [m for m in wanted if m in have]
        if not present:
            raise LibraryError(f"no track in the library has been analysed with {' + '.join(wanted)}"
                               f" (analysed with: {', '.join(have)})")
        return present
    present = [m for m in profile_models(DEFAULT_PROFILE) if m in have]
    if present:
        return present
    if len(have) == 1:
        return list(have)
    raise LibraryError(f"the library holds analyses by several models ({', '.join(have)}); "
                       f"choose one with --model")


def library_combiner(lib: Library, models: Sequence[str]) -> Combiner:
    """A :class:`Combiner` over ``models`` with the tags and thresholds the library recorded."""
    return Combiner([ModelVocabulary(m, lib.model_tags(m), lib.model_thresholds(m)) for m in models])


def track_predictions(lib: Library, combiner: Combiner, track_id: int) -> CombinedScores | None:
    """The combined predictions of one track, or None when no model of ``combiner`` analysed it."""
    scores = []
    for m in combiner.models:
        a = lib.get_analysis(track_id, m.name)
        scores.append(None if a is None else a.scores)
    if all(s is None for s in scores):
        return None
    return combiner.combine(scores)


def combined_matrix(lib: Library, combiner: Combiner) -> tuple[np.ndarray, np.ndarray]:
    """``(track_ids, scores [n, len(combiner.tags)])`` for every track analysed by at least one
    of the models, combined exactly as :meth:`Combiner.combine` does for one track."""
    stored = []
    for m in combiner.models:
        ids, matrix = lib.embeddings(m.name, "scores")
        if len(ids) and matrix.shape[1] != len(m.tags):
            raise LibraryError(f"stored scores of {m.name!r} do not match its {len(m.tags)} tags")
        stored.append((np.asarray(ids, dtype=np.int64), matrix))
    track_ids = np.unique(np.concatenate([ids for ids, _ in stored])) if stored else np.zeros(0, np.int64)
    aligned = []
    for (ids, matrix), m in zip(stored, combiner.models):
        if not len(ids):
            aligned.append(None)
            continue
        full = np.zeros((len(track_ids), len(m.tags)), dtype=np.float32)
        full[np.searchsorted(track_ids, ids)] = matrix
        aligned.append(full)
    return track_ids, combiner.combine_matrix(aligned)


__all__ = ["choose_models", "library_combiner", "track_predictions", "combined_matrix"]
