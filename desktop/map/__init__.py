"""The interactive map of the library (issue 6, point 5).

:class:`MapView` is the scatter widget (plain arrays in, signals out), :class:`MapPanel`
adds its toolbar, :func:`load_library_map` builds what they show from a library. See
``desktop/map/map_view.py`` for the full signal/slot list. Wiring it into a window::

    panel = MapPanel(theme="auto")
    # in a worker thread, with a Library opened there:
    #     library_map = load_library_map(lib, model, progress=..., cancel=...)
    panel.set_map(library_map)                       # back on the GUI thread
    view = panel.view
    view.selection_changed.connect(table.select_ids)          # map -> table
    table.selection_changed.connect(view.set_selection)       # table -> map (emits nothing)
    view.play_requested.connect(lambda tid: player.play_file(path_of[tid], track_id=tid))
    view.similar_requested.connect(similar_panel.show_similar)
    view.playlist_requested.connect(similar_panel.playlist_from_selection)
    view.review_requested.connect(open_review)

On Python 3.11 with PySide6 6.12, apply :func:`desktop.qt_refcount.guard_none_refcount` once
at start-up before painting (the app does, in :func:`desktop.app.main`).
"""
from desktop.map.data import CategoryColoring, MapData, RegionLabel, ValueColoring
from desktop.map.library_map import LibraryMap, load_library_map
from desktop.map.map_panel import MapPanel
from desktop.map.map_view import MapView

__all__ = ["CategoryColoring", "MapData", "RegionLabel", "ValueColoring", "LibraryMap",
           "load_library_map", "MapPanel", "MapView"]
