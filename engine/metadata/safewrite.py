"""Rewrite a file so that the user only ever sees the old file or the complete new one.

``atomic_rewrite(path, edit, verify)``:

1. checks that the file exists, is a regular file, is writable (its permission bits, which are
   honoured even for root: a file marked read-only is not written) and that its folder is writable;
2. takes an exclusive ``flock`` on the file (POSIX), so another program holding a lock on it, or a
   second Tag Atlas writer, makes the write fail instead of racing;
3. copies it to a hidden temporary file in the same folder (``.tagatlas-XXXX.tmp``: same file
   system, so the final rename is atomic; the scanner skips hidden files) with the same permission
   bits, owner and extended attributes;
4. runs ``edit(temp_path)`` (mutagen writes the tags there), fsyncs it, runs ``verify(temp_path)``;
5. checks that nobody changed or removed the original meanwhile, sets the modification time
   (the original's when asked to preserve it), runs ``before_swap()`` when given (the library
   commits its write-ahead journal entry there), renames the temporary file over the original
   with ``os.replace`` and fsyncs the folder.

Any failure — including an exception from ``edit`` or ``verify`` and a KeyboardInterrupt — removes
the temporary file and leaves the original untouched; failures are raised as ``TagWriteError`` with
the path and a plain reason. A process killed between 3 and 5 leaves the original intact and a
hidden ``.tagatlas-*.tmp`` file, which :func:`remove_stale_temp_files` cleans up (the library
runs it on every folder it scans or writes to). A write in progress holds a lock on its temporary
file from the moment it creates it, so the clean-up removes a killed write's leftover at once and
never a live one's.

A symlink is followed (the target is rewritten, the link stays). A file with several hard links
is replaced under this name only; the other names keep the old tags (reported as a warning).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

from ..errors import TagWriteError, without_paths

try:  # POSIX advisory locks; on Windows a file in use makes os.replace fail instead
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

TEMP_PREFIX = ".tagatlas-"
TEMP_SUFFIX = ".tmp"


def os_reason(exc: BaseException) -> str:
    """A plain sentence for an OSError met while writing."""
    code = getattr(exc, "errno", None)
    reasons = {
        errno.ENOENT: "the file or its folder no longer exists (moved or deleted?)",
        errno.EACCES: "permission denied",
        errno.EPERM: "the operation is not permitted (the file may be locked or immutable)",
        errno.EROFS: "the file is on a read-only file system",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.EBUSY: "the file is in use by another program",
        errno.ETXTBSY: "the file is in use by another program",
        errno.EISDIR: "this is a folder, not a file",
        errno.EIO: "the disk reported an input/output error",
    }
    if code in reasons:
        return reasons[code]
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else "unknown error"


def _resolve(path: str) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise TagWriteError(path, "the file no longer exists (moved or deleted since it was scanned)") from None
    except OSError as exc:
        raise TagWriteError(path, os_reason(exc)) from None


def check_writable(path: str) -> tuple[str, os.stat_result]:
    """The real path and stat of a file that may be rewritten; TagWriteError when it may not."""
    real = _resolve(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise TagWriteError(path, os_reason(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise TagWriteError(path, "this is not a regular file")
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(real, os.W_OK):
        raise TagWriteError(path, "the file is read-only")
    folder = os.path.dirname(real)
    try:
        dst = os.stat(folder)
    except OSError as exc:
        raise TagWriteError(path, os_reason(exc)) from None
    if (not dst.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
            or not os.access(folder, os.W_OK | os.X_OK)):
        raise TagWriteError(path, "the folder is read-only (Tag Atlas writes a temporary copy "
                                  "next to the file and swaps it in)")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid() and os.geteuid() != 0:
        raise TagWriteError(path, "the file belongs to another user; replacing it would change "
                                  "its owner")
    return real, st


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _copy(src, dst) -> None:
    """Copy an open file: ``copy_file_range`` (a reflink on btrfs/XFS) where there is one."""
    if hasattr(os, "copy_file_range"):
        size = os.fstat(src.fileno()).st_size
        try:
            while os.copy_file_range(src.fileno(), dst.fileno(), 1 << 30):
                pass
            if os.fstat(dst.fileno()).st_size == size:
                return
        except OSError:       # other file systems / kernels: start over the portable way
            pass
        src.seek(0)
        dst.seek(0)
        dst.truncate()
    shutil.copyfileobj(src, dst, 1 << 20)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_dev, b.st_size, b.st_mtime_ns)


def atomic_rewrite(path: str | os.PathLike, edit: Callable[[str], T], *,
                   verify: Callable[[str], None] | None = None,
                   preserve_mtime: bool = False,
                   before_swap: Callable[[], None] | None = None) -> tuple[T, list[str]]:
    """Run ``edit`` on a temporary copy of ``path`` and swap it in; return (edit's result, warnings).

    ``edit``, ``verify`` and ``before_swap`` (called last, just before the rename) may raise
    TagWriteError with their own reason; any other exception is reported as a TagWriteError too.
    The original is never modified in place.
    """
    shown = os.fsdecode(path)
    real, st = check_writable(shown)
    warnings: list[str] = []
    if st.st_nlink > 1:
        warnings.append(f"the file has {st.st_nlink} hard links; only this name gets the new tags")
    folder = os.path.dirname(real)
    tmp: str | None = None
    tmp_lock: int | None = None
    try:
        with open(real, "rb") as original:
            if fcntl is not None:
                try:
                    fcntl.flock(original.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise TagWriteError(shown, "the file is locked by another program") from None
                except OSError:
                    pass     # file systems without flock support: go on without the lock
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
            tmp_lock = _hold_lock(fd)        # "a live write owns this" for remove_stale_temp_files
            with os.fdopen(fd, "wb") as out:
                _copy(original, out)
            shutil.copystat(real, tmp)           # permission bits, xattrs (and times, reset below)
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.stat(tmp).st_uid, os.stat(tmp).st_gid):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except OSError:
                    warnings.append("the file's group could not be kept")

            result = edit(tmp)

            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if verify is not None:
                verify(tmp)
            try:
                now = os.stat(real)
            except FileNotFoundError:
                raise TagWriteError(shown, "the file was deleted while its tags were being written") from None
            if not _same_file(now, st):
                raise TagWriteError(shown, "the file was changed by another program while its tags "
                                           "were being written; nothing was written")
            if preserve_mtime:
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            else:
                os.utime(tmp, None)
            if before_swap is not None:
                before_swap()
            if fcntl is None:
                original.close()     # Windows cannot replace a file that is still open
            os.replace(tmp, real)
            tmp = None
        _fsync_dir(folder)
        return result, warnings
    except TagWriteError:
        raise
    except PermissionError as exc:
        hint = " (the file may be open or locked by another program)" if exc.errno == errno.EACCES else ""
        raise TagWriteError(shown, os_reason(exc) + hint) from None
    except OSError as exc:
        raise TagWriteError(shown, os_reason(exc)) from None
    except Exception as exc:  # noqa: BLE001 - mutagen and friends raise many types; report, never crash
        detail = clean_message(exc, shown, real) or type(exc).__name__
        raise TagWriteError(shown, f"the tags could not be written ({detail})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if tmp_lock is not None:
            os.close(tmp_lock)


def clean_message(exc: BaseException, *paths: str) -> str:
    """The useful part of an exception's message: file names (and our temporary names) removed;
    "" when nothing useful is left (mutagen sometimes says just "error")."""
    text = without_paths(str(exc), *paths)
    text = re.sub(r"\S*" + re.escape(TEMP_PREFIX) + r"\S*" + re.escape(TEMP_SUFFIX) + "'?", "", text)
    text = text.strip(" :'\"")
    if not text or text.lower() == "error":
        return ""
    return text if len(text) <= 160 else text[:157] + "..."


#: The names ``tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)`` makes, and nothing else.
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")


def _hold_lock(fd: int) -> int | None:
    """Take an exclusive ``flock`` on the open file ``fd`` and return a duplicate of it that keeps
    the lock after ``fd`` is closed; None without flock."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass                                 # no flock on this file system: age alone decides
    return os.dup(fd)


#: An unlocked temporary copy younger than this is left alone: between ``mkstemp`` creating it
#: and the write taking its lock there are a few microseconds without a lock.
UNLOCKED_GRACE_S = 1.0
#: Where the file system has no ``flock``, a copy is only removed once it has not changed for
#: this long (a live write touches its copy continuously).
NO_LOCK_AGE_S = 60.0


def remove_stale_temp_files(folder: str | os.PathLike, *,
                            older_than_s: float | None = None) -> list[Path]:
    """Delete temporary files left in ``folder`` by writes that were killed; return what was removed.

    Only hidden files named exactly as :func:`atomic_rewrite` names them are touched, and never one
    a live write holds (a write keeps an exclusive lock on its copy from the moment it creates
    it). An unlocked copy is removed at once (after :data:`UNLOCKED_GRACE_S`); on a file system
    without ``flock`` only when it has not changed for :data:`NO_LOCK_AGE_S` seconds (its
    status-change time: the modification time is the original's, copied). ``older_than_s``
    overrides both ages.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if TEMP_NAME.match(e.name)]
    except OSError:
        return removed
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            locked = False
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                except BlockingIOError:
                    continue                 # a live write owns it
                except OSError:
                    pass                     # no flock here: age alone decides
            age = older_than_s if older_than_s is not None else (
                UNLOCKED_GRACE_S if locked else NO_LOCK_AGE_S)
            if now - st.st_ctime < age:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed
