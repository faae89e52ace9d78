"""Bring the results of a catalogue batch (Parquet) into a library, without analysing again.

:func:`import_analyses` reads a batch output folder (or one Parquet file) and, for each file in
it, finds the library track it belongs to:

1. **by path** (after ``path_map`` rewrites a prefix, e.g. the cluster's ``/mnt/nas/music`` to
   this machine's ``/home/me/Music``) — when the library knows the path and its content
   fingerprint is the one analysed;
2. **by content** — tracks of the same size and content fingerprint (the library scanner's
   fingerprint), wherever they are now: a file moved or renamed since the batch still matches;
3. **a new track** — when the file is on this machine at that path, with the content analysed:
   it is recorded as a scan records it (its size and modification time here, its tags read), so
   a later ``tagatlas scan`` sees it unchanged and analyses nothing again.

The models are registered from the bundles stored in the Parquet metadata (their tags and
thresholds, even when the bundle is not installed here), then each model's scores and
embedding, the tempo/beats/key analysis and the errors with their plain reasons are stored
through the :class:`~engine.library.db.Library` methods a scan uses. A file whose content
changed since the batch is left alone (counted as ``stale``), and so is a file that is neither
in the library nor on this machine (``not_found``). Only public ``Library`` methods are used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import LibraryError, TagAtlasError, printable_path
from ..types import CancelFn, ProgressFn

#: ``progress(done, total, path)`` after each file.


@dataclass
class ImportSummary:
    sources: list[str]
    files: int = 0              # files in the Parquet results
    new_tracks: int = 0         # tracks added to the library
    matched_path: int = 0       # matched a library track by path
    matched_content: int = 0    # matched a library track by content (moved/renamed since)
    analyses: int = 0           # (track, model) analyses stored
    kept: int = 0               # analyses left as they were (the track had one by that model)
    rhythm: int = 0             # tempo/beats/key analyses stored
    errors: int = 0             # files whose error was recorded
    stale: list[tuple[str, str]] = field(default_factory=list)      # (path, why) not imported
    not_found: list[str] = field(default_factory=list)              # neither in the library nor here
    models: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def imported(self) -> int:
        return self.new_tracks + self.matched_path + self.matched_content


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise TagAtlasError("reading batch results needs pyarrow, which is not installed. Install "
                            "it with:  python3 -m pip install \"tagatlas[batch]\"  (or: python3 -m pip "
                            "install \"pyarrow>=14\")") from None


def parse_path_map(items: Iterable[str]) -> list[tuple[str, str]]:
    """``["OLD=NEW", ...]`` -> ``[(old, new)]`` (longest prefix first)."""
    out = []
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old:
            raise TagAtlasError(f"--map-prefix {item!r}: write it as OLD=NEW, e.g. /mnt/nas/music=/home/me/Music")
        out.append((old.rstrip("/\\") or old, new.rstrip("/\\") or new))
    return sorted(out, key=lambda p: -len(p[0]))


def _mapped(path: str, path_map: Sequence[tuple[str, str]]) -> str:
    for old, new in path_map:
        if path == old or path.startswith(old + os.sep) or path.startswith(old + "/"):
            return new + path[len(old):]
    return path


def _sources(sources: Iterable[str | os.PathLike]) -> list[Path]:
    from . import records

    parts: list[Path] = []
    for s in sources:
        p = Path(s)
        if not p.exists():
            raise TagAtlasError(f"{printable_path(p)}: no such file or folder")
        found = records.part_files(p)
        if not found:
            raise TagAtlasError(f"{printable_path(p)}: no Parquet results (part-*.parquet) here; "
                                "make them with 'tagatlas batch'")
        parts += found
    return parts


def _register_models(library, parts: list[Path], summary: ImportSummary) -> dict[str, Any]:
    from ..bundle import BundleInfo
    from . import records

    infos: dict[str, Any] = {}
    for part in parts:
        for data in records.read_models(part):
            if data.get("name") not in infos:
                infos[data["name"]] = BundleInfo.from_json(data)
    for info in infos.values():
        library.register_model(info)
    summary.models = list(infos)
    return infos


def _rhythm_record(track_id: int, row: dict[str, Any]):
    import numpy as np

    from ..library import RhythmRecord

    return RhythmRecord(
        int(track_id), row.get("bpm"), float(row.get("bpm_confidence") or 0.0),
        [float(a) for a in row.get("bpm_alternatives") or []], bool(row.get("tempo_variable")),
        int(row.get("meter") or 0), row.get("key_tonic"), row.get("key_mode"),
        float(row.get("key_confidence") or 0.0), np.asarray(row.get("beats") or [], np.float32),
        np.asarray(row.get("downbeats") or [], np.float32), row.get("rhythm_start_s"),
        row.get("rhythm_end_s"), row.get("rhythm_model") or "", float(row.get("analysed_at") or 0.0))


def _read_new_track(library, path: str, st: os.stat_result, fp: bytes | None, first: dict) -> int:
    """Record a file found on this machine as a scan's read phase records it; returns its id."""
    from ..errors import TagReadError
    from ..library.reading import read_file_metadata

    ext = os.path.splitext(path)[1].lower().lstrip(".") or None
    if first["outcome"] == "error" and first.get("error_stage") == "scan":
        # the scan could not even read it (empty, unreadable): no tags read, status error
        return library.add_track(path, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                 fingerprint=None if st.st_size == 0 else fp, format=ext, status="error")
    fields, duration, fmt, tag_error = {}, None, None, None
    try:
        meta = read_file_metadata(path)
        fields, duration, fmt = meta.fields, meta.duration_s, meta.format
    except TagAtlasError as exc:
        tag_error = exc
    except Exception as exc:  # noqa: BLE001 - a tag library bug must not stop the import
        tag_error = TagReadError(path, f"the tags cannot be read ({type(exc).__name__}: {exc})")
    tid = library.add_track(path, size=st.st_size, mtime_ns=st.st_mtime_ns, fingerprint=fp,
                            duration_s=duration, format=fmt or ext, metadata=fields, status="new")
    if tag_error is not None:
        library.add_file_error("scan", tag_error, track_id=tid)
    return tid


def _cut_short(library, tid: int, rows: list[dict]) -> list[str]:
    """The scan's note for a file whose audio ends before its header says (stored duration and
    a warning on each analysis); returns the extra warnings."""
    from ..library.analysing import cut_short_reason

    track = library.get_track(tid)
    real = float(rows[0].get("duration_s") or 0.0)
    why = cut_short_reason(track.duration_s if track is not None else None, real)
    if why is None:
        return []
    library.update_track(tid, duration_s=real)
    return [why]


def _store(library, tid: int, rows: list[dict], summary: ImportSummary, *, replace: bool,
           new: bool) -> None:
    first = rows[0]
    if first["outcome"] == "error":
        if not new and not replace and library.analyses_of(tid):
            summary.kept += 1      # the library analysed it; the batch's failure does not undo that
            return
        stage = first.get("error_stage") or "decode"
        library.clear_errors(track_id=tid, stages=[stage])
        library.add_error(stage, first.get("error_kind") or "Error", first.get("error_reason") or "",
                          track_id=tid)
        if stage != "scan":
            library.set_status([tid], "error")
        summary.errors += 1
        return
    extra = _cut_short(library, tid, rows) if new else []
    stored = False
    for r in rows:
        if not r.get("model"):
            continue
        if not replace and library.get_analysis(tid, r["model"]) is not None:
            summary.kept += 1
            continue
        library.store_analysis(tid, r["model"], r["scores"], r.get("embedding"),
                               n_patches=r.get("n_patches"), duration_s=r.get("duration_s"),
                               warnings=list(r.get("warnings") or []) + extra,
                               analysed_at=r.get("analysed_at"))
        summary.analyses += 1
        stored = True
    if stored:
        library.clear_errors(track_id=tid, stages=["decode", "analyse"])
    if first.get("rhythm_model") and (replace or library.get_rhythm(tid) is None):
        library.store_rhythm(_rhythm_record(tid, first))
        summary.rhythm += 1
    elif first.get("rhythm_error_kind") and library.get_rhythm(tid) is None:
        library.add_error("analyse", first["rhythm_error_kind"], first.get("rhythm_error_reason") or "",
                          track_id=tid)


def _same_content(track, size: int | None, fp: bytes | None) -> bool:
    if size is not None and track.size != size:
        return False
    return track.fingerprint is None or fp is None or bytes(track.fingerprint) == fp


def _import_file(library, rows: list[dict], path_map, summary: ImportSummary, replace: bool) -> str:
    from ..library.reading import content_fingerprint

    first = rows[0]
    path = _mapped(os.fsdecode(first["path_bytes"]), path_map)
    size, fp = first.get("size"), first.get("fingerprint")
    fp = bytes(fp) if fp is not None else None
    track = library.get_track_by_path(path)
    if track is not None and track.status != "gone":
        if not _same_content(track, size, fp):
            summary.stale.append((path, "the library's file at this path has other content than "
                                        "the one analysed (changed since the batch)"))
            return path
        summary.matched_path += 1
        _store(library, track.id, rows, summary, replace=replace, new=False)
        return path
    targets = []
    if fp is not None and size is not None:
        targets = [t for t in library.tracks_with_content(int(size), fp) if t.status != "gone"]
    if targets:
        summary.matched_content += 1
        for t in targets:     # every copy of that content the library knows
            _store(library, t.id, rows, summary, replace=replace, new=False)
        return path
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None:
        summary.not_found.append(path)
        return path
    try:
        here = content_fingerprint(path) if st.st_size else fp
    except TagAtlasError:
        here = None
    if st.st_size != size or (fp is not None and here != fp):
        summary.stale.append((path, "the file here has other content than the one analysed "
                                    "(changed since the batch)"))
        return path
    tid = _read_new_track(library, path, st, fp, first)
    summary.new_tracks += 1
    _store(library, tid, rows, summary, replace=replace, new=True)
    return path


def _chosen_results(parts: Sequence[Path]) -> dict[bytes, int]:
    """For each file in the results, the index of the part whose rows are imported.

    A file can be in several parts: a rerun with ``--retry-errors`` adds an analysis after a
    failure, a file changed since an earlier run is analysed again, or two output folders are
    imported together. An analysis beats a failure, and of two analyses (or two failures) the
    later part counts: the part files of a folder sort by the time of their run."""
    import pyarrow.parquet as pq

    chosen: dict[bytes, tuple[bool, int]] = {}
    for index, part in enumerate(parts):
        table = pq.read_table(part, columns=["path_bytes", "outcome"])
        for pb, outcome in zip(table.column("path_bytes").to_pylist(), table.column("outcome").to_pylist()):
            ok = outcome == "ok"
            previous = chosen.get(pb)
            if previous is None or ok or not previous[0]:
                chosen[pb] = (ok, index)
    return {pb: index for pb, (_, index) in chosen.items()}


def import_analyses(library, sources: str | os.PathLike | Iterable[str | os.PathLike], *,
                    path_map: Iterable[str] | Sequence[tuple[str, str]] = (), replace: bool = False,
                    progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                    commit_every: int = 200) -> ImportSummary:
    """Import the Parquet results of ``tagatlas batch`` into a library, without re-analysing.

    Each file is matched to a track by path (after ``path_map``) or by content fingerprint;
    a file the library does not know is added as it would be by a scan.

    Parameters
    ----------
    library : engine.library.Library
        The open library to import into.
    sources : path or iterable of paths
        Batch output folders or Parquet files.
    path_map : iterable of "OLD=NEW" strings or (old, new) pairs
        Prefix rewrites, for results made where the music sits at another path.
    replace : bool
        Overwrite analyses the library already has by the same model (default: keep them).
    progress : callable, optional
        ``progress(done, total, path)`` after each file.
    cancel : callable, optional
        ``cancel()`` is checked between files; what was imported is kept.
    commit_every : int
        Writes are committed every this many files.

    Returns
    -------
    ImportSummary
        New tracks, matches by path and by content, analyses, rhythm and errors stored, stale
        and not-found rows, and whether it was cancelled.

    Raises
    ------
    TagAtlasError
        For a source that is not batch output, or when pyarrow is missing. Per-file problems
        are counted in the summary, never raised.
    """
    _require_pyarrow()
    from . import records

    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = list(sources)
    pm = list(path_map)
    pairs = parse_path_map(pm) if pm and isinstance(pm[0], str) else sorted(
        [(str(a), str(b)) for a, b in pm], key=lambda p: -len(p[0]))
    parts = _sources(sources)
    summary = ImportSummary(sources=[str(s) for s in sources])
    chosen = _chosen_results(parts)
    total = len(chosen)
    with library.transaction():
        _register_models(library, parts, summary)
    done = 0
    is_cancelled = cancel or (lambda: False)
    pending = 0
    tx = None
    try:
        for index, part in enumerate(parts):
            for rows in records.iter_files(part):
                if is_cancelled():
                    summary.cancelled = True
                    return summary
                if chosen.get(rows[0]["path_bytes"]) != index:   # in several results: one counts
                    continue
                done += 1
                summary.files += 1
                if tx is None:
                    tx = library.transaction()
                    tx.__enter__()
                with library.transaction():
                    path = _import_file(library, rows, pairs, summary, replace)
                pending += 1
                if pending >= commit_every:
                    tx.__exit__(None, None, None)
                    tx, pending = None, 0
                if progress is not None:
                    progress(done, total, path)
    except BaseException as exc:
        if tx is not None:
            import sqlite3

            if isinstance(exc, sqlite3.Error):
                tx.__exit__(type(exc), exc, exc.__traceback__)
            else:
                tx.__exit__(None, None, None)   # each file is whole (a savepoint per file)
            tx = None
        if isinstance(exc, (LibraryError, TagAtlasError)) or not isinstance(exc, Exception):
            raise
        raise LibraryError(f"the import stopped: {type(exc).__name__}: {exc}") from exc
    finally:
        if tx is not None:
            tx.__exit__(None, None, None)
    return summary


__all__ = ["ImportSummary", "import_analyses", "parse_path_map"]
