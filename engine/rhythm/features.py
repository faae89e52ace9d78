"""The beat network's input: a log-filtered magnitude spectrogram and its positive difference.

BeatNet (Heydari, Cwitkowitz & Duan, ISMIR 2021) was trained on madmom's features; this is our
own implementation of the same computation, written from madmom's documented algorithm
(``FramedSignal`` → ``ShortTimeFourierTransform`` → ``LogarithmicFilterbank`` → ``log10(1 + x)``
→ ``SpectrogramDifference``), so that the pretrained weights see what they were trained on:

* mono audio at 22,050 Hz, frames of 1,411 samples (64 ms) every 441 samples (20 ms, 50 frames
  per second), frame ``i`` centred on sample ``441 i`` (zero padding at both ends), a Hann
  window and a 1,411-point FFT of which the first 705 bins are kept (no Nyquist bin);
* a bank of triangular filters on a logarithmic frequency axis, 24 bands per octave from 30 Hz
  to 17 kHz, centred on A4 = 440 Hz multiples, each filter's centre snapped to the nearest FFT
  bin and duplicates dropped (136 filters at this resolution), every filter normalised to sum 1;
* ``log10(1 + filtered magnitude)``, then the positive part of its difference to the previous
  frame, stacked beside it: ``[frames, 272]``.

Everything here is a pure function of the samples.
"""
from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 22_050
FRAME_SIZE = 1_411            # int(0.064 * 22050)
HOP_SIZE = 441                # int(0.020 * 22050)
FPS = SAMPLE_RATE / HOP_SIZE  # 50.0
BANDS_PER_OCTAVE = 24
FMIN, FMAX, FREF = 30.0, 17_000.0, 440.0
N_FEATURES = 272


def log_frequencies(bands_per_octave: int, fmin: float, fmax: float, fref: float = FREF) -> np.ndarray:
    """Frequencies ``fref * 2**(k / bands_per_octave)`` between ``fmin`` and ``fmax``."""
    left = np.floor(np.log2(fmin / fref) * bands_per_octave)
    right = np.ceil(np.log2(fmax / fref) * bands_per_octave)
    freqs = fref * 2.0 ** (np.arange(left, right) / bands_per_octave)
    freqs = freqs[np.searchsorted(freqs, fmin):]
    return freqs[:np.searchsorted(freqs, fmax, "right")]


def _nearest_bins(freqs: np.ndarray, bin_freqs: np.ndarray) -> np.ndarray:
    idx = np.clip(np.searchsorted(bin_freqs, freqs), 1, len(bin_freqs) - 1)
    left, right = bin_freqs[idx - 1], bin_freqs[idx]
    idx = idx - (freqs - left < right - freqs)
    return np.unique(idx)


@functools.cache
def log_filterbank(n_fft: int = FRAME_SIZE, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``[n_fft // 2, n_bands]`` triangular filters (see the module docstring), float32."""
    n_bins = n_fft >> 1
    bin_freqs = np.fft.fftfreq(n_fft, 1.0 / sr)[:n_bins]
    bins = _nearest_bins(log_frequencies(BANDS_PER_OCTAVE, FMIN, FMAX), bin_freqs)
    bank = np.zeros((n_bins, len(bins) - 2), dtype=np.float64)
    for band in range(len(bins) - 2):
        start, centre, stop = (int(b) for b in bins[band:band + 3])
        if stop - start < 2:      # too narrow for a triangle: a single bin
            centre, stop = start, start + 1
        tri = np.zeros(stop - start)
        rel_c = centre - start
        tri[:rel_c] = np.linspace(0.0, 1.0, rel_c, endpoint=False)
        tri[rel_c:] = np.linspace(1.0, 0.0, stop - centre, endpoint=False)
        tri /= tri.sum()
        bank[start:stop, band] = np.maximum(bank[start:stop, band], tri)
    bank.setflags(write=False)
    return bank.astype(np.float32)


def frames(y: np.ndarray, frame_size: int = FRAME_SIZE, hop: int = HOP_SIZE) -> np.ndarray:
    """``[ceil(len / hop), frame_size]`` frames, frame ``i`` centred on sample ``hop * i``."""
    y = np.asarray(y, dtype=np.float32).ravel()
    n = int(np.ceil(len(y) / hop))
    half = frame_size // 2
    padded = np.zeros(len(y) + frame_size + hop, dtype=np.float32)
    padded[half:half + len(y)] = y
    view = np.lib.stride_tricks.sliding_window_view(padded, frame_size)[::hop]
    return view[:n]


def beat_features(y: np.ndarray) -> np.ndarray:
    """``[frames, 272]`` float32 network input of mono 22,050-Hz audio ``y``."""
    fr = frames(y)
    if fr.shape[0] == 0:
        return np.zeros((0, N_FEATURES), dtype=np.float32)
    import scipy.fft

    window = np.hanning(FRAME_SIZE).astype(np.float32)
    # scipy keeps float32 (complex64): 4x faster than numpy's float64 FFT of this odd size
    spec = np.abs(scipy.fft.rfft(fr * window, n=FRAME_SIZE, axis=1, workers=1)[:, :FRAME_SIZE >> 1])
    bank = log_filterbank()
    logspec = np.log10(1.0 + spec.astype(np.float32) @ bank)
    diff = np.zeros_like(logspec)
    diff[1:] = np.maximum(logspec[1:] - logspec[:-1], 0.0)
    out = np.hstack([logspec, diff]).astype(np.float32)
    if out.shape[1] != N_FEATURES:   # the filterbank is fixed by the constants above
        raise AssertionError(f"{out.shape[1]} features, expected {N_FEATURES}")
    return out
