"""The main window: the library table with search and filters, the details pane, the map, the
problems panel, and the background work (scan, analysis, writing) with its progress strip.

Its parts: the actions (:mod:`desktop.window.actions`), the widgets (:mod:`desktop.window.layout`),
the library table (:mod:`desktop.window.library_view`), scanning (:mod:`desktop.window.scanning`)
and the panels kept in step (:mod:`desktop.window.panels`). This class builds them and holds
the commands that open dialogs: review and write, undo, export, settings, shortcuts.

Everything slow runs in :mod:`desktop.background` tasks; the GUI thread only swaps finished
results in.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QMainWindow,
                               QMessageBox, QVBoxLayout, QWidget)

from desktop import theme
from desktop.background import (Runner, SharedLibrary, Task, device_job, export_m3u8_job,
                                import_analyses_job, last_write_job, load_library_job, undo_job)
from desktop.library_model import LibraryModel
from desktop.review_dialog import ReviewDialog, ReviewTrack
from desktop.settings import Settings, default_music_folder
from desktop.settings_dialog import SettingsDialog

from . import actions
from .layout import PAGE_LIBRARY, PAGE_WELCOME, TAB_LIBRARY, TAB_MAP, TAB_PROBLEMS, build_layout
from .library_view import LibraryViewMixin, PaintWatcher
from .panels import PanelSync
from .scanning import LIVE_REFRESH_MS, RateMeter, ScanMixin


class MainWindow(LibraryViewMixin, ScanMixin, QMainWindow):
    #: the window was painted for the first time (it takes input from then on)
    window_painted = Signal()
    #: the library's rows were shown and painted for the first time
    first_paint = Signal()
    #: a new snapshot is in the table
    snapshot_loaded = Signal()
    #: a scan ended (the ScanSummary, or the exception)
    scan_finished = Signal(object)
    #: the selected track ids changed (table or map)
    selection_changed = Signal(list)

    def __init__(self, settings: Settings | None = None, *, db_path: str | os.PathLike | None = None,
                 load_sync: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or Settings()
        self.db_path = os.fspath(db_path or self.settings.db_path)
        self.shared = SharedLibrary(self.db_path)
        self.runner = Runner(self)
        self.scan_task: Task | None = None
        self.undo_task: Task | None = None
        self.import_task: Task | None = None
        self.can_undo = False
        self.meter = RateMeter()
        self.review: ReviewDialog | None = None
        self._load_task: Task | None = None
        self._load_again = False
        self._device_text = ""
        self._selected_ids: list[int] = []
        self._syncing = False
        self._painted = False
        self._snapshot_seen = False

        self.setWindowTitle("Tag Atlas")
        self.setWindowIcon(theme.app_icon())
        self.library_model = LibraryModel(self)
        self.library_model.key_notation = self.settings.key_notation
        actions.create_actions(self)
        build_layout(self)
        self._fill_filters()
        self._paint_watch = PaintWatcher(self._table_painted)
        self.table.viewport().installEventFilter(self._paint_watch)
        self._window_watch = PaintWatcher(self._window_first_painted)
        self.central.installEventFilter(self._window_watch)
        self.pages.currentChanged.connect(self._page_changed)
        self.update_engine_label()
        self.panels = PanelSync(self)
        self.pages.setCurrentIndex(PAGE_LIBRARY if self.settings.folders else PAGE_WELCOME)
        self._page_changed(self.pages.currentIndex())
        self._restore_window()

        self._select_timer = QTimer(self, singleShot=True, interval=40)
        self._select_timer.timeout.connect(self._selection_settled)
        self._live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self._live_refresh)
        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(self.apply_filter)

        try:
            self.shared.open()   # before any scan can hold the database (see SharedLibrary)
        except Exception as exc:  # noqa: BLE001 - shown in the window, the app stays usable
            self.load_failed(exc)
        if load_sync:
            self.set_snapshot(load_library_job(None, self.shared, self.settings.model))
        else:
            self.reload()
        self.reload_errors()
        self._refresh_undo()
        # naming the device imports torch (seconds of CPU): after the window is up, unless the
        # welcome page needs it now
        delay = 0 if self.pages.currentIndex() == PAGE_WELCOME else 1500
        self._device_timer = QTimer(self, singleShot=True, interval=delay)
        self._device_timer.timeout.connect(self._ask_device)
        self._device_timer.start()
        self.update_actions()

    # small slots (bound methods rather than lambdas: Qt drops the connection with the object)
    def update_actions(self) -> None:
        actions.update_actions(self)

    def show_problems(self) -> None:
        self.tabs.setCurrentIndex(TAB_PROBLEMS)

    def show_library(self) -> None:
        self.tabs.setCurrentIndex(TAB_LIBRARY)

    def table_double_clicked(self, _index) -> None:
        self.open_review()

    def _review_closed(self, _result: int) -> None:
        self.review = None

    def _page_changed(self, index: int) -> None:
        """The welcome page stands alone: no library toolbar or counts around it."""
        library = index == PAGE_LIBRARY
        self.toolbar.setVisible(library)
        self.stats_label.setVisible(library)

    def _ask_device(self) -> None:
        self.runner.run(device_job, self.settings.engine_device, on_result=self._device_known,
                        name="device")

    def _device_known(self, text: str) -> None:
        self._device_text = text
        self.first_run.set_device(text)
        self.update_engine_label()

    def update_engine_label(self) -> None:
        """The status bar's "model · device · quick analysis"."""
        snap = self.library_model.snapshot
        shown = snap.predicted_by or snap.model or self.settings.model
        quick = "  ·  quick analysis" if self.settings.quick_analysis else "  ·  full analysis"
        self.engine_label.setText(f"{shown}  ·  {self._device_text or '…'}{quick}")
        self.first_run.set_model(self.settings.model)

    # -- window state ----------------------------------------------------------------------------------
    def _restore_window(self) -> None:
        geo = self.settings.window_value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1600, 960)
        split = self.settings.window_value("split")
        if split is not None:
            self.split.restoreState(split)
        # "header2": the table gained BPM and Key columns; a state saved for the old columns is
        # not restored onto the new ones
        header = self.settings.window_value("header2")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.set_window_value("geometry", self.saveGeometry())
        self.settings.set_window_value("split", self.split.saveState())
        self.settings.set_window_value("header2", self.table.horizontalHeader().saveState())
        self.settings.sync()
        self._live_timer.stop()
        self.panels.close()
        self.runner.shutdown(10.0)
        self.shared.close()
        super().closeEvent(event)

    # -- review, write, undo --------------------------------------------------------------------------------------
    def open_review(self, ids: list[int] | None = None) -> ReviewDialog | None:
        ids = list(ids) if isinstance(ids, (list, tuple)) and ids else list(self._selected_ids)
        model = self.library_model
        snap = model.snapshot
        tracks = []
        for tid in ids:
            row, scores = model.get_row(tid), model.scores_of(tid)
            if row is not None and scores is not None:
                tracks.append(ReviewTrack(row, scores.copy(), model.rhythm_of(tid)))
        if not tracks or snap.model is None:
            self.statusBar().showMessage("Select analysed tracks to review their tags.", 6000)
            return None
        dlg = ReviewDialog(db_path=self.db_path, settings=self.settings, runner=self.runner,
                           model=snap.predicted_by or snap.model, tags=snap.tags,
                           thresholds=snap.thresholds,
                           tracks=tracks, can_undo=self.act_undo.isEnabled(), parent=self)
        dlg.written.connect(self._written)
        dlg.undone.connect(self._undone)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(self._review_closed)
        self.review = dlg
        dlg.open()
        return dlg

    def _written(self, res) -> None:
        if res.written:
            self.statusBar().showMessage(
                f"Wrote tags to {len(res.written):,} files. Undo with Ctrl+Z.", 15000)
        self.reload()
        self.reload_errors()
        self._refresh_undo()

    def _undone(self, out) -> None:
        self.statusBar().showMessage(f"Restored the previous tags of {len(out.restored):,} files.", 15000)
        self.reload()
        self.reload_errors()
        self._refresh_undo()

    def _refresh_undo(self) -> None:
        def known(batch) -> None:
            self.can_undo = batch is not None
            self.act_undo.setEnabled(batch is not None and self.undo_task is None and self.scan_task is None)
            if batch is not None:
                self.act_undo.setToolTip(f"Put back the tags replaced in {batch.n_entries - batch.n_undone:,} "
                                         f"files by the last write (Ctrl+Z)")

        self.runner.run(last_write_job, self.shared, on_result=known, name="last write")

    def undo_last_write(self) -> Task | None:
        if self.undo_task is not None:
            return None
        if self.review is not None:
            return self.review.undo_last()
        self.act_undo.setEnabled(False)
        self.statusBar().showMessage("Restoring the previous tags…")

        def done(out) -> None:
            self.undo_task = None
            self._undone(out)
            if out.failures:
                QMessageBox.warning(self, "Some tags could not be restored",
                                    "\n".join(str(f) for f in out.failures[:10]))

        def failed(exc) -> None:
            self.undo_task = None
            self.statusBar().showMessage(f"Nothing was undone: {exc}", 10000)
            self._refresh_undo()

        self.undo_task = self.runner.run(undo_job, self.db_path, self.settings.preserve_mtime,
                                         on_result=done, on_error=failed, writes=True, name="undo")
        return self.undo_task

    # -- analyses made elsewhere ------------------------------------------------------------------------------
    def import_analyses(self, source: str | None = None) -> Task | None:
        """Bring the results of ``tagatlas batch`` (a folder of Parquet parts, or one Parquet
        file) into the library without analysing again; the table reloads when it is done."""
        if self.import_task is not None or self.scan_task is not None:
            return None
        if source is None:
            source = QFileDialog.getExistingDirectory(
                self, "Import analyses: the output folder of 'tagatlas batch'", default_music_folder())
        if not source:
            return None
        self.statusBar().showMessage("Importing analyses…")

        def done(summary) -> None:
            self.import_task = None
            self.update_actions()
            matched = summary.matched_path + summary.matched_content
            text = (f"Imported the analyses of {summary.new_tracks + matched:,} files "
                    f"({summary.new_tracks:,} new to the library, {summary.matched_content:,} found by "
                    f"their content), {summary.errors:,} with an error")
            if summary.not_found:
                text += f"; {len(summary.not_found):,} files are not on this computer"
            if summary.stale:
                text += f"; {len(summary.stale):,} were left out (their files changed since)"
            self.statusBar().showMessage(text + ".", 20000)
            self.reload()
            self.reload_errors()

        def failed(exc) -> None:
            self.import_task = None
            self.update_actions()
            self.statusBar().showMessage("")
            QMessageBox.warning(self, "Nothing was imported", str(exc))

        self.import_task = self.runner.run(import_analyses_job, self.db_path, source, on_result=done,
                                           on_error=failed, writes=True, name="import")
        self.update_actions()
        return self.import_task

    # -- other actions -----------------------------------------------------------------------------------------
    def focus_search(self) -> None:
        if self.pages.currentIndex() != PAGE_LIBRARY:
            return
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def toggle_map(self) -> None:
        if self.pages.currentIndex() != PAGE_LIBRARY:
            return
        self.tabs.setCurrentIndex(TAB_LIBRARY if self.tabs.currentIndex() == TAB_MAP else TAB_MAP)

    def tab_changed(self, index: int) -> None:
        self.panels.tab_changed(index)

    def play_selected(self) -> None:
        ids = self._selected_ids
        if ids:
            self.panels.play(self.current_id() or ids[0])

    def make_playlist(self) -> None:
        if self._selected_ids:
            self.panels.make_playlist(list(self._selected_ids))

    def export_m3u8(self, ids: list[int] | None = None, path: str | None = None) -> Task | None:
        ids = list(ids) if isinstance(ids, (list, tuple)) and ids else list(self._selected_ids)
        if not ids:
            return None
        if not isinstance(path, str):
            path, _ = QFileDialog.getSaveFileName(self, "Export playlist",
                                                  os.path.join(default_music_folder(), "Tag Atlas.m3u8"),
                                                  "M3U8 playlist (*.m3u8)")
            if not path:
                return None
        if not path.lower().endswith((".m3u8", ".m3u")):
            path += ".m3u8"
        return self.runner.run(
            export_m3u8_job, self.shared, ids, path,
            on_result=self._playlist_written,
            on_error=lambda e: QMessageBox.warning(self, "The playlist could not be saved", str(e)),
            name="export m3u8")

    def _playlist_written(self, result) -> None:
        """Say where the playlist went and, in a (non-blocking) box, which tracks M3U8 could
        not hold (a line break in the file name)."""
        from engine.similarity import left_out_lines

        self.statusBar().showMessage(f"Saved a playlist of {result.written:,} tracks: {result.path}"
                                     + (f" ({len(result.left_out):,} left out)" if result.left_out else ""),
                                     10000)
        if result.left_out:
            box = QMessageBox(QMessageBox.Icon.Warning, "Some tracks were left out of the playlist",
                              f"{len(result.left_out):,} of the tracks could not be written to "
                              f"{result.path.name}: an M3U8 playlist has one line per track, so a file "
                              "name with a line break in it cannot be listed. Rename these files "
                              "to include them.", QMessageBox.StandardButton.Ok, self)
            box.setObjectName("playlistLeftOut")
            box.setDetailedText("\n".join(left_out_lines(result.left_out, limit=200)))
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do) for the help window."""
        return actions.shortcut_rows(self)

    def show_shortcuts(self) -> None:
        dlg = QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(dlg)
        text = "".join(f"<tr><td style='padding:3px 18px 3px 0'><b>{k}</b></td><td>{v}</td></tr>"
                       for k, v in self.shortcuts())
        lay.addWidget(QLabel(f"<table>{text}</table>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dlg.reject)
        lay.addWidget(buttons)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()

    def open_settings(self) -> SettingsDialog:
        dlg = SettingsDialog(self.settings, self)
        dlg.saved.connect(self._settings_saved)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    def _settings_saved(self, changed: set) -> None:
        self.first_run.set_model(self.settings.model)
        self.library_model.set_key_notation(self.settings.key_notation)
        if "analysis" in changed or "model" in changed:
            self._ask_device()
        if "model" in changed:
            self.reload()
        self.update_engine_label()
        self.update_actions()
        if "model" in changed and self.library_model.snapshot.n:
            self.statusBar().showMessage("Rescan (Ctrl+R) to analyse the library with the new model.", 10000)

    def refresh_theme(self) -> None:
        """Redraw what paints with the scheme's colours (called after a light/dark switch)."""
        for i, name in enumerate(("library", "map", "warning")):
            self.tabs.setTabIcon(i, theme.icon(name))
        self.table.viewport().update()
        self.show_details()
