"""The welcome page shown while the library is empty: pick the music folder and start."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from engine.tagger import QUICK_ANALYSIS_PATCHES

from . import theme
from .settings import Settings, default_music_folder


class FirstRunPage(QWidget):
    """Emits ``scan_requested(folder)`` when the user starts."""

    scan_requested = Signal(str)
    settings_requested = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Welcome to Tag Atlas")
        title.setProperty("role", "title")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 1.5)
        title.setFont(f)
        intro = QLabel("Tag Atlas listens to your music and suggests genres, moods, instruments and "
                       "eras. You review the suggestions and write the ones you like into your "
                       "files — the audio is never changed, your own tags are kept, and every "
                       "write can be undone.")
        intro.setWordWrap(True)
        intro.setAlignment(Qt.AlignmentFlag.AlignCenter)
        intro.setProperty("role", "hint")

        card = QFrame()
        card.setProperty("role", "card")
        grid = QGridLayout(card)
        grid.setContentsMargins(22, 20, 22, 20)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(12)
        grid.addWidget(_caption("Music folder"), 0, 0)
        self.folder_edit = QLineEdit(settings.folders[0] if settings.folders else default_music_folder())
        self.folder_edit.setMinimumWidth(320)
        browse = QPushButton("Browse…")
        theme.set_icon(browse, "folder-open")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        grid.addLayout(row, 0, 1)
        grid.addWidget(_caption("Listens with"), 1, 0)
        self.device_label = QLabel("…")
        grid.addWidget(self.device_label, 1, 1)
        model_row = QHBoxLayout()
        self.model_label = QLabel(settings.model)
        f = self.model_label.font()
        f.setWeight(f.Weight.DemiBold)
        self.model_label.setFont(f)
        change = QPushButton("Change…")
        change.setFlat(True)
        change.setCursor(Qt.CursorShape.PointingHandCursor)
        change.clicked.connect(self.settings_requested)
        self.model_desc = QLabel()
        self.model_desc.setProperty("role", "hint")
        self.model_desc.setWordWrap(True)
        # wrapped text inside nested layouts: reserve its lines, so the card never clips it
        self.model_desc.setMinimumHeight(self.model_desc.fontMetrics().lineSpacing() * 3 + 2)
        names = QVBoxLayout()
        names.setSpacing(2)
        names.addWidget(self.model_label)
        names.addWidget(self.model_desc)
        model_row.addLayout(names, 1)
        model_row.addWidget(change, 0, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(model_row, 2, 1)
        grid.addWidget(_caption("Model"), 2, 0, Qt.AlignmentFlag.AlignTop)
        self.quick_check = QCheckBox(f"Quick analysis ({QUICK_ANALYSIS_PATCHES} excerpts per track, about 10× faster)")
        self.quick_check.setToolTip("Listen to a few 3-second excerpts spread over each track; the "
                                    "tags hardly differ. Untick to analyse every second.")
        self.quick_check.setChecked(settings.quick_analysis)
        grid.addWidget(self.quick_check, 3, 1)
        grid.setColumnStretch(1, 1)

        self.scan_button = QPushButton("  Scan my music")
        theme.set_icon(self.scan_button, "rescan", "accent_text")
        self.scan_button.setProperty("role", "primary")
        self.scan_button.setMinimumHeight(40)
        self.scan_button.setMinimumWidth(220)
        self.scan_button.setDefault(True)
        self.scan_button.clicked.connect(self._start)
        note = QLabel("Scanning only reads your files. Nothing is written until you accept tags.")
        note.setProperty("role", "hint")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error_label = QLabel()
        self.error_label.setStyleSheet(f"color: {theme.hex_color('danger')};")
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addWidget(logo)
        column.addWidget(title)
        column.addWidget(intro)
        column.addSpacing(10)
        column.addWidget(card)
        column.addSpacing(6)
        column.addWidget(self.scan_button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(note)
        column.addWidget(self.error_label)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(620)
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        h = QHBoxLayout()
        h.addStretch(1)
        h.addWidget(holder, 10)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(3)

    def set_device(self, text: str) -> None:
        self.device_label.setText(text)

    def set_model(self, name: str) -> None:
        """Show the model ``name`` with a line about what it was trained on."""
        from engine.bundle import read_bundle_info
        from engine.errors import ModelError
        from engine.profiles import PROFILES

        if name in PROFILES:
            p = PROFILES[name]
            self.model_label.setText(f"{p.name.capitalize()} profile: {' + '.join(p.models)}")
            self.model_desc.setText(p.description[:1].upper() + p.description[1:])
            return
        self.model_label.setText(name)
        try:
            info = read_bundle_info(name)
        except ModelError:
            self.model_desc.setText("This model is not installed; choose another one.")
            return
        desc = (info.description or "").split(". ")[0].split(":")[0].rstrip(".")
        auc = info.metrics.get("roc_auc") if isinstance(info.metrics, dict) else None
        if isinstance(auc, (int, float)):
            desc += f" (ROC-AUC {auc:.2f})"
        self.model_desc.setText(desc)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where is your music?", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _start(self) -> None:
        folder = os.path.expanduser(self.folder_edit.text().strip())
        if not folder or not os.path.isdir(folder):
            self.show_error("This folder does not exist. Pick the folder that holds your music.")
            return
        self.show_error("")
        self.settings.quick_analysis = self.quick_check.isChecked()
        self.scan_requested.emit(folder)


def _caption(text: str) -> QLabel:
    lbl = QLabel(text)
    lbl.setProperty("role", "caption")
    return lbl
