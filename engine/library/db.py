"""The library database: one SQLite file holding everything Tag Atlas knows about a music folder.

Tracks (path, size, modification time, a content fingerprint for move detection, the metadata
already in the file), analyses per model (tag scores and the embedding, float32 blobs),
per-file errors with their reasons, a journal of every tag write (fields before and after) for
undo, playlists, and cached 2-D map layouts.

Paths are stored as ``BLOB`` holding ``os.fsencode(path)``: the exact bytes the file system
uses, so names that are not valid UTF-8 round-trip (``os.fsdecode`` gives back the
surrogate-escaped ``str`` that opens the same file). A second column, ``path_text``, holds a
printable form for searching and display.

The schema is versioned (``PRAGMA user_version``) and changed only by one-time migrations
(:data:`MIGRATIONS`): each runs once, in its own transaction, after the database file has been
backed up. Open one :class:`Library` per thread; SQLite's WAL mode lets a scan in one process
and the desktop app in another share the file.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import FileError, LibraryError, printable_path  # noqa: F401  (re-exported)
from ..paths import default_db_path

# --- paths -----------------------------------------------------------------------------------


def normalize_path(path: str | bytes | os.PathLike) -> str:
    """The absolute, normalised ``str`` form of ``path`` (symlinks are not resolved)."""
    return os.path.abspath(os.fsdecode(path))


def path_to_db(path: str | bytes | os.PathLike) -> bytes:
    """What the ``path`` column stores: the file system's own bytes for the absolute path."""
    return os.fsencode(normalize_path(path))


def path_from_db(value: bytes) -> str:
    """Inverse of :func:`path_to_db`: a ``str`` that opens the same file."""
    return os.fsdecode(bytes(value))


def _under_range(root: str | bytes | os.PathLike) -> tuple[bytes, bytes]:
    """``(low, high)`` such that ``low < path < high`` selects every path inside ``root``."""
    r = path_to_db(root)
    sep = os.fsencode(os.sep)
    if not r.endswith(sep):
        r += sep
    return r, r[:-1] + bytes([sep[0] + 1])


# --- schema and migrations ---------------------------------------------------------------------

TRACK_STATUSES = ("new", "analysed", "written", "error", "gone")
ERROR_STAGES = ("scan", "decode", "analyse", "write")

_SCHEMA_V1 = """
CREATE TABLE tracks (
    id           INTEGER PRIMARY KEY,
    path         BLOB NOT NULL UNIQUE,          -- os.fsencode(absolute path)
    path_text    TEXT NOT NULL,                 -- printable form, for search and display
    size         INTEGER NOT NULL,              -- bytes
    mtime_ns     INTEGER NOT NULL,
    fingerprint  BLOB,                          -- blake2b of size + first/last 64 KiB
    duration_s   REAL,
    format       TEXT,
    title        TEXT,
    artist       TEXT,
    album        TEXT,
    albumartist  TEXT,
    genre        TEXT NOT NULL DEFAULT '[]',    -- JSON list of strings
    mood         TEXT NOT NULL DEFAULT '[]',    -- JSON list of strings
    extra        TEXT NOT NULL DEFAULT '{}',    -- JSON object: other fields read from the file
    status       TEXT NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'analysed', 'written', 'error', 'gone')),
    added_at     REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX tracks_by_content ON tracks (size, fingerprint);
CREATE INDEX tracks_by_status ON tracks (status);

CREATE TABLE models (
    name          TEXT PRIMARY KEY,
    tags          TEXT NOT NULL,                -- JSON [{name, category, display}], output order
    thresholds    TEXT,                         -- JSON list or null
    embedding_dim INTEGER,
    info          TEXT NOT NULL DEFAULT '{}',   -- the bundle JSON
    registered_at REAL NOT NULL
);

CREATE TABLE analyses (
    id          INTEGER PRIMARY KEY,
    track_id    INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    scores      BLOB NOT NULL,                  -- float32[n_tags] probabilities
    embedding   BLOB,                           -- float32[embedding_dim]
    n_patches   INTEGER,
    duration_s  REAL,
    analysed_at REAL NOT NULL,
    warnings    TEXT NOT NULL DEFAULT '[]',
    UNIQUE (track_id, model)
);
CREATE INDEX analyses_by_model ON analyses (model, track_id);

CREATE TABLE errors (
    id        INTEGER PRIMARY KEY,
    track_id  INTEGER REFERENCES tracks (id) ON DELETE CASCADE,
    path      BLOB NOT NULL,
    path_text TEXT NOT NULL,
    stage     TEXT NOT NULL CHECK (stage IN ('scan', 'decode', 'analyse', 'write')),
    kind      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    at        REAL NOT NULL
);
CREATE INDEX errors_by_track ON errors (track_id);
CREATE INDEX errors_by_path ON errors (path);

CREATE TABLE write_batches (
    id         INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    model      TEXT,
    params     TEXT NOT NULL DEFAULT '{}',
    undone_at  REAL
);

CREATE TABLE write_journal (
    id            INTEGER PRIMARY KEY,
    batch_id      INTEGER NOT NULL REFERENCES write_batches (id) ON DELETE CASCADE,
    track_id      INTEGER REFERENCES tracks (id) ON DELETE SET NULL,
    path          BLOB NOT NULL,
    path_text     TEXT NOT NULL,
    fields_before TEXT NOT NULL,                -- JSON
    fields_after  TEXT NOT NULL,                -- JSON
    at            REAL NOT NULL,
    undone        INTEGER NOT NULL DEFAULT 0,
    undone_at     REAL
);
CREATE INDEX journal_by_batch ON write_journal (batch_id);
CREATE INDEX journal_by_path ON write_journal (path);

CREATE TABLE playlists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at REAL NOT NULL,
    model      TEXT,
    params     TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE playlist_items (
    playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track_id    INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    PRIMARY KEY (playlist_id, position)
) WITHOUT ROWID;

CREATE TABLE layouts (
    id             INTEGER PRIMARY KEY,
    model          TEXT NOT NULL,
    embedding_kind TEXT NOT NULL,
    params         TEXT NOT NULL DEFAULT '{}',
    created_at     REAL NOT NULL,
    is_current     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE layout_points (
    layout_id INTEGER NOT NULL REFERENCES layouts (id) ON DELETE CASCADE,
    track_id  INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    x         REAL NOT NULL,
    y         REAL NOT NULL,
    PRIMARY KEY (layout_id, track_id)
) WITHOUT ROWID;
"""


def _split_sql(script: str) -> list[str]:
    """Statements of a DDL script (no semicolons inside literals in our scripts)."""
    lines = [ln.split("--", 1)[0] for ln in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _run_sql(script: str) -> Callable[[sqlite3.Connection], None]:
    def migrate(conn: sqlite3.Connection) -> None:
        for statement in _split_sql(script):
            conn.execute(statement)

    return migrate


_SCHEMA_V2 = """
ALTER TABLE write_journal ADD COLUMN state TEXT NOT NULL DEFAULT 'done'
    CHECK (state IN ('pending', 'done'));   -- pending: committed before the file was swapped
ALTER TABLE write_batches ADD COLUMN owner TEXT;     -- JSON ProcessOwner of the writing process
CREATE INDEX journal_pending ON write_journal (state) WHERE state = 'pending';
CREATE TABLE scan_claims (                           -- tracks a running scan is analysing
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    owner    TEXT NOT NULL,                          -- JSON ProcessOwner of the scan
    at       REAL NOT NULL
);
"""

_SCHEMA_V3 = """
CREATE TABLE rhythm (                                -- tempo, beats and key of a track
    track_id       INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    bpm            REAL,                             -- null: no steady beat found
    bpm_confidence REAL NOT NULL DEFAULT 0,
    alternatives   TEXT NOT NULL DEFAULT '[]',       -- JSON list of the other octaves (BPM)
    variable       INTEGER NOT NULL DEFAULT 0,       -- 1: the tempo drifts
    meter          INTEGER NOT NULL DEFAULT 0,       -- beats per bar, 0 unknown
    key_tonic      INTEGER,                          -- 0 = C .. 11 = B; null: no key heard
    key_mode       TEXT CHECK (key_mode IN ('major', 'minor')),
    key_confidence REAL NOT NULL DEFAULT 0,
    beats          BLOB,                             -- float32 seconds
    downbeats      BLOB,                             -- float32 seconds
    start_s        REAL,                             -- the part of the track analysed
    end_s          REAL,
    model          TEXT NOT NULL,
    analysed_at    REAL NOT NULL
);
"""

#: ``(version, description, migrate(conn))``, in order. A migration runs once, inside a
#: transaction that also sets ``PRAGMA user_version`` to its version. Append; never edit one
#: that has shipped.
MIGRATIONS: list[tuple[int, str, Callable[[sqlite3.Connection], None]]] = [
    (1, "initial schema", _run_sql(_SCHEMA_V1)),
    (2, "write-ahead journal: entry state, batch owner; scan claims", _run_sql(_SCHEMA_V2)),
    (3, "tempo, beats and key per track", _run_sql(_SCHEMA_V3)),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


# --- processes -----------------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux: clock ticks since boot, from /proc); "" when
    this system does not say, None when there is no such (living) process."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        return ""
    if fields and fields[0] in (b"Z", b"X"):   # a zombie is dead, only not reaped yet
        return None
    return fields[19].decode() if len(fields) > 19 else ""


@dataclass(frozen=True)
class ProcessOwner:
    """Which process owns a write batch or a scan claim: host, pid and the process's start time
    (so a recycled pid is not taken for the owner)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> "ProcessOwner":
        ticks = _start_ticks(os.getpid()) or ""
        return cls(socket.gethostname(), os.getpid(), f"{_boot_id()}:{ticks}" if ticks else "")

    def to_json(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "started": self.started})

    @classmethod
    def from_json(cls, text: str | None) -> "ProcessOwner | None":
        try:
            d = json.loads(text) if text else None
            return cls(str(d["host"]), int(d["pid"]), str(d.get("started", ""))) if d else None
        except (ValueError, TypeError, KeyError):
            return None

    def is_alive(self) -> bool | None:
        """True / False for a process on this host; None when it runs on another host."""
        if self.host != socket.gethostname():
            return None
        ticks = _start_ticks(self.pid)
        if ticks is None:
            return False
        if ticks and self.started:
            return self.started == f"{_boot_id()}:{ticks}"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


# --- records -----------------------------------------------------------------------------------

_TRACK_COLUMNS = (
    "id, path, size, mtime_ns, fingerprint, duration_s, format, title, artist, album, "
    "albumartist, genre, mood, extra, status, added_at, updated_at"
)
_METADATA_FIELDS = ("title", "artist", "album", "albumartist", "genre", "mood")


@dataclass
class Track:
    """One file the library knows (``path`` is a ``str`` that opens it, see :func:`path_from_db`)."""

    id: int
    path: str
    size: int
    mtime_ns: int
    fingerprint: bytes | None
    duration_s: float | None
    format: str | None
    title: str | None
    artist: str | None
    album: str | None
    albumartist: str | None
    genre: list[str]
    mood: list[str]
    extra: dict[str, Any]
    status: str
    added_at: float
    updated_at: float

    @property
    def display_path(self) -> str:
        return printable_path(self.path)

    @classmethod
    def _from_row(cls, row: Sequence) -> "Track":
        return cls(
            id=row[0], path=path_from_db(row[1]), size=row[2], mtime_ns=row[3],
            fingerprint=row[4], duration_s=row[5], format=row[6], title=row[7], artist=row[8],
            album=row[9], albumartist=row[10], genre=json.loads(row[11]), mood=json.loads(row[12]),
            extra=json.loads(row[13]), status=row[14], added_at=row[15], updated_at=row[16],
        )


class TrackRow(NamedTuple):
    """The light row :meth:`Library.query_tracks` returns (fast for tens of thousands)."""

    id: int
    path: str
    title: str | None
    artist: str | None
    album: str | None
    genre: tuple[str, ...]
    mood: tuple[str, ...]
    status: str
    duration_s: float | None
    format: str | None
    albumartist: str | None = None     # "Various Artists" on a compilation

    @property
    def display_path(self) -> str:
        return printable_path(self.path)


@dataclass
class AnalysisRecord:
    track_id: int
    model: str
    scores: np.ndarray                 # float32 [n_tags]
    embedding: np.ndarray | None       # float32 [embedding_dim]
    n_patches: int | None
    duration_s: float | None
    analysed_at: float
    warnings: list[str]


@dataclass
class RhythmRecord:
    """Tempo, beats and key of one track (see :mod:`engine.rhythm` and :mod:`engine.key`)."""

    track_id: int
    bpm: float | None
    bpm_confidence: float = 0.0
    alternatives: list[float] = field(default_factory=list)
    variable: bool = False
    meter: int = 0
    key_tonic: int | None = None
    key_mode: str | None = None
    key_confidence: float = 0.0
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    start_s: float | None = None
    end_s: float | None = None
    model: str = ""
    analysed_at: float = 0.0

    @property
    def key(self) -> tuple[int, str] | None:
        return None if self.key_tonic is None else (int(self.key_tonic), str(self.key_mode))


@dataclass
class ErrorRecord:
    id: int
    track_id: int | None
    path: str
    stage: str                         # scan | decode | analyse | write
    kind: str                          # e.g. "CorruptAudioError"
    reason: str                        # a plain sentence
    at: float

    @property
    def display_path(self) -> str:
        return printable_path(self.path)


@dataclass
class WriteBatch:
    id: int
    created_at: float
    model: str | None
    params: dict[str, Any]
    n_entries: int
    n_undone: int
    undone_at: float | None


@dataclass
class JournalEntry:
    id: int
    batch_id: int
    track_id: int | None
    path: str
    fields_before: Any                 # JSON value (the writer's "before")
    fields_after: Any
    at: float
    undone: bool
    undone_at: float | None
    state: str = "done"                # pending: journaled before the file was swapped in

    @property
    def display_path(self) -> str:
        return printable_path(self.path)


@dataclass
class Playlist:
    id: int
    name: str
    created_at: float
    model: str | None
    params: dict[str, Any]
    track_ids: list[int] = field(default_factory=list)


@dataclass
class Layout:
    id: int
    model: str
    embedding_kind: str
    params: dict[str, Any]
    created_at: float
    is_current: bool
    track_ids: np.ndarray              # int64 [n]
    xy: np.ndarray                     # float32 [n, 2]


# --- queries -------------------------------------------------------------------------------------

_QUERY_FIELDS = {
    "title": "title", "artist": "artist", "album": "album", "albumartist": "albumartist",
    "path": "path_text", "format": "format",
}


def parse_query(query: str | None) -> dict[str, list[str]]:
    """Split a search string into filters.

    ``artist:beatles "love me" status:analysed genre:rock`` gives
    ``{"artist": ["beatles"], "text": ["love me"], "status": ["analysed"], "genre": ["rock"]}``.
    Known fields: title, artist, album, albumartist, path, format, genre, mood, tag (genre or
    mood), status, id, bpm (``bpm:120`` or a range ``bpm:118-124``, the analysed tempo) and key
    (``key:Am``, ``key:8A``, the analysed key). Other words (and unknown ``x:y``) are free text matched against title,
    artist, album, album artist and path.
    """
    out: dict[str, list[str]] = {}
    if not query:
        return out
    try:
        tokens = shlex.split(query)
    except ValueError:  # an unbalanced quote: take the words as they are
        tokens = query.split()
    known = set(_QUERY_FIELDS) | {"genre", "mood", "tag", "status", "id", "bpm", "key"}
    for tok in tokens:
        key, sep, value = tok.partition(":")
        if sep and key.lower() in known and value:
            out.setdefault(key.lower(), []).append(value)
        else:
            out.setdefault("text", []).append(tok)
    return out


def parse_bpm_filter(value: str) -> tuple[float, float]:
    """``"120"`` → ``(119.5, 120.5)`` (the tempo rounds to 120); ``"118-124"`` → ``(118, 124.5)``.
    Raises :class:`LibraryError` with the expected form."""
    text = value.strip().replace("–", "-")
    try:
        if "-" in text.strip("-"):
            lo, hi = (float(x) for x in text.split("-", 1))
            if lo > hi:
                lo, hi = hi, lo
            return lo, hi + 0.5
        v = float(text)
        return v - 0.5, v + 0.5
    except ValueError:
        raise LibraryError(f"bpm: needs a tempo such as 120 or a range such as 118-124, "
                           f"got {value!r}") from None


def parse_key_filter(value: str) -> tuple[int, str]:
    """A key in any notation Tag Atlas reads (``Am``, ``F# minor``, ``8A``, ``1m``), or
    :class:`LibraryError`."""
    from ..key import parse_key

    key = parse_key(value)
    if key is None:
        raise LibraryError(f"key: {value!r} is not a key (write it as Am, F#, Bbm, 8A or 1m)")
    return key


def _like(value: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", value) + "%"


def _json_list(value: Any) -> str:
    if value is None:
        return "[]"
    if isinstance(value, str):
        value = [value] if value else []
    return json.dumps([str(v) for v in value], ensure_ascii=False)


def _f32(a: np.ndarray | Sequence[float] | None) -> bytes | None:
    if a is None:
        return None
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32).ravel()).tobytes()


# --- the library -----------------------------------------------------------------------------


class Library:
    """The library database. ``Library(path)`` opens (creating and migrating as needed).

    Use as a context manager or call :meth:`close`. Writes made through the methods commit
    immediately unless they run inside ``with lib.transaction():``, which groups them (and
    nests). One thread at a time per instance.
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
        latest = MIGRATIONS[-1][0]
        if current > latest:
            raise LibraryError(
                f"the library {self.path} was made by a newer Tag Atlas (schema {current}, "
                f"this version knows up to {latest}); update Tag Atlas to open it"
            )
        if current == 0 and n_tables:
            raise LibraryError(f"{self.path} is an SQLite database but not a Tag Atlas library")
        pending = [m for m in MIGRATIONS if m[0] > current]
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

    # -- tracks -------------------------------------------------------------------------------------
    def add_track(self, path: str | bytes | os.PathLike, *, size: int, mtime_ns: int,
                  fingerprint: bytes | None = None, duration_s: float | None = None,
                  format: str | None = None, metadata: Mapping[str, Any] | None = None,
                  status: str = "new") -> int:
        """Insert a track, or refresh the row already at ``path``; returns its id.

        ``metadata`` holds title/artist/album/albumartist (str) and genre/mood (list of str);
        any other keys are kept in ``extra``. An existing row keeps its id (and so its
        analyses, playlists and journal) — callers delete stale analyses themselves.
        """
        if status not in TRACK_STATUSES:
            raise ValueError(f"unknown track status {status!r}")
        now = time.time()
        md = dict(metadata or {})
        extra = {k: v for k, v in md.items() if k not in _METADATA_FIELDS}
        values = (
            path_to_db(path), printable_path(normalize_path(path)), int(size), int(mtime_ns),
            fingerprint, duration_s, format, md.get("title"), md.get("artist"), md.get("album"),
            md.get("albumartist"), _json_list(md.get("genre")), _json_list(md.get("mood")),
            json.dumps(extra, ensure_ascii=False, default=str), status, now, now,
        )
        row = self._conn.execute(
            "INSERT INTO tracks (path, path_text, size, mtime_ns, fingerprint, duration_s, format,"
            " title, artist, album, albumartist, genre, mood, extra, status, added_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
            " fingerprint=excluded.fingerprint, duration_s=excluded.duration_s,"
            " format=excluded.format, title=excluded.title, artist=excluded.artist,"
            " album=excluded.album, albumartist=excluded.albumartist, genre=excluded.genre,"
            " mood=excluded.mood, extra=excluded.extra, status=excluded.status,"
            " updated_at=excluded.updated_at"
            " RETURNING id",
            values,
        ).fetchone()
        return int(row[0])

    upsert_track = add_track

    def update_track(self, track_id: int, **fields: Any) -> None:
        """Change some columns of one track: path, size, mtime_ns, fingerprint, duration_s,
        format, status, and metadata fields (title … mood, extra)."""
        sets, values = [], []
        for key, value in fields.items():
            if key == "path":
                sets += ["path = ?", "path_text = ?"]
                values += [path_to_db(value), printable_path(normalize_path(value))]
            elif key in ("genre", "mood"):
                sets.append(f"{key} = ?")
                values.append(_json_list(value))
            elif key == "extra":
                sets.append("extra = ?")
                values.append(json.dumps(value or {}, ensure_ascii=False, default=str))
            elif key == "status":
                if value not in TRACK_STATUSES:
                    raise ValueError(f"unknown track status {value!r}")
                sets.append("status = ?")
                values.append(value)
            elif key in ("size", "mtime_ns", "fingerprint", "duration_s", "format", "title",
                         "artist", "album", "albumartist"):
                sets.append(f"{key} = ?")
                values.append(value)
            else:
                raise ValueError(f"unknown track field {key!r}")
        if not sets:
            return
        sets.append("updated_at = ?")
        values += [time.time(), int(track_id)]
        self._conn.execute(f"UPDATE tracks SET {', '.join(sets)} WHERE id = ?", values)

    def set_metadata(self, track_id: int, metadata: Mapping[str, Any]) -> None:
        """Replace the stored file metadata of a track (after a write or a re-read)."""
        md = dict(metadata)
        self.update_track(
            track_id, title=md.get("title"), artist=md.get("artist"), album=md.get("album"),
            albumartist=md.get("albumartist"), genre=md.get("genre"), mood=md.get("mood"),
            extra={k: v for k, v in md.items() if k not in _METADATA_FIELDS},
        )

    def set_status(self, track_ids: Iterable[int], status: str) -> None:
        if status not in TRACK_STATUSES:
            raise ValueError(f"unknown track status {status!r}")
        now = time.time()
        with self.transaction():
            self._conn.executemany(
                "UPDATE tracks SET status = ?, updated_at = ? WHERE id = ?",
                [(status, now, int(i)) for i in track_ids],
            )

    def settled_status(self, track_id: int) -> str:
        """The status a track's history implies: written (a write not undone), else analysed
        (has an analysis), else new. Used when a gone track comes back or a write is undone."""
        c = self._conn
        if c.execute("SELECT 1 FROM write_journal WHERE track_id = ? AND undone = 0"
                     " AND state = 'done' LIMIT 1",
                     (int(track_id),)).fetchone():
            return "written"
        if c.execute("SELECT 1 FROM analyses WHERE track_id = ? LIMIT 1", (int(track_id),)).fetchone():
            return "analysed"
        return "new"

    def get_track(self, track_id: int) -> Track | None:
        row = self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id = ?", (int(track_id),)
        ).fetchone()
        return Track._from_row(row) if row else None

    def get_track_by_path(self, path: str | bytes | os.PathLike) -> Track | None:
        row = self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE path = ?", (path_to_db(path),)
        ).fetchone()
        return Track._from_row(row) if row else None

    def get_tracks(self, track_ids: Iterable[int]) -> list[Track]:
        """Full rows for ``track_ids``, in that order (unknown ids are left out)."""
        ids = [int(i) for i in track_ids]
        found: dict[int, Track] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = Track._from_row(row)
        return [found[i] for i in ids if i in found]

    def count_tracks(self, status: str | None = None) -> int:
        if status is None:
            return self._conn.execute(
                "SELECT count(*) FROM tracks WHERE status != 'gone'").fetchone()[0]
        return self._conn.execute(
            "SELECT count(*) FROM tracks WHERE status = ?", (status,)).fetchone()[0]

    def status_counts(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT status, count(*) FROM tracks GROUP BY status"))

    def track_states_under(self, root: str | bytes | os.PathLike
                           ) -> dict[bytes, tuple[int, int, int, str, bytes | None]]:
        """``{path bytes: (id, size, mtime_ns, status, fingerprint)}`` for every track inside
        ``root`` (gone ones included). The scanner's view of what it already knows."""
        low, high = _under_range(root)
        exact = path_to_db(root)
        return {
            bytes(r[0]): (r[1], r[2], r[3], r[4], r[5])
            for r in self._conn.execute(
                "SELECT path, id, size, mtime_ns, status, fingerprint FROM tracks"
                " WHERE (path > ? AND path < ?) OR path = ?", (low, high, exact))
        }

    def tracks_with_content(self, size: int, fingerprint: bytes) -> list[Track]:
        """Tracks whose size and content fingerprint match (move detection)."""
        return [Track._from_row(r) for r in self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE size = ? AND fingerprint = ?",
            (int(size), fingerprint))]

    def query_tracks(self, query: str | None = None, *, text: str | None = None,
                     status: str | Iterable[str] | None = None, has_tag: str | None = None,
                     analysed_with: str | None = None, not_analysed_with: str | None = None,
                     under: str | os.PathLike | None = None, include_gone: bool = False,
                     order_by: str = "path", limit: int | None = None, offset: int = 0,
                     ) -> list[TrackRow]:
        """Tracks matching every filter given, as light rows.

        ``query``: a search string, see :func:`parse_query`. ``text``: words that must each
        appear in title, artist, album, album artist or path. ``status``: one or several
        statuses (gone tracks are left out unless asked for by status or ``include_gone``).
        ``has_tag``: the file already carries this genre or mood (case-insensitive).
        ``analysed_with`` / ``not_analysed_with``: a model name. ``under``: a folder.
        ``order_by``: "path", "title", "artist", "album", "added" or "id".
        """
        where: list[str] = []
        args: list[Any] = []
        q = parse_query(query)
        words = list(q.get("text", []))
        if text:
            words += text.split()
        for w in words:
            where.append("(title LIKE ? ESCAPE '\\' OR artist LIKE ? ESCAPE '\\' OR album LIKE ?"
                         " ESCAPE '\\' OR albumartist LIKE ? ESCAPE '\\'"
                         " OR path_text LIKE ? ESCAPE '\\')")
            args += [_like(w)] * 5
        for key, column in _QUERY_FIELDS.items():
            for v in q.get(key, []):
                where.append(f"{column} LIKE ? ESCAPE '\\'")
                args.append(_like(v))
        for key in ("genre", "mood"):
            for v in q.get(key, []):
                where.append(f"EXISTS (SELECT 1 FROM json_each(tracks.{key}) j"
                             " WHERE lower(j.value) = lower(?))")
                args.append(v)
        tags = list(q.get("tag", [])) + ([has_tag] if has_tag else [])
        for v in tags:
            where.append("(EXISTS (SELECT 1 FROM json_each(tracks.genre) j WHERE lower(j.value) = lower(?))"
                         " OR EXISTS (SELECT 1 FROM json_each(tracks.mood) j WHERE lower(j.value) = lower(?)))")
            args += [v, v]
        statuses = list(q.get("status", []))
        if status is not None:
            statuses += [status] if isinstance(status, str) else list(status)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        elif not include_gone:
            where.append("status != 'gone'")
        for v in q.get("bpm", []):
            low, high = parse_bpm_filter(v)
            where.append("EXISTS (SELECT 1 FROM rhythm r WHERE r.track_id = tracks.id"
                         " AND r.bpm >= ? AND r.bpm < ?)")
            args += [low, high]
        for v in q.get("key", []):
            tonic, mode = parse_key_filter(v)
            where.append("EXISTS (SELECT 1 FROM rhythm r WHERE r.track_id = tracks.id"
                         " AND r.key_tonic = ? AND r.key_mode = ?)")
            args += [tonic, mode]
        ids = q.get("id", [])
        if ids:
            try:
                where.append(f"id IN ({','.join('?' * len(ids))})")
                args += [int(i) for i in ids]
            except ValueError:
                raise LibraryError(f"id: needs a number, got {ids!r}") from None
        if analysed_with:
            where.append("EXISTS (SELECT 1 FROM analyses a WHERE a.track_id = tracks.id AND a.model = ?)")
            args.append(analysed_with)
        if not_analysed_with:
            where.append("NOT EXISTS (SELECT 1 FROM analyses a WHERE a.track_id = tracks.id AND a.model = ?)")
            args.append(not_analysed_with)
        if under is not None:
            low, high = _under_range(under)
            where.append("path > ? AND path < ?")
            args += [low, high]
        orders = {"path": "path", "title": "title COLLATE NOCASE, path",
                  "artist": "artist COLLATE NOCASE, album COLLATE NOCASE, path",
                  "album": "album COLLATE NOCASE, path", "added": "added_at, id", "id": "id"}
        if order_by not in orders:
            raise ValueError(f"cannot order by {order_by!r}; use one of {sorted(orders)}")
        sql = ("SELECT id, path, title, artist, album, genre, mood, status, duration_s, format,"
               " albumartist FROM tracks")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {orders[order_by]}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        fsdecode = os.fsdecode
        lists: dict[str, tuple[str, ...]] = {"[]": ()}  # genre/mood values repeat a lot

        def as_tuple(s: str) -> tuple[str, ...]:
            t = lists.get(s)
            if t is None:
                t = lists[s] = tuple(json.loads(s))
            return t

        return [
            TrackRow(r[0], fsdecode(r[1]), r[2], r[3], r[4], as_tuple(r[5]), as_tuple(r[6]),
                     r[7], r[8], r[9], r[10])
            for r in self._conn.execute(sql, args)
        ]

    def purge_gone(self) -> int:
        """Delete tracks marked gone (their analyses, playlist entries and map points go too;
        journal entries keep the path). Returns how many were deleted."""
        with self.transaction():
            return self._conn.execute("DELETE FROM tracks WHERE status = 'gone'").rowcount

    # -- models and analyses ------------------------------------------------------------------
    def register_model(self, info) -> None:
        """Remember a model's tag list (a :class:`engine.bundle.BundleInfo`), so stored scores
        can be named even when the bundle is not installed."""
        tags = [{"name": t.name, "category": t.category, "display": t.display} for t in info.tags]
        self._conn.execute(
            "INSERT INTO models (name, tags, thresholds, embedding_dim, info, registered_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET tags=excluded.tags,"
            " thresholds=excluded.thresholds, embedding_dim=excluded.embedding_dim,"
            " info=excluded.info, registered_at=excluded.registered_at",
            (info.name, json.dumps(tags, ensure_ascii=False), json.dumps(info.thresholds),
             info.embedding_dim, json.dumps(info.to_json(), ensure_ascii=False, default=str),
             time.time()),
        )

    def model_tags(self, model: str):
        """The :class:`engine.vocab.TagInfo` list of a registered model, in output order."""
        from ..vocab import tag_infos_from_json

        row = self._conn.execute("SELECT tags FROM models WHERE name = ?", (model,)).fetchone()
        if row is None:
            raise LibraryError(f"the library has no record of model {model!r}")
        return tag_infos_from_json(json.loads(row[0]))

    def model_thresholds(self, model: str) -> np.ndarray | None:
        row = self._conn.execute("SELECT thresholds FROM models WHERE name = ?", (model,)).fetchone()
        if row is None or row[0] is None or json.loads(row[0]) is None:
            return None
        return np.asarray(json.loads(row[0]), dtype=np.float32)

    def model_info(self, model: str) -> dict[str, Any] | None:
        """The stored bundle JSON of a model, or None."""
        row = self._conn.execute("SELECT info FROM models WHERE name = ?", (model,)).fetchone()
        return json.loads(row[0]) if row else None

    def analysed_models(self) -> dict[str, int]:
        """``{model: number of analysed (not gone) tracks}``."""
        return dict(self._conn.execute(
            "SELECT a.model, count(*) FROM analyses a JOIN tracks t ON t.id = a.track_id"
            " WHERE t.status != 'gone' GROUP BY a.model ORDER BY a.model"))

    def store_analysis(self, track_id: int, model: str, scores, embedding=None, *,
                       n_patches: int | None = None, duration_s: float | None = None,
                       warnings: Iterable[str] = (), analysed_at: float | None = None,
                       mark_analysed: bool = True) -> None:
        """Save (or replace) the analysis of one track by ``model``. A track in status new or
        error becomes analysed (a written track stays written)."""
        self._conn.execute(
            "INSERT INTO analyses (track_id, model, scores, embedding, n_patches, duration_s,"
            " analysed_at, warnings) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (track_id, model) DO UPDATE SET scores=excluded.scores,"
            " embedding=excluded.embedding, n_patches=excluded.n_patches,"
            " duration_s=excluded.duration_s, analysed_at=excluded.analysed_at,"
            " warnings=excluded.warnings",
            (int(track_id), model, _f32(scores), _f32(embedding), n_patches, duration_s,
             analysed_at if analysed_at is not None else time.time(),
             json.dumps(list(warnings), ensure_ascii=False)),
        )
        if mark_analysed:
            self._conn.execute(
                "UPDATE tracks SET status = 'analysed', updated_at = ?,"
                " duration_s = coalesce(duration_s, ?)"
                " WHERE id = ? AND status IN ('new', 'error')",
                (time.time(), duration_s, int(track_id)))

    def get_analysis(self, track_id: int, model: str | None = None) -> AnalysisRecord | None:
        """The analysis of a track by ``model`` (or the most recent by any model)."""
        sql = ("SELECT track_id, model, scores, embedding, n_patches, duration_s, analysed_at,"
               " warnings FROM analyses WHERE track_id = ?")
        args: list[Any] = [int(track_id)]
        if model is not None:
            sql += " AND model = ?"
            args.append(model)
        row = self._conn.execute(sql + " ORDER BY analysed_at DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return AnalysisRecord(
            track_id=row[0], model=row[1], scores=np.frombuffer(row[2], dtype=np.float32).copy(),
            embedding=None if row[3] is None else np.frombuffer(row[3], dtype=np.float32).copy(),
            n_patches=row[4], duration_s=row[5], analysed_at=row[6], warnings=json.loads(row[7]),
        )

    def analyses_of(self, track_id: int) -> list[AnalysisRecord]:
        models = [r[0] for r in self._conn.execute(
            "SELECT model FROM analyses WHERE track_id = ? ORDER BY model", (int(track_id),))]
        return [a for m in models if (a := self.get_analysis(track_id, m)) is not None]

    # --- tempo, beats and key --------------------------------------------------------------
    _RHYTHM_COLUMNS = ("track_id, bpm, bpm_confidence, alternatives, variable, meter, key_tonic,"
                       " key_mode, key_confidence, beats, downbeats, start_s, end_s, model,"
                       " analysed_at")

    def store_rhythm(self, record: RhythmRecord) -> None:
        """Save (or replace) the tempo/beats/key analysis of a track."""
        self._conn.execute(
            f"INSERT OR REPLACE INTO rhythm ({self._RHYTHM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (int(record.track_id), record.bpm, float(record.bpm_confidence),
             json.dumps([round(float(a), 3) for a in record.alternatives]), int(bool(record.variable)),
             int(record.meter), record.key_tonic, record.key_mode, float(record.key_confidence),
             _f32(record.beats), _f32(record.downbeats), record.start_s, record.end_s,
             record.model, record.analysed_at or time.time()))

    @staticmethod
    def _rhythm_record(row) -> RhythmRecord:
        def arr(blob):
            return np.zeros(0, np.float32) if blob is None else np.frombuffer(blob, np.float32).copy()

        return RhythmRecord(int(row[0]), row[1], float(row[2]), json.loads(row[3]), bool(row[4]),
                            int(row[5]), row[6], row[7], float(row[8]), arr(row[9]), arr(row[10]),
                            row[11], row[12], row[13], float(row[14]))

    def get_rhythm(self, track_id: int) -> RhythmRecord | None:
        row = self._conn.execute(f"SELECT {self._RHYTHM_COLUMNS} FROM rhythm WHERE track_id = ?",
                                 (int(track_id),)).fetchone()
        return None if row is None else self._rhythm_record(row)

    def rhythm_summary(self) -> dict[int, tuple[float | None, float, int | None, str | None, float]]:
        """``{track_id: (bpm, bpm_confidence, key_tonic, key_mode, key_confidence)}`` of every
        analysed track (one query, no beat arrays: for tables)."""
        return {int(r[0]): (r[1], float(r[2]), r[3], r[4], float(r[5])) for r in self._conn.execute(
            "SELECT track_id, bpm, bpm_confidence, key_tonic, key_mode, key_confidence FROM rhythm")}

    def tracks_without_rhythm(self, track_ids: Iterable[int]) -> list[int]:
        """Those of ``track_ids`` that have no tempo/key analysis yet, ascending."""
        have = {int(r[0]) for r in self._conn.execute("SELECT track_id FROM rhythm")}
        return sorted({int(t) for t in track_ids} - have)

    def delete_analyses(self, track_id: int, model: str | None = None) -> None:
        if model is None:
            self._conn.execute("DELETE FROM analyses WHERE track_id = ?", (int(track_id),))
            self._conn.execute("DELETE FROM rhythm WHERE track_id = ?", (int(track_id),))
        else:
            self._conn.execute("DELETE FROM analyses WHERE track_id = ? AND model = ?",
                               (int(track_id), model))

    def embeddings(self, model: str, kind: str = "penultimate", *,
                   track_ids: Iterable[int] | None = None, include_gone: bool = False,
                   ) -> tuple[np.ndarray, np.ndarray]:
        """All stored vectors of ``model``: ``(track_ids int64 [n], matrix float32 [n, d])``,
        ordered by track id. ``kind``: "penultimate" (the model's embedding) or "scores" (the
        tag-probability vector). Tracks without that vector are left out."""
        if kind in ("penultimate", "embedding"):
            column = "embedding"
        elif kind == "scores":
            column = "scores"
        else:
            raise ValueError(f"unknown embedding kind {kind!r}; use 'penultimate' or 'scores'")
        sql = (f"SELECT a.track_id, a.{column} FROM analyses a JOIN tracks t ON t.id = a.track_id"
               f" WHERE a.model = ? AND a.{column} IS NOT NULL")
        if not include_gone:
            sql += " AND t.status != 'gone'"
        rows = self._conn.execute(sql + " ORDER BY a.track_id", (model,)).fetchall()
        if track_ids is not None:
            wanted = {int(i) for i in track_ids}
            rows = [r for r in rows if r[0] in wanted]
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        lengths = {len(r[1]) for r in rows}
        if len(lengths) != 1:
            raise LibraryError(f"stored {column} vectors of model {model!r} differ in length")
        d = lengths.pop() // 4
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), d)
        return ids, matrix.copy()

    # -- errors -------------------------------------------------------------------------------------
    def add_error(self, stage: str, kind: str, reason: str, *, track_id: int | None = None,
                  path: str | bytes | os.PathLike | None = None) -> int:
        """Record that ``path`` (or track ``track_id``) failed at ``stage``."""
        if stage not in ERROR_STAGES:
            raise ValueError(f"unknown error stage {stage!r}")
        if path is None:
            if track_id is None:
                raise ValueError("an error needs a track or a path")
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
            low, high = _under_range(under)
            where.append("((path > ? AND path < ?) OR path = ?)")
            args += [low, high, path_to_db(under)]
        if trackless_only:
            where.append("track_id IS NULL")
        if stages is not None:
            stages = list(stages)
            where.append(f"stage IN ({','.join('?' * len(stages))})")
            args += stages
        if not where:
            raise ValueError("clear_errors needs a filter")
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

    # -- write journal --------------------------------------------------------------------------
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

        ``state="pending"`` journals a write before the file is swapped in (write-ahead); undo
        and the batch lists ignore the entry until :meth:`finish_journal_entry` marks it done.
        """
        if state not in ("pending", "done"):
            raise ValueError(f"unknown journal state {state!r}")
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
        return [(JournalEntry(r[0], r[1], r[2], path_from_db(r[3]), json.loads(r[4]),
                              json.loads(r[5]), r[6], bool(r[7]), r[8], r[9]),
                 ProcessOwner.from_json(r[10])) for r in rows]

    def recover_unfinished_writes(self):
        """Complete or roll back the journal entries of writes that were killed (see
        :func:`engine.library.writing.recover_unfinished_writes`); returns its outcome."""
        from .writing import recover_unfinished_writes

        return recover_unfinished_writes(self)

    # -- scan claims ------------------------------------------------------------------------------
    #: A claim by a process on another host (whose liveness cannot be checked) counts for this
    #: long after it was taken; claims of dead local processes end at once.
    FOREIGN_CLAIM_TTL_S = 6 * 3600.0

    def claim_tracks(self, track_ids: Iterable[int]) -> set[int]:
        """Claim tracks for analysis by this process; return the ids now claimed by it.

        A track claimed by another scan that is still running is not claimed (a second scan
        skips work in progress); claims of scans that died are taken over. Claims end with
        :meth:`release_claims`.
        """
        me = ProcessOwner.current()
        mine = me.to_json()
        ids = [int(t) for t in track_ids]
        got: set[int] = set()
        alive: dict[str, bool] = {}
        now = time.time()
        with self.transaction():
            held = {}
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                held.update({r[0]: (r[1], r[2]) for r in self._conn.execute(
                    f"SELECT track_id, owner, at FROM scan_claims WHERE track_id IN "
                    f"({','.join('?' * len(part))})", part)})
            for tid in ids:
                if tid in held and held[tid][0] != mine:
                    text, at = held[tid]
                    if text not in alive:
                        owner = ProcessOwner.from_json(text)
                        live = owner.is_alive() if owner is not None else False
                        alive[text] = (now - at < self.FOREIGN_CLAIM_TTL_S) if live is None else live
                    if alive[text]:
                        continue
                got.add(tid)
            self._conn.executemany(
                "INSERT INTO scan_claims (track_id, owner, at) VALUES (?,?,?) ON CONFLICT(track_id)"
                " DO UPDATE SET owner = excluded.owner, at = excluded.at",
                [(t, mine, now) for t in got])
        return got

    def release_claims(self, track_ids: Iterable[int] | None = None) -> None:
        """End this process's claims (all of them, or those on ``track_ids``)."""
        mine = ProcessOwner.current().to_json()
        if track_ids is None:
            self._conn.execute("DELETE FROM scan_claims WHERE owner = ?", (mine,))
        else:
            self._conn.executemany("DELETE FROM scan_claims WHERE track_id = ? AND owner = ?",
                                   [(int(t), mine) for t in track_ids])

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
        where, args = ["state = 'done'"], []
        if batch_id is not None:
            where.append("batch_id = ?")
            args.append(int(batch_id))
        if track_id is not None:
            where.append("track_id = ?")
            args.append(int(track_id))
        if path is not None:
            where.append("path = ?")
            args.append(path_to_db(path))
        if not include_undone:
            where.append("undone = 0")
        sql = ("SELECT id, batch_id, track_id, path, fields_before, fields_after, at, undone,"
               " undone_at, state FROM write_journal")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [JournalEntry(r[0], r[1], r[2], path_from_db(r[3]), json.loads(r[4]),
                             json.loads(r[5]), r[6], bool(r[7]), r[8], r[9])
                for r in self._conn.execute(sql + " ORDER BY id", args)]

    # -- playlists ------------------------------------------------------------------------------------
    def create_playlist(self, name: str, track_ids: Iterable[int] = (), *, model: str | None = None,
                        params: Mapping[str, Any] | None = None) -> int:
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO playlists (name, created_at, model, params) VALUES (?,?,?,?)",
                (name, time.time(), model, json.dumps(dict(params or {}), ensure_ascii=False, default=str)))
            pid = int(cur.lastrowid)
            self.set_playlist_tracks(pid, track_ids)
        return pid

    def set_playlist_tracks(self, playlist_id: int, track_ids: Iterable[int]) -> None:
        with self.transaction():
            self._conn.execute("DELETE FROM playlist_items WHERE playlist_id = ?", (int(playlist_id),))
            self._conn.executemany(
                "INSERT INTO playlist_items (playlist_id, position, track_id) VALUES (?,?,?)",
                [(int(playlist_id), pos, int(t)) for pos, t in enumerate(track_ids)])

    def rename_playlist(self, playlist_id: int, name: str) -> None:
        self._conn.execute("UPDATE playlists SET name = ? WHERE id = ?", (name, int(playlist_id)))

    def delete_playlist(self, playlist_id: int) -> None:
        self._conn.execute("DELETE FROM playlists WHERE id = ?", (int(playlist_id),))

    def get_playlist(self, playlist_id: int) -> Playlist | None:
        row = self._conn.execute(
            "SELECT id, name, created_at, model, params FROM playlists WHERE id = ?",
            (int(playlist_id),)).fetchone()
        if row is None:
            return None
        ids = [r[0] for r in self._conn.execute(
            "SELECT track_id FROM playlist_items WHERE playlist_id = ? ORDER BY position", (row[0],))]
        return Playlist(row[0], row[1], row[2], row[3], json.loads(row[4]), ids)

    def playlists(self) -> list[Playlist]:
        """Every playlist with its track ids, oldest first."""
        rows = self._conn.execute(
            "SELECT id, name, created_at, model, params FROM playlists ORDER BY id").fetchall()
        items: dict[int, list[int]] = {}
        for pid, tid in self._conn.execute(
                "SELECT playlist_id, track_id FROM playlist_items ORDER BY playlist_id, position"):
            items.setdefault(pid, []).append(tid)
        return [Playlist(r[0], r[1], r[2], r[3], json.loads(r[4]), items.get(r[0], [])) for r in rows]

    # -- layouts -----------------------------------------------------------------------------------------
    def save_layout(self, model: str, embedding_kind: str, track_ids, xy, *,
                    params: Mapping[str, Any] | None = None, make_current: bool = True) -> int:
        """Store a 2-D map (``xy`` float [n, 2] for ``track_ids`` [n]); by default it becomes
        the current layout for ``(model, embedding_kind)``."""
        ids = np.asarray(track_ids, dtype=np.int64).ravel()
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(ids) != len(pts):
            raise ValueError(f"{len(ids)} track ids for {len(pts)} points")
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO layouts (model, embedding_kind, params, created_at, is_current)"
                " VALUES (?,?,?,?,0)",
                (model, embedding_kind, json.dumps(dict(params or {}), ensure_ascii=False, default=str),
                 time.time()))
            lid = int(cur.lastrowid)
            self.add_layout_points(lid, ids, pts)
            if make_current:
                self.set_current_layout(lid)
        return lid

    def add_layout_points(self, layout_id: int, track_ids, xy) -> None:
        """Add (or move) points of an existing layout — for placing new tracks on a cached map."""
        ids = np.asarray(track_ids, dtype=np.int64).ravel()
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(ids) != len(pts):
            raise ValueError(f"{len(ids)} track ids for {len(pts)} points")
        lid = int(layout_id)
        with self.transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO layout_points (layout_id, track_id, x, y) VALUES (?,?,?,?)",
                zip([lid] * len(ids), ids.tolist(), pts[:, 0].tolist(), pts[:, 1].tolist()))

    def set_current_layout(self, layout_id: int) -> None:
        with self.transaction():
            row = self._conn.execute("SELECT model, embedding_kind FROM layouts WHERE id = ?",
                                     (int(layout_id),)).fetchone()
            if row is None:
                raise LibraryError(f"no layout with id {layout_id}")
            self._conn.execute("UPDATE layouts SET is_current = (id = ?)"
                               " WHERE model = ? AND embedding_kind = ?", (int(layout_id), *row))

    def layouts(self) -> list[Layout]:
        """Every stored layout, without its points (``track_ids``/``xy`` empty), newest first."""
        return [Layout(r[0], r[1], r[2], json.loads(r[3]), r[4], bool(r[5]),
                       np.zeros(0, np.int64), np.zeros((0, 2), np.float32))
                for r in self._conn.execute(
                    "SELECT id, model, embedding_kind, params, created_at, is_current FROM layouts"
                    " ORDER BY id DESC")]

    def get_layout(self, layout_id: int, *, include_gone: bool = False) -> Layout | None:
        row = self._conn.execute(
            "SELECT id, model, embedding_kind, params, created_at, is_current FROM layouts"
            " WHERE id = ?", (int(layout_id),)).fetchone()
        if row is None:
            return None
        sql = ("SELECT p.track_id, p.x, p.y FROM layout_points p JOIN tracks t ON t.id = p.track_id"
               " WHERE p.layout_id = ?")
        if not include_gone:
            sql += " AND t.status != 'gone'"
        pts = self._conn.execute(sql + " ORDER BY p.track_id", (row[0],)).fetchall()
        ids = np.fromiter((p[0] for p in pts), dtype=np.int64, count=len(pts))
        xy = np.array([(p[1], p[2]) for p in pts], dtype=np.float32).reshape(-1, 2)
        return Layout(row[0], row[1], row[2], json.loads(row[3]), row[4], bool(row[5]), ids, xy)

    def current_layout(self, model: str | None = None, embedding_kind: str | None = None,
                       *, include_gone: bool = False) -> Layout | None:
        """The current layout for ``(model, embedding_kind)`` (the newest current one when
        either is None), with its points; None if there is none."""
        sql, args = "SELECT id FROM layouts WHERE is_current = 1", []
        if model is not None:
            sql += " AND model = ?"
            args.append(model)
        if embedding_kind is not None:
            sql += " AND embedding_kind = ?"
            args.append(embedding_kind)
        row = self._conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self.get_layout(row[0], include_gone=include_gone) if row else None

    def delete_layout(self, layout_id: int) -> None:
        self._conn.execute("DELETE FROM layouts WHERE id = ?", (int(layout_id),))
