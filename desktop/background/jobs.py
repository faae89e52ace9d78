"""The background jobs of the app, as functions for :class:`desktop.background.Task`.

Each takes the task first (for ``task.report`` / ``task.is_cancelled``) and plain data after it
(the database path, ids, a policy): never a widget. Each opens its own
:class:`~engine.library.Library`. The work itself is the engine's: the scanner, the journaled
writer and undo; these functions only connect it to the task.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from engine.errors import MetadataError
from engine.tagger import QUICK_ANALYSIS_PATCHES


class SharedLibrary:
    """One library connection for the jobs that read while a scan may be writing.

    Opening a library briefly needs the database's write lock (to check its schema), which a
    running scan holds nearly all the time; a connection opened once, before any scan, reads
    at any moment (SQLite's WAL mode lets readers and the writer proceed together). Jobs take
    turns with it (``with shared.use() as lib:``).
    """

    def __init__(self, db_path: str | os.PathLike) -> None:
        self.path = os.fspath(db_path)
        self._lib = None
        self._lock = threading.Lock()

    def open(self):
        """Open now (call it from the GUI before starting any scan); raises LibraryError."""
        with self._lock:
            if self._lib is None:
                from engine.library import Library

                self._lib = Library(self.path)
            return self._lib

    @contextmanager
    def use(self) -> Iterator[Any]:
        with self._lock:
            if self._lib is None:
                from engine.library import Library

                self._lib = Library(self.path)
            yield self._lib

    def close(self) -> None:
        with self._lock:
            if self._lib is not None:
                self._lib.close()
                self._lib = None


@dataclass
class ScanRequest:
    folders: list[str]
    model: str
    device: str | None = None
    workers: int | None = None
    max_patches: int | None = QUICK_ANALYSIS_PATCHES     # the scanner's: a number, or None (all)
    retry_failed: bool = False
    analyse: bool = True


def scan_job(task, db_path: str, req: ScanRequest):
    """Scan ``req.folders`` into the library (in a child process, see
    :mod:`desktop.background.child_process`); reports ``(phase, done, total, path)``; returns the
    :class:`engine.library.scanner.ScanSummary`."""
    from .child_process import run_scan

    def report(value) -> None:
        phase, done, total, _path = value
        task.report(value, force=total > 0 and done == total)

    return run_scan(db_path, req, report=report, cancelled=task.is_cancelled)


def load_library_job(task, shared: SharedLibrary, model: str | None):
    """The table's :class:`~desktop.library_model.LibrarySnapshot`, prepared."""
    from desktop.library_model import load_snapshot

    with shared.use() as lib:
        snap = load_snapshot(lib, model)
    return snap.prepare()


def evidence_job(task, shared: SharedLibrary, track_id: int, predicted_by: str, per_category: int = 2):
    """``(track_id, [(category, display, combined score, [(model, raw tag, raw score)])])``: the
    best canonical tags of one track and what each model said for them (details pane)."""
    import numpy as np

    from engine.library.predictions import library_combiner, track_predictions
    from engine.profiles import profile_models

    with shared.use() as lib:
        combiner = library_combiner(lib, profile_models(predicted_by))
        pred = track_predictions(lib, combiner, track_id)
    out = []
    if pred is None:
        return track_id, out
    count: dict[str, int] = {}
    for i in np.argsort(-pred.scores, kind="stable"):
        t = combiner.tags[i]
        if t.category not in ("genre", "mood") or count.get(t.category, 0) >= per_category:
            continue
        count[t.category] = count.get(t.category, 0) + 1
        out.append((t.category, t.display, float(pred.scores[i]),
                    [(e.model, e.tag, e.raw) for e in pred.evidence[i]]))
    return track_id, out


def load_errors_job(task, shared: SharedLibrary):
    with shared.use() as lib:
        return lib.errors()


def read_tags_job(task, paths: dict[int, str]):
    """``{track id: FileTags or the error}`` for the review panel; reports ``(done, total)``."""
    from engine.metadata import read_tags

    out: dict[int, Any] = {}
    total = len(paths)
    for i, (tid, path) in enumerate(paths.items()):
        if task.is_cancelled():
            break
        try:
            out[tid] = read_tags(path)
        except (MetadataError, OSError) as exc:  # shown per track; the others go on
            out[tid] = exc
        task.report((i + 1, total))
    return out


@dataclass
class WriteResult:
    planned: int = 0                     # files that would change
    unchanged: int = 0
    not_analysed: int = 0
    written: list[int] = field(default_factory=list)
    failures: list = field(default_factory=list)   # engine.library.writing.FileFailure
    batch_id: int | None = None
    cancelled: bool = False


def write_job(task, db_path: str, track_ids: list[int], policy, model: str,
              accept: dict[int, list[str]], reject: dict[int, list[str]],
              preserve_mtime: bool = False) -> WriteResult:
    """Plan (reading every file afresh) and write, as one journaled batch.

    Reports ``(phase, done, total, path)`` with phase "plan" then "write". A cancel during the
    planning writes nothing.

    Parameters
    ----------
    task : Task
        The running task (``task.report`` / ``task.is_cancelled``).
    db_path : str
        The library database (opened here).
    track_ids : list of int
        The tracks to write.
    policy : TagPolicy
        What is written and how (:class:`engine.metadata.TagPolicy`).
    model : str
        A profile or bundle name whose predictions are written (see
        :func:`engine.library.writing.plan_writes`).
    accept : dict of int to list of str
        Per track id, tags the review accepted (written whatever their score).
    reject : dict of int to list of str
        Per track id, tags the review rejected (never written).
    preserve_mtime : bool, default False
        Keep each written file's access and modification times as they were.

    Returns
    -------
    WriteResult
        How many files would change, were unchanged or not analysed, the tracks written, the
        failures, the write batch's id and whether it was cancelled.
    """
    from engine.library import Library
    from engine.library.writing import plan_writes, write_planned

    with Library(db_path) as lib:
        plan = plan_writes(lib, track_ids, policy, model=model, accept=accept, reject=reject,
                           progress=lambda d, t, p: task.report(("plan", d, t, p)),
                           cancel=task.is_cancelled)
        res = WriteResult(planned=len(plan.changes), unchanged=len(plan.unchanged),
                          not_analysed=len(plan.not_analysed))
        if task.is_cancelled():
            res.cancelled = True
            res.failures = list(plan.failures)
            return res
        out = write_planned(lib, plan, preserve_mtime=preserve_mtime,
                            progress=lambda d, t, p: task.report(("write", d, t, p)),
                            cancel=task.is_cancelled)
    res.written, res.failures, res.batch_id = out.written, out.failures, out.batch_id
    res.cancelled = out.cancelled
    return res


def undo_job(task, db_path: str, preserve_mtime: bool = False):
    """Undo the newest write batch; returns :class:`engine.library.writing.UndoOutcome`."""
    from engine.library import Library
    from engine.library.writing import undo_last_batch

    with Library(db_path) as lib:
        return undo_last_batch(lib, preserve_mtime=preserve_mtime)


def import_analyses_job(task, db_path: str, source: str):
    """Bring the results of ``tagatlas batch`` (a folder or a Parquet file) into the library
    without re-analysing; returns the :class:`engine.catalogue.importer.ImportSummary`."""
    from engine.catalogue.importer import import_analyses
    from engine.library import Library

    with Library(db_path) as lib:
        return import_analyses(lib, source, progress=lambda d, t, _p: task.report((d, t)),
                               cancel=task.is_cancelled)


def last_write_job(task, shared: SharedLibrary):
    """The newest write batch that can be undone (or None)."""
    with shared.use() as lib:
        return lib.last_write_batch()


def device_job(task, device: str | None) -> str:
    """The inference device in words. It imports torch (seconds of work that would hold the
    interpreter lock), so it runs in a child process."""
    from .child_process import call_in_child, describe_device

    return call_in_child(describe_device, device, cancelled=task.is_cancelled, timeout_s=120)


def export_m3u8_job(task, shared: SharedLibrary, track_ids: list[int], out_path: str):
    """Write an M3U8 playlist of ``track_ids`` (in order) to ``out_path``; returns the
    :class:`~engine.similarity.M3U8Written` (its ``left_out`` lists tracks M3U cannot hold)."""
    from engine.similarity import PlaylistEntry, write_m3u8

    with shared.use() as lib:
        tracks = lib.get_tracks(track_ids)
    entries = [PlaylistEntry(path=t.path, title=t.title, artist=t.artist, duration_s=t.duration_s)
               for t in tracks]
    return write_m3u8(out_path, entries)
