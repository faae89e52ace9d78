"""AIFF and WAV: an ID3v2 tag stored in an ``ID3 `` (AIFF) or ``id3 `` (WAV) chunk.

Same fields and version rules as MP3 (see ``id3.py``); mutagen rewrites only that chunk and the
container's size field, never the sound data chunk.
"""
from __future__ import annotations

from typing import Any

import mutagen.aiff
import mutagen.wave

from ..registry import register
from .id3 import ID3Format


@register
class AIFFFormat(ID3Format):
    name = "AIFF"
    extensions = (".aif", ".aiff", ".aifc")
    mutagen_class = mutagen.aiff.AIFF

    @staticmethod
    def sniff(header: bytes) -> bool:
        return header[:4] == b"FORM" and header[8:12] in (b"AIFF", b"AIFC")

    def delete_tags(self, path: str) -> None:
        mutagen.aiff.delete(path)


@register
class WAVEFormat(ID3Format):
    name = "WAV"
    extensions = (".wav", ".wave")
    mutagen_class = mutagen.wave.WAVE

    @staticmethod
    def sniff(header: bytes) -> bool:
        return header[:4] == b"RIFF" and header[8:12] == b"WAVE"

    def delete_tags(self, path: str) -> None:
        mutagen.wave.delete(path)

    def stream_info(self, mf: Any) -> tuple:
        info = mf.info
        return super().stream_info(mf) + (getattr(info, "bits_per_sample", None),)
