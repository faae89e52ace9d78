"""Reading tags, applying a planned change, and undoing it.

``apply_change`` writes through :func:`engine.metadata.safewrite.atomic_rewrite` (a verified
temporary copy renamed over the original) and returns a :class:`WriteRecord`. Its ``before`` is a
plain JSON dict holding exactly what every touched key held (``None`` for keys that did not
exist) plus whether the file had a tag at all; ``restore_fields(path, record.before)`` puts that
back — values, absent keys, and, when the write created the tag, no tag at all.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import mutagen.id3
import mutagen.mp3

from ..errors import MetadataError, TagReadError, TagWriteError, unreadable_from_oserror
from .filetags import FileTags
from .policy import TagChange, TagPolicy, plan_changes
from .registry import TagFormat, format_for
from .safewrite import atomic_rewrite, clean_message

log = logging.getLogger(__name__)

RECORD_VERSION = 1


def _short(exc: BaseException) -> str:
    return clean_message(exc) or type(exc).__name__


def _damaged(fmt: TagFormat, exc: BaseException, *paths: str) -> str:
    if isinstance(exc, mutagen.id3.error):
        reason = "its ID3 tag is damaged"
    elif isinstance(exc, mutagen.mp3.HeaderNotFoundError):
        reason = "no MP3 audio was found in it: not an MP3 file, or damaged"
    else:
        reason = f"not a readable {fmt.name} file, or its tags are damaged"
    detail = clean_message(exc, *paths)
    return f"{reason} ({detail})" if detail else reason


def _open(fmt: TagFormat, path: str, *, for_write: bool = False, shown: str | None = None) -> Any:
    """Open with mutagen; every failure becomes a TagReadError with a plain reason."""
    shown = shown or path
    try:
        if os.path.getsize(path) == 0:
            raise TagReadError(shown, "the file is empty")
        return fmt.open_for_write(path) if for_write else fmt.open(path)
    except MetadataError:
        raise
    except OSError as exc:
        raise unreadable_from_oserror(shown, exc, error=TagReadError) from None
    except Exception as exc:  # noqa: BLE001 - mutagen raises many kinds of errors on damaged files
        raise TagReadError(shown, _damaged(fmt, exc, path, shown)) from None


def _format(path: str) -> TagFormat:
    return format_for(path)


def read_tags(path: str | os.PathLike) -> FileTags:
    """The tags of one file. Raises TagReadError (path and a plain reason) for anything unreadable."""
    p = os.fsdecode(path)
    fmt = _format(p)
    mf = _open(fmt, p)
    try:
        return fmt.read(mf, p)
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types for damaged tags
        raise TagReadError(p, f"the tags are damaged ({_short(exc)})") from None


def try_read_tags(path: str | os.PathLike) -> FileTags | TagReadError:
    """Like :func:`read_tags`, but returns the error instead of raising it (and logs it)."""
    try:
        return read_tags(path)
    except TagReadError as exc:
        log.warning("%s", exc)
        return exc


def read_cover(path: str | os.PathLike) -> bytes | None:
    """The embedded front cover (or the first picture) as image file bytes; None when there is none.

    Raises TagReadError when the file cannot be read.
    """
    p = os.fsdecode(path)
    fmt = _format(p)
    mf = _open(fmt, p)
    try:
        return fmt.cover(mf)
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types for damaged tags
        raise TagReadError(p, f"the cover art is damaged ({_short(exc)})") from None


def plan_file(path: str | os.PathLike, scores: Any, tags: list, model_name: str,
              policy: TagPolicy | None = None, **kwargs: Any) -> TagChange:
    """``plan_changes`` on the file's current tags, read now (raises TagReadError)."""
    return plan_changes(read_tags(path), scores, tags, model_name, policy or TagPolicy(), **kwargs)


# --- writing -------------------------------------------------------------------------------
@dataclass
class WriteRecord:
    """What one write did to one file, for the journal and for undo (all fields JSON-able).

    ``before`` / ``after``: ``{"record_version", "format", "tag_type", "state": {"had_tags",
    ("id3_version")}, "keys": {raw key: value or None}}``, exactly what the touched keys held before
    and after the write; pass ``before`` to :func:`restore_fields` to undo, with ``after=`` to refuse
    when the user changed those keys since. ``fields_before`` / ``fields_after`` are the logical
    fields (the ``TagChange``) for display. ``written`` is False when nothing had to change.
    """

    path: str
    format: str
    before: dict[str, Any]
    after: dict[str, Any]
    fields_before: dict[str, list[str]] = field(default_factory=dict)
    fields_after: dict[str, list[str]] = field(default_factory=dict)
    model: str = ""
    time: float = field(default_factory=time.time)
    written: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WriteRecord":
        return cls(**data)


def _state(fmt: TagFormat, ctx: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {"record_version": RECORD_VERSION, "format": fmt.name, "tag_type": fmt.tag_type,
            "state": dict(ctx), "keys": keys}


def _describe(keys: list[str]) -> str:
    return ", ".join(k.replace("\xa9", "©") for k in keys)


def _write_format(path: str) -> TagFormat:
    try:
        return _format(path)
    except TagReadError as exc:
        raise TagWriteError(exc.path, exc.reason) from None


def _reopen_for_write(fmt: TagFormat, path: str, shown: str) -> Any:
    try:
        return _open(fmt, path, for_write=True, shown=shown)
    except TagReadError as exc:
        raise TagWriteError(shown, f"{exc.reason}; nothing was written") from None


def apply_change(path: str | os.PathLike, change: TagChange, policy: TagPolicy | None = None,
                 preserve_mtime: bool = False,
                 before_swap: Callable[[WriteRecord], None] | None = None) -> WriteRecord:
    """Write a planned change into the file, safely (see ``safewrite``), and return its record.

    Raises TagWriteError (with the path and a plain reason) when the file is missing, read-only,
    locked, damaged, or no longer holds ``change.before`` (edited since the preview); the file is
    then unchanged. ``before_swap(record)`` runs after the new copy is verified and before it
    replaces the file (the library journals the write there, write-ahead); if it raises, nothing
    is written.
    """
    policy = policy or TagPolicy()
    shown = os.fsdecode(path)
    fmt = _write_format(shown)
    if not change:
        empty = _state(fmt, {}, {})
        return WriteRecord(shown, fmt.name, empty, empty, model=change.model, written=False)
    facts: dict[str, Any] = {}

    def edit(tmp: str) -> None:
        view = _open_view(fmt, tmp, shown)
        stale = [f for f in change.after if view.get(f) != list(change.before.get(f, []))]
        if stale:
            raise TagWriteError(shown, f"the file's {', '.join(stale)} changed since the preview; "
                                       f"preview again before writing")
        mf = _reopen_for_write(fmt, tmp, shown)
        facts["info"] = fmt.stream_info(mf)
        ctx = fmt.prepare(mf, policy)
        keys: list[str] = []
        for name in change.after:
            keys.extend(fmt.keys_for(mf, name, ctx))
        keys = list(dict.fromkeys(keys))
        before = {k: fmt.get_raw(mf, k) for k in keys}
        for name, values in change.after.items():
            fmt.set_field(mf, name, list(values), ctx)
        after = {k: fmt.get_raw(mf, k) for k in keys}
        fmt.save(mf, tmp, ctx)
        facts.update(ctx=ctx, before=before, after=after)

    def verify(tmp: str) -> None:
        _verify(fmt, tmp, shown, facts["after"], facts["info"])
        view = _open_view(fmt, tmp, shown)
        wrong = [f for f, v in change.after.items() if view.get(f) != list(v)]
        if wrong:
            raise TagWriteError(shown, f"the written {', '.join(wrong)} did not read back as "
                                       f"expected; nothing was written")

    def record() -> WriteRecord:
        return WriteRecord(shown, fmt.name, _state(fmt, facts["ctx"], facts["before"]),
                           _state(fmt, facts["ctx"], facts["after"]),
                           fields_before={k: list(v) for k, v in change.before.items()},
                           fields_after={k: list(v) for k, v in change.after.items()},
                           model=change.model)

    swap_hook = None if before_swap is None else (lambda: before_swap(record()))
    _, warnings = atomic_rewrite(shown, edit, verify=verify, preserve_mtime=preserve_mtime,
                                 before_swap=swap_hook)
    done = record()
    done.warnings = warnings
    return done


def _open_view(fmt: TagFormat, tmp: str, shown: str) -> FileTags:
    try:
        mf = _open(fmt, tmp, shown=shown)
        return fmt.read(mf, shown)
    except TagReadError as exc:
        raise TagWriteError(shown, f"{exc.reason}; nothing was written") from None
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types for damaged tags
        raise TagWriteError(shown, f"the tags are damaged ({_short(exc)}); nothing was written") from None


def _verify(fmt: TagFormat, tmp: str, shown: str, expected: dict[str, Any], info: tuple) -> None:
    """Re-read the temporary file: the keys must hold ``expected`` and the stream be the same."""
    mf = _reopen_for_write(fmt, tmp, shown)
    wrong = [k for k, v in expected.items() if fmt.get_raw(mf, k) != v]
    if wrong:
        raise TagWriteError(shown, f"{_describe(wrong)} did not read back as written; nothing "
                                   f"was written")
    if fmt.stream_info(mf) != info:
        raise TagWriteError(shown, "the audio stream did not read back the same after writing "
                                   "the tags; nothing was written")


def try_apply_change(path: str | os.PathLike, change: TagChange, policy: TagPolicy | None = None,
                     preserve_mtime: bool = False) -> WriteRecord | TagWriteError:
    """Like :func:`apply_change`, but returns the error instead of raising it (and logs it)."""
    try:
        return apply_change(path, change, policy, preserve_mtime=preserve_mtime)
    except TagWriteError as exc:
        log.warning("%s", exc)
        return exc


def restore_fields(path: str | os.PathLike, before: dict[str, Any], *,
                   after: dict[str, Any] | None = None, preserve_mtime: bool = False,
                   force: bool = False) -> WriteRecord:
    """Undo a write: put back exactly what ``before`` (a ``WriteRecord.before``) records.

    Keys that did not exist are removed again; a tag that the write created is removed when it is
    empty again. With ``after`` (the record's ``after``), keys the user changed since the write make
    it fail (TagWriteError) unless ``force``. When the file already holds ``before``, nothing is
    written (``written`` False). Returns the record of this restoring write.
    """
    shown = os.fsdecode(path)
    fmt = _write_format(shown)
    if before.get("tag_type") != fmt.tag_type:
        raise TagWriteError(shown, f"the journal entry is for {before.get('format')} tags but the "
                                   f"file is now {fmt.name}; not restoring")
    target: dict[str, Any] = dict(before.get("keys", {}))
    state = dict(before.get("state", {}))

    def check_unchanged(mf: Any) -> None:
        if after is None or force:
            return
        changed = [k for k, v in after.get("keys", {}).items() if fmt.get_raw(mf, k) != v]
        if changed:
            raise TagWriteError(shown, f"{_describe(changed)} changed since Tag Atlas wrote them; "
                                       f"not restoring (force to restore anyway)")

    probe = _reopen_for_write(fmt, shown, shown)
    current = {k: fmt.get_raw(probe, k) for k in target}
    drop_tag = not state.get("had_tags", True)
    if current == target and not (drop_tag and probe.tags is not None and fmt.is_empty(probe)):
        rec = _state(fmt, state, current)   # already restored (e.g. by an undo that was killed)
        return WriteRecord(shown, fmt.name, rec, rec, written=False)
    check_unchanged(probe)
    facts: dict[str, Any] = {}

    def edit(tmp: str) -> None:
        mf = _reopen_for_write(fmt, tmp, shown)
        check_unchanged(mf)                  # again, on the copy taken under the file lock
        facts["info"] = fmt.stream_info(mf)
        ctx = fmt.context_for_restore(mf, state)
        facts["ctx"] = ctx
        facts["before"] = {k: fmt.get_raw(mf, k) for k in target}
        for key, raw in target.items():
            fmt.set_raw(mf, key, raw)
        facts["dropped"] = drop_tag and fmt.is_empty(mf)
        if facts["dropped"]:
            fmt.delete_tags(tmp)
        else:
            fmt.save(mf, tmp, ctx)

    def verify(tmp: str) -> None:
        if facts["dropped"]:
            mf = _reopen_for_write(fmt, tmp, shown)
            if not fmt.is_empty(mf) or fmt.stream_info(mf) != facts["info"]:
                raise TagWriteError(shown, "the tag did not read back as removed; nothing was written")
            return
        _verify(fmt, tmp, shown, target, facts["info"])

    _, warnings = atomic_rewrite(shown, edit, verify=verify, preserve_mtime=preserve_mtime)
    return WriteRecord(shown, fmt.name, _state(fmt, facts["ctx"], facts["before"]),
                       _state(fmt, facts["ctx"], target), warnings=warnings)


def try_restore_fields(path: str | os.PathLike, before: dict[str, Any], *,
                       after: dict[str, Any] | None = None, preserve_mtime: bool = False,
                       force: bool = False) -> WriteRecord | TagWriteError:
    """Like :func:`restore_fields`, but returns the error instead of raising it (and logs it)."""
    try:
        return restore_fields(path, before, after=after, preserve_mtime=preserve_mtime, force=force)
    except TagWriteError as exc:
        log.warning("%s", exc)
        return exc
