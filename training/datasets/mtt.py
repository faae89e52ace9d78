"""MagnaTagATune (Law et al. 2009): ``annotations_final.csv`` + the mp3 folders ``0`` … ``f``.

Layout expected (as the data set is distributed after unzipping the three mp3 parts)::

    MTT_DIR/annotations_final.csv          tab-separated, quoted: "clip_id", 188 tag columns, "mp3_path"
    MTT_DIR/0/…mp3 … MTT_DIR/f/…mp3         (or pass audio_dir separately)

Tags: the standard top-50 (:data:`MTT_TOP50`, the 50 most frequent tags, in the order used by
Choi et al. 2016, Pons et al. 2018 and Won et al. 2020). Split: the widely used 12:1:3 split by
the first character of ``mp3_path`` — folders ``0``-``9``, ``a``, ``b`` train, ``c`` valid,
``d``-``f`` test (Dieleman & Schrauwen 2014; Choi et al. 2016; Pons et al. 2018). Clips
without any of the 50 tags are kept by default (as in Choi et al. 2016); ``drop_untagged``
removes them (as in Lee et al. 2017 / Won et al. 2020, whose counts are then comparable).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from engine.errors import ParameterError
from engine.vocab import MTT50_TAGS, TagInfo, display_name, mtt50_tag_infos, mtt_category

from . import Catalog, Item

#: The 50 most frequent MagnaTagATune tags, in the customary output order (the same list,
#: categories and display names as the app's MTT models: engine.vocab).
MTT_TOP50: tuple[str, ...] = MTT50_TAGS

TRAIN_FOLDERS = frozenset("0123456789ab")
VALID_FOLDERS = frozenset("c")
TEST_FOLDERS = frozenset("def")


def mtt_tag_info(tag: str) -> TagInfo:
    """Category and display name of an MTT tag, as the app shows its MTT models' tags."""
    for info in mtt50_tag_infos():
        if info.name == tag:
            return info
    return TagInfo(tag, mtt_category(tag), display_name(tag))


def folder_split(mp3_path: str) -> str | None:
    """``train``/``valid``/``test`` from the mp3 folder (``0``-``b`` / ``c`` / ``d``-``f``)."""
    folder = mp3_path.replace("\\", "/").split("/", 1)[0].lower()
    if folder in TRAIN_FOLDERS:
        return "train"
    if folder in VALID_FOLDERS:
        return "valid"
    if folder in TEST_FOLDERS:
        return "test"
    return None


def read_annotations(csv_path: str | os.PathLike) -> tuple[list[str], list[tuple[str, str, set[str]]]]:
    """All tag names of ``annotations_final.csv`` and rows ``(clip_id, mp3_path, tags)``."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        if not header or header[0] != "clip_id" or header[-1] != "mp3_path":
            raise ParameterError(f"{csv_path}: not a MagnaTagATune annotations file "
                             "(expected tab-separated columns clip_id, <tags…>, mp3_path)")
        tag_names = header[1:-1]
        rows = []
        for n, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ParameterError(f"{csv_path}, line {n}: {len(row)} columns, expected {len(header)}")
            tags = {t for t, v in zip(tag_names, row[1:-1]) if v.strip() not in ("", "0")}
            rows.append((row[0], row[-1], tags))
    return tag_names, rows


def read_mtt(root: str | os.PathLike, *, audio_dir: str | os.PathLike | None = None,
             tags: str | list[str] = "top50", drop_untagged: bool = False,
             check_files: bool = True) -> Catalog:
    """Read MagnaTagATune from ``root`` (the folder holding ``annotations_final.csv``).

    ``tags``: ``"top50"`` (:data:`MTT_TOP50`), ``"top:N"`` (the N most frequent in this file,
    ties broken by column order) or an explicit list of tag names.
    """
    root = Path(root)
    csv_path = root / "annotations_final.csv" if root.is_dir() else root
    audio = Path(audio_dir) if audio_dir is not None else csv_path.parent
    all_tags, rows = read_annotations(csv_path)

    if tags == "top50":
        chosen = list(MTT_TOP50)
    elif isinstance(tags, str) and tags.startswith("top:"):
        n = int(tags[4:])
        counts = {t: 0 for t in all_tags}
        for _, _, ts in rows:
            for t in ts:
                counts[t] += 1
        chosen = sorted(all_tags, key=lambda t: (-counts[t], all_tags.index(t)))[:n]
    else:
        chosen = list(tags)
    unknown = [t for t in chosen if t not in all_tags]
    if unknown:
        raise ParameterError(f"{csv_path}: tags not in the annotations: {', '.join(unknown)}")
    chosen_set = set(chosen)

    items, missing = [], []
    for clip_id, mp3_path, ts in rows:
        split = folder_split(mp3_path)
        key = f"mtt-{clip_id}"
        if split is None:
            missing.append((key, f"mp3 path {mp3_path!r} is not in a folder 0-f"))
            continue
        item_tags = tuple(t for t in chosen if t in ts & chosen_set)
        if drop_untagged and not item_tags:
            missing.append((key, "none of the chosen tags"))
            continue
        path = audio / mp3_path
        if check_files and not path.is_file():
            missing.append((key, f"audio file not found: {path}"))
            continue
        items.append(Item(key, str(path), item_tags, split))
    notes = ("MagnaTagATune, tags: " + ("standard top-50" if tags == "top50" else str(tags)) +
             "; split by mp3 folder: 0-b train, c valid, d-f test (12:1:3)" +
             ("; clips without any chosen tag dropped" if drop_untagged else ""))
    return Catalog("magnatagatune", [mtt_tag_info(t) for t in chosen], items, missing, notes)
