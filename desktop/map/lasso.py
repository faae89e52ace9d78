"""Lasso (free-hand polygon) selection: which points lie inside a polygon."""
from __future__ import annotations

import numpy as np

from desktop.map.point_index import PointIndex


def simplify_path(points: np.ndarray, min_step: float) -> np.ndarray:
    """Drop vertices closer than ``min_step`` to the previously kept one (a mouse path has
    hundreds of nearly identical points; a few dozen describe the same shape)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] < 3:
        return points
    kept = [points[0]]
    last = points[0]
    for p in points[1:]:
        if (p[0] - last[0]) ** 2 + (p[1] - last[1]) ** 2 >= min_step * min_step:
            kept.append(p)
            last = p
    return np.array(kept)


def points_in_polygon(px: np.ndarray, py: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Bool [n]: which points are inside ``polygon`` [m, 2] (even-odd rule; the polygon is
    closed implicitly). One vectorised crossing test per edge."""
    px = np.asarray(px, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(px.shape[0], dtype=bool)
    if poly.shape[0] < 3 or px.size == 0:
        return inside
    xs, ys = poly[:, 0], poly[:, 1]
    xs2, ys2 = np.roll(xs, -1), np.roll(ys, -1)
    for ax, ay, bx, by in zip(xs.tolist(), ys.tolist(), xs2.tolist(), ys2.tolist()):
        if ay == by:
            continue  # a horizontal edge never crosses the horizontal ray
        crosses = (ay > py) != (by > py)
        if not crosses.any():
            continue
        x_at = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (px < x_at)
    return inside


def lasso_select(index: PointIndex, polygon: np.ndarray) -> np.ndarray:
    """Rows of the indexed points inside ``polygon`` [m, 2] (data coordinates), ascending."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if poly.shape[0] < 3:
        return np.zeros(0, dtype=np.intp)
    (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
    cand = np.sort(index.candidates(x0, y0, x1, y1))
    xy = index.xy[cand]
    return cand[points_in_polygon(xy[:, 0], xy[:, 1], poly)]
