"""Approximate cosine nearest neighbours for large libraries, on FAISS.

:class:`engine.similarity.index.SimilarityIndex` answers queries exactly (one matrix-vector
product over every row). That grows linearly: about 5 ms per query at 100,000 tracks x 200
dimensions on two cores, 50 ms at 1,000,000 (``python benchmarks/bench_ann.py``, figures in
``docs/benchmarks.md``). Above :data:`EXACT_BELOW` rows the index can answer from an
:class:`AnnIndex` instead: a FAISS inverted-file index (IVF, vectors stored as 8-bit scalar
codes) whose candidates are re-scored exactly from the float32 rows, so every returned
similarity is the true cosine and only *which* rows are found is approximate.

FAISS is optional at run time: :func:`load_faiss` returns None when it cannot be imported and
the caller keeps searching exactly.
"""
from __future__ import annotations

import math
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from types import ModuleType
from typing import Hashable, Iterable

import numpy as np

#: Below this many rows a query is answered exactly. Measured on two cores with 200-d vectors
#: (``benchmarks/bench_ann.py``, ``docs/benchmarks.md``): an exact query costs 0.25 ms at
#: 10,000 rows, 5.1 ms at 100,000, 13.5 ms at 300,000 and 49 ms at 1M, so exact search meets the
#: ~5 ms budget up to about 100,000 rows. Above it exact time grows past the budget while the
#: index answers in 0.5 ms (100k) to 2 ms (1M) after a build of 0.2 s to 5 s.
EXACT_BELOW = 100_000

#: Build the index once the exact queries of one session have cost this share of the
#: estimated build time (ski rental: never more than about twice the better of the two
#: choices, and a single ``tagatlas similar`` at 1M rows stays an exact 50 ms query instead
#: of waiting for a build). :class:`AnnPolicy` ``eager`` skips the wait.
BUILD_AFTER_FRACTION = 1.0

#: Estimated build seconds per million rows of 200 dimensions on two cores, scaled linearly
#: with rows and dimensions (``benchmarks/bench_ann.py`` measured 0.3 s at 100k and 4.8 s at
#: 1M on a loaded machine; only used to decide when a build has become worth it).
BUILD_SECONDS_PER_MILLION = 6.0


@dataclass(frozen=True)
class AnnParams:
    """How an :class:`AnnIndex` is built and searched.

    nlist: number of inverted lists (k-means cells). nprobe: lists read per query.
    encoding: ``"sq8"`` (one byte per dimension) or ``"flat"`` (float32).
    train_per_list: k-means training points per list. rerank: candidates fetched per wanted
    neighbour before the exact re-scoring.
    """

    nlist: int
    nprobe: int
    encoding: str = "sq8"
    train_per_list: int = 40
    rerank: int = 4
    kmeans_iterations: int = 10

    @classmethod
    def for_size(cls, n: int) -> "AnnParams":
        """Parameters for ``n`` rows (``benchmarks/bench_ann.py``, ``docs/benchmarks.md``):
        about sqrt(n) lists (a power of two, 64 to 4,096: more lists cost more k-means and
        assignment time than two cores have for 10M rows) and nprobe = 2 sqrt(nlist), which
        kept recall@10 at 0.997-0.998 at 100k (32 of 256 lists) and 1M (64 of 1,024), where
        half of it gave 0.98-0.99 (and a quarter 0.74-0.93)."""
        n = max(1, int(n))
        nlist = 2 ** int(round(math.log2(max(64.0, math.sqrt(n)))))
        nlist = int(min(4096, max(64, nlist)))
        nprobe = int(min(nlist, max(16, round(2 * math.sqrt(nlist)))))
        return cls(nlist=nlist, nprobe=nprobe)

    def to_dict(self) -> dict:
        return {"nlist": self.nlist, "nprobe": self.nprobe, "encoding": self.encoding,
                "train_per_list": self.train_per_list, "rerank": self.rerank,
                "kmeans_iterations": self.kmeans_iterations}


@dataclass(frozen=True)
class AnnPolicy:
    """When a :class:`SimilarityIndex` uses an approximate index.

    exact_below: rows below which every query is exact (default :data:`EXACT_BELOW`).
    eager: build at the first query instead of once exact queries have cost about as much
    as the build (:data:`BUILD_AFTER_FRACTION`). background: build in a thread and keep
    answering exactly until it is ready (the GUI never freezes for a build); False builds
    in the calling thread. enabled: False keeps every query exact.
    params: build parameters (default :meth:`AnnParams.for_size`).
    """

    exact_below: int = EXACT_BELOW
    eager: bool = False
    background: bool = True
    enabled: bool = True
    params: AnnParams | None = None

    def wants_index(self, n: int) -> bool:
        return self.enabled and n >= max(1, self.exact_below)


def default_policy() -> AnnPolicy:
    """The policy of an index made without one (reads :data:`EXACT_BELOW` at call time)."""
    return AnnPolicy(exact_below=EXACT_BELOW)


def load_faiss() -> ModuleType | None:
    """The ``faiss`` module, or None when it cannot be imported (then search stays exact)."""
    try:
        import faiss
    except Exception:  # noqa: BLE001 - ImportError, or a broken binary wheel (OSError, AttributeError)
        return None
    return faiss


def faiss_available() -> bool:
    """True when FAISS can be imported here."""
    return load_faiss() is not None


def estimated_build_seconds(n: int, d: int) -> float:
    """Rough build time of an :class:`AnnIndex` over ``n`` rows of ``d`` dimensions."""
    return BUILD_SECONDS_PER_MILLION * (n / 1e6) * (d / 200.0)


def content_key(vectors: np.ndarray) -> tuple:
    """A cheap key for a matrix's contents (shape and two checksums over its bytes), so a
    rebuilt :class:`SimilarityIndex` over the same vectors finds its cached index."""
    v = np.ascontiguousarray(vectors)
    raw = memoryview(v).cast("B")
    return (v.shape, str(v.dtype), zlib.crc32(raw), zlib.adler32(raw))


class AnnIndex:
    """An IVF index over L2-normalised float32 rows ``vectors`` [n, d] (inner product = cosine).

    :meth:`search` returns row positions and their exact similarities (re-scored from
    ``vectors``, which the index keeps a reference to, not a copy), or None when it cannot
    promise ``k`` results and the caller should search exactly. Raises RuntimeError when
    FAISS is not available.
    """

    def __init__(self, vectors: np.ndarray, params: AnnParams | None = None) -> None:
        faiss = load_faiss()
        if faiss is None:
            raise RuntimeError("FAISS is not installed (pip install faiss-cpu)")
        self._faiss = faiss
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D [n, d], got shape {self.vectors.shape}")
        n, d = self.vectors.shape
        self.params = params or AnnParams.for_size(n)
        nlist = int(max(1, min(self.params.nlist, n)))
        t0 = time.perf_counter()
        quantizer = faiss.IndexFlatIP(d)
        if self.params.encoding == "flat":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        elif self.params.encoding == "sq8":
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown encoding {self.params.encoding!r}; use 'sq8' or 'flat'")
        index.cp.niter = int(self.params.kmeans_iterations)
        index.cp.max_points_per_centroid = int(self.params.train_per_list)
        index.cp.seed = 1234
        n_train = min(n, nlist * int(self.params.train_per_list))
        rng = np.random.default_rng(0)
        train = self.vectors if n_train >= n else self.vectors[np.sort(rng.choice(n, n_train, replace=False))]
        index.train(train)
        index.add(self.vectors)
        index.nprobe = int(min(nlist, self.params.nprobe))
        self._quantizer = quantizer   # the IVF index does not own it from Python
        self._index = index
        self.nlist = nlist
        self.build_seconds = time.perf_counter() - t0

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def memory_bytes(self) -> int:
        """Bytes held by FAISS: the codes and ids of every row plus the list centroids (the
        float32 rows themselves belong to the caller)."""
        n, d = self.vectors.shape
        code = d if self.params.encoding == "sq8" else 4 * d
        return int(n * (code + 8) + self.nlist * d * 4)

    def search(self, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``k`` rows most similar to the normalised ``query`` [d], best first.

        ``allowed``: boolean [n], rows that may be returned; ``exclude``: positions never
        returned (the seeds). Returns ``(positions int64 [k'], similarities float32 [k'])``
        with ``k' = min(k, rows allowed)``, or None when the index found fewer than that
        (a strict filter): the caller then searches exactly.
        """
        n = len(self)
        exclude = np.unique(np.asarray(list(exclude), dtype=np.int64))
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if not np.any(q):
            return None   # a zero query ties every row: let the exact path order them
        faiss = self._faiss
        nprobe = int(self._index.nprobe)
        params = None
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool).copy()
            if exclude.size:
                allowed[exclude] = False
            n_ok = int(allowed.sum())
            want = min(k, n_ok)
            if want == 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            # The same lists are read: FAISS skips the rows outside the filter inside them.
            # Reading more lists for a strict filter bought nothing measurable (recall 0.998
            # -> 1.000 at a 30 % filter, 1M rows) at 3x the time; below EXACT_BELOW allowed
            # rows SimilarityIndex searches those rows exactly instead.
            bits = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            fetch = want * max(1, self.params.rerank)
        else:
            want = min(k, n - int(exclude.size))
            if want <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            fetch = want * max(1, self.params.rerank) + int(exclude.size)
        fetch = int(min(n, fetch))
        if params is None:
            _, found = self._index.search(q, fetch)
        else:
            _, found = self._index.search(q, fetch, params=params)
            del selector, bits   # the bitmap must outlive the search
        cand = found[0]
        cand = cand[cand >= 0]
        if allowed is None and exclude.size:
            cand = cand[~np.isin(cand, exclude)]
        if cand.size < want:
            return None
        scores = self.vectors[cand] @ q[0]
        order = np.argsort(-scores, kind="stable")[:want]
        return cand[order].astype(np.int64), scores[order].astype(np.float32)


# --- one cache per process ------------------------------------------------------------------
_CACHE: "OrderedDict[tuple, AnnIndex]" = OrderedDict()
#: Exact query seconds spent per (label, shape), summed over every index of the process (the
#: GUI makes a new one whenever the library changes).
_SPENT: dict[tuple, float] = {}
_CACHE_SIZE = 2
_CACHE_LOCK = threading.Lock()


def cached_index(key: tuple) -> AnnIndex | None:
    """The index built earlier in this process for ``key`` (``(label, content_key, params)``)."""
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
        return found


def _maybe_cached(label: Hashable, shape: tuple, params: AnnParams) -> bool:
    """True when some cached index has this label, shape and parameters (cheap: no checksum)."""
    with _CACHE_LOCK:
        return any(k[0] == label and k[1][0] == shape and k[2] == params for k in _CACHE)


def remember_index(key: tuple, index: AnnIndex) -> None:
    """Keep ``index`` for ``key``; only the last :data:`_CACHE_SIZE` indexes are kept."""
    with _CACHE_LOCK:
        _CACHE[key] = index
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached index and the exact time spent so far (tests; freeing memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _SPENT.clear()


class AnnState:
    """The approximate index of one :class:`SimilarityIndex`: when to build it, where it is.

    Owns the decision of :class:`AnnPolicy` (exact below the threshold, build once worth it,
    optionally in a background thread) and the process-wide cache, so the exact index only
    asks :meth:`ready_index` before each query and reports its exact query times with
    :meth:`note_exact`. ``label`` (e.g. model, embedding kind) names the vectors in the cache;
    the cache also checks their contents, so re-analysed tracks never reuse a stale index.
    """

    def __init__(self, vectors: np.ndarray, policy: AnnPolicy | None = None,
                 label: Hashable | None = None) -> None:
        self.policy = policy or default_policy()
        self._vectors = vectors
        self._label = label
        self._key: tuple | None = None
        self._index: AnnIndex | None = None
        self._thread: threading.Thread | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()
        self._looked_up = False

    def __getstate__(self) -> dict:
        """Pickled (sent from a worker process to the app) as its vectors, policy and label:
        the lock, a build in flight and the FAISS index stay behind; the receiving process
        builds (or finds in its own cache) an index when one is worth it there."""
        return {"vectors": self._vectors, "policy": self.policy, "label": self._label}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["vectors"], state["policy"], state["label"])

    @property
    def wanted(self) -> bool:
        """True when the policy wants an approximate index for this many rows."""
        return self.policy.wants_index(int(self._vectors.shape[0]))

    @property
    def failed(self) -> str | None:
        """Why no index could be built (FAISS missing, a build error), or None."""
        return self._failed

    @property
    def building(self) -> bool:
        """True while a background build runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _params(self) -> AnnParams:
        return self.policy.params or AnnParams.for_size(int(self._vectors.shape[0]))

    def _spent_key(self) -> tuple:
        return (self._label, tuple(self._vectors.shape))

    def _cache_key(self) -> tuple:
        if self._key is None:
            self._key = (self._label, content_key(self._vectors), self._params())
        return self._key

    def note_exact(self, seconds: float) -> None:
        """Report the time an exact query took (drives the build decision)."""
        if self.wanted:
            key = self._spent_key()
            with _CACHE_LOCK:
                _SPENT[key] = _SPENT.get(key, 0.0) + max(0.0, float(seconds))

    def _due(self) -> bool:
        if self.policy.eager:
            return True
        n, d = self._vectors.shape
        with _CACHE_LOCK:
            spent = _SPENT.get(self._spent_key(), 0.0)
        return spent >= BUILD_AFTER_FRACTION * estimated_build_seconds(n, d)

    def ready_index(self) -> AnnIndex | None:
        """The built index when one is ready to answer; starts a build when it has become
        worth it (and returns None until it is done, when building in the background)."""
        if self._index is not None:
            return self._index
        if not self.wanted or self._failed is not None:
            return None
        with self._lock:
            if self._thread is not None:
                if self._thread.is_alive():
                    return None
                self._thread = None
                return self._index
            if not self._looked_up and _maybe_cached(self._label, tuple(self._vectors.shape),
                                                     self._params()):
                self._looked_up = True   # checksum the vectors once, only when it may pay
                self._index = cached_index(self._cache_key())
                if self._index is not None:
                    return self._index
            if not self._due():
                return None
            if load_faiss() is None:
                self._failed = "FAISS is not installed"
                return None
            if self.policy.background:
                self._thread = threading.Thread(target=self._build, name="ann-build", daemon=True)
                self._thread.start()
                return None
            self._build()
            return self._index

    def wait(self, timeout: float | None = None) -> AnnIndex | None:
        """Block until a background build (if any) finishes; the index or None."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.ready_index()

    def _build(self) -> None:
        try:
            index = AnnIndex(self._vectors, self._params())
        except Exception as e:  # noqa: BLE001 - out of memory, a FAISS error: stay exact, say why
            self._failed = f"{type(e).__name__}: {e}"
            return
        remember_index(self._cache_key(), index)
        self._index = index
