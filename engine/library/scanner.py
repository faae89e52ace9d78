"""Scanning music folders into the library.

:func:`scan` walks folders, brings the database up to date and analyses what is new:

1. **walk** — every file with an extension the engine decodes (any case), following folder
   symlinks but never entering a folder twice (loops are cut by ``(st_dev, st_ino)``), skipping
   hidden and system entries (names starting with ``.``, ``@eaDir``, ``Thumbs.db`` …).
2. **reconcile** — a file whose size and modification time match the database is unchanged and
   is neither read nor analysed again. A known file that is no longer there is marked ``gone``,
   unless a new file has the same size and content fingerprint: then it was moved or renamed,
   and the track (with its analyses, playlists and journal) follows it to the new path.
3. **read** — new and changed files get a content fingerprint and their tags read.
4. **analyse** — tracks with no analysis by one of the profile's models (:mod:`engine.profiles`)
   go through :class:`engine.tagger.Tagger`
   (decoding in worker processes). A failure is stored as that file's error; the scan goes on.

Work is committed in batches (every ``commit_every`` files or ``commit_seconds``), each file's
changes atomically, so a scan that is killed leaves a consistent database and the next scan
carries on where it stopped. ``progress(phase, done, total, path)`` is called along the way
(``total`` is 0 while walking, when it is not known yet) and ``cancel()`` is checked often.
"""
from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import AudioError, EmptyFileError, FileError, LibraryError, UnreadableFileError
from .db import Library, normalize_path, path_from_db, path_to_db, printable_path

ProgressFn = Callable[[str, int, int, str], None]
CancelFn = Callable[[], bool]

#: Folder and file names that are never music: NAS thumbnails and recycle bins, OS metadata.
SKIP_NAMES = frozenset({
    "@eaDir", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot", "$RECYCLE.BIN",
    "System Volume Information", "lost+found", "__MACOSX", "Thumbs.db", "desktop.ini",
    "Desktop.ini", "Icon\r",
})

#: Bytes hashed from each end of a file for its content fingerprint.
FINGERPRINT_CHUNK = 64 * 1024


def _supported_extensions() -> frozenset[str]:
    from ..audio.decode import SUPPORTED_EXTENSIONS

    return frozenset(e.lower() for e in SUPPORTED_EXTENSIONS)


def is_hidden_or_system(name: str) -> bool:
    return name.startswith(".") or name in SKIP_NAMES


# --- walking ---------------------------------------------------------------------------------------


@dataclass
class FoundFile:
    path: str          # absolute; a str that opens the file (surrogate-escaped if need be)
    size: int          # bytes
    mtime_ns: int


@dataclass
class WalkResult:
    files: list[FoundFile]
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # (folder, why it could not be read)
    skipped: int = 0        # hidden/system entries left out
    loops: int = 0          # folders reached a second time (symlink loops, repeated roots)
    complete: bool = True   # False when cancelled part-way
    temp_folders: list[str] = field(default_factory=list)  # folders holding tag-write temp files
    #: entries with an audio file's name that are not files: (path, why they were left out)
    not_files: list[tuple[str, str]] = field(default_factory=list)


def why_not_a_file(mode: int) -> str:
    """Plain words for an entry named like an audio file that is not a regular file."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file (e.g. a link to /dev/zero or /dev/urandom)"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def walk_audio_files(roots: Iterable[str | os.PathLike], *, extensions: Iterable[str] | None = None,
                     progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> WalkResult:
    """Every regular audio file under ``roots`` (each real folder and each file once)."""
    from ..metadata.safewrite import TEMP_NAME

    exts = frozenset(e.lower() for e in extensions) if extensions is not None else _supported_extensions()
    result = WalkResult(files=[])
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    last_report = 0.0

    def add_file(path: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:  # a second link to a file already found
            return
        seen_files.add(key)
        result.files.append(FoundFile(path, st.st_size, st.st_mtime_ns))

    stack: list[str] = []
    for root in roots:
        root = normalize_path(root)
        try:
            st = os.stat(root)
        except OSError as exc:
            raise LibraryError(f"{printable_path(root)}: {exc.strerror or 'cannot be opened'}") from exc
        if stat.S_ISDIR(st.st_mode):
            stack.append(root)
        elif stat.S_ISREG(st.st_mode) and os.path.splitext(root)[1].lower() in exts:
            add_file(root, st)
        else:
            raise LibraryError(f"{printable_path(root)}: not a folder or an audio file")
    stack.reverse()

    while stack:
        if cancel is not None and cancel():
            result.complete = False
            return result
        folder = stack.pop()
        try:
            dst = os.stat(folder)
        except OSError as exc:
            result.unlisted.append((folder, exc.strerror or str(exc)))
            continue
        key = (dst.st_dev, dst.st_ino)
        if key in seen_dirs:
            result.loops += 1
            if os.path.islink(folder):
                result.not_files.append((folder, "a link back to a folder already scanned (a loop); "
                                                 "followed once"))
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.unlisted.append((folder, exc.strerror or str(exc)))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if is_hidden_or_system(name):
                result.skipped += 1
                if TEMP_NAME.match(name) and result.temp_folders[-1:] != [folder]:
                    result.temp_folders.append(folder)
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.path)
                if os.path.splitext(name)[1].lower() in exts:   # "song.mp3/" is looked into
                    result.not_files.append((entry.path, "a folder named like an audio file "
                                                         "(its contents are scanned)"))
                continue
            if os.path.splitext(name)[1].lower() not in exts:
                continue
            try:
                st = entry.stat()  # follows symlinks; a dangling link fails here
            except OSError as exc:
                why = ("a link to a file that does not exist" if entry.is_symlink()
                       else exc.strerror or str(exc))
                result.not_files.append((entry.path, why))
                continue
            if stat.S_ISREG(st.st_mode):
                add_file(entry.path, st)
            else:
                result.not_files.append((entry.path, why_not_a_file(st.st_mode)))
        stack.extend(reversed(subdirs))
        if progress is not None:
            now = time.monotonic()
            if now - last_report > 0.2:
                last_report = now
                progress("walk", len(result.files), 0, folder)
    if progress is not None:
        progress("walk", len(result.files), 0, "")
    return result


# --- reading one file ------------------------------------------------------------------------------


def content_fingerprint(path: str | os.PathLike) -> bytes:
    """16 bytes identifying a file's content cheaply: BLAKE2b of its size and its first and
    last 64 KiB. Raises :class:`UnreadableFileError` when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
            h.update(f.read(FINGERPRINT_CHUNK))
            if size > FINGERPRINT_CHUNK:
                f.seek(max(FINGERPRINT_CHUNK, size - FINGERPRINT_CHUNK))
                h.update(f.read(FINGERPRINT_CHUNK))
    except FileNotFoundError:
        raise UnreadableFileError(path, "the file does not exist (moved or deleted?)") from None
    except PermissionError:
        raise UnreadableFileError(path, "permission denied: Tag Atlas may not read this file") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"the file cannot be read ({exc.strerror or exc})") from None
    return h.digest()


@dataclass
class FileMetadata:
    """What the scanner stores about a file's existing tags."""

    fields: dict[str, Any]            # title, artist, album, albumartist (str), genre, mood (lists), …
    duration_s: float | None = None
    format: str | None = None


def read_file_metadata(path: str) -> FileMetadata:
    """The file's existing tags. Raises :class:`engine.errors.TagReadError` when they cannot be
    read (the audio may still be fine)."""
    from ..metadata import read_tags

    return metadata_from_filetags(read_tags(path))


def metadata_from_filetags(tags: Any) -> FileMetadata:
    """What the library stores from an :class:`engine.metadata.FileTags`: title, artist, album,
    album artist, genre and mood (split into lists), plus track number, date, BPM, key, the tag family and
    custom fields in ``extra`` (the long score field is left out: the analyses hold the scores)."""
    from ..metadata import SCORES_FIELD

    md: dict[str, Any] = {
        "title": tags.title, "artist": tags.artist, "album": tags.album,
        "albumartist": tags.albumartist, "genre": tags.get("genre"), "mood": tags.get("mood"),
    }
    for key in ("tracknumber", "date", "tag_type", "id3_version"):
        value = getattr(tags, key, None)
        if value:
            md[key] = value
    for key in ("bpm", "key"):      # the file's own tempo and key (in extra)
        values = tags.get(key) if hasattr(tags, "get") else []
        if values:
            md[key] = values[0]
    custom = {k: list(v) for k, v in (tags.custom or {}).items() if k != SCORES_FIELD}
    if custom:
        md["custom"] = custom
    if (tags.custom or {}).get(SCORES_FIELD):
        md["has_scores_field"] = True
    if getattr(tags, "has_cover", False):
        md["has_cover"] = True
    return FileMetadata(md, float(tags.duration_s) if tags.duration_s else None, tags.format or None)


# --- the scan -----------------------------------------------------------------------------------------


@dataclass
class ScanFailure:
    path: str
    stage: str        # scan | decode | analyse
    kind: str
    reason: str

    @property
    def display_path(self) -> str:
        return printable_path(self.path)


@dataclass
class ScanSummary:
    roots: list[str]
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    gone: int = 0
    failed: int = 0          # files with a recorded error in this scan
    analysed: int = 0        # tracks analysed in this scan
    skipped: int = 0         # hidden/system entries left out
    loops: int = 0           # folders reached twice (symlink loops)
    temp_files_removed: int = 0  # leftovers of killed tag writes, deleted
    in_progress_elsewhere: int = 0  # tracks another running scan is analysing, left to it
    rhythm_analysed: int = 0  # tracks whose tempo, beats and key were analysed in this scan
    notes: list[tuple[str, str]] = field(default_factory=list)   # (path, what to know), analysed anyway
    unlisted: list[tuple[str, str]] = field(default_factory=list)
    not_files: list[tuple[str, str]] = field(default_factory=list)   # (path, why), left out
    failures: list[ScanFailure] = field(default_factory=list)
    model: str | None = None
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged + self.moved


class _Batches:
    """Writes grouped into transactions committed every ``every`` items or ``seconds``.

    A transaction begins at :meth:`open` (just before an item's writes) and ends at the
    :meth:`tick` that reaches a limit; between that and the next item's writes no lock is held,
    so another process using the library (a second scan, the app) gets its turn while this one
    decodes and analyses the next track.
    """

    def __init__(self, lib: Library, every: int, seconds: float) -> None:
        self.lib, self.every, self.seconds = lib, max(1, every), seconds
        self._tx = None
        self._n = 0
        self._t0 = 0.0

    def __enter__(self) -> "_Batches":
        return self

    def open(self) -> None:
        if self._tx is None:
            self._tx = self.lib.transaction()
            self._tx.__enter__()
            self._n, self._t0 = 0, time.monotonic()

    def _end(self, exc_info=(None, None, None)) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(*exc_info)

    def tick(self) -> None:
        self._n += 1
        if self._n >= self.every or time.monotonic() - self._t0 >= self.seconds:
            self._end()

    def __exit__(self, *exc) -> None:
        # Each file's changes are complete (a savepoint per file), so what was done is kept
        # even when an error interrupts the scan; only a database error rolls the batch back.
        import sqlite3

        if exc[0] is not None and issubclass(exc[0], sqlite3.Error):
            self._end(exc)
        else:
            self._end()


def _is_under(path_bytes: bytes, folders: list[bytes]) -> bool:
    sep = os.fsencode(os.sep)
    return any(path_bytes.startswith(f if f.endswith(sep) else f + sep) for f in folders)


def scan(library: Library, roots: Iterable[str | os.PathLike], *, model: Any = None,
         analyse: bool = True, tagger: Any = None, workers: int | None = None,
         device: str | None = None, progress: ProgressFn | None = None,
         cancel: CancelFn | None = None, retry_failed: bool = False,
         commit_every: int = 50, commit_seconds: float = 2.0,
         max_patches: int | None | str = "fast", rhythm: bool = True) -> ScanSummary:
    """Bring the library up to date with ``roots`` and analyse what needs it.

    ``model``: a bundle name or path for the :class:`~engine.tagger.Tagger` (default: the
    engine's default model), or pass a ready ``tagger``. ``analyse=False`` only records files
    and their tags. ``retry_failed``: analyse again files whose decoding failed before (they are
    otherwise retried only once they change). ``max_patches``: for patch models, analyse at
    most this many patches spread over each track ("fast": the engine's
    :data:`~engine.tagger.FAST_ANALYSIS_PATCHES`; None: every patch, as the original).
    ``rhythm``: also analyse tempo, beats and key (:mod:`engine.rhythm`) of every analysed
    track under ``roots`` that has none yet (quick: the middle minute; with ``max_patches=None``
    the whole track). Raises :class:`LibraryError` for a root that does
    not exist (nothing is changed then) and :class:`~engine.errors.ModelError` for a missing
    model; per-file problems never raise, they are recorded and counted in ``failed``.
    """
    t_start = time.monotonic()
    roots = [normalize_path(r) for r in roots]
    if not roots:
        raise LibraryError("no folder to scan")
    summary = ScanSummary(roots=roots)
    library.recover_unfinished_writes()      # a killed tag write's file is journaled, not "changed"
    is_cancelled = cancel or (lambda: False)
    report = progress or (lambda phase, done, total, path: None)

    model_names: list[str] = []
    sources: dict[str, Any] = {}
    if analyse:
        if tagger is not None:
            model_names = [info.name for info in getattr(tagger, "infos", [tagger.info])]
        else:
            from ..bundle import read_bundle_info
            from ..profiles import profile_models

            # fails fast on a missing bundle; name -> what to load it from (a name or a path)
            sources = {read_bundle_info(m).name: m for m in profile_models(model)}
            model_names = list(sources)
        summary.model = "+".join(model_names)

    # 1. walk -------------------------------------------------------------------------------------
    walk = walk_audio_files(roots, progress=report, cancel=is_cancelled)
    summary.skipped, summary.loops, summary.unlisted = walk.skipped, walk.loops, list(walk.unlisted)
    summary.not_files = list(walk.not_files)
    from ..metadata.safewrite import remove_stale_temp_files

    for folder in walk.temp_folders:         # hidden copies left by tag writes that were killed
        summary.temp_files_removed += len(remove_stale_temp_files(folder))
    if not walk.complete:
        summary.cancelled = True
        summary.elapsed_s = time.monotonic() - t_start
        return summary

    # 2. reconcile with the database ------------------------------------------------------------------
    known: dict[bytes, tuple] = {}
    for r in roots:
        known.update(library.track_states_under(r))
    found: dict[bytes, FoundFile] = {os.fsencode(f.path): f for f in walk.files}
    retry_ids = set()
    if known:
        retry_ids = {r[0] for r in library.connection.execute(
            "SELECT DISTINCT e.track_id FROM errors e JOIN tracks t ON t.id = e.track_id"
            " WHERE e.stage = 'scan' AND e.kind = 'UnreadableFileError' AND t.status = 'error'")}

    to_read: list[tuple[FoundFile, int | None]] = []    # (file, existing track id)
    new_files: list[FoundFile] = []
    reappeared: list[tuple[int, FoundFile]] = []
    for pb, f in found.items():
        st = known.get(pb)
        if st is None:
            new_files.append(f)
            continue
        tid, size, mtime_ns, status, _fp = st
        same = size == f.size and mtime_ns == f.mtime_ns
        if same and status == "gone":
            reappeared.append((tid, f))
            summary.unchanged += 1
        elif same and tid not in retry_ids:
            summary.unchanged += 1
        else:
            to_read.append((f, tid))
            summary.changed += 1
    unlisted = [os.fsencode(normalize_path(d)) for d, _ in walk.unlisted]
    missing = {pb: st for pb, st in known.items()
               if pb not in found and st[3] != "gone" and not _is_under(pb, unlisted)}

    # moves: a new file with the size and fingerprint of a track whose file is no longer there:
    # a track missing from these folders, one already gone, or (moved in from a folder not
    # scanned now) one whose file does not exist any more.
    moves: list[tuple[int, FoundFile, bytes]] = []
    conn = library.connection
    vanished: dict[tuple[int, bytes], list[int]] = {}
    for st in missing.values():
        if st[4] is not None:
            vanished.setdefault((st[1], bytes(st[4])), []).append(st[0])
    for tid, size, fp in conn.execute(
            "SELECT id, size, fingerprint FROM tracks WHERE status = 'gone' AND fingerprint IS NOT NULL"):
        vanished.setdefault((size, bytes(fp)), []).append(tid)
    roots_b = [os.fsencode(r) for r in roots]
    claimed: set[int] = set()

    def elsewhere_and_vanished(size: int, fp: bytes) -> int | None:
        for tid, pb in conn.execute(
                "SELECT id, path FROM tracks WHERE size = ? AND fingerprint = ? AND status != 'gone'"
                " LIMIT 20", (size, fp)):
            pb = bytes(pb)
            if (tid in claimed or pb in found or pb in known or pb in roots_b
                    or _is_under(pb, roots_b)):
                continue
            if not os.path.lexists(path_from_db(pb)):
                return tid
        return None

    for f in new_files:
        if is_cancelled():
            break
        if not conn.execute("SELECT 1 FROM tracks WHERE size = ? AND fingerprint IS NOT NULL LIMIT 1",
                            (f.size,)).fetchone():
            to_read.append((f, None))
            continue
        try:
            fp = content_fingerprint(f.path)
        except FileError:
            to_read.append((f, None))
            continue
        pool = vanished.get((f.size, fp))
        target = pool.pop(0) if pool else elsewhere_and_vanished(f.size, fp)
        if target is None:
            to_read.append((f, None))
        else:
            claimed.add(target)
            moves.append((target, f, fp))
    if is_cancelled():
        summary.cancelled = True
        summary.elapsed_s = time.monotonic() - t_start
        return summary
    summary.new = sum(1 for _, tid in to_read if tid is None)

    with library.transaction():
        for tid, f, fp in moves:
            old = path_from_db(conn.execute("SELECT path FROM tracks WHERE id = ?", (tid,)).fetchone()[0])
            missing.pop(os.fsencode(old), None)
            library.update_track(tid, path=f.path, size=f.size, mtime_ns=f.mtime_ns, fingerprint=fp)
            conn.execute("UPDATE errors SET path = ?, path_text = ? WHERE track_id = ?",
                         (path_to_db(f.path), printable_path(f.path), tid))
            library.update_track(tid, status=library.settled_status(tid))
        summary.moved = len(moves)
        for tid, f in reappeared:
            library.update_track(tid, status=library.settled_status(tid))
        library.set_status((st[0] for st in missing.values()), "gone")
        summary.gone = len(missing)
        # folder-level problems are replaced by this scan's
        for r in roots:
            library.clear_errors(under=r, stages=["scan"], trackless_only=True)
        for folder, why in walk.unlisted:
            library.add_error("scan", "UnreadableFolder", f"this folder cannot be read ({why}); "
                              "the files in it were left as they were", path=folder)

    # 3. read tags of new and changed files -------------------------------------------------------------
    failed_paths: set[str] = set()

    def fail(path: str, stage: str, error: BaseException, track_id: int | None) -> None:
        library.add_file_error(stage, error, track_id=track_id, path=None if track_id else path)
        if isinstance(error, FileError):
            kind, reason = error.kind, error.reason
        else:
            kind, reason = type(error).__name__, str(error)
        summary.failures.append(ScanFailure(path, stage, kind, reason))
        failed_paths.add(path)

    with _Batches(library, commit_every, commit_seconds) as batches:
        for i, (f, tid) in enumerate(to_read):
            if is_cancelled():
                summary.cancelled = True
                break
            batches.open()
            with library.transaction():
                _read_one(library, f, tid, fail)
            batches.tick()
            report("read", i + 1, len(to_read), f.path)
    if summary.cancelled:
        summary.failed = len(failed_paths)
        summary.elapsed_s = time.monotonic() - t_start
        return summary

    # 4. analyse ---------------------------------------------------------------------------------------
    if analyse:
        statuses = ["new", "analysed", "written"] + (["error"] if retry_failed else [])
        todo: dict[str, int] = {}
        missing: dict[int, list[str]] = {}       # track id -> profile models it has no analysis by
        for name in model_names:
            for r in roots:
                for row in library.query_tracks(under=r, status=statuses, not_analysed_with=name):
                    todo[row.path] = row.id
                    missing.setdefault(row.id, []).append(name)
        if retry_failed:  # files that could not even be read are not worth decoding
            bad = {r[0] for r in conn.execute(
                "SELECT track_id FROM errors WHERE stage = 'scan' AND kind != 'TagReadError'"
                " AND track_id IS NOT NULL")}
            todo = {p: t for p, t in todo.items() if t not in bad}
        for r in roots:  # a root given as a single file
            t = library.get_track_by_path(r)
            if t is not None and t.status in statuses:
                need = [m for m in model_names if library.get_analysis(t.id, m) is None]
                if need:
                    todo[t.path] = t.id
                    missing[t.id] = need
        if tagger is not None:
            groups = {tuple(model_names): todo} if todo else {}
        else:
            # Tracks missing the same models are analysed together; a library analysed before
            # a model joined the profile runs just that model, once.
            groups = {}
            for path, tid in todo.items():
                groups.setdefault(tuple(missing.get(tid, model_names)), {})[path] = tid
        # Claim the tracks, so that a second scan running at the same time skips them.
        claimed = library.claim_tracks({tid for g in groups.values() for tid in g.values()})
        for key, group in list(groups.items()):
            kept = {p: t for p, t in group.items() if t in claimed}
            summary.in_progress_elsewhere += len(group) - len(kept)
            if kept:
                groups[key] = kept
            else:
                del groups[key]
        try:
            _analyse_groups(library, groups, tagger, sources, summary, fail, report, is_cancelled,
                            commit_every, commit_seconds, device, workers, max_patches)
        finally:
            library.release_claims(claimed)
        if rhythm and not summary.cancelled:
            _rhythm_phase(library, roots, summary, fail, report, is_cancelled, workers,
                          quick=max_patches is not None, commit_every=commit_every,
                          commit_seconds=commit_seconds)

    summary.failed = len(failed_paths)
    summary.elapsed_s = time.monotonic() - t_start
    return summary


def _analyse_groups(library: Library, groups: dict, tagger: Any, sources: dict, summary: ScanSummary,
                    fail, report: ProgressFn, is_cancelled: CancelFn, commit_every: int,
                    commit_seconds: float, device: str | None, workers: int | None,
                    max_patches: int | None | str) -> None:
    """Analyse each group of tracks with the models it lacks (a Tagger per group)."""
    for models, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if is_cancelled():
            summary.cancelled = True
            break
        own_tagger = tagger is None
        run = tagger
        if own_tagger:
            from ..tagger import FAST_ANALYSIS_PATCHES, Tagger

            if max_patches == "fast":
                max_patches = FAST_ANALYSIS_PATCHES
            run = Tagger([sources[m] for m in models], device=device, workers=workers,
                         max_patches=max_patches)
        try:
            for info in getattr(run, "infos", [run.info]):
                library.register_model(info)
            _analyse(library, run, group, summary, fail, report, is_cancelled,
                     commit_every, commit_seconds)
        finally:
            if own_tagger:
                run.close()


#: A tempo/key phase of at most this many tracks runs in this process: spawning workers takes
#: about 4 s on 2 cores (``benchmarks/bench_rhythm.py``), about what 20 tracks take here.
SMALL_RHYTHM_PHASE = 16


def _rhythm_phase(library: Library, roots: list[str], summary: ScanSummary, fail,
                  report: ProgressFn, is_cancelled: CancelFn, workers: int | None, *, quick: bool,
                  commit_every: int, commit_seconds: float) -> None:
    """Tempo, beats and key of the analysed tracks under ``roots`` that have none yet, decoded
    again at 22,050 Hz (the part analysed only) in worker processes; claimed like the tagging."""
    from ..rhythm.track import rhythm_job, rhythm_record

    paths: dict[int, str] = {}
    for r in roots:
        for pb, (tid, _size, _mtime, status, _fp) in library.track_states_under(r).items():
            if status in ("analysed", "written"):
                paths[tid] = path_from_db(pb)
    todo = library.tracks_without_rhythm(paths)
    if not todo:
        return
    claimed = library.claim_tracks(set(todo))
    summary.in_progress_elsewhere += len(todo) - len(claimed)
    todo = [t for t in todo if t in claimed]
    from ..tagger import default_workers

    n_workers = default_workers() if workers is None else workers
    if len(todo) <= SMALL_RHYTHM_PHASE:
        n_workers = 0      # starting workers (torch, the model) costs more than a few tracks
    try:
        with _Batches(library, commit_every, commit_seconds) as batches:
            for done, (tid, outcome) in enumerate(
                    _run_jobs(rhythm_job, [(t, paths[t], quick) for t in todo], n_workers,
                              is_cancelled), start=1):
                batches.open()
                with library.transaction():
                    if isinstance(outcome, BaseException):
                        fail(paths[tid], "analyse", outcome, tid)
                    else:
                        library.store_rhythm(rhythm_record(tid, outcome))
                        summary.rhythm_analysed += 1
                batches.tick()
                report("rhythm", done, len(todo), paths[tid])
    finally:
        library.release_claims(claimed)
    if is_cancelled():
        summary.cancelled = True


def _run_jobs(job, args: list[tuple], n_workers: int, is_cancelled: CancelFn):
    """``(args[i][0], job(*args[i]))`` for each item, in worker processes (in this one when
    ``n_workers`` is 0), at most two jobs per worker in flight so a cancel is quick."""
    if n_workers <= 0:
        for a in args:
            if is_cancelled():
                return
            yield a[0], job(*a)
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    from ..rhythm.track import worker_init

    pending = list(reversed(args))
    with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("spawn"),
                                initializer=worker_init) as pool:
        running: dict = {}
        try:
            while pending or running:
                while pending and len(running) < 2 * n_workers and not is_cancelled():
                    a = pending.pop()
                    running[pool.submit(job, *a)] = a
                if not running:
                    return
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    a = running.pop(fut)
                    try:
                        yield a[0], fut.result()
                    except Exception as exc:   # a crashed worker: this file's error, not the scan's
                        from ..errors import DecoderCrashError

                        yield a[0], DecoderCrashError(a[1], "the tempo and key analysis stopped "
                                                            f"unexpectedly ({type(exc).__name__})")
                if is_cancelled():
                    pending.clear()
        finally:
            for fut in running:
                fut.cancel()


#: The decoded audio is this much shorter than the file's header says (and at least 1 s):
#: the file is cut short (a WAV/AIFF header keeps its length when the data is truncated).
CUT_SHORT_FRACTION = 0.05


def _note_cut_short(library: Library, tid: int, res: Any, summary: ScanSummary) -> None:
    """When the decoder found less audio than the header promised, store the real duration
    and say so: a warning on the analysis and a note in the scan summary."""
    track = library.get_track(tid)
    header = track.duration_s if track is not None else None
    real = float(getattr(res, "duration_s", 0.0) or 0.0)
    if not header or not real or header - real < max(1.0, CUT_SHORT_FRACTION * header):
        return
    why = (f"the file is cut short: its header promises {header:.1f} s but the audio ends at "
           f"{real:.1f} s; the {real:.1f} s there were analysed")
    for r in getattr(res, "by_model", [res]):
        if why not in r.warnings:
            r.warnings.append(why)
    library.update_track(tid, duration_s=real)
    summary.notes.append((track.path, why))


def _read_one(library: Library, f: FoundFile, tid: int | None,
              fail: Callable[[str, str, BaseException, int | None], None]) -> None:
    """Fingerprint and read the tags of one new or changed file (inside a savepoint)."""
    try:
        st = os.stat(f.path)
    except FileNotFoundError:  # vanished since the walk
        if tid is not None:
            library.update_track(tid, status="gone")
        return
    except OSError:
        st = None
    size = st.st_size if st else f.size
    mtime_ns = st.st_mtime_ns if st else f.mtime_ns
    ext = os.path.splitext(f.path)[1].lower().lstrip(".") or None
    problem: FileError | None = None
    fp = None
    if size == 0:
        problem = EmptyFileError(f.path, "the file is empty (0 bytes)")
    else:
        try:
            fp = content_fingerprint(f.path)
        except FileError as exc:
            problem = exc
    if tid is not None:
        library.delete_analyses(tid)        # the content changed: old results are stale
        library.clear_errors(track_id=tid, stages=["scan", "decode", "analyse"])
    if problem is not None:
        tid = library.add_track(f.path, size=size, mtime_ns=mtime_ns, fingerprint=fp,
                                format=ext, status="error")
        fail(f.path, "scan", problem, tid)
        return
    meta, tag_error = FileMetadata({}), None
    try:
        meta = read_file_metadata(f.path)
    except FileError as exc:
        tag_error = exc
    except Exception as exc:  # a tag library bug must not stop the scan
        from ..errors import TagReadError

        tag_error = TagReadError(f.path, f"the tags cannot be read ({type(exc).__name__}: {exc})")
    tid = library.add_track(f.path, size=size, mtime_ns=mtime_ns, fingerprint=fp,
                            duration_s=meta.duration_s, format=meta.format or ext,
                            metadata=meta.fields, status="new")
    if tag_error is not None:
        fail(f.path, "scan", tag_error, tid)


def _analyse(library: Library, tagger: Any, todo: dict[str, int], summary: ScanSummary,
             fail, report: ProgressFn, is_cancelled: CancelFn, commit_every: int,
             commit_seconds: float) -> None:
    paths = sorted(todo)
    with _Batches(library, commit_every, commit_seconds) as batches:
        results = tagger.iter_tag(paths, progress=lambda d, t, p: report("analyse", d, t, p),
                                  cancel=is_cancelled)
        for res in results:
            tid = todo.get(res.path)
            if tid is None:
                continue
            batches.open()
            with library.transaction():
                if getattr(res, "ok", False):
                    _note_cut_short(library, tid, res, summary)
                    for r in getattr(res, "by_model", [res]):   # one analysis per model
                        library.store_analysis(tid, r.model, r.scores, r.embedding,
                                               n_patches=r.n_patches, duration_s=r.duration_s,
                                               warnings=r.warnings)
                    library.clear_errors(track_id=tid, stages=["decode", "analyse"])
                    summary.analysed += 1
                else:
                    err = res.error
                    library.clear_errors(track_id=tid, stages=["decode", "analyse"])
                    stage = "decode" if isinstance(err, AudioError) else "analyse"
                    fail(res.path, stage, err, tid)
                    library.set_status([tid], "error")
            batches.tick()
    if is_cancelled():
        summary.cancelled = True
