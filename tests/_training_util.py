"""Generated fixtures for the training tests: tiny separable audio classes and a small spec."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.features import FeatureSpec

#: A small spec so that everything runs in milliseconds: 8 kHz, 32 mel bands, 64-frame inputs
#: (about one second of audio).
SMALL_SPEC = FeatureSpec(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32, input_frames=64,
                         patch_hop_frames=64)
#: The same with musicnn-style patches (random crops in training, tiling in evaluation).
SMALL_PATCH_SPEC = SMALL_SPEC.with_(excerpt="patches", input_frames=32, patch_hop_frames=32)

CLASSES = ("low", "high", "clicks")


def make_clip(kind: str, sr: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A clip whose class is obvious in a mel spectrogram: a low tone, high noise, or clicks."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    if kind == "low":
        f = rng.uniform(150, 300)
        y = 0.5 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 2 * f * t)
    elif kind == "high":
        noise = rng.standard_normal(n)
        y = 0.3 * np.diff(np.diff(noise, prepend=0), prepend=0)   # high-pass: energy near sr/2
    elif kind == "clicks":
        y = np.zeros(n)
        period = int(sr * rng.uniform(0.1, 0.2))
        for a in range(int(rng.integers(0, period)), n, period):
            y[a:a + 40] += rng.standard_normal(min(40, n - a)) * 0.8
    else:
        raise ValueError(kind)
    y = y + 0.01 * rng.standard_normal(n)
    return (y / max(1e-6, np.abs(y).max()) * 0.7).astype(np.float32)


def make_manifest(root: Path, n: int = 24, *, sr: int = 8000, seconds: float = 1.5, seed: int = 0,
                  bad_files: bool = False, fmt: str = "wav") -> Path:
    """``n`` clips cycling through :data:`CLASSES` (tags = class name, plus "loud" on every
    third), split by position so that each split holds every class, written with a
    ``manifest.csv``. With ``bad_files`` an empty file and a text file named .wav are added (they
    must end up in failures.csv)."""
    rng = np.random.default_rng(seed)
    audio = root / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        kind = CLASSES[i % len(CLASSES)]
        y = make_clip(kind, sr, seconds, rng)
        path = audio / f"clip{i:03d}.{fmt}"
        sf.write(path, y, sr)
        tags = [kind] + (["loud"] if i % 3 == 0 else [])
        group = (i // len(CLASSES)) % 4      # every split gets every class
        split = "train" if group < 2 else ("valid" if group == 2 else "test")
        rows.append((f"audio/{path.name}", ";".join(tags), split))
    if bad_files:
        (audio / "empty.wav").write_bytes(b"")
        (audio / "text.wav").write_text("this is not audio\n" * 20)
        rows += [("audio/empty.wav", "low", "train"), ("audio/text.wav", "high", "train")]
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "tags", "split"])
        w.writerows(rows)
    return manifest
