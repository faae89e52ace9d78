"""How the desktop is put together (issue 13, item 5): importing it changes nothing in the
interpreter, background children start without Qt, and the window builds every panel itself."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_the_desktop_patches_nothing():
    """No refcount guard on import (desktop.app.main applies it), no Qt for ``import desktop``."""
    assert _python("import sys, desktop; print(any(m.startswith('PySide6') for m in sys.modules))") == "False"
    code = ("import sys, desktop.map, desktop.player, desktop.similar_panel, desktop.window; "
            "print(sys.getrefcount(None) < 1 << 59)")
    assert _python(code) == "True"


def _qt_modules_here() -> list[str]:
    return sorted(m for m in sys.modules if m.startswith("PySide6"))


def test_children_start_without_qt():
    from desktop.background import call_in_child

    assert call_in_child(_qt_modules_here) == []


def test_the_window_builds_its_panels(qtbot, themed_app, gui_settings):  # noqa: F811
    from desktop.map import MapPanel
    from desktop.player import PreviewPlayer
    from desktop.similar_panel import SimilarPanel
    from desktop.window import TAB_MAP, MainWindow

    win = MainWindow(gui_settings, load_sync=True)
    qtbot.addWidget(win)
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == ["Library", "Map", "Problems"]
    assert isinstance(win.map_panel, MapPanel) and win.tabs.widget(TAB_MAP).isAncestorOf(win.map_panel)
    assert isinstance(win.similar_panel, SimilarPanel) and win.side.isAncestorOf(win.similar_panel)
    assert isinstance(win.player, PreviewPlayer) and win.side.isAncestorOf(win.player)
    if not win.player.is_available():     # the player area says what is missing
        assert win.player.unavailable_reason()
    assert [text for _keys, text in win.shortcuts()][:2] == ["Add folder", "Rescan"]
