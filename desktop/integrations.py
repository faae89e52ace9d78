"""Connects the main window to the panels built beside it: the map (:mod:`desktop.map`), the
preview player (:mod:`desktop.player`) and the "more like this" panel
(:mod:`desktop.similar_panel`). Each is optional: a panel whose module cannot be imported is
left out and the rest of the app works without it.

Data for the panels is loaded in workers (the map's layout, the similarity index), after the
library changed and when no scan is running; selection flows both ways between the table and
the map, guarded so that one change never echoes back.
"""
from __future__ import annotations

import importlib
import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

#: Seeds for "more like this" when many tracks are selected.
MAX_SIMILAR_SEEDS = 50
#: After the library first shows, the map is prepared in the background after this delay.
PRELOAD_MAP_DELAY_MS = 1500


def _try_import(module: str):
    try:
        return importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a missing or broken optional panel is left out
        return None


def load_map_job(task, db_path: str, model: str | None):
    """The map, computed in a child process: placing tracks, labelling regions and importing
    scikit-learn take seconds of Python work that would otherwise stall the window."""
    from desktop.child_process import call_in_child, load_library_map

    return call_in_child(load_library_map, db_path, model, cancelled=task.is_cancelled)


def load_similar_job(task, db_path: str, model: str | None):
    """A :class:`desktop.similar_panel.SimilarSource` (its library is set on the GUI side),
    built in a child process (50,000 tracks of Python work)."""
    from desktop.child_process import call_in_child, load_similar_source

    return call_in_child(load_similar_source, db_path, model, cancelled=task.is_cancelled)


class Integration:
    """Keeps the optional panels in step with the main window (selection, data, playing)."""

    def __init__(self, win) -> None:
        self.win = win
        self.map_panel = None
        self.player = None
        self.similar = None
        self._map_dirty = True
        self._map_task = None
        self._similar_task = None
        self._similar_key = None
        self._gui_library = None
        self._echo = False
        self._install_player()
        self._install_similar()
        self._install_map()
        win.selection_changed.connect(self._table_selection)
        self._force_next = False
        win.scan_finished.connect(self._scan_finished)
        self._preload_timer = QTimer(win, singleShot=True, interval=PRELOAD_MAP_DELAY_MS)
        self._preload_timer.timeout.connect(self._preload_map)

    # -- installation ---------------------------------------------------------------------------------
    def _install_map(self) -> None:
        mod = _try_import("desktop.map")
        if mod is None:
            return
        win = self.win
        panel = mod.MapPanel(theme="auto")
        win.map_layout.removeWidget(win.map_placeholder)
        win.map_placeholder.hide()
        # while the first map is computed, a page says so; later reloads keep the old map shown
        loading = QWidget()
        ll = QVBoxLayout(loading)
        ll.addStretch(1)
        title = QLabel("Drawing the map of your library…")
        title.setProperty("role", "heading")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.map_status = QLabel("Similar-sounding tracks are placed near each other. "
                                 "This takes a moment the first time.")
        self.map_status.setProperty("role", "hint")
        self.map_status.setWordWrap(True)
        self.map_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setMaximumWidth(280)
        self.map_bar = bar
        ll.addWidget(title)
        ll.addWidget(self.map_status)
        ll.addSpacing(8)
        ll.addWidget(bar, 0, Qt.AlignmentFlag.AlignHCenter)
        ll.addStretch(2)
        self.map_stack = QStackedWidget()
        self.map_stack.addWidget(panel)
        self.map_stack.addWidget(loading)
        win.map_layout.addWidget(self.map_stack)
        win.map_widget = panel
        self.map_panel = panel
        view = panel.view
        view.selection_changed.connect(self._map_selection)
        view.play_requested.connect(self.play)
        view.similar_requested.connect(self.show_similar)
        view.review_requested.connect(self.review)
        view.playlist_requested.connect(self.make_playlist)

    def _install_player(self) -> None:
        mod = _try_import("desktop.player")
        if mod is None:
            return
        win = self.win
        player = mod.PreviewPlayer()
        player.error_occurred.connect(self.message)
        frame = QWidget()
        frame.setObjectName("playerFrame")
        lay = QVBoxLayout(frame)
        lay.setContentsMargins(8, 4, 8, 6)
        lay.addWidget(player)
        self.player_frame = frame
        self.player = win.player = player
        win.side.addWidget(frame)
        win.side.setStretchFactor(win.side.count() - 1, 0)

    def _install_similar(self) -> None:
        mod = _try_import("desktop.similar_panel")
        if mod is None:
            return
        win = self.win
        panel = mod.SimilarPanel()
        panel.play_requested.connect(self.play)
        panel.select_on_map.connect(self._similar_to_map)
        panel.playlist_saved.connect(self._playlist_saved)
        panel.playlist_exported.connect(self._playlist_exported)
        panel.error_occurred.connect(self.message)
        self.similar = win.similar_panel = panel
        # the details and "more like this" share the side as two tabs
        details = win.details
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        win.side.insertWidget(0, tabs)
        tabs.addTab(details, "Track")
        holder = QWidget()
        hl = QVBoxLayout(holder)
        hl.setContentsMargins(6, 6, 6, 6)
        hl.addWidget(panel)
        tabs.addTab(holder, "More like this")
        self.side_tabs = tabs
        win.side.setStretchFactor(0, 1)

    def message(self, text: str) -> None:
        self.win.statusBar().showMessage(text, 10000)

    def _playlist_saved(self, _playlist_id: int) -> None:
        self.message("The playlist was saved in the library.")

    def _playlist_exported(self, path: str) -> None:
        self.message(f"Saved the playlist to {path}")

    def review(self, ids) -> None:
        self.win.open_review([int(i) for i in ids])

    # -- data ---------------------------------------------------------------------------------------------
    def _scan_finished(self, _summary) -> None:
        self._force_next = True      # the snapshot that follows the scan reloads the panels

    def snapshot_changed(self, snap) -> None:
        if self.win.scan_task is not None:
            return
        force, self._force_next = self._force_next, False
        self._data_changed(force=force)

    def _data_changed(self, *, force: bool) -> None:
        win = self.win
        if win.scan_task is not None:   # live refreshes during a scan: wait for its end
            return
        snap = win.library_model.snapshot
        key = (snap.model, int(snap.analysed.sum()) if snap.n else 0)
        if self.map_panel is not None and (force or key != getattr(self, "_map_key", None)):
            self._map_key = key
            self._map_dirty = True
            if win.tabs.currentIndex() == 1:
                self.load_map()
            elif self.map_panel.library_map() is None and key[1]:
                # draw the first map in the background, once the window has settled
                self._preload_timer.start()
        if self.similar is not None and (force or key != self._similar_key):
            self._similar_key = key
            self.load_similar()

    def gui_library(self):
        """A library connection for the GUI thread (the similar panel saves playlists with it)."""
        if self._gui_library is None:
            from engine.library import Library

            self._gui_library = Library(self.win.db_path)
        return self._gui_library

    def _preload_map(self) -> None:
        if self._map_dirty and self.win.scan_task is None:
            self.load_map()

    def load_map(self):
        win = self.win
        if self.map_panel is None or self._map_task is not None:
            return self._map_task
        snap = win.library_model.snapshot
        if not snap.n or not snap.analysed.any():
            self.map_panel.set_map(None)
            self._map_dirty = False
            return None
        self._map_dirty = False
        if self.map_panel.library_map() is None:
            self.map_stack.setCurrentIndex(1)
            self.map_bar.setRange(0, 0)

        def done(library_map) -> None:
            self.map_stack.setCurrentIndex(0)
            self.map_panel.set_map(library_map)
            self._push_selection_to_map()

        def failed(exc) -> None:
            self.map_status.setText(f"The map could not be drawn: {exc}")
            self.map_bar.hide()

        def finished() -> None:
            self._map_task = None
            if self._map_dirty and win.tabs.currentIndex() == 1:
                self.load_map()

        self._map_task = win.runner.run(load_map_job, win.db_path, snap.model, on_result=done,
                                        on_error=failed, on_finished=finished, name="map")
        return self._map_task

    def load_similar(self):
        win = self.win
        if self.similar is None:
            return None
        if self._similar_task is not None:
            self._similar_again = True
            return self._similar_task
        snap = win.library_model.snapshot
        if not snap.n or not snap.analysed.any():
            self.similar.set_source(None)
            return None

        def done(src) -> None:
            if src is not None:
                src.library = self.gui_library()
            self.similar.set_source(src)
            self._show_similar_for_selection()

        def finished() -> None:
            self._similar_task = None
            if getattr(self, "_similar_again", False):
                self._similar_again = False
                self.load_similar()

        self._similar_task = win.runner.run(load_similar_job, win.db_path, snap.model, on_result=done,
                                            on_finished=finished, name="similarity index")
        return self._similar_task

    def filter_changed(self) -> None:
        pass

    def tab_changed(self, index: int) -> None:
        if index == 1 and self.map_panel is not None:
            if self._map_dirty:
                self.load_map()
            else:
                self._push_selection_to_map(ensure_visible=True)

    # -- selection ---------------------------------------------------------------------------------------
    def _table_selection(self, ids: list) -> None:
        if self._echo:
            return
        self._push_selection_to_map()
        self._show_similar_for_selection()

    def _push_selection_to_map(self, ensure_visible: bool = False) -> None:
        if self.map_panel is None or self.map_panel.library_map() is None:
            return
        ids = self.win.selected_ids()
        self._echo = True
        try:
            self.map_panel.view.set_selection(ids)
            if ids and (ensure_visible or self.win.tabs.currentIndex() == 1):
                self.map_panel.view.ensure_visible(ids[:500])
        finally:
            self._echo = False

    def _map_selection(self, ids) -> None:
        if self._echo:
            return
        self._echo = True
        try:
            self.win.select_ids([int(i) for i in ids], scroll=True)
        finally:
            self._echo = False
        self._show_similar_for_selection()

    def _similar_to_map(self, ids) -> None:
        win = self.win
        win.select_ids([int(i) for i in ids])
        win.tabs.setCurrentIndex(1)

    def _show_similar_for_selection(self) -> None:
        if self.similar is None or self.similar.source() is None:
            return
        ids = self.win.selected_ids()
        if not ids:
            return
        if self.similar.mode() == "playlist" and set(self.similar.playlist()) >= set(ids):
            return   # picking a track of the playlist shown keeps the playlist
        self.similar.show_similar(ids[:MAX_SIMILAR_SEEDS])

    def show_similar(self, track_id: int) -> None:
        if self.similar is None:
            return
        self.win.select_ids([int(track_id)], scroll=True)
        self.similar.show_similar(int(track_id))
        self.side_tabs.setCurrentIndex(1)

    def make_playlist(self, track_ids: list[int]) -> list[int]:
        if self.similar is None or self.similar.source() is None:
            self.win.statusBar().showMessage("Playlists need analysed tracks.", 6000)
            return []
        self.similar.show_similar([int(i) for i in track_ids][:MAX_SIMILAR_SEEDS])
        self.side_tabs.setCurrentIndex(1)
        return self.similar.make_playlist()

    # -- playing --------------------------------------------------------------------------------------------
    def play(self, track_id: int) -> bool:
        if self.player is None:
            return False
        p = self.player
        if p.current_track_id() == track_id and p.state() in ("playing", "paused"):
            p.toggle_play()
            return True
        row = self.win.library_model.get_row(int(track_id))
        if row is None:
            return False
        title = row.title or os.path.splitext(os.path.basename(row.path))[0]
        return p.play_file(row.path, track_id=int(track_id), title=title, artist=row.artist)

    def close(self) -> None:
        self._preload_timer.stop()
        if self._map_task is not None:
            self._map_task.cancel()
        if self._gui_library is not None:
            self._gui_library.close()
            self._gui_library = None


def install(win) -> None:
    win._integration = Integration(win)
