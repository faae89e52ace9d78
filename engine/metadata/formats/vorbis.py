"""Vorbis comments: FLAC, and Ogg (Vorbis, Opus, FLAC-in-Ogg, Speex).

Fields: genre -> ``GENRE``, mood -> ``MOOD``, bpm -> ``BPM``, key -> ``INITIALKEY``, a custom field
NAME -> ``NAME``. Several values are several comments with the same name, as the Vorbis comment
spec intends. Comment names are case-insensitive; mutagen writes the ones we set in upper case.
"""
from __future__ import annotations

import base64
from typing import Any

import mutagen
import mutagen.flac
import mutagen.oggflac
import mutagen.oggopus
import mutagen.oggspeex
import mutagen.oggvorbis
from mutagen.flac import Picture

from ..filetags import FileTags, normalise_field
from ..registry import TagFormat, register

#: Comments that are standard fields or binary art, never reported as custom fields.
_NAMED = {"TITLE", "ARTIST", "ALBUM", "ALBUMARTIST", "ALBUM ARTIST", "TRACKNUMBER", "DATE",
          "GENRE", "MOOD", "BPM", "INITIALKEY"}
_ART = {"METADATA_BLOCK_PICTURE", "COVERART", "COVERARTMIME"}


def _first(tags: Any, *keys: str) -> str | None:
    for key in keys:
        values = tags.get(key)
        if values:
            return values[0]
    return None


class VorbisFormat(TagFormat):
    tag_type = "vorbis"

    def read(self, mf: Any, path: str) -> FileTags:
        ft = FileTags(path=path, format=type(mf).__name__, tag_type=self.tag_type,
                      duration_s=getattr(mf.info, "length", None))
        tags = mf.tags
        if tags is None:
            ft.has_cover = bool(getattr(mf, "pictures", None))
            return ft
        ft.title = _first(tags, "TITLE")
        ft.artist = _first(tags, "ARTIST")
        ft.album = _first(tags, "ALBUM")
        ft.albumartist = _first(tags, "ALBUMARTIST", "ALBUM ARTIST")
        ft.tracknumber = _first(tags, "TRACKNUMBER")
        ft.date = _first(tags, "DATE")
        ft.genre = list(tags.get("GENRE", []))
        ft.mood = list(tags.get("MOOD", []))
        ft.bpm = list(tags.get("BPM", []))
        ft.key = list(tags.get("INITIALKEY", []))
        for key, value in tags:
            name = key.upper()
            if name in _NAMED or name in _ART:
                continue
            ft.custom.setdefault(name, []).append(value)
        ft.has_cover = bool(getattr(mf, "pictures", None)) or any(k in tags for k in _ART)
        return ft

    def cover(self, mf: Any) -> bytes | None:
        pictures = list(getattr(mf, "pictures", None) or [])
        tags = mf.tags
        if tags is not None:
            for b64 in tags.get("METADATA_BLOCK_PICTURE", []):
                try:
                    pictures.append(Picture(base64.b64decode(b64)))
                except Exception:  # noqa: BLE001 - one damaged picture must not hide the others
                    continue
        if pictures:
            front = [p for p in pictures if p.type == 3]
            return bytes((front or pictures)[0].data)
        if tags is not None:
            for b64 in tags.get("COVERART", []):
                try:
                    return base64.b64decode(b64)
                except ValueError:
                    continue
        return None

    def prepare(self, mf: Any, policy: Any) -> dict[str, Any]:
        had_tags = mf.tags is not None
        if not had_tags:
            mf.add_tags()
        return {"had_tags": had_tags}

    def keys_for(self, mf: Any, field: str, ctx: dict[str, Any]) -> list[str]:
        field = normalise_field(field)
        return ["INITIALKEY"] if field == "key" else [field.upper()]

    def get_raw(self, mf: Any, key: str) -> Any:
        if mf.tags is None or key not in mf.tags:
            return None
        return list(mf.tags[key])

    def set_raw(self, mf: Any, key: str, raw: Any) -> None:
        if raw is None:
            if key in mf.tags:
                del mf.tags[key]
        else:
            mf.tags[key] = list(raw)

    def set_field(self, mf: Any, field: str, values: list[str], ctx: dict[str, Any]) -> None:
        self.set_raw(mf, self.keys_for(mf, field, ctx)[0], list(values) or None)

    def save(self, mf: Any, path: str, ctx: dict[str, Any]) -> None:
        mf.save(path)


@register
class FLACFormat(VorbisFormat):
    name = "FLAC"
    extensions = (".flac",)

    @staticmethod
    def sniff(header: bytes) -> bool:
        return header[:4] == b"fLaC"

    def open(self, path: str) -> Any:
        return mutagen.flac.FLAC(path)

    def is_empty(self, mf: Any) -> bool:
        return mf.tags is None or len(mf.tags) == 0

    def delete_tags(self, path: str) -> None:
        mf = mutagen.flac.FLAC(path)
        mf.metadata_blocks = [b for b in mf.metadata_blocks
                              if not isinstance(b, mutagen.flac.VCFLACDict)]
        mf.tags = None
        mf.save(path)

    def stream_info(self, mf: Any) -> tuple:
        info = mf.info
        return super().stream_info(mf) + (info.total_samples, info.md5_signature)


@register
class OggFormat(VorbisFormat):
    name = "Ogg"
    extensions = (".ogg", ".oga", ".opus", ".spx")
    _kinds = (mutagen.oggvorbis.OggVorbis, mutagen.oggopus.OggOpus, mutagen.oggflac.OggFLAC,
              mutagen.oggspeex.OggSpeex)

    @staticmethod
    def sniff(header: bytes) -> bool:
        return header[:4] == b"OggS"

    def open(self, path: str) -> Any:
        mf = mutagen.File(path, options=self._kinds)
        if mf is None:
            raise ValueError("no Vorbis, Opus, FLAC or Speex stream found in this Ogg file")
        return mf

    def is_empty(self, mf: Any) -> bool:
        return mf.tags is None or len(mf.tags) == 0

    def delete_tags(self, path: str) -> None:   # an Ogg stream always has a comment header
        mf = self.open(path)
        mf.tags.clear()
        mf.save(path)
