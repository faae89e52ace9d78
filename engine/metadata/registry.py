"""One tag format per container family, registered by file extension (Picard's FormatRegistry).

A format module in ``engine/metadata/formats/`` subclasses :class:`TagFormat` and decorates it
with :func:`register`; every module there is imported on first use, so adding a format is one
module. :func:`format_for` picks the format of a file: by a content signature when the file
clearly is one of the registered containers (a FLAC file named ``.mp3`` gets FLAC tags, never an
ID3 header written in front of it), otherwise by its extension.

The interface is small on purpose. Writers work on *raw keys* (ID3 frame hash keys such as
``TCON`` or ``TXXX:TAGATLAS_ERA``, Vorbis comment names, MP4 atom names) whose values are plain
JSON data, so that the write journal can store exactly what a field held before and undo can
put it back.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any, ClassVar

from ..errors import TagReadError
from .filetags import FileTags

_FORMATS: dict[str, type["TagFormat"]] = {}
_ALL: list[type["TagFormat"]] = []
_loaded = False


class TagFormat:
    """How to read and write the tags of one container family (mutagen does the parsing)."""

    #: Short name shown to users and stored in write records ("MP3", "FLAC", "Ogg", "MP4", ...).
    name: ClassVar[str] = ""
    #: The tag family: "id3", "vorbis" or "mp4".
    tag_type: ClassVar[str] = ""
    #: Lower-case extensions with the dot.
    extensions: ClassVar[tuple[str, ...]] = ()

    # --- detection -----------------------------------------------------------------------
    @staticmethod
    def sniff(header: bytes) -> bool:
        """True when the first bytes of a file prove it is this container (default: no proof)."""
        return False

    # --- reading -------------------------------------------------------------------------
    def open(self, path: str) -> Any:
        """The mutagen object used for reading (may raise anything mutagen raises)."""
        raise NotImplementedError

    def open_for_write(self, path: str) -> Any:
        """The mutagen object used for writing: it must keep every field it does not touch as is."""
        return self.open(path)

    def read(self, mf: Any, path: str) -> FileTags:
        raise NotImplementedError

    def cover(self, mf: Any) -> bytes | None:
        raise NotImplementedError

    # --- writing -------------------------------------------------------------------------
    def prepare(self, mf: Any, policy: Any) -> dict[str, Any]:
        """Make sure ``mf`` has a tag to write into; return the write context.

        The context is stored in the write record (``had_tags`` and, for ID3, ``id3_version``) and
        given back to :meth:`keys_for`, :meth:`set_field` and :meth:`save`.
        """
        raise NotImplementedError

    def context_for_restore(self, mf: Any, state: dict[str, Any]) -> dict[str, Any]:
        """The write context for undo, from the recorded state of the file before the write."""
        if mf.tags is None:
            mf.add_tags()
        return dict(state)

    def keys_for(self, mf: Any, field: str, ctx: dict[str, Any]) -> list[str]:
        """Raw keys that hold logical ``field`` now, or would hold it after a write (target first)."""
        raise NotImplementedError

    def get_raw(self, mf: Any, key: str) -> Any:
        """The JSON-able value of a raw key, or None when the key is absent."""
        raise NotImplementedError

    def set_raw(self, mf: Any, key: str, raw: Any) -> None:
        """Put back a value from :meth:`get_raw` (None deletes the key)."""
        raise NotImplementedError

    def set_field(self, mf: Any, field: str, values: list[str], ctx: dict[str, Any]) -> None:
        """Write logical ``field`` (into ``keys_for(...)[0]``)."""
        raise NotImplementedError

    def save(self, mf: Any, path: str, ctx: dict[str, Any]) -> None:
        raise NotImplementedError

    def is_empty(self, mf: Any) -> bool:
        """True when the tag holds no field at all (undo then removes a tag we created)."""
        return mf.tags is None or len(mf.tags.keys()) == 0

    def delete_tags(self, path: str) -> None:
        """Remove the whole tag from the file (only used when undo empties a tag that we created)."""
        raise NotImplementedError

    def stream_info(self, mf: Any) -> tuple:
        """Facts about the audio stream that a tag write must never change (checked after each write)."""
        info = mf.info
        return (round(float(getattr(info, "length", 0.0) or 0.0), 3),
                getattr(info, "sample_rate", None), getattr(info, "channels", None))


def register(cls: type[TagFormat]) -> type[TagFormat]:
    """Class decorator: make ``cls`` the format for its ``extensions``."""
    if not cls.extensions or not cls.name:
        raise ValueError(f"{cls.__name__} needs a name and extensions")
    for ext in cls.extensions:
        _FORMATS[ext.lower()] = cls
    _ALL.append(cls)
    return cls


def _load_formats() -> None:
    global _loaded
    if _loaded:
        return
    from . import formats
    for mod in sorted(pkgutil.iter_modules(formats.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{formats.__name__}.{mod.name}")
    _loaded = True


def supported_extensions() -> frozenset[str]:
    """Extensions (lower-case, with the dot) whose tags Tag Atlas reads and writes."""
    _load_formats()
    return frozenset(_FORMATS)


def format_for(path: str | os.PathLike, header: bytes | None = None) -> TagFormat:
    """The format that reads and writes the tags of ``path``.

    Raises TagReadError when the extension is unknown and the content matches no registered format.
    """
    _load_formats()
    if header is None:
        try:
            with open(path, "rb") as fh:
                header = fh.read(64)
        except OSError:
            header = b""
    for cls in _ALL:
        if cls.sniff(header):
            return cls()
    ext = os.path.splitext(os.fsdecode(path))[1].lower()
    cls = _FORMATS.get(ext)
    if cls is None:
        shown = ext or "(no extension)"
        raise TagReadError(path, f"Tag Atlas does not read or write tags in {shown} files")
    return cls()
