"""Generated embeddings with known clusters, for tests and benchmarks.

Real tagger embeddings are not isotropic blobs: they are non-negative (ReLU), live near a
low-dimensional manifold and have clusters of very different sizes with sub-styles inside.
:func:`clustered_embeddings` imitates that: clusters and sub-clusters in a small latent
space, lifted to ``dim`` dimensions by a random linear map and a ReLU, plus a little noise.
"""
from __future__ import annotations

import numpy as np

from engine.similarity.embeddings import l2_normalize


def clustered_embeddings(n: int, *, dim: int = 200, n_clusters: int = 20, latent_dim: int = 16,
                         spread: float = 1.0, noise: float = 0.05, seed: int = 0,
                         normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Generated embeddings with known clusters: ``(vectors float32 [n, dim], labels int64 [n])``.

    Cluster sizes follow a Zipf-like law, as genres in a music library do; each cluster has four
    sub-clusters.

    Parameters
    ----------
    n : int
        The number of vectors.
    dim : int, default 200
        Their dimension.
    n_clusters : int, default 20
        The number of clusters (labels 0 to ``n_clusters - 1``).
    latent_dim : int, default 16
        The dimension of the latent space the clusters are drawn in before being lifted to
        ``dim``.
    spread : float, default 1.0
        Scales the within-cluster scatter relative to the distance between cluster centres (1.0:
        clearly separated clusters whose edges still touch; 2.0: heavy overlap).
    noise : float, default 0.05
        The scale of the non-negative noise added after the ReLU.
    seed : int, default 0
        The random seed (the same seed gives the same data).
    normalize : bool, default True
        L2-normalise the vectors.

    Returns
    -------
    tuple of (np.ndarray, np.ndarray)
        The vectors (float32 [n, dim], non-negative) and each one's cluster (int64 [n]).
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.7
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    centres = rng.normal(scale=1.5, size=(n_clusters, latent_dim))
    subs = rng.normal(scale=1.0 * spread, size=(n_clusters, 4, latent_dim))
    sub = rng.integers(0, 4, size=n)
    latent = centres[labels] + subs[labels, sub] + rng.normal(scale=0.6 * spread,
                                                              size=(n, latent_dim))
    lift = rng.normal(scale=1.0 / np.sqrt(latent_dim), size=(latent_dim, dim))
    x = np.maximum(latent @ lift + 0.3, 0.0) + noise * np.abs(rng.normal(size=(n, dim)))
    x = x.astype(np.float32)
    return (l2_normalize(x) if normalize else x), labels.astype(np.int64)


def random_tag_scores(labels: np.ndarray, n_tags: int = 50, *, seed: int = 0,
                      tags_per_cluster: int = 3) -> np.ndarray:
    """Tag probabilities [n, n_tags] where each cluster has a few characteristic tags."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    base = rng.uniform(0.0, 0.15, size=(n_clusters, n_tags))
    for c in range(n_clusters):
        base[c, rng.choice(n_tags, size=tags_per_cluster, replace=False)] = rng.uniform(0.6, 0.95,
                                                                                       tags_per_cluster)
    p = base[labels] + rng.normal(scale=0.05, size=(labels.size, n_tags))
    return np.clip(p, 0.0, 1.0).astype(np.float32)
