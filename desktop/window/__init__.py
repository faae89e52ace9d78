"""The main window, in parts (as MusicBrainz Picard's): :mod:`.actions` (the QActions and
when they are enabled), :mod:`.layout` (the widgets and layouts, every panel built there),
:mod:`.library_view` and :mod:`.scanning` (the table and the scan, parts of the window class),
:mod:`.panels` (the map, player and "more like this" kept in step) and :mod:`.main_window`
(the window class that puts them together)."""
from .layout import PAGE_LIBRARY, PAGE_WELCOME, TAB_LIBRARY, TAB_MAP, TAB_PROBLEMS
from .main_window import MainWindow

__all__ = ["MainWindow", "PAGE_LIBRARY", "PAGE_WELCOME", "TAB_LIBRARY", "TAB_MAP", "TAB_PROBLEMS"]
