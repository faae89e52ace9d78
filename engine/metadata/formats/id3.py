"""ID3v2 tags: MP3 here; AIFF and WAV (an ID3 chunk) reuse :class:`ID3Format` in ``iff.py``.

Fields: genre -> ``TCON``; bpm -> ``TBPM``; key -> ``TKEY``; mood -> ``TMOO`` (ID3v2.4) or
``TXXX:MOOD`` (ID3v2.3, which has no mood frame); a custom field NAME -> ``TXXX:NAME``.

Versions. A file that already has an ID3v2.3 or v2.4 tag keeps its version: converting would
rewrite frames that are not ours (v2.3 has no ``TDRC``/``TSOP``/``TMOO``; mutagen's conversion
to v2.4 drops ``RVAD``/``EQUA``). ``TagPolicy.id3_version`` is used for files without an ID3v2
tag and for ID3v2.2 tags, which mutagen cannot write.

Several values. ID3v2.4 stores them NUL-separated in one frame, as the standard says. ID3v2.3
allows one frame per id and has no separator, so values are joined with ``"; "`` in one frame:
that is what foobar2000, Mp3tag and MusicBee write and read, and unlike Picard's ``"/"`` it does
not collide with values such as "AC/DC" or "R&B/Soul". Reading splits on ``;`` again.

Everything else in the tag is kept: the file is opened untranslated (frames stay in the file's own
version) and without merging the ID3v1 tag into it; an ID3v1 tag at the end of an MP3 is put back
byte for byte after mutagen saved (mutagen would rewrite it from the v2 frames).
"""
from __future__ import annotations

import os
from typing import Any

import mutagen.id3
import mutagen.mp3
from mutagen.id3 import TXXX, Frames

from ..filetags import FileTags, normalise_field
from ..registry import TagFormat, register

V23_JOIN = "; "
_UTF8, _UTF16 = 3, 1


def _text(tags: Any, key: str) -> str | None:
    frame = tags.get(key) if tags is not None else None
    if frame is None or not getattr(frame, "text", None):
        return None
    return str(frame.text[0])


def _txxx_keys(tags: Any, name: str) -> list[str]:
    """Hash keys of TXXX frames whose description is ``name`` (case-insensitively), in tag order."""
    if tags is None:
        return []
    return [f.HashKey for f in tags.getall("TXXX") if f.desc.upper() == name]


class ID3Format(TagFormat):
    tag_type = "id3"
    mutagen_class: Any = None

    # --- reading -------------------------------------------------------------------------
    def open(self, path: str) -> Any:
        return self.mutagen_class(path)

    def open_for_write(self, path: str) -> Any:
        mf = self.mutagen_class(path, translate=False, load_v1=False)
        if mf.tags is not None and mf.tags.version < (2, 3, 0):
            # ID3v2.2 frames have 3-letter ids that cannot be saved: load them translated.
            mf = self.mutagen_class(path, load_v1=False)
        return mf

    def _version(self, tags: Any) -> int | None:
        if tags is None or tags.version[0] != 2:
            return None
        return tags.version[1]

    def _mood_key(self, tags: Any, version: int | None) -> str | None:
        """The key that holds the mood now: the version's own frame first, else the other one."""
        txxx = _txxx_keys(tags, "MOOD")
        tmoo = ["TMOO"] if tags is not None and "TMOO" in tags else []
        order = txxx + tmoo if version == 3 else tmoo + txxx
        return order[0] if order else None

    def read(self, mf: Any, path: str) -> FileTags:
        tags = mf.tags
        version = None if tags is None else tags.version
        ft = FileTags(path=path, format=type(mf).__name__, tag_type=self.tag_type,
                      duration_s=getattr(mf.info, "length", None),
                      id3_version=None if version is None else f"{version[0]}.{version[1]}")
        if tags is None:
            return ft
        ft.title = _text(tags, "TIT2")
        ft.artist = _text(tags, "TPE1")
        ft.album = _text(tags, "TALB")
        ft.albumartist = _text(tags, "TPE2")
        ft.tracknumber = _text(tags, "TRCK")
        ft.date = _text(tags, "TDRC") or _text(tags, "TYER")
        if "TCON" in tags:
            ft.genre = [g for g in tags["TCON"].genres if g]
        mood_key = self._mood_key(tags, self._version(tags))
        if mood_key:
            ft.mood = [str(t) for t in tags[mood_key].text]
        if "TBPM" in tags:
            ft.bpm = [str(t) for t in tags["TBPM"].text]
        if "TKEY" in tags:
            ft.key = [str(t) for t in tags["TKEY"].text]
        for frame in tags.getall("TXXX"):
            name = frame.desc.upper()
            if name != "MOOD" and name not in ft.custom:
                ft.custom[name] = [str(t) for t in frame.text]
        ft.has_cover = bool(tags.getall("APIC"))
        return ft

    def cover(self, mf: Any) -> bytes | None:
        pics = mf.tags.getall("APIC") if mf.tags is not None else []
        if not pics:
            return None
        front = [p for p in pics if p.type == 3]
        return bytes((front or pics)[0].data)

    # --- writing -------------------------------------------------------------------------
    def prepare(self, mf: Any, policy: Any) -> dict[str, Any]:
        had_tags = mf.tags is not None
        if not had_tags:
            mf.add_tags()
        version = self._version(mf.tags) if had_tags else None
        if version not in (3, 4):
            version = int(policy.id3_version)
            if version == 3:
                mf.tags.update_to_v23()
        return {"had_tags": had_tags, "id3_version": version}

    def context_for_restore(self, mf: Any, state: dict[str, Any]) -> dict[str, Any]:
        ctx = dict(state)
        if mf.tags is None:
            mf.add_tags()
        else:
            current = self._version(mf.tags)
            if current in (3, 4):
                ctx["id3_version"] = current
        if ctx.get("id3_version") not in (3, 4):
            ctx["id3_version"] = 4
        return ctx

    def keys_for(self, mf: Any, field: str, ctx: dict[str, Any]) -> list[str]:
        field = normalise_field(field)
        version = ctx["id3_version"]
        tags = mf.tags
        if field == "genre":
            return ["TCON"]
        if field == "bpm":
            return ["TBPM"]
        if field == "key":
            return ["TKEY"]
        if field == "mood":
            target = self._mood_key(tags, version) or ("TMOO" if version == 4 else "TXXX:MOOD")
            others = ["TMOO", "TXXX:MOOD"] + _txxx_keys(tags, "MOOD")
            return list(dict.fromkeys([target] + others))
        existing = _txxx_keys(tags, field)
        return list(dict.fromkeys((existing or [f"TXXX:{field}"]) + [f"TXXX:{field}"]))

    def get_raw(self, mf: Any, key: str) -> Any:
        frame = mf.tags.get(key) if mf.tags is not None else None
        if frame is None:
            return None
        return {"encoding": int(frame.encoding), "text": [str(t) for t in frame.text]}

    def set_raw(self, mf: Any, key: str, raw: Any) -> None:
        if raw is None:
            if key in mf.tags:
                del mf.tags[key]
            return
        frame_id, _, desc = key.partition(":")
        if frame_id == "TXXX":
            frame = TXXX(encoding=raw["encoding"], desc=desc, text=list(raw["text"]))
        else:
            frame = Frames[frame_id](encoding=raw["encoding"], text=list(raw["text"]))
        if key in mf.tags:
            del mf.tags[key]
        mf.tags.add(frame)

    def set_field(self, mf: Any, field: str, values: list[str], ctx: dict[str, Any]) -> None:
        key = self.keys_for(mf, field, ctx)[0]
        if not values:
            self.set_raw(mf, key, None)
            return
        if ctx["id3_version"] == 3:
            raw = {"encoding": _UTF16, "text": [V23_JOIN.join(values)]}
        else:
            raw = {"encoding": _UTF8, "text": list(values)}
        self.set_raw(mf, key, raw)

    def _save_tags(self, mf: Any, path: str, version: int) -> None:
        mf.tags.save(path, v2_version=version, v23_sep=None)

    def save(self, mf: Any, path: str, ctx: dict[str, Any]) -> None:
        self._save_tags(mf, path, ctx["id3_version"])


@register
class MP3Format(ID3Format):
    name = "MP3"
    extensions = (".mp3", ".mp2")
    mutagen_class = mutagen.mp3.MP3

    def _save_tags(self, mf: Any, path: str, version: int) -> None:
        v1 = _read_id3v1(path)
        mf.tags.save(path, v1=1 if v1 else 0, v2_version=version, v23_sep=None)
        if v1:
            with open(path, "r+b") as fh:
                fh.seek(-128, os.SEEK_END)
                if fh.read(3) == b"TAG":
                    fh.seek(-128, os.SEEK_END)
                    fh.write(v1)

    def delete_tags(self, path: str) -> None:
        mutagen.id3.delete(path, delete_v1=False, delete_v2=True)


def _read_id3v1(path: str) -> bytes | None:
    """The 128-byte ID3v1 tag at the end of the file, if there is one."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() < 128:
            return None
        fh.seek(-128, os.SEEK_END)
        data = fh.read(128)
    return data if data[:3] == b"TAG" else None


__all__ = ["ID3Format", "MP3Format", "V23_JOIN"]
