"""The errors part of the library: every per-file failure with its stage and plain reason."""
from __future__ import annotations

import os
import sqlite3
import time
from typing import Iterable

from ..errors import FileError, LibraryError, ParameterError, printable_path
from .conditions import Conditions
from .paths import path_from_db, path_to_db, under_range
from .records import ErrorRecord
from .schema import ERROR_STAGES


class ErrorLog:
    """Recorded failures. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

    def add_error(self, stage: str, kind: str, reason: str, *, track_id: int | None = None,
                  path: str | bytes | os.PathLike | None = None) -> int:
        """Record that ``path`` (or track ``track_id``) failed at ``stage``."""
        if stage not in ERROR_STAGES:
            raise ParameterError(f"unknown error stage {stage!r}")
        if path is None:
            if track_id is None:
                raise ParameterError("an error needs a track or a path")
            row = self._conn.execute("SELECT path FROM tracks WHERE id = ?", (int(track_id),)).fetchone()
            if row is None:
                raise LibraryError(f"no track with id {track_id}")
            pbytes = bytes(row[0])
        else:
            pbytes = path_to_db(path)
        cur = self._conn.execute(
            "INSERT INTO errors (track_id, path, path_text, stage, kind, reason, at)"
            " VALUES (?,?,?,?,?,?,?)",
            (track_id, pbytes, printable_path(pbytes), stage, kind, reason, time.time()),
        )
        return int(cur.lastrowid)

    def add_file_error(self, stage: str, error: BaseException, *, track_id: int | None = None,
                       path: str | bytes | os.PathLike | None = None) -> int:
        """:meth:`add_error` from an exception (a :class:`FileError` gives kind and reason)."""
        if isinstance(error, FileError):
            kind, reason = error.kind, error.reason
            if path is None and track_id is None:
                path = error.path
        elif isinstance(error, OSError):
            kind, reason = type(error).__name__, error.strerror or str(error)
        else:
            kind, reason = type(error).__name__, str(error) or type(error).__name__
        return self.add_error(stage, kind, reason, track_id=track_id, path=path)

    def clear_errors(self, *, track_id: int | None = None, path: str | bytes | os.PathLike | None = None,
                     stages: Iterable[str] | None = None, under: str | os.PathLike | None = None,
                     trackless_only: bool = False) -> int:
        c = Conditions()
        if track_id is not None:
            c.add("track_id = ?", int(track_id))
        if path is not None:
            c.add("path = ?", path_to_db(path))
        if under is not None:
            low, high = under_range(under)
            c.add("((path > ? AND path < ?) OR path = ?)", low, high, path_to_db(under))
        if trackless_only:
            c.add("track_id IS NULL")
        if stages is not None:
            c.add_in("stage", stages)
        if not c:
            raise ParameterError("clear_errors needs a filter")
        return self._conn.execute(f"DELETE FROM errors{c.where()}", c.args).rowcount

    def errors(self, *, stage: str | None = None, track_id: int | None = None,
               path: str | bytes | os.PathLike | None = None, include_gone: bool = False,
               ) -> list[ErrorRecord]:
        """Recorded failures, oldest first (errors of tracks now gone are left out)."""
        sql = ("SELECT e.id, e.track_id, e.path, e.stage, e.kind, e.reason, e.at FROM errors e"
               " LEFT JOIN tracks t ON t.id = e.track_id")
        c = Conditions()
        if stage is not None:
            c.add("e.stage = ?", stage)
        if track_id is not None:
            c.add("e.track_id = ?", int(track_id))
        if path is not None:
            c.add("e.path = ?", path_to_db(path))
        if not include_gone:
            c.add("(t.status IS NULL OR t.status != 'gone')")
        return [ErrorRecord(r[0], r[1], path_from_db(r[2]), r[3], r[4], r[5], r[6])
                for r in self._conn.execute(sql + c.where() + " ORDER BY e.at, e.id", c.args)]

    def track_ids_with_errors(self, stage: str, *, kind: str | None = None,
                              other_than: str | None = None,
                              track_status: str | None = None) -> set[int]:
        """Ids of tracks with a recorded error at ``stage`` (of ``kind``, or of any kind but
        ``other_than``), optionally only tracks now in ``track_status``."""
        c = Conditions().add("e.stage = ?", stage)
        if kind is not None:
            c.add("e.kind = ?", kind)
        if other_than is not None:
            c.add("e.kind != ?", other_than)
        if track_status is not None:
            c.add("t.status = ?", track_status)
        sql = "SELECT DISTINCT e.track_id FROM errors e JOIN tracks t ON t.id = e.track_id"
        return {int(r[0]) for r in self._conn.execute(sql + c.where(), c.args)}
