"""Writing predicted tags into files, journaled in the library, and undoing those writes.

:func:`plan_writes` reads each selected file's tags afresh and asks the tag policy what would
change (the dry run). :func:`write_planned` applies the plans with
:func:`engine.metadata.apply_change`; every file written is journaled (what its tag keys held
before and after) in one write batch, and the track row is refreshed so the next scan sees the
file as unchanged. :func:`undo_last_batch` and :func:`undo_files` put the recorded "before"
back with :func:`engine.metadata.restore_fields`. A file that fails (read-only, deleted since
the scan, damaged tags, edited since the write) is reported and recorded; the others go on.

The journal is write-ahead: once the new copy of a file is verified, its entry (the exact old
and new values of every key the write touches) is committed as *pending*; only then is the copy
swapped in, and the entry is marked *done* after. A process killed in between leaves a pending
entry; :func:`recover_unfinished_writes` (run before every write, undo and scan, and when the
command line opens the library) reads such a file back: if it carries the new tags the entry is
marked done, so undo restores it; if it still holds the old ones the entry is dropped.

Test hook: ``TAGATLAS_TEST_KILL_AT=POINT:N`` makes the writing process SIGKILL itself at POINT
(``journal``: before the pending entry commits; ``pending``: after it commits, before the swap;
``swapped``: after the swap, before done; ``done``: after done) of the N-th file (from 0) of a
write batch. Only the crash tests set it.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import FileError, LibraryError
from ..types import CancelFn, ProgressFn
from .db import Library
from .paths import normalize_path
from .records import JournalEntry, ShownPath


@dataclass
class FileFailure(ShownPath):
    path: str
    track_id: int | None
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.display_path}: {self.reason}"


@dataclass
class PlannedWrite:
    """One file's planned change (``change`` is an :class:`engine.metadata.TagChange`; it is
    false when nothing would change)."""

    track_id: int
    path: str
    change: Any

    def format_diff(self) -> str:
        return self.change.format_diff()


@dataclass
class WritePlan:
    model: str
    policy: Any                                        # engine.metadata.TagPolicy
    changes: list[PlannedWrite] = field(default_factory=list)    # files that would change
    unchanged: list[int] = field(default_factory=list)           # track ids already as planned
    not_analysed: list[int] = field(default_factory=list)        # no analysis by the model
    failures: list[FileFailure] = field(default_factory=list)


@dataclass
class WriteOutcome:
    batch_id: int | None
    written: list[int] = field(default_factory=list)             # track ids
    failures: list[FileFailure] = field(default_factory=list)
    cancelled: bool = False


@dataclass
class UndoOutcome:
    batch_id: int | None                                         # for --last
    restored: list[str] = field(default_factory=list)            # paths
    already: list[str] = field(default_factory=list)             # held the old tags already
    failures: list[FileFailure] = field(default_factory=list)


def _failure(path: str, track_id: int | None, exc: BaseException) -> FileFailure:
    if isinstance(exc, FileError):
        return FileFailure(path, track_id, exc.kind, exc.reason)
    if isinstance(exc, OSError):
        return FileFailure(path, track_id, type(exc).__name__, exc.strerror or str(exc))
    return FileFailure(path, track_id, type(exc).__name__, str(exc) or type(exc).__name__)


def choose_model(lib: Library, model: str | None = None) -> str:
    """The model whose analyses to use: ``model`` if given, else the only one the library has,
    else the engine's default when it was used; a :class:`LibraryError` explains otherwise."""
    have = lib.analysed_models()
    if model is not None:
        if model not in have:
            raise LibraryError(f"no track in the library has been analysed with model {model!r}"
                               + (f" (analysed with: {', '.join(have)})" if have else ""))
        return model
    if not have:
        raise LibraryError("no track in the library has been analysed yet; run 'tagatlas scan' first")
    if len(have) == 1:
        return next(iter(have))
    from ..bundle import DEFAULT_MODEL

    if DEFAULT_MODEL in have:
        return DEFAULT_MODEL
    raise LibraryError(f"the library holds analyses by several models ({', '.join(have)}); "
                       f"choose one with --model")


def refresh_track(lib: Library, track_id: int, path: str, *, status: str | None = None) -> None:
    """After Tag Atlas changed a file: store its new size, time, fingerprint and tags, so that the
    next scan sees it as unchanged (the audio did not change, so the analyses stay)."""
    from .reading import content_fingerprint, read_file_metadata

    try:
        st = os.stat(path)
        fp = content_fingerprint(path)
    except (OSError, FileError):
        return
    fields: dict[str, Any] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "fingerprint": fp}
    if status is not None:
        fields["status"] = status
    lib.update_track(track_id, **fields)
    try:
        meta = read_file_metadata(path)
    except FileError:
        return
    lib.set_metadata(track_id, meta.fields)


def plan_writes(lib: Library, track_ids: Iterable[int], policy: Any, *, model: str | None = None,
                accept: dict[int, Iterable[str]] | None = None,
                reject: dict[int, Iterable[str]] | None = None,
                progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> WritePlan:
    """What writing the predictions of ``model`` with ``policy`` would change in each track's file.

    The models' stored scores are calibrated and combined onto the canonical vocabulary
    (:mod:`engine.combine`); the policy decides on the combined scores. The track's tempo and
    key (when analysed) go to the "bpm" and "key" fields under the same policy (see
    :func:`engine.metadata.policy.rhythm_values`).

    Each file's tags are read now (not taken from the database), so the plan matches the file.
    Nothing is written.

    Parameters
    ----------
    lib : Library
        The open library holding the tracks and their analyses.
    track_ids : iterable of int
        The tracks to plan for; ids not in the library are skipped.
    policy : TagPolicy
        What is written and how (:class:`engine.metadata.policy.TagPolicy`).
    model : str, optional
        A profile, a bundle name or None for the default profile (see
        :func:`engine.library.predictions.choose_models`).
    accept : dict of int to iterable of str, optional
        Per track id, review overrides: tag names to write whatever their score (see
        ``plan_changes``).
    reject : dict of int to iterable of str, optional
        Per track id, tag names never to write (see ``plan_changes``).
    progress : callable, optional
        ``progress(done, total, path)``, called before each track is planned.
    cancel : callable, optional
        ``cancel()`` is checked before each track; when it returns True the plan so far is
        returned.

    Returns
    -------
    WritePlan
        The planned changes, the tracks whose files would not change, the tracks not analysed by
        the model(s), and the files that could not be read (``failures``).

    Raises
    ------
    LibraryError
        When the library holds no analyses by the model(s) asked for, or ``model`` is None and
        the choice is ambiguous (see :func:`engine.library.predictions.choose_models`).
    """
    from ..metadata import plan_changes, read_tags
    from ..metadata.policy import rhythm_values
    from .predictions import choose_models, library_combiner, track_predictions

    combiner = library_combiner(lib, choose_models(lib, model))
    plan = WritePlan(model=combiner.name, policy=policy)
    ids = list(track_ids)
    for i, tid in enumerate(ids):
        if cancel is not None and cancel():
            break
        track = lib.get_track(tid)
        if track is None:
            continue
        if progress is not None:
            progress(i + 1, len(ids), track.path)
        predicted = track_predictions(lib, combiner, tid)
        if predicted is None:
            plan.not_analysed.append(tid)
            continue
        try:
            current = read_tags(track.path)
            rh = lib.get_rhythm(tid)
            rhythm = None if rh is None else rhythm_values(
                policy, bpm=rh.bpm, bpm_confidence=rh.bpm_confidence, key=rh.key,
                key_confidence=rh.key_confidence)
            change = plan_changes(current, predicted.scores, combiner.tags, combiner.name, policy,
                                  accept=(accept or {}).get(tid), reject=(reject or {}).get(tid),
                                  rhythm=rhythm)
        except FileError as exc:
            plan.failures.append(_failure(track.path, tid, exc))
            continue
        if change:
            plan.changes.append(PlannedWrite(tid, track.path, change))
        else:
            plan.unchanged.append(tid)
    return plan


# --- write-ahead journal and recovery ------------------------------------------------------

KILL_ENV = "TAGATLAS_TEST_KILL_AT"

#: A pending entry of a process on another host (whose liveness cannot be checked) is resolved
#: once it is this old; a live write turns pending into done within seconds.
FOREIGN_PENDING_AFTER_S = 600.0


def _test_kill_point(point: str, index: int) -> None:
    """The crash tests' hook (see the module docstring): SIGKILL this process here when asked."""
    if os.environ.get(KILL_ENV) == f"{point}:{index}":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class RecoveryOutcome:
    completed: list[str] = field(default_factory=list)    # the file carries the write: undoable
    rolled_back: list[str] = field(default_factory=list)  # the file was never swapped: forgotten

    def __bool__(self) -> bool:
        return bool(self.completed or self.rolled_back)


def _file_holds(path: str, state: dict[str, Any] | None) -> bool | None:
    """Whether the file's raw tag keys hold exactly ``state["keys"]``; None when unreadable."""
    from ..metadata.registry import format_for

    if not isinstance(state, dict) or not isinstance(state.get("keys"), dict):
        return None
    try:
        fmt = format_for(path)
        if fmt.tag_type != state.get("tag_type"):
            return None
        mf = fmt.open_for_write(path)
        return all(fmt.get_raw(mf, k) == v for k, v in state["keys"].items())
    except Exception:  # noqa: BLE001 - unreadable, damaged, gone: undecided
        return None


def _resolve_pending(lib: Library, entry: JournalEntry, out: RecoveryOutcome) -> None:
    """Decide one pending entry by reading its file: carries the new values -> done (and the
    track refreshed); still the old ones -> dropped; anything else -> done, so undo can act."""
    before = (entry.fields_before or {}).get("raw")
    after = (entry.fields_after or {}).get("raw")
    if _file_holds(entry.path, after) is not True and _file_holds(entry.path, before) is True:
        lib.drop_journal_entry(entry.id)
        out.rolled_back.append(entry.path)
        return
    with lib.transaction():
        lib.finish_journal_entry(entry.id)
        track = lib.get_track(entry.track_id) if entry.track_id is not None else None
        if track is not None and track.path == entry.path and track.status != "gone":
            refresh_track(lib, track.id, track.path, status="written")
    out.completed.append(entry.path)


def recover_unfinished_writes(lib: Library) -> RecoveryOutcome:
    """Resolve the pending journal entries of writes whose process died (killed, crashed, power
    cut): afterwards every file that carries Tag Atlas's write has a done entry that undo
    restores exactly. Entries of live writers are left alone."""
    out = RecoveryOutcome()
    for entry, owner in lib.pending_journal_entries():
        alive = owner.is_alive() if owner is not None else False
        if alive or (alive is None and time.time() - entry.at < FOREIGN_PENDING_AFTER_S):
            continue
        _resolve_pending(lib, entry, out)
    return out


class _JournalStep:
    """One file's write-ahead journaling: ``pending(record)`` runs inside ``apply_change`` just
    before the swap; ``done(record)`` after it; ``settle()`` when the write failed."""

    def __init__(self, lib: Library, batch: int, pw: PlannedWrite, index: int) -> None:
        self.lib, self.batch, self.pw, self.index = lib, batch, pw, index
        self.entry_id: int | None = None

    def pending(self, record: Any) -> None:
        from ..errors import TagWriteError

        _test_kill_point("journal", self.index)
        try:
            self.entry_id = self.lib.add_journal_entry(
                self.batch, self.pw.path,
                {"tags": record.fields_before, "raw": record.before},
                {"tags": record.fields_after, "raw": record.after, "warnings": []},
                track_id=self.pw.track_id, state="pending")
        except sqlite3.Error as exc:
            raise TagWriteError(self.pw.path, f"the write could not be recorded in the library "
                                              f"({exc}); nothing was written") from None
        _test_kill_point("pending", self.index)

    def done(self, record: Any) -> None:
        _test_kill_point("swapped", self.index)
        with self.lib.transaction():
            if self.entry_id is not None:
                self.lib.finish_journal_entry(self.entry_id, fields_after={
                    "tags": record.fields_after, "raw": record.after, "warnings": record.warnings})
            self.lib.clear_errors(track_id=self.pw.track_id, stages=["write"])
            refresh_track(self.lib, self.pw.track_id, self.pw.path, status="written")
        _test_kill_point("done", self.index)

    def settle(self) -> None:
        """The write raised: if its entry was journaled, let the file decide (swapped or not)."""
        if self.entry_id is None:
            return
        for entry, _owner in self.lib.pending_journal_entries():
            if entry.id == self.entry_id:
                _resolve_pending(self.lib, entry, RecoveryOutcome())


def write_planned(lib: Library, plan: WritePlan, *, preserve_mtime: bool = False,
                  progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> WriteOutcome:
    """Apply ``plan.changes`` as one journaled write batch (failures recorded, the rest goes on).
    Each file is journaled before it is swapped in (see the module docstring)."""
    from ..metadata.safewrite import remove_stale_temp_files

    if not plan.changes:
        return WriteOutcome(batch_id=None, failures=list(plan.failures))
    if lib.in_transaction:
        raise LibraryError("tags cannot be written inside a library transaction: each file's "
                           "journal entry must be committed before the file is replaced")
    recover_unfinished_writes(lib)
    params = {"policy": plan.policy.to_dict(), "preserve_mtime": preserve_mtime}
    batch = lib.begin_write_batch(model=plan.model, params=params)
    out = WriteOutcome(batch_id=batch, failures=list(plan.failures))
    for f in plan.failures:
        lib.add_error("write", f.kind, f.reason, track_id=f.track_id,
                      path=None if f.track_id is not None else f.path)
    for folder in dict.fromkeys(os.path.dirname(pw.path) for pw in plan.changes):
        remove_stale_temp_files(folder)      # hidden copies left by earlier writes that were killed
    with lib.durable_commits():
        for i, pw in enumerate(plan.changes):
            if cancel is not None and cancel():
                out.cancelled = True
                break
            if progress is not None:
                progress(i + 1, len(plan.changes), pw.path)
            if _write_one(lib, batch, pw, i, plan.policy, preserve_mtime, out):
                out.written.append(pw.track_id)
    return out


def _write_one(lib: Library, batch: int, pw: PlannedWrite, index: int, policy: Any,
               preserve_mtime: bool, out: WriteOutcome) -> bool:
    """Write one planned file, journaled write-ahead; True when it was written."""
    from ..metadata import apply_change

    step = _JournalStep(lib, batch, pw, index)
    try:
        record = apply_change(pw.path, pw.change, policy, preserve_mtime=preserve_mtime,
                              before_swap=step.pending)
    except (FileError, OSError) as exc:
        step.settle()
        fail = _failure(pw.path, pw.track_id, exc)
        out.failures.append(fail)
        lib.add_error("write", fail.kind, fail.reason, track_id=pw.track_id)
        return False
    except BaseException:       # KeyboardInterrupt and the like: leave the journal true, go on up
        step.settle()
        raise
    if not record.written:
        return False
    step.done(record)
    return True


def _undo_entries(lib: Library, entries: list, *, force: bool, preserve_mtime: bool,
                  outcome: UndoOutcome) -> None:
    from ..metadata import restore_fields

    for e in entries:
        path, track = e.path, None
        if e.track_id is not None:
            track = lib.get_track(e.track_id)
            if track is not None and track.status != "gone":
                path = track.path        # the file moved since the write: follow it
        raw_before = (e.fields_before or {}).get("raw")
        raw_after = (e.fields_after or {}).get("raw")
        if raw_before is None:
            outcome.failures.append(FileFailure(path, e.track_id, "LibraryError",
                                                "the journal entry holds no restorable state"))
            continue
        try:
            record = restore_fields(path, raw_before, after=raw_after, force=force,
                                    preserve_mtime=preserve_mtime)
        except (FileError, OSError) as exc:
            fail = _failure(path, e.track_id, exc)
            outcome.failures.append(fail)
            lib.add_error("write", fail.kind, f"undo: {fail.reason}", track_id=e.track_id,
                          path=None if e.track_id is not None else path)
            continue
        with lib.transaction():
            lib.mark_undone([e.id])
            if track is not None:
                lib.clear_errors(track_id=track.id, stages=["write"])
                refresh_track(lib, track.id, path)
                lib.update_track(track.id, status=lib.settled_status(track.id))
        (outcome.restored if record.written else outcome.already).append(path)


def undo_last_batch(lib: Library, *, force: bool = False, preserve_mtime: bool = False) -> UndoOutcome:
    """Restore every file of the newest write batch that is not undone yet."""
    recover_unfinished_writes(lib)
    batch = lib.last_write_batch()
    if batch is None:
        raise LibraryError("there is no tag write to undo")
    out = UndoOutcome(batch_id=batch.id)
    entries = lib.journal_entries(batch_id=batch.id, include_undone=False)
    _undo_entries(lib, entries, force=force, preserve_mtime=preserve_mtime, outcome=out)
    return out


def undo_files(lib: Library, paths: Iterable[str | os.PathLike], *, force: bool = False,
               preserve_mtime: bool = False) -> UndoOutcome:
    """Undo the most recent (not yet undone) write of each file in ``paths``."""
    recover_unfinished_writes(lib)
    out = UndoOutcome(batch_id=None)
    for p in paths:
        path = normalize_path(p)
        track = lib.get_track_by_path(path)
        entries = []
        if track is not None:
            entries = lib.journal_entries(track_id=track.id, include_undone=False)
        if not entries:
            entries = lib.journal_entries(path=path, include_undone=False)
        if not entries:
            out.failures.append(FileFailure(path, track.id if track else None, "LibraryError",
                                            "Tag Atlas has no write of this file to undo"))
            continue
        _undo_entries(lib, [entries[-1]], force=force, preserve_mtime=preserve_mtime, outcome=out)
    return out


__all__ = ["FileFailure", "PlannedWrite", "WritePlan", "WriteOutcome", "UndoOutcome",
           "RecoveryOutcome", "choose_model", "plan_writes", "write_planned", "undo_last_batch",
           "undo_files", "refresh_track", "recover_unfinished_writes"]
