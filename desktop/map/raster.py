"""Soft round points drawn into a pixel buffer with numpy, fast enough for 50,000 points.

QPainter draws wide or antialiased points one path at a time (50,000 points with a 3 px
round pen take 80-300 ms here), and one QGraphicsItem per point is slower still. This module
stamps an antialiased disc into a ``uint32`` ``0xFFRRGGBB`` buffer instead: one pass per
pixel of the disc (9 passes for a 1.5 px radius), each pass a gather, a blend and a scatter
over all points at once. Blending is the usual "over" operator, ``out = (dst * (256 - a) +
src * a) >> 8``, done on two channels at a time inside one uint32 (red and blue in
``0x00FF00FF``, green in ``0x0000FF00``), so a pass is a dozen numpy operations on arrays of
length n, independent of the image size.

Points are drawn in the order given (later on top). Within one pass, points landing on the
same pixel keep only the last write, so very dense spots saturate a little less than exact
compositing would; the outer, faint pixels of each disc are drawn first and the centre last,
so every point keeps its own bright centre.

The buffer has the memory layout of ``QImage.Format_RGB32`` (the view wraps it without a
copy); nothing in this module needs Qt.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Largest disc radius in pixels. The buffer is padded by twice the reach of the largest disc,
#: so that a point whose disc still touches the image (up to one reach outside) is stamped in
#: full without any clipping per pass.
MAX_RADIUS = 9.0
_PAD = 2 * int(np.ceil(MAX_RADIUS + 0.5))
_RB = np.uint32(0x00FF00FF)
_G = np.uint32(0x0000FF00)
_OPAQUE = np.uint32(0xFF000000)


@lru_cache(maxsize=64)
def disc_kernel(radius: float) -> tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]:
    """The pixels of an antialiased disc: ``(dx, dy, coverage)``, faintest first.

    Coverage is ``clip(radius + 0.5 - distance, 0, 1)`` (a linear ramp one pixel wide at the
    rim); pixels under 2 % coverage are left out.
    """
    radius = float(np.clip(radius, 0.5, MAX_RADIUS))
    reach = int(np.ceil(radius + 0.5))
    dy, dx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    cov = np.clip(radius + 0.5 - np.hypot(dx, dy), 0.0, 1.0)
    keep = cov > 0.02
    order = np.argsort(cov[keep], kind="stable")
    return (tuple(dx[keep][order].tolist()), tuple(dy[keep][order].tolist()),
            tuple(cov[keep][order].tolist()))


def kernel_size(radius: float) -> int:
    """How many passes (pixels) one disc of this radius takes."""
    return len(disc_kernel(quantize_radius(radius))[0])


def quantize_radius(radius: float) -> float:
    """Radii are rounded to a quarter pixel so kernels are cached and reused."""
    return float(np.clip(round(radius * 4.0) / 4.0, 0.5, MAX_RADIUS))


class PointCanvas:
    """A ``width`` x ``height`` RGB32 pixel buffer to stamp points into.

    ``draw`` may be called several times (layers: dimmed points, then highlighted ones, then
    the selection); :meth:`pixels` returns the visible part as a C-contiguous ``uint32
    [height, width]`` array.
    """

    def __init__(self, width: int, height: int, background: int = 0xFF1B1D23) -> None:
        self.width, self.height = max(1, int(width)), max(1, int(height))
        self._stride = self.width + 2 * _PAD
        self._buf = np.empty((self.height + 2 * _PAD) * self._stride, dtype=np.uint32)
        self.clear(background)

    def clear(self, background: int) -> None:
        self._buf.fill(np.uint32(background | 0xFF000000))

    def draw(self, x: np.ndarray, y: np.ndarray, colours: np.ndarray | int,
             alpha: np.ndarray | float = 0.75, radius: float = 1.5) -> int:
        """Stamp discs centred at pixel coordinates ``x``, ``y`` (float arrays [n]).

        ``colours``: packed ``0x??RRGGBB`` uint32 [n] or one colour for all; ``alpha``:
        opacity in 0..1 per point [n] or one value. Points farther outside the image than
        their radius are skipped. Returns how many points were drawn.
        """
        radius = quantize_radius(radius)
        dxs, dys, covs = disc_kernel(radius)
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        px = np.rint(x).astype(np.intp)
        py = np.rint(y).astype(np.intp)
        reach = int(np.ceil(radius + 0.5))
        inside = (px >= -reach) & (px < self.width + reach) & (py >= -reach) & (py < self.height + reach)
        all_inside = bool(inside.all())
        if not all_inside:
            px, py = px[inside], py[inside]
        n = px.shape[0]
        if n == 0:
            return 0
        centre = (py + _PAD) * self._stride + (px + _PAD)
        col = np.asarray(colours, dtype=np.uint32)
        if col.ndim:
            if not all_inside:
                col = col[inside]
            src_rb, src_g = col & _RB, col & _G
        else:
            src_rb, src_g = np.uint32(col & _RB), np.uint32(col & _G)
        a_pt = np.asarray(alpha, dtype=np.float32)
        per_point = a_pt.ndim > 0
        if per_point and not all_inside:
            a_pt = a_pt[inside]
        a_pt = np.clip(a_pt, 0.0, 1.0) * 256.0
        buf, stride = self._buf, self._stride
        for dx, dy, cov in zip(dxs, dys, covs):
            target = centre + (dy * stride + dx)
            dst = buf[target]
            if per_point:
                a = (a_pt * cov).astype(np.uint32)
                ia = np.uint32(256) - a
            else:
                a = np.uint32(int(a_pt * cov))
                ia = np.uint32(256 - int(a))
            rb = (((dst & _RB) * ia + src_rb * a) >> 8) & _RB
            g = (((dst & _G) * ia + src_g * a) >> 8) & _G
            buf[target] = rb | g | _OPAQUE
        return n

    def pixels(self) -> np.ndarray:
        """The visible image, uint32 [height, width], C-contiguous (a copy)."""
        full = self._buf.reshape(self.height + 2 * _PAD, self._stride)
        return np.ascontiguousarray(full[_PAD:_PAD + self.height, _PAD:_PAD + self.width])
