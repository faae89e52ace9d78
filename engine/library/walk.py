"""The scan's first phase: find every audio file under the folders given.

Every file with an extension the engine decodes (any case) is listed once, following folder
symlinks but never entering a folder twice (loops are cut by ``(st_dev, st_ino)``), skipping
hidden and system entries (names starting with ``.``, ``@eaDir``, ``Thumbs.db`` …). Entries
named like audio that are not files (pipes, devices, dangling links, folders) are listed with
the reason they were left out.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import LibraryError, printable_path
from ..types import CancelFn, PhaseProgressFn
from .paths import normalize_path

#: Folder and file names that are never music: NAS thumbnails and recycle bins, OS metadata.
SKIP_NAMES = frozenset({
    "@eaDir", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot", "$RECYCLE.BIN",
    "System Volume Information", "lost+found", "__MACOSX", "Thumbs.db", "desktop.ini",
    "Desktop.ini", "Icon\r",
})

def supported_extensions() -> frozenset[str]:
    from ..audio.decode import SUPPORTED_EXTENSIONS

    return frozenset(e.lower() for e in SUPPORTED_EXTENSIONS)


def is_hidden_or_system(name: str) -> bool:
    return name.startswith(".") or name in SKIP_NAMES


@dataclass
class FoundFile:
    path: str          # absolute; a str that opens the file (surrogate-escaped if need be)
    size: int          # bytes
    mtime_ns: int


@dataclass
class WalkResult:
    files: list[FoundFile]
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # (folder, why it could not be read)
    skipped: int = 0        # hidden/system entries left out
    loops: int = 0          # folders reached a second time (symlink loops, repeated roots)
    complete: bool = True   # False when cancelled part-way
    temp_folders: list[str] = field(default_factory=list)  # folders holding tag-write temp files
    #: entries with an audio file's name that are not files: (path, why they were left out)
    not_files: list[tuple[str, str]] = field(default_factory=list)


def why_not_a_file(mode: int) -> str:
    """Plain words for an entry named like an audio file that is not a regular file."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file (e.g. a link to /dev/zero or /dev/urandom)"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def walk_audio_files(roots: Iterable[str | os.PathLike], *, extensions: Iterable[str] | None = None,
                     progress: PhaseProgressFn | None = None, cancel: CancelFn | None = None) -> WalkResult:
    """Every regular audio file under ``roots`` (each real folder and each file once)."""
    from ..metadata.safewrite import TEMP_NAME

    exts = frozenset(e.lower() for e in extensions) if extensions is not None else supported_extensions()
    result = WalkResult(files=[])
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    last_report = 0.0

    def add_file(path: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:  # a second link to a file already found
            return
        seen_files.add(key)
        result.files.append(FoundFile(path, st.st_size, st.st_mtime_ns))

    stack: list[str] = []
    for root in roots:
        root = normalize_path(root)
        try:
            st = os.stat(root)
        except OSError as exc:
            raise LibraryError(f"{printable_path(root)}: {exc.strerror or 'cannot be opened'}") from exc
        if stat.S_ISDIR(st.st_mode):
            stack.append(root)
        elif stat.S_ISREG(st.st_mode) and os.path.splitext(root)[1].lower() in exts:
            add_file(root, st)
        else:
            raise LibraryError(f"{printable_path(root)}: not a folder or an audio file")
    stack.reverse()

    while stack:
        if cancel is not None and cancel():
            result.complete = False
            return result
        folder = stack.pop()
        try:
            dst = os.stat(folder)
        except OSError as exc:
            result.unlisted.append((folder, exc.strerror or str(exc)))
            continue
        key = (dst.st_dev, dst.st_ino)
        if key in seen_dirs:
            result.loops += 1
            if os.path.islink(folder):
                result.not_files.append((folder, "a link back to a folder already scanned (a loop); "
                                                 "followed once"))
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.unlisted.append((folder, exc.strerror or str(exc)))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if is_hidden_or_system(name):
                result.skipped += 1
                if TEMP_NAME.match(name) and result.temp_folders[-1:] != [folder]:
                    result.temp_folders.append(folder)
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.path)
                if os.path.splitext(name)[1].lower() in exts:   # "song.mp3/" is looked into
                    result.not_files.append((entry.path, "a folder named like an audio file "
                                                         "(its contents are scanned)"))
                continue
            if os.path.splitext(name)[1].lower() not in exts:
                continue
            try:
                st = entry.stat()  # follows symlinks; a dangling link fails here
            except OSError as exc:
                why = ("a link to a file that does not exist" if entry.is_symlink()
                       else exc.strerror or str(exc))
                result.not_files.append((entry.path, why))
                continue
            if stat.S_ISREG(st.st_mode):
                add_file(entry.path, st)
            else:
                result.not_files.append((entry.path, why_not_a_file(st.st_mode)))
        stack.extend(reversed(subdirs))
        if progress is not None:
            now = time.monotonic()
            if now - last_report > 0.2:
                last_report = now
                progress("walk", len(result.files), 0, folder)
    if progress is not None:
        progress("walk", len(result.files), 0, "")
    return result
