"""Colours of the map: a qualitative palette for categories and colour maps for scores.

Colours are packed as ``0xAARRGGBB`` uint32 (the layout of ``QImage.Format_RGB32`` /
``ARGB32`` pixels on little-endian machines), so the rasteriser blends them without
unpacking. Every function takes and returns numpy arrays; nothing here needs Qt.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Twelve hues that stay distinct on a dark background (a brightened Tableau 10 plus two).
#: The most frequent category gets the first colour.
CATEGORY_PALETTE: tuple[str, ...] = (
    "#5b9bf0",  # blue
    "#f5a742",  # orange
    "#ef5f67",  # red
    "#5fd3c5",  # teal
    "#8fcf5a",  # green
    "#f2d35a",  # yellow
    "#c285e6",  # purple
    "#f78fb3",  # pink
    "#c9a27e",  # tan
    "#4fc3f7",  # sky
    "#9d8cf5",  # violet
    "#b5e3a1",  # mint
)
#: The same hues, darker (Tableau 10 plus two), for a light background.
LIGHT_CATEGORY_PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#4ea39c", "#59a14f", "#d4b02a", "#b07aa1",
    "#e0728a", "#9c755f", "#1f9fc4", "#7a5fc9", "#6b9e5b",
)
#: Tracks outside the named categories: a neutral grey drawn underneath the others.
OTHER_COLOUR = "#7b8290"
LIGHT_OTHER_COLOUR = "#b9bec6"
OTHER_LABEL = "Other"

#: Colour maps sampled from matplotlib at 11 evenly spaced points and interpolated linearly
#: (the maps are perceptually uniform, so 11 knots reproduce them to within a step of 8-bit).
COLORMAPS: dict[str, tuple[str, ...]] = {
    "viridis": ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
                "#44bf70", "#7ad151", "#bddf26", "#fde725"),
    "magma": ("#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968",
              "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"),
    "plasma": ("#0d0887", "#41049d", "#6a00a8", "#8f0da4", "#b12a90", "#cc4778", "#e16462",
               "#f2844b", "#fca636", "#fcce25", "#f0f921"),
}
DEFAULT_COLORMAP = "viridis"
LUT_SIZE = 256


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``."""
    c = colour.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8-valued ``rgb`` [..., 3] -> opaque ``0xFFRRGGBB`` uint32 [...]."""
    rgb = np.asarray(rgb).astype(np.uint32)
    return (np.uint32(0xFF000000) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            ).astype(np.uint32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """``0xAARRGGBB`` uint32 [...] -> uint8 ``rgb`` [..., 3]."""
    packed = np.asarray(packed, dtype=np.uint32)
    return np.stack([(packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF],
                    axis=-1).astype(np.uint8)


def pack_hex(colour: str) -> np.uint32:
    return pack_rgb(np.array(hex_to_rgb(colour)))[()]


def colormap_lut(name: str = DEFAULT_COLORMAP, size: int = LUT_SIZE) -> np.ndarray:
    """A colour map as ``size`` packed colours (uint32 [size]), low values first."""
    try:
        knots = np.array([hex_to_rgb(c) for c in COLORMAPS[name]], dtype=np.float64)
    except KeyError:
        raise ValueError(f"unknown colour map {name!r}; choose one of {sorted(COLORMAPS)}") from None
    t = np.linspace(0.0, 1.0, size)
    k = np.linspace(0.0, 1.0, len(knots))
    rgb = np.stack([np.interp(t, k, knots[:, ch]) for ch in range(3)], axis=1)
    return pack_rgb(np.rint(rgb))


@dataclass(frozen=True)
class LegendEntry:
    """One row of a categorical legend."""

    label: str
    colour: str     # "#rrggbb"
    count: int


@dataclass(frozen=True)
class CategoryColours:
    """The result of :func:`category_colours`: a packed colour and a draw rank per point."""

    packed: np.ndarray        # uint32 [n]
    code: np.ndarray          # int32 [n]: index into ``legend``; "Other" is last
    legend: tuple[LegendEntry, ...]


def category_colours(labels: Sequence | np.ndarray, *, max_categories: int = len(CATEGORY_PALETTE),
                     other: str = OTHER_LABEL, light: bool = False) -> CategoryColours:
    """Colour points by a label each (None or "" count as ``other``).

    The ``max_categories`` most frequent labels get palette colours, most frequent first;
    the rest share the grey "Other" colour, listed last in the legend. ``light`` picks the
    darker palette made for a light background.
    """
    palette = LIGHT_CATEGORY_PALETTE if light else CATEGORY_PALETTE
    other_colour = LIGHT_OTHER_COLOUR if light else OTHER_COLOUR
    max_categories = max(0, min(int(max_categories), len(CATEGORY_PALETTE)))
    labs = ["" if v is None else str(v) for v in labels]
    counts = Counter(v for v in labs if v and v != other)
    named = [lab for lab, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             ][:max_categories]
    code_of = {lab: i for i, lab in enumerate(named)}
    other_code = len(named)
    code = np.fromiter((code_of.get(v, other_code) for v in labs), dtype=np.int32,
                       count=len(labs))
    table = np.array([pack_hex(c) for c in palette[:len(named)]] + [pack_hex(other_colour)],
                     dtype=np.uint32)
    legend = [LegendEntry(lab, palette[i], counts[lab]) for i, lab in enumerate(named)]
    n_other = int(np.count_nonzero(code == other_code))
    if n_other:
        legend.append(LegendEntry(other, other_colour, n_other))
    return CategoryColours(packed=table[code], code=code, legend=tuple(legend))


def value_colours(values: np.ndarray, *, vmin: float | None = None, vmax: float | None = None,
                  colormap: str = DEFAULT_COLORMAP) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Colour points by a number each: ``(packed uint32 [n], t float32 [n] in 0..1, vmin, vmax)``.

    ``vmin``/``vmax`` default to the 1st and 99th percentiles; NaN values get the lowest
    colour and ``t = 0``.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if vmin is None:
        vmin = float(np.percentile(v[finite], 1)) if finite.any() else 0.0
    if vmax is None:
        vmax = float(np.percentile(v[finite], 99)) if finite.any() else 1.0
    if not vmax > vmin:
        vmax = vmin + 1e-9
    t = np.clip((np.where(finite, v, vmin) - vmin) / (vmax - vmin), 0.0, 1.0).astype(np.float32)
    lut = colormap_lut(colormap)
    return lut[np.rint(t * (len(lut) - 1)).astype(np.intp)], t, float(vmin), float(vmax)
