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
        self._scratch: list[np.ndarray] = []
        self._scratch_n = 0
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
        work = self._work(n)
        target, dst, t1, t2, t3, a, ia, af, src_rb, src_g = work
        col = np.asarray(colours, dtype=np.uint32)
        if col.ndim:
            if not all_inside:
                col = col[inside]
            np.bitwise_and(col, _RB, out=src_rb)
            np.bitwise_and(col, _G, out=src_g)
        else:
            src_rb.fill(col & _RB)
            src_g.fill(col & _G)
        a_pt = np.asarray(alpha, dtype=np.float32)
        per_point = a_pt.ndim > 0
        if per_point and not all_inside:
            a_pt = a_pt[inside]
        a_pt = np.clip(a_pt, 0.0, 1.0) * np.float32(256.0)
        buf, stride = self._buf, self._stride
        # every operation writes into preallocated arrays: allocating fresh ones each pass
        # costs several times more than the arithmetic itself
        for dx, dy, cov in zip(dxs, dys, covs):
            np.add(centre, dy * stride + dx, out=target)
            np.take(buf, target, out=dst)
            if per_point:
                np.multiply(a_pt, np.float32(cov), out=af)
                np.copyto(a, af, casting="unsafe")
                np.subtract(np.uint32(256), a, out=ia)
                a_, ia_ = a, ia
            else:
                a_ = np.uint32(int(a_pt * cov))
                ia_ = np.uint32(256) - a_
            np.bitwise_and(dst, _RB, out=t1)
            np.multiply(t1, ia_, out=t1)
            np.multiply(src_rb, a_, out=t2)
            np.add(t1, t2, out=t1)
            np.right_shift(t1, 8, out=t1)
            np.bitwise_and(t1, _RB, out=t1)
            np.bitwise_and(dst, _G, out=t3)
            np.multiply(t3, ia_, out=t3)
            np.multiply(src_g, a_, out=t2)
            np.add(t3, t2, out=t3)
            np.right_shift(t3, 8, out=t3)
            np.bitwise_and(t3, _G, out=t3)
            np.bitwise_or(t1, t3, out=t1)
            np.bitwise_or(t1, _OPAQUE, out=t1)
            buf[target] = t1
        return n

    def _work(self, n: int) -> list[np.ndarray]:
        """Scratch arrays for ``n`` points, reused between calls (grown when needed)."""
        if self._scratch_n < n:
            size = max(n, int(self._scratch_n * 1.5))
            self._scratch = [np.empty(size, np.intp)] + [np.empty(size, np.uint32) for _ in range(6)] \
                + [np.empty(size, np.float32)] + [np.empty(size, np.uint32) for _ in range(2)]
            self._scratch_n = size
        return [arr[:n] for arr in self._scratch]

    def pixels(self) -> np.ndarray:
        """The visible image, uint32 [height, width], C-contiguous (a copy)."""
        full = self._buf.reshape(self.height + 2 * _PAD, self._stride)
        return np.ascontiguousarray(full[_PAD:_PAD + self.height, _PAD:_PAD + self.width])
