"""Cosine k-nearest neighbours over an in-memory float32 matrix.

Exact by default: one matrix-vector product plus ``np.argpartition`` per query; at 100,000
tracks x 200 dimensions that is 80 MB of float32 read once, about 5 ms on two cores, with no
index to build, tune or keep in step with the library. Larger libraries answer from an
approximate FAISS index (:mod:`engine.similarity.ann`) once it is worth building, with the
same filters and exact similarities; callers see no difference but the speed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np

from engine.similarity.ann import AnnPolicy, AnnState
from engine.similarity.embeddings import l2_normalize

#: Rows per block when computing all-pairs neighbours: 2,048 x 100,000 float32 = 800 MB
#: would be too much, so blocks are sized by ``_BLOCK_BYTES`` instead.
_BLOCK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Neighbour:
    """One result of a query: the track id, its cosine similarity to the query, its row."""

    id: Hashable
    score: float
    position: int


def _key(value) -> Hashable | None:
    """A metadata value as a comparison key: stripped and case-folded text; None when unknown."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip().casefold() if isinstance(value, str) else value


def _codes(values: Sequence | np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    """Integer codes for a metadata column; missing values (None, "") get unique negative codes
    so that two tracks with an unknown artist never count as "the same artist"."""
    if values is None:
        return None
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{what}: expected {n} values, got {len(values)}")
    table: dict = {}
    codes = np.empty(n, dtype=np.int64)
    for i, v in enumerate(values):
        key = _key(v)
        codes[i] = -1 - i if key is None else table.setdefault(key, len(table))
    return codes


class SimilarityIndex:
    """Cosine kNN over ``vectors`` [n, d], rows identified by ``ids`` (any hashable values).

    ``artists`` / ``albums`` (optional, one value per row; None or "" means unknown) enable
    the exclude-same-artist / exclude-same-album filters. An album is identified by its title
    and its album artist (``album_artists``, e.g. "Various Artists" on a compilation) or, where
    that is unknown, the track's artist. Rows are L2-normalised on the way in (all-zero rows
    stay zero and never match anything).

    ``ann`` (:class:`engine.similarity.ann.AnnPolicy`): when queries may be answered by an
    approximate index (default: from :data:`engine.similarity.ann.EXACT_BELOW` rows, once the
    exact queries have cost about as much as building it, built in the background).
    ``ann_label`` names the vectors in the process-wide index cache (e.g. model and kind).
    """

    def __init__(self, ids: Sequence[Hashable] | np.ndarray, vectors: np.ndarray, *,
                 artists: Sequence | None = None, albums: Sequence | None = None,
                 album_artists: Sequence | None = None, ann: AnnPolicy | None = None,
                 ann_label: Hashable | None = None) -> None:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D [n, d], got shape {vectors.shape}")
        ids = list(ids)
        if len(ids) != vectors.shape[0]:
            raise ValueError(f"{len(ids)} ids for {vectors.shape[0]} vectors")
        self.ids = ids
        self.vectors = l2_normalize(vectors.astype(np.float32, copy=False))
        self._pos = {id_: i for i, id_ in enumerate(ids)}
        if len(self._pos) != len(ids):
            raise ValueError("ids must be unique")
        n = len(ids)
        self._artist = _codes(artists, n, "artists")
        # An album is only "the same album" for the same album artist (or track artist, or both
        # unknown): "Greatest Hits" by two artists are different records, while the tracks of a
        # compilation by many artists are one.
        if albums is not None:
            albums = list(albums)
            owners = None
            if artists is not None or album_artists is not None:
                track_artists = list(artists) if artists is not None else [None] * n
                given = list(album_artists) if album_artists is not None else [None] * n
                if len(track_artists) == len(given) == n:
                    owners = [_key(g) if _key(g) is not None else _key(a)
                              for g, a in zip(given, track_artists)]
            if owners is not None and len(albums) == n:
                albums = [None if _key(a) is None else (_key(a), o) for a, o in zip(albums, owners)]
        self._album = _codes(albums, n, "albums")
        self.ann = AnnState(self.vectors, ann, ann_label)

    # --- lookup ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __contains__(self, id_: Hashable) -> bool:
        return id_ in self._pos

    def position(self, id_: Hashable) -> int:
        try:
            return self._pos[id_]
        except KeyError:
            raise KeyError(f"track {id_!r} is not in the similarity index") from None

    def positions(self, ids: Iterable[Hashable]) -> np.ndarray:
        return np.array([self.position(i) for i in ids], dtype=np.int64)

    def vector(self, id_: Hashable) -> np.ndarray:
        return self.vectors[self.position(id_)]

    def centroid(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """The normalised mean of some rows: the query vector for several seeds."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size == 0:
            raise ValueError("at least one seed is needed")
        return l2_normalize(self.vectors[positions].mean(axis=0))

    # --- filters -----------------------------------------------------------------------------
    def allowed_mask(self, seed_positions: Sequence[int] | np.ndarray = (), *,
                     exclude_seeds: bool = True, exclude_same_artist: bool = False,
                     exclude_same_album: bool = False,
                     exclude: Iterable[Hashable] = ()) -> np.ndarray:
        """Boolean [n]: which rows may be returned for these seeds."""
        seed_positions = np.asarray(seed_positions, dtype=np.int64)
        ok = np.ones(len(self), dtype=bool)
        if exclude_seeds and seed_positions.size:
            ok[seed_positions] = False
        for flag, codes, what in ((exclude_same_artist, self._artist, "artist"),
                                  (exclude_same_album, self._album, "album")):
            if flag:
                if codes is None:
                    raise ValueError(f"exclude_same_{what} needs the {what}s given to the index")
                if seed_positions.size:
                    ok &= ~np.isin(codes, codes[seed_positions])
        for id_ in exclude:
            if id_ in self._pos:
                ok[self._pos[id_]] = False
        return ok

    def artist_codes(self) -> np.ndarray | None:
        return self._artist

    # --- queries ------------------------------------------------------------------------------
    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of a (normalised) query vector [d] to every row: float32 [n]."""
        return self.vectors @ np.asarray(query, dtype=np.float32)

    def top_k(self, scores: np.ndarray, k: int, allowed: np.ndarray | None = None
              ) -> np.ndarray:
        """Positions of the k highest ``scores`` (restricted to ``allowed``), best first."""
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
            k = min(k, int(allowed.sum()))
        k = min(k, scores.shape[0])
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        if k < scores.shape[0]:
            part = np.argpartition(-scores, k - 1)[:k]
        else:
            part = np.arange(scores.shape[0])
        return part[np.argsort(-scores[part], kind="stable")]

    def query(self, seeds: Hashable | Sequence[Hashable], k: int = 10, *,
              exclude_same_artist: bool = False, exclude_same_album: bool = False,
              exclude: Iterable[Hashable] = (), only: np.ndarray | None = None) -> list[Neighbour]:
        """The k tracks most like the seed(s), best first, never the seeds themselves.

        Several seeds are combined by the normalised mean of their vectors, which ranks by the
        mean cosine similarity to the seeds.

        Parameters
        ----------
        seeds : hashable or sequence of hashable
            One track id or several (each in the index).
        k : int, default 10
            At most this many results (fewer when the filters leave fewer tracks).
        exclude_same_artist : bool, default False
            Leave out tracks by a seed's artist (needs the artists given to the index).
        exclude_same_album : bool, default False
            Leave out tracks from a seed's album (needs the albums given to the index).
        exclude : iterable of hashable, default ()
            Track ids never to return (ids not in the index are ignored).
        only : np.ndarray, optional
            Boolean [n], rows that may be returned at all (e.g. a tempo or key filter,
            :mod:`engine.similarity.compat`); None: every row.

        Returns
        -------
        list of Neighbour
            The tracks found, with their cosine similarity to the query and their row.

        Raises
        ------
        KeyError
            When a seed is not in the index.
        ValueError
            When an exclude-same filter is asked for without its metadata given to the index.
        """
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, np.ndarray)):
            seeds = [seeds]
        positions = self.positions(seeds)
        exclude = list(exclude)
        vector = self.centroid(positions)
        if not (exclude_same_artist or exclude_same_album or exclude or only is not None):
            # only the seeds are left out: no [n] mask needed on the approximate path
            return self._search(vector, k, None, positions)
        allowed = self.allowed_mask(positions, exclude_same_artist=exclude_same_artist,
                                    exclude_same_album=exclude_same_album, exclude=exclude)
        if only is not None:
            allowed &= np.asarray(only, dtype=bool)
        return self._search(vector, k, allowed, ())

    def query_vector(self, vector: np.ndarray, k: int = 10, *,
                     allowed: np.ndarray | None = None) -> list[Neighbour]:
        """The k rows most similar to an arbitrary vector (normalised here)."""
        return self._search(l2_normalize(np.asarray(vector, dtype=np.float32)), k, allowed, ())

    def _search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None,
                exclude: Sequence[int] | np.ndarray) -> list[Neighbour]:
        """Top k of a normalised vector among ``allowed`` rows minus the ``exclude`` positions:
        from the approximate index when it is ready and can answer, else exactly."""
        t0 = time.perf_counter()
        ann = self.ann.ready_index() if self.ann.wanted else None
        if ann is not None:
            n_ok = None if allowed is None else int(np.count_nonzero(allowed))
            if n_ok is not None and n_ok < self.ann.policy.exact_below:
                # a strict filter: exact over the few rows it leaves is exact and fast
                return self._exact_subset(vector, k, np.flatnonzero(allowed))
            found = ann.search(vector, k, allowed=allowed, exclude=exclude)
            if found is not None:
                return [Neighbour(self.ids[p], float(s), int(p)) for p, s in zip(*found)]
        exclude = np.asarray(exclude, dtype=np.int64)
        if exclude.size:
            allowed = np.ones(len(self), dtype=bool) if allowed is None else allowed.copy()
            allowed[exclude] = False
        scores = self.similarities(vector)
        top = self.top_k(scores, k, allowed)
        self.ann.note_exact(time.perf_counter() - t0)
        return [Neighbour(self.ids[p], float(scores[p]), int(p)) for p in top]

    def _exact_subset(self, vector: np.ndarray, k: int, rows: np.ndarray) -> list[Neighbour]:
        scores = self.vectors[rows] @ np.asarray(vector, dtype=np.float32)
        top = self.top_k(scores, k)
        return [Neighbour(self.ids[rows[p]], float(scores[p]), int(rows[p])) for p in top]

    def knn_graph(self, k: int, *, queries: np.ndarray | None = None,
                  exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest rows of every row (or of each row of ``queries``).

        Returns ``(indices int64 [m, k], similarities float32 [m, k])``, best first. With
        ``queries=None`` each row's own position is left out. Blocked so memory stays bounded.
        """
        return knn(self.vectors, k, queries=queries, exclude_self=exclude_self)


def knn(vectors: np.ndarray, k: int, *, queries: np.ndarray | None = None,
        exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN of ``queries`` (default: the rows themselves) among normalised ``vectors``.

    Returns ``(indices [m, k], similarities [m, k])`` sorted best first. ``k`` is clipped to
    the number of candidates.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    self_query = queries is None
    q = vectors if self_query else np.asarray(queries, dtype=np.float32)
    n = vectors.shape[0]
    m = q.shape[0]
    k = max(0, min(k, n - 1 if (self_query and exclude_self) else n))
    out_i = np.empty((m, k), dtype=np.int64)
    out_s = np.empty((m, k), dtype=np.float32)
    if k == 0 or m == 0:
        return out_i, out_s
    import torch  # torch.topk is ~5x faster than np.argpartition on wide blocks

    vt = torch.from_numpy(np.ascontiguousarray(vectors))
    qt = torch.from_numpy(np.ascontiguousarray(q))
    block = max(1, min(m, _BLOCK_BYTES // max(1, 4 * n)))
    with torch.no_grad():
        for start in range(0, m, block):
            stop = min(m, start + block)
            sims = qt[start:stop] @ vt.T                      # [b, n]
            if self_query and exclude_self:
                rows = torch.arange(stop - start)
                sims[rows, rows + start] = -torch.inf
            top_s, top_i = torch.topk(sims, k, dim=1, largest=True, sorted=True)
            out_i[start:stop] = top_i.numpy()
            out_s[start:stop] = top_s.numpy()
    return out_i, out_s
