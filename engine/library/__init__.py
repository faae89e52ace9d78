"""The music library.

- :mod:`~engine.library.db`: :class:`Library`, a thin class over one SQLite file, made of one
  part per concern: :mod:`~engine.library.tracks`, :mod:`~engine.library.analyses`,
  :mod:`~engine.library.errorlog`, :mod:`~engine.library.journal`,
  :mod:`~engine.library.claims`, :mod:`~engine.library.playlists`,
  :mod:`~engine.library.layouts`; the schema and its migrations in
  :mod:`~engine.library.schema`; the records it hands out in :mod:`~engine.library.records`;
  the search language in :mod:`~engine.library.query`; stored paths in
  :mod:`~engine.library.paths`. All the SQL of Tag Atlas lives in this package.
- :mod:`~engine.library.scanner`: the folder scan (walk → reconcile → read → analyse).
- :mod:`~engine.library.writing`: journaled tag writing with undo.
"""
from __future__ import annotations

from .db import Library
from .owners import ProcessOwner
from .paths import normalize_path, path_from_db, path_to_db
from .query import parse_bpm_filter, parse_key_filter, parse_query
from .records import (
    AnalysisRecord,
    ErrorRecord,
    JournalEntry,
    Layout,
    Playlist,
    RhythmRecord,
    Track,
    TrackRow,
    TrackState,
    WriteBatch,
)
from .schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION", "AnalysisRecord", "ErrorRecord", "JournalEntry", "Layout", "Library",
    "Playlist", "ProcessOwner", "RhythmRecord", "Track", "TrackRow", "TrackState", "WriteBatch",
    "normalize_path", "parse_bpm_filter", "parse_key_filter", "parse_query", "path_from_db",
    "path_to_db",
]
