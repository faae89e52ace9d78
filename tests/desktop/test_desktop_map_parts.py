"""The map's building blocks without a widget: rasteriser, spatial index, lasso, colours."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from desktop.map.colors import (CATEGORY_PALETTE, category_colours, colormap_lut, hex_to_rgb,
                                pack_rgb, unpack_rgb, value_colours)
from desktop.map.lasso import lasso_select, points_in_polygon, simplify_path
from desktop.map.point_index import PointIndex
from desktop.map.raster import PointCanvas, disc_kernel

BG = 0xFF101010


def rgb(pixel: int) -> tuple[int, int, int]:
    return (pixel >> 16) & 0xFF, (pixel >> 8) & 0xFF, pixel & 0xFF


def test_one_point_blends_over_the_background_and_is_round():
    c = PointCanvas(40, 30, BG)
    drawn = c.draw(np.array([20.0]), np.array([15.0]), 0xFFFF8000, alpha=0.5, radius=3.0)
    assert drawn == 1
    img = c.pixels()
    assert img.shape == (30, 40) and img.flags["C_CONTIGUOUS"]
    # centre: half way from background to orange ((dst*(256-a) + src*a) >> 8, a = 128)
    assert rgb(int(img[15, 20])) == ((0x10 * 128 + 0xFF * 128) >> 8, (0x10 * 128 + 0x80 * 128) >> 8,
                                     (0x10 * 128) >> 8)
    lit = img != np.uint32(BG)
    ys, xs = np.nonzero(lit)
    assert xs.min() == 17 and xs.max() == 23 and ys.min() == 12 and ys.max() == 18
    assert not lit[12, 17] and not lit[18, 23]        # corners of the box are outside the disc
    assert (img >> 24 == 0xFF).all()                  # opaque everywhere (RGB32)


def test_later_points_are_drawn_on_top_and_off_canvas_points_are_skipped():
    c = PointCanvas(20, 20, BG)
    n = c.draw(np.array([10.0, 10.0, -50.0, 10.0]), np.array([10.0, 10.0, 5.0, 90.0]),
               np.array([0xFFFF0000, 0xFF0000FF, 0xFF00FF00, 0xFF00FF00], np.uint32),
               alpha=np.array([1.0, 1.0, 1.0, 1.0]), radius=1.5)
    assert n == 2
    assert rgb(int(c.pixels()[10, 10])) == (0, 0, 0xFF)
    c.clear(BG)
    assert (c.pixels() == np.uint32(BG)).all()


def test_points_near_the_edge_are_drawn_in_part():
    c = PointCanvas(20, 20, BG)
    assert c.draw(np.array([-1.0]), np.array([10.0]), 0xFFFFFFFF, 1.0, 3.0) == 1
    img = c.pixels()
    assert img[10, 0] != np.uint32(BG) and img[10, 5] == np.uint32(BG)


def test_disc_kernel_grows_with_radius_and_is_faintest_first():
    sizes = [len(disc_kernel(r)[0]) for r in (1.0, 2.0, 4.0)]
    assert sizes == sorted(sizes) and sizes[0] >= 5
    cov = disc_kernel(2.5)[2]
    assert list(cov) == sorted(cov) and cov[-1] == 1.0


def test_point_index_matches_brute_force():
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(size=(3000, 2)), rng.normal(loc=8, scale=0.1, size=(500, 2))])
    index = PointIndex(xy)
    for q in rng.uniform(-3, 9, size=(300, 2)):
        d = np.hypot(*(xy - q).T)
        got = index.nearest(q[0], q[1], 0.2)
        if d.min() > 0.2:
            assert got is None
        else:
            assert d[got] == pytest.approx(d.min())
    got = index.in_rect(-1, -0.5, 0.5, 2)
    want = np.flatnonzero((xy[:, 0] >= -1) & (xy[:, 0] <= 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= 2))
    assert np.array_equal(got, want)
    # the mask hides points from picking
    mask = np.ones(len(xy), bool)
    best = index.nearest(8, 8, 1.0)
    mask[best] = False
    assert index.nearest(8, 8, 1.0, mask=mask) not in (None, best)


def test_point_index_degenerate_layouts():
    assert PointIndex(np.zeros((0, 2))).nearest(0, 0, 1) is None
    same = PointIndex(np.ones((5, 2)))
    assert same.nearest(1, 1, 0.1) == 4                 # ties: the last one (drawn on top)
    line = PointIndex(np.column_stack([np.arange(100.0), np.zeros(100)]))
    assert line.nearest(41.2, 0.0, 1.0) == 41
    assert np.array_equal(line.in_rect(10, -1, 12, 1), [10, 11, 12])


def test_lasso_matches_matplotlib_on_a_concave_polygon():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 10, size=(5000, 2))
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    r = 3 + 1.5 * np.sin(5 * t)                         # a star: very concave
    poly = np.column_stack([5 + r * np.cos(t), 5 + r * np.sin(t)])
    want = MplPath(np.vstack([poly, poly[:1]])).contains_points(pts)
    got = points_in_polygon(pts[:, 0], pts[:, 1], poly)
    assert np.array_equal(got, want) and 0 < want.sum() < len(pts)
    rows = lasso_select(PointIndex(pts), poly)
    assert np.array_equal(rows, np.flatnonzero(want))
    assert lasso_select(PointIndex(pts), poly[:2]).size == 0


def test_simplify_path_keeps_the_shape():
    path = np.array([[0, 0], [0.5, 0], [1, 0], [5, 0], [5, 0.2], [5, 5]], float)
    assert np.array_equal(simplify_path(path, 2.0), [[0, 0], [5, 0], [5, 5]])


def test_category_colours_by_frequency_with_other_last():
    labels = ["b"] * 5 + ["a"] * 3 + [None, ""] + ["c"] * 2 + ["d"]
    cc = category_colours(labels, max_categories=2)
    assert [(e.label, e.count) for e in cc.legend] == [("b", 5), ("a", 3), ("Other", 5)]
    assert cc.legend[0].colour == CATEGORY_PALETTE[0]
    assert tuple(unpack_rgb(cc.packed[0])) == hex_to_rgb(CATEGORY_PALETTE[0])
    assert (cc.code[8:] == 2).all() and cc.code[0] == 0 and cc.code[5] == 1
    light = category_colours(labels, light=True)
    assert light.legend[0].colour != cc.legend[0].colour


def test_value_colours_and_colormap_ends():
    lut = colormap_lut("viridis")
    assert tuple(unpack_rgb(lut[0])) == hex_to_rgb("#440154")
    assert tuple(unpack_rgb(lut[-1])) == hex_to_rgb("#fde725")
    packed, t, vmin, vmax = value_colours(np.array([0.0, 0.5, 1.0, np.nan]), vmin=0, vmax=1)
    assert list(t) == [0.0, 0.5, 1.0, 0.0] and (vmin, vmax) == (0.0, 1.0)
    assert packed[2] == lut[-1] and packed[0] == lut[0]
    assert pack_rgb(np.array([1, 2, 3])) == np.uint32(0xFF010203)
    with pytest.raises(ValueError):
        colormap_lut("nope")


def test_points_just_outside_with_the_largest_radius_are_clipped_safely():
    c = PointCanvas(50, 40, BG)
    # discs reaching 9.5 px: the first four touch the image, the next two reach its edge
    # pixels at zero coverage (and used to index past the buffer), the last two are skipped
    xs = np.array([-9.4, 58.4, 25.0, 25.0, 59.4, -10.4, 60.6, -11.0])
    ys = np.array([20.0, 20.0, -9.4, 48.4, 5.0, 5.0, 20.0, 20.0])
    assert c.draw(xs, ys, 0xFFFFFFFF, 1.0, radius=9.0) == 6
    img = c.pixels()
    assert img[20, 0] != np.uint32(BG) and img[20, 49] != np.uint32(BG)
    assert img[0, 25] != np.uint32(BG) and img[39, 25] != np.uint32(BG)


def test_none_and_true_survive_many_void_calls_and_signals():
    import sys

    import desktop.map  # noqa: F401  (applies the guard where PySide6 needs it)
    from PySide6.QtCore import QObject, QPointF, Signal

    class Emitter(QObject):
        ping = Signal(object)

    p, e = QPointF(), Emitter()
    # None starts with ~15,000 references in a test process and True with ~3,000; without
    # the guard these loops end in "Fatal Python error: none_dealloc" / "bool_dealloc"
    for _ in range(40_000):
        p.setX(1.0)
    for _ in range(8_000):
        e.ping.emit(None)
    assert sys.getrefcount(None) > 1000 and sys.getrefcount(True) > 1000
