"""Tempo and key compatibility for "more like this" and playlists (pure functions).

* Tempo: a track fits a seed at ``bpm`` when its tempo is within ``±percent`` of it — or of
  twice or half of it, since a DJ mixes 70 BPM into 140 and the BPM tags of many files hold
  the other octave.
* Key: the harmonic-mixing neighbours (:func:`engine.key.harmonic_neighbours`): the same key,
  its relative major/minor, and the keys a fifth up and down (Camelot ±1).

Tracks without an analysed tempo or key never fit a filter that asks for one.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError


def tempo_mask(seed_bpm: float, bpms: np.ndarray, percent: float, *, octaves: bool = True) -> np.ndarray:
    """Boolean [n]: ``bpms`` (NaN: unknown) within ``percent`` % of ``seed_bpm`` (or its
    double/half when ``octaves``)."""
    if not 0 <= percent <= 100:
        raise ParameterError(f"the tempo tolerance (bpm_within) must be a percentage between 0 and "
                             f"100, not {percent:g}")
    b = np.asarray(bpms, dtype=np.float64)
    ok = np.zeros(b.shape, dtype=bool)
    finite = np.isfinite(b)
    for factor in ((1.0, 2.0, 0.5) if octaves else (1.0,)):
        target = seed_bpm * factor
        ok |= finite & (np.abs(b - target) <= target * percent / 100.0)
    return ok


def key_mask(seed_key: tuple[int, str], keys: Sequence[tuple[int, str] | None]) -> np.ndarray:
    """Boolean [n]: which ``keys`` are harmonic neighbours of ``seed_key`` (itself included)."""
    from ..key import harmonic_neighbours

    near = set(harmonic_neighbours(*seed_key))
    return np.array([k is not None and tuple(k) in near for k in keys], dtype=bool)
