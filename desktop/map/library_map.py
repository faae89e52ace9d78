"""From the library database to what the map and the "more like this" panel show.

:func:`load_library_map` reads the vectors, the cached layout (placing tracks analysed since
the last layout, or running t-SNE when there is none yet), the tracks' metadata and the region
labels, and returns a :class:`LibraryMap`: plain arrays the widgets take. It does database
and CPU work (seconds at 50,000 tracks, a minute when t-SNE has to run), so call it from a
worker thread with a :class:`engine.library.Library` opened in that thread, and hand the
result to the GUI thread.

:class:`LibraryMap` is also built directly from arrays (:meth:`LibraryMap.from_arrays`) for
tests, benchmarks and screenshots of generated maps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from desktop.map.data import CategoryColoring, MapData, ValueColoring

#: Tags shown in a point's tooltip and searched by the map's search box.
TOOLTIP_TAGS = 3


@dataclass
class TagColumn:
    """A tag the map can colour by: its display name, category and the score columns it
    merges (near-duplicates such as "female vocalist"/"female vocalists" share a name)."""

    display: str
    category: str
    columns: tuple[int, ...]


@dataclass
class LibraryMap:
    """Everything the map shows for one layout of the library.

    ``data``: the points (:class:`MapData`). ``scores``: tag probabilities [n, n_tags] in the
    rows of ``data`` (or None). ``tag_names``/``tag_categories``: per score column.
    ``genres``: the genre each file already carries (first one; None when untagged).
    ``regions``: engine :class:`~engine.similarity.regions.Region` labels.
    ``paths``/``durations``: per point, for playing and for playlists.
    """

    data: MapData
    scores: np.ndarray | None = None
    tag_names: list[str] = field(default_factory=list)
    tag_categories: list[str] = field(default_factory=list)
    genres: list[str | None] | None = None
    regions: list = field(default_factory=list)
    paths: list[str] | None = None
    durations: list[float | None] | None = None
    model: str | None = None
    kind: str | None = None
    layout_id: int | None = None
    suggest_recompute: bool = False
    #: analysed tempo per point (NaN: none) and key per point ((tonic, mode) or None)
    bpm: np.ndarray | None = None
    keys: list | None = None

    # ---------------------------------------------------------------- building
    @classmethod
    def from_arrays(cls, ids, xy, *, scores=None, tag_names: Sequence[str] = (),
                    tag_categories: Sequence[str] | None = None, titles=None, artists=None,
                    genres=None, paths=None, durations=None, regions: Sequence | None = None,
                    compute_regions: bool = False, **extra) -> "LibraryMap":
        """A map from arrays.

        Parameters
        ----------
        ids : array_like of int
            [n] track ids (unique).
        xy : array_like of float
            [n, 2] layout coordinates.
        scores : array_like of float, optional
            [n, n_tags] tag probabilities; None: a map without scores.
        tag_names : sequence of str, default ()
            The display names, one per score column.
        tag_categories : sequence of str, optional
            Their categories ("genre", "mood", ...); None: "genre" for every tag.
        titles, artists : sequence, optional
            [n] per point, for tooltips and search.
        genres : sequence, optional
            [n] the genre each file already carries (None when untagged).
        paths : sequence of str, optional
            [n] the files, for playing and for playlists.
        durations : sequence, optional
            [n] durations in seconds (None when unknown).
        regions : sequence of Region, optional
            Region labels to use as they are.
        compute_regions : bool, default False
            Compute the region labels here (k-means; seconds) when ``regions`` is not given.
        **extra
            Other :class:`LibraryMap` fields (``model``, ``kind``, ``layout_id``, ...).

        Returns
        -------
        LibraryMap
            The map.

        Raises
        ------
        ValueError
            When ``scores`` does not have one column per tag name.
        """
        scores = None if scores is None else np.asarray(scores, dtype=np.float32)
        names = list(tag_names)
        cats = list(tag_categories) if tag_categories is not None else ["genre"] * len(names)
        if scores is not None and scores.shape[1] != len(names):
            raise ValueError(f"{scores.shape[1]} score columns for {len(names)} tag names")
        tags_line = _tags_lines(scores, names) if scores is not None else None
        data = MapData(ids, xy, titles=titles, artists=artists, tags=tags_line)
        m = cls(data=data, scores=scores, tag_names=names, tag_categories=cats,
                genres=list(genres) if genres is not None else None,
                paths=list(paths) if paths is not None else None,
                durations=list(durations) if durations is not None else None, **extra)
        if regions is not None:
            m.regions = list(regions)
        elif compute_regions:
            m.regions = m.compute_regions()
        return m

    def compute_regions(self, n_regions: int | None = None) -> list:
        """Region labels named by genre and mood tags (engine k-means labelling)."""
        from engine.similarity.regions import label_regions

        if self.scores is None or len(self.data) == 0:
            return []
        use = [c in ("genre", "mood") for c in self.tag_categories]
        return label_regions(self.data.xy, self.scores, self.tag_names, n_regions=n_regions,
                             use_tags=use if any(use) else None)

    # ---------------------------------------------------------------- colourings
    def tag_columns(self) -> list[TagColumn]:
        """Tags to colour by, genres first, then moods, instruments, eras, others; each
        display name once."""
        order = {"genre": 0, "mood": 1, "instrument": 2, "era": 3}
        merged: dict[str, TagColumn] = {}
        for j, (name, cat) in enumerate(zip(self.tag_names, self.tag_categories)):
            if name in merged:
                merged[name].columns += (j,)
            else:
                merged[name] = TagColumn(name, cat, (j,))
        return sorted(merged.values(), key=lambda t: (order.get(t.category, 9), t.display.casefold()))

    def has_scores(self) -> bool:
        return self.scores is not None and bool(self.tag_names)

    def top_genre_coloring(self, max_categories: int = 12) -> CategoryColoring:
        """Each track by its highest-scoring predicted genre."""
        from engine.similarity.render import top_labels

        if not self.has_scores():
            return CategoryColoring([None] * len(self.data), title="Top genre")
        use = [c == "genre" for c in self.tag_categories]
        labels = top_labels(self.scores, self.tag_names, use=use if any(use) else None,
                            max_classes=max_categories, min_score=0.05)
        return CategoryColoring(list(labels), title="Top genre (predicted)",
                                max_categories=max_categories)

    def tag_coloring(self, display: str) -> ValueColoring:
        """Each track by its score for one tag (given by display or raw name)."""
        if not self.has_scores():
            raise ValueError("this map has no tag scores")
        key = display.strip().casefold()
        cols = [j for j, n in enumerate(self.tag_names) if n.casefold() == key]
        if not cols:
            raise ValueError(f"no tag called {display!r} on this map")
        values = self.scores[:, cols].max(axis=1)
        return ValueColoring(values, title=f"{self.tag_names[cols[0]]} score", vmin=0.0,
                             vmax=float(max(0.5, np.percentile(values, 99.5))))

    def has_rhythm(self) -> bool:
        return self.bpm is not None and bool(np.isfinite(self.bpm).any())

    def bpm_coloring(self) -> ValueColoring:
        """Each track by its analysed tempo (grey-low where none)."""
        values = self.bpm if self.bpm is not None else np.full(len(self.data), np.nan)
        return ValueColoring(np.asarray(values, np.float64), title="Tempo (BPM)", vmin=None, vmax=None)

    def key_coloring(self) -> CategoryColoring:
        """Each track by its place on the Camelot wheel (a key and its relative major/minor
        share a colour; neighbours on the wheel mix well)."""
        from engine.key import key_name

        labels = []
        for k in self.keys or [None] * len(self.data):
            if k is None:
                labels.append(None)
                continue
            cam = key_name(*k, notation="camelot")
            num = cam[:-1]
            major = k if k[1] == "major" else ((k[0] + 3) % 12, "major")
            labels.append(f"{num}: {key_name(*major)} / {key_name((major[0] + 9) % 12, 'minor')}")
        return CategoryColoring(labels, title="Key (Camelot wheel)", max_categories=12)

    def existing_genre_coloring(self, max_categories: int = 12) -> CategoryColoring:
        """Each track by the genre already in its file's tags ("Other" when untagged)."""
        from engine.vocab import display_name

        genres = self.genres or [None] * len(self.data)
        labels = [display_name(g) if g else None for g in genres]
        return CategoryColoring(labels, title="Genre (file tags)", max_categories=max_categories)


def _tags_lines(scores: np.ndarray, names: Sequence[str], k: int = TOOLTIP_TAGS) -> list[str]:
    """"Jazz 91% · Mellow 66% · Instrumental 52%" per row (duplicate display names merged)."""
    if scores.size == 0:
        return [""] * scores.shape[0]
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        groups.setdefault(name, []).append(j)
    labels = list(groups)
    merged = np.stack([scores[:, cols].max(axis=1) for cols in groups.values()], axis=1)
    k = min(k, merged.shape[1])
    top = np.argsort(-merged, axis=1, kind="stable")[:, :k]
    pct = np.rint(np.take_along_axis(merged, top, axis=1) * 100).astype(int)
    return [" · ".join(f"{labels[j]} {p}%" for j, p in zip(row, prow))
            for row, prow in zip(top.tolist(), pct.tolist())]


def load_library_map(lib, model: str | None = None, kind: str | None = None, *,
                     compute_if_missing: bool = True, with_regions: bool = True,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> LibraryMap | None:
    """The map of ``lib`` for ``model`` and embedding ``kind``, with its labels and metadata.

    The cached layout is used and tracks analysed since are placed into it; when there is no
    layout yet it is computed (t-SNE) unless ``compute_if_missing`` is False. When the vectors
    of ``kind`` are not stored (e.g. analyses without embeddings), the tag scores are mapped
    instead.

    Parameters
    ----------
    lib : Library
        An open :class:`engine.library.Library` (opened in the calling thread).
    model : str, optional
        The model whose vectors to map; None: :func:`engine.similarity.store.default_model`.
    kind : str, optional
        The embedding kind; None: the engine's default.
    compute_if_missing : bool, default True
        Compute a layout when there is no usable cached one; False returns None instead.
    with_regions : bool, default True
        Also compute the region labels.
    progress : callable, optional
        ``progress(done, total)`` in t-SNE iterations, passed on to the layout.
    cancel : callable, optional
        ``cancel()``, passed on to the layout.

    Returns
    -------
    LibraryMap or None
        The map; None when no track has been analysed (by ``model``), or when there is no
        usable cached layout and ``compute_if_missing`` is False.

    Raises
    ------
    engine.similarity.LayoutCancelled
        When cancelled.
    """
    from engine.errors import LibraryError
    from engine.similarity.embeddings import DEFAULT_KIND
    from engine.similarity.store import load_vectors, map_regions, update_map, with_predicted_tags

    kind = kind or DEFAULT_KIND
    try:
        lv = load_vectors(lib, model, kind)
    except LibraryError:
        if kind != "scores":   # e.g. analyses stored without embeddings: fall back to scores
            try:
                lv = load_vectors(lib, model, "scores")
            except LibraryError:
                return None
        else:
            return None
    if not compute_if_missing:
        current = lib.current_layout(lv.model, lv.kind)
        # a layout of differently prepared vectors is laid out afresh by update_map
        if current is None or bool(current.params.get("centred", False)) != \
                bool(getattr(lv, "centred", False)):
            return None
    result = update_map(lib, lv, progress=progress, cancel=cancel)
    # what the map says (colours, tooltips, region names) uses the combined predictions, the
    # same tags as the library table; the positions stay those of lv's vectors
    labelled = with_predicted_tags(lib, lv)
    row_of = {r.id: r for r in lib.query_tracks(order_by="id")}
    keep = np.array([int(t) in row_of for t in result.track_ids], dtype=bool)   # not gone
    ids = result.track_ids[keep]
    xy = result.coords[keep]
    scores = labelled.scores[keep]
    tr = [row_of[int(t)] for t in ids]
    ok_tags = len(labelled.tags) == scores.shape[1]
    names = [t.display for t in labelled.tags] if ok_tags else [f"tag {j}" for j in range(scores.shape[1])]
    cats = [t.category for t in labelled.tags] if ok_tags else ["other"] * scores.shape[1]
    m = LibraryMap.from_arrays(
        ids, xy, scores=scores, tag_names=names, tag_categories=cats,
        titles=[r.title or _stem(r.path) for r in tr], artists=[r.artist for r in tr],
        genres=[r.genre[0] if r.genre else None for r in tr], paths=[r.path for r in tr],
        durations=[r.duration_s for r in tr], model=lv.model, kind=lv.kind,
        layout_id=result.layout_id, suggest_recompute=result.suggest_recompute)
    rhythm = lib.rhythm_summary()
    if rhythm:
        m.bpm = np.array([np.nan if (x := rhythm.get(int(t))) is None or x[0] is None else x[0]
                          for t in ids], dtype=np.float64)
        m.keys = [None if (x := rhythm.get(int(t))) is None or x[2] is None else (int(x[2]), str(x[3]))
                  for t in ids]
    if with_regions:
        import dataclasses

        sub = dataclasses.replace(labelled, track_ids=ids, vectors=lv.vectors[keep], scores=scores)
        m.regions = map_regions(sub, xy)
    return m


def _stem(path: str) -> str:
    import os

    return os.path.splitext(os.path.basename(path))[0]
