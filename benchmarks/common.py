"""What several benchmarks share: generated tracks on disk and the scan's tagging time.

The benchmarks are scripts run from the repository root (``python benchmarks/NAME.py``). Each
puts the root on ``sys.path`` first, so that ``engine``, ``training`` and this module
(``benchmarks.common``) import from the source tree, and uses only the engine's public names.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np


def make_tracks(folder: Path, n: int, seconds: float, sr: int = 44100) -> list[Path]:
    """``n`` music-like 16-bit WAVs of ``seconds`` at ``sr`` in ``folder`` (kept and reused):
    :func:`engine.audio.synthetic.synth_track`, every third one noisier and every third one
    sparser, for some variety."""
    import soundfile as sf

    from engine.audio.synthetic import synth_track

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"bench_{int(seconds)}s_{i}.wav"
        if not p.is_file():
            y = synth_track(seconds, sr, seed=100 + i)
            if i % 3 == 1:                    # some variety: a noisier and a sparser track
                y = 0.7 * y + 0.1 * np.random.default_rng(i).standard_normal(y.size).astype(np.float32)
            elif i % 3 == 2:
                y = y * (np.sin(np.linspace(0, 40 * np.pi, y.size)) > 0)
            sf.write(p, y, sr, subtype="PCM_16")
        paths.append(p)
    return paths


def per_track_seconds(models: list[str], paths: list[Path], repeats: int) -> float:
    """The library scan's quick tagging (``Tagger(models, max_patches=QUICK_ANALYSIS_PATCHES)``
    with decode workers, on the CPU): median seconds per track over ``repeats`` runs, after a
    warm-up."""
    from engine import QUICK_ANALYSIS_PATCHES, Tagger

    tagger = Tagger(models, max_patches=QUICK_ANALYSIS_PATCHES, device="cpu")
    try:
        tagger.tag_files(paths[:1])                       # warm-up: workers, caches
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            results = tagger.tag_files(paths)
            times.append(time.perf_counter() - t0)
            assert all(r.ok for r in results)
        return statistics.median(times) / len(paths)
    finally:
        tagger.close()
