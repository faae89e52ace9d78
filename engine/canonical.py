"""Tag Atlas's one vocabulary over every model: canonical tags and what each model tag means.

Two tables, data and not code, in ``resources/vocabulary/``:

* ``canonical_tags.csv`` -- ``id,category,display,parent``: every tag Tag Atlas writes, with its
  category (genre, mood, instrument, vocals, era, other), the one name shown and written, and for
  genres an optional parent genre ("techno" -> "electronic").
* ``model_tags.csv`` -- ``raw_tag,canonical,note``: what a model's raw tag means, matched
  case-insensitively over every model (synonyms fold: "female vocalist" and "female vocalists"
  -> female_vocals, "chill" -> chillout, "film" -> soundtrack). An empty ``canonical`` means the
  tag is not written at all.

A raw tag missing from the table (a user's own model from ``tagatlas-train``) becomes a canonical
tag of its own, with the bundle's category and display name, so nothing a model knows is lost.
"""
from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

from .vocab import CATEGORIES, TagInfo


@dataclass(frozen=True)
class CanonicalTag:
    id: str
    category: str
    display: str
    parent: str | None = None

    def as_tag_info(self) -> TagInfo:
        return TagInfo(self.id, self.category, self.display)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("resources").joinpath("vocabulary", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def parse_canonical_tags(rows: list[dict[str, str]]) -> dict[str, CanonicalTag]:
    """Check and index the canonical table (ids unique, categories known, parents present)."""
    tags: dict[str, CanonicalTag] = {}
    for row in rows:
        tid, cat = row["id"].strip(), row["category"].strip()
        if not tid or tid in tags:
            raise ValueError(f"canonical tag id {tid!r} is empty or listed twice")
        if cat not in CATEGORIES:
            raise ValueError(f"canonical tag {tid!r}: unknown category {cat!r}")
        tags[tid] = CanonicalTag(tid, cat, row["display"].strip(), (row.get("parent") or "").strip() or None)
    for t in tags.values():
        if t.parent is not None and (t.parent not in tags or tags[t.parent].category != t.category):
            raise ValueError(f"canonical tag {t.id!r}: parent {t.parent!r} is not a {t.category} tag")
    return tags


def parse_model_tags(rows: list[dict[str, str]], canonical: dict[str, CanonicalTag]) -> dict[str, str | None]:
    """raw tag (casefolded) -> canonical id, or None for a tag that is not written."""
    out: dict[str, str | None] = {}
    for row in rows:
        raw, target = row["raw_tag"].strip().casefold(), row["canonical"].strip()
        if raw in out:
            raise ValueError(f"model tag {raw!r} is listed twice")
        if target and target not in canonical:
            raise ValueError(f"model tag {raw!r} maps to unknown canonical tag {target!r}")
        out[raw] = target or None
    return out


@functools.cache
def canonical_tags() -> dict[str, CanonicalTag]:
    return parse_canonical_tags(_read_csv("canonical_tags.csv"))


@functools.cache
def model_tag_map() -> dict[str, str | None]:
    return parse_model_tags(_read_csv("model_tags.csv"), canonical_tags())


def canonical_for(tag: TagInfo) -> CanonicalTag | None:
    """The canonical tag a model tag means (None: it is not written). Tags the table does not
    know become their own canonical tag (``id`` = the raw name casefolded)."""
    table = model_tag_map()
    for key in (tag.name.strip().casefold(), tag.display.strip().casefold()):
        if key in table:
            target = table[key]
            return None if target is None else canonical_tags()[target]
    own = tag.name.strip().casefold()
    known = canonical_tags().get(own)
    if known is not None:
        return known
    return CanonicalTag(own, tag.category if tag.category in CATEGORIES else "other", tag.display)


def ancestors(tag_id: str) -> list[str]:
    """The parent genre chain of a canonical tag, nearest first."""
    out, tags = [], canonical_tags()
    parent = tags[tag_id].parent if tag_id in tags else None
    while parent is not None and parent not in out:
        out.append(parent)
        parent = tags[parent].parent
    return out


__all__ = ["CanonicalTag", "canonical_tags", "model_tag_map", "canonical_for", "ancestors",
           "parse_canonical_tags", "parse_model_tags"]
