"""The records the library hands out: tracks, analyses, tempo/key, errors, write journal,
playlists and layouts, and how their values are encoded in the database columns."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..errors import printable_path
from .paths import path_from_db


class ShownPath:
    """A record with a ``path``; ``display_path`` is that path as printable text (names that
    are not valid UTF-8 show their odd bytes as ``\\xff``)."""

    path: str

    @property
    def display_path(self) -> str:
        return printable_path(self.path)


@dataclass
class TrackState:
    """What the scanner needs to know of a track it has seen before."""

    id: int
    path: str
    size: int
    mtime_ns: int
    status: str
    fingerprint: bytes | None


TRACK_COLUMNS = (
    "id, path, size, mtime_ns, fingerprint, duration_s, format, title, artist, album, "
    "albumartist, genre, mood, extra, status, added_at, updated_at"
)
METADATA_FIELDS = ("title", "artist", "album", "albumartist", "genre", "mood")


@dataclass
class Track(ShownPath):
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

    @classmethod
    def from_row(cls, row: Sequence) -> "Track":
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

    display_path = ShownPath.display_path


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
class ErrorRecord(ShownPath):
    id: int
    track_id: int | None
    path: str
    stage: str                         # scan | decode | analyse | write
    kind: str                          # e.g. "CorruptAudioError"
    reason: str                        # a plain sentence
    at: float


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
class JournalEntry(ShownPath):
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

def json_list(value: Any) -> str:
    if value is None:
        return "[]"
    if isinstance(value, str):
        value = [value] if value else []
    return json.dumps([str(v) for v in value], ensure_ascii=False)


def f32_blob(a: np.ndarray | Sequence[float] | None) -> bytes | None:
    if a is None:
        return None
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32).ravel()).tobytes()



def f32_array(blob: bytes | None) -> np.ndarray:
    """Inverse of :func:`f32_blob` (an empty array for NULL)."""
    return np.zeros(0, np.float32) if blob is None else np.frombuffer(blob, np.float32).copy()


RHYTHM_COLUMNS = ("track_id, bpm, bpm_confidence, alternatives, variable, meter, key_tonic,"
                  " key_mode, key_confidence, beats, downbeats, start_s, end_s, model,"
                  " analysed_at")


def rhythm_from_row(row: Sequence) -> RhythmRecord:
    """A :class:`RhythmRecord` from a row of :data:`RHYTHM_COLUMNS`."""
    return RhythmRecord(int(row[0]), row[1], float(row[2]), json.loads(row[3]), bool(row[4]),
                        int(row[5]), row[6], row[7], float(row[8]), f32_array(row[9]),
                        f32_array(row[10]), row[11], row[12], row[13], float(row[14]))


def rhythm_to_row(record: RhythmRecord, analysed_at: float) -> tuple:
    """The values of :data:`RHYTHM_COLUMNS` for ``record``."""
    return (int(record.track_id), record.bpm, float(record.bpm_confidence),
            json.dumps([round(float(a), 3) for a in record.alternatives]), int(bool(record.variable)),
            int(record.meter), record.key_tonic, record.key_mode, float(record.key_confidence),
            f32_blob(record.beats), f32_blob(record.downbeats), record.start_s, record.end_s,
            record.model, record.analysed_at or analysed_at)


JOURNAL_COLUMNS = ("id, batch_id, track_id, path, fields_before, fields_after, at, undone,"
                   " undone_at, state")


def journal_from_row(r: Sequence) -> JournalEntry:
    """A :class:`JournalEntry` from a row of :data:`JOURNAL_COLUMNS`."""
    return JournalEntry(r[0], r[1], r[2], path_from_db(r[3]), json.loads(r[4]), json.loads(r[5]),
                        r[6], bool(r[7]), r[8], r[9])
