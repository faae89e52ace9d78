"""The errors part of the library: every per-file failure with its stage and plain reason."""
from __future__ import annotations

import os
import sqlite3
import time
from typing import Iterable

from ..errors import FileError, LibraryError, ParameterError, printable_path
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
        where, args = [], []
        if track_id is not None:
            where.append("track_id = ?")
            args.append(int(track_id))
        if path is not None:
            where.append("path = ?")
            args.append(path_to_db(path))
        if under is not None:
            low, high = under_range(under)
            where.append("((path > ? AND path < ?) OR path = ?)")
            args += [low, high, path_to_db(under)]
        if trackless_only:
            where.append("track_id IS NULL")
        if stages is not None:
            stages = list(stages)
            where.append(f"stage IN ({','.join('?' * len(stages))})")
            args += stages
        if not where:
            raise ParameterError("clear_errors needs a filter")
        return self._conn.execute(f"DELETE FROM errors WHERE {' AND '.join(where)}", args).rowcount

    def errors(self, *, stage: str | None = None, track_id: int | None = None,
               path: str | bytes | os.PathLike | None = None, include_gone: bool = False,
               ) -> list[ErrorRecord]:
        """Recorded failures, oldest first (errors of tracks now gone are left out)."""
        sql = ("SELECT e.id, e.track_id, e.path, e.stage, e.kind, e.reason, e.at FROM errors e"
               " LEFT JOIN tracks t ON t.id = e.track_id")
        where, args = [], []
        if stage is not None:
            where.append("e.stage = ?")
            args.append(stage)
        if track_id is not None:
            where.append("e.track_id = ?")
            args.append(int(track_id))
        if path is not None:
            where.append("e.path = ?")
            args.append(path_to_db(path))
        if not include_gone:
            where.append("(t.status IS NULL OR t.status != 'gone')")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [ErrorRecord(r[0], r[1], path_from_db(r[2]), r[3], r[4], r[5], r[6])
                for r in self._conn.execute(sql + " ORDER BY e.at, e.id", args)]

    def track_ids_with_errors(self, stage: str, *, kind: str | None = None,
                              other_than: str | None = None,
                              track_status: str | None = None) -> set[int]:
        """Ids of tracks with a recorded error at ``stage`` (of ``kind``, or of any kind but
        ``other_than``), optionally only tracks now in ``track_status``."""
        sql = ("SELECT DISTINCT e.track_id FROM errors e JOIN tracks t ON t.id = e.track_id"
               " WHERE e.stage = ?")
        args: list = [stage]
        if kind is not None:
            sql += " AND e.kind = ?"
            args.append(kind)
        if other_than is not None:
            sql += " AND e.kind != ?"
            args.append(other_than)
        if track_status is not None:
            sql += " AND t.status = ?"
            args.append(track_status)
        return {int(r[0]) for r in self._conn.execute(sql, args)}
