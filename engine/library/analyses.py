"""The analyses part of the library: the models it knows, each track's tag scores and
embedding per model, its tempo/beats/key, and the stored vectors for the map and "more like this"."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Iterable

import numpy as np

from ..errors import LibraryError, ParameterError
from .records import (RHYTHM_COLUMNS, AnalysisRecord, RhythmRecord, f32_array, f32_blob,
                      rhythm_from_row, rhythm_to_row)


class AnalysisStore:
    """Models, analyses and rhythm. A part of :class:`engine.library.Library`."""

    _conn: sqlite3.Connection

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

    def analysed_models(self) -> dict[str, int]:
        """``{model: number of analysed (not gone) tracks}``."""
        return dict(self._conn.execute(
            "SELECT a.model, count(*) FROM analyses a JOIN tracks t ON t.id = a.track_id"
            " WHERE t.status != 'gone' GROUP BY a.model ORDER BY a.model"))

    def store_analysis(self, track_id: int, model: str, scores, embedding=None, *,
                       n_patches: int | None = None, duration_s: float | None = None,
                       warnings: Iterable[str] = (), analysed_at: float | None = None,
                       mark_analysed: bool = True) -> None:
        """Save (or replace) the analysis of one track by ``model``.

        A track in status new or error becomes analysed (a written track stays written).

        Parameters
        ----------
        track_id : int
            The track analysed.
        model : str
            The name of the model (bundle) that analysed it.
        scores : array_like of float
            [n_tags] the track's tag probabilities, in the model's tag order (stored as float32).
        embedding : array_like of float, optional
            [d] the track's embedding (e.g. the penultimate layer); None stores none.
        n_patches : int, optional
            How many patches (or excerpts) of the track the model ran on.
        duration_s : float, optional
            The track's duration in seconds; also fills the track's duration when it has none yet.
        warnings : iterable of str, default ()
            Notes about the analysis, stored with it (as JSON).
        analysed_at : float, optional
            When it was analysed, in seconds since the epoch (``time.time()``); None: now.
        mark_analysed : bool, default True
            Move a new or error track to status analysed (and fill its duration); False leaves the
            track row untouched.

        Returns
        -------
        None
        """
        self._conn.execute(
            "INSERT INTO analyses (track_id, model, scores, embedding, n_patches, duration_s,"
            " analysed_at, warnings) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (track_id, model) DO UPDATE SET scores=excluded.scores,"
            " embedding=excluded.embedding, n_patches=excluded.n_patches,"
            " duration_s=excluded.duration_s, analysed_at=excluded.analysed_at,"
            " warnings=excluded.warnings",
            (int(track_id), model, f32_blob(scores), f32_blob(embedding), n_patches, duration_s,
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
            track_id=row[0], model=row[1], scores=f32_array(row[2]),
            embedding=None if row[3] is None else f32_array(row[3]),
            n_patches=row[4], duration_s=row[5], analysed_at=row[6], warnings=json.loads(row[7]),
        )

    def analyses_of(self, track_id: int) -> list[AnalysisRecord]:
        models = [r[0] for r in self._conn.execute(
            "SELECT model FROM analyses WHERE track_id = ? ORDER BY model", (int(track_id),))]
        return [a for m in models if (a := self.get_analysis(track_id, m)) is not None]

    # --- tempo, beats and key --------------------------------------------------------------
    def store_rhythm(self, record: RhythmRecord) -> None:
        """Save (or replace) the tempo/beats/key analysis of a track."""
        self._conn.execute(
            f"INSERT OR REPLACE INTO rhythm ({RHYTHM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rhythm_to_row(record, time.time()))

    def get_rhythm(self, track_id: int) -> RhythmRecord | None:
        row = self._conn.execute(f"SELECT {RHYTHM_COLUMNS} FROM rhythm WHERE track_id = ?",
                                 (int(track_id),)).fetchone()
        return None if row is None else rhythm_from_row(row)

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
            raise ParameterError(f"unknown embedding kind {kind!r}; use 'penultimate' or 'scores'")
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
