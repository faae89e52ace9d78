"""Track embeddings for similarity: which vector, how it is transformed, and how to check it.

Two vectors come out of a tagging model for every track (engine.tagger.TrackTags):
``embedding``, the penultimate activations, and ``scores``, the tag probabilities (the
vector the dissertation laid out with t-SNE). Either can drive "more like this" and the map;
:func:`separation` measures on labelled tracks which one keeps genres apart, so the default
is chosen on evidence (see :data:`DEFAULT_KIND` and docs in the issue report).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np

#: ``penultimate``: the model's embedding; ``scores``: tag probabilities as they are;
#: ``logit``: log(p / (1 - p)), which spreads the many near-zero scores apart;
#: ``sqrt``: sqrt(p), whose cosine is the Bhattacharyya/Hellinger affinity of the scores.
EMBEDDING_KINDS = ("penultimate", "scores", "logit", "sqrt")

#: Chosen by the labelled check (:func:`choose_kind`, run by ``python -m
#: engine.bench_similarity --kinds-db LIBRARY``) on real recordings: see the issue 5 report.
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


# --- the labelled check --------------------------------------------------------------------
@dataclass(frozen=True)
class Separation:
    """How well cosine neighbourhoods of some embeddings agree with labels (e.g. genres).

    knn_precision: mean fraction of each track's k neighbours that share its label.
    knn_accuracy: leave-one-out majority vote of the k neighbours (similarity-weighted).
    silhouette: cosine silhouette of the labels (-1..1), on at most 5,000 tracks.
    chance_precision: what knn_precision would be for neighbours drawn at random.
    """

    n: int
    n_labels: int
    k: int
    knn_precision: float
    knn_accuracy: float
    silhouette: float
    chance_precision: float

    def to_dict(self) -> dict:
        return asdict(self)


def separation(vectors: np.ndarray, labels: Sequence, *, k: int = 10,
               groups: Sequence | None = None, silhouette_sample: int = 5000,
               random_state: int = 0) -> Separation:
    """Measure how well ``vectors`` [n, d] separate ``labels`` (one per row).

    ``groups`` (optional, e.g. album or artist per row): neighbours from the query's own
    group are not counted, so an album that sounds alike cannot pass for a genre that does
    (the usual "artist filter" of music-similarity evaluation).
    """
    from sklearn.metrics import silhouette_score

    from engine.similarity.index import knn

    x = l2_normalize(vectors)
    labels = np.asarray(labels)
    n = x.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"{labels.shape[0]} labels for {n} vectors")
    uniq, lab = np.unique(labels, return_inverse=True)
    if len(uniq) < 2 or n < 3:
        raise ValueError("the check needs at least 3 tracks and 2 labels")
    if groups is None:
        idx, sims = knn(x, k)
        valid = np.ones_like(idx, dtype=bool)
    else:
        g = np.unique(np.asarray(groups), return_inverse=True)[1]
        # Ask for more neighbours, then drop the query's own group.
        extra = int(np.bincount(g).max())
        idx, sims = knn(x, k + extra)
        valid = g[idx] != g[:, None]
        # keep only the first k valid neighbours of each row
        valid &= np.cumsum(valid, axis=1) <= k
    same = (lab[idx] == lab[:, None]) & valid
    n_valid = valid.sum(axis=1)
    has = n_valid > 0
    precision = float(np.mean(same[has].sum(axis=1) / n_valid[has]))
    # similarity-weighted vote (weights > 0 even for negative cosines)
    w = np.where(valid, (sims + 1.0) / 2.0 + 1e-6, 0.0)
    votes = np.zeros((n, len(uniq)))
    np.add.at(votes, (np.repeat(np.arange(n), idx.shape[1]), lab[idx].ravel()), w.ravel())
    accuracy = float(np.mean(votes[has].argmax(axis=1) == lab[has]))
    counts = np.bincount(lab).astype(np.float64)
    chance = float(np.sum(counts * (counts - 1)) / (n * max(1, n - 1)))
    sample = min(n, silhouette_sample)
    try:
        sil = float(silhouette_score(x, lab, metric="cosine", sample_size=sample,
                                     random_state=random_state))
    except ValueError:  # a sample with one label only
        sil = float("nan")
    return Separation(n=n, n_labels=len(uniq), k=k, knn_precision=precision,
                      knn_accuracy=accuracy, silhouette=sil, chance_precision=chance)


def choose_kind(candidates: Mapping[str, np.ndarray], labels: Sequence, *, k: int = 10,
                groups: Sequence | None = None) -> tuple[str, dict[str, Separation]]:
    """Measure every candidate embedding and return the best name by kNN precision
    (silhouette breaks ties) together with all the measurements."""
    if not candidates:
        raise ValueError("no candidate embeddings")
    reports = {name: separation(v, labels, k=k, groups=groups) for name, v in candidates.items()}
    best = max(reports, key=lambda name: (round(reports[name].knn_precision, 6),
                                          reports[name].silhouette))
    return best, reports
