"""The labelled check of similarity embeddings: do cosine neighbourhoods agree with labels?

Evaluation only, so it lives beside the benchmarks rather than in the shipped package (it
used to sit in ``engine/similarity/embeddings.py``, where it made an import cycle with
``index.py``). :func:`choose_kind` is what picked ``DEFAULT_KIND`` and ``DEFAULT_CENTER`` on
real recordings (the similarity benchmark's ``--kinds-db LIBRARY`` runs it on a library)::

    from benchmarks.similarity_eval import choose_kind, separation

Needs scikit-learn (the silhouette), like the rest of the evaluation code.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.similarity import knn, l2_normalize  # noqa: E402

__all__ = ["Separation", "separation", "choose_kind"]


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
