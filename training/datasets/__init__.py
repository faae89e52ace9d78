"""Dataset readers: each turns a data set on disk into a :class:`Catalog`.

A catalog is the list of audio files with their tags and split (``train`` / ``valid`` /
``test``), plus the ordered tag vocabulary with categories and display names. Readers do no
audio work; :mod:`training.prepare` turns a catalog into log-mel shards.

Readers:
    :func:`training.datasets.mtt.read_mtt`          MagnaTagATune (annotations_final.csv + mp3 folders)
    :func:`training.datasets.msd.read_msd`          Million Song Dataset (Choi et al.'s split files)
    :func:`training.datasets.manifest.read_manifest` a CSV of path, tags "a;b;c", optional split
    :func:`training.datasets.library.read_library`  the user's own tracks that carry genre/mood
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from engine.vocab import TagInfo

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Item:
    """One audio file of a data set."""

    key: str                 # unique within the data set (clip id, MSD track id, path)
    path: str                # audio file on disk
    tags: tuple[str, ...]    # raw tag names, a subset of the catalog's tags
    split: str               # "train" | "valid" | "test"


@dataclass
class Catalog:
    """A data set ready to prepare: items, the ordered tags, and what was left out."""

    name: str                                   # e.g. "magnatagatune"
    tags: list[TagInfo]                         # output order of a model trained on it
    items: list[Item]
    missing: list[tuple[str, str]] = field(default_factory=list)   # (key, reason): not on disk etc.
    notes: str = ""                             # how the split and tags were chosen (goes into the index)

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    def multi_hot(self, item: Item) -> np.ndarray:
        """``[n_tags]`` uint8: 1 where ``item`` carries the tag."""
        pos = {t: i for i, t in enumerate(self.tag_names)}
        y = np.zeros(len(self.tags), np.uint8)
        for t in item.tags:
            if t in pos:
                y[pos[t]] = 1
        return y

    def split_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in SPLITS}
        for it in self.items:
            counts[it.split] = counts.get(it.split, 0) + 1
        return counts

    def summary(self) -> str:
        c = self.split_counts()
        return (f"{self.name}: {len(self.items)} items (train {c['train']}, valid {c['valid']}, "
                f"test {c['test']}), {len(self.tags)} tags, {len(self.missing)} left out")


def hash_split(key: str, valid: float = 0.1, test: float = 0.1) -> str:
    """A stable pseudo-random split from the key alone (the same on every machine and run)."""
    h = int.from_bytes(hashlib.sha1(key.encode("utf-8", "surrogateescape")).digest()[:8], "big")
    u = h / 2.0 ** 64
    if u < test:
        return "test"
    if u < test + valid:
        return "valid"
    return "train"


def split_multi(value: str, seps: str = ";") -> list[str]:
    """Split ``"a; b;c"`` on any of ``seps`` into stripped, non-empty parts (order kept, no repeats)."""
    parts = [value]
    for sep in seps:
        parts = [q for p in parts for q in p.split(sep)]
    out: list[str] = []
    for p in parts:
        p = p.strip()
        if p and p not in out:
            out.append(p)
    return out
