"""Million Song Dataset with Choi et al.'s tagging split (github.com/keunwoochoi/MSD_split_for_tagging).

Split folder (the files of that repository, unchanged)::

    SPLIT_DIR/train_x_msd_id.txt    one MSD track ID per line (201,680 lines)
    SPLIT_DIR/valid_x_msd_id.txt    (11,774)
    SPLIT_DIR/test_x_msd_id.txt     (28,435)
    SPLIT_DIR/{train,valid,test}_y.npy        [n, 50] labels in the last.fm top-50 order
                                              (engine.vocab.MSD50_TAGS)
    SPLIT_DIR/{train,valid,test}_x_filename.txt   optional: 7digital preview path per line,
                                              e.g. ``3/6/36122424.npy``

Audio folder: the 30-second 7digital previews, found in this order:

1. ``AUDIO_DIR/<x_filename with .npy replaced by .clip.mp3>`` — the 7digital layout
   ``AUDIO_DIR/3/6/36122424.clip.mp3`` (when the ``*_x_filename.txt`` files are present);
2. any file under ``AUDIO_DIR`` named ``<MSD track ID>.<ext>`` or ``<MSD track ID>.clip.<ext>``
   (e.g. ``AUDIO_DIR/A/B/C/TRABCXX128F4286BD3.clip.mp3``, the MSD's own A/B/C layout, or flat).

Tracks whose audio is on neither path are left out and listed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.audio.decode import SUPPORTED_EXTENSIONS
from engine.errors import ParameterError
from engine.vocab import msd50_tag_infos

from . import SPLITS, Catalog, Item


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _index_audio_by_stem(audio_dir: Path) -> dict[str, Path]:
    """``stem -> path`` for every audio file under ``audio_dir`` (``.clip`` dropped from stems)."""
    found: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(audio_dir):
        for name in files:
            base, ext = os.path.splitext(name)
            if ext.lower() not in SUPPORTED_EXTENSIONS:
                continue
            if base.endswith(".clip"):
                base = base[:-5]
            found.setdefault(base, Path(dirpath) / name)
    return found


def read_msd(split_dir: str | os.PathLike, audio_dir: str | os.PathLike, *,
             check_files: bool = True) -> Catalog:
    """Read Choi et al.'s MSD tagging split from ``split_dir`` with previews under ``audio_dir``."""
    split_dir, audio_dir = Path(split_dir), Path(audio_dir)
    infos = msd50_tag_infos()
    names = [t.name for t in infos]
    needed = [split_dir / f"{s}_{kind}" for s in SPLITS for kind in ("x_msd_id.txt", "y.npy")]
    absent = [p.name for p in needed if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{split_dir}: missing {', '.join(absent)} (the files of "
                                "github.com/keunwoochoi/MSD_split_for_tagging are needed)")
    by_stem: dict[str, Path] | None = None
    items, missing = [], []
    for split in SPLITS:
        ids_path = split_dir / f"{split}_x_msd_id.txt"
        y_path = split_dir / f"{split}_y.npy"
        ids = _read_lines(ids_path)
        y = np.load(y_path, allow_pickle=False)
        if y.ndim != 2 or y.shape != (len(ids), len(names)):
            raise ParameterError(f"{y_path}: labels of shape {y.shape}, expected ({len(ids)}, {len(names)})")
        fn_path = split_dir / f"{split}_x_filename.txt"
        filenames = _read_lines(fn_path) if fn_path.is_file() else None
        if filenames is not None and len(filenames) != len(ids):
            raise ParameterError(f"{fn_path}: {len(filenames)} lines for {len(ids)} track IDs")
        for i, track_id in enumerate(ids):
            path = None
            if filenames is not None:
                p = audio_dir / (os.path.splitext(filenames[i])[0] + ".clip.mp3")
                if not check_files or p.is_file():
                    path = p
            if path is None and check_files:
                if by_stem is None:
                    by_stem = _index_audio_by_stem(audio_dir)
                path = by_stem.get(track_id)
                if path is None and filenames is not None:
                    path = by_stem.get(Path(filenames[i]).stem)   # 7digital ID as the name
            if path is None:
                missing.append((track_id, "no audio preview found under " + str(audio_dir)))
                continue
            tags = tuple(n for n, v in zip(names, y[i]) if float(v) > 0.5)
            items.append(Item(track_id, str(path), tags, split))
    notes = ("Million Song Dataset, last.fm top-50 tags, split of Choi et al. 2016 "
             "(keunwoochoi/MSD_split_for_tagging: 201,680 train / 11,774 valid / 28,435 test)")
    return Catalog("msd", infos, items, missing, notes)
