"""The on-disk format of a prepared data set: float16 log-mel shards plus an index.

::

    DATA_DIR/meta.json          data set, FeatureSpec, tags (with categories), stored_frames, plan
    DATA_DIR/shards/000000.npy  float16 [n_items, n_mels, stored_frames], opened with mmap_mode="r"
    DATA_DIR/shards/000000.json the shard's items (key, offset, frames) and failures; written last,
                                so its presence means the shard is complete (resume skips it)
    DATA_DIR/index.csv          key, split, shard, offset, frames, tags (multi-hot "0101…"), path
    DATA_DIR/failures.csv       key, path, kind, reason: files that could not be decoded
    DATA_DIR/left_out.csv       key, reason: items the reader left out (audio not found, …)

``stored_frames`` is the spec's ``input_frames`` for centre-crop specs (one excerpt per item)
and a longer fixed excerpt for patch specs (the Dataset crops random patches from it).
``frames`` is how many of the stored frames hold real audio (the rest is padding).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ParameterError
from engine.features import FeatureSpec
from engine.vocab import TagInfo, tag_infos_from_json

FORMAT_VERSION = 1
INDEX_COLUMNS = ("key", "split", "shard", "offset", "frames", "tags", "path")


def shard_name(i: int) -> str:
    return f"{i:06d}"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class DatasetMeta:
    """``meta.json``: what a prepared data set holds."""

    dataset: str
    spec: FeatureSpec
    tags: list[TagInfo]
    stored_frames: int
    shard_size: int
    n_shards: int
    fingerprint: str              # of the plan (items, spec, frames); a rerun must match it to resume
    notes: str = ""
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION, "dataset": self.dataset, "notes": self.notes,
            "feature_spec": self.spec.to_dict(),
            "tags": [{"name": t.name, "category": t.category, "display": t.display} for t in self.tags],
            "stored_frames": self.stored_frames, "shard_size": self.shard_size,
            "n_shards": self.n_shards, "fingerprint": self.fingerprint, "complete": self.complete,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DatasetMeta":
        if d.get("format_version", 1) > FORMAT_VERSION:
            raise ParameterError("this prepared data set needs a newer Tag Atlas")
        return cls(d["dataset"], FeatureSpec.from_dict(d["feature_spec"]),
                   tag_infos_from_json(d["tags"]), int(d["stored_frames"]), int(d["shard_size"]),
                   int(d["n_shards"]), d["fingerprint"], d.get("notes", ""), bool(d.get("complete")))

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]


def read_meta(root: str | os.PathLike) -> DatasetMeta:
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a prepared data set (no meta.json); "
                                "run 'tagatlas-train prepare' first")
    return DatasetMeta.from_json(json.loads(path.read_text(encoding="utf-8")))


@dataclass
class Index:
    """``index.csv`` as arrays (one row per prepared item)."""

    keys: list[str]
    splits: np.ndarray       # [n] str
    shard: np.ndarray        # [n] int32
    offset: np.ndarray       # [n] int32
    frames: np.ndarray       # [n] int32
    labels: np.ndarray       # [n, n_tags] uint8
    paths: list[str]

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, split: str | None) -> np.ndarray:
        """Row numbers of ``split`` (all rows for None)."""
        if split is None:
            return np.arange(len(self.keys))
        return np.flatnonzero(self.splits == split)


def write_index(root: Path, rows: list[dict[str, Any]]) -> None:
    tmp = root / "index.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(INDEX_COLUMNS)
        for r in rows:
            w.writerow([r[c] for c in INDEX_COLUMNS])
    os.replace(tmp, root / "index.csv")


def read_index(root: str | os.PathLike) -> Index:
    root = Path(root)
    path = root / "index.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{root} has no index.csv: its preparation did not finish; "
                                "rerun the same 'tagatlas-train prepare' command to resume")
    keys, splits, shard, offset, frames, labels, paths = [], [], [], [], [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        if tuple(header) != INDEX_COLUMNS:
            raise ParameterError(f"{path}: unexpected columns {header}")
        for row in reader:
            keys.append(row[0])
            splits.append(row[1])
            shard.append(int(row[2]))
            offset.append(int(row[3]))
            frames.append(int(row[4]))
            labels.append(np.frombuffer(row[5].encode("ascii"), np.uint8) - ord("0"))
            paths.append(row[6])
    n_tags = len(read_meta(root).tags)
    lab = np.stack(labels) if labels else np.zeros((0, n_tags), np.uint8)
    return Index(keys, np.asarray(splits), np.asarray(shard, np.int32), np.asarray(offset, np.int32),
                 np.asarray(frames, np.int32), lab.astype(np.uint8), paths)


def multi_hot_string(y: np.ndarray) -> str:
    return "".join("1" if v else "0" for v in y)


def open_shard(root: str | os.PathLike, shard: int) -> np.ndarray:
    """The shard's array, memory-mapped read-only: float16 ``[n, n_mels, stored_frames]``."""
    return np.load(Path(root) / "shards" / f"{shard_name(shard)}.npy", mmap_mode="r")


def read_failures(root: str | os.PathLike) -> list[dict[str, str]]:
    path = Path(root) / "failures.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
