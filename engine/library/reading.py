"""The scan's third phase: fingerprint a new or changed file and read the tags already in it."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import EmptyFileError, FileError, unreadable_from_oserror
from .db import Library
from .walk import FoundFile

#: Bytes hashed from each end of a file for its content fingerprint.
FINGERPRINT_CHUNK = 64 * 1024


def content_fingerprint(path: str | os.PathLike) -> bytes:
    """16 bytes identifying a file's content cheaply: BLAKE2b of its size and its first and
    last 64 KiB. Raises :class:`UnreadableFileError` when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
            h.update(f.read(FINGERPRINT_CHUNK))
            if size > FINGERPRINT_CHUNK:
                f.seek(max(FINGERPRINT_CHUNK, size - FINGERPRINT_CHUNK))
                h.update(f.read(FINGERPRINT_CHUNK))
    except OSError as exc:
        raise unreadable_from_oserror(path, exc) from None
    return h.digest()


@dataclass
class FileMetadata:
    """What the scanner stores about a file's existing tags."""

    fields: dict[str, Any]            # title, artist, album, albumartist (str), genre, mood (lists), …
    duration_s: float | None = None
    format: str | None = None


def read_file_metadata(path: str) -> FileMetadata:
    """The file's existing tags. Raises :class:`engine.errors.TagReadError` when they cannot be
    read (the audio may still be fine)."""
    from ..metadata import read_tags

    return metadata_from_filetags(read_tags(path))


def metadata_from_filetags(tags: Any) -> FileMetadata:
    """What the library stores from an :class:`engine.metadata.FileTags`: title, artist, album,
    album artist, genre and mood (split into lists), plus track number, date, BPM, key, the tag family and
    custom fields in ``extra`` (the long score field is left out: the analyses hold the scores)."""
    from ..metadata import SCORES_FIELD

    md: dict[str, Any] = {
        "title": tags.title, "artist": tags.artist, "album": tags.album,
        "albumartist": tags.albumartist, "genre": tags.get("genre"), "mood": tags.get("mood"),
    }
    for key in ("tracknumber", "date", "tag_type", "id3_version"):
        value = getattr(tags, key, None)
        if value:
            md[key] = value
    for key in ("bpm", "key"):      # the file's own tempo and key (in extra)
        values = tags.get(key) if hasattr(tags, "get") else []
        if values:
            md[key] = values[0]
    custom = {k: list(v) for k, v in (tags.custom or {}).items() if k != SCORES_FIELD}
    if custom:
        md["custom"] = custom
    if (tags.custom or {}).get(SCORES_FIELD):
        md["has_scores_field"] = True
    if getattr(tags, "has_cover", False):
        md["has_cover"] = True
    return FileMetadata(md, float(tags.duration_s) if tags.duration_s else None, tags.format or None)


def read_one(library: Library, f: FoundFile, tid: int | None,
              fail: Callable[[str, str, BaseException, int | None], None]) -> None:
    """Fingerprint and read the tags of one new or changed file (inside a savepoint)."""
    try:
        st = os.stat(f.path)
    except FileNotFoundError:  # vanished since the walk
        if tid is not None:
            library.update_track(tid, status="gone")
        return
    except OSError:
        st = None
    size = st.st_size if st else f.size
    mtime_ns = st.st_mtime_ns if st else f.mtime_ns
    ext = os.path.splitext(f.path)[1].lower().lstrip(".") or None
    problem: FileError | None = None
    fp = None
    if size == 0:
        problem = EmptyFileError(f.path, "the file is empty (0 bytes)")
    else:
        try:
            fp = content_fingerprint(f.path)
        except FileError as exc:
            problem = exc
    if tid is not None:
        library.delete_analyses(tid)        # the content changed: old results are stale
        library.clear_errors(track_id=tid, stages=["scan", "decode", "analyse"])
    if problem is not None:
        tid = library.add_track(f.path, size=size, mtime_ns=mtime_ns, fingerprint=fp,
                                format=ext, status="error")
        fail(f.path, "scan", problem, tid)
        return
    meta, tag_error = FileMetadata({}), None
    try:
        meta = read_file_metadata(f.path)
    except FileError as exc:
        tag_error = exc
    except Exception as exc:  # noqa: BLE001 - a tag library bug must not stop the scan
        from ..errors import TagReadError

        tag_error = TagReadError(f.path, f"the tags cannot be read ({type(exc).__name__}: {exc})")
    tid = library.add_track(f.path, size=size, mtime_ns=mtime_ns, fingerprint=fp,
                            duration_s=meta.duration_s, format=meta.format or ext,
                            metadata=meta.fields, status="new")
    if tag_error is not None:
        fail(f.path, "scan", tag_error, tid)
