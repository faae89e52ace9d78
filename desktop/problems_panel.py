"""The problems panel: every file that could not be read, analysed or written, and why."""
from __future__ import annotations

import os

from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QStackedWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from . import theme

STAGE_LABELS = {"scan": "Reading", "decode": "Decoding", "analyse": "Analysing", "write": "Writing tags"}


def plain_reason(reason: str) -> str:
    """The reason without a long technical parenthesis at its end (decoder messages); the
    whole text stays in the tooltip."""
    cut = reason.find(" (")
    if cut > 20 and reason.endswith(")") and len(reason) - cut > 50:
        return reason[:cut]
    return reason


class ProblemsPanel(QWidget):
    """A list of :class:`engine.library.ErrorRecord`; ``retry_requested`` asks for a rescan that
    tries the failed files again, ``track_activated`` selects a track in the library."""

    retry_requested = Signal()
    track_activated = Signal(int)
    count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "When", "What went wrong", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSortingEnabled(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(0, 260)
        self.tree.setColumnWidth(3, 260)
        self.tree.itemActivated.connect(self._activated)

        self.summary = QLabel()
        self.summary.setProperty("role", "hint")
        self.retry_button = QPushButton("Try these files again")
        theme.set_icon(self.retry_button, "rescan")
        self.retry_button.setToolTip("Scan again and retry every file that failed before")
        self.retry_button.clicked.connect(self.retry_requested)
        self.open_button = QPushButton("Show in folder")
        theme.set_icon(self.open_button, "folder-open")
        self.open_button.clicked.connect(self._open_folder)
        self.copy_button = QPushButton("Copy list")
        self.copy_button.clicked.connect(self._copy)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.open_button)
        bar.addWidget(self.retry_button)

        empty = QWidget()
        el = QVBoxLayout(empty)
        el.addStretch(1)
        icon = QLabel()
        icon.setPixmap(theme.icon("check", "written", 40).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("No problems")
        title.setProperty("role", "heading")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # two explicit lines, not word wrap: a wrapped label in a stacked page that is not
        # shown yet gets a one-line height and its text is clipped
        text = QLabel("Files that cannot be read, analysed or written are listed here,\n"
                      "each with the reason in plain words. Nothing else is ever skipped silently.")
        text.setProperty("role", "hint")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        el.addWidget(icon)
        el.addWidget(title)
        el.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        el.addStretch(2)

        listing = QWidget()
        ll = QVBoxLayout(listing)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(bar)
        ll.addWidget(self.tree, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(listing)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.addWidget(self.stack)
        self.records: list = []

    def set_errors(self, records: list) -> None:
        """Show ``records`` (:class:`engine.library.ErrorRecord`, oldest first)."""
        self.records = list(records)
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        items = []
        for rec in reversed(self.records):  # newest first
            shown = rec.display_path
            folder, name = os.path.split(shown)
            item = QTreeWidgetItem([name or shown, STAGE_LABELS.get(rec.stage, rec.stage),
                                    plain_reason(rec.reason), folder])
            item.setToolTip(0, shown)
            item.setToolTip(2, f"{rec.reason}\n({rec.kind})")
            item.setIcon(0, theme.icon("warning", "error", 16))
            item.setData(0, Qt.ItemDataRole.UserRole, rec.track_id)
            item.setData(3, Qt.ItemDataRole.UserRole, rec.path)
            items.append(item)
        self.tree.addTopLevelItems(items)
        self.tree.setSortingEnabled(True)
        n = len(self.records)
        files = len({r.path for r in self.records})
        self.summary.setText(f"{files:,} file{'s' if files != 1 else ''} with problems"
                             + (f" ({n:,} reports)" if n != files else ""))
        self.stack.setCurrentIndex(1 if n else 0)
        self.count_changed.emit(files)

    def reasons(self) -> list[tuple[str, str]]:
        """(path, reason) of every listed problem (what the user sees)."""
        return [(r.path, r.reason) for r in self.records]

    def _activated(self, item: QTreeWidgetItem) -> None:
        tid = item.data(0, Qt.ItemDataRole.UserRole)
        if tid is not None:
            self.track_activated.emit(int(tid))

    def _open_folder(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        path = item.data(3, Qt.ItemDataRole.UserRole)
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))

    def _copy(self) -> None:
        lines = [f"{r.display_path}\t{STAGE_LABELS.get(r.stage, r.stage)}\t{r.reason}" for r in self.records]
        QGuiApplication.clipboard().setText("\n".join(lines))
