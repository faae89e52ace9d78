"""Settings: kept in an isolated INI file, turned into the engine's tag policy, edited in the
dialog."""
from __future__ import annotations

import pytest


def test_settings_live_in_the_isolated_folder_and_persist(gui_settings, tmp_path):
    from desktop.settings import Settings, config_path

    assert config_path() == tmp_path / "config" / "settings.ini"
    s = gui_settings
    s.folders = [str(tmp_path / "Music"), str(tmp_path / "Music"), str(tmp_path / "More")]
    s.quick_analysis = False
    s.mode = "merge"
    s.id3_version = 3
    s.write_scores = False
    s.set_threshold("genre", 0.3)
    s.set_max("mood", 1)
    s.set_field("era", None)
    s.set_field("instrument", "INSTRUMENTS")
    s.sync()
    again = Settings()                       # a new instance reads the file back
    assert again.folders == [str(tmp_path / "Music"), str(tmp_path / "More")]
    assert again.model == s.model and again.workers == 0 and again.device == "cpu"
    assert not again.quick_analysis and again.max_patches is None      # full analysis
    assert again.threshold_for("genre") == 0.3 and again.threshold_for("mood") is None
    p = again.policy()
    assert p.mode == "merge" and p.id3_version == 3 and p.write_scores is False
    assert p.rule("genre").threshold == 0.3 and p.rule("mood").max_count == 1
    assert p.field_for("era") is None and p.field_for("instrument") == "INSTRUMENTS"
    assert again.policy(thresholds={"genre": None}).rule("genre").threshold is None
    assert "settings.ini" in str(again.path) and again.path.read_text().count("merge") == 1


def test_defaults_match_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGATLAS_CONFIG_DIR", str(tmp_path / "fresh"))
    from desktop.settings import Settings
    from engine.bundle import DEFAULT_MODEL
    from engine.metadata import TagPolicy
    from engine.tagger import QUICK_ANALYSIS_PATCHES

    s = Settings()
    from engine.profiles import DEFAULT_PROFILE

    assert s.folders == [] and s.model == DEFAULT_PROFILE and s.device == "auto"
    s.qs.setValue("analysis/model", DEFAULT_MODEL)       # a setting from before profiles
    assert s.model == DEFAULT_PROFILE
    s.qs.setValue("analysis/model", "my-model")          # a user's own model stays chosen
    assert s.model == "my-model"
    s.qs.remove("analysis/model")
    assert s.engine_device is None and s.workers is None
    assert s.quick_analysis and s.max_patches == QUICK_ANALYSIS_PATCHES   # the scanner's default depth
    assert s.policy().to_dict() == TagPolicy().to_dict()


def test_dialog_saves_what_the_user_changed(qtbot, themed_app, gui_settings, tmp_path):
    from desktop.settings_dialog import SettingsDialog

    dlg = SettingsDialog(gui_settings)
    qtbot.addWidget(dlg)
    dlg.folder_list.addItem(str(tmp_path / "Music"))
    dlg.mode_combo.setCurrentIndex(dlg.mode_combo.findData("replace"))
    dlg.id3_combo.setCurrentIndex(dlg.id3_combo.findData(3))
    dlg.thr_spins["mood"].setValue(0.25)
    dlg.field_edits["era"].setText("")
    # the model list offers the bundled models and the user's own
    models = [dlg.model_combo.itemData(i) for i in range(dlg.model_combo.count())]
    assert {"musicnn-msd", "vgg-mtt", gui_settings.model} <= set(models)
    with qtbot.waitSignal(dlg.saved) as blocker:
        dlg.accept()
    assert blocker.args[0] >= {"folders", "tags"}
    assert gui_settings.folders == [str(tmp_path / "Music")]
    p = gui_settings.policy()
    assert p.mode == "replace" and p.id3_version == 3
    assert p.rule("mood").threshold == pytest.approx(0.25)
    assert p.field_for("era") is None


def test_dialog_refuses_a_reserved_field_name(qtbot, themed_app, gui_settings, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from desktop.settings_dialog import SettingsDialog

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    dlg = SettingsDialog(gui_settings)
    qtbot.addWidget(dlg)
    dlg.field_edits["instrument"].setText("TITLE")
    dlg.accept()
    assert warned and "TITLE" in warned[0]
    assert gui_settings.field_for("instrument") == "TAGATLAS_INSTRUMENTS"   # unchanged
