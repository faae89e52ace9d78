"""Generated audio for tests: seeded, small, and in every format the engine reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

_SF_FORMATS = {
    "wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III"), "aiff": ("AIFF", "PCM_16"),
}


def music_like(seconds: float, sr: int = 44100, seed: int = 0, stereo: bool = False) -> np.ndarray:
    """Chords, a kick-like beat and a little noise: real-looking spectra, not silence."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    base = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    y = sum(0.15 / k * np.sin(2 * np.pi * base * r * k * t + rng.uniform(0, 6.28))
            for r in (1.0, 1.26, 1.5) for k in (1, 2, 3))
    beat = np.zeros(n)
    period = int(sr * 60 / rng.uniform(80, 140))
    kick = np.exp(-np.arange(min(period, 4000)) / 400.0) * np.sin(2 * np.pi * 60 * np.arange(min(period, 4000)) / sr)
    for start in range(0, n - kick.size, period):
        beat[start:start + kick.size] += kick
    y = y + 0.4 * beat + 0.02 * rng.standard_normal(n)
    y = (0.8 * y / max(1e-9, np.abs(y).max())).astype(np.float32)
    if stereo:
        return np.stack([y, np.roll(y, 37) * 0.9], axis=1)
    return y


def drum_pattern(bpm: float, seconds: float, sr: int = 22050, meter: int = 4, seed: int = 0,
          accelerate: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Kick on beat 1 and 3, snare on 2 and 4, hi-hats on eighths, a bass note per bar; returns
    (audio, beat times). ``accelerate``: relative tempo change over the piece."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    t, beat_times, i = 0.0, [], 0
    while t < seconds - 0.3:
        beat_times.append(t)
        t += 60.0 / (bpm * (1 + accelerate * t / seconds))
    k = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-k * 30)) * k) * np.exp(-k * 12)
    snare = rng.standard_normal(k.size) * np.exp(-k * 25) * 0.6
    hat = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / sr * 150) * 0.25
    for i, bt in enumerate(beat_times):
        s = int(bt * sr)
        sound = kick if i % 2 == 0 else snare
        e = min(n, s + sound.size)
        y[s:e] += sound[:e - s]
        for off in (0.0, 0.5):
            h = int((bt + off * 60 / bpm) * sr)
            if h + hat.size < n:
                y[h:h + hat.size] += hat
        if i % meter == 0:
            e = min(n, s + int(1.5 * sr))
            tt = np.arange(e - s) / sr
            y[s:e] += 0.3 * np.sin(2 * np.pi * 55 * 2 ** (rng.integers(0, 5) / 12) * tt) * np.exp(-tt * 2)
    return (0.7 * y / np.abs(y).max()).astype(np.float32), np.array(beat_times)


def write_audio(path: Path, y: np.ndarray, sr: int = 44100) -> Path:
    """Write ``y`` to ``path`` in the format its extension names (m4a: AAC; .alac.m4a: ALAC)."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext in ("m4a", "mp4", "m4b"):
        _write_mp4(path, y, sr, "alac" if path.name.endswith(".alac.m4a") else "aac")
        return path
    fmt, sub = _SF_FORMATS[ext]
    if ext == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
        raise ValueError("opus needs 8/12/16/24/48 kHz")
    sf.write(path, y, sr, format=fmt, subtype=sub)
    return path


def _write_mp4(path: Path, y: np.ndarray, sr: int, codec: str) -> None:
    import av

    mono = y if y.ndim == 1 else y.mean(axis=1)
    with av.open(str(path), "w", format="mp4" if codec == "aac" else "ipod") as out:
        st = out.add_stream(codec, rate=sr)
        st.layout = "mono"
        if codec == "aac":
            frame = av.AudioFrame.from_ndarray(mono[None].astype(np.float32), format="fltp", layout="mono")
        else:
            frame = av.AudioFrame.from_ndarray((mono[None] * 32767).astype(np.int16), format="s16p", layout="mono")
        frame.sample_rate = sr
        for pkt in st.encode(frame):
            out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)


def sparse_wav(path: Path, seconds: float, sr: int = 8000) -> Path:
    """A long 16-bit mono WAV of silence written as a sparse file: instant, takes no disk."""
    import struct

    n = int(seconds * sr)
    data_bytes = n * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path
