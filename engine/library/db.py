"""The library database: one SQLite file holding everything Tag Atlas knows about a music folder.

Tracks (path, size, modification time, a content fingerprint for move detection, the metadata
already in the file), analyses per model (tag scores and the embedding, float32 blobs),
per-file errors with their reasons, a journal of every tag write (fields before and after) for
undo, playlists, and cached 2-D map layouts.

Paths are stored as ``BLOB`` holding ``os.fsencode(path)`` (:mod:`engine.library.paths`): the
exact bytes the file system uses, so names that are not valid UTF-8 round-trip. A second
column, ``path_text``, holds a printable form for searching and display.

The schema is versioned (``PRAGMA user_version``) and changed only by one-time migrations
(:data:`engine.library.schema.MIGRATIONS`): each runs once, in its own transaction, after the
database file has been backed up. Open one :class:`Library` per thread; SQLite's WAL mode lets a
scan in one process and the desktop app in another share the file.
"""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import LibraryError
from ..paths import default_db_path
from . import schema
from .analyses import AnalysisStore
from .claims import ScanClaims
from .errorlog import ErrorLog
from .journal import WriteJournal
from .layouts import LayoutStore
from .playlists import PlaylistStore
from .tracks import TrackStore


class Library(TrackStore, AnalysisStore, ErrorLog, WriteJournal, ScanClaims, PlaylistStore,
              LayoutStore):
    """The library database. ``Library(path)`` opens (creating and migrating as needed).

    Use as a context manager or call :meth:`close`. Writes made through the methods commit
    immediately unless they run inside ``with lib.transaction():``, which groups them (and
    nests). One thread at a time per instance.

    The methods come from one part per concern: :class:`~.tracks.TrackStore`,
    :class:`~.analyses.AnalysisStore`, :class:`~.errorlog.ErrorLog`,
    :class:`~.journal.WriteJournal`, :class:`~.claims.ScanClaims`,
    :class:`~.playlists.PlaylistStore` and :class:`~.layouts.LayoutStore`; this class holds the
    connection, transactions and the schema.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._depth = 0
        in_memory = str(self.path) == ":memory:"
        if not in_memory:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the folder for the library {self.path}: "
                                   f"{exc.strerror or exc}") from exc
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot open the library {self.path}: {exc}") from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LibraryError(f"the library {self.path} cannot use WAL mode (got {mode})")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise LibraryError(f"{self.path} is not a usable Tag Atlas library: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection (for tests and diagnostics; prefer the methods)."""
        return self._conn

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection (writes would join it)."""
        return self._conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator["Library"]:
        """Group writes into one atomic transaction; nested calls become savepoints."""
        conn = self._conn
        if self._depth == 0:
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        else:
            name = f"sp{self._depth}"
            conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            conn.execute(f"RELEASE {name}")

    @contextmanager
    def durable_commits(self) -> Iterator["Library"]:
        """Inside, every commit reaches the disk before it returns (``synchronous = FULL``):
        the write-ahead journal must survive a power cut that the swapped file survives."""
        self._conn.execute("PRAGMA synchronous = FULL")
        try:
            yield self
        finally:
            if self._conn is not None:
                self._conn.execute("PRAGMA synchronous = NORMAL")

    # -- schema ----------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN")  # a read: never waits for a scan that is writing (WAL)
        try:
            current = self.schema_version
            n_tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        finally:
            conn.execute("COMMIT")
        migrations = schema.MIGRATIONS
        latest = migrations[-1][0]
        if current > latest:
            raise LibraryError(
                f"the library {self.path} was made by a newer Tag Atlas (schema {current}, "
                f"this version knows up to {latest}); update Tag Atlas to open it"
            )
        if current == 0 and n_tables:
            raise LibraryError(f"{self.path} is an SQLite database but not a Tag Atlas library")
        pending = [m for m in migrations if m[0] > current]
        if not pending:
            return
        if current > 0:
            self.backup(self._backup_path(current))
        for version, description, migrate in pending:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version >= version:  # another process got there first
                    conn.execute("COMMIT")
                    continue
                migrate(conn)
                conn.execute(f"PRAGMA user_version = {int(version)}")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LibraryError(
                        f"updating the library {self.path} to schema {version} ({description}) "
                        f"failed: {exc}; the database was left at schema {self.schema_version}"
                    ) from exc
                raise
            conn.execute("COMMIT")

    def _backup_path(self, version: int) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = self.path.with_name(f"{self.path.name}.v{version}-{stamp}.bak")
        n, out = 1, base
        while out.exists():
            n += 1
            out = base.with_name(f"{base.name}.{n}")
        return out

    def backup(self, dest: str | os.PathLike) -> Path:
        """Copy the whole database (consistently, while open) to ``dest``."""
        dest = Path(dest)
        target = sqlite3.connect(str(dest))
        try:
            self._conn.backup(target)
        finally:
            target.close()
        return dest

    def integrity_check(self) -> list[str]:
        """``["ok"]`` when SQLite finds the file sound, plus foreign-key problems if any."""
        rows = [r[0] for r in self._conn.execute("PRAGMA integrity_check")]
        fk = self._conn.execute("PRAGMA foreign_key_check").fetchall()
        return rows + [f"foreign key: {r}" for r in fk]
