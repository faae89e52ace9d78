"""The scan's second phase: compare what the walk found with what the library knows.

A file whose size and modification time match the database is unchanged and is neither read
nor analysed again. A known file that is no longer there is marked ``gone``, unless a new file
has the same size and content fingerprint: then it was moved or renamed, and the track (with
its analyses, playlists and journal) follows it to the new path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import FileError
from ..types import CancelFn
from .db import Library
from .paths import normalize_path
from .reading import content_fingerprint
from .records import TrackState
from .walk import FoundFile, WalkResult


@dataclass
class FileToRead:
    """A new or changed file whose fingerprint and tags the read phase takes."""

    file: FoundFile
    track_id: int | None        # the track it was, None for a new file


@dataclass
class Move:
    """A track whose file is now ``file`` (same size and content fingerprint)."""

    track_id: int
    file: FoundFile
    fingerprint: bytes


@dataclass
class Reconciliation:
    """What the scan must do to bring the library up to date with the files found."""

    to_read: list[FileToRead] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    reappeared: list[tuple[int, FoundFile]] = field(default_factory=list)   # gone, now back unchanged
    missing: dict[str, TrackState] = field(default_factory=dict)            # to mark gone
    unchanged: int = 0
    changed: int = 0
    cancelled: bool = False

    @property
    def new(self) -> int:
        return sum(1 for item in self.to_read if item.track_id is None)


def is_under(path: str, folders: list[str]) -> bool:
    """Whether ``path`` lies inside one of ``folders`` (absolute, normalised paths)."""
    return any(path.startswith(f if f.endswith(os.sep) else f + os.sep) for f in folders)


def reconcile(library: Library, roots: list[str], walk: WalkResult,
              cancel: CancelFn) -> Reconciliation:
    """Sort the files ``walk`` found under ``roots`` into unchanged, changed, new and moved, and
    the known tracks not found into gone (changes nothing; see :func:`apply_reconciliation`)."""
    out = Reconciliation()
    known: dict[str, TrackState] = {}
    for r in roots:
        known.update(library.track_states_under(r))
    found: dict[str, FoundFile] = {f.path: f for f in walk.files}
    retry_ids = (library.track_ids_with_errors("scan", kind="UnreadableFileError",
                                               track_status="error") if known else set())
    new_files: list[FoundFile] = []
    for path, f in found.items():
        st = known.get(path)
        if st is None:
            new_files.append(f)
            continue
        same = st.size == f.size and st.mtime_ns == f.mtime_ns
        if same and st.status == "gone":
            out.reappeared.append((st.id, f))
            out.unchanged += 1
        elif same and st.id not in retry_ids:
            out.unchanged += 1
        else:
            out.to_read.append(FileToRead(f, st.id))
            out.changed += 1
    unlisted = [normalize_path(d) for d, _ in walk.unlisted]
    out.missing = {p: st for p, st in known.items()
                   if p not in found and st.status != "gone" and not is_under(p, unlisted)}

    # moves: a new file with the size and fingerprint of a track whose file is no longer there:
    # a track missing from these folders, one already gone, or (moved in from a folder not
    # scanned now) one whose file does not exist any more.
    vanished: dict[tuple[int, bytes], list[int]] = {}
    for st in out.missing.values():
        if st.fingerprint is not None:
            vanished.setdefault((st.size, st.fingerprint), []).append(st.id)
    for st in library.gone_track_states():
        vanished.setdefault((st.size, st.fingerprint), []).append(st.id)
    claimed: set[int] = set()

    def elsewhere_and_vanished(size: int, fp: bytes) -> int | None:
        for t in library.tracks_with_content(size, fp, include_gone=False, limit=20):
            if (t.id in claimed or t.path in found or t.path in known or t.path in roots
                    or is_under(t.path, roots)):
                continue
            if not os.path.lexists(t.path):
                return t.id
        return None

    for f in new_files:
        if cancel():
            out.cancelled = True
            break
        if not library.has_fingerprint_of_size(f.size):
            out.to_read.append(FileToRead(f, None))
            continue
        try:
            fp = content_fingerprint(f.path)
        except FileError:
            out.to_read.append(FileToRead(f, None))
            continue
        pool = vanished.get((f.size, fp))
        target = pool.pop(0) if pool else elsewhere_and_vanished(f.size, fp)
        if target is None:
            out.to_read.append(FileToRead(f, None))
        else:
            claimed.add(target)
            out.moves.append(Move(target, f, fp))
    return out


def apply_reconciliation(library: Library, roots: list[str], walk: WalkResult,
                         rec: Reconciliation) -> None:
    """Move the moved tracks, bring back the reappeared ones, mark the missing ones gone and
    replace the folder-level problems under ``roots`` by this walk's (one transaction)."""
    with library.transaction():
        for move in rec.moves:
            old = library.get_track(move.track_id)
            if old is not None:
                rec.missing.pop(old.path, None)
            library.move_track(move.track_id, move.file.path, size=move.file.size,
                               mtime_ns=move.file.mtime_ns, fingerprint=move.fingerprint)
        for tid, _f in rec.reappeared:
            library.update_track(tid, status=library.settled_status(tid))
        library.set_status((st.id for st in rec.missing.values()), "gone")
        for r in roots:
            library.clear_errors(under=r, stages=["scan"], trackless_only=True)
        for folder, why in walk.unlisted:
            library.add_error("scan", "UnreadableFolder", f"this folder cannot be read ({why}); "
                              "the files in it were left as they were", path=folder)
