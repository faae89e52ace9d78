"""The interactive map: a scatter of the library's layout that stays fluid at 50,000 points.

:class:`MapView` is a plain ``QWidget``. The points are stamped into a numpy pixel buffer by
:class:`desktop.map.raster.PointCanvas` (about 15-20 ms for 50,000 points on two busy
cores) and kept as a cached ``QImage`` for one view transform. A paint after a pan or zoom
either re-renders at once (when the last render was quick) or draws the cached image
shifted and scaled, and re-renders a moment later; region labels, the legend, the hover
ring and the lasso are drawn over it with QPainter on every paint (they are cheap).
Hover and click use :class:`desktop.map.point_index.PointIndex` (microseconds per pick).

Public API (everything else is private):

Signals
    ``selection_changed(list)``   track ids, after the user selects (click, rectangle, lasso,
                                  Ctrl+A, Esc, context menu); not emitted by ``set_selection``
    ``current_changed(object)``   the track id the user clicked, or None
    ``hovered_changed(object)``   the track id under the mouse, or None
    ``play_requested(int)``       a click on a point (unless ``set_play_on_click(False)``),
                                  a double-click, Return, or "Play" in the menu
    ``similar_requested(int)``    "More like this" in the context menu
    ``review_requested(list)``    "Review tags for the selection" (track ids)
    ``playlist_requested(list)``  "Make a playlist from the selection" (track ids)
    ``highlight_changed(int)``    how many points are highlighted (search, legend click)
    ``view_changed()``            the transform changed (pan, zoom, fit)

Slots / methods
    ``set_data(MapData)``, ``set_coloring(CategoryColoring | ValueColoring | None)``,
    ``set_regions(regions)``, ``set_selection(ids)``, ``selected_ids()``,
    ``set_search(text) -> int``, ``set_highlight(ids | None) -> int``,
    ``set_tooltip_provider(callable | None)``, ``set_drag_mode("pan"|"rect"|"lasso")``,
    ``set_theme("auto"|"dark"|"light")``, ``set_play_on_click(bool)``, ``fit_all()``, ``zoom_by(factor, anchor=None)``,
    ``pan_by(dx, dy)``, ``ensure_visible(ids)``, ``point_at(pos)``, ``screen_pos(track_id)``,
    ``map_to_screen(x, y)``, ``screen_to_map(x, y)``, ``render_now()``.

Mouse and keys: drag pans (Shift+drag: rectangle, Ctrl+drag: lasso; or pick the mode with
``set_drag_mode``); the wheel zooms around the cursor; click selects (Ctrl+click toggles);
double-click plays; right-click opens the actions; arrows pan, +/- zoom, 0 or Home fits
all, Esc clears, Ctrl+A selects the highlighted points (or all), Return plays.
"""
from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QAction, QColor, QFont, QFontMetricsF, QImage, QKeySequence,
                           QLinearGradient, QPainter, QPainterPath, QPalette, QPen, QPolygonF)
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolTip, QWidget

from desktop.map.colors import (category_colours, colormap_lut, pack_hex, unpack_rgb,
                                value_colours)
from desktop.map.data import CategoryColoring, MapData, ValueColoring
from desktop.map.lasso import lasso_select, simplify_path
from desktop.map.point_index import PointIndex
from desktop.map.raster import PointCanvas, kernel_size, quantize_radius

#: Longest render (ms) after which pans and zooms show the cached image moved and scaled,
#: and re-render when the gesture pauses, instead of re-rendering on every frame.
SYNC_RENDER_MS = 28.0
#: Pause (ms) before re-rendering after a gesture, when rendering is slow.
RERENDER_DELAY_MS = 90
#: Most disc pixels stamped per frame (points x pixels per disc): beyond it discs shrink.
PIXEL_BUDGET = 700_000
#: A point is picked under the mouse within this many pixels (or its radius, if bigger).
PICK_RADIUS_PX = 7.0
#: Mouse travel (px) that turns a press into a drag.
DRAG_THRESHOLD_PX = 4.0
ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.5, 400.0     # relative to "fit all"


@dataclass(frozen=True)
class Theme:
    """Colours of the map for a dark or light surrounding."""

    name: str
    background: str
    text: str
    halo: str
    muted: str
    panel: str
    panel_border: str
    selection: str
    accent: str


DARK = Theme("dark", background="#15171c", text="#eef0f3", halo="#0b0c0f", muted="#9aa1ad",
             panel="#1d2027", panel_border="#323743", selection="#ffffff", accent="#ffd166")
LIGHT = Theme("light", background="#f8f8f6", text="#1e2126", halo="#ffffff", muted="#5d6470",
              panel="#ffffff", panel_border="#d5d8de", selection="#111318", accent="#d1495b")


def _qcolor(hex_colour: str, alpha: int = 255) -> QColor:
    c = QColor(hex_colour)
    c.setAlpha(alpha)
    return c


def _mix_packed(packed: np.ndarray, target: str, amount: float) -> np.ndarray:
    """Packed colours moved ``amount`` (0..1) of the way towards the colour ``target``."""
    rgb = unpack_rgb(packed).astype(np.float32)
    tgt = np.array(QColor(target).getRgb()[:3], dtype=np.float32)
    out = np.rint(rgb + (tgt - rgb) * amount).astype(np.uint32)
    return (np.uint32(0xFF000000) | (out[..., 0] << 16) | (out[..., 1] << 8) | out[..., 2]
            ).astype(np.uint32)


@dataclass
class _Layer:
    """Points drawn together: rows (into the data), colours, opacity and a radius rule."""

    rows: np.ndarray            # intp [m], in draw order
    colours: np.ndarray | int   # packed uint32 [m] or one colour
    alpha: np.ndarray | float
    radius_scale: float = 1.0
    radius_add: float = 0.0


class MapView(QWidget):
    """The library map as an interactive scatter. See the module docstring for the API."""

    selection_changed = Signal(list)
    current_changed = Signal(object)
    hovered_changed = Signal(object)
    play_requested = Signal(int)
    similar_requested = Signal(int)
    review_requested = Signal(list)
    playlist_requested = Signal(list)
    highlight_changed = Signal(int)
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, theme: str = "auto") -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMinimumSize(200, 150)
        self._theme_choice = theme
        self._theme = DARK
        self._data = MapData.empty()
        self._index = PointIndex(np.zeros((0, 2)))
        self._xy = np.zeros((0, 2), dtype=np.float64)
        self._sorted_ids = np.zeros(0, np.int64)
        self._sorted_rows = np.zeros(0, np.intp)
        self._coloring: CategoryColoring | ValueColoring | None = None
        self._colours = np.zeros(0, np.uint32)
        self._alpha: np.ndarray | float = 0.75
        self._base_order = np.zeros(0, np.intp)
        self._category_code = np.zeros(0, np.int32)
        self._legend: tuple = ()
        self._legend_rects: list[tuple[QRectF, int]] = []
        self._legend_active: int | None = None
        self._colorbar: tuple[str, float, float, str] | None = None
        self._regions: list = []
        self._drawn_labels: list[str] = []
        self._label_cache: dict[tuple, QImage] = {}
        self._selected = np.zeros(0, dtype=bool)
        self._highlight: np.ndarray | None = None
        self._search_text = ""
        self._search_joined: list[tuple[str, np.ndarray]] | None = None
        self._tooltip_provider: Callable[[int], str] | None = None
        self._hover_row: int | None = None
        self._current_row: int | None = None
        self._drag_mode = "pan"
        self._play_on_click = True
        # view transform: screen = (data - centre) * scale (+ y flipped) + widget centre
        self._cx, self._cy, self._scale = 0.0, 0.0, 1.0
        self._fit_scale = 1.0
        self._auto_fit = True
        # render cache
        self._layers: list[_Layer] | None = None
        self._version = 0
        self._cache_img: QImage | None = None
        self._cache_pixels: np.ndarray | None = None
        self._cache_key: tuple | None = None
        self._canvas: PointCanvas | None = None
        self.last_render_ms = 0.0
        self.last_radius = 0.0
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self._deferred_render)
        # gestures
        self._press_pos: QPointF | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._press_mods = Qt.KeyboardModifier.NoModifier
        self._gesture: str | None = None     # "pan" | "rect" | "lasso" | None
        self._last_pos = QPointF()
        self._lasso: list[tuple[float, float]] = []
        self._update_theme()

    # ------------------------------------------------------------------ data and colours
    def set_data(self, data: MapData) -> None:
        """Show these points (replaces everything; selection and highlight are cleared, and
        the colouring too unless it has one value per new point)."""
        c = self._coloring
        if c is not None:
            n = len(c.labels) if isinstance(c, CategoryColoring) else len(c.values)
            if n != len(data):
                self._coloring = None
        self._data = data
        self._xy = data.xy.astype(np.float64)
        self._index = PointIndex(self._xy)
        self._sorted_rows = np.argsort(data.ids, kind="stable").astype(np.intp)
        self._sorted_ids = data.ids[self._sorted_rows]
        self._selected = np.zeros(len(data), dtype=bool)
        self._highlight = None
        self._search_text = ""
        self._search_joined = None
        self._hover_row = None
        self._current_row = None
        self._legend_active = None
        self._auto_fit = True
        self._apply_coloring()
        self.fit_all()

    def data(self) -> MapData:
        return self._data

    def set_coloring(self, coloring: CategoryColoring | ValueColoring | None) -> None:
        """Colour the points by category (legend) or value (colour bar); None: one colour."""
        if coloring is not None:
            n = len(coloring.labels) if isinstance(coloring, CategoryColoring) else len(coloring.values)
            if n != len(self._data):
                raise ValueError(f"the colouring has {n} values for {len(self._data)} points")
        self._coloring = coloring
        if self._legend_active is not None:   # a legend row was highlighted: it is gone
            self._legend_active = None
            self._highlight = None
            self.highlight_changed.emit(0)
        self._apply_coloring()

    def coloring(self) -> CategoryColoring | ValueColoring | None:
        return self._coloring

    def legend(self) -> tuple:
        """The current legend: :class:`desktop.map.colors.LegendEntry` rows (categories only)."""
        return self._legend

    def legend_rows(self) -> list[tuple[QRectF, int]]:
        """Where the last paint drew each legend row: ``(rect, index into legend())``."""
        return list(self._legend_rects)

    def drawn_labels(self) -> list[str]:
        """The region labels the last paint drew (after leaving out overlapping ones)."""
        return list(self._drawn_labels)

    def point_alpha(self) -> float:
        """Opacity of an ordinary point (it depends on how many points there are)."""
        return self._base_alpha()

    def point_colours(self) -> np.ndarray:
        """Packed ``0xFFRRGGBB`` colour of every point (in data order), as drawn."""
        return self._colours.copy()

    def _base_alpha(self) -> float:
        n = max(len(self._data), 1)
        return float(np.clip(0.95 - 0.1 * math.log10(max(n, 100) / 100.0), 0.6, 0.92))

    def _apply_coloring(self) -> None:
        n = len(self._data)
        light = self._theme.name == "light"
        c = self._coloring
        rng = np.random.default_rng(12345)
        self._colorbar = None
        if n == 0:
            self._colours = np.zeros(0, np.uint32)
            self._base_order = np.zeros(0, np.intp)
            self._category_code = np.zeros(0, np.int32)
            self._legend = ()
            self._alpha = self._base_alpha()
        elif isinstance(c, CategoryColoring):
            cc = category_colours(c.labels, max_categories=c.max_categories, other=c.other,
                                  light=light)
            self._colours, self._category_code, self._legend = cc.packed, cc.code, cc.legend
            self._alpha = self._base_alpha()
            # "Other" underneath, the named categories shuffled together above it, so no
            # category hides another just because it was drawn later
            perm = rng.permutation(n).astype(np.intp)
            is_other = cc.code[perm] == (len(cc.legend) - 1 if cc.legend and
                                         cc.legend[-1].label == c.other else -1)
            self._base_order = np.concatenate([perm[is_other], perm[~is_other]])
        elif isinstance(c, ValueColoring):
            packed, t, vmin, vmax = value_colours(c.values, vmin=c.vmin, vmax=c.vmax,
                                                  colormap=c.colormap)
            self._colours = packed
            self._category_code = np.zeros(n, np.int32)
            self._legend = ()
            # strong values on top and more opaque
            self._alpha = (0.28 + 0.67 * t).astype(np.float32)
            self._base_order = np.argsort(t, kind="stable").astype(np.intp)
            self._colorbar = (c.title, vmin, vmax, c.colormap)
        else:
            colour = "#4e79a7" if light else "#7fb0f5"
            self._colours = np.full(n, pack_hex(colour), dtype=np.uint32)
            self._category_code = np.zeros(n, np.int32)
            self._legend = ()
            self._alpha = self._base_alpha()
            self._base_order = rng.permutation(n).astype(np.intp)
        self._invalidate()

    def set_regions(self, regions: Iterable) -> None:
        """Region labels: objects with ``label``, ``x``, ``y`` and ``size`` (e.g. the engine's
        :class:`engine.similarity.regions.Region`, or :class:`desktop.map.data.RegionLabel`)."""
        self._regions = sorted(list(regions), key=lambda r: -int(getattr(r, "size", 1)))
        self.update()

    def regions(self) -> list:
        return list(self._regions)

    def set_tooltip_provider(self, provider: Callable[[int], str] | None) -> None:
        """``provider(track_id) -> str`` (rich text allowed) replaces the default tooltip
        (title, artist and the tags line of :class:`MapData`)."""
        self._tooltip_provider = provider

    def set_theme(self, theme: str) -> None:
        """"dark", "light" or "auto" (follow the widget palette)."""
        if theme not in ("auto", "dark", "light"):
            raise ValueError("theme must be 'auto', 'dark' or 'light'")
        self._theme_choice = theme
        self._update_theme()

    def theme(self) -> Theme:
        return self._theme

    def _update_theme(self) -> None:
        if self._theme_choice == "auto":
            window = self.palette().color(QPalette.ColorRole.Window)
            theme = DARK if window.lightnessF() < 0.5 else LIGHT
        else:
            theme = DARK if self._theme_choice == "dark" else LIGHT
        if theme is not self._theme:
            self._theme = theme
            self._apply_coloring()
        self.update()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.type() == event.Type.PaletteChange and self._theme_choice == "auto":
            self._update_theme()
        super().changeEvent(event)

    # ------------------------------------------------------------------ ids and rows
    def rows_of(self, ids: Iterable[int]) -> np.ndarray:
        """Rows of the given track ids; ids not on the map are skipped."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).ravel()
        if ids.size == 0 or self._sorted_ids.size == 0:
            return np.zeros(0, np.intp)
        pos = np.clip(np.searchsorted(self._sorted_ids, ids), 0, self._sorted_ids.size - 1)
        found = self._sorted_ids[pos] == ids
        return self._sorted_rows[pos[found]]

    def _ids(self, rows: np.ndarray) -> list[int]:
        return [int(i) for i in self._data.ids[np.asarray(rows, dtype=np.intp)]]

    # ------------------------------------------------------------------ selection, highlight
    def set_selection(self, ids: Iterable[int]) -> None:
        """Select these tracks (e.g. to follow the table); emits nothing."""
        mask = np.zeros(len(self._data), dtype=bool)
        mask[self.rows_of(ids)] = True
        if self._current_row is not None and not mask[self._current_row]:
            self._current_row = None
        if not np.array_equal(mask, self._selected):
            self._selected = mask
            self._invalidate()

    def selected_ids(self) -> list[int]:
        return self._ids(np.flatnonzero(self._selected))

    def _select_rows(self, rows: np.ndarray, *, add: bool = False, toggle: bool = False) -> None:
        mask = self._selected.copy() if (add or toggle) else np.zeros(len(self._data), dtype=bool)
        if toggle:
            mask[rows] = ~mask[rows]
        else:
            mask[rows] = True
        self._selected = mask
        self._invalidate()
        self.selection_changed.emit(self.selected_ids())

    def set_highlight(self, ids: Iterable[int] | None) -> int:
        """Highlight these tracks and dim the rest; None clears. Returns how many are lit."""
        self._legend_active = None
        if ids is None:
            return self._set_highlight_mask(None)
        mask = np.zeros(len(self._data), dtype=bool)
        mask[self.rows_of(ids)] = True
        return self._set_highlight_mask(mask)

    def highlighted_ids(self) -> list[int] | None:
        return None if self._highlight is None else self._ids(np.flatnonzero(self._highlight))

    def _set_highlight_mask(self, mask: np.ndarray | None) -> int:
        self._highlight = mask
        self._invalidate()
        count = len(self._data) if mask is None else int(mask.sum())
        self.highlight_changed.emit(count if mask is not None else 0)
        return count

    def set_search(self, text: str) -> int:
        """Highlight the points whose title, artist or tags contain every word of ``text``
        (case-insensitive); empty text clears. Returns how many match."""
        self._search_text = text.strip()
        self._legend_active = None
        words = self._search_text.casefold().split()
        if not words:
            self._search_text = ""
            return self._set_highlight_mask(None)
        mask = np.ones(len(self._data), dtype=bool)
        columns = self._search_text_index()
        for word in words:
            # every occurrence in each column's joined string, mapped back to rows: C-speed
            # scanning instead of a Python loop over 50,000 strings
            rows = np.zeros(len(self._data), dtype=bool)
            for text, starts in columns:
                hits = np.fromiter((m.start() for m in re.finditer(re.escape(word), text)),
                                   dtype=np.int64)
                if hits.size:
                    rows[np.searchsorted(starts, hits, side="right") - 1] = True
            mask &= rows
        return self._set_highlight_mask(mask)

    def _search_text_index(self) -> list[tuple[str, np.ndarray]]:
        """Per text column (titles, artists, tag names without their percentages): every
        point's text casefolded and joined into one string, and where each point starts in
        it. Built once per map with whole-string operations (tens of ms at 50,000 points)."""
        if self._search_joined is None:
            d = self._data
            n = len(d)
            sep = "\x00"              # cannot occur in text a person typed; checked below
            index = []
            for col, strip in ((d.titles, False), (d.artists, False), (d.tags, True)):
                if col is None or n == 0:
                    continue
                text = sep.join(v or "" for v in col)
                codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
                cuts = np.flatnonzero(codes == 0)
                if cuts.size != n - 1:      # a NUL inside some text after all
                    text = sep.join((v or "").replace(sep, " ") for v in col)
                    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
                    cuts = np.flatnonzero(codes == 0)
                if strip:   # digits and "%" become spaces: same length, same row starts
                    codes = codes.copy()
                    codes[((codes >= 48) & (codes <= 57)) | (codes == 37)] = 32
                    text = codes.tobytes().decode("utf-32-le")
                folded = text.casefold()
                if len(folded) != len(text):   # casefolding changed lengths (e.g. "ß" -> "ss")
                    folded = sep.join(v.casefold() for v in text.split(sep))
                    codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32)
                    cuts = np.flatnonzero(codes == 0)
                index.append((folded, np.concatenate([[0], cuts + 1]).astype(np.int64)))
            self._search_joined = index
        return self._search_joined

    # ------------------------------------------------------------------ transform
    def map_to_screen(self, x, y):
        """Data coordinates -> widget pixel coordinates (arrays or floats)."""
        sx = (np.asarray(x, dtype=np.float64) - self._cx) * self._scale + self.width() / 2.0
        sy = -(np.asarray(y, dtype=np.float64) - self._cy) * self._scale + self.height() / 2.0
        return sx, sy

    def screen_to_map(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.width() / 2.0) / self._scale + self._cx,
                -(y - self.height() / 2.0) / self._scale + self._cy)

    def transform(self) -> tuple[float, float, float]:
        """``(centre x, centre y, pixels per data unit)``."""
        return self._cx, self._cy, self._scale

    def zoom(self) -> float:
        """Zoom relative to "fit all" (1.0 = everything fits)."""
        return self._scale / self._fit_scale

    def set_transform(self, cx: float, cy: float, scale: float) -> None:
        scale = float(np.clip(scale, self._fit_scale * MIN_ZOOM, self._fit_scale * MAX_ZOOM))
        if (cx, cy, scale) != (self._cx, self._cy, self._scale):
            self._cx, self._cy, self._scale = float(cx), float(cy), scale
            self._transform_changed()

    def fit_all(self) -> None:
        """Zoom and centre so that every point is in view."""
        self._auto_fit = True
        if len(self._data) == 0:
            self._cx, self._cy, self._scale, self._fit_scale = 0.0, 0.0, 1.0, 1.0
            self._transform_changed()
            return
        lo, hi = self._xy.min(axis=0), self._xy.max(axis=0)
        span = np.maximum(hi - lo, 1e-9)
        margin = 0.06
        w, h = max(self.width(), 1), max(self.height(), 1)
        scale = min(w * (1 - 2 * margin) / span[0], h * (1 - 2 * margin) / span[1])
        if span.max() <= 1e-9:
            scale = 1.0
        self._fit_scale = float(scale)
        self._cx, self._cy = float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)
        self._scale = float(scale)
        self._transform_changed()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` (>1 in) keeping the data point under ``anchor`` (widget
        coordinates; default the centre) where it is."""
        if anchor is None:
            anchor = QPointF(self.width() / 2.0, self.height() / 2.0)
        ax, ay = self.screen_to_map(anchor.x(), anchor.y())
        new_scale = float(np.clip(self._scale * factor, self._fit_scale * MIN_ZOOM,
                                  self._fit_scale * MAX_ZOOM))
        self._auto_fit = False
        cx = ax - (anchor.x() - self.width() / 2.0) / new_scale
        cy = ay + (anchor.y() - self.height() / 2.0) / new_scale
        self.set_transform(cx, cy, new_scale)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the map by ``dx``, ``dy`` widget pixels (the content follows the mouse)."""
        self._auto_fit = False
        self.set_transform(self._cx - dx / self._scale, self._cy + dy / self._scale, self._scale)

    def ensure_visible(self, ids: Iterable[int]) -> None:
        """Pan (and zoom out if needed) so that these tracks are in view."""
        rows = self.rows_of(ids)
        if rows.size == 0:
            return
        xy = self._xy[rows]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        sx, sy = self.map_to_screen(np.array([lo[0], hi[0]]), np.array([lo[1], hi[1]]))
        pad = 30.0
        if sx.min() >= pad and sx.max() <= self.width() - pad and \
                sy.min() >= pad and sy.max() <= self.height() - pad:
            return
        span = np.maximum(hi - lo, 1e-9)
        need = min((self.width() - 2 * pad) / span[0], (self.height() - 2 * pad) / span[1])
        self._auto_fit = False
        self.set_transform((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, min(self._scale, need))

    def _transform_changed(self) -> None:
        self.update()
        self.view_changed.emit()

    # ------------------------------------------------------------------ rendering
    def _invalidate(self) -> None:
        """The points' look changed (colours, selection, highlight): re-render on next paint."""
        self._layers = None
        self._version += 1
        self.update()

    def _point_radius(self, n_visible: int) -> float:
        """Disc radius (logical px): set by density at "fit all", growing with zoom, capped so
        that a frame never stamps more than PIXEL_BUDGET pixels."""
        n = max(len(self._data), 1)
        area = max(self.width() * self.height(), 1) * 0.6
        r_fit = float(np.clip(0.42 * math.sqrt(area / n), 1.2, 5.5))
        r = float(np.clip(r_fit * max(self.zoom(), 1.0) ** 0.4, r_fit, 7.0))
        r = quantize_radius(r)
        while r > 1.0 and n_visible * kernel_size(r * self._dpr()) > PIXEL_BUDGET:
            r = quantize_radius(r - 0.25)
        return r

    def _dpr(self) -> float:
        return float(self.devicePixelRatioF()) or 1.0

    def _build_layers(self) -> list[_Layer]:
        order = self._base_order
        colours, alpha = self._colours, self._alpha
        layers: list[_Layer] = []
        if order.size == 0:
            return layers
        per_point_alpha = isinstance(alpha, np.ndarray)
        if self._highlight is not None:
            lit = self._highlight[order]
            dim_rows, lit_rows = order[~lit], order[lit]
            dimmed = _mix_packed(colours[dim_rows], self._theme.background, 0.55)
            layers.append(_Layer(dim_rows, dimmed, 0.35, radius_scale=0.8))
            layers.append(_Layer(lit_rows, colours[lit_rows],
                                 alpha[lit_rows] if per_point_alpha else 0.92, radius_scale=1.3))
        else:
            layers.append(_Layer(order, colours[order], alpha[order] if per_point_alpha else alpha))
        if self._selected.any():
            sel = order[self._selected[order]]
            # a few selected points get a bold ring; a big selection a faint one, so that a
            # lassoed cluster keeps its colours instead of turning into one white blob
            few = sel.size <= 200
            layers.append(_Layer(sel, int(pack_hex(self._theme.selection)), 0.95 if few else 0.4,
                                 radius_scale=1.3, radius_add=1.6 if few else 1.0))
            layers.append(_Layer(sel, colours[sel], 1.0, radius_scale=1.3))
        return layers

    def stop_deferred_render(self) -> None:
        """Drop a re-render that a paint scheduled for when the gesture pauses."""
        self._render_timer.stop()

    def render_now(self) -> float:
        """Render the points for the current transform into the cache; returns the time in ms."""
        t0 = time.perf_counter()
        dpr = self._dpr()
        w, h = max(1, self.width()), max(1, self.height())
        pw, ph = int(math.ceil(w * dpr)), int(math.ceil(h * dpr))
        bg = int(pack_hex(self._theme.background))
        if self._canvas is None or (self._canvas.width, self._canvas.height) != (pw, ph):
            self._canvas = PointCanvas(pw, ph, bg)
        else:
            self._canvas.clear(bg)
        if self._layers is None:
            self._layers = self._build_layers()
        if self._layers:
            sx_all, sy_all = self.map_to_screen(self._xy[:, 0], self._xy[:, 1])
            sx_all = (sx_all * dpr).astype(np.float32)
            sy_all = (sy_all * dpr).astype(np.float32)
            margin = 10.0 * dpr
            visible = (sx_all > -margin) & (sx_all < pw + margin) & (sy_all > -margin) & (sy_all < ph + margin)
            radius = self._point_radius(int(visible.sum()))
            self.last_radius = radius
            for layer in self._layers:
                rows = layer.rows
                vis = visible[rows]
                if not vis.any():
                    continue
                rows = rows[vis]
                colours = layer.colours[vis] if isinstance(layer.colours, np.ndarray) else layer.colours
                alpha = layer.alpha[vis] if isinstance(layer.alpha, np.ndarray) else layer.alpha
                r = (radius * layer.radius_scale + layer.radius_add) * dpr
                self._canvas.draw(sx_all[rows], sy_all[rows], colours, alpha, r)
        pixels = self._canvas.pixels()
        img = QImage(pixels.data, pw, ph, pw * 4, QImage.Format.Format_RGB32)
        img.setDevicePixelRatio(dpr)
        self._cache_pixels, self._cache_img = pixels, img
        self._cache_key = self._render_key()
        self.last_render_ms = (time.perf_counter() - t0) * 1000.0
        return self.last_render_ms

    def _render_key(self) -> tuple:
        return (self._cx, self._cy, self._scale, self.width(), self.height(), self._dpr(),
                self._version)

    def _deferred_render(self) -> None:
        if self._cache_key != self._render_key():
            self.render_now()
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        try:
            p.fillRect(self.rect(), QColor(self._theme.background))
            self._paint_points(p)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            if len(self._data) == 0:
                self._paint_empty(p)
                return
            panels = [r for r in (self._paint_legend(p), self._paint_colorbar(p)) if r is not None]
            self._paint_regions(p, panels)
            self._paint_marks(p)
            self._paint_gesture(p)
            self._paint_status(p)
        finally:
            p.end()

    def _paint_points(self, p: QPainter) -> None:
        key = self._render_key()
        stale = self._cache_key != key
        content_changed = self._cache_key is None or self._cache_key[3:] != key[3:]
        if stale and (content_changed or self.last_render_ms <= SYNC_RENDER_MS):
            self.render_now()
            stale = False
        if self._cache_img is None:
            return
        if not stale:
            p.drawImage(QPointF(0, 0), self._cache_img)
            return
        # the cached image was rendered for another transform: move and scale it into place
        cx0, cy0, s0 = self._cache_key[:3]
        k = self._scale / s0
        w2, h2 = self.width() / 2.0, self.height() / 2.0
        tx = w2 * (1 - k) + (cx0 - self._cx) * self._scale
        ty = h2 * (1 - k) - (cy0 - self._cy) * self._scale
        if abs(k - 1.0) < 1e-9:   # a pan: whole pixels keep the fast, unfiltered blit
            p.drawImage(QPointF(round(tx), round(ty)), self._cache_img)
        else:
            p.save()
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, k < 1.0)
            p.translate(tx, ty)
            p.scale(k, k)
            p.drawImage(QPointF(0, 0), self._cache_img)
            p.restore()
        # Start (not restart) the sharp re-render: a stream of repaints must not postpone it forever.
        if not self._render_timer.isActive():
            self._render_timer.start(RERENDER_DELAY_MS)

    def _paint_empty(self, p: QPainter) -> None:
        p.setPen(_qcolor(self._theme.muted))
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.15)
        p.setFont(f)
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                   "No map yet.\nAnalyse some tracks and the map of your library appears here.")

    def _halo_text(self, p: QPainter, x: float, y: float, text: str, font: QFont, colour: QColor,
                   halo: QColor, halo_width: float = 3.5) -> None:
        path = QPainterPath()
        path.addText(QPointF(x, y), font, text)
        pen = QPen(halo, halo_width)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.strokePath(path, pen)
        p.fillPath(path, colour)

    def _paint_regions(self, p: QPainter, avoid: Sequence[QRectF] = ()) -> None:
        """Region labels, biggest regions first; a label that would overlap one already
        drawn (or a legend), or repeat the same words nearby, is left out."""
        if not self._regions:
            return
        biggest = max(int(getattr(r, "size", 1)) for r in self._regions) or 1
        zoom = max(self.zoom(), 1.0)
        placed: list[QRectF] = [r.adjusted(-4, -4, 4, 4) for r in avoid]
        placed_text: list[tuple[frozenset, float, float]] = []
        base = QFont(self.font())
        base.setWeight(QFont.Weight.DemiBold)
        w, h = self.width(), self.height()
        repeat_px = 0.3 * max(w, h)
        self._drawn_labels = []
        for r in self._regions:
            sx, sy = self.map_to_screen(float(r.x), float(r.y))
            sx, sy = float(sx), float(sy)
            if not (0 <= sx <= w and 0 <= sy <= h):
                continue
            text = str(r.label)
            words = frozenset(w.casefold() for w in text.replace("·", " ").split())
            if any(t == words and math.hypot(sx - x, sy - y) < repeat_px for t, x, y in placed_text):
                continue  # "Jazz · Mellow" next to "Mellow · Jazz" says nothing new
            size = max(int(getattr(r, "size", 1)), 1)
            pt = (8.5 + 4.0 * math.sqrt(size / biggest)) * min(zoom ** 0.12, 1.4)
            sprite = self._label_sprite(text, round(pt * 2) / 2, base)
            lw = sprite.width() / sprite.devicePixelRatio()
            lh = sprite.height() / sprite.devicePixelRatio()
            # just above the anchor point (a track of the region), so the label does not
            # hide it; the sprite's halo padding keeps it clear of the point
            rect = QRectF(sx - lw / 2, sy - lh - max(self.last_radius, 1.0) + 2, lw, lh)
            if rect.left() < 0 or rect.right() > w or rect.top() < 0 or rect.bottom() > h:
                continue
            if any(rect.adjusted(-3, 0, 3, 0).intersects(o) for o in placed):
                continue
            placed.append(rect)
            placed_text.append((words, sx, sy))
            self._drawn_labels.append(text)
            p.drawImage(rect.topLeft(), sprite)

    def _label_sprite(self, text: str, pt: float, base: QFont) -> QImage:
        """A region label with its halo, drawn once into an image and reused (text paths and
        their halos cost about a millisecond each to draw from scratch)."""
        dpr = self._dpr()
        key = (text, pt, self._theme.name, dpr, base.family())
        sprite = self._label_cache.get(key)
        if sprite is not None:
            return sprite
        font = QFont(base)
        font.setPointSizeF(pt)
        fm = QFontMetricsF(font)
        halo_w = 3.0
        pad = halo_w + 1.0
        w = fm.horizontalAdvance(text) + 2 * pad
        h = fm.height() + 2 * pad
        sprite = QImage(int(math.ceil(w * dpr)), int(math.ceil(h * dpr)),
                        QImage.Format.Format_ARGB32_Premultiplied)
        sprite.setDevicePixelRatio(dpr)
        sprite.fill(0)
        sp = QPainter(sprite)
        sp.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._halo_text(sp, pad, pad + fm.ascent(), text, font, _qcolor(self._theme.text, 240),
                        _qcolor(self._theme.halo, 185), halo_w)
        sp.end()
        if len(self._label_cache) > 256:
            self._label_cache.clear()
        self._label_cache[key] = sprite
        return sprite

    def _paint_marks(self, p: QPainter) -> None:
        radius = max(self.last_radius, 2.0)
        for row, colour, width, extra in ((self._current_row, self._theme.accent, 2.0, 4.0),
                                          (self._hover_row, self._theme.text, 1.6, 3.5)):
            if row is None or row >= len(self._data):
                continue
            sx, sy = self.map_to_screen(self._xy[row, 0], self._xy[row, 1])
            p.setPen(QPen(_qcolor(colour, 230), width))
            p.setBrush(Qt.BrushStyle.NoBrush)
            rr = radius * 1.3 + extra
            p.drawEllipse(QPointF(float(sx), float(sy)), rr, rr)

    def _paint_gesture(self, p: QPainter) -> None:
        """The rubber band or lasso being drawn: a dashed line in the text colour over a wider
        line in the halo colour, so it stands out on points of any colour."""
        if self._gesture == "rect" and self._press_pos is not None:
            shape = QPainterPath()
            shape.addRect(QRectF(self._press_pos, self._last_pos).normalized())
        elif self._gesture == "lasso" and len(self._lasso) > 1:
            shape = QPainterPath()
            shape.addPolygon(QPolygonF([QPointF(x, y) for x, y in self._lasso]))
            shape.closeSubpath()
        else:
            return
        p.fillPath(shape, _qcolor(self._theme.text, 28))
        p.strokePath(shape, QPen(_qcolor(self._theme.halo, 170), 3.5))
        p.strokePath(shape, QPen(_qcolor(self._theme.text, 235), 1.5, Qt.PenStyle.DashLine))

    def _panel(self, p: QPainter, rect: QRectF) -> None:
        p.setPen(QPen(_qcolor(self._theme.panel_border, 220), 1.0))
        p.setBrush(_qcolor(self._theme.panel, 215))
        p.drawRoundedRect(rect, 7, 7)

    def _paint_legend(self, p: QPainter) -> QRectF | None:
        self._legend_rects = []
        if not self._legend or not isinstance(self._coloring, CategoryColoring):
            return None
        font = QFont(self.font())
        fm = QFontMetricsF(font)
        title_font = QFont(font)
        title_font.setWeight(QFont.Weight.DemiBold)
        tfm = QFontMetricsF(title_font)
        row_h = max(fm.height() + 3, 17.0)
        entries = list(self._legend)
        max_rows = max(1, int((self.height() - 60) // row_h))
        entries = entries[:max_rows]
        counts = [f"{e.count:,}" for e in entries]
        label_w = max(fm.horizontalAdvance(e.label) for e in entries)
        count_w = max(fm.horizontalAdvance(c) for c in counts)
        title = self._coloring.title
        width = max(label_w + count_w + 44, tfm.horizontalAdvance(title) + 24)
        height = tfm.height() + 14 + row_h * len(entries)
        rect = QRectF(self.width() - width - 12, 12, width, height)
        self._panel(p, rect)
        p.setFont(title_font)
        p.setPen(_qcolor(self._theme.text))
        p.drawText(QPointF(rect.left() + 12, rect.top() + 8 + tfm.ascent()), title)
        p.setFont(font)
        y = rect.top() + tfm.height() + 10
        for i, (e, count) in enumerate(zip(entries, counts)):
            row = QRectF(rect.left() + 4, y, rect.width() - 8, row_h)
            active = self._legend_active == i
            dimmed = self._legend_active is not None and not active
            if active:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(_qcolor(self._theme.muted, 50))
                p.drawRoundedRect(row, 4, 4)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(_qcolor(e.colour, 90 if dimmed else 255))
            p.drawEllipse(QPointF(rect.left() + 17, y + row_h / 2), 4.5, 4.5)
            p.setPen(_qcolor(self._theme.text, 110 if dimmed else 240))
            baseline = y + (row_h + fm.ascent() - fm.descent()) / 2
            p.drawText(QPointF(rect.left() + 29, baseline), e.label)
            p.setPen(_qcolor(self._theme.muted, 110 if dimmed else 255))
            p.drawText(QPointF(rect.right() - 10 - fm.horizontalAdvance(count), baseline), count)
            self._legend_rects.append((row, i))
            y += row_h
        return rect

    def _paint_colorbar(self, p: QPainter) -> QRectF | None:
        if self._colorbar is None:
            return None
        title, vmin, vmax, cmap = self._colorbar
        font = QFont(self.font())
        fm = QFontMetricsF(font)
        title_font = QFont(font)
        title_font.setWeight(QFont.Weight.DemiBold)
        tfm = QFontMetricsF(title_font)
        bar_h = float(min(180, max(60, self.height() - 110)))
        labels = [f"{vmax:.2g}", f"{(vmin + vmax) / 2:.2g}", f"{vmin:.2g}"]
        width = max(tfm.horizontalAdvance(title) + 24,
                    14 + 16 + 8 + max(fm.horizontalAdvance(s) for s in labels) + 12)
        rect = QRectF(self.width() - width - 12, 12, width, tfm.height() + 22 + bar_h)
        self._panel(p, rect)
        p.setFont(title_font)
        p.setPen(_qcolor(self._theme.text))
        p.drawText(QPointF(rect.left() + 12, rect.top() + 8 + tfm.ascent()), title)
        bar = QRectF(rect.left() + 14, rect.top() + tfm.height() + 12, 14, bar_h)
        grad = QLinearGradient(bar.bottomLeft(), bar.topLeft())
        lut = unpack_rgb(colormap_lut(cmap, 16))
        for i, (r, g, b) in enumerate(lut.tolist()):
            grad.setColorAt(i / (len(lut) - 1), QColor(r, g, b))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(grad)
        p.drawRoundedRect(bar, 3, 3)
        p.setFont(font)
        p.setPen(_qcolor(self._theme.muted))
        for frac, s in zip((0.0, 0.5, 1.0), labels):
            yy = bar.top() + frac * bar.height()
            p.drawText(QPointF(bar.right() + 8, yy + fm.ascent() / 2 - 1), s)
        return rect

    def _paint_status(self, p: QPainter) -> None:
        parts = [f"{len(self._data):,} tracks"]
        n_sel = int(self._selected.sum())
        if n_sel:
            parts.append(f"{n_sel:,} selected")
        if self._highlight is not None:
            what = f"“{self._search_text}”" if self._search_text else "highlighted"
            parts.append(f"{int(self._highlight.sum()):,} match {what}" if self._search_text
                         else f"{int(self._highlight.sum()):,} {what}")
        text = "  ·  ".join(parts)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.95)
        fm = QFontMetricsF(font)
        self._halo_text(p, 12, self.height() - 10 - fm.descent(), text, font,
                        _qcolor(self._theme.muted), _qcolor(self._theme.halo, 190), 3.0)

    # ------------------------------------------------------------------ picking
    def point_at(self, pos: QPointF | QPoint) -> int | None:
        """Track id of the point under ``pos`` (widget coordinates), or None."""
        row = self._row_at(QPointF(pos))
        return None if row is None else int(self._data.ids[row])

    def _row_at(self, pos: QPointF) -> int | None:
        if len(self._data) == 0:
            return None
        x, y = self.screen_to_map(pos.x(), pos.y())
        reach = max(PICK_RADIUS_PX, self.last_radius * 1.3 + 2.0) / self._scale
        return self._index.nearest(x, y, reach)

    def screen_pos(self, track_id: int) -> QPointF | None:
        """Where a track's point is drawn (widget coordinates), or None if not on the map."""
        rows = self.rows_of([track_id])
        if rows.size == 0:
            return None
        sx, sy = self.map_to_screen(self._xy[rows[0], 0], self._xy[rows[0], 1])
        return QPointF(float(sx), float(sy))

    @property
    def hovered_id(self) -> int | None:
        return None if self._hover_row is None else int(self._data.ids[self._hover_row])

    @property
    def current_id(self) -> int | None:
        return None if self._current_row is None else int(self._data.ids[self._current_row])

    def set_current(self, track_id: int | None) -> None:
        """Mark this track as the current one (its ring), or none; emits nothing."""
        rows = self.rows_of([track_id]) if track_id is not None else []
        self._current_row = int(rows[0]) if len(rows) else None
        self.update()

    def ids_in_polygon(self, polygon) -> np.ndarray:
        """The ids of the points inside ``polygon`` (an (N, 2) array in map coordinates), as a
        lasso selects them."""
        return self._data.ids[lasso_select(self._index, np.asarray(polygon, dtype=float))]

    def show_lasso(self, points) -> None:
        """Draw a lasso line through these screen points (an (N, 2) array), as while a user
        drags one; None or empty removes it."""
        pts = [] if points is None else [(float(x), float(y)) for x, y in points]
        if pts:
            self._gesture, self._press_pos, self._lasso = "lasso", QPointF(*pts[0]), pts
        else:
            self._gesture, self._press_pos, self._lasso = None, None, []
        self.update()

    def tooltip_text(self, track_id: int) -> str:
        """The tooltip shown for a track (rich text)."""
        if self._tooltip_provider is not None:
            return self._tooltip_provider(int(track_id))
        rows = self.rows_of([track_id])
        if rows.size == 0:
            return ""
        row = int(rows[0])
        d = self._data
        title = (d.titles[row] if d.titles is not None else None) or f"Track {track_id}"
        lines = [f"<b>{html.escape(str(title))}</b>"]
        if d.artists is not None and d.artists[row]:
            lines.append(html.escape(str(d.artists[row])))
        if d.tags is not None and d.tags[row]:
            lines.append(f"<span style='color:{self._theme.muted}'>{html.escape(str(d.tags[row]))}</span>")
        return "<br>".join(lines)

    def _set_hover(self, row: int | None, global_pos: QPoint | None = None) -> None:
        if row == self._hover_row:
            return
        self._hover_row = row
        self.update()
        tid = None if row is None else int(self._data.ids[row])
        if tid is None:
            QToolTip.hideText()
        elif global_pos is not None:
            QToolTip.showText(global_pos, self.tooltip_text(tid), self)
        self.hovered_changed.emit(tid)

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            return super().mousePressEvent(event)
        self._press_pos = event.position()
        self._last_pos = event.position()
        self._press_button = event.button()
        self._press_mods = event.modifiers()
        self._gesture = None
        self._lasso = []

    def _drag_kind(self) -> str:
        if self._press_button == Qt.MouseButton.MiddleButton:
            return "pan"
        mods = self._press_mods
        if self._drag_mode == "pan":
            if mods & Qt.KeyboardModifier.ShiftModifier:
                return "rect"
            if mods & Qt.KeyboardModifier.ControlModifier:
                return "lasso"
            return "pan"
        return self._drag_mode

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._press_pos is None:
            self._set_hover(self._row_at(pos), event.globalPosition().toPoint())
            return
        if self._gesture is None:
            delta = pos - self._press_pos
            if math.hypot(delta.x(), delta.y()) < DRAG_THRESHOLD_PX:
                return
            self._gesture = self._drag_kind()
            self._set_hover(None)
            if self._gesture == "lasso":
                self._lasso = [(self._press_pos.x(), self._press_pos.y())]
        if self._gesture == "pan":
            d = pos - self._last_pos
            self.pan_by(d.x(), d.y())
        elif self._gesture == "lasso":
            self._lasso.append((pos.x(), pos.y()))
            self.update()
        else:
            self.update()
        self._last_pos = pos

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._press_pos is None:
            return super().mouseReleaseEvent(event)
        pos = event.position()
        gesture, mods = self._gesture, self._press_mods
        add = bool(mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)) \
            and self._drag_mode != "pan"
        if gesture == "rect":
            x0, y0 = self.screen_to_map(self._press_pos.x(), self._press_pos.y())
            x1, y1 = self.screen_to_map(pos.x(), pos.y())
            self._select_rows(self._index.in_rect(x0, y0, x1, y1), add=add)
        elif gesture == "lasso":
            self._lasso.append((pos.x(), pos.y()))
            path = simplify_path(np.array(self._lasso), 2.0)
            data_path = np.column_stack(self.screen_to_map(path[:, 0], path[:, 1]))
            self._select_rows(lasso_select(self._index, data_path), add=add)
        elif gesture is None and self._press_button == Qt.MouseButton.LeftButton:
            self._click(pos, mods)
        self._press_pos = None
        self._gesture = None
        self._lasso = []
        self.update()

    def _click(self, pos: QPointF, mods) -> None:
        for rect, i in self._legend_rects:
            if rect.contains(pos):
                self._toggle_legend(i)
                return
        row = self._row_at(pos)
        toggle = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if row is None:
            if not toggle and self._selected.any():
                self._current_row = None
                self._select_rows(np.zeros(0, np.intp))
                self.current_changed.emit(None)
            return
        self._current_row = row
        self._select_rows(np.array([row]), toggle=toggle)
        tid = int(self._data.ids[row])
        self.current_changed.emit(tid)
        if self._play_on_click and not toggle:
            self.play_requested.emit(tid)

    def set_play_on_click(self, on: bool) -> None:
        """Whether a plain click on a point also asks to play it (default: yes)."""
        self._play_on_click = bool(on)

    def play_on_click(self) -> bool:
        return self._play_on_click

    def _toggle_legend(self, i: int) -> None:
        if self._legend_active == i:
            self._legend_active = None
            self._set_highlight_mask(None)
        else:
            self._search_text = ""
            self._set_highlight_mask(self._category_code == i)
            self._legend_active = i
        self.update()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self._row_at(event.position())
        if row is not None:
            if not self._play_on_click:      # otherwise the first click already played it
                self.play_requested.emit(int(self._data.ids[row]))
        else:
            self.zoom_by(2.0, event.position())

    def wheelEvent(self, event) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            steps = event.pixelDelta().y() / 60.0
        if steps:
            self.zoom_by(ZOOM_STEP ** steps, event.position())
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._set_hover(None)
        super().leaveEvent(event)

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        step_x, step_y = self.width() * 0.15, self.height() * 0.15
        K = Qt.Key
        if key == K.Key_Left:
            self.pan_by(step_x, 0)
        elif key == K.Key_Right:
            self.pan_by(-step_x, 0)
        elif key == K.Key_Up:
            self.pan_by(0, step_y)
        elif key == K.Key_Down:
            self.pan_by(0, -step_y)
        elif key in (K.Key_Plus, K.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key in (K.Key_Minus, K.Key_Underscore):
            self.zoom_by(1.0 / ZOOM_STEP)
        elif key in (K.Key_0, K.Key_Home):
            self.fit_all()
        elif key == K.Key_Escape:
            if self._gesture is not None:
                self._press_pos, self._gesture, self._lasso = None, None, []
                self.update()
            elif self._selected.any():
                self._current_row = None
                self._select_rows(np.zeros(0, np.intp))
            elif self._highlight is not None:
                self._search_text = ""
                self._legend_active = None
                self._set_highlight_mask(None)
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            rows = np.flatnonzero(self._highlight) if self._highlight is not None \
                else np.arange(len(self._data))
            self._select_rows(rows)
        elif key in (K.Key_Return, K.Key_Enter):
            tid = self._action_target()
            if tid is not None:
                self.play_requested.emit(tid)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _action_target(self, row: int | None = None) -> int | None:
        """The track a single-track action applies to: the one under the mouse, else the
        current one, else the only selected one."""
        if row is None:
            row = self._current_row
        if row is None:
            sel = np.flatnonzero(self._selected)
            if sel.size == 1:
                row = int(sel[0])
        return None if row is None else int(self._data.ids[row])

    def set_drag_mode(self, mode: str) -> None:
        """What a left-button drag does: "pan", "rect" (rectangle selection) or "lasso"."""
        if mode not in ("pan", "rect", "lasso"):
            raise ValueError("drag mode must be 'pan', 'rect' or 'lasso'")
        self._drag_mode = mode
        self.setCursor(Qt.CursorShape.OpenHandCursor if mode == "pan" else Qt.CursorShape.CrossCursor)

    def drag_mode(self) -> str:
        return self._drag_mode

    # ------------------------------------------------------------------ context menu
    def build_context_menu(self, pos: QPointF | QPoint) -> QMenu:
        """The actions for a right-click at ``pos``: a point that is not selected becomes the
        selection first. Returned (not shown) so that tests can trigger the actions."""
        pos = QPointF(pos)
        row = self._row_at(pos)
        if row is not None and not self._selected[row]:
            self._current_row = row
            self._select_rows(np.array([row]))
            self.current_changed.emit(int(self._data.ids[row]))
        menu = QMenu(self)
        target = self._action_target(row)
        title = None
        if target is not None:
            r = self.rows_of([target])[0]
            title = (self._data.titles[r] if self._data.titles is not None else None) or f"track {target}"
            if len(title) > 40:
                title = title[:39] + "…"
        play = QAction(f"Play “{title}”" if title else "Play", menu)
        play.setEnabled(target is not None)
        play.triggered.connect(lambda: target is not None and self.play_requested.emit(target))
        menu.addAction(play)
        similar = QAction("More like this", menu)
        similar.setEnabled(target is not None)
        similar.triggered.connect(lambda: target is not None and self.similar_requested.emit(target))
        menu.addAction(similar)
        menu.addSeparator()
        ids = self.selected_ids()
        n = len(ids)
        noun = "track" if n == 1 else "tracks"
        review = QAction(f"Review tags for {n:,} {noun}…" if n else "Review tags for the selection…", menu)
        review.setEnabled(n > 0)
        review.triggered.connect(lambda: self.review_requested.emit(list(ids)))
        menu.addAction(review)
        playlist = QAction(f"Make playlist from {n:,} {noun}…" if n else "Make playlist from the selection…", menu)
        playlist.setEnabled(n > 0)
        playlist.triggered.connect(lambda: self.playlist_requested.emit(list(ids)))
        menu.addAction(playlist)
        menu.addSeparator()
        if self._highlight is not None:
            sel_hl = QAction(f"Select the {int(self._highlight.sum()):,} highlighted", menu)
            sel_hl.triggered.connect(lambda: self._select_rows(np.flatnonzero(self._highlight)))
            menu.addAction(sel_hl)
        clear = QAction("Clear selection", menu)
        clear.setEnabled(n > 0)
        clear.triggered.connect(lambda: self._select_rows(np.zeros(0, np.intp)))
        menu.addAction(clear)
        fit = QAction("Fit all", menu)
        fit.triggered.connect(self.fit_all)
        menu.addAction(fit)
        return menu

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        self._set_hover(None)
        menu = self.build_context_menu(QPointF(event.pos()))
        menu.exec(event.globalPos())
        menu.deleteLater()

    # ------------------------------------------------------------------ sizing
    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._auto_fit:
            self.fit_all()
        else:
            old = event.oldSize()
            if old.isValid() and old.width() > 0:
                # keep the zoom relative to a refitted view
                zoom = self.zoom()
                cx, cy = self._cx, self._cy
                self.fit_all()
                self._auto_fit = False
                self.set_transform(cx, cy, self._fit_scale * zoom)
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(900, 640)
