"""Helpers for the desktop tests: a tiny model and generated music (the fixtures are in
tests/desktop/conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.tagger_util import TINY_CENTRE, tiny_bundle

GUI_MODEL = "gui-tiny"


def ensure_gui_model() -> str:
    """A tiny (untrained, seeded) bundle in the user models folder: analysis takes milliseconds."""
    from engine.paths import user_models_dir

    folder = user_models_dir()
    if not (folder / f"{GUI_MODEL}.json").is_file():
        tiny_bundle(folder, name=GUI_MODEL, spec=TINY_CENTRE, seed=3)
    return GUI_MODEL


def tone(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = 110 * 2 ** ((seed % 24) / 12)
    y = 0.3 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 1.5 * f * t)
    y += 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def write_track(path: Path, *, seconds: float = 1.5, sr: int = 8000, seed: int = 0,
                title: str | None = None, artist: str | None = None, album: str | None = None,
                genre: str | None = None) -> Path:
    """A short generated track (wav/flac/ogg by extension) with optional tags (FLAC/Ogg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix.lower()]
    sf.write(path, tone(seconds, sr, seed), sr, format=fmt,
             subtype="VORBIS" if fmt == "OGG" else "PCM_16")
    tags = {k: v for k, v in (("title", title), ("artist", artist), ("album", album),
                              ("genre", genre)) if v}
    if tags and fmt != "WAV":  # WAV files stay untagged
        import mutagen

        f = mutagen.File(path)
        for k, v in tags.items():
            f[k] = [v]
        f.save()
    return path


def make_music(folder: Path, n: int = 6, *, ext: str = ".flac", corrupt: bool = False) -> list[Path]:
    """``n`` tagged tracks in two albums; with ``corrupt``, also a damaged MP3 and an empty FLAC."""
    out = []
    for i in range(n):
        album = f"Album {'AB'[i % 2]}"
        out.append(write_track(folder / album / f"{i + 1:02d} Song {i + 1}{ext}", seed=i,
                               title=f"Song {i + 1}", artist=f"Band {'AB'[i % 2]}", album=album))
    if corrupt:
        bad = folder / "Broken" / "damaged.mp3"
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x0a" + os.urandom(64) + b"\xff\xfb" + b"\x00" * 400)
        (folder / "Broken" / "empty.flac").write_bytes(b"")
    return out
