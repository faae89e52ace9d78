"""Generated music-like audio, for ``tagatlas bench`` and the benchmarks in ``benchmarks/``.

Throughput does not depend on what the music is, but decoding and features should see real
looking spectra (chords, drums, a bass line, noise), not silence or a sine.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def synth_track(seconds: float, sr: int, seed: int) -> np.ndarray:
    """A music-like mono signal: a chord progression, a drum pattern, a bass line, noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    bpm = rng.uniform(70, 160)
    beat = 60.0 / bpm
    root = 55.0 * 2 ** (rng.integers(0, 12) / 12)
    y = np.zeros(n)
    bar = 4 * beat
    for k in range(int(seconds / bar) + 1):  # a chord per bar
        a, b = int(k * bar * sr), min(n, int((k + 1) * bar * sr))
        if a >= n:
            break
        step = rng.choice([0, 3, 5, 7, 8, 10])
        f0 = root * 4 * 2 ** (step / 12)
        seg = t[a:b] - t[a]
        for ratio in (1.0, 1.26, 1.5, 2.0):
            y[a:b] += 0.08 * np.sin(2 * np.pi * f0 * ratio * seg) * np.exp(-seg * rng.uniform(0.2, 1.5))
        y[a:b] += 0.12 * np.sign(np.sin(2 * np.pi * root * 2 ** (step / 12) * seg)) * 0.5
    kick_len = int(0.15 * sr)
    kt = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kt * 30)) * kt) * np.exp(-kt * 25)
    hat = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for i in range(int(seconds / beat)):
        a = int(i * beat * sr)
        if a + kick_len < n:
            y[a:a + kick_len] += 0.5 * kick
        h = int((i + 0.5) * beat * sr)
        if h + hat.size < n:
            y[h:h + hat.size] += 0.15 * hat
    y += 0.01 * rng.standard_normal(n)
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


def make_corpus(folder: Path, n: int, seconds: float = 240.0, sr: int = 44100) -> list[Path]:
    """``n`` MP3s of :func:`synth_track` (seeds 0 … n-1) in ``folder``; files already there are
    kept, so later runs time the work, not the generation."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"bench_{int(seconds)}s_{i:03d}.mp3"
        if not p.exists():
            tmp = p.with_suffix(".part")
            sf.write(tmp, synth_track(seconds, sr, seed=i), sr, format="MP3", subtype="MPEG_LAYER_III")
            os.replace(tmp, p)
        paths.append(p)
    return paths
