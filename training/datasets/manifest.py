"""A generic CSV manifest: one audio file per row.

Columns (header row required, comma-separated, UTF-8)::

    path,tags,split
    audio/a.mp3,rock;guitar,train
    /music/b.flac,jazz,valid

- ``path``: absolute, or relative to the manifest's folder.
- ``tags``: tag names separated by ``;`` (may be empty).
- ``split`` (optional column or value): ``train``, ``valid`` or ``test``; when missing a stable
  80/10/10 split is drawn from a hash of the path (:func:`training.datasets.hash_split`).
- ``key`` (optional): a unique ID; the path otherwise.

Tags are ordered by frequency (most frequent first); tags on fewer than ``min_count`` files are
dropped. Categories: ``categories`` maps tag -> category; otherwise MSD top-50 tags get their
known category and everything else ``other``.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from engine.errors import ParameterError
from engine.vocab import CATEGORIES, TagInfo, display_name, msd_category

from . import SPLITS, Catalog, Item, hash_split, split_multi


def read_manifest(csv_path: str | os.PathLike, *, min_count: int = 1,
                  categories: dict[str, str] | None = None, name: str | None = None,
                  check_files: bool = True) -> Catalog:
    csv_path = Path(csv_path)
    base = csv_path.parent
    rows = []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip().lower() for c in (reader.fieldnames or [])]
        if "path" not in fields or "tags" not in fields:
            raise ParameterError(f"{csv_path}: a manifest needs the columns 'path' and 'tags' "
                             f"(found: {', '.join(fields) or 'none'})")
        for n, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not row.get("path"):
                raise ParameterError(f"{csv_path}, line {n}: empty path")
            split = row.get("split", "").lower()
            if split and split not in SPLITS:
                raise ParameterError(f"{csv_path}, line {n}: split {split!r} is not one of {', '.join(SPLITS)}")
            rows.append((n, row))

    counts = Counter(t for _, row in rows for t in split_multi(row.get("tags", "")))
    chosen = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    chosen_set = set(chosen)
    categories = categories or {}
    bad = {t: c for t, c in categories.items() if c not in CATEGORIES}
    if bad:
        raise ParameterError(f"unknown categories {bad}; use one of {', '.join(CATEGORIES)}")
    infos = [TagInfo(t, categories.get(t, msd_category(t)), display_name(t)) for t in chosen]

    items, missing, seen = [], [], set()
    for n, row in rows:
        p = Path(row["path"])
        path = p if p.is_absolute() else base / p
        key = row.get("key") or row["path"]
        if key in seen:
            raise ParameterError(f"{csv_path}, line {n}: duplicate key {key!r}")
        seen.add(key)
        if check_files and not path.is_file():
            missing.append((key, f"audio file not found: {path}"))
            continue
        tags = tuple(t for t in split_multi(row.get("tags", "")) if t in chosen_set)
        items.append(Item(key, str(path), tags, row.get("split", "").lower() or hash_split(key)))
    notes = (f"CSV manifest {csv_path.name}; tags on at least {min_count} files; split from the "
             "'split' column where given, else a stable 80/10/10 hash split")
    return Catalog(name or csv_path.stem, infos, items, missing, notes)
