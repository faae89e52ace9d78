"""The layouts part of the library: cached 2-D maps (a point per track) per model and
embedding kind, one of them current."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Mapping

import numpy as np

from ..errors import LibraryError, ParameterError
from .records import Layout


class LayoutStore:
    """Map layouts. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

    def save_layout(self, model: str, embedding_kind: str, track_ids, xy, *,
                    params: Mapping[str, Any] | None = None, make_current: bool = True) -> int:
        """Store a 2-D map; by default it becomes the current layout for ``(model, embedding_kind)``.

        Parameters
        ----------
        model : str
            The model whose vectors were laid out.
        embedding_kind : str
            The kind of vectors laid out (e.g. "scores" or "penultimate").
        track_ids : array_like of int
            [n] the track of each point.
        xy : array_like of float
            [n, 2] the points' coordinates, in ``track_ids`` order (any units).
        params : mapping, optional
            How the layout was made (stored as JSON; values that JSON cannot hold are stored as
            text). None: an empty mapping.
        make_current : bool, default True
            Make the new layout the current one for ``(model, embedding_kind)``.

        Returns
        -------
        int
            The new layout's id.

        Raises
        ------
        ParameterError
            When ``track_ids`` and ``xy`` have different lengths.
        """
        ids = np.asarray(track_ids, dtype=np.int64).ravel()
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(ids) != len(pts):
            raise ParameterError(f"{len(ids)} track ids for {len(pts)} points")
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
            raise ParameterError(f"{len(ids)} track ids for {len(pts)} points")
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
