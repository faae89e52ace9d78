"""resampy 0.2.x ``kaiser_best`` resampling, without numba, vectorised.

musicnn's pretrained taggers were trained and evaluated on audio that ``librosa.load(sr=16000)``
resampled with resampy 0.2.x's ``kaiser_best`` filter; a different resampler moves their
probabilities by up to 0.05. This module reproduces that resampler:

* the filter: the right wing of a Kaiser-windowed sinc with 64 zero crossings, roll-off
  0.9475937167399596 (fraction of Nyquist), Kaiser beta 14.769656459379492, tabulated at
  2**9 = 512 points per zero crossing (32,769 values; identical to 0.2.x's ``kaiser_best.npz``
  to 2e-16), scaled by the ratio when downsampling;
* the interpolation: for output sample ``t`` at input time ``t * orig_sr / target_sr``, the
  filter is read from the table with linear interpolation between table entries, left wing on
  ``x[n], x[n-1], ...`` and right wing on ``x[n+1], ...``, samples outside the signal are zero;
* the length: resampy returns ``int(len(y) * target_sr / orig_sr)`` samples and
  ``librosa.resample(fix=True)`` (librosa 0.7) zero-pads that to ``ceil(len(y) * ratio)``;
  :func:`resample_kaiser_best` returns the librosa length, as ``librosa.load`` did.

For a rational ratio ``L / M`` (in lowest terms) the output phases repeat every ``L`` outputs,
so the filter taps for each phase are computed once (cached per ratio) exactly as resampy
interpolates them, and the whole signal is filtered by one matrix product over strided frames
of ``M`` input samples. Ratios with a very long phase period fall back to the same arithmetic
evaluated per output sample in chunks.

resampy 0.2.x advances its sampling instant by repeated float addition
(``time_register += orig/target``); the instants are reproduced the same way, and outputs whose
instant the drift pushed below an integer are recomputed at that instant (see
:func:`resample_kaiser_best`). The result matches resampy 0.2.x to ~2e-6 over the first 30 s;
later, the other outputs follow the exact instants rather than resampy's drifted ones, which
differ by up to 1.3e-4 at 4 minutes (1.6e-3 at 10 minutes, full scale 1), and moves musicnn's
tag scores by < 1e-6.
"""
from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np

from ..errors import ParameterError

NUM_ZEROS = 64                          # zero crossings of the sinc kept on each side
PRECISION_BITS = 9                      # table entries per zero crossing = 2**9
TABLE_PER_ZERO = 2 ** PRECISION_BITS    # 512
ROLLOFF = 0.9475937167399596            # fraction of Nyquist
KAISER_BETA = 14.769656459379492

#: Phase periods above this use the chunked per-sample path instead of a filter bank.
_MAX_PHASES = 4096
_MIN_COLS = 64                          # least columns of the filter-bank matrix
_CHUNK = 1 << 15                        # outputs per chunk on the per-sample path


@lru_cache(maxsize=1)
def kaiser_best_table() -> np.ndarray:
    """The right wing of the filter, ``[NUM_ZEROS * 512 + 1]`` float64 (resampy 0.2.x ``half_window``)."""
    n = TABLE_PER_ZERO * NUM_ZEROS
    sinc = ROLLOFF * np.sinc(ROLLOFF * np.linspace(0, NUM_ZEROS, num=n + 1, endpoint=True))
    taper = np.kaiser(2 * n + 1, KAISER_BETA)[n:]
    table = taper * sinc
    table.setflags(write=False)
    return table


def _scaled_table(sample_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    win = kaiser_best_table()
    if sample_ratio < 1:
        win = win * sample_ratio
    delta = np.zeros_like(win)
    delta[:-1] = np.diff(win)
    return win, delta


def _wing_weights(frac: np.ndarray, scale: float, win: np.ndarray, delta: np.ndarray,
                  n_taps: int) -> np.ndarray:
    """Weights ``[len(frac), n_taps]`` of one wing for fractional positions ``frac`` (already
    multiplied by ``scale``), exactly as resampy reads its table; taps past the table are 0."""
    index_step = int(scale * TABLE_PER_ZERO)
    nwin = win.shape[0]
    index_frac = frac * TABLE_PER_ZERO
    offset = index_frac.astype(np.int64)            # int() of a non-negative float
    eta = index_frac - offset
    idx = offset[:, None] + index_step * np.arange(n_taps)[None, :]
    # resampy runs the tap index over range((nwin - offset) // index_step); later taps are 0.
    n_valid = (nwin - offset) // index_step
    valid = np.arange(n_taps)[None, :] < n_valid[:, None]
    safe = np.where(valid, idx, 0)
    w = win[safe] + eta[:, None] * delta[safe]
    return np.where(valid, w, 0.0)


def _wing_lengths(scale: float) -> int:
    """Most taps either wing can have for this scale."""
    index_step = int(scale * TABLE_PER_ZERO)
    nwin = NUM_ZEROS * TABLE_PER_ZERO + 1
    return -(-nwin // index_step)


@lru_cache(maxsize=16)
def _filter_bank(orig_sr: int, target_sr: int) -> tuple[np.ndarray, int, int, int, int]:
    """Polyphase bank for ``orig_sr -> target_sr``.

    Returns ``(G, L, M, left, width)``: ``G`` is ``[width, L]`` float32 such that output
    ``p + L*m`` = ``frames[m] @ G[:, p]`` with ``frames[m] = xpad[m*M : m*M + width]`` and
    ``xpad`` = ``x`` with ``left`` zeros in front (and enough zeros behind).
    """
    g = math.gcd(orig_sr, target_sr)
    L, M = target_sr // g, orig_sr // g
    # Few phases (e.g. 48 kHz -> 16 kHz: L = 1) would make a matrix-vector product; treat
    # several periods as one so that the product has >= _MIN_COLS columns.
    k = -(-_MIN_COLS // L)
    L, M = L * k, M * k
    sample_ratio = float(target_sr) / orig_sr
    scale = min(1.0, sample_ratio)
    win, delta = _scaled_table(sample_ratio)
    n_taps = _wing_lengths(scale)
    p = np.arange(L)
    base = (p * M) // L                                   # n for output p (m = 0)
    frac = scale * ((p * M) % L / L)                      # scale * (time - n)
    left_w = _wing_weights(frac, scale, win, delta, n_taps)          # on x[n - i]
    right_w = _wing_weights(scale - frac, scale, win, delta, n_taps)  # on x[n + 1 + k]
    left = n_taps - 1
    width = int(base.max()) + left + 1 + n_taps
    G = np.zeros((width, L), dtype=np.float64)
    cols = np.arange(L)
    for i in range(n_taps):
        G[base + left - i, cols] += left_w[:, i]
        G[base + left + 1 + i, cols] += right_w[:, i]
    G32 = G.astype(np.float32)
    G32.setflags(write=False)
    return G32, L, M, left, width


def _resample_bank(x: np.ndarray, orig_sr: int, target_sr: int, n_out: int) -> np.ndarray:
    G, L, M, left, width = _filter_bank(orig_sr, target_sr)
    n_blocks = -(-n_out // L)
    need = (n_blocks - 1) * M + width
    xpad = np.zeros(max(need, left + x.shape[0]), dtype=np.float32)
    xpad[left:left + x.shape[0]] = x
    frames = np.lib.stride_tricks.as_strided(
        xpad, shape=(n_blocks, width), strides=(M * xpad.strides[0], xpad.strides[0]), writeable=False
    )
    y = np.empty((n_blocks, L), dtype=np.float32)
    step = max(1, (1 << 22) // (width + L))               # bound the temporary per product
    for s in range(0, n_blocks, step):
        np.matmul(np.ascontiguousarray(frames[s:s + step]), G, out=y[s:s + step])
    return y.reshape(-1)[:n_out]


def _direct_at(x: np.ndarray, times: np.ndarray, sample_ratio: float) -> np.ndarray:
    """Outputs at input times ``times`` (float64, in input samples) with resampy's arithmetic
    (``n = int(t)``, ``frac = scale * (t - n)``, table offset ``int(frac * 512)`` and linear
    interpolation weight ``eta``). Outputs sharing a table offset share their tap vectors, so
    each wing is two matrix-vector products per offset group."""
    scale = min(1.0, sample_ratio)
    win, delta = _scaled_table(sample_ratio)
    n_taps = _wing_lengths(scale)
    index_step = int(scale * TABLE_PER_ZERO)
    nwin = win.shape[0]
    left = n_taps - 1
    xpad = np.zeros(x.shape[0] + 2 * n_taps + 1, dtype=np.float32)
    xpad[left:left + x.shape[0]] = x
    n = times.astype(np.int64)
    frac = scale * (times - n)
    y = np.zeros(times.shape[0], dtype=np.float64)
    for wing_frac, right in ((frac, False), (scale - frac, True)):
        index_frac = wing_frac * TABLE_PER_ZERO
        offset = index_frac.astype(np.int64)
        eta = index_frac - offset
        for o in np.unique(offset):
            rows = np.flatnonzero(offset == o)
            nv = int((nwin - o) // index_step)
            if nv <= 0:
                continue
            tap_idx = o + index_step * np.arange(nv)
            w, d = win[tap_idx], delta[tap_idx]
            if right:       # x[n + 1 + k], k = 0..nv-1: a window starting at n + 1
                first = n + left + 1
            else:           # x[n - i], i = 0..nv-1: a window ending at n, read backwards
                first = n + left - nv + 1
                w, d = w[::-1], d[::-1]
            windows = np.lib.stride_tricks.sliding_window_view(xpad, nv)
            wd = np.stack([w, d], axis=1).astype(np.float32)      # both products in one pass
            for s in range(0, rows.shape[0], _CHUNK):
                r = rows[s:s + _CHUNK]
                prod = (windows[first[r]] @ wd).astype(np.float64)
                y[r] += prod[:, 0] + eta[r] * prod[:, 1]
    return y.astype(np.float32)


def _time_register(n_out: int, orig_sr: int, target_sr: int) -> np.ndarray:
    """resampy 0.2.x's sampling instants: ``0, inc, inc + inc, ...`` by repeated float addition
    (``np.add.accumulate`` adds sequentially, so the rounding is the same)."""
    t = np.empty(n_out, dtype=np.float64)
    t[0] = 0.0
    if n_out > 1:
        np.add.accumulate(np.full(n_out - 1, 1.0 / (float(target_sr) / orig_sr)), out=t[1:])
    return t


class _DriftedInstants:
    """Where resampy's accumulated sampling instants fall in another input sample than the exact
    instants ``k * orig / target``, for one rate pair: indices and instants, cached.

    The instants depend only on the rates and the count, and a shorter signal's are a prefix of
    a longer one's, so they are computed once per process for the longest signal seen (in chunks,
    carrying the register across, so the additions are the same sequence) and only the few
    drifted ones are kept (about 0.4% at 44.1 -> 16 kHz).
    """

    _CHUNK = 1 << 20

    def __init__(self, orig_sr: int, target_sr: int) -> None:
        self.orig_sr, self.target_sr = orig_sr, target_sr
        self.step = 1.0 / (float(target_sr) / orig_sr)
        self.count = 0                      # instants examined so far
        self.next_t = 0.0                   # the register's value at index ``count``
        self.idx = np.zeros(0, dtype=np.int64)
        self.t = np.zeros(0, dtype=np.float64)
        self.lock = threading.Lock()

    def _extend(self, n: int) -> None:
        idx, t_kept = [self.idx], [self.t]
        while self.count < n:
            c = min(self._CHUNK, n - self.count)
            seq = np.full(c, self.step)
            seq[0] = self.next_t
            t = np.add.accumulate(seq)                       # sequential, as resampy's +=
            k = np.arange(self.count, self.count + c, dtype=np.int64)
            moved = np.flatnonzero(t.astype(np.int64) != (k * self.orig_sr) // self.target_sr)
            idx.append(moved + self.count)
            t_kept.append(t[moved])
            self.next_t = float(t[-1]) + self.step
            self.count += c
        if len(idx) > 1:
            self.idx, self.t = np.concatenate(idx), np.concatenate(t_kept)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            if self.count < n:
                self._extend(n)
            idx, t = self.idx, self.t
        end = int(np.searchsorted(idx, n))                  # indices are increasing
        return idx[:end], t[:end]


_DRIFTS: dict[tuple[int, int], _DriftedInstants] = {}


def drifted_instants(n_out: int, orig_sr: int, target_sr: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, instants)`` of the outputs among the first ``n_out`` whose resampy instant
    (see :func:`_time_register`) is in another input sample than the exact one."""
    key = (orig_sr, target_sr)
    if key not in _DRIFTS:
        _DRIFTS[key] = _DriftedInstants(orig_sr, target_sr)
    return _DRIFTS[key].upto(n_out)


def output_length(n_samples: int, orig_sr: int, target_sr: int) -> int:
    """Samples :func:`resample_kaiser_best` returns: ``ceil(n * target / orig)`` (librosa 0.7)."""
    return int(np.ceil(n_samples * (float(target_sr) / orig_sr)))


def resample_kaiser_best(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample mono ``y`` (1-D) from ``orig_sr`` to ``target_sr`` Hz like
    ``librosa.resample(y, orig_sr, target_sr, res_type="kaiser_best")`` did with resampy 0.2.x.

    Returns float32 ``[ceil(len(y) * target_sr / orig_sr)]``; the first
    ``int(len(y) * target_sr / orig_sr)`` samples are resampy's, any extra one is 0.
    """
    orig_sr, target_sr = int(orig_sr), int(target_sr)
    if orig_sr <= 0 or target_sr <= 0:
        raise ParameterError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    x = np.asarray(y, dtype=np.float32)
    if x.ndim != 1:
        raise ParameterError(f"expected a 1-D signal, got shape {x.shape}")
    if orig_sr == target_sr:
        return x.copy()
    sample_ratio = float(target_sr) / orig_sr
    n_res = int(x.shape[0] * sample_ratio)        # resampy 0.2.x's output length
    n_out = output_length(x.shape[0], orig_sr, target_sr)
    out = np.zeros(n_out, dtype=np.float32)
    if n_res < 1:
        return out
    # resampy 0.2.x's accumulated sampling instant drifts (by ~1e-5 samples per 30 s); where
    # it ends just below an integer, n and the filter phase differ from the exact instant's and,
    # because its table step is int(scale * 512), so does the output (by up to ~1e-3). Those
    # outputs are recomputed at resampy's instants; elsewhere the drift changes < 3e-6.
    g = math.gcd(orig_sr, target_sr)
    if target_sr // g <= _MAX_PHASES:
        out[:n_res] = _resample_bank(x, orig_sr, target_sr, n_res)
        moved, t_moved = drifted_instants(n_res, orig_sr, target_sr)
        if moved.size:
            out[moved] = _direct_at(x, t_moved, sample_ratio)
    else:
        out[:n_res] = _direct_at(x, _time_register(n_res, orig_sr, target_sr), sample_ratio)
    return out
