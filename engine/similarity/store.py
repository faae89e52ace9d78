"""Similarity on the library database: load vectors and metadata, cache and extend the map.

Everything here goes through :class:`engine.library.Library`'s public methods; the
similarity engine itself (the other modules of this package) never sees the database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from engine.errors import LibraryError
from engine.similarity.embeddings import (DEFAULT_CENTER, DEFAULT_KIND, EMBEDDING_KINDS, embed,
                                          library_center)
from engine.similarity.index import SimilarityIndex
from engine.similarity.layout import (Cancel, LayoutParams, PlacementParams, Progress,
                                      compute_layout, place_new)
from engine.similarity.playlist import PlaylistEntry
from engine.similarity.regions import Region, label_regions

#: When more than this share of a map's points were placed incrementally, `map` suggests
#: --recompute (placed points are good locally, but the old layout never makes room for them).
RECOMPUTE_HINT_FRACTION = 0.3


@dataclass
class LibraryVectors:
    """The similarity vectors of every analysed track for one model and embedding kind."""

    model: str
    kind: str
    track_ids: np.ndarray            # int64 [n], ascending
    vectors: np.ndarray              # float32 [n, d], L2-normalised
    scores: np.ndarray               # float32 [n, n_tags], tag probabilities
    tags: list = field(default_factory=list)      # engine.vocab.TagInfo, output order
    centred: bool = False            # the library mean was subtracted before normalising

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])


def default_model(lib) -> str:
    """The model to use when none is named: the bundled default if the library has analyses
    by it, else the model that analysed the most tracks."""
    from engine.bundle import DEFAULT_MODEL

    counts = lib.analysed_models()
    if not counts:
        raise LibraryError("no track in the library has been analysed yet "
                           "(run 'tagatlas scan FOLDER' first)")
    if counts.get(DEFAULT_MODEL):
        return DEFAULT_MODEL
    return max(counts, key=lambda m: (counts[m], m))


def load_vectors(lib, model: str | None = None, kind: str = DEFAULT_KIND, *,
                 center: bool = DEFAULT_CENTER) -> LibraryVectors:
    """Vectors of ``kind`` (see :data:`EMBEDDING_KINDS`) for every analysed track, centred on
    the library's mean vector when ``center`` (see :data:`DEFAULT_CENTER`)."""
    if kind not in EMBEDDING_KINDS:
        raise ValueError(f"unknown embedding kind {kind!r}; choose one of {', '.join(EMBEDDING_KINDS)}")
    model = model or default_model(lib)
    ids, scores = lib.embeddings(model, "scores")
    if ids.size == 0:
        raise LibraryError(f"no track in the library has been analysed with {model!r}")
    if kind == "penultimate":
        pen_ids, pen = lib.embeddings(model, "penultimate")
        if pen_ids.size == 0:
            raise LibraryError(f"the analyses by {model!r} have no embeddings stored; "
                               "use --kind scores")
        keep = np.isin(ids, pen_ids)
        ids, scores = ids[keep], scores[keep]
        source = {"penultimate": pen[np.searchsorted(pen_ids, ids)]}
    else:
        source = {"scores": scores}
    mean = library_center(kind, **source) if center and len(ids) > 1 else None
    vectors = embed(kind, center=mean, **source)
    try:
        tags = lib.model_tags(model)
    except LibraryError:
        tags = []
    return LibraryVectors(model, kind, ids, vectors, scores, tags, centred=mean is not None)


@dataclass(frozen=True)
class TrackMeta:
    id: int
    path: str
    title: str | None
    artist: str | None
    album: str | None
    duration_s: float | None
    albumartist: str | None = None

    def entry(self) -> PlaylistEntry:
        return PlaylistEntry(self.path, self.duration_s, self.artist, self.title)

    def display(self) -> str:
        return self.entry().display()


def track_meta(lib, track_ids: Sequence[int]) -> dict[int, TrackMeta]:
    """Path, title, artist, album and duration of tracks (from the light query rows)."""
    wanted = {int(i) for i in track_ids}
    out = {}
    for r in lib.query_tracks(order_by="id"):
        if r.id in wanted:
            out[r.id] = TrackMeta(r.id, r.path, r.title, r.artist, r.album, r.duration_s, r.albumartist)
    return out


def load_index(lib, model: str | None = None, kind: str = DEFAULT_KIND
               ) -> tuple[SimilarityIndex, LibraryVectors, dict[int, TrackMeta]]:
    """A :class:`SimilarityIndex` over the library (ids are track ids, artists and albums
    filled from the tags), with the vectors and the tracks' metadata. A large library's
    queries go through an approximate index once it is worth building
    (:mod:`engine.similarity.ann`), cached per model and kind for the rest of the process."""
    lv = load_vectors(lib, model, kind)
    meta = track_meta(lib, lv.track_ids)
    keep = np.array([int(i) in meta for i in lv.track_ids], dtype=bool)
    if not keep.all():   # analysed but gone
        lv = LibraryVectors(lv.model, lv.kind, lv.track_ids[keep], lv.vectors[keep],
                            lv.scores[keep], lv.tags, lv.centred)
    ids = [int(i) for i in lv.track_ids]
    index = SimilarityIndex(ids, lv.vectors, artists=[meta[i].artist for i in ids],
                            albums=[meta[i].album for i in ids],
                            album_artists=[meta[i].albumartist for i in ids],
                            ann_label=("library", lv.model, lv.kind, lv.centred))
    return index, lv, meta


# --- the map --------------------------------------------------------------------------------------
@dataclass
class MapResult:
    layout_id: int
    track_ids: np.ndarray            # int64 [n], the rows of ``coords`` (same order as vectors)
    coords: np.ndarray               # float32 [n, 2]
    recomputed: bool                 # a fresh t-SNE was run now
    n_placed_now: int                # tracks added to a cached map now
    placed_fraction: float           # share of the map's points placed incrementally so far
    seconds: float

    @property
    def suggest_recompute(self) -> bool:
        return self.placed_fraction > RECOMPUTE_HINT_FRACTION


def update_map(lib, lv: LibraryVectors, *, recompute: bool = False,
               params: LayoutParams = LayoutParams(),
               placement: PlacementParams = PlacementParams(),
               progress: Progress | None = None, cancel: Cancel | None = None) -> MapResult:
    """The current map of ``lv``'s tracks, computed and cached in the library when needed.

    A map is computed when there is none, when ``recompute``, when the cached one was made from
    differently prepared vectors, or when fewer than four of its tracks are left; otherwise the
    cached one is used, with tracks that are not on it yet placed incrementally and saved.
    Tracks no longer in the library drop off the map.

    Parameters
    ----------
    lib : Library
        The open library holding the layouts.
    lv : LibraryVectors
        The vectors to map (:func:`load_vectors`).
    recompute : bool, default False
        Run t-SNE afresh even when a map is cached.
    params : LayoutParams, default LayoutParams()
        The t-SNE settings, for a map computed now.
    placement : PlacementParams, default PlacementParams()
        How new tracks are placed into a cached map.
    progress : callable, optional
        ``progress(done, total)`` in t-SNE iterations, while a map is computed.
    cancel : callable, optional
        ``cancel()`` is checked while a map is computed.

    Returns
    -------
    MapResult
        The layout's id, the coordinates in ``lv``'s row order, whether it was computed now, and
        how many of its points were placed incrementally.

    Raises
    ------
    LayoutCancelled
        When ``cancel()`` returns True during the computation.
    """
    t0 = time.perf_counter()
    # include_gone: every point ever put on this map counts for the placed fraction; the
    # points of tracks that are no longer in ``lv`` are dropped just below.
    current = None if recompute else lib.current_layout(lv.model, lv.kind, include_gone=True)
    if current is not None and bool(current.params.get("centred", False)) != lv.centred:
        current = None   # made from differently prepared vectors: lay out afresh
    if current is not None and np.isin(current.track_ids, lv.track_ids).sum() < 4:
        current = None   # (almost) every track of the old map is gone: nothing to place into
    if current is None:
        coords = compute_layout(lv.vectors, params, progress=progress, cancel=cancel)
        layout_id = lib.save_layout(lv.model, lv.kind, lv.track_ids, coords,
                                    params={**params.to_dict(), "n_computed": int(len(lv)),
                                            "centred": lv.centred})
        return MapResult(layout_id, lv.track_ids, coords, True, 0, 0.0,
                         time.perf_counter() - t0)
    row_of = {int(t): i for i, t in enumerate(lv.track_ids)}
    on_map = np.array([int(t) in row_of for t in current.track_ids], dtype=bool)
    old_ids = current.track_ids[on_map]
    old_xy = current.xy[on_map]
    old_rows = np.array([row_of[int(t)] for t in old_ids], dtype=np.int64)
    new_rows = np.setdiff1d(np.arange(len(lv)), old_rows)
    coords = np.zeros((len(lv), 2), dtype=np.float32)
    coords[old_rows] = old_xy
    if new_rows.size:
        placed = place_new(old_xy, lv.vectors[old_rows], lv.vectors[new_rows], placement)
        coords[new_rows] = placed
        lib.add_layout_points(current.id, lv.track_ids[new_rows], placed)
    # points added since the t-SNE run = all points ever on the map - those it computed
    n_computed = int(current.params.get("n_computed", current.track_ids.size))
    n_placed = max(0, int(current.track_ids.size + new_rows.size) - n_computed)
    frac = n_placed / max(1, int(current.track_ids.size + new_rows.size))
    return MapResult(current.id, lv.track_ids, coords, False, int(new_rows.size), frac,
                     time.perf_counter() - t0)


def compatible_with(lib, track_ids: Sequence[int], seeds: Sequence[int], *,
                    bpm_within: float | None = None, harmonic: bool = False) -> np.ndarray | None:
    """Boolean [len(track_ids)]: tracks whose analysed tempo is within ``bpm_within`` % of the
    first seed's (or its double/half) and, with ``harmonic``, whose key mixes with the seed's
    (:mod:`engine.similarity.compat`). None when no filter is asked for. Raises
    :class:`LibraryError` when the seed has no analysed tempo/key to compare with."""
    from .compat import key_mask, tempo_mask

    if bpm_within is None and not harmonic:
        return None
    summary = lib.rhythm_summary()
    seed = summary.get(int(seeds[0])) if seeds else None
    rows = [summary.get(int(t)) for t in track_ids]
    ok = np.ones(len(track_ids), dtype=bool)
    if bpm_within is not None:
        if seed is None or seed[0] is None:
            raise LibraryError("the track has no analysed tempo to match (scan it again to analyse it)")
        ok &= tempo_mask(seed[0], np.array([np.nan if r is None or r[0] is None else r[0] for r in rows]),
                         bpm_within)
    if harmonic:
        if seed is None or seed[2] is None:
            raise LibraryError("the track has no analysed key to match (scan it again to analyse it)")
        ok &= key_mask((int(seed[2]), str(seed[3])),
                       [None if r is None or r[2] is None else (int(r[2]), str(r[3])) for r in rows])
    return ok


def with_predicted_tags(lib, lv: LibraryVectors) -> LibraryVectors:
    """``lv`` with its ``scores``/``tags`` replaced by the library's combined predictions in
    the canonical vocabulary (every model of the default profile that analysed something
    here, calibrated and combined as for writing; see :mod:`engine.library.predictions`).

    The vectors, and so the positions on the map, stay those of ``lv.model``; what changes
    is what the map *says*: colour by top genre, region names and tooltips then use the same
    tags (e.g. Classical, Soundtrack) as the library table and ``tag --write``. Tracks no
    profile model analysed get zeros. When no combination is possible (e.g. analyses by
    several unrelated models), ``lv`` is returned unchanged.
    """
    from engine.library.predictions import choose_models, combined_matrix, library_combiner

    try:
        try:
            models = choose_models(lib)
        except LibraryError:
            models = [lv.model]
        combiner = library_combiner(lib, models)
        ids, matrix = combined_matrix(lib, combiner)
    except (LibraryError, ValueError):
        return lv
    if not combiner.tags:
        return lv
    scores = np.zeros((len(lv), len(combiner.tags)), dtype=np.float32)
    if len(ids):
        pos = np.clip(np.searchsorted(ids, lv.track_ids), 0, len(ids) - 1)
        hit = ids[pos] == lv.track_ids
        scores[hit] = matrix[pos[hit]]
    return LibraryVectors(lv.model, lv.kind, lv.track_ids, lv.vectors, scores,
                          list(combiner.tags), lv.centred)


def map_regions(lv: LibraryVectors, coords: np.ndarray, *, n_regions: int | None = None
                ) -> list[Region]:
    """Regions of the map named by genre and mood tags (eras and vocals are left to the
    colour-by view: "1990s" is not a place on a map of sound)."""
    if not lv.tags or len(lv.tags) != lv.scores.shape[1]:
        return []
    names = [t.display for t in lv.tags]
    use = [t.category in ("genre", "mood") for t in lv.tags]
    if not any(use):
        use = None
    return label_regions(coords, lv.scores, names, n_regions=n_regions, use_tags=use)
