"""The main window's widgets and layouts, built explicitly (as Picard's ``ui`` modules):

* the toolbar (actions from :mod:`desktop.window.actions`) with the search field;
* the Library tab (filters, the table or a message when it is empty), the Map tab (the
  :class:`desktop.map.MapPanel`, with a page that says the first map is being drawn) and the
  Problems tab;
* the side: the details pane and "more like this" (:class:`desktop.similar_panel.SimilarPanel`)
  as two tabs over the preview player (:class:`desktop.player.PreviewPlayer`, which says so
  itself when QtMultimedia cannot load here);
* the progress strip, the welcome page, the status bar.

:func:`build_layout` sets them as attributes of the window (``win.table``, ``win.tabs``,
``win.map_panel`` …) and connects each widget's own signals to the window's slots; how the
panels follow each other (selection, data) is :mod:`desktop.window.panels`.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFrame, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QMenu, QProgressBar, QPushButton, QSizePolicy,
                               QSplitter, QStackedWidget, QTableView, QTabWidget, QToolBar,
                               QToolButton, QVBoxLayout, QWidget)

from desktop import theme
from desktop.delegates import ChipsDelegate, PlainDelegate, StatusDelegate
from desktop.details_pane import DetailsPane
from desktop.first_run import FirstRunPage
from desktop.library_model import COLUMNS
from desktop.map import MapPanel
from desktop.player import PreviewPlayer
from desktop.problems_panel import ProblemsPanel
from desktop.similar_panel import SimilarPanel

#: The tabs of the main area, in order.
TAB_LIBRARY, TAB_MAP, TAB_PROBLEMS = 0, 1, 2
#: The welcome page and the library page of ``win.pages``.
PAGE_WELCOME, PAGE_LIBRARY = 0, 1
#: Initial column widths of the table (pixels).
COLUMN_WIDTHS = {"title": 210, "artist": 140, "album": 160, "genre": 100, "mood": 70,
                 "bpm": 60, "key": 60, "predicted": 300, "status": 100}


def build_layout(win) -> None:
    """Every widget of the main window (its actions must exist: see ``create_actions``)."""
    win.toolbar = _toolbar(win)
    win.addToolBar(win.toolbar)
    library_page = _library_page(win)
    win.map_page = _map_page(win)
    win.problems = ProblemsPanel()
    win.problems.retry_requested.connect(win.retry_failed)
    win.problems.track_activated.connect(win.reveal_track)
    win.problems.count_changed.connect(win.problems_counted)

    win.tabs = QTabWidget()
    win.tabs.setDocumentMode(True)
    win.tabs.addTab(library_page, theme.icon("library"), "Library")
    win.tabs.addTab(win.map_page, theme.icon("map"), "Map")
    win.tabs.addTab(win.problems, theme.icon("warning"), "Problems")
    win.tabs.currentChanged.connect(win.tab_changed)

    win.side = _side(win)
    win.split = QSplitter(Qt.Orientation.Horizontal)
    win.split.addWidget(win.tabs)
    win.split.addWidget(win.side)
    win.split.setStretchFactor(0, 1)
    win.split.setStretchFactor(1, 0)
    win.split.setSizes([1180, 420])
    win.split.setChildrenCollapsible(False)
    win.strip = _progress_strip(win)

    main_page = QWidget()
    ml = QVBoxLayout(main_page)
    ml.setContentsMargins(0, 0, 0, 0)
    ml.setSpacing(0)
    ml.addWidget(win.split, 1)

    win.first_run = FirstRunPage(win.settings)
    win.first_run.scan_requested.connect(win.first_scan)
    win.first_run.settings_requested.connect(win.open_settings)

    win.pages = QStackedWidget()
    win.pages.addWidget(win.first_run)
    win.pages.addWidget(main_page)
    central = QWidget()
    cl = QVBoxLayout(central)
    cl.setContentsMargins(0, 0, 0, 0)
    cl.setSpacing(0)
    cl.addWidget(win.pages, 1)
    cl.addWidget(win.strip)
    win.setCentralWidget(central)
    win.central = central

    sb = win.statusBar()
    sb.setSizeGripEnabled(False)
    win.stats_label = QLabel()
    win.engine_label = QLabel()
    win.engine_label.setProperty("role", "hint")
    sb.addPermanentWidget(win.stats_label)
    sb.addPermanentWidget(win.engine_label)


def _toolbar(win) -> QToolBar:
    tb = QToolBar("Main")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.setIconSize(QSize(18, 18))
    tb.addAction(win.act_add_folder)
    # the button's menu is the window's "File" menu: a folder to scan, or analyses made elsewhere
    win.file_menu = QMenu("File", tb)
    win.file_menu.addAction(win.act_add_folder)
    win.file_menu.addAction(win.act_import)
    add_button = tb.widgetForAction(win.act_add_folder)
    add_button.setMenu(win.file_menu)
    add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
    tb.addAction(win.act_rescan)
    tb.addSeparator()
    tb.addAction(win.act_review)
    tb.addAction(win.act_undo)
    tb.addSeparator()
    tb.addAction(win.act_map)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    tb.addWidget(spacer)
    win.search = QLineEdit()
    win.search.setPlaceholderText("Search title, artist, album, tag…   (Ctrl+F)")
    win.search.setClearButtonEnabled(True)
    search_icon = win.search.addAction(theme.icon("search", "muted"), QLineEdit.ActionPosition.LeadingPosition)
    theme.set_icon(search_icon, "search", "muted")
    win.search.setMinimumWidth(300)
    win.search.setMaximumWidth(420)
    win.search.textChanged.connect(win.search_edited)
    tb.addWidget(win.search)
    tb.addAction(win.act_settings)
    return tb


def _hint_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "hint")
    return label


def _library_page(win) -> QWidget:
    """The filter row over the table (or over a message when nothing is shown)."""
    win.status_filter = QComboBox()
    win.status_filter.setMinimumWidth(150)
    win.status_filter.currentIndexChanged.connect(win.apply_filter)
    win.tag_filter = QComboBox()
    win.tag_filter.setMinimumWidth(170)
    win.tag_filter.setMaxVisibleItems(20)
    win.tag_filter.currentIndexChanged.connect(win.apply_filter)
    win.count_label = _hint_label()
    filters = QHBoxLayout()
    filters.setContentsMargins(12, 8, 12, 4)
    filters.setSpacing(8)
    filters.addWidget(_hint_label("Show"))
    filters.addWidget(win.status_filter)
    filters.addWidget(_hint_label("tagged"))
    filters.addWidget(win.tag_filter)
    filters.addStretch(1)
    filters.addWidget(win.count_label)

    win.table = _table(win)
    win.empty_label = _hint_label()
    win.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    win.empty_label.setWordWrap(True)
    win.table_stack = QStackedWidget()
    win.table_stack.addWidget(win.table)
    win.table_stack.addWidget(win.empty_label)

    page = QWidget()
    ll = QVBoxLayout(page)
    ll.setContentsMargins(0, 0, 0, 0)
    ll.setSpacing(0)
    ll.addLayout(filters)
    inner = QVBoxLayout()
    inner.setContentsMargins(12, 4, 6, 12)
    inner.addWidget(win.table_stack)
    ll.addLayout(inner, 1)
    return page


def _table(win) -> QTableView:
    table = QTableView()
    table.setModel(win.library_model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setSortingEnabled(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setAlternatingRowColors(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    vh = table.verticalHeader()
    vh.setVisible(False)
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(win.fontMetrics().height() + 14)
    hh = table.horizontalHeader()
    hh.setHighlightSections(False)
    hh.setSectionsMovable(True)
    hh.setStretchLastSection(False)
    hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    hh.setMinimumSectionSize(60)
    for c, name in enumerate(COLUMNS):
        hh.resizeSection(c, COLUMN_WIDTHS[name])
    hh.setSectionResizeMode(COLUMNS.index("predicted"), QHeaderView.ResizeMode.Stretch)
    table.setItemDelegate(PlainDelegate(table))
    table.setItemDelegateForColumn(COLUMNS.index("predicted"), ChipsDelegate(table))
    table.setItemDelegateForColumn(COLUMNS.index("status"), StatusDelegate(table))
    table.sortByColumn(COLUMNS.index("artist"), Qt.SortOrder.AscendingOrder)
    table.selectionModel().selectionChanged.connect(win.table_selection_changed)
    table.doubleClicked.connect(win.table_double_clicked)
    # the context menu: the actions that work on the selection, and Space to play
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for act in (win.act_play, win.act_review, win.act_playlist, win.act_export):
        table.addAction(act)
    play_key = QAction(table)
    play_key.setShortcut(QKeySequence(Qt.Key.Key_Space))
    play_key.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    play_key.triggered.connect(win.play_selected)
    table.addAction(play_key)
    return table


def _map_page(win) -> QStackedWidget:
    """The map panel, and the page shown while the first map is computed (later reloads keep
    the old map shown)."""
    win.map_panel = MapPanel(theme="auto")
    loading = QWidget()
    ll = QVBoxLayout(loading)
    ll.addStretch(1)
    title = QLabel("Drawing the map of your library…")
    title.setProperty("role", "heading")
    title.setAlignment(Qt.AlignmentFlag.AlignCenter)
    win.map_status = _hint_label("Similar-sounding tracks are placed near each other. "
                                 "This takes a moment the first time.")
    win.map_status.setWordWrap(True)
    win.map_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
    win.map_bar = QProgressBar()
    win.map_bar.setRange(0, 0)
    win.map_bar.setTextVisible(False)
    win.map_bar.setMaximumWidth(280)
    ll.addWidget(title)
    ll.addWidget(win.map_status)
    ll.addSpacing(8)
    ll.addWidget(win.map_bar, 0, Qt.AlignmentFlag.AlignHCenter)
    ll.addStretch(2)
    stack = QStackedWidget()
    stack.addWidget(win.map_panel)
    stack.addWidget(loading)
    holder = QWidget()
    lay = QVBoxLayout(holder)
    lay.setContentsMargins(12, 8, 6, 12)
    lay.addWidget(stack)
    win.map_stack = stack
    return holder


def _side(win) -> QSplitter:
    """The details and "more like this" as two tabs, over the preview player."""
    win.details = DetailsPane(win.runner)
    win.details.review_requested.connect(win.open_review)
    win.details.play_requested.connect(win.play_selected)
    win.similar_panel = SimilarPanel()
    win.side_tabs = QTabWidget()
    win.side_tabs.setDocumentMode(True)
    win.side_tabs.addTab(win.details, "Track")
    holder = QWidget()
    hl = QVBoxLayout(holder)
    hl.setContentsMargins(6, 6, 6, 6)
    hl.addWidget(win.similar_panel)
    win.side_tabs.addTab(holder, "More like this")

    win.player = PreviewPlayer()
    frame = QWidget()
    frame.setObjectName("playerFrame")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(8, 4, 8, 6)
    lay.addWidget(win.player)
    win.player_frame = frame

    side = QSplitter(Qt.Orientation.Vertical)
    side.addWidget(win.side_tabs)
    side.addWidget(frame)
    side.setChildrenCollapsible(False)
    side.setStretchFactor(0, 1)
    side.setStretchFactor(1, 0)
    return side


def _progress_strip(win) -> QFrame:
    """Phase, progress bar, rate and time left, the current file and Cancel (hidden when idle)."""
    strip = QFrame()
    strip.setProperty("role", "strip")
    sl = QHBoxLayout(strip)
    sl.setContentsMargins(14, 8, 14, 8)
    sl.setSpacing(12)
    win.phase_label = QLabel()
    win.phase_label.setMinimumWidth(180)
    f = win.phase_label.font()
    f.setWeight(f.Weight.DemiBold)
    win.phase_label.setFont(f)
    win.progress = QProgressBar()
    win.progress.setTextVisible(False)
    win.progress.setMinimumWidth(200)
    win.rate_label = _hint_label()
    win.rate_label.setMinimumWidth(230)
    win.file_label = _hint_label()
    win.file_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    win.cancel_button = QPushButton("Cancel")
    theme.set_icon(win.cancel_button, "cancel")
    win.cancel_button.clicked.connect(win.cancel_work)
    sl.addWidget(win.phase_label)
    sl.addWidget(win.progress, 2)
    sl.addWidget(win.rate_label)
    sl.addWidget(win.file_label, 3)
    sl.addWidget(win.cancel_button)
    strip.hide()
    return strip
