"""The scan's last phase: analyse the tracks that need it.

Tracks with no analysis by one of the profile's models (:mod:`engine.profiles`) go through
:class:`engine.tagger.Tagger` (decoding in worker processes); tracks missing the same models
are analysed together, so a library analysed before a model joined the profile runs just that
model, once. Then tempo, beats and key (:mod:`engine.rhythm`) of the analysed tracks that have
none yet. Tracks are claimed first, so a second scan at the same time skips them. A failure is
stored as that file's error; the scan goes on.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from typing import Any, Callable, Iterator

from ..errors import AudioError, DecoderCrashError
from ..types import CancelFn, TaggerLike
from .batches import CommitBatches
from .scanstate import ScanContext

#: A tempo/key phase of at most this many tracks runs in this process: spawning workers takes
#: about 4 s on 2 cores (``benchmarks/bench_rhythm.py``), about what 20 tracks take here.
SMALL_RHYTHM_PHASE = 16

#: The decoded audio is this much shorter than the file's header says (and at least 1 s):
#: the file is cut short (a WAV/AIFF header keeps its length when the data is truncated).
CUT_SHORT_FRACTION = 0.05


def tracks_to_analyse(ctx: ScanContext, roots: list[str], model_names: list[str], *,
                      retry_failed: bool) -> dict[str, dict[str, int]]:
    """``{models joined by "\\0": {path: track id}}``: the tracks under ``roots`` lacking an
    analysis, grouped by the models they lack (tracks that failed to decode only with
    ``retry_failed``; files that could not even be read never)."""
    lib = ctx.library
    statuses = ["new", "analysed", "written"] + (["error"] if retry_failed else [])
    todo: dict[str, int] = {}
    lacking: dict[int, list[str]] = {}       # track id -> profile models it has no analysis by
    for name in model_names:
        for r in roots:
            for row in lib.query_tracks(under=r, status=statuses, not_analysed_with=name):
                todo[row.path] = row.id
                lacking.setdefault(row.id, []).append(name)
    if retry_failed:  # files that could not even be read are not worth decoding
        bad = lib.track_ids_with_errors("scan", other_than="TagReadError")
        todo = {p: t for p, t in todo.items() if t not in bad}
    for r in roots:  # a root given as a single file
        t = lib.get_track_by_path(r)
        if t is not None and t.status in statuses:
            need = [m for m in model_names if lib.get_analysis(t.id, m) is None]
            if need:
                todo[t.path] = t.id
                lacking[t.id] = need
    groups: dict[str, dict[str, int]] = {}
    for path, tid in todo.items():
        groups.setdefault("\0".join(lacking.get(tid, model_names)), {})[path] = tid
    return groups


def claim_groups(ctx: ScanContext, groups: dict[str, dict[str, int]]) -> set[int]:
    """Claim the tracks of ``groups`` for this scan; tracks another running scan holds are left
    out of the groups (and counted). Returns the ids claimed, to release afterwards."""
    claimed = ctx.library.claim_tracks({tid for g in groups.values() for tid in g.values()})
    for key, group in list(groups.items()):
        kept = {p: t for p, t in group.items() if t in claimed}
        ctx.summary.in_progress_elsewhere += len(group) - len(kept)
        if kept:
            groups[key] = kept
        else:
            del groups[key]
    return claimed


def analyse_groups(ctx: ScanContext, groups: dict[str, dict[str, int]],
                   make_tagger: Callable[[list[str]], TaggerLike], *, own_taggers: bool) -> None:
    """Analyse each group of tracks with the models it lacks (``make_tagger(models)`` gives
    the tagger; closed afterwards when ``own_taggers``)."""
    for models, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if ctx.cancel():
            ctx.summary.cancelled = True
            break
        tagger = make_tagger(models.split("\0"))
        try:
            for info in tagger_infos(tagger):
                ctx.library.register_model(info)
            analyse_tracks(ctx, tagger, group)
        finally:
            if own_taggers:
                tagger.close()


def tagger_infos(tagger: Any) -> list:
    """The bundle infos of a tagger's models (a one-model tagger may only have ``info``)."""
    infos = getattr(tagger, "infos", None)
    return list(infos) if infos is not None else [tagger.info]


def analyse_tracks(ctx: ScanContext, tagger: TaggerLike, todo: dict[str, int]) -> None:
    """Tag ``{path: track id}`` and store one analysis per model, or each file's error."""
    lib, summary = ctx.library, ctx.summary
    with CommitBatches(lib, ctx.commit_every, ctx.commit_seconds) as batches:
        results = tagger.iter_tag(sorted(todo),
                                  progress=lambda d, t, p: ctx.report("analyse", d, t, p),
                                  cancel=ctx.cancel)
        for res in results:
            tid = todo.get(res.path)
            if tid is None:
                continue
            batches.open()
            with lib.transaction():
                lib.clear_errors(track_id=tid, stages=["decode", "analyse"])
                if getattr(res, "ok", False):
                    note_cut_short(ctx, tid, res)
                    for r in getattr(res, "by_model", [res]):   # one analysis per model
                        lib.store_analysis(tid, r.model, r.scores, r.embedding,
                                           n_patches=r.n_patches, duration_s=r.duration_s,
                                           warnings=r.warnings)
                    summary.analysed += 1
                else:
                    err = res.error
                    stage = "decode" if isinstance(err, AudioError) else "analyse"
                    ctx.fail(res.path, stage, err, tid)
                    lib.set_status([tid], "error")
            batches.tick()
    if ctx.cancel():
        summary.cancelled = True


def cut_short_reason(header_s: float | None, decoded_s: float | None) -> str | None:
    """Plain words for a file whose decoded audio (``decoded_s``) ends clearly before the
    duration its header promises (``header_s``), or None when it does not."""
    if not header_s or not decoded_s or header_s - decoded_s < max(1.0, CUT_SHORT_FRACTION * header_s):
        return None
    return (f"the file is cut short: its header promises {header_s:.1f} s but the audio ends at "
            f"{decoded_s:.1f} s; the {decoded_s:.1f} s there were analysed")


def note_cut_short(ctx: ScanContext, tid: int, res: Any) -> None:
    """When the decoder found less audio than the header promised, store the real duration
    and say so: a warning on the analysis and a note in the scan summary."""
    track = ctx.library.get_track(tid)
    header = track.duration_s if track is not None else None
    real = float(getattr(res, "duration_s", 0.0) or 0.0)
    why = cut_short_reason(header, real)
    if why is None:
        return
    for r in getattr(res, "by_model", [res]):
        if why not in r.warnings:
            r.warnings.append(why)
    ctx.library.update_track(tid, duration_s=real)
    ctx.summary.notes.append((track.path, why))


def rhythm_phase(ctx: ScanContext, roots: list[str], *, quick: bool) -> None:
    """Tempo, beats and key of the analysed tracks under ``roots`` that have none yet, decoded
    again at 22,050 Hz (the part analysed only) in worker processes; claimed like the tagging."""
    from ..rhythm.track import rhythm_job, rhythm_record

    lib = ctx.library
    paths: dict[int, str] = {}
    for r in roots:
        for st in lib.track_states_under(r).values():
            if st.status in ("analysed", "written"):
                paths[st.id] = st.path
    todo = lib.tracks_without_rhythm(paths)
    if not todo:
        return
    claimed = lib.claim_tracks(set(todo))
    ctx.summary.in_progress_elsewhere += len(todo) - len(claimed)
    todo = [t for t in todo if t in claimed]
    from ..tagger import default_workers

    n_workers = default_workers() if ctx.workers is None else ctx.workers
    if len(todo) <= SMALL_RHYTHM_PHASE:
        n_workers = 0      # starting workers (torch, the model) costs more than a few tracks
    try:
        with CommitBatches(lib, ctx.commit_every, ctx.commit_seconds) as batches:
            jobs = [(t, paths[t], quick) for t in todo]
            for done, (tid, outcome) in enumerate(run_jobs(rhythm_job, jobs, n_workers, ctx.cancel),
                                                  start=1):
                batches.open()
                with lib.transaction():
                    if isinstance(outcome, BaseException):
                        ctx.fail(paths[tid], "analyse", outcome, tid)
                    else:
                        lib.store_rhythm(rhythm_record(tid, outcome))
                        ctx.summary.rhythm_analysed += 1
                batches.tick()
                ctx.report("rhythm", done, len(todo), paths[tid])
    finally:
        lib.release_claims(claimed)
    if ctx.cancel():
        ctx.summary.cancelled = True


def run_jobs(job: Callable, args: list[tuple], n_workers: int,
             cancel: CancelFn) -> Iterator[tuple[Any, Any]]:
    """``(args[i][0], job(*args[i]))`` for each item, in worker processes (in this one when
    ``n_workers`` is 0), at most two jobs per worker in flight so a cancel is quick. A job
    whose worker died yields a :class:`DecoderCrashError` for ``args[i][1]`` (the file)."""
    if n_workers <= 0:
        for a in args:
            if cancel():
                return
            yield a[0], job(*a)
        return
    from ..rhythm.track import worker_init

    pending = list(reversed(args))
    with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("spawn"),
                                initializer=worker_init) as pool:
        running: dict = {}
        try:
            while pending or running:
                while pending and len(running) < 2 * n_workers and not cancel():
                    a = pending.pop()
                    running[pool.submit(job, *a)] = a
                if not running:
                    return
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    a = running.pop(fut)
                    try:
                        yield a[0], fut.result()
                    except Exception as exc:  # noqa: BLE001 - a crashed worker: this file's error, not the scan's
                        yield a[0], DecoderCrashError(a[1], "the tempo and key analysis stopped "
                                                            f"unexpectedly ({type(exc).__name__})")
                if cancel():
                    pending.clear()
        finally:
            for fut in running:
                fut.cancel()
