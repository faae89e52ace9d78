"""The library table: a Qt model over light rows, with its own fast sort and filter.

:func:`load_snapshot` reads what the table shows from the library database in two queries (the
track rows, and every tag-score vector of the active model as one matrix); it runs in a worker.
:class:`LibraryModel` holds a snapshot and a *view*, the list of snapshot rows currently shown,
in order. Sorting and filtering only rebuild that list with Python's ``sorted`` and
list comprehensions over precomputed keys, instead of a ``QSortFilterProxyModel`` that would call
back into Python for every comparison: with 50,000 tracks a sort takes tens of milliseconds.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QFont

from engine.errors import LibraryError
from engine.key import key_name
from engine.library import Library, TrackRow, parse_query
from engine.vocab import TagInfo

COLUMNS = ("title", "artist", "album", "genre", "mood", "bpm", "key", "predicted", "status")
HEADERS = {"title": "Title", "artist": "Artist", "album": "Album", "genre": "Genre",
           "mood": "Mood", "bpm": "BPM", "key": "Key", "predicted": "Predicted tags",
           "status": "Status"}
STATUSES = ("new", "analysed", "written", "error")
STATUS_LABELS = {"new": "New", "analysed": "Analysed", "written": "Written", "error": "Problem"}
_STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}

#: How many predicted tags a row shows.
TOP_N = 3

TrackIdRole = Qt.ItemDataRole.UserRole + 1
#: list of (display name, score, reaches its threshold) for the predicted-tags column
ChipsRole = Qt.ItemDataRole.UserRole + 2
StatusRole = Qt.ItemDataRole.UserRole + 3


@dataclass
class LibrarySnapshot:
    """Everything the table shows, read at one moment."""

    rows: list[TrackRow]
    model: str | None = None                      # whose embeddings the map and "more like this" use
    #: whose predictions are shown and written: the profile's models joined with "+"
    predicted_by: str | None = None
    tags: list[TagInfo] = field(default_factory=list)   # canonical tags (engine.combine)
    thresholds: np.ndarray | None = None          # None: 0.5 on the calibrated, combined scores
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # [n_rows, n_tags]
    analysed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))           # [n_rows]
    problems: int = 0                             # recorded errors (problems panel)
    #: analysed tempo and key per row: (bpm or None, bpm confidence, (tonic, mode) or None,
    #: key confidence), None for rows without that analysis
    rhythm: list = field(default_factory=list)
    load_s: float = 0.0
    # derived by prepare() (in the worker, so the GUI thread only swaps the snapshot in)
    groups: "_TagGroups | None" = None
    merged: np.ndarray | None = None              # float32 [n_rows, n_groups]
    top: np.ndarray | None = None                 # int64 [n_rows, TOP_N], best groups first
    haystack: list[str] | None = None             # casefolded search text per row

    @property
    def n(self) -> int:
        return len(self.rows)

    def prepare(self, *, haystack: bool = True) -> "LibrarySnapshot":
        """Compute what the table derives from the rows and scores (idempotent)."""
        if self.merged is None:
            self.groups = _TagGroups(self.tags, self.thresholds) if self.tags else None
            if self.groups is not None and self.n:
                self.merged = self.groups.merge(self.scores)
                k = min(TOP_N, self.merged.shape[1])
                part = np.argpartition(-self.merged, k - 1, axis=1)[:, :k]
                vals = np.take_along_axis(self.merged, part, axis=1)
                self.top = np.take_along_axis(part, np.argsort(-vals, axis=1), axis=1)
            else:
                self.merged = np.zeros((self.n, 0), np.float32)
                self.top = np.zeros((self.n, 0), np.int64)
        if haystack and self.haystack is None:
            preds = self._passing_names()
            self.haystack = [
                "\n".join((r.title or "", r.artist or "", r.album or "", r.path,
                           " ".join(r.genre), " ".join(r.mood), preds[i])).casefold()
                for i, r in enumerate(self.rows)]
        return self

    def _passing_names(self) -> list[str]:
        """Per row, the shown predicted tags that reach their threshold, as one string."""
        if self.groups is None or not self.top.shape[1]:
            return [""] * self.n
        names, top = self.groups.names, self.top
        ok = np.take_along_axis(self.merged, top, axis=1) >= self.groups.thresholds[top]
        ok &= self.analysed[:, None]
        cache: dict[tuple, str] = {}
        out = []
        for t, m in zip(top.tolist(), ok.tolist()):
            key = tuple(j for j, keep in zip(t, m) if keep)
            text = cache.get(key)
            if text is None:
                text = cache[key] = " ".join(names[j] for j in key)
            out.append(text)
        return out


def display_models(lib: Library, preferred: str | None) -> list[str]:
    """The models whose predictions to show: those of ``preferred`` (a profile or bundle name)
    that the library has, else the default profile's, else the model that analysed most."""
    from engine.errors import LibraryError
    from engine.library.predictions import choose_models

    for choice in (preferred, None):
        try:
            return choose_models(lib, choice)
        except LibraryError:
            continue
    have = lib.analysed_models()
    return [max(have.items(), key=lambda kv: kv[1])[0]] if have else []


def load_snapshot(lib: Library, preferred: str | None) -> LibrarySnapshot:
    """Read the rows and the combined predictions of the profile's models (a few queries and
    one vectorised combination, no per-track work)."""
    from engine.library.predictions import combined_matrix, library_combiner

    t0 = time.perf_counter()
    rows = lib.query_tracks(order_by="id")
    models = display_models(lib, preferred)
    snap = LibrarySnapshot(rows=rows, model=models[0] if models else preferred)
    ids, matrix = np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    if models:
        try:
            combiner = library_combiner(lib, models)
            snap.tags, snap.predicted_by = combiner.tags, combiner.name
            ids, matrix = combined_matrix(lib, combiner)
        except LibraryError:  # a model with no record here: no predictions to show
            snap.tags = []
    n, k = len(rows), len(snap.tags)
    snap.scores = np.zeros((n, k), np.float32)
    snap.analysed = np.zeros(n, bool)
    if k and n and len(ids):
        row_ids = np.fromiter((r.id for r in rows), np.int64, count=n)
        order = np.argsort(row_ids)
        pos = np.searchsorted(row_ids, ids, sorter=order)
        pos = np.clip(pos, 0, n - 1)
        hit = row_ids[order[pos]] == ids
        dest = order[pos[hit]]
        snap.scores[dest] = matrix[hit]
        snap.analysed[dest] = True
    summary = lib.rhythm_summary()
    snap.rhythm = [None if (x := summary.get(r.id)) is None else
                   (x[0], x[1], None if x[2] is None else (int(x[2]), str(x[3])), x[4])
                   for r in rows]
    snap.problems = len(lib.errors())
    snap.load_s = time.perf_counter() - t0
    return snap


class _TagGroups:
    """Tags that share a display name ("female vocalist(s)" -> "Female Vocals") as one column."""

    def __init__(self, tags: Sequence[TagInfo], thresholds: np.ndarray | None) -> None:
        self.names: list[str] = []
        self.categories: list[str] = []
        index: dict[str, int] = {}
        member: list[int] = []
        for t in tags:
            key = t.display.casefold()
            if key not in index:
                index[key] = len(self.names)
                self.names.append(t.display)
                self.categories.append(t.category)
            member.append(index[key])
        self.member = np.asarray(member, np.int64)
        thr = (np.full(len(tags), 0.5, np.float32) if thresholds is None
               else np.asarray(thresholds, np.float32))
        self.thresholds = np.ones(len(self.names), np.float32)
        for i, g in enumerate(member):
            self.thresholds[g] = min(self.thresholds[g], thr[i])
        self.by_name = {n.casefold(): i for i, n in enumerate(self.names)}

    def merge(self, scores: np.ndarray) -> np.ndarray:
        """``[n, n_tags]`` -> ``[n, n_groups]`` (the best score of each group)."""
        out = np.zeros((scores.shape[0], len(self.names)), np.float32)
        for g in range(len(self.names)):
            cols = np.flatnonzero(self.member == g)
            out[:, g] = scores[:, cols].max(axis=1) if len(cols) > 1 else scores[:, cols[0]]
        return out


class LibraryModel(QAbstractTableModel):
    """All tracks of the library; :meth:`sort` and :meth:`set_filter` choose what is shown."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._snap = LibrarySnapshot(rows=[])
        self._view: list[int] = []
        self._pos_of_id: dict[int, int] = {}
        self._view_row: np.ndarray | None = None
        self._groups: _TagGroups | None = None
        self._merged = np.zeros((0, 0), np.float32)
        self._top = np.zeros((0, TOP_N), np.int64)
        self._sort_keys: dict[str, list] = {}
        #: how the Key column writes keys: "standard" (F#m), "camelot" (11A) or "openkey" (4m)
        self.key_notation = "standard"
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._filter: tuple[str, str | None, str | None] = ("", None, None)
        self._bold = QFont()
        self._bold.setWeight(QFont.Weight.DemiBold)
        self._italic = QFont()
        self._italic.setItalic(True)

    # -- data in -------------------------------------------------------------------------------
    @property
    def snapshot(self) -> LibrarySnapshot:
        return self._snap

    def set_snapshot(self, snap: LibrarySnapshot) -> None:
        """Show ``snap``, keeping the current sort and filter."""
        self.beginResetModel()
        self._snap = snap
        self._pos_of_id = {r.id: i for i, r in enumerate(snap.rows)}
        snap.prepare(haystack=False)
        self._groups, self._merged, self._top = snap.groups, snap.merged, snap.top
        self._sort_keys = {}
        self._view = self._compute_view()
        self._view_row = None
        self.endResetModel()

    # -- Qt model interface ---------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._view)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[COLUMNS[section]]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        i = self._view[index.row()]
        row = self._snap.rows[i]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "title":
                return row.title or _file_stem(row.path)
            if col == "artist":
                return row.artist or ""
            if col == "album":
                return row.album or ""
            if col == "genre":
                return ", ".join(row.genre)
            if col == "mood":
                return ", ".join(row.mood)
            if col == "bpm":
                rh = self._rhythm(i)
                return "" if rh is None or rh[0] is None else f"{rh[0]:.0f}"
            if col == "key":
                rh = self._rhythm(i)
                return "" if rh is None or rh[2] is None else key_name(*rh[2], notation=self.key_notation)
            if col == "predicted":
                return "  ".join(f"{n} {s:.0%}" for n, s, _ in self.chips(i))
            if col == "status":
                return STATUS_LABELS.get(row.status, row.status)
        elif role == ChipsRole and col == "predicted":
            return self.chips(i)
        elif role == StatusRole:
            return row.status
        elif role == TrackIdRole:
            return row.id
        elif role == Qt.ItemDataRole.ToolTipRole:
            if col == "title":
                return row.display_path
            if col == "predicted" and self._snap.analysed[i]:
                return "\n".join(f"{n}: {s:.0%}" for n, s, _ in self.chips(i, n=8))
            if col in ("bpm", "key") and (rh := self._rhythm(i)) is not None:
                return _rhythm_tooltip(rh)
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == "bpm":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == Qt.ItemDataRole.FontRole:
            if col == "title" and not row.title:
                return self._italic
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def set_key_notation(self, notation: str) -> None:
        key_name(0, "major", notation)          # refuses an unknown notation
        if notation != self.key_notation:
            self.key_notation = notation
            if self.rowCount():
                c = COLUMNS.index("key")
                self.dataChanged.emit(self.index(0, c), self.index(self.rowCount() - 1, c))

    def rhythm_of(self, track_id: int):
        """The analysed (bpm, confidence, key, key confidence) of a track, or None."""
        i = self._pos_of_id.get(int(track_id))
        return None if i is None else self._rhythm(i)

    def _rhythm(self, i: int):
        rh = self._snap.rhythm
        return rh[i] if i < len(rh) else None

    # -- rows and ids --------------------------------------------------------------------------------
    def chips(self, i: int, n: int = TOP_N) -> list[tuple[str, float, bool]]:
        """The best predicted tags of snapshot row ``i``: (display name, score, passes)."""
        if self._groups is None or not self._snap.analysed[i]:
            return []
        g = self._groups
        merged = self._merged[i]
        idx = self._top[i] if n <= TOP_N else np.argsort(-merged)[:n]
        return [(g.names[j], float(merged[j]), bool(merged[j] >= g.thresholds[j])) for j in idx]

    def track_id(self, row: int) -> int:
        return self._snap.rows[self._view[row]].id

    def track_row(self, row: int) -> TrackRow:
        return self._snap.rows[self._view[row]]

    def snapshot_index(self, row: int) -> int:
        return self._view[row]

    def row_for_id(self, track_id: int) -> int:
        """The view row showing ``track_id``, or -1 (unknown or filtered out)."""
        i = self._pos_of_id.get(int(track_id))
        return -1 if i is None else self.row_for_snapshot(i)

    def row_for_snapshot(self, i: int) -> int:
        """The view row showing snapshot row ``i``, or -1."""
        if i < 0:
            return -1
        if self._view_row is None:
            vr = np.full(self._snap.n, -1, np.int64)
            if self._view:
                vr[np.asarray(self._view, np.int64)] = np.arange(len(self._view))
            self._view_row = vr
        return int(self._view_row[i])

    def rows_for_ids(self, track_ids: Iterable[int]) -> list[int]:
        return [r for r in (self.row_for_id(t) for t in track_ids) if r >= 0]

    def visible_ids(self) -> list[int]:
        rows = self._snap.rows
        return [rows[i].id for i in self._view]

    def get_row(self, track_id: int) -> TrackRow | None:
        i = self._pos_of_id.get(int(track_id))
        return None if i is None else self._snap.rows[i]

    def scores_of(self, track_id: int) -> np.ndarray | None:
        i = self._pos_of_id.get(int(track_id))
        if i is None or not self._snap.analysed[i]:
            return None
        return self._snap.scores[i]

    def status_counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for r in self._snap.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def tag_names(self) -> list[str]:
        """Display names of the model's tags, grouped by category (for the tag filter)."""
        if self._groups is None:
            return []
        from engine.vocab import CATEGORIES

        g = self._groups
        order = sorted(range(len(g.names)), key=lambda j: (CATEGORIES.index(g.categories[j]), g.names[j]))
        return [g.names[j] for j in order]

    # -- sorting -------------------------------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_view = self._view
        held = [(old_view[p.row()] if 0 <= p.row() < len(old_view) else -1, p.column())
                for p in persistent]
        self._view = self._sorted(self._view)
        self._view_row = None
        if persistent:
            new_rows = [self.row_for_snapshot(i) for i, _ in held]
            self.changePersistentIndexList(
                persistent, [self.index(r, c) if r >= 0 else QModelIndex()
                             for r, (_, c) in zip(new_rows, held)])
        self.layoutChanged.emit()

    def _key_list(self, col: str) -> list:
        keys = self._sort_keys.get(col)
        if keys is not None:
            return keys
        rows = self._snap.rows
        last = "\U0010ffff"
        if col == "title":
            keys = [(r.title or _file_stem(r.path)).casefold() for r in rows]
        elif col in ("artist", "album"):
            keys = [(getattr(r, col) or last).casefold() for r in rows]
        elif col in ("genre", "mood"):
            keys = [", ".join(getattr(r, col)).casefold() or last for r in rows]
        elif col == "status":
            keys = [_STATUS_ORDER.get(r.status, 9) for r in rows]
        elif col == "bpm":      # unanalysed last, whichever the direction
            keys = [(0, rh[0]) if rh is not None and rh[0] is not None else (1, 0.0)
                    for rh in (self._rhythm(i) for i in range(len(rows)))]
        elif col == "key":      # round the Camelot wheel: harmonic neighbours sit together
            keys = [(0, key_name(*rh[2], notation="camelot").rjust(3)) if rh is not None and rh[2]
                    else (1, "") for rh in (self._rhythm(i) for i in range(len(rows)))]
        elif col == "predicted":
            if self._groups is None:
                keys = [(last, 0.0)] * len(rows)
            else:
                names = [n.casefold() for n in self._groups.names]
                n = len(rows)
                top0 = self._top[:, 0] if self._top.shape[1] else np.zeros(n, np.int64)
                best = (-self._merged[np.arange(n), top0]).tolist() if n and self._merged.shape[1] else [0.0] * n
                keys = [(names[t], b) if a else (last, 0.0)
                        for t, b, a in zip(top0.tolist(), best, self._snap.analysed.tolist())]
        else:
            keys = list(range(len(rows)))
        self._sort_keys[col] = keys
        return keys

    def _sorted(self, view: list[int]) -> list[int]:
        if self._sort is None:
            return view
        column, order = self._sort
        keys = self._key_list(COLUMNS[column])
        return sorted(view, key=keys.__getitem__,
                      reverse=order == Qt.SortOrder.DescendingOrder)

    # -- filtering -------------------------------------------------------------------------------------------
    @property
    def filter(self) -> tuple[str, str | None, str | None]:
        return self._filter

    def set_filter(self, text: str = "", status: str | None = None, tag: str | None = None) -> None:
        """Show only rows matching ``text`` (words, or ``field:value`` as in the CLI: artist:,
        album:, title:, genre:, mood:, tag:, status:), ``status`` and ``tag`` (a predicted tag
        above its threshold, or the file's own genre/mood)."""
        new = (text.strip(), status or None, tag or None)
        if new == self._filter:
            return
        self._filter = new
        self.beginResetModel()
        self._view = self._compute_view()
        self._view_row = None
        self.endResetModel()

    def _haystack(self) -> list[str]:
        if self._snap.haystack is None:
            self._snap.prepare(haystack=True)
        return self._snap.haystack

    def _tag_mask(self, tag: str) -> np.ndarray:
        n = self._snap.n
        mask = np.zeros(n, bool)
        key = tag.casefold()
        if self._groups is not None and key in self._groups.by_name:
            g = self._groups.by_name[key]
            mask |= (self._merged[:, g] >= self._groups.thresholds[g]) & self._snap.analysed
        for i, r in enumerate(self._snap.rows):
            if not mask[i] and (r.genre or r.mood):
                if any(v.casefold() == key for v in r.genre) or any(v.casefold() == key for v in r.mood):
                    mask[i] = True
        return mask

    def _compute_view(self) -> list[int]:
        text, status, tag = self._filter
        rows = self._snap.rows
        view = list(range(len(rows)))
        if status:
            view = [i for i in view if rows[i].status == status]
        if tag:
            mask = self._tag_mask(tag)
            view = [i for i in view if mask[i]]
        if text:
            q = parse_query(text)
            words = [w.casefold() for w in q.pop("text", [])]
            if words:
                hay = self._haystack()
                view = [i for i in view if all(w in hay[i] for w in words)]
            for key, values in q.items():
                for v in values:
                    view = self._field_filter(view, key, v)
        return self._sorted(view)

    def _field_filter(self, view: list[int], key: str, value: str) -> list[int]:
        rows, v = self._snap.rows, value.casefold()
        if key in ("title", "artist", "album", "albumartist", "format"):
            attr = key if key != "albumartist" else "artist"
            return [i for i in view if v in (getattr(rows[i], attr) or "").casefold()]
        if key == "path":
            return [i for i in view if v in rows[i].display_path.casefold()]
        if key in ("genre", "mood"):
            return [i for i in view if any(v == x.casefold() for x in getattr(rows[i], key))]
        if key == "tag":
            mask = self._tag_mask(value)
            return [i for i in view if mask[i]]
        if key == "status":
            return [i for i in view if rows[i].status == v]
        if key == "id":
            return [i for i in view if str(rows[i].id) == value]
        if key in ("bpm", "key"):
            from engine.errors import LibraryError
            from engine.library import parse_bpm_filter, parse_key_filter

            try:
                if key == "bpm":
                    lo, hi = parse_bpm_filter(value)
                    return [i for i in view if (rh := self._rhythm(i)) is not None and rh[0] is not None
                            and lo <= rh[0] < hi]
                want = parse_key_filter(value)
                return [i for i in view if (rh := self._rhythm(i)) is not None and rh[2] == want]
            except LibraryError:
                return []      # a half-typed filter shows nothing until it is a tempo or a key
        return view


def _rhythm_tooltip(rh) -> str:
    bpm, bpm_conf, key, key_conf = rh
    lines = []
    if bpm is not None:
        lines.append(f"{bpm:.1f} BPM (confidence {bpm_conf:.0%})")
    if key is not None:
        lines.append(f"Key {key_name(*key)} · Camelot {key_name(*key, notation='camelot')} · "
                     f"Open Key {key_name(*key, notation='openkey')} (confidence {key_conf:.0%})")
    return "\n".join(lines) or "No steady beat or key heard"


def _file_stem(path: str) -> str:
    name = os.path.basename(path)
    return os.path.splitext(name)[0]
