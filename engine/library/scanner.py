"""Scanning music folders into the library: :func:`scan` runs four phases.

1. **walk** (:mod:`~engine.library.walk`) — every audio file under the folders, each once.
2. **reconcile** (:mod:`~engine.library.reconcile`) — unchanged files are left alone; known
   files no longer there are marked ``gone`` unless a new file has their content (a move: the
   track follows it).
3. **read** (:mod:`~engine.library.reading`) — new and changed files get a content fingerprint
   and their tags read.
4. **analyse** (:mod:`~engine.library.analysing`) — tracks lacking an analysis by one of the
   profile's models are tagged, then their tempo, beats and key are found.

Work is committed in batches (:class:`~engine.library.batches.CommitBatches`, every
``commit_every`` files or ``commit_seconds``), each file's changes atomically, so a scan that is
killed leaves a consistent database and the next scan carries on where it stopped.
``progress(phase, done, total, path)`` is called along the way (``total`` is 0 while walking,
when it is not known yet) and ``cancel()`` is checked often.
"""
from __future__ import annotations

import os
import time
from typing import Iterable

from ..errors import LibraryError
from ..tagger import QUICK_ANALYSIS_PATCHES
from ..types import CancelFn, PhaseProgressFn, TaggerLike
from .analysing import (SMALL_RHYTHM_PHASE, analyse_groups, claim_groups, rhythm_phase,
                        tagger_infos, tracks_to_analyse)
from .batches import CommitBatches
from .db import Library
from .paths import normalize_path
from .reading import FileMetadata, content_fingerprint, metadata_from_filetags, read_file_metadata, read_one
from .reconcile import apply_reconciliation, reconcile
from .scanstate import ScanContext, ScanFailure, ScanSummary
from .walk import FoundFile, WalkResult, walk_audio_files

__all__ = [
    "SMALL_RHYTHM_PHASE", "FileMetadata", "FoundFile", "ScanFailure", "ScanSummary", "WalkResult",
    "content_fingerprint", "metadata_from_filetags", "read_file_metadata", "scan",
    "walk_audio_files",
]


def scan(library: Library, roots: Iterable[str | os.PathLike], *, model: str | None = None,
         analyse: bool = True, tagger: TaggerLike | None = None, workers: int | None = None,
         device: str | None = None, progress: PhaseProgressFn | None = None,
         cancel: CancelFn | None = None, retry_failed: bool = False,
         commit_every: int = 50, commit_seconds: float = 2.0,
         max_patches: int | None = QUICK_ANALYSIS_PATCHES, rhythm: bool = True) -> ScanSummary:
    """Bring the library up to date with ``roots`` and analyse what needs it.

    Runs the four phases of the module docstring (walk, reconcile, read, analyse), committing in
    batches, so a scan that is killed can be run again and carries on. Per-file problems never
    raise: they are recorded and counted in ``failed``.

    Parameters
    ----------
    library : Library
        The open library to update.
    roots : iterable of str or os.PathLike
        The music folders to scan (at least one).
    model : str, optional
        A profile, a bundle name or a bundle path for the :class:`~engine.tagger.Tagger` (several
        models joined by "+"); None: the default profile. Ignored when ``tagger`` is given.
    analyse : bool, default True
        False only records files and their tags (no tagging, no tempo and key).
    tagger : TaggerLike, optional
        A ready tagger to use instead of loading ``model``; it runs all its models on every track
        that needs one of them, and is not closed here.
    workers : int, optional
        Decode processes of the tagger and processes of the tempo/key phase (0: all in this
        process); None: the engine's default (up to 4).
    device : str, optional
        Where the models run ("cpu", "cuda", "cuda:1"); None: automatic (the TAGATLAS_DEVICE
        environment variable, else CUDA when present, else the CPU).
    progress : callable, optional
        ``progress(phase, done, total, path)`` along the way (``total`` is 0 while walking, when
        it is not known yet).
    cancel : callable, optional
        ``cancel()`` is checked often; when it returns True the scan stops after committing what
        is done, with ``cancelled`` set in the summary.
    retry_failed : bool, default False
        Analyse again files whose decoding failed before (they are otherwise retried only once
        they change).
    commit_every : int, default 50
        Commit the work at least every this many files.
    commit_seconds : float, default 2.0
        Commit the work at least this often, in seconds.
    max_patches : int or None, default QUICK_ANALYSIS_PATCHES
        For patch models, analyse at most this many patches spread over each track (default: the
        quick analysis, :data:`~engine.tagger.QUICK_ANALYSIS_PATCHES`; None: every patch, as the
        original).
    rhythm : bool, default True
        Also analyse tempo, beats and key (:mod:`engine.rhythm`) of every analysed track under
        ``roots`` that has none yet (quick: the middle minute; with ``max_patches=None`` the
        whole track).

    Returns
    -------
    ScanSummary
        What was found, changed, analysed and failed, and how long it took.

    Raises
    ------
    LibraryError
        When ``roots`` is empty or a root does not exist (nothing is changed then).
    ModelError
        For a missing model (:class:`~engine.errors.ModelError`).
    """
    t_start = time.monotonic()
    roots = [normalize_path(r) for r in roots]
    if not roots:
        raise LibraryError("no folder to scan")
    summary = ScanSummary(roots=roots)
    library.recover_unfinished_writes()      # a killed tag write's file is journaled, not "changed"
    ctx = ScanContext(library, summary, progress or (lambda phase, done, total, path: None),
                      cancel or (lambda: False), commit_every=commit_every,
                      commit_seconds=commit_seconds, workers=workers, device=device)

    def finished() -> ScanSummary:
        summary.failed = len(ctx.failed_paths)
        summary.elapsed_s = time.monotonic() - t_start
        return summary

    model_names: list[str] = []
    sources: dict[str, str] = {}
    if analyse:
        if tagger is not None:
            model_names = [info.name for info in tagger_infos(tagger)]
        else:
            from ..bundle import read_bundle_info
            from ..profiles import profile_models

            # fails fast on a missing bundle; name -> what to load it from (a name or a path)
            sources = {read_bundle_info(m).name: m for m in profile_models(model)}
            model_names = list(sources)
        summary.model = "+".join(model_names)

    # 1. walk
    walk = walk_audio_files(roots, progress=ctx.report, cancel=ctx.cancel)
    summary.skipped, summary.loops, summary.unlisted = walk.skipped, walk.loops, list(walk.unlisted)
    summary.not_files = list(walk.not_files)
    from ..metadata.safewrite import remove_stale_temp_files

    for folder in walk.temp_folders:         # hidden copies left by tag writes that were killed
        summary.temp_files_removed += len(remove_stale_temp_files(folder))
    if not walk.complete:
        summary.cancelled = True
        return finished()

    # 2. reconcile with the database
    rec = reconcile(library, roots, walk, ctx.cancel)
    summary.unchanged, summary.changed = rec.unchanged, rec.changed
    if rec.cancelled or ctx.cancel():
        summary.cancelled = True
        return finished()
    summary.new = rec.new
    apply_reconciliation(library, roots, walk, rec)
    summary.moved, summary.gone = len(rec.moves), len(rec.missing)

    # 3. read the tags of new and changed files
    with CommitBatches(library, commit_every, commit_seconds) as batches:
        for i, item in enumerate(rec.to_read):
            if ctx.cancel():
                summary.cancelled = True
                break
            batches.open()
            with library.transaction():
                read_one(library, item.file, item.track_id, ctx.fail)
            batches.tick()
            ctx.report("read", i + 1, len(rec.to_read), item.file.path)
    if summary.cancelled or not analyse:
        return finished()

    # 4. analyse
    groups = tracks_to_analyse(ctx, roots, model_names, retry_failed=retry_failed)
    if tagger is not None and groups:      # a given tagger runs all its models on every track
        groups = {"\0".join(model_names): {p: t for g in groups.values() for p, t in g.items()}}

    def make_tagger(models: list[str]) -> TaggerLike:
        if tagger is not None:
            return tagger
        from ..tagger import Tagger

        return Tagger([sources[m] for m in models], device=device, workers=workers,
                      max_patches=max_patches)

    claimed = claim_groups(ctx, groups)
    try:
        analyse_groups(ctx, groups, make_tagger, own_taggers=tagger is None)
    finally:
        library.release_claims(claimed)
    if rhythm and not summary.cancelled:
        rhythm_phase(ctx, roots, quick=max_patches is not None)
    return finished()
