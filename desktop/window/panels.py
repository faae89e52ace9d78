"""Keeps the main window's panels in step: the map (:mod:`desktop.map`), the preview player
(:mod:`desktop.player`) and "more like this" (:mod:`desktop.similar_panel`), all built by
:mod:`desktop.window.layout`.

Data for the panels is loaded in workers (the map's layout, the similarity index), after the
library changed and when no scan is running; selection flows both ways between the table and
the map, guarded so that one change never echoes back.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QTimer

from desktop.background import call_in_child, load_library_map, load_similar_source

from .layout import TAB_MAP

#: Seeds for "more like this" when many tracks are selected.
MAX_SIMILAR_SEEDS = 50
#: After the library first shows, the map is prepared in the background after this delay.
PRELOAD_MAP_DELAY_MS = 1500


def load_map_job(task, db_path: str, model: str | None):
    """The map, computed in a child process: placing tracks, labelling regions and importing
    scikit-learn take seconds of Python work that would otherwise stall the window."""
    return call_in_child(load_library_map, db_path, model, cancelled=task.is_cancelled)


def load_similar_job(task, db_path: str, model: str | None):
    """A :class:`desktop.similar_panel.SimilarSource` (its library is set on the GUI side),
    built in a child process (50,000 tracks of Python work)."""
    return call_in_child(load_similar_source, db_path, model, cancelled=task.is_cancelled)


class PanelSync:
    """Connects the window's map, player and similar panel to the window and to each other.

    ``map_task`` / ``similar_task`` are the running loads (None when idle).
    """

    def __init__(self, win) -> None:
        self.win = win
        self.map_panel = win.map_panel
        self.player = win.player
        self.similar = win.similar_panel
        self.map_task = None
        self.similar_task = None
        self._map_dirty = True
        self._map_key = None
        self._similar_key = None
        self._similar_again = False
        self._gui_library = None
        self._echo = False
        self._force_next = False

        self.player.error_occurred.connect(self.message)
        view = self.map_panel.view
        view.selection_changed.connect(self._map_selection)
        view.play_requested.connect(self.play)
        view.similar_requested.connect(self.show_similar)
        view.review_requested.connect(self.review)
        view.playlist_requested.connect(self.make_playlist)
        sim = self.similar
        sim.play_requested.connect(self.play)
        sim.select_on_map.connect(self._similar_to_map)
        sim.playlist_saved.connect(self._playlist_saved)
        sim.playlist_exported.connect(self._playlist_exported)
        sim.error_occurred.connect(self.message)
        win.selection_changed.connect(self._table_selection)
        win.scan_finished.connect(self._scan_finished)
        self._preload_timer = QTimer(win, singleShot=True, interval=PRELOAD_MAP_DELAY_MS)
        self._preload_timer.timeout.connect(self._preload_map)

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
        if force or key != self._map_key:
            self._map_key = key
            self._map_dirty = True
            if win.tabs.currentIndex() == TAB_MAP:
                self.load_map()
            elif self.map_panel.library_map() is None and key[1]:
                # draw the first map in the background, once the window has settled
                self._preload_timer.start()
        if force or key != self._similar_key:
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

    def map_ready(self) -> bool:
        """A map is shown and no newer one is being computed."""
        return self.map_panel.library_map() is not None and self.map_task is None

    def load_map(self):
        win = self.win
        if self.map_task is not None:
            return self.map_task
        snap = win.library_model.snapshot
        if not snap.n or not snap.analysed.any():
            self.map_panel.set_map(None)
            self._map_dirty = False
            return None
        self._map_dirty = False
        if self.map_panel.library_map() is None:
            win.map_stack.setCurrentIndex(1)
            win.map_bar.setRange(0, 0)

        def done(library_map) -> None:
            win.map_stack.setCurrentIndex(0)
            self.map_panel.set_map(library_map)
            self._push_selection_to_map()

        def failed(exc) -> None:
            win.map_status.setText(f"The map could not be drawn: {exc}")
            win.map_bar.hide()

        def finished() -> None:
            self.map_task = None
            if self._map_dirty and win.tabs.currentIndex() == TAB_MAP:
                self.load_map()

        self.map_task = win.runner.run(load_map_job, win.db_path, snap.model, on_result=done,
                                       on_error=failed, on_finished=finished, name="map")
        return self.map_task

    def load_similar(self):
        win = self.win
        if self.similar_task is not None:
            self._similar_again = True
            return self.similar_task
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
            self.similar_task = None
            if self._similar_again:
                self._similar_again = False
                self.load_similar()

        def failed(exc) -> None:
            self.message(f"“More like this” could not be prepared: {exc}")

        self.similar_task = win.runner.run(load_similar_job, win.db_path, snap.model, on_result=done,
                                           on_error=failed, on_finished=finished,
                                           name="similarity index")
        return self.similar_task

    def tab_changed(self, index: int) -> None:
        if index == TAB_MAP:
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
        if self.map_panel.library_map() is None:
            return
        ids = self.win.selected_ids()
        self._echo = True
        try:
            self.map_panel.view.set_selection(ids)
            if ids and (ensure_visible or self.win.tabs.currentIndex() == TAB_MAP):
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
        win.tabs.setCurrentIndex(TAB_MAP)

    def _show_similar_for_selection(self) -> None:
        if self.similar.source() is None:
            return
        ids = self.win.selected_ids()
        if not ids:
            return
        if self.similar.mode() == "playlist" and set(self.similar.playlist()) >= set(ids):
            return   # picking a track of the playlist shown keeps the playlist
        self.similar.show_similar(ids[:MAX_SIMILAR_SEEDS])

    def show_similar(self, track_id: int) -> None:
        self.win.select_ids([int(track_id)], scroll=True)
        self.similar.show_similar(int(track_id))
        self.win.side_tabs.setCurrentIndex(1)

    def make_playlist(self, track_ids: list[int]) -> list[int]:
        if self.similar.source() is None:
            self.win.statusBar().showMessage("Playlists need analysed tracks.", 6000)
            return []
        self.similar.show_similar([int(i) for i in track_ids][:MAX_SIMILAR_SEEDS])
        self.win.side_tabs.setCurrentIndex(1)
        return self.similar.make_playlist()

    # -- playing --------------------------------------------------------------------------------------------
    def play(self, track_id: int) -> bool:
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
        self.player.stop()
        if self.map_task is not None:
            self.map_task.cancel()
        if self._gui_library is not None:
            self._gui_library.close()
            self._gui_library = None
