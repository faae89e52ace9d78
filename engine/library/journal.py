"""The write-journal part of the library: every tag write's fields before and after, grouped
in batches, journaled ahead of the file swap so that undo and crash recovery are exact."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any, Iterable, Mapping

from ..errors import ParameterError, printable_path
from .conditions import Conditions
from .owners import ProcessOwner
from .paths import path_to_db
from .records import JOURNAL_COLUMNS, JournalEntry, WriteBatch, journal_from_row


class WriteJournal:
    """Write batches and journal entries. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

    def begin_write_batch(self, *, model: str | None = None,
                          params: Mapping[str, Any] | None = None) -> int:
        """A new write batch, owned by this process (see :meth:`pending_journal_entries`)."""
        cur = self._conn.execute(
            "INSERT INTO write_batches (created_at, model, params, owner) VALUES (?,?,?,?)",
            (time.time(), model, json.dumps(dict(params or {}), ensure_ascii=False, default=str),
             ProcessOwner.current().to_json()))
        return int(cur.lastrowid)

    def add_journal_entry(self, batch_id: int, path: str | bytes | os.PathLike, fields_before: Any,
                          fields_after: Any, *, track_id: int | None = None,
                          state: str = "done") -> int:
        """Journal one file's write: the fields as they were and as they became (JSON values).

        ``state="pending"`` journals a write before the file is swapped in (write-ahead); undo and
        the batch lists ignore the entry until :meth:`finish_journal_entry` marks it done.

        Parameters
        ----------
        batch_id : int
            The write batch the entry belongs to (:meth:`begin_write_batch`).
        path : str, bytes or os.PathLike
            The file written.
        fields_before : object
            The file's fields before the write (any JSON-serialisable value).
        fields_after : object
            The file's fields after the write (any JSON-serialisable value).
        track_id : int, optional
            The library track of the file, when there is one.
        state : str, default "done"
            "done" for a write that has happened, "pending" for one about to happen.

        Returns
        -------
        int
            The new entry's id.

        Raises
        ------
        ParameterError
            For a ``state`` other than "pending" or "done".
        """
        if state not in ("pending", "done"):
            raise ParameterError(f"unknown journal state {state!r}")
        pbytes = path_to_db(path)
        cur = self._conn.execute(
            "INSERT INTO write_journal (batch_id, track_id, path, path_text, fields_before,"
            " fields_after, at, state) VALUES (?,?,?,?,?,?,?,?)",
            (int(batch_id), track_id, pbytes, printable_path(pbytes),
             json.dumps(fields_before, ensure_ascii=False),
             json.dumps(fields_after, ensure_ascii=False), time.time(), state))
        return int(cur.lastrowid)

    def finish_journal_entry(self, entry_id: int, *, fields_after: Any = None) -> None:
        """Mark a pending entry done (its file now carries the write), optionally with its final
        ``fields_after``."""
        if fields_after is None:
            self._conn.execute("UPDATE write_journal SET state = 'done' WHERE id = ?", (int(entry_id),))
        else:
            self._conn.execute("UPDATE write_journal SET state = 'done', fields_after = ? WHERE id = ?",
                               (json.dumps(fields_after, ensure_ascii=False), int(entry_id)))

    def drop_journal_entry(self, entry_id: int) -> None:
        """Forget a pending entry whose file was never swapped (the write did not happen)."""
        self._conn.execute("DELETE FROM write_journal WHERE id = ? AND state = 'pending'",
                           (int(entry_id),))

    def pending_journal_entries(self) -> list[tuple[JournalEntry, ProcessOwner | None]]:
        """Entries journaled before their file was swapped and not yet marked done, each with
        the process that wrote it (None when unknown), oldest first."""
        rows = self._conn.execute(
            "SELECT j.id, j.batch_id, j.track_id, j.path, j.fields_before, j.fields_after, j.at,"
            " j.undone, j.undone_at, j.state, b.owner FROM write_journal j"
            " JOIN write_batches b ON b.id = j.batch_id WHERE j.state = 'pending' ORDER BY j.id"
        ).fetchall()
        return [(journal_from_row(r), ProcessOwner.from_json(r[10])) for r in rows]

    def recover_unfinished_writes(self):
        """Complete or roll back the journal entries of writes that were killed (see
        :func:`engine.library.writing.recover_unfinished_writes`); returns its outcome."""
        from .writing import recover_unfinished_writes

        return recover_unfinished_writes(self)

    def mark_undone(self, entry_ids: Iterable[int]) -> None:
        now = time.time()
        ids = [int(i) for i in entry_ids]
        with self.transaction():
            self._conn.executemany(
                "UPDATE write_journal SET undone = 1, undone_at = ? WHERE id = ?",
                [(now, i) for i in ids])
            # a batch whose every entry is undone is undone as a whole
            self._conn.execute(
                "UPDATE write_batches SET undone_at = ? WHERE undone_at IS NULL AND id IN"
                " (SELECT batch_id FROM write_journal GROUP BY batch_id HAVING min(undone) = 1)",
                (now,))

    def write_batches(self, *, include_undone: bool = True, limit: int | None = None) -> list[WriteBatch]:
        """Write batches, newest first."""
        sql = ("SELECT b.id, b.created_at, b.model, b.params, count(j.id),"
               " coalesce(sum(j.undone), 0), b.undone_at FROM write_batches b"
               " LEFT JOIN write_journal j ON j.batch_id = b.id AND j.state = 'done'")
        if not include_undone:
            sql += " WHERE b.undone_at IS NULL"
        sql += " GROUP BY b.id ORDER BY b.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [WriteBatch(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6])
                for r in self._conn.execute(sql)]

    def last_write_batch(self) -> WriteBatch | None:
        """The newest batch that still has entries not undone."""
        for b in self.write_batches(include_undone=False):
            if b.n_entries > b.n_undone:
                return b
        return None

    def journal_entries(self, *, batch_id: int | None = None, track_id: int | None = None,
                        path: str | bytes | os.PathLike | None = None,
                        include_undone: bool = True) -> list[JournalEntry]:
        """Journal entries of finished writes, oldest first (pending ones: see
        :meth:`pending_journal_entries`)."""
        c = Conditions("state = 'done'")
        if batch_id is not None:
            c.add("batch_id = ?", int(batch_id))
        if track_id is not None:
            c.add("track_id = ?", int(track_id))
        if path is not None:
            c.add("path = ?", path_to_db(path))
        if not include_undone:
            c.add("undone = 0")
        sql = f"SELECT {JOURNAL_COLUMNS} FROM write_journal{c.where()} ORDER BY id"
        return [journal_from_row(r) for r in self._conn.execute(sql, c.args)]

