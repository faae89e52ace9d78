"""Fixtures for the library, scanner and library-CLI tests: a tiny model bundle, generated audio,
file hashing (to prove a scan touched nothing) and a way to lose read permission even as root."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.features import FeatureSpec

#: 8 kHz, 32 mel bands, 64-frame inputs (about one second): analysis takes milliseconds.
SMALL_SPEC = FeatureSpec(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32, input_frames=64,
                         excerpt="centre")
TINY_MODEL = "library-tiny"


def ensure_tiny_bundle(name: str = TINY_MODEL) -> str:
    """Save a tiny (untrained, seeded) bundle into the user models folder; returns its name."""
    import torch

    from engine.bundle import BundleInfo, save_bundle
    from engine.models.registry import build_model
    from engine.paths import user_models_dir
    from engine.vocab import msd50_tag_infos

    folder = user_models_dir()
    if (folder / f"{name}.json").is_file() and (folder / f"{name}.safetensors").is_file():
        return name
    torch.manual_seed(0)
    model = build_model("tiny", n_tags=50, n_mels=SMALL_SPEC.n_mels, width=8)
    info = BundleInfo(name=name, architecture="tiny", arch_args={}, feature_spec=SMALL_SPEC,
                      tags=msd50_tag_infos(), description="test model", license="MIT")
    save_bundle(model, info, folder)
    return name


def tone(seconds: float = 1.5, sr: int = 8000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = 100 + 50 * (seed % 17)
    y = 0.4 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def write_audio(path: str | os.PathLike, seconds: float = 1.5, sr: int = 8000, seed: int = 0) -> str:
    """A short generated track; the format follows the extension (wav, flac, ogg, aiff)."""
    path = os.fsdecode(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}[ext]
    subtype = "VORBIS" if fmt == "OGG" else "PCM_16"
    with open(path, "wb") as fh:  # a file object: works for names that are not UTF-8 too
        sf.write(fh, tone(seconds, sr, seed), sr, format=fmt, subtype=subtype)
    return path


def write_long_flac(path: str | os.PathLike, hours: float = 2.0, sr: int = 8000) -> str:
    """A ``hours``-long FLAC that is mostly silence (a few hundred KB, written in ~1 s)."""
    path = os.fsdecode(path)
    n = int(hours * 3600 * sr)
    block = np.zeros(sr * 600, np.int16)
    block[: sr * 5] = (tone(5, sr, 3) * 20000).astype(np.int16)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        written = 0
        while written < n:
            chunk = block[: n - written]
            f.write(chunk)
            written += len(chunk)
    return path


def make_tree(root: Path, n: int, *, seconds: float = 1.5, ext: str = ".wav") -> list[str]:
    """``n`` tracks in a few sub-folders of ``root``."""
    return [write_audio(root / f"album{i % 4}" / f"track{i:03d}{ext}", seconds, seed=i) for i in range(n)]


def tree_digest(root: str | os.PathLike) -> dict[bytes, tuple[int, str]]:
    """``{path: (mtime_ns, sha256)}`` of every file under ``root`` (to prove nothing changed)."""
    out = {}
    root_b = os.fsencode(root)
    for dirpath, _dirs, files in os.walk(root_b):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            try:
                st = os.stat(p)
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                digest = "unreadable"
                st = os.lstat(p)
            out[p] = (st.st_mtime_ns, digest)
    return out


def world_tmpdir() -> Path:
    """A temporary folder that an unprivileged user can enter (pytest's tmp_path cannot be)."""
    d = Path(tempfile.mkdtemp(prefix="tagatlas-test-"))
    d.chmod(0o755)
    return d


@contextlib.contextmanager
def unprivileged():
    """Run the body with permissions enforced: as root, switch the effective user to nobody
    (and back); otherwise do nothing. Files the body needs must be open already or lie in a
    :func:`world_tmpdir`, and modules it imports must be imported before."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
