"""What a file's tags say, in one format-independent shape.

``FileTags`` is what :func:`engine.metadata.read_tags` returns and what the library stores per
track. Values are kept exactly as the file holds them (``genre`` may be ``["Rock; Pop"]`` if a
tagger joined two genres into one value); :meth:`FileTags.get` gives the split list that the tag
policy plans with.

Logical field names (used by the tag policy, ``TagChange`` and ``FileTags.get``):
``"genre"``, ``"mood"``, ``"bpm"``, ``"key"``, or the name of a custom field (``"TAGATLAS_INSTRUMENTS"``, ...), which a
writer stores as ID3 ``TXXX:NAME``, Vorbis comment ``NAME`` or MP4 freeform
``----:com.apple.iTunes:NAME``. Custom names are case-insensitive and kept upper-case here.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: Logical fields every writer maps to the field players read (bpm: ID3 ``TBPM``, Vorbis ``BPM``,
#: MP4 ``tmpo``; key: ID3 ``TKEY``, Vorbis ``INITIALKEY``, MP4 freeform ``initialkey``).
STANDARD_FIELDS = ("genre", "mood", "bpm", "key")

#: The custom field that holds the full score vector and the model name (policy default).
SCORES_FIELD = "TAGATLAS_SCORES"

_SPLIT = re.compile(r"\s*;\s*")


def split_values(values: list[str]) -> list[str]:
    """Split values that hold several entries joined with ``;`` (ID3v2.3 style) and drop blanks."""
    out: list[str] = []
    for value in values:
        out.extend(part for part in _SPLIT.split(value.strip()) if part)
    return out


def normalise_field(name: str) -> str:
    """``"Genre"`` -> ``"genre"``; ``"tagatlas_era"`` -> ``"TAGATLAS_ERA"``."""
    low = name.strip().lower()
    return low if low in STANDARD_FIELDS else name.strip().upper()


@dataclass
class FileTags:
    """The metadata of one file, as read (see the module docstring for field names)."""

    path: str
    format: str                       # mutagen's name of the container: MP3, FLAC, OggVorbis, OggOpus, MP4, AIFF, WAVE
    tag_type: str                     # the tag family: "id3", "vorbis" or "mp4"
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    albumartist: str | None = None
    tracknumber: str | None = None
    date: str | None = None
    genre: list[str] = field(default_factory=list)
    mood: list[str] = field(default_factory=list)
    bpm: list[str] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    custom: dict[str, list[str]] = field(default_factory=dict)   # NAME (upper-case) -> values
    duration_s: float | None = None
    has_cover: bool = False
    id3_version: str | None = None    # "2.3" / "2.4" for ID3 tags that exist, else None

    def get(self, name: str) -> list[str]:
        """The values of a logical field, split on ``;`` (the scores field is returned as is)."""
        key = normalise_field(name)
        if key == "genre":
            return split_values(self.genre)
        if key == "mood":
            return split_values(self.mood)
        if key == "bpm":
            return [v.strip() for v in self.bpm if v.strip()]
        if key == "key":
            return [v.strip() for v in self.key if v.strip()]
        values = list(self.custom.get(key, []))
        return values if key == SCORES_FIELD else split_values(values)

    def scores(self, name: str = SCORES_FIELD) -> dict[str, Any] | None:
        """The parsed score field (``{"model": ..., "scores": {tag: p}}``), or None if absent or unreadable."""
        values = self.custom.get(normalise_field(name))
        if not values:
            return None
        try:
            data = json.loads(values[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FileTags":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
