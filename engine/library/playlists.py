"""The playlists part of the library: named, ordered lists of tracks."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Iterable, Mapping

from .records import Playlist


class PlaylistStore:
    """Playlists. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

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
