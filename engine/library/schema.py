"""The library's schema: the tables as first created and every one-time migration since.

The version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` lists the steps in order and
:class:`engine.library.Library` runs the pending ones (after a backup) when it opens a file.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

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
