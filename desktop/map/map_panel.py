"""The map with its toolbar: search, colour-by, selection tools and "fit all".

Public API:

``MapPanel(parent=None, *, theme="auto")``
    ``view``                 the :class:`~desktop.map.map_view.MapView` (connect its signals:
                             ``selection_changed``, ``current_changed``, ``play_requested``,
                             ``similar_requested``, ``review_requested``,
                             ``playlist_requested``, ``hovered_changed``)
    ``set_map(LibraryMap | None)``   show a library map (None: the empty state)
    ``library_map()``        the map shown, or None
    ``set_color_by(what)``   "top_genre", "existing_genre", "bpm", "key" or "tag:<display name>"
    ``color_by()``           the current choice, in the same form
    ``search_box``           the QLineEdit (e.g. to focus it from a shortcut)
    signal ``color_by_changed(str)``
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QHBoxLayout, QLabel, QLineEdit,
                               QToolButton, QVBoxLayout, QWidget)

from desktop.map.data import MapData
from desktop.map.library_map import LibraryMap
from desktop.map.map_view import MapView

SEARCH_DELAY_MS = 150


class MapPanel(QWidget):
    """Toolbar + :class:`MapView`. See the module docstring."""

    color_by_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, theme: str = "auto") -> None:
        super().__init__(parent)
        self._map: LibraryMap | None = None
        self.view = MapView(self, theme=theme)

        self.search_box = QLineEdit(self)
        self.search_box.setPlaceholderText("Search the map: title, artist or tag…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(220)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.run_search)
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_box.returnPressed.connect(self.run_search)
        self._match_label = QLabel(self)
        self._match_label.setMinimumWidth(
            self._match_label.fontMetrics().horizontalAdvance("000,000 found") + 8)

        self._color_combo = QComboBox(self)
        self._color_combo.setToolTip("What the colours of the points show")
        self._color_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._color_combo.currentIndexChanged.connect(self._color_choice_changed)

        self._tools = QButtonGroup(self)
        self._tools.setExclusive(True)
        tool_row = []
        for mode, text, tip in (
                ("pan", "Move", "Drag to move the map (Shift+drag: rectangle, Ctrl+drag: lasso)"),
                ("rect", "Rectangle", "Drag a rectangle to select the tracks inside it"),
                ("lasso", "Lasso", "Draw around tracks to select them")):
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setProperty("mode", mode)
            b.setAutoRaise(True)
            self._tools.addButton(b)
            tool_row.append(b)
        tool_row[0].setChecked(True)
        self._tools.buttonToggled.connect(self._tool_toggled)
        self._labels_button = QToolButton(self)
        self._labels_button.setText("Labels")
        self._labels_button.setToolTip("Show the names of the map's regions")
        self._labels_button.setCheckable(True)
        self._labels_button.setChecked(True)
        self._labels_button.setAutoRaise(True)
        self._labels_button.toggled.connect(self._labels_toggled)
        self._play_button = QToolButton(self)
        self._play_button.setText("Play on click")
        self._play_button.setToolTip("Clicking a point also plays a preview of it")
        self._play_button.setCheckable(True)
        self._play_button.setChecked(self.view.play_on_click())
        self._play_button.setAutoRaise(True)
        self._play_button.toggled.connect(self.view.set_play_on_click)
        fit = QToolButton(self)
        fit.setText("Fit all")
        fit.setToolTip("Show the whole map (0 or Home)")
        fit.setAutoRaise(True)
        fit.clicked.connect(self.view.fit_all)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        bar.setSpacing(6)
        bar.addWidget(self.search_box, 2)
        bar.addWidget(self._match_label)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Colour by", self))
        bar.addWidget(self._color_combo)
        bar.addSpacing(8)
        for b in tool_row:
            bar.addWidget(b)
        bar.addWidget(self._labels_button)
        bar.addWidget(self._play_button)
        bar.addWidget(fit)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.view.highlight_changed.connect(self._highlight_changed)
        self.set_map(None)

    # ------------------------------------------------------------------ content
    def set_map(self, library_map: LibraryMap | None) -> None:
        """Show ``library_map`` (keeps the colour-by choice when it still applies)."""
        previous = self.color_by() if self._map is not None else "top_genre"
        self._map = library_map
        self.view.set_data(library_map.data if library_map is not None else MapData.empty())
        self.view.set_tooltip_provider(None)
        self._fill_color_combo()
        self._regions = list(library_map.regions) if library_map is not None else []
        self.view.set_regions(self._regions if self._labels_button.isChecked() else [])
        self.search_box.clear()
        self._match_label.clear()
        if not self.set_color_by(previous):
            self.set_color_by("top_genre")
        enabled = library_map is not None and len(library_map.data) > 0
        for w in (self.search_box, self._color_combo):
            w.setEnabled(enabled)

    def library_map(self) -> LibraryMap | None:
        return self._map

    def _fill_color_combo(self) -> None:
        combo = self._color_combo
        combo.blockSignals(True)
        combo.clear()
        m = self._map
        if m is not None:
            if m.has_scores():
                combo.addItem("Top genre (predicted)", "top_genre")
            combo.addItem("Genre in the files' tags", "existing_genre")
            if m.has_rhythm():
                combo.addItem("Tempo (BPM)", "bpm")
                combo.addItem("Key (Camelot wheel)", "key")
            if m.has_scores():
                combo.insertSeparator(combo.count())
                for t in m.tag_columns():
                    combo.addItem(f"{t.display} score", f"tag:{t.display}")
        combo.blockSignals(False)

    def set_color_by(self, what: str) -> bool:
        """Colour by "top_genre", "existing_genre" or "tag:<display name>"; returns False
        when that is not available for the map shown."""
        i = self._color_combo.findData(what)
        if i < 0:
            if self._map is None:
                self.view.set_coloring(None)
            return False
        if self._color_combo.currentIndex() != i:
            self._color_combo.setCurrentIndex(i)   # -> _color_choice_changed
        else:
            self._apply_color(what)
        return True

    def color_by(self) -> str:
        return self._color_combo.currentData() or ""

    def _color_choice_changed(self, _index: int) -> None:
        what = self._color_combo.currentData()
        if what:
            self._apply_color(what)

    def _apply_color(self, what: str) -> None:
        m = self._map
        if m is None:
            return
        if what == "top_genre":
            coloring = m.top_genre_coloring()
        elif what == "existing_genre":
            coloring = m.existing_genre_coloring()
        elif what == "bpm":
            coloring = m.bpm_coloring()
        elif what == "key":
            coloring = m.key_coloring()
        else:
            coloring = m.tag_coloring(what.split(":", 1)[1])
        self.view.set_coloring(coloring)
        self.color_by_changed.emit(what)

    # ------------------------------------------------------------------ toolbar
    def run_search(self) -> None:
        """Search for the search box's text now (typing searches after a short pause)."""
        self._search_timer.stop()
        self.view.set_search(self.search_box.text())

    def _highlight_changed(self, count: int) -> None:
        lit = self.view.highlighted_ids()
        self._match_label.setText("" if lit is None else f"{count:,} found")

    def _tool_toggled(self, button, checked: bool) -> None:
        if checked:
            self.view.set_drag_mode(button.property("mode"))

    def _labels_toggled(self, on: bool) -> None:
        self.view.set_regions(self._regions if on else [])

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Slash:
            self.search_box.setFocus()
            self.search_box.selectAll()
            event.accept()
            return
        super().keyPressEvent(event)
