"""How the library stores paths: the file system's own bytes of the absolute path (so names
that are not valid UTF-8 round-trip), and the range of stored paths inside a folder."""
from __future__ import annotations

import os


def normalize_path(path: str | bytes | os.PathLike) -> str:
    """The absolute, normalised ``str`` form of ``path`` (symlinks are not resolved)."""
    return os.path.abspath(os.fsdecode(path))


def path_to_db(path: str | bytes | os.PathLike) -> bytes:
    """What the ``path`` column stores: the file system's own bytes for the absolute path."""
    return os.fsencode(normalize_path(path))


def path_from_db(value: bytes) -> str:
    """Inverse of :func:`path_to_db`: a ``str`` that opens the same file."""
    return os.fsdecode(bytes(value))


def under_range(root: str | bytes | os.PathLike) -> tuple[bytes, bytes]:
    """``(low, high)`` such that ``low < path < high`` selects every path inside ``root``."""
    r = path_to_db(root)
    sep = os.fsencode(os.sep)
    if not r.endswith(sep):
        r += sep
    return r, r[:-1] + bytes([sep[0] + 1])

