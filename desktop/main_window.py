"""The main window: the library table with search and filters, the details pane, the map, the
problems panel, and the background work (scan, analysis, writing) with its progress strip.

Everything slow runs in :mod:`desktop.workers` tasks; the GUI thread only swaps finished results
in. The table's data is a :class:`~desktop.library_model.LibrarySnapshot` loaded in a worker after
each change (and every few seconds while a scan analyses), so rows fill in as tracks are done.
"""
from __future__ import annotations

import os
import time

import numpy as np
from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFrame, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QSizePolicy, QSplitter, QStackedWidget,
                               QTableView, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from . import theme
from .delegates import ChipsDelegate, PlainDelegate, StatusDelegate
from .details_pane import DetailsPane, category_scores
from .first_run import FirstRunPage
from .jobs import (ScanRequest, SharedLibrary, device_job, load_errors_job, load_library_job,
                   scan_job, undo_job)
from .library_model import COLUMNS, STATUS_LABELS, LibraryModel, LibrarySnapshot
from .problems_panel import ProblemsPanel
from .review_dialog import ReviewDialog, ReviewTrack
from .settings import Settings, SettingsDialog
from .workers import Runner, Task

PHASES = {"load": "Loading the model", "walk": "Looking for music", "read": "Reading tags",
          "analyse": "Analysing", "rhythm": "Tempo and key"}
#: While a scan analyses, the table is refreshed this often (ms) for libraries up to
#: LIVE_REFRESH_MAX_TRACKS tracks (bigger ones refresh when the scan ends).
LIVE_REFRESH_MS = 2500
LIVE_REFRESH_MAX_TRACKS = 20000
TAB_LIBRARY, TAB_MAP, TAB_PROBLEMS = 0, 1, 2


class RateMeter:
    """Tracks per second and time left for one phase of a job."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.t0 = 0.0
        self.done0 = 0

    def update(self, phase: str, done: int, total: int) -> tuple[float, float | None]:
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.t0, self.done0 = phase, now, done
        elapsed = now - self.t0
        rate = (done - self.done0) / elapsed if elapsed > 0.5 else 0.0
        eta = (total - done) / rate if rate > 0 and total > 0 else None
        return rate, eta


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s left"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s left"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min left"


class _PaintWatcher(QObject):
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


class MainWindow(QMainWindow):
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
        self._load_task: Task | None = None
        self._load_again = False
        self._device_text = ""
        self._selected_ids: list[int] = []
        self._syncing = False
        self._meter = RateMeter()
        self._painted = False
        self._snapshot_seen = False
        self.review: ReviewDialog | None = None
        self.map_widget = None
        self.similar_panel = None
        self.player = None

        self.setWindowTitle("Tag Atlas")
        self.setWindowIcon(theme.app_icon())
        self.library_model = LibraryModel(self)
        self.library_model.key_notation = self.settings.key_notation
        self._build_actions()
        self._build_ui()
        self._restore_window()

        self._select_timer = QTimer(self, singleShot=True, interval=40)
        self._select_timer.timeout.connect(self._selection_settled)
        self._live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self._live_refresh)
        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(self._apply_filter)

        try:
            self.shared.open()   # before any scan can hold the database (see SharedLibrary)
        except Exception as exc:  # noqa: BLE001 - shown in the window, the app stays usable
            self._load_failed(exc)
        if load_sync:
            self._set_snapshot(load_library_job(None, self.shared, self.settings.model))
        else:
            self.reload()
        self.reload_errors()
        self._refresh_undo()
        # naming the device imports torch (seconds of CPU): after the window is up, unless the
        # welcome page needs it now
        self._device_timer = QTimer(self, singleShot=True, interval=0 if self.pages.currentIndex() == 0 else 1500)
        self._device_timer.timeout.connect(
            lambda: self.runner.run(device_job, self.settings.engine_device,
                                    on_result=self._device_known, name="device"))
        self._device_timer.start()
        self._update_actions()

    # -- construction --------------------------------------------------------------------------------
    def _action(self, text: str, icon: str | None, shortcut: str | None, slot, tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon:
            theme.set_icon(act, icon)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        label = tip or text.replace("…", "")
        act.setToolTip(f"{label} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
                       if shortcut else label)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.act_add_folder = self._action("Add folder…", "folder-add", "Ctrl+O", self.add_folder,
                                           "Add a music folder and scan it")
        self.act_rescan = self._action("Rescan", "rescan", "Ctrl+R", self.rescan,
                                       "Look for new and changed files and analyse them")
        self.act_review = self._action("Review && write…", "write", "Ctrl+W", self.open_review,
                                       "Review the predicted tags of the selection and write them")
        self.act_undo = self._action("Undo last write", "undo", "Ctrl+Z", self.undo_last_write,
                                     "Put back the tags the last write replaced")
        self.act_map = self._action("Map", "map", "Ctrl+M", self.toggle_map,
                                    "Show the library as a map of similar-sounding tracks")
        self.act_search = self._action("Search the library", None, "Ctrl+F", self.focus_search)
        self.act_play = self._action("Play preview", "play", None, self.play_selected)
        self.act_settings = self._action("Settings", "settings", "Ctrl+,", self.open_settings)
        self.act_problems = self._action("Show the problems", None, "Ctrl+3", self.show_problems)
        self.act_library = self._action("Show the library", None, "Ctrl+1", self.show_library)
        self.act_cancel = self._action("Cancel", "cancel", None, self.cancel_work)
        self.act_playlist = self._action("Make playlist", "playlist", "Ctrl+P", self.make_playlist,
                                         "A playlist of tracks that sound like the selection")
        self.act_export = self._action("Export M3U8…", "export", "Ctrl+E", self.export_m3u8,
                                       "Save the selected tracks as an M3U8 playlist")
        self.act_quit = self._action("Quit", None, "Ctrl+Q", self.close)
        self.act_help = self._action("Keyboard shortcuts", None, "F1", self.show_shortcuts)

    def _build_ui(self) -> None:
        tb = QToolBar("Main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setIconSize(QSize(18, 18))
        tb.addAction(self.act_add_folder)
        tb.addAction(self.act_rescan)
        tb.addSeparator()
        tb.addAction(self.act_review)
        tb.addAction(self.act_undo)
        tb.addSeparator()
        tb.addAction(self.act_map)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist, album, tag…   (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        search_icon = self.search.addAction(theme.icon("search", "muted"), QLineEdit.ActionPosition.LeadingPosition)
        theme.set_icon(search_icon, "search", "muted")
        self.search.setMinimumWidth(300)
        self.search.setMaximumWidth(420)
        self.search.textChanged.connect(self._search_edited)
        tb.addWidget(self.search)
        tb.addAction(self.act_settings)
        self.addToolBar(tb)
        self.toolbar = tb

        # filter row
        self.status_filter = QComboBox()
        self.status_filter.setMinimumWidth(150)
        self.status_filter.currentIndexChanged.connect(self._apply_filter)
        self.tag_filter = QComboBox()
        self.tag_filter.setMinimumWidth(170)
        self.tag_filter.setMaxVisibleItems(20)
        self.tag_filter.currentIndexChanged.connect(self._apply_filter)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        filters = QHBoxLayout()
        filters.setContentsMargins(12, 8, 12, 4)
        filters.setSpacing(8)
        show = QLabel("Show")
        show.setProperty("role", "hint")
        filters.addWidget(show)
        filters.addWidget(self.status_filter)
        tagged = QLabel("tagged")
        tagged.setProperty("role", "hint")
        filters.addWidget(tagged)
        filters.addWidget(self.tag_filter)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        self._fill_filters()

        # table
        self.table = QTableView()
        self.table.setModel(self.library_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 14)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setSectionsMovable(True)
        hh.setStretchLastSection(False)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        widths = {"title": 210, "artist": 140, "album": 160, "genre": 100, "mood": 70,
                  "bpm": 60, "key": 60, "predicted": 300, "status": 100}
        hh.setMinimumSectionSize(60)
        for c, name in enumerate(COLUMNS):
            hh.resizeSection(c, widths[name])
        hh.setSectionResizeMode(COLUMNS.index("predicted"), QHeaderView.ResizeMode.Stretch)
        self.table.setItemDelegate(PlainDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMNS.index("predicted"), ChipsDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMNS.index("status"), StatusDelegate(self.table))
        self.table.sortByColumn(COLUMNS.index("artist"), Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._table_selection_changed)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for act in (self.act_play, self.act_review, self.act_playlist, self.act_export):
            self.table.addAction(act)
        play_key = QAction(self.table)
        play_key.setShortcut(QKeySequence(Qt.Key.Key_Space))
        play_key.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        play_key.triggered.connect(self.play_selected)
        self.table.addAction(play_key)
        self._paint_watch = _PaintWatcher(self._table_painted)
        self.table.viewport().installEventFilter(self._paint_watch)
        self._window_watch = _PaintWatcher(self._window_first_painted)

        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setProperty("role", "hint")
        self.empty_label.setWordWrap(True)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_label)

        lib_page = QWidget()
        ll = QVBoxLayout(lib_page)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addLayout(filters)
        inner = QVBoxLayout()
        inner.setContentsMargins(12, 4, 6, 12)
        inner.addWidget(self.table_stack)
        ll.addLayout(inner, 1)

        # map (the map widget is added by _install_map when it is available)
        self.map_holder = QWidget()
        self.map_layout = QVBoxLayout(self.map_holder)
        self.map_layout.setContentsMargins(12, 8, 6, 12)
        self.map_placeholder = QLabel("The map of your library appears here once tracks are analysed.")
        self.map_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.map_placeholder.setProperty("role", "hint")
        self.map_layout.addWidget(self.map_placeholder)

        self.problems = ProblemsPanel()
        self.problems.retry_requested.connect(self.retry_failed)
        self.problems.track_activated.connect(self.reveal_track)
        self.problems.count_changed.connect(self._problems_counted)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(lib_page, theme.icon("library"), "Library")
        self.tabs.addTab(self.map_holder, theme.icon("map"), "Map")
        self.tabs.addTab(self.problems, theme.icon("warning"), "Problems")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.details = DetailsPane(self.runner)
        self.details.review_requested.connect(self.open_review)
        self.details.play_requested.connect(self.play_selected)
        self.side = QSplitter(Qt.Orientation.Vertical)
        self.side.addWidget(self.details)
        self.side.setChildrenCollapsible(False)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.tabs)
        self.split.addWidget(self.side)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 0)
        self.split.setSizes([1180, 420])
        self.split.setChildrenCollapsible(False)

        # progress strip
        self.strip = QFrame()
        self.strip.setProperty("role", "strip")
        sl = QHBoxLayout(self.strip)
        sl.setContentsMargins(14, 8, 14, 8)
        sl.setSpacing(12)
        self.phase_label = QLabel()
        self.phase_label.setMinimumWidth(180)
        f = self.phase_label.font()
        f.setWeight(f.Weight.DemiBold)
        self.phase_label.setFont(f)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMinimumWidth(200)
        self.rate_label = QLabel()
        self.rate_label.setProperty("role", "hint")
        self.rate_label.setMinimumWidth(230)
        self.file_label = QLabel()
        self.file_label.setProperty("role", "hint")
        self.file_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.cancel_button = QPushButton("Cancel")
        theme.set_icon(self.cancel_button, "cancel")
        self.cancel_button.clicked.connect(self.cancel_work)
        sl.addWidget(self.phase_label)
        sl.addWidget(self.progress, 2)
        sl.addWidget(self.rate_label)
        sl.addWidget(self.file_label, 3)
        sl.addWidget(self.cancel_button)
        self.strip.hide()

        main_page = QWidget()
        ml = QVBoxLayout(main_page)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(0)
        ml.addWidget(self.split, 1)

        self.first_run = FirstRunPage(self.settings)
        self.first_run.scan_requested.connect(self._first_scan)
        self.first_run.settings_requested.connect(self.open_settings)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.first_run)
        self.pages.addWidget(main_page)
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.pages, 1)
        cl.addWidget(self.strip)
        self.setCentralWidget(central)
        central.installEventFilter(self._window_watch)
        self.pages.currentChanged.connect(self._page_changed)

        sb = self.statusBar()
        sb.setSizeGripEnabled(False)
        self.stats_label = QLabel()
        self.engine_label = QLabel()
        self.engine_label.setProperty("role", "hint")
        sb.addPermanentWidget(self.stats_label)
        sb.addPermanentWidget(self.engine_label)
        self._update_engine_label()
        self._install_optional_panels()
        self.pages.setCurrentIndex(1 if self.settings.folders else 0)
        self._page_changed(self.pages.currentIndex())

    def _install_optional_panels(self) -> None:
        """The map, the preview player and the "more like this" panel, where installed."""
        from . import integrations

        integrations.install(self)

    # small slots (bound methods rather than lambdas: Qt drops the connection with the object)
    def rescan(self) -> None:
        self.start_scan()

    def retry_failed(self) -> None:
        self.start_scan(retry_failed=True)

    def show_problems(self) -> None:
        self.tabs.setCurrentIndex(TAB_PROBLEMS)

    def show_library(self) -> None:
        self.tabs.setCurrentIndex(TAB_LIBRARY)

    def _search_edited(self, _text: str) -> None:
        self._search_timer.start()

    def _table_selection_changed(self, *_args) -> None:
        self._select_timer.start()

    def _double_clicked(self, _index) -> None:
        self.open_review()

    def _review_closed(self, _result: int) -> None:
        self.review = None

    def _page_changed(self, index: int) -> None:
        """The welcome page stands alone: no library toolbar or counts around it."""
        library = index == 1
        self.toolbar.setVisible(library)
        self.stats_label.setVisible(library)

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
        if self.player is not None and hasattr(self.player, "stop"):
            try:
                self.player.stop()
            except Exception:
                pass
        integ = getattr(self, "_integration", None)
        if integ is not None:
            integ.close()
        self.runner.shutdown(10.0)
        self.shared.close()
        super().closeEvent(event)

    # -- loading the library ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Load a fresh snapshot of the library in a worker and show it."""
        if self._load_task is not None:
            self._load_again = True
            return
        self._load_task = self.runner.run(load_library_job, self.shared, self.settings.model,
                                          on_result=self._set_snapshot, on_error=self._load_failed,
                                          on_finished=self._load_finished, name="load library")

    def is_loading(self) -> bool:
        """True while a snapshot is being loaded (or another load is queued)."""
        return self._load_task is not None or self._load_again

    def _load_finished(self) -> None:
        self._load_task = None
        if self._load_again:
            self._load_again = False
            self.reload()

    def _load_failed(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Cannot open the library: {exc}")
        self.empty_label.setText(f"The library could not be opened.\n{exc}")
        self.table_stack.setCurrentIndex(1)

    def _set_snapshot(self, snap: LibrarySnapshot) -> None:
        self._snapshot_seen = True
        keep = list(self._selected_ids)
        current = self._current_id()
        hbar = self.table.verticalScrollBar().value()
        self._syncing = True
        try:
            self.library_model.set_snapshot(snap)
            self._fill_filters()
            self._select_ids(keep, current=current, scroll=False)
            self.table.verticalScrollBar().setValue(hbar)
        finally:
            self._syncing = False
        if snap.n and self.pages.currentIndex() == 0:
            self.pages.setCurrentIndex(1)
        self._update_empty_state()
        self._update_stats()
        self._update_engine_label()
        self._update_actions()
        self._selection_settled()
        self.snapshot_loaded.emit()
        self.table.viewport().update()
        integ = getattr(self, "_integration", None)
        if integ is not None:
            integ.snapshot_changed(snap)

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

    def _update_empty_state(self) -> None:
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

    def _apply_filter(self) -> None:
        keep = list(self._selected_ids)
        current = self._current_id()
        self._syncing = True
        try:
            self.library_model.set_filter(self.search.text(), self.status_filter.currentData(),
                                          self.tag_filter.currentData())
            self._select_ids(keep, current=current)
        finally:
            self._syncing = False
        self._update_count()
        self._update_empty_state()
        integ = getattr(self, "_integration", None)
        if integ is not None:
            integ.filter_changed()

    def _update_count(self) -> None:
        shown, total = self.library_model.rowCount(), self.library_model.snapshot.n
        self.count_label.setText(f"{total:,} tracks" if shown == total else f"{shown:,} of {total:,} tracks")

    def _update_stats(self) -> None:
        counts = self.library_model.status_counts()
        total = sum(counts.values())
        analysed = counts.get("analysed", 0) + counts.get("written", 0)
        self.stats_label.setText(f"{total:,} tracks  ·  {analysed:,} analysed  ·  "
                                 f"{counts.get('written', 0):,} written")

    def _device_known(self, text: str) -> None:
        self._device_text = text
        self.first_run.set_device(text)
        self._update_engine_label()

    def _update_engine_label(self) -> None:
        snap = self.library_model.snapshot
        shown = snap.predicted_by or snap.model or self.settings.model
        quick = "  ·  quick analysis" if self.settings.quick_analysis else "  ·  full analysis"
        self.engine_label.setText(f"{shown}  ·  {self._device_text or '…'}{quick}")
        self.first_run.set_model(self.settings.model)

    def _problems_counted(self, n: int) -> None:
        self.tabs.setTabText(TAB_PROBLEMS, f"Problems ({n:,})" if n else "Problems")

    # -- selection ----------------------------------------------------------------------------------------
    def _current_id(self) -> int | None:
        idx = self.table.currentIndex()
        if not idx.isValid() or idx.row() >= self.library_model.rowCount():
            return None
        return self.library_model.track_id(idx.row())

    def selected_ids(self) -> list[int]:
        return list(self._selected_ids)

    def _read_selection(self) -> list[int]:
        model = self.library_model
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [model.track_id(r) for r in rows if r < model.rowCount()]

    def _selection_settled(self) -> None:
        if self._syncing:
            return
        self._selected_ids = self._read_selection()
        self._show_details()
        self._update_actions()
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
                self._apply_filter()
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

    def _show_details(self) -> None:
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
                from .jobs import evidence_job

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

    def _update_actions(self) -> None:
        has_sel = bool(self._selected_ids)
        analysed = any(self.library_model.scores_of(i) is not None for i in self._selected_ids[:200])
        self.act_review.setEnabled(has_sel and analysed and self.scan_task is None)
        self.act_play.setEnabled(len(self._selected_ids) >= 1 and self.player is not None)
        self.act_export.setEnabled(has_sel)
        self.act_playlist.setEnabled(has_sel and analysed)
        self.act_rescan.setEnabled(self.scan_task is None and bool(self.settings.folders))
        self.act_add_folder.setEnabled(self.scan_task is None)
        self.act_cancel.setEnabled(self.scan_task is not None)
        self.act_undo.setEnabled(getattr(self, "_can_undo", False) and self.scan_task is None
                                 and self.undo_task is None)

    # -- scanning ---------------------------------------------------------------------------------------------
    def add_folder(self) -> None:
        from .settings import default_music_folder

        folder = QFileDialog.getExistingDirectory(self, "Add a music folder", default_music_folder())
        if folder:
            self.settings.add_folder(folder)
            self.start_scan([folder])

    def _first_scan(self, folder: str) -> None:
        self.settings.add_folder(folder)
        self.settings.sync()
        self.pages.setCurrentIndex(1)
        self.start_scan([folder])

    def start_scan(self, folders: list[str] | None = None, *, retry_failed: bool = False) -> Task | None:
        """Scan ``folders`` (default: every library folder) and analyse what is new."""
        if self.scan_task is not None:
            return None
        folders = folders or self.settings.folders
        if not folders:
            self.add_folder()
            return None
        s = self.settings
        req = ScanRequest(folders=list(folders), model=s.model, device=s.engine_device,
                          workers=s.workers, max_patches=s.max_patches, retry_failed=retry_failed)
        task = Task(scan_job, self.db_path, req, name="scan")
        task.progress.connect(self._scan_progress)
        task.result.connect(self._scan_done)
        task.error.connect(self._scan_failed)
        self.scan_task = task
        self._meter = RateMeter()
        self.phase_label.setText("Starting…")
        self.rate_label.setText("")
        self.file_label.setText("")
        self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.strip.show()
        self._update_actions()
        self._update_empty_state()
        self.runner.start(task)
        self._live_timer.start()
        return task

    def _scan_progress(self, value) -> None:
        phase, done, total, path = value
        label = PHASES.get(phase, phase.capitalize())
        if self.scan_task is not None and self.scan_task.cancelled:
            return
        if total <= 0:
            self.progress.setRange(0, 0)
            self.phase_label.setText(label + "…")
            self.rate_label.setText(f"{done:,} files found" if phase == "walk" else "")
        else:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            rate, eta = self._meter.update(phase, done, total)
            self.phase_label.setText(f"{label}  {done:,} / {total:,}")
            parts = []
            if rate > 0:
                parts.append(f"{rate:.1f} tracks/s")
            if eta is not None and done < total:
                parts.append(format_eta(eta))
            self.rate_label.setText("  ·  ".join(parts))
        self.file_label.setText(os.path.basename(path) if path and phase != "load" else "")

    def _scan_done(self, summary) -> None:
        self.scan_task = None
        self._live_timer.stop()
        self.strip.hide()
        found = summary.new + summary.changed + summary.unchanged + summary.moved
        if summary.cancelled:
            msg = "Scan cancelled. Rescan (Ctrl+R) to carry on where it stopped."
        elif not (summary.new or summary.changed or summary.moved or summary.gone or summary.analysed):
            msg = f"Your library is up to date: {found:,} tracks, nothing new or changed."
        else:
            msg = (f"Scan finished: {found:,} tracks, {summary.new:,} new, {summary.analysed:,} "
                   f"analysed in {summary.elapsed_s:.0f} s")
            if summary.failed:
                msg += f", {summary.failed:,} with problems (see Problems)"
        self.statusBar().showMessage(msg, 15000)
        self.reload()
        self.reload_errors()
        self._update_actions()
        self.scan_finished.emit(summary)

    def _scan_failed(self, exc: BaseException) -> None:
        self.scan_task = None
        self._live_timer.stop()
        self.strip.hide()
        self._update_actions()
        QMessageBox.warning(self, "The scan could not run", str(exc))
        self.reload()
        self.reload_errors()
        self.scan_finished.emit(exc)

    def _live_refresh(self) -> None:
        if self.library_model.snapshot.n <= LIVE_REFRESH_MAX_TRACKS:
            self.reload()

    def cancel_work(self) -> None:
        if self.scan_task is not None:
            self.scan_task.cancel()
            self.phase_label.setText("Stopping…")
            self.cancel_button.setEnabled(False)
            self.rate_label.setText("")

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
        from .jobs import last_write_job

        def known(batch) -> None:
            self._can_undo = batch is not None
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

    # -- other actions -----------------------------------------------------------------------------------------
    def focus_search(self) -> None:
        if self.pages.currentIndex() != 1:
            return
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def toggle_map(self) -> None:
        if self.pages.currentIndex() != 1:
            return
        self.tabs.setCurrentIndex(TAB_LIBRARY if self.tabs.currentIndex() == TAB_MAP else TAB_MAP)

    def _tab_changed(self, index: int) -> None:
        integ = getattr(self, "_integration", None)
        if integ is not None:
            integ.tab_changed(index)

    def play_selected(self) -> None:
        integ = getattr(self, "_integration", None)
        ids = self._selected_ids
        if integ is not None and ids:
            integ.play(self._current_id() or ids[0])

    def make_playlist(self) -> None:
        integ = getattr(self, "_integration", None)
        if integ is not None and self._selected_ids:
            integ.make_playlist(list(self._selected_ids))

    def export_m3u8(self, ids: list[int] | None = None, path: str | None = None) -> Task | None:
        from .jobs import export_m3u8_job

        ids = list(ids) if isinstance(ids, (list, tuple)) and ids else list(self._selected_ids)
        if not ids:
            return None
        if not isinstance(path, str):
            from .settings import default_music_folder

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
        native = QKeySequence.SequenceFormat.NativeText
        rows = [(a.shortcut().toString(native), a.text().replace("&&", "&").replace("…", ""))
                for a in (self.act_add_folder, self.act_rescan, self.act_search, self.act_review,
                          self.act_undo, self.act_map, self.act_playlist, self.act_export,
                          self.act_library, self.act_problems, self.act_settings, self.act_help,
                          self.act_quit)]
        rows.insert(5, ("Space", "Play or pause a preview of the selected track"))
        rows.append(("Double-click", "Review the tags of a track"))
        rows.append(("Wheel, drag, arrows, +/−, 0", "Zoom and move the map; Shift+drag or Ctrl+drag selects"))
        return rows

    def show_shortcuts(self) -> None:
        from PySide6.QtWidgets import QDialog, QDialogButtonBox

        dlg = QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(dlg)
        text = "".join(f"<tr><td style='padding:3px 18px 3px 0'><b>{k}</b></td><td>{v}</td></tr>"
                       for k, v in self.shortcuts())
        label = QLabel(f"<table>{text}</table>")
        lay.addWidget(label)
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
            self.runner.run(device_job, self.settings.engine_device, on_result=self._device_known,
                            name="device")
        if "model" in changed:
            self.reload()
        self._update_engine_label()
        self._update_actions()
        if "model" in changed and self.library_model.snapshot.n:
            self.statusBar().showMessage("Rescan (Ctrl+R) to analyse the library with the new model.", 10000)

    def refresh_theme(self) -> None:
        """Redraw what paints with the scheme's colours (called after a light/dark switch)."""
        for i, name in enumerate(("library", "map", "warning")):
            self.tabs.setTabIcon(i, theme.icon(name))
        self.table.viewport().update()
        self._show_details()
