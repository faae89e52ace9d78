"""Fixtures of the desktop tests: an isolated settings file with the tiny model, a themed app."""
from __future__ import annotations

import pytest

from tests._desktop_util import ensure_gui_model


@pytest.fixture
def gui_settings(tmp_path, monkeypatch):
    """Settings in a temporary folder, the tiny model selected, decoding in the scan thread."""
    monkeypatch.setenv("TAGATLAS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TAGATLAS_DB", str(tmp_path / "library.sqlite3"))
    from desktop.settings import Settings

    s = Settings()
    s.model = ensure_gui_model()
    s.workers = 0
    s.device = "cpu"
    s.sync()
    return s


@pytest.fixture
def themed_app(qapp):
    from desktop import theme

    theme.apply_theme(qapp, dark=False)
    return qapp
