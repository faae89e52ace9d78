"""The interactive map of the library (issue 6, point 5).

:class:`MapView` is the scatter widget (plain arrays in, signals out), :class:`MapPanel`
adds its toolbar, :func:`load_library_map` builds what they show from a library. See
``desktop/map/map_view.py`` for the full signal/slot list.
"""
from desktop.map import qt_refcount  # noqa: F401  (first: guards None before any Qt call)
from desktop.map.data import CategoryColoring, MapData, RegionLabel, ValueColoring
from desktop.map.library_map import LibraryMap, load_library_map
from desktop.map.map_panel import MapPanel
from desktop.map.map_view import MapView

__all__ = ["CategoryColoring", "MapData", "RegionLabel", "ValueColoring", "LibraryMap",
           "load_library_map", "MapPanel", "MapView"]
