"""What the map shows, as plain arrays: points, their text, and how to colour them.

The map widget takes these objects and nothing else, so it can be tested and benchmarked
without a library database; :mod:`desktop.map.library_map` builds them from a library.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class MapData:
    """The points of a map.

    ``ids``: track ids, int64 [n] (unique). ``xy``: layout coordinates, float32 [n, 2] (any
    units; y grows upwards). ``titles``, ``artists``: one string (or None) per point,
    ``tags``: a short line of top tags per point (e.g. "Jazz 0.91 · Mellow 0.66"); all three
    are optional and used for the default tooltip and for text search.
    """

    ids: np.ndarray
    xy: np.ndarray
    titles: Sequence[str | None] | None = None
    artists: Sequence[str | None] | None = None
    tags: Sequence[str | None] | None = None

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64).ravel()
        self.xy = np.asarray(self.xy, dtype=np.float32).reshape(-1, 2)
        n = self.ids.shape[0]
        if self.xy.shape[0] != n:
            raise ValueError(f"{n} ids for {self.xy.shape[0]} points")
        if np.unique(self.ids).shape[0] != n:
            raise ValueError("track ids on a map must be unique")
        if not np.isfinite(self.xy).all():
            raise ValueError("map coordinates must be finite")
        for name in ("titles", "artists", "tags"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name}: expected {n} values, got {len(values)}")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> "MapData":
        return cls(np.zeros(0, np.int64), np.zeros((0, 2), np.float32))


@dataclass(frozen=True)
class CategoryColoring:
    """Colour each point by a label (e.g. its top genre): qualitative palette + legend.

    ``labels``: one string per point; None, "" and ``other`` are drawn grey, underneath.
    At most ``max_categories`` labels get their own colour (the most frequent ones).
    """

    labels: Sequence[str | None]
    title: str = "Top genre"
    max_categories: int = 12
    other: str = "Other"


@dataclass(frozen=True)
class ValueColoring:
    """Colour each point by a number (e.g. one tag's score): colour map + colour bar.

    ``values``: float [n]; ``vmin``/``vmax`` fix the ends of the scale (default: the 1st
    and 99th percentiles). Points with higher values are drawn on top and more opaque, so
    where a tag is strong stands out from the rest.
    """

    values: np.ndarray
    title: str = "Score"
    vmin: float | None = 0.0
    vmax: float | None = 1.0
    colormap: str = "viridis"


Coloring = CategoryColoring | ValueColoring


@dataclass(frozen=True)
class RegionLabel:
    """A named area of the map: the text and where it goes (data coordinates).

    Matches :class:`engine.similarity.regions.Region` (``label``, ``x``, ``y``, ``size``),
    which can be passed to the map directly.
    """

    label: str
    x: float
    y: float
    size: int = 1
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)
