"""MP4 / M4A / M4B (AAC, ALAC): iTunes-style ``ilst`` atoms.

Fields: genre -> ``©gen`` (one data atom per value); mood -> freeform
``----:com.apple.iTunes:MOOD``; bpm -> ``tmpo`` (an integer); key -> freeform
``----:com.apple.iTunes:initialkey``; a custom field NAME -> ``----:com.apple.iTunes:NAME``. The
``com.apple.iTunes`` mean is used for every freeform field because it is the one iTunes, foobar2000,
Mp3tag, Picard and MusicBee show and edit; a field under another mean is found by its name too.
Freeform values are UTF-8 data atoms, one per value.

mutagen rewrites the ``moov`` atom (moving it or updating chunk offsets if it grows); the ``mdat``
sound data is copied unchanged.
"""
from __future__ import annotations

import base64
from typing import Any

import mutagen.mp4
from mutagen.mp4 import AtomDataType, MP4FreeForm

from ..filetags import FileTags, normalise_field
from ..registry import TagFormat, register

MEAN = "com.apple.iTunes"


def _freeform_name(key: str) -> str | None:
    if not key.startswith("----:"):
        return None
    return key[5:].partition(":")[2]


def _freeform_keys(tags: Any, name: str) -> list[str]:
    if tags is None:
        return []
    return [k for k in tags.keys() if (_freeform_name(k) or "").upper() == name.upper()]


def _decode(values: list[Any]) -> list[str] | None:
    out = []
    for v in values:
        if isinstance(v, bytes):
            try:
                out.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                return None
        else:
            out.append(str(v))
    return out


def _first_text(tags: Any, key: str) -> str | None:
    values = tags.get(key)
    return str(values[0]) if values else None


@register
class MP4Format(TagFormat):
    name = "MP4"
    tag_type = "mp4"
    extensions = (".m4a", ".mp4", ".m4b", ".m4p", ".m4r", ".3gp")

    @staticmethod
    def sniff(header: bytes) -> bool:
        return header[4:8] == b"ftyp"

    def open(self, path: str) -> Any:
        return mutagen.mp4.MP4(path)

    def read(self, mf: Any, path: str) -> FileTags:
        ft = FileTags(path=path, format=type(mf).__name__, tag_type=self.tag_type,
                      duration_s=getattr(mf.info, "length", None))
        tags = mf.tags
        if tags is None:
            return ft
        ft.title = _first_text(tags, "\xa9nam")
        ft.artist = _first_text(tags, "\xa9ART")
        ft.album = _first_text(tags, "\xa9alb")
        ft.albumartist = _first_text(tags, "aART")
        ft.date = _first_text(tags, "\xa9day")
        trkn = tags.get("trkn")
        if trkn:
            number, total = trkn[0]
            ft.tracknumber = f"{number}/{total}" if total else str(number)
        ft.genre = [str(g) for g in tags.get("\xa9gen", [])]
        ft.bpm = [str(v) for v in tags.get("tmpo", []) if v]
        for key in tags.keys():
            name = _freeform_name(key)
            if name is None:
                continue
            values = _decode(tags[key])
            if values is None:
                continue
            if name.upper() == "MOOD":
                if not ft.mood:
                    ft.mood = values
            elif name.upper() == "INITIALKEY":
                if not ft.key:
                    ft.key = values
            else:
                ft.custom.setdefault(name.upper(), values)
        ft.has_cover = bool(tags.get("covr"))
        return ft

    def cover(self, mf: Any) -> bytes | None:
        covers = mf.tags.get("covr") if mf.tags is not None else None
        return bytes(covers[0]) if covers else None

    def prepare(self, mf: Any, policy: Any) -> dict[str, Any]:
        had_tags = mf.tags is not None
        if not had_tags:
            mf.add_tags()
        return {"had_tags": had_tags}

    def keys_for(self, mf: Any, field: str, ctx: dict[str, Any]) -> list[str]:
        field = normalise_field(field)
        if field == "genre":
            return ["\xa9gen"]
        if field == "bpm":
            return ["tmpo"]
        name = {"mood": "MOOD", "key": "initialkey"}.get(field, field)
        own = f"----:{MEAN}:{name}"
        return list(dict.fromkeys(_freeform_keys(mf.tags, name) + [own]))

    def get_raw(self, mf: Any, key: str) -> Any:
        if mf.tags is None or key not in mf.tags:
            return None
        values = mf.tags[key]
        if not key.startswith("----:"):
            return [str(v) for v in values]
        out = []
        for v in values:
            fmt = int(getattr(v, "dataformat", AtomDataType.UTF8))
            try:
                out.append({"format": fmt, "text": bytes(v).decode("utf-8")})
            except UnicodeDecodeError:
                out.append({"format": fmt, "b64": base64.b64encode(bytes(v)).decode("ascii")})
        return out

    def set_raw(self, mf: Any, key: str, raw: Any) -> None:
        if raw is None:
            if key in mf.tags:
                del mf.tags[key]
            return
        if key == "tmpo":    # an integer atom
            mf.tags[key] = [int(round(float(v))) for v in raw]
            return
        if not key.startswith("----:"):
            mf.tags[key] = list(raw)
            return
        values = []
        for item in raw:
            data = (item["text"].encode("utf-8") if "text" in item
                    else base64.b64decode(item["b64"]))
            values.append(MP4FreeForm(data, dataformat=item["format"]))
        mf.tags[key] = values

    def set_field(self, mf: Any, field: str, values: list[str], ctx: dict[str, Any]) -> None:
        key = self.keys_for(mf, field, ctx)[0]
        if not values:
            self.set_raw(mf, key, None)
        elif key.startswith("----:"):
            self.set_raw(mf, key, [{"format": int(AtomDataType.UTF8), "text": v} for v in values])
        else:
            self.set_raw(mf, key, list(values))

    def save(self, mf: Any, path: str, ctx: dict[str, Any]) -> None:
        mf.save(path)

    def delete_tags(self, path: str) -> None:
        mutagen.mp4.MP4(path).delete()

    def stream_info(self, mf: Any) -> tuple:
        info = mf.info
        return super().stream_info(mf) + (getattr(info, "codec", None),)
