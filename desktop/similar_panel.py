""""More like this": a track's nearest neighbours, and playlists grown from it.

``SimilarPanel(parent=None)``

Signals
    ``play_requested(int)``       play a track (double-click, "Play")
    ``select_on_map(list)``       track ids to select and show on the map ("Show on map")
    ``playlist_saved(int)``       a playlist was saved in the library (its id)
    ``playlist_exported(str)``    an M3U8 file was written (its path)
    ``error_occurred(str)``       a plain sentence (e.g. the M3U8 could not be written)

Methods / slots
    ``set_source(SimilarSource | None)``       the index and metadata to work with
    ``show_similar(track_id or [ids])``        list the nearest neighbours of the seed(s)
    ``make_playlist(length=None) -> list[int]`` a smooth playlist from the seed(s)
    ``playlist_from_selection(ids) -> list[int]`` the map's "Make playlist from selection":
                                               a few tracks seed a playlist; many are put
                                               in a smooth order themselves
    ``save_playlist(name=None) -> int | None`` save it in the library (asks for a name if None)
    ``export_m3u8(path=None) -> Path | None``  write it as M3U8 (asks for a file if None)
    ``neighbours()``, ``playlist()``, ``seeds()``, ``mode()`` ("similar" | "playlist")
    ``set_mixing_filters(same_tempo=, harmonic=)`` the "Tempo ±N%" and "Key mixes" boxes

:class:`SimilarSource` bundles a :class:`engine.similarity.SimilarityIndex` with each track's
title, artist, path and duration, and optionally the open library (for saving playlists).
Build it with :meth:`SimilarSource.from_library` in a worker thread, or
:meth:`SimilarSource.from_arrays` for tests.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QPushButton, QSpinBox, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from engine.similarity import (Neighbour, PlaylistEntry, SimilarityIndex, left_out_lines,
                               smooth_playlist, write_m3u8)

DEFAULT_NEIGHBOURS = 30
#: The tempo tolerance of the "Tempo ±N%" filter (DJs pitch a record by about 6-8%).
TEMPO_PERCENT = 6.0
DEFAULT_PLAYLIST_LENGTH = 25


@dataclass(frozen=True)
class SimilarTrack:
    """What the panel shows of a track."""

    id: int
    path: str | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None

    def display_title(self) -> str:
        if self.title:
            return self.title
        if self.path:
            return Path(self.path).stem
        return f"Track {self.id}"

    def entry(self) -> PlaylistEntry:
        return PlaylistEntry(self.path or "", self.duration_s, self.artist, self.title or
                             (Path(self.path).stem if self.path else None))


class SimilarSource:
    """A similarity index plus the tracks' metadata (and the library, to save playlists)."""

    def __init__(self, index: SimilarityIndex, tracks: Mapping[int, SimilarTrack], *,
                 library=None, model: str | None = None, kind: str | None = None,
                 rhythm: Mapping[int, tuple] | None = None) -> None:
        self.index = index
        self.tracks = dict(tracks)
        #: track id -> (bpm, bpm confidence, key tonic, key mode, key confidence), as
        #: :meth:`engine.library.Library.rhythm_summary` gives it
        self.rhythm = dict(rhythm or {})
        self.library = library
        self.model = model
        self.kind = kind

    @classmethod
    def from_arrays(cls, ids: Sequence[int], vectors: np.ndarray, *, titles=None, artists=None,
                    albums=None, paths=None, durations=None, library=None,
                    model: str | None = None, kind: str | None = None) -> "SimilarSource":
        """A source built directly from arrays (for tests and benchmarks).

        Parameters
        ----------
        ids : sequence of int
            [n] the track ids.
        vectors : np.ndarray
            [n, d] their similarity vectors (L2-normalised by the index).
        titles, artists, albums, paths, durations : sequence, optional
            [n] per track: title, artist, album, file path and duration in seconds (None entries for
            unknown); None: all unknown. The artists and albums feed the index's exclude-same
            filters.
        library : Library, optional
            The open library, for saving playlists.
        model : str, optional
            The model the vectors come from (stored with saved playlists).
        kind : str, optional
            The embedding kind of the vectors (stored with saved playlists).

        Returns
        -------
        SimilarSource
            The index over ``vectors`` and each track's metadata.
        """
        ids = [int(i) for i in ids]
        n = len(ids)

        def col(values):
            return list(values) if values is not None else [None] * n

        titles, artists, albums, paths, durations = map(col, (titles, artists, albums, paths,
                                                              durations))
        index = SimilarityIndex(ids, vectors, artists=artists, albums=albums)
        tracks = {i: SimilarTrack(i, p, t, a, al, d)
                  for i, p, t, a, al, d in zip(ids, paths, titles, artists, albums, durations)}
        return cls(index, tracks, library=library, model=model, kind=kind)

    @classmethod
    def from_library(cls, lib, model: str | None = None, kind: str | None = None
                     ) -> "SimilarSource":
        """From an open :class:`engine.library.Library` (reads every vector: run it in a
        worker thread with a library opened there; saving later needs a library opened in the
        GUI thread: set ``source.library`` there)."""
        from engine.similarity.embeddings import DEFAULT_KIND
        from engine.similarity.store import load_index

        index, lv, meta = load_index(lib, model, kind or DEFAULT_KIND)
        tracks = {int(i): SimilarTrack(int(i), m.path, m.title, m.artist, m.album, m.duration_s)
                  for i, m in meta.items()}
        return cls(index, tracks, library=lib, model=lv.model, kind=lv.kind,
                   rhythm=lib.rhythm_summary())

    def compatible(self, seed: int, *, tempo_percent: float | None, harmonic: bool) -> np.ndarray | None:
        """Boolean mask over the index rows: tempo within ``tempo_percent`` % of the seed's (or
        its double/half) and/or a key that mixes with the seed's; None when the seed has no
        such analysis (the filter cannot apply) or no filter is asked for."""
        from engine.similarity.compat import key_mask, tempo_mask

        mine = self.rhythm.get(int(seed))
        if mine is None or (tempo_percent is None and not harmonic):
            return None
        rows = [self.rhythm.get(int(i)) for i in self.index.ids]
        ok = np.ones(len(rows), dtype=bool)
        if tempo_percent is not None and mine[0] is not None:
            ok &= tempo_mask(mine[0], np.array([np.nan if r is None or r[0] is None else r[0]
                                                for r in rows]), tempo_percent)
        if harmonic and mine[2] is not None:
            ok &= key_mask((int(mine[2]), str(mine[3])),
                           [None if r is None or r[2] is None else (int(r[2]), str(r[3])) for r in rows])
        return ok

    def track(self, track_id: int) -> SimilarTrack:
        return self.tracks.get(int(track_id)) or SimilarTrack(int(track_id))

    def __contains__(self, track_id) -> bool:
        return track_id in self.index


class SimilarPanel(QWidget):
    """Nearest neighbours and playlists of the selected track. See the module docstring."""

    play_requested = Signal(int)
    select_on_map = Signal(list)
    playlist_saved = Signal(int)
    playlist_exported = Signal(str)
    error_occurred = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: SimilarSource | None = None
        self._seeds: list[int] = []
        self._neighbours: list[Neighbour] = []
        self._playlist: list[int] = []
        self._mode = "similar"
        self._k = DEFAULT_NEIGHBOURS

        self._header = QLabel(self)
        self._header.setWordWrap(True)
        self._header.setTextFormat(Qt.TextFormat.RichText)
        self._exclude_artist = QCheckBox("Other artists only", self)
        self._exclude_artist.setToolTip("Leave out tracks by the same artist as the seed")
        self._exclude_artist.toggled.connect(self._refresh)
        self._same_tempo = QCheckBox(f"Tempo ±{TEMPO_PERCENT:g}%", self)
        self._same_tempo.setToolTip(f"Only tracks within {TEMPO_PERCENT:g}% of the seed's tempo "
                                    "(or of its double or half)")
        self._same_tempo.toggled.connect(self._refresh)
        self._harmonic = QCheckBox("Key mixes", self)
        self._harmonic.setToolTip("Only tracks in a key that mixes with the seed's: the same key, "
                                  "its relative major/minor, or a fifth up or down (Camelot ±1)")
        self._harmonic.toggled.connect(self._refresh)

        self._list = QTreeWidget(self)
        self._list.setRootIsDecorated(False)
        self._list.setAlternatingRowColors(True)
        self._list.setUniformRowHeights(True)
        self._list.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self._list.setHeaderLabels(["#", "Title", "Artist", "Similarity"])
        header = self._list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self._list.itemDoubleClicked.connect(self._item_activated)
        self._list.itemSelectionChanged.connect(self._update_buttons)

        self._play_button = QPushButton("Play", self)
        self._play_button.setToolTip("Play the chosen track (or double-click it)")
        self._play_button.clicked.connect(self._play_selected)
        self._map_button = QPushButton("Show on map", self)
        self._map_button.setToolTip("Select these tracks on the map")
        self._map_button.clicked.connect(self._show_on_map)
        self._length = QSpinBox(self)
        self._length.setRange(2, 500)
        self._length.setValue(DEFAULT_PLAYLIST_LENGTH)
        self._length.setSuffix(" tracks")
        self._length.setToolTip("Length of the playlist")
        self._make_button = QPushButton("Make playlist from this", self)
        self._make_button.setToolTip("A playlist that starts here and moves smoothly from track "
                                     "to track")
        self._make_button.clicked.connect(lambda: self.make_playlist())
        self._save_button = QPushButton("Save in library…", self)
        self._save_button.clicked.connect(lambda: self.save_playlist())
        self._export_button = QPushButton("Export M3U8…", self)
        self._export_button.clicked.connect(lambda: self.export_m3u8())
        self._back_button = QPushButton("Back to similar tracks", self)
        self._back_button.clicked.connect(self._back)

        top = QHBoxLayout()
        top.addWidget(self._header, 1)
        top.addWidget(self._same_tempo)
        top.addWidget(self._harmonic)
        top.addWidget(self._exclude_artist)
        row1 = QHBoxLayout()
        row1.addWidget(self._play_button)
        row1.addWidget(self._map_button)
        row1.addStretch(1)
        row1.addWidget(self._length)
        row1.addWidget(self._make_button)
        row2 = QHBoxLayout()
        row2.addWidget(self._back_button)
        row2.addStretch(1)
        row2.addWidget(self._save_button)
        row2.addWidget(self._export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self._list, 1)
        layout.addLayout(row1)
        layout.addLayout(row2)
        self._show_message("Select a track to see the tracks most like it.")
        self._update_buttons()

    # ------------------------------------------------------------------ API
    def set_source(self, source: SimilarSource | None) -> None:
        """Use this index and metadata (None: nothing to show). Clears the list."""
        self._source = source
        self._seeds, self._neighbours, self._playlist = [], [], []
        self._mode = "similar"
        self._list.clear()
        if source is None:
            self._show_message("The library has no analysed tracks yet.")
        else:
            self._show_message("Select a track to see the tracks most like it.")
        self._update_buttons()

    def source(self) -> SimilarSource | None:
        return self._source

    def show_similar(self, seeds: int | Iterable[int], k: int = DEFAULT_NEIGHBOURS
                     ) -> list[Neighbour]:
        """List the ``k`` tracks most like the seed track(s), best first."""
        seeds = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
        self._k = int(k)
        src = self._source
        if src is None:
            return []
        seeds = [s for s in seeds if s in src]
        self._seeds = seeds
        self._mode = "similar"
        self._playlist = []
        if not seeds:
            self._neighbours = []
            self._list.clear()
            self._show_message("This track has not been analysed yet, so nothing can be "
                               "compared with it.")
            self._update_buttons()
            return []
        return self._refresh()

    def neighbours(self) -> list[Neighbour]:
        return list(self._neighbours)

    def seeds(self) -> list[int]:
        return list(self._seeds)

    def playlist(self) -> list[int]:
        return list(self._playlist)

    def mode(self) -> str:
        return self._mode

    def set_mixing_filters(self, *, same_tempo: bool, harmonic: bool) -> None:
        """Tick or clear "Tempo ±N%" and "Key mixes" (the list follows, as when a user clicks)."""
        self._same_tempo.setChecked(same_tempo)
        self._harmonic.setChecked(harmonic)

    def make_playlist(self, length: int | None = None) -> list[int]:
        """A playlist of ``length`` tracks (default: the spin box) that starts with the seed(s)
        and moves smoothly; shown in the list."""
        src = self._source
        if src is None or not self._seeds:
            return []
        if length is not None:
            self._length.setValue(int(length))
        length = self._length.value()
        limit = 1 if self._exclude_artist.isChecked() else None
        only = src.compatible(self._seeds[0], harmonic=self._harmonic.isChecked(),
                              tempo_percent=TEMPO_PERCENT if self._same_tempo.isChecked() else None)
        incompatible = [] if only is None else \
            [i for i, ok in zip(src.index.ids, only.tolist()) if not ok and i not in self._seeds]
        try:
            ids = smooth_playlist(src.index, self._seeds, length=length, exclude=incompatible,
                                  max_per_artist=limit if src.index.artist_codes() is not None else None)
        except ValueError as exc:
            self.error_occurred.emit(f"Cannot make the playlist: {exc}")
            return []
        self._playlist = [int(i) for i in ids]
        self._mode = "playlist"
        self._fill_playlist()
        return list(self._playlist)

    def playlist_from_selection(self, ids: Iterable[int], *, max_seeds: int = 3) -> list[int]:
        """A playlist for a selection of tracks. Up to ``max_seeds`` tracks seed a smooth
        playlist of the spin box's length (as "Make playlist from this"); a bigger selection
        becomes the playlist itself, ordered so that each track leads smoothly to the next
        (starting from the track most typical of the selection)."""
        src = self._source
        if src is None:
            return []
        ids = [int(i) for i in dict.fromkeys(int(i) for i in ids) if int(i) in src]
        if not ids:
            self.error_occurred.emit("None of the selected tracks has been analysed yet.")
            return []
        if len(ids) <= max_seeds:
            self.show_similar(ids)
            return self.make_playlist()
        positions = src.index.positions(ids)
        sub = SimilarityIndex(ids, src.index.vectors[positions])
        start = sub.query_vector(sub.centroid(np.arange(len(ids))), 1)[0].id
        ordered = smooth_playlist(sub, [start], length=len(ids), pull=0.2)
        self._seeds = [int(start)]
        self._neighbours = []
        self._playlist = [int(i) for i in ordered]
        self._mode = "playlist"
        self._fill_playlist()
        self._header.setText(f"Playlist of the {len(ids):,} selected tracks, in a smooth order")
        return list(self._playlist)

    def save_playlist(self, name: str | None = None) -> int | None:
        """Save the playlist shown in the library; asks for a name when ``name`` is None."""
        src = self._source
        if src is None or not self._playlist:
            return None
        if src.library is None:
            self.error_occurred.emit("Cannot save the playlist: no library is open.")
            return None
        if name is None:
            name, ok = QInputDialog.getText(self, "Save playlist", "Name of the playlist:",
                                            text=self._default_name())
            if not ok:
                return None
        name = name.strip() or self._default_name()
        try:
            pid = src.library.create_playlist(
                name, self._playlist, model=src.model,
                params={"kind": "smooth", "seeds": self._seeds, "length": len(self._playlist),
                        "embedding": src.kind})
        except Exception as exc:  # noqa: BLE001 - a database error becomes a message
            self.error_occurred.emit(f"Cannot save the playlist: {exc}")
            return None
        self.playlist_saved.emit(int(pid))
        return int(pid)

    def export_m3u8(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write the playlist shown (or, in "similar" mode, the seed and its neighbours) as
        an M3U8 file; asks where when ``path`` is None."""
        src = self._source
        ids = self._playlist if self._mode == "playlist" else \
            self._seeds + [int(n.id) for n in self._neighbours]
        if src is None or not ids:
            return None
        if path is None:
            start = str(Path.home() / f"{self._default_name()}.m3u8")
            path, _ = QFileDialog.getSaveFileName(self, "Export playlist", start,
                                                  "Playlists (*.m3u8 *.m3u)")
            if not path:
                return None
        entries = [src.track(i).entry() for i in ids if src.track(i).path]
        try:
            result = write_m3u8(path, entries)
        except OSError as exc:
            self.error_occurred.emit(f"Cannot write {os.fsdecode(path)}: {exc.strerror or exc}")
            return None
        out = result.path
        self.playlist_exported.emit(str(out))
        if result.left_out:   # after "exported", so the status bar keeps this sentence
            names = "; ".join(line.removeprefix("left out: ")
                              for line in left_out_lines(result.left_out, limit=3))
            self.error_occurred.emit(
                f"Saved {result.written} tracks to {out.name}; left out {len(result.left_out)} "
                f"whose file name contains a line break (M3U8 cannot list it): {names}")
        return out

    # ------------------------------------------------------------------ internals
    def _default_name(self) -> str:
        if not self._seeds or self._source is None:
            return "Playlist"
        t = self._source.track(self._seeds[0])
        base = t.display_title()
        return f"Like {base}" if len(self._seeds) == 1 else f"Like {base} and {len(self._seeds) - 1} more"

    def _refresh(self) -> list[Neighbour]:
        src = self._source
        if src is None or not self._seeds:
            return []
        if self._mode == "playlist":
            return self.neighbours()
        exclude_artist = self._exclude_artist.isChecked() and src.index.artist_codes() is not None
        only = src.compatible(self._seeds[0], harmonic=self._harmonic.isChecked(),
                              tempo_percent=TEMPO_PERCENT if self._same_tempo.isChecked() else None)
        self._neighbours = src.index.query(self._seeds, k=self._k,
                                           exclude_same_artist=exclude_artist, only=only)
        self._fill_neighbours()
        return list(self._neighbours)

    def _seed_text(self) -> str:
        import html

        t = self._source.track(self._seeds[0])
        text = f"<b>{html.escape(t.display_title())}</b>"
        if t.artist:
            text += f" — {html.escape(t.artist)}"
        if len(self._seeds) > 1:
            text += f" and {len(self._seeds) - 1} more"
        return text

    def _fill_neighbours(self) -> None:
        self._header.setText(f"More like {self._seed_text()}")
        self._list.setHeaderLabels(["#", "Title", "Artist", "Similarity"])
        self._list.clear()
        items = []
        for rank, n in enumerate(self._neighbours, 1):
            t = self._source.track(int(n.id))
            item = QTreeWidgetItem([str(rank), t.display_title(), t.artist or "",
                                    f"{100 * n.score:.0f}%"])
            item.setData(0, Qt.ItemDataRole.UserRole, int(n.id))
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
            if t.path:
                item.setToolTip(1, t.path)
            items.append(item)
        self._list.addTopLevelItems(items)
        self._update_buttons()

    def _fill_playlist(self) -> None:
        src = self._source
        self._header.setText(f"Playlist from {self._seed_text()}: {len(self._playlist)} tracks")
        self._list.setHeaderLabels(["#", "Title", "Artist", "Step"])
        self._list.clear()
        vecs = src.index.vectors[src.index.positions(self._playlist)]
        steps = [None] + [float(v) for v in np.sum(vecs[1:] * vecs[:-1], axis=1)]
        items = []
        for pos, (tid, step) in enumerate(zip(self._playlist, steps), 1):
            t = src.track(tid)
            item = QTreeWidgetItem([str(pos), t.display_title(), t.artist or "",
                                    "seed" if tid in self._seeds else
                                    ("" if step is None else f"{100 * step:.0f}%")])
            item.setData(0, Qt.ItemDataRole.UserRole, int(tid))
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
            item.setToolTip(3, "Similarity to the track before")
            if t.path:
                item.setToolTip(1, t.path)
            items.append(item)
        self._list.addTopLevelItems(items)
        self._update_buttons()

    def _show_message(self, text: str) -> None:
        self._header.setText(text)

    def _back(self) -> None:
        self._mode = "similar"
        self._playlist = []
        if self._seeds:
            self._refresh()
        self._update_buttons()

    def _selected_ids(self) -> list[int]:
        return [int(i.data(0, Qt.ItemDataRole.UserRole)) for i in self._list.selectedItems()]

    def _shown_ids(self) -> list[int]:
        return [int(self._list.topLevelItem(r).data(0, Qt.ItemDataRole.UserRole))
                for r in range(self._list.topLevelItemCount())]

    def _item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        self.play_requested.emit(int(item.data(0, Qt.ItemDataRole.UserRole)))

    def _play_selected(self) -> None:
        ids = self._selected_ids() or self._shown_ids()[:1]
        if ids:
            self.play_requested.emit(ids[0])

    def _show_on_map(self) -> None:
        ids = self._selected_ids()
        if not ids:
            ids = (self._seeds + self._shown_ids()) if self._mode == "similar" else self._shown_ids()
        seen: dict[int, None] = dict.fromkeys(ids)
        self.select_on_map.emit(list(seen))

    def _update_buttons(self) -> None:
        has_rows = self._list.topLevelItemCount() > 0
        playlist = self._mode == "playlist"
        self._play_button.setEnabled(has_rows)
        self._map_button.setEnabled(has_rows)
        self._make_button.setEnabled(bool(self._seeds))
        self._length.setEnabled(bool(self._seeds))
        self._save_button.setVisible(playlist)
        self._back_button.setVisible(playlist)
        self._save_button.setEnabled(playlist and self._source is not None
                                     and self._source.library is not None)
        self._export_button.setEnabled(has_rows)
