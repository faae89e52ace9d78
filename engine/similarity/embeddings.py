"""Track embeddings for similarity: which vector and how it is transformed.

Two vectors come out of a tagging model for every track (engine.tagger.TrackTags):
``embedding``, the penultimate activations, and ``scores``, the tag probabilities (the
vector the dissertation laid out with t-SNE). Either can drive "more like this" and the map;
the labelled check in ``benchmarks/similarity_eval.py`` (``separation``, ``choose_kind``)
measures on labelled tracks which one keeps genres apart, so the default is chosen on
evidence (see :data:`DEFAULT_KIND`).
"""
from __future__ import annotations

import numpy as np

#: ``penultimate``: the model's embedding; ``scores``: tag probabilities as they are;
#: ``logit``: log(p / (1 - p)), which spreads the many near-zero scores apart;
#: ``sqrt``: sqrt(p), whose cosine is the Bhattacharyya/Hellinger affinity of the scores.
EMBEDDING_KINDS = ("penultimate", "scores", "logit", "sqrt")

#: Chosen by the labelled check (``choose_kind`` in ``benchmarks/similarity_eval.py``, run by
#: the similarity benchmark's ``--kinds-db LIBRARY``) on real recordings (issue 5).
DEFAULT_KIND = "penultimate"
#: Subtract the library's mean vector before normalising (same check).
DEFAULT_CENTER = True

_EPS = 1e-6  # clip for logits: p in [1e-6, 1 - 1e-6] -> |logit| <= 13.8


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Unit-length rows (float32). All-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0).astype(np.float32)


def transformed(kind: str, *, scores: np.ndarray | None = None,
                penultimate: np.ndarray | None = None) -> np.ndarray:
    """The raw vectors of one kind (before centring and normalisation), float32."""
    if kind not in EMBEDDING_KINDS:
        raise ValueError(f"unknown embedding kind {kind!r}; choose one of {EMBEDDING_KINDS}")
    if kind == "penultimate":
        if penultimate is None:
            raise ValueError("the 'penultimate' kind needs the model's embeddings")
        return np.asarray(penultimate, dtype=np.float32)
    if scores is None:
        raise ValueError(f"the {kind!r} kind needs tag scores")
    p = np.asarray(scores, dtype=np.float32)
    if kind == "scores":
        return p
    if kind == "logit":
        p = np.clip(p, _EPS, 1 - _EPS)
        return np.log(p) - np.log1p(-p)
    return np.sqrt(np.clip(p, 0.0, None))


def embed(kind: str, *, scores: np.ndarray | None = None,
          penultimate: np.ndarray | None = None, center: np.ndarray | None = None
          ) -> np.ndarray:
    """The similarity vectors [n, d] (or [d]) of one kind, L2-normalised.

    ``center`` (optional, from :func:`library_center`) is subtracted before normalising:
    with all-positive vectors (probabilities, ReLU activations) every pair has a high
    cosine, and removing the library mean makes cosine measure what differs.
    """
    x = transformed(kind, scores=scores, penultimate=penultimate)
    if center is not None:
        x = x - np.asarray(center, dtype=np.float32)
    return l2_normalize(x)


def library_center(kind: str, *, scores: np.ndarray | None = None,
                   penultimate: np.ndarray | None = None) -> np.ndarray:
    """The mean transformed vector [d] over a library, for ``embed(center=...)``."""
    return transformed(kind, scores=scores, penultimate=penultimate).mean(axis=0)
