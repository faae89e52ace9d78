"""The settings dialog: the library's folders, the analysis (model or profile, device, quick
analysis, decoding processes) and how tags are written (mode, MP3 tag version, per-category
fields, thresholds and counts). It edits a :class:`desktop.settings.Settings` and saves it when
accepted.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QMessageBox,
                               QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from engine.errors import DeviceError
from engine.tagger import QUICK_ANALYSIS_PATCHES
from engine.vocab import CATEGORIES

from .settings import CATEGORY_LABELS, Settings, default_music_folder


def available_devices() -> list[tuple[str, str]]:
    """``(value, label)`` of the devices a user can pick: automatic, the CPU and each GPU."""
    from engine.tagger import describe_device, pick_device

    out = [("auto", f"Automatic ({describe_device(pick_device(None))})"), ("cpu", describe_device("cpu"))]
    try:
        import torch

        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", describe_device(f"cuda:{i}")))
    except (DeviceError, RuntimeError, OSError):  # a broken CUDA install must not break the dialog
        pass
    return out


def device_label(value: str) -> str:
    """What the settings' device will be, in words ("CPU (2 cores)", "NVIDIA H100 (CUDA)")."""
    from engine.tagger import describe_device, pick_device

    try:
        return describe_device(pick_device(None if value == "auto" else value))
    except (DeviceError, RuntimeError) as exc:  # e.g. CUDA chosen on a machine without it
        return f"unavailable ({exc})"


def model_choices() -> list[tuple[str, str]]:
    """``(name, label)`` for every model bundle found (bundled and the user's own)."""
    from engine.bundle import list_bundles
    from engine.paths import user_models_dir

    from engine.profiles import DEFAULT_PROFILE, PROFILES

    user = user_models_dir().resolve()
    out = []
    for p in PROFILES.values():
        models = " + ".join(p.models)
        label = f"{p.name.capitalize()} profile  —  {models}" + ("  (recommended)" if p.name == DEFAULT_PROFILE else "")
        out.append((p.name, label))
    for info in list_bundles():
        own = info.path is not None and info.path.resolve().parent == user
        auc = info.metrics.get("roc_auc") if isinstance(info.metrics, dict) else None
        extra = f"ROC-AUC {auc:.3f}" if isinstance(auc, (int, float)) else ""
        tag = "your model" if own else "bundled"
        label = f"{info.name}  —  {tag}" + (f", {extra}" if extra else "")
        out.append((info.name, label))
    return out


class SettingsDialog(QDialog):
    """Edit the settings. Changes are saved when the dialog is accepted."""

    #: emitted after saving, with the names of the sections that changed
    saved = Signal(set)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setMinimumWidth(620)
        tabs = QTabWidget()
        tabs.addTab(self._library_tab(), "Library")
        tabs.addTab(self._analysis_tab(), "Analysis")
        tabs.addTab(self._tags_tab(), "Tag writing")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(tabs)
        lay.addWidget(buttons)

    # -- tabs ------------------------------------------------------------------------------------
    def _library_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_hint("Tag Atlas looks for music in these folders and their sub-folders. "
                            "Files are only changed when you write tags."))
        self.folder_list = QListWidget()
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.folder_list.addItems(self.settings.folders)
        lay.addWidget(self.folder_list, 1)
        row = QHBoxLayout()
        add = QPushButton("Add folder…")
        add.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_folders)
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        lay.addLayout(row)
        return w

    def _remove_folders(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a music folder", default_music_folder())
        if folder and not self.folder_list.findItems(folder, Qt.MatchFlag.MatchExactly):
            self.folder_list.addItem(folder)

    def _analysis_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.model_combo = QComboBox()
        self._fill_models()
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        add_model = QPushButton("Add model…")
        add_model.setToolTip("Copy a model bundle (NAME.json + NAME.safetensors) into your models folder")
        add_model.clicked.connect(self._add_model)
        model_row.addWidget(add_model)
        form.addRow("Model", model_row)
        self.model_desc = _hint("")
        form.addRow("", self.model_desc)
        self.model_combo.currentIndexChanged.connect(self._show_model_desc)
        self._show_model_desc()
        self.device_combo = QComboBox()
        for value, label in available_devices():
            self.device_combo.addItem(label, value)
        _select_data(self.device_combo, self.settings.device)
        form.addRow("Device", self.device_combo)
        self.quick_check = QCheckBox(f"Quick analysis: listen to {QUICK_ANALYSIS_PATCHES} excerpts spread "
                                     "over each track instead of all of it (about 10× faster; "
                                     "the tags hardly differ)")
        self.quick_check.setChecked(self.settings.quick_analysis)
        form.addRow("", self.quick_check)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(-1, 32)
        self.workers_spin.setSpecialValueText("Automatic")
        self.workers_spin.setValue(-1 if self.settings.workers is None else self.settings.workers)
        self.workers_spin.setToolTip("Processes that decode audio while the model runs (0: none)")
        form.addRow("Decoding processes", self.workers_spin)
        return w

    def _fill_models(self) -> None:
        self.model_combo.clear()
        choices = model_choices()
        for name, label in choices:
            self.model_combo.addItem(label, name)
        if self.settings.model not in [n for n, _ in choices]:
            self.model_combo.addItem(f"{self.settings.model}  —  not found", self.settings.model)
        _select_data(self.model_combo, self.settings.model)

    def _show_model_desc(self) -> None:
        from engine.bundle import read_bundle_info
        from engine.errors import ModelError

        from engine.profiles import PROFILES

        name = self.model_combo.currentData()
        if name in PROFILES:
            self.model_desc.setText(f"Runs {' and '.join(PROFILES[name].models)} on one decode: "
                                    f"{PROFILES[name].description}. Their tags are combined into "
                                    "one vocabulary.")
            return
        try:
            info = read_bundle_info(name)
            text = info.description or ""
            if info.license:
                text += f"  License: {info.license.splitlines()[0][:80]}."
        except (ModelError, TypeError):
            text = "This model bundle cannot be found; pick another one."
        self.model_desc.setText(text)

    def _add_model(self) -> None:
        from engine.bundle import read_bundle_info
        from engine.errors import ModelError
        from engine.paths import user_models_dir

        path, _ = QFileDialog.getOpenFileName(self, "Add a model bundle", str(Path.home()),
                                              "Tag Atlas model bundle (*.json)")
        if not path:
            return
        src = Path(path)
        try:
            info = read_bundle_info(src)
            weights = src.with_suffix(".safetensors")
            if not weights.is_file():
                raise ModelError(f"{weights.name} is missing next to {src.name}")
            dest = user_models_dir()
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f"{info.name}.json")
            shutil.copy2(weights, dest / f"{info.name}.safetensors")
        except (ModelError, OSError) as exc:
            QMessageBox.warning(self, "Cannot add this model", str(exc))
            return
        self.settings.model = info.name
        self._fill_models()

    def _tags_tab(self) -> QWidget:
        from engine.metadata import MODES

        w = QWidget()
        lay = QVBoxLayout(w)
        form = QFormLayout()
        self.mode_combo = QComboBox()
        labels = {"fill": "Fill empty fields only (your own tags are never touched)",
                  "merge": "Merge: keep your tags and add the new ones",
                  "replace": "Replace your values with the predictions"}
        for m in MODES:
            self.mode_combo.addItem(labels[m], m)
        _select_data(self.mode_combo, self.settings.mode)
        form.addRow("When a file has tags", self.mode_combo)
        self.id3_combo = QComboBox()
        self.id3_combo.addItem("ID3v2.4 (current players)", 4)
        self.id3_combo.addItem("ID3v2.3 (older players, Windows Explorer)", 3)
        _select_data(self.id3_combo, self.settings.id3_version)
        form.addRow("MP3 tag version", self.id3_combo)
        self.scores_check = QCheckBox("Also store every tag's score (TAGATLAS_SCORES field)")
        self.scores_check.setChecked(self.settings.write_scores)
        form.addRow("", self.scores_check)
        self.rhythm_check = QCheckBox("Also write the tempo (BPM) and the key")
        self.rhythm_check.setChecked(self.settings.write_rhythm)
        form.addRow("", self.rhythm_check)
        self.notation_combo = QComboBox()
        for value, label in (("standard", "Standard (F#m, Bb)"), ("camelot", "Camelot (11A, 6B)"),
                             ("openkey", "Open Key (4m, 11d)")):
            self.notation_combo.addItem(label, value)
        _select_data(self.notation_combo, self.settings.key_notation)
        form.addRow("Key notation", self.notation_combo)
        self.mtime_check = QCheckBox("Keep the files' modification times")
        self.mtime_check.setChecked(self.settings.preserve_mtime)
        form.addRow("", self.mtime_check)
        lay.addLayout(form)

        box = QGroupBox("Per category")
        grid = QGridLayout(box)
        for col, head in enumerate(("", "Write to field", "Threshold", "At most")):
            lbl = QLabel(head)
            lbl.setProperty("role", "caption")
            grid.addWidget(lbl, 0, col)
        self.field_edits: dict[str, QLineEdit] = {}
        self.thr_spins: dict[str, QDoubleSpinBox] = {}
        self.max_spins: dict[str, QSpinBox] = {}
        for r, cat in enumerate(CATEGORIES, start=1):
            grid.addWidget(QLabel(CATEGORY_LABELS[cat]), r, 0)
            edit = QLineEdit(self.settings.field_for(cat) or "")
            edit.setPlaceholderText("not written")
            edit.setToolTip("genre or mood for the fields players show, or a custom field name; "
                            "empty: not written")
            grid.addWidget(edit, r, 1)
            thr = QDoubleSpinBox()
            thr.setRange(-0.01, 1.0)
            thr.setSingleStep(0.05)
            thr.setDecimals(2)
            thr.setSpecialValueText("Model's")
            value = self.settings.threshold_for(cat)
            thr.setValue(-0.01 if value is None else value)
            grid.addWidget(thr, r, 2)
            mx = QSpinBox()
            mx.setRange(0, 10)
            mx.setValue(self.settings.max_for(cat))
            grid.addWidget(mx, r, 3)
            self.field_edits[cat], self.thr_spins[cat], self.max_spins[cat] = edit, thr, mx
        grid.setColumnStretch(1, 1)
        lay.addWidget(box)
        lay.addStretch(1)
        return w

    # -- saving ----------------------------------------------------------------------------------------
    def accept(self) -> None:
        from engine.metadata import check_field_name

        for edit in self.field_edits.values():
            name = edit.text().strip()
            if name:
                try:
                    check_field_name(name)
                except ValueError as exc:
                    self.tabs.setCurrentIndex(2)
                    QMessageBox.warning(self, "Field name", str(exc))
                    return
        s = self.settings
        changed: set[str] = set()
        folders = [self.folder_list.item(i).text() for i in range(self.folder_list.count())]
        if folders != s.folders:
            changed.add("folders")
        s.folders = folders
        for attr, value, section in (
            ("model", self.model_combo.currentData(), "analysis"),
            ("device", self.device_combo.currentData(), "analysis"),
            ("quick_analysis", self.quick_check.isChecked(), "analysis"),
            ("workers", None if self.workers_spin.value() < 0 else self.workers_spin.value(), "analysis"),
            ("mode", self.mode_combo.currentData(), "tags"),
            ("id3_version", self.id3_combo.currentData(), "tags"),
            ("write_scores", self.scores_check.isChecked(), "tags"),
            ("write_rhythm", self.rhythm_check.isChecked(), "tags"),
            ("key_notation", self.notation_combo.currentData(), "tags"),
            ("preserve_mtime", self.mtime_check.isChecked(), "tags"),
        ):
            if getattr(s, attr) != value:
                changed.add(section if attr != "model" else "model")
                setattr(s, attr, value)
        for cat in CATEGORIES:
            field = self.field_edits[cat].text().strip() or None
            thr = self.thr_spins[cat].value()
            thr = None if thr < 0 else thr
            if (field != s.field_for(cat) or thr != s.threshold_for(cat)
                    or self.max_spins[cat].value() != s.max_for(cat)):
                changed.add("tags")
            s.set_field(cat, field)
            s.set_threshold(cat, thr)
            s.set_max(cat, self.max_spins[cat].value())
        s.sync()
        super().accept()
        self.saved.emit(changed)


def _select_data(combo: QComboBox, value: Any) -> None:
    i = combo.findData(value)
    if i >= 0:
        combo.setCurrentIndex(i)


def _hint(text: str) -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setProperty("role", "hint")
    return lbl
