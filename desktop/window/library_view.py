"""The library in the main window: loading snapshots of the library in a worker, the table's
filters and counts, the selection (kept across reloads and filters, shared with the map) and
the details pane of what is selected.

:class:`LibraryViewMixin` is part of :class:`desktop.window.MainWindow`; the table's data is a
:class:`~desktop.library_model.LibrarySnapshot` loaded after each change (and every few seconds
while a scan analyses), so rows fill in as tracks are done.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QObject, QTimer
from PySide6.QtWidgets import QAbstractItemView

from desktop.background import evidence_job, load_errors_job, load_library_job
from desktop.details_pane import category_scores
from desktop.library_model import STATUS_LABELS, LibrarySnapshot

from .layout import PAGE_LIBRARY, PAGE_WELCOME, TAB_LIBRARY, TAB_PROBLEMS


class PaintWatcher(QObject):
    """Calls ``callback()`` after each paint of the watched widget until it returns True."""

    def __init__(self, callback) -> None:
        super().__init__()
        self.callback = callback
        self._pending = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and self.callback is not None and not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._after_paint)
        return False

    def _after_paint(self) -> None:
        self._pending = False
        if self.callback is not None and self.callback():
            self.callback = None


class LibraryViewMixin:
    """The table's part of the main window (snapshots, filters, selection, details)."""

    # -- loading the library ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Load a fresh snapshot of the library in a worker and show it."""
        if self._load_task is not None:
            self._load_again = True
            return
        self._load_task = self.runner.run(load_library_job, self.shared, self.settings.model,
                                          on_result=self.set_snapshot, on_error=self.load_failed,
                                          on_finished=self._load_finished, name="load library")

    def is_loading(self) -> bool:
        """True while a snapshot is being loaded (or another load is queued)."""
        return self._load_task is not None or self._load_again

    def _load_finished(self) -> None:
        self._load_task = None
        if self._load_again:
            self._load_again = False
            self.reload()

    def load_failed(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Cannot open the library: {exc}")
        self.empty_label.setText(f"The library could not be opened.\n{exc}")
        self.table_stack.setCurrentIndex(1)

    def set_snapshot(self, snap: LibrarySnapshot) -> None:
        """Show this snapshot, keeping the selection, the current row and the scroll position."""
        self._snapshot_seen = True
        keep = list(self._selected_ids)
        current = self.current_id()
        hbar = self.table.verticalScrollBar().value()
        self._syncing = True
        try:
            self.library_model.set_snapshot(snap)
            self._fill_filters()
            self._select_ids(keep, current=current, scroll=False)
            self.table.verticalScrollBar().setValue(hbar)
        finally:
            self._syncing = False
        if snap.n and self.pages.currentIndex() == PAGE_WELCOME:
            self.pages.setCurrentIndex(PAGE_LIBRARY)
        self.update_empty_state()
        self._update_stats()
        self.update_engine_label()
        self.update_actions()
        self._selection_settled()
        self.snapshot_loaded.emit()
        self.table.viewport().update()
        self.panels.snapshot_changed(snap)

    def reload_errors(self) -> None:
        self.runner.run(load_errors_job, self.shared, on_result=self.problems.set_errors,
                        name="load problems")

    def _window_first_painted(self) -> bool:
        self.window_painted.emit()
        return True

    def _table_painted(self) -> bool:
        """After a paint of the table: report the first one with the library's rows in."""
        if self._snapshot_seen and not self._painted:
            self._painted = True
            self.first_paint.emit()
            return True
        return False

    def update_empty_state(self) -> None:
        """The table, or a sentence saying why there is nothing in it."""
        model = self.library_model
        if model.rowCount():
            self.table_stack.setCurrentIndex(0)
            return
        if model.snapshot.n == 0:
            if self.scan_task is not None:
                text = "Looking for music… tracks appear here as they are found."
            else:
                text = ("Your library is empty.\nAdd a music folder (Ctrl+O) and Tag Atlas will "
                        "find and analyse your tracks.")
        else:
            text = "No track matches the search and filters."
        self.empty_label.setText(text)
        self.table_stack.setCurrentIndex(1)

    # -- filters and counts -------------------------------------------------------------------------------
    def _fill_filters(self) -> None:
        counts = self.library_model.status_counts()
        total = sum(counts.get(s, 0) for s in ("new", "analysed", "written", "error"))
        current_status = self.status_filter.currentData()
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem(f"All tracks ({total:,})", None)
        for s in ("new", "analysed", "written", "error"):
            label = {"new": "Not analysed", "error": "With problems"}.get(s, STATUS_LABELS[s])
            self.status_filter.addItem(f"{label} ({counts.get(s, 0):,})", s)
        i = self.status_filter.findData(current_status)
        self.status_filter.setCurrentIndex(max(0, i))
        self.status_filter.blockSignals(False)
        current_tag = self.tag_filter.currentData()
        names = self.library_model.tag_names()
        if [self.tag_filter.itemData(i) for i in range(1, self.tag_filter.count())] != names:
            self.tag_filter.blockSignals(True)
            self.tag_filter.clear()
            self.tag_filter.addItem("any tag", None)
            for n in names:
                self.tag_filter.addItem(n, n)
            i = self.tag_filter.findData(current_tag)
            self.tag_filter.setCurrentIndex(max(0, i))
            self.tag_filter.blockSignals(False)
        self._update_count()

    def search_edited(self, _text: str) -> None:
        self._search_timer.start()

    def apply_filter(self) -> None:
        """Show the rows that match the search text and the two filters."""
        keep = list(self._selected_ids)
        current = self.current_id()
        self._syncing = True
        try:
            self.library_model.set_filter(self.search.text(), self.status_filter.currentData(),
                                          self.tag_filter.currentData())
            self._select_ids(keep, current=current)
        finally:
            self._syncing = False
        self._update_count()
        self.update_empty_state()

    def _update_count(self) -> None:
        shown, total = self.library_model.rowCount(), self.library_model.snapshot.n
        self.count_label.setText(f"{total:,} tracks" if shown == total else f"{shown:,} of {total:,} tracks")

    def _update_stats(self) -> None:
        counts = self.library_model.status_counts()
        total = sum(counts.values())
        analysed = counts.get("analysed", 0) + counts.get("written", 0)
        self.stats_label.setText(f"{total:,} tracks  ·  {analysed:,} analysed  ·  "
                                 f"{counts.get('written', 0):,} written")

    def problems_counted(self, n: int) -> None:
        self.tabs.setTabText(TAB_PROBLEMS, f"Problems ({n:,})" if n else "Problems")

    # -- selection ----------------------------------------------------------------------------------------
    def current_id(self) -> int | None:
        """The track of the table's current row (None when there is none)."""
        idx = self.table.currentIndex()
        if not idx.isValid() or idx.row() >= self.library_model.rowCount():
            return None
        return self.library_model.track_id(idx.row())

    def selected_ids(self) -> list[int]:
        return list(self._selected_ids)

    def table_selection_changed(self, *_args) -> None:
        self._select_timer.start()

    def _read_selection(self) -> list[int]:
        model = self.library_model
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [model.track_id(r) for r in rows if r < model.rowCount()]

    def _selection_settled(self) -> None:
        if self._syncing:
            return
        self._selected_ids = self._read_selection()
        self.show_details()
        self.update_actions()
        self.selection_changed.emit(list(self._selected_ids))

    def select_ids(self, ids: list[int], *, scroll: bool = True) -> None:
        """Select these tracks in the table (from the map or the similar panel)."""
        if self.search.text() or self.status_filter.currentIndex() > 0 or self.tag_filter.currentIndex() > 0:
            missing = [i for i in ids if self.library_model.row_for_id(i) < 0]
            if missing:  # a filter hides them: clear it so the selection can be seen
                self.search.blockSignals(True)
                self.search.clear()
                self.search.blockSignals(False)
                self.status_filter.setCurrentIndex(0)
                self.tag_filter.setCurrentIndex(0)
                self.apply_filter()
        self._select_ids(ids, current=ids[0] if ids else None, scroll=scroll)
        self._selection_settled()

    def _select_ids(self, ids: list[int], *, current: int | None = None, scroll: bool = True) -> None:
        model = self.library_model
        rows = sorted(model.rows_for_ids(ids))
        sel = QItemSelection()
        last_col = model.columnCount() - 1
        start = prev = None
        for r in rows + [None]:
            if start is None:
                start = prev = r
                continue
            if r is not None and r == prev + 1:
                prev = r
                continue
            sel.select(model.index(start, 0), model.index(prev, last_col))
            start = prev = r
        sm = self.table.selectionModel()
        blocked = sm.blockSignals(True)
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        cur_row = model.row_for_id(current) if current is not None else (rows[0] if rows else -1)
        if cur_row >= 0:
            sm.setCurrentIndex(model.index(cur_row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            if scroll:
                self.table.scrollTo(model.index(cur_row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)
        sm.blockSignals(blocked)
        self.table.viewport().update()

    def reveal_track(self, track_id: int) -> None:
        self.tabs.setCurrentIndex(TAB_LIBRARY)
        self.select_ids([track_id])

    def show_details(self) -> None:
        """The details pane for the selection: one track (and its evidence), or a summary."""
        ids, model = self._selected_ids, self.library_model
        snap = model.snapshot
        if not ids:
            self.details.show_nothing()
            return
        if len(ids) == 1:
            row = model.get_row(ids[0])
            if row is None:
                self.details.show_nothing()
                return
            self.details.show_track(row, model.scores_of(ids[0]), snap.tags, snap.thresholds,
                                    rhythm=model.rhythm_of(ids[0]),
                                    key_notation=self.settings.key_notation)
            if snap.predicted_by and model.scores_of(ids[0]) is not None:
                tid = ids[0]
                self.runner.run(evidence_job, self.shared, tid, snap.predicted_by, name="evidence",
                                on_result=lambda r: self.details.show_evidence(*r)
                                if self._selected_ids[:1] == [r[0]] else None)
            return
        summary = None
        scores = [s for s in (model.scores_of(i) for i in ids[:5000]) if s is not None]
        if scores and snap.tags:
            summary = category_scores(np.mean(scores, axis=0), snap.tags, snap.thresholds, per_category=3)
        self.details.show_many(len(ids), summary)

