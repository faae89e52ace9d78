"""The tracks part of the library: one row per file, with its size, time, content fingerprint,
the tags already in it and a status; searching them (:mod:`engine.library.query`)."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any, Iterable, Mapping

from ..errors import ParameterError, printable_path
from .paths import normalize_path, path_from_db, path_to_db, under_range
from .query import order_clause, track_conditions
from .records import METADATA_FIELDS, TRACK_COLUMNS, Track, TrackRow, TrackState, json_list
from .schema import TRACK_STATUSES


class TrackStore:
    """Tracks: add, update, look up and search. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection      # and transaction(): provided by Library

    def add_track(self, path: str | bytes | os.PathLike, *, size: int, mtime_ns: int,
                  fingerprint: bytes | None = None, duration_s: float | None = None,
                  format: str | None = None, metadata: Mapping[str, Any] | None = None,
                  status: str = "new") -> int:
        """Insert a track, or refresh the row already at ``path``; returns its id.

        An existing row keeps its id (and so its analyses, playlists and journal), and every column
        given here replaces the stored one; callers delete stale analyses themselves.

        Parameters
        ----------
        path : str, bytes or os.PathLike
            The file (stored as its absolute path, normalised).
        size : int
            The file's size in bytes.
        mtime_ns : int
            The file's modification time in nanoseconds (``os.stat().st_mtime_ns``).
        fingerprint : bytes, optional
            The file's content fingerprint (see ``content_fingerprint``); None when not computed.
        duration_s : float, optional
            The track's duration in seconds, when known.
        format : str, optional
            The file's audio format (e.g. "MP3", "FLAC"), when known.
        metadata : mapping, optional
            The tags already in the file: title/artist/album/albumartist (str) and genre/mood (list
            of str); any other keys are kept in ``extra``. None: no tags.
        status : str, default "new"
            The track's status: "new", "analysed", "written", "error" or "gone".

        Returns
        -------
        int
            The track's id.

        Raises
        ------
        ParameterError
            For an unknown ``status``.
        """
        if status not in TRACK_STATUSES:
            raise ParameterError(f"unknown track status {status!r}")
        now = time.time()
        md = dict(metadata or {})
        extra = {k: v for k, v in md.items() if k not in METADATA_FIELDS}
        values = (
            path_to_db(path), printable_path(normalize_path(path)), int(size), int(mtime_ns),
            fingerprint, duration_s, format, md.get("title"), md.get("artist"), md.get("album"),
            md.get("albumartist"), json_list(md.get("genre")), json_list(md.get("mood")),
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
                values.append(json_list(value))
            elif key == "extra":
                sets.append("extra = ?")
                values.append(json.dumps(value or {}, ensure_ascii=False, default=str))
            elif key == "status":
                if value not in TRACK_STATUSES:
                    raise ParameterError(f"unknown track status {value!r}")
                sets.append("status = ?")
                values.append(value)
            elif key in ("size", "mtime_ns", "fingerprint", "duration_s", "format", "title",
                         "artist", "album", "albumartist"):
                sets.append(f"{key} = ?")
                values.append(value)
            else:
                raise ParameterError(f"unknown track field {key!r}")
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
            extra={k: v for k, v in md.items() if k not in METADATA_FIELDS},
        )

    def set_status(self, track_ids: Iterable[int], status: str) -> None:
        if status not in TRACK_STATUSES:
            raise ParameterError(f"unknown track status {status!r}")
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
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id = ?", (int(track_id),)
        ).fetchone()
        return Track.from_row(row) if row else None

    def get_track_by_path(self, path: str | bytes | os.PathLike) -> Track | None:
        row = self._conn.execute(
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE path = ?", (path_to_db(path),)
        ).fetchone()
        return Track.from_row(row) if row else None

    def get_tracks(self, track_ids: Iterable[int]) -> list[Track]:
        """Full rows for ``track_ids``, in that order (unknown ids are left out)."""
        ids = [int(i) for i in track_ids]
        found: dict[int, Track] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = Track.from_row(row)
        return [found[i] for i in ids if i in found]

    def count_tracks(self, status: str | None = None) -> int:
        if status is None:
            return self._conn.execute(
                "SELECT count(*) FROM tracks WHERE status != 'gone'").fetchone()[0]
        return self._conn.execute(
            "SELECT count(*) FROM tracks WHERE status = ?", (status,)).fetchone()[0]

    def status_counts(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT status, count(*) FROM tracks GROUP BY status"))

    def track_states_under(self, root: str | bytes | os.PathLike) -> dict[str, TrackState]:
        """``{path: TrackState}`` of every track inside ``root`` or at ``root`` (gone ones
        included): the scanner's view of what it already knows."""
        low, high = under_range(root)
        return {
            path_from_db(r[0]): TrackState(r[1], path_from_db(r[0]), r[2], r[3], r[4],
                                           None if r[5] is None else bytes(r[5]))
            for r in self._conn.execute(
                "SELECT path, id, size, mtime_ns, status, fingerprint FROM tracks"
                " WHERE (path > ? AND path < ?) OR path = ?", (low, high, path_to_db(root)))
        }

    def gone_track_states(self) -> list[TrackState]:
        """Tracks marked gone that have a content fingerprint (a new file with the same content
        is that track, moved)."""
        return [TrackState(r[0], path_from_db(r[1]), r[2], r[3], "gone", bytes(r[4]))
                for r in self._conn.execute(
                    "SELECT id, path, size, mtime_ns, fingerprint FROM tracks"
                    " WHERE status = 'gone' AND fingerprint IS NOT NULL")]

    def has_fingerprint_of_size(self, size: int) -> bool:
        """Whether any track of exactly ``size`` bytes has a content fingerprint (if none, a new
        file of that size cannot be a moved track and need not be fingerprinted early)."""
        return self._conn.execute("SELECT 1 FROM tracks WHERE size = ? AND fingerprint IS NOT NULL"
                                  " LIMIT 1", (int(size),)).fetchone() is not None

    def tracks_with_content(self, size: int, fingerprint: bytes, *, include_gone: bool = True,
                            limit: int | None = None) -> list[Track]:
        """Tracks whose size and content fingerprint match (move detection, imports)."""
        sql = f"SELECT {TRACK_COLUMNS} FROM tracks WHERE size = ? AND fingerprint = ?"
        if not include_gone:
            sql += " AND status != 'gone'"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Track.from_row(r) for r in self._conn.execute(sql, (int(size), fingerprint))]

    def move_track(self, track_id: int, path: str | os.PathLike, *, size: int, mtime_ns: int,
                   fingerprint: bytes | None) -> None:
        """The file of a track is now at ``path``: the track (its analyses, playlists, journal)
        and its recorded errors follow it, and it takes the status its history implies."""
        with self.transaction():
            self.update_track(track_id, path=path, size=size, mtime_ns=mtime_ns,
                              fingerprint=fingerprint)
            self._conn.execute("UPDATE errors SET path = ?, path_text = ? WHERE track_id = ?",
                               (path_to_db(path), printable_path(normalize_path(path)),
                                int(track_id)))
            self.update_track(track_id, status=self.settled_status(track_id))

    def query_tracks(self, query: str | None = None, *, text: str | None = None,
                     status: str | Iterable[str] | None = None, has_tag: str | None = None,
                     analysed_with: str | None = None, not_analysed_with: str | None = None,
                     under: str | os.PathLike | None = None, include_gone: bool = False,
                     order_by: str = "path", limit: int | None = None, offset: int = 0,
                     ) -> list[TrackRow]:
        """Tracks matching every filter given, as light rows.

        Parameters
        ----------
        query : str, optional
            A search string, see :func:`parse_query`.
        text : str, optional
            Words that must each appear in title, artist, album, album artist or path.
        status : str or iterable of str, optional
            One or several statuses. Gone tracks are left out unless asked for by status or
            ``include_gone``.
        has_tag : str, optional
            The file already carries this genre or mood (case-insensitive).
        analysed_with : str, optional
            A model name: only tracks analysed by it.
        not_analysed_with : str, optional
            A model name: only tracks not analysed by it.
        under : str or os.PathLike, optional
            A folder: only tracks inside it.
        include_gone : bool, default False
            Also return tracks whose file is gone (when no status is asked for).
        order_by : str, default "path"
            "path", "title", "artist", "album", "added" or "id".
        limit : int, optional
            At most this many rows; None: all.
        offset : int, default 0
            Rows to skip before the first returned (only used with ``limit``).

        Returns
        -------
        list of TrackRow
            The matching tracks in ``order_by`` order.

        Raises
        ------
        ParameterError
            For an unknown ``order_by``.
        LibraryError
            For a ``bpm:``, ``key:`` or ``id:`` filter in ``query`` that cannot be read.
        """
        where, args = track_conditions(
            query, text=text, status=status, has_tag=has_tag, analysed_with=analysed_with,
            not_analysed_with=not_analysed_with, under=under, include_gone=include_gone)
        order = order_clause(order_by)
        sql = ("SELECT id, path, title, artist, album, genre, mood, status, duration_s, format,"
               " albumartist FROM tracks")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order}"
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
