"""The 2-D map of a library: t-SNE of the track embeddings, and placing new tracks into it.

:func:`compute_layout` runs openTSNE's FFT-accelerated t-SNE (Linderman et al. 2019;
Poličar et al. 2019) from a PCA initialisation, on an exact cosine kNN graph computed here
(one blocked matrix product: as fast as approximate search at these sizes, and exact).
scikit-learn's Barnes-Hut t-SNE is the fallback when openTSNE is not installed.

:func:`place_new` adds tracks to an existing map without moving the old ones: each new
track starts at the median position of its nearest old neighbours and is then optimised
for a short while against the fixed map (openTSNE's ``PartialTSNEEmbedding``). It needs only
the old coordinates and embeddings, both of which the library keeps.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np

from engine.errors import ParameterError, TagAtlasError
from engine.similarity.embeddings import l2_normalize
from engine.similarity.index import knn

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]   # (done iterations, total iterations)
Cancel = Callable[[], bool]


class LayoutCancelled(TagAtlasError):
    """The user cancelled the map computation."""


@dataclass(frozen=True)
class LayoutParams:
    """t-SNE settings (openTSNE's defaults but for the grid and the iteration count; timings on
    two cores in docs/benchmarks.md)."""

    perplexity: float = 30.0
    early_exaggeration: float = 12.0
    early_exaggeration_iter: int = 250
    #: Iterations after early exaggeration; None: 500 up to 5,000 points, 350 above, where
    #: the last 150 iterations changed the 10-NN preservation by < 0.01 (docs/benchmarks.md) and
    #: cost a quarter of the time.
    n_iter: int | None = None
    #: FFT grid cells per unit of map; 2 keeps the grid half as fine as openTSNE's default,
    #: which halves the late iterations' cost for a barely visible loss (docs/benchmarks.md).
    ints_in_interval: int = 2
    #: "auto": Barnes-Hut below 10,000 points, FFT above (openTSNE's own rule).
    negative_gradient_method: str = "auto"
    random_state: int = 0
    n_jobs: int = 2
    backend: str = field(default="opentsne")
    #: Above this many points t-SNE lays out a random sample of this size and the other
    #: points are placed into it (:func:`place_new`, in chunks): a catalogue-sized map in
    #: minutes instead of hours (``python benchmarks/bench_map_scale.py``).
    max_tsne_points: int = 20_000

    def to_dict(self) -> dict:
        return asdict(self)

    def iterations(self, n: int) -> int:
        """Iterations after early exaggeration for ``n`` points."""
        if self.n_iter is not None:
            return self.n_iter
        return 500 if n <= 5_000 else 350

    @classmethod
    def from_dict(cls, d: dict) -> "LayoutParams":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _have_opentsne() -> bool:
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return False
    return True


def _euclidean_from_cosine(sims: np.ndarray) -> np.ndarray:
    """Distance between unit vectors from their cosine: sqrt(2 - 2 cos), float64."""
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims.astype(np.float64)))


def _tiny_layout(x: np.ndarray) -> np.ndarray:
    """Layouts for 0-3 points, where t-SNE is meaningless: spread along the first PCA axis."""
    n = x.shape[0]
    out = np.zeros((n, 2), dtype=np.float32)
    if n >= 2:
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        proj = centred @ vt[0]
        order = np.argsort(proj, kind="stable")
        out[order, 0] = np.linspace(-1.0, 1.0, n)
    return out


def compute_layout(vectors: np.ndarray, params: LayoutParams = LayoutParams(), *,
                   progress: Progress | None = None, cancel: Cancel | None = None
                   ) -> np.ndarray:
    """2-D t-SNE coordinates float32 [n, 2] of the (cosine) embeddings ``vectors`` [n, d].

    ``progress(done, total)`` is called every 25 iterations; ``cancel()`` is checked as often
    and raises :class:`LayoutCancelled` when it returns True.
    """
    x = l2_normalize(np.asarray(vectors, dtype=np.float32))
    n = x.shape[0]
    if n < 4:
        return _tiny_layout(x)
    if n > params.max_tsne_points >= 4:
        return _sampled_layout(x, params, progress, cancel)
    perplexity = float(min(params.perplexity, max(1.0, (n - 1) / 3.0)))
    if params.backend == "opentsne" and _have_opentsne():
        return _opentsne_layout(x, params, perplexity, progress, cancel)
    return _sklearn_layout(x, params, perplexity, progress, cancel)


#: Points placed per call of :func:`place_new` when a large map is laid out from a sample.
PLACEMENT_CHUNK = 20_000


def _sampled_layout(x, params, progress, cancel) -> np.ndarray:
    """t-SNE of a random sample of ``params.max_tsne_points``, the rest placed into it."""
    n = x.shape[0]
    rng = np.random.default_rng(params.random_state)
    sample = np.sort(rng.choice(n, size=params.max_tsne_points, replace=False))
    rest = np.setdiff1d(np.arange(n), sample)
    chunks = [rest[a:a + PLACEMENT_CHUNK] for a in range(0, rest.size, PLACEMENT_CHUNK)]
    total = params.early_exaggeration_iter + params.iterations(sample.size) + len(chunks)
    inner = None if progress is None else (lambda done, _total: progress(done, total))
    out = np.zeros((n, 2), dtype=np.float32)
    out[sample] = compute_layout(x[sample], replace(params, max_tsne_points=n), progress=inner,
                                 cancel=cancel)
    done = total - len(chunks)
    for rows in chunks:
        if cancel is not None and cancel():
            raise LayoutCancelled("map computation cancelled")
        out[rows] = place_new(out[sample], x[sample], x[rows])
        done += 1
        if progress is not None:
            progress(done, total)
    return out


def _opentsne_layout(x, params, perplexity, progress, cancel) -> np.ndarray:
    from openTSNE import TSNEEmbedding, affinity, initialization
    from openTSNE.nearest_neighbors import PrecomputedNeighbors
    from openTSNE.tsne import OptimizationInterrupt

    n = x.shape[0]
    k = min(n - 1, int(3 * perplexity))
    neighbours, sims = knn(x, k)
    if cancel is not None and cancel():
        raise LayoutCancelled("map computation cancelled")
    aff = affinity.PerplexityBasedNN(
        knn_index=PrecomputedNeighbors(neighbours, _euclidean_from_cosine(sims)),
        perplexity=perplexity, n_jobs=params.n_jobs)
    init = initialization.pca(x, random_state=params.random_state)
    n_iter = params.iterations(n)
    total = params.early_exaggeration_iter + n_iter
    done = [0]

    def callback(iteration, error, embedding):  # openTSNE: return True to stop
        done[0] += 25
        if progress is not None:
            progress(min(done[0], total), total)
        return bool(cancel is not None and cancel())

    method = params.negative_gradient_method
    if method == "auto":
        method = "bh" if n < 10_000 else "fft"
    # openTSNE's threads pay off only for large maps. Optimisation wall time on two shared
    # cores, one thread vs two: 10,000 points 8.9 s vs 12.4 s; 25,000: 16.6 vs 17.9 s;
    # 50,000: 31.5 vs 23.5 s (docs/benchmarks.md).
    n_jobs = 1 if n < 30_000 else params.n_jobs
    emb = TSNEEmbedding(init, aff, negative_gradient_method=method, n_jobs=n_jobs,
                        random_state=params.random_state,
                        ints_in_interval=params.ints_in_interval,
                        callbacks=callback, callbacks_every_iters=25)
    # openTSNE's "auto" learning rate is n / exaggeration (Belkina et al. 2019); below a few
    # hundred points that is too small to move the points out of the 1e-4-sized PCA start
    # (8 points collapse onto one spot), so it is kept at least 50 as in scikit-learn.
    try:
        emb = emb.optimize(n_iter=params.early_exaggeration_iter,
                           exaggeration=params.early_exaggeration, momentum=0.5,
                           learning_rate=max(50.0, n / params.early_exaggeration),
                           propagate_exception=True)
        emb = emb.optimize(n_iter=n_iter, momentum=0.8,
                           learning_rate=max(50.0, float(n)), propagate_exception=True)
    except OptimizationInterrupt:
        raise LayoutCancelled("map computation cancelled") from None
    if progress is not None:
        progress(total, total)
    return np.asarray(emb, dtype=np.float32)


def _sklearn_layout(x, params, perplexity, progress, cancel) -> np.ndarray:
    from sklearn.manifold import TSNE

    log.info("openTSNE is not installed; using scikit-learn's slower Barnes-Hut t-SNE")
    total = params.early_exaggeration_iter + params.iterations(x.shape[0])
    if progress is not None:
        progress(0, total)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine",
                early_exaggeration=params.early_exaggeration, random_state=params.random_state,
                n_jobs=1 if x.shape[0] < 5_000 else params.n_jobs, learning_rate="auto",
                max_iter=max(250, total))
    y = tsne.fit_transform(x)
    if cancel is not None and cancel():
        raise LayoutCancelled("map computation cancelled")
    if progress is not None:
        progress(total, total)
    return np.asarray(y, dtype=np.float32)


# --- adding tracks to an existing map ----------------------------------------------------------
class _FixedReference:
    """What openTSNE's TSNEEmbedding needs of an affinity object for a reference map that is
    never optimised itself: only the number of points."""

    def __init__(self, n: int) -> None:
        import scipy.sparse as sp

        self.P = sp.csr_matrix((n, n))


@dataclass(frozen=True)
class PlacementParams:
    """Placing new points (openTSNE's recommended ``transform`` settings, Poličar et al.)."""

    perplexity: float = 5.0
    init_neighbours: int = 10     # median of this many nearest old tracks = the start position
    n_iter: int = 100
    learning_rate: float = 0.1
    exaggeration: float = 1.5
    momentum: float = 0.8
    max_grad_norm: float = 0.25
    #: One thread: for a hundred points a second one only waits (measured: 0.5 s instead of
    #: 2.4-8.6 s for 100 new into 50,000 on a busy two-core machine).
    n_jobs: int = 1


def place_new(ref_coords: np.ndarray, ref_vectors: np.ndarray, new_vectors: np.ndarray,
              params: PlacementParams = PlacementParams()) -> np.ndarray:
    """Coordinates float32 [m, 2] for new tracks in an existing map; old points do not move.

    ``ref_coords`` [n, 2] and ``ref_vectors`` [n, d] are the map's points and their
    embeddings; ``new_vectors`` [m, d] the new tracks' embeddings.
    """
    ref_coords = np.asarray(ref_coords, dtype=np.float64)
    ref_x = l2_normalize(np.asarray(ref_vectors, dtype=np.float32))
    new_x = l2_normalize(np.asarray(new_vectors, dtype=np.float32))
    m, n = new_x.shape[0], ref_x.shape[0]
    if ref_coords.shape != (n, 2):
        raise ParameterError(f"ref_coords must be [{n}, 2], got {ref_coords.shape}")
    if m == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if n == 0:
        return _tiny_layout(new_x)
    perplexity = float(min(params.perplexity, max(1.0, n / 3.0)))
    k = min(n, max(int(3 * perplexity), params.init_neighbours))
    neighbours, sims = knn(ref_x, k, queries=new_x)
    k0 = min(k, params.init_neighbours)
    init = np.median(ref_coords[neighbours[:, :k0]], axis=1)
    if n < 4 or not _have_opentsne() or np.ptp(ref_coords, axis=0).min() < 1e-3:
        # (a map without extent in one direction would give the FFT grid empty cells)
        return init.astype(np.float32)
    return _refine(ref_coords, init, neighbours, _euclidean_from_cosine(sims), perplexity,
                   params)


def _refine(ref_coords, init, neighbours, distances, perplexity, params) -> np.ndarray:
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import joint_probabilities_nn
    from openTSNE.tsne import PartialTSNEEmbedding

    n = ref_coords.shape[0]
    P = joint_probabilities_nn(neighbours, distances, [perplexity], symmetrize=False,
                               normalization="point-wise", n_reference_samples=n,
                               n_jobs=params.n_jobs)
    # openTSNE centres the reference map in place when it builds its interpolation grid:
    # centre a copy ourselves and shift the result back.
    shift = (ref_coords.max(axis=0) + ref_coords.min(axis=0)) / 2.0
    ref = TSNEEmbedding(ref_coords - shift, _FixedReference(n), negative_gradient_method="fft",
                        n_jobs=params.n_jobs)
    part = PartialTSNEEmbedding(init - shift, ref, P, **ref.gradient_descent_params)
    part = part.optimize(n_iter=params.n_iter, learning_rate=params.learning_rate,
                         exaggeration=params.exaggeration, momentum=params.momentum,
                         max_grad_norm=params.max_grad_norm, n_jobs=params.n_jobs,
                         inplace=True)
    return (np.asarray(part) + shift).astype(np.float32)
