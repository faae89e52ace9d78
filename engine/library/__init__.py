"""The music library: a SQLite database of tracks, analyses, errors, tag writes, playlists and
map layouts (:mod:`engine.library.db`), the folder scanner (:mod:`engine.library.scanner`) and
journaled tag writing with undo (:mod:`engine.library.writing`).
"""
from __future__ import annotations

from .db import (
    SCHEMA_VERSION,
    AnalysisRecord,
    ErrorRecord,
    JournalEntry,
    Layout,
    Library,
    Playlist,
    RhythmRecord,
    Track,
    TrackRow,
    WriteBatch,
    parse_query,
    path_from_db,
    path_to_db,
)

__all__ = [
    "SCHEMA_VERSION", "AnalysisRecord", "ErrorRecord", "JournalEntry", "Layout", "Library",
    "Playlist", "RhythmRecord", "Track", "TrackRow", "WriteBatch", "parse_query", "path_from_db", "path_to_db",
]
