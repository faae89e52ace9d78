"""Prepare a data set once: decode every file, compute log-mel with the app's own front end,
and write float16 memory-mapped shards with an index (format: :mod:`training.shards`).

    tagatlas-train prepare mtt --root ~/data/mtt --out ~/data/mtt-seed
    python -m training.prepare mtt --root ~/data/mtt --out ~/data/mtt-seed    (same thing)

Decoding uses :mod:`engine.audio` (the app's decoder and resampler) and features use
:class:`engine.features.LogMel`, so training sees exactly what the tagger will see. Shards are
written by parallel worker processes (each also computes log-mel, on the GPU when there is
one, in batches). The run is resumable: a shard whose ``.json`` exists is complete and is
skipped when the same command runs again. Files that cannot be decoded are skipped and listed
with the reason in ``failures.csv``; a decoder that crashes its process costs only that file.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.errors import AudioError, DecoderCrashError
from engine.features import SEED_SPEC, FeatureSpec

from .datasets import Catalog, Item
from .shards import (DatasetMeta, multi_hot_string, read_meta, shard_name, write_index,
                     write_json_atomic)

#: Default length of the stored excerpt for patch specs (seconds): the whole of an MTT clip
#: (29.1 s) or an MSD preview (30 s); longer tracks keep their middle 30 s.
PATCH_EXCERPT_SECONDS = 30.0
#: Waveforms turned into log-mel per LogMel call inside a worker.
MEL_BATCH = 16

ProgressFn = Callable[[int, int, int], None]     # (items done, items total, failures so far)


# --- what gets stored ---------------------------------------------------------------------------
def stored_frames_for(spec: FeatureSpec, excerpt_seconds: float | None = None) -> int:
    """Frames stored per item: ``input_frames`` for centre specs, a long excerpt for patches."""
    if spec.excerpt == "centre" and excerpt_seconds is None:
        return spec.input_frames
    seconds = PATCH_EXCERPT_SECONDS if excerpt_seconds is None else excerpt_seconds
    return max(spec.input_frames, spec.n_frames(int(round(seconds * spec.sample_rate))))


def stored_samples(spec: FeatureSpec, frames: int) -> int:
    """Samples whose STFT gives exactly ``frames`` frames."""
    if spec.center:
        return (frames - 1) * spec.hop_length
    return (frames - 1) * spec.hop_length + spec.n_fft


def _pad(wave: np.ndarray, n: int, mode: str) -> np.ndarray:
    if wave.size >= n:
        return wave
    if mode == "repeat_pad" and wave.size > 0:
        return np.tile(wave, math.ceil(n / wave.size))[:n]
    return np.concatenate([wave, np.zeros(n - wave.size, np.float32)])


def decode_item(path: str, spec: FeatureSpec, frames: int) -> tuple[np.ndarray, int]:
    """The waveform whose log-mel is stored for one file, and how many frames are real audio.

    Centre specs: exactly what the tagger decodes (:func:`engine.audio.excerpts.decode_for_spec`,
    Choi et al.'s middle excerpt, padded by the spec's policy). Patch specs: the whole track when
    it fits in ``frames`` (padded to one patch when shorter, as the app does), so its log-mel
    equals the app's, which tiles the whole track from frame 0; a longer track keeps ``frames``
    frames from its middle, starting on the app's patch grid. The wave may give fewer than
    ``frames`` frames; :func:`_write_shard` pads the log-mel (never the audio, which would change
    the last real frames).
    """
    from engine.audio.decode import load_audio, probe
    from engine.audio.excerpts import MIN_AUDIO_SECONDS, decode_for_spec

    sr, hop = spec.sample_rate, spec.hop_length
    if spec.excerpt == "centre" and frames == spec.input_frames:
        track = decode_for_spec(path, spec)
        wave = track.segments[0].wave
        real = spec.n_frames(int(track.duration_s * sr))
        return wave, int(min(frames, max(1, real)))
    need = stored_samples(spec, frames)
    duration = probe(path).duration_s
    total_frames = spec.n_frames(int(round(duration * sr)))
    if total_frames <= frames + 1:
        wave = load_audio(path, sr, resampler=spec.resampler, min_duration_s=MIN_AUDIO_SECONDS)
    else:
        start = (total_frames - frames) // 2
        start -= start % spec.patch_hop_frames
        wave = load_audio(path, sr, start_s=start * hop / sr, duration_s=(need + hop) / sr,
                          resampler=spec.resampler, min_duration_s=MIN_AUDIO_SECONDS)
    real = spec.n_frames(wave.size)
    if real > frames:
        wave = wave[:need + hop - 1]          # the most audio that still gives exactly `frames` frames
    elif real < spec.input_frames:            # shorter than one patch: padded like the app pads it
        wave = _pad(wave, spec.excerpt_samples, spec.short_audio)
    return wave, int(min(frames, real))


# --- one shard ----------------------------------------------------------------------------------
_STATE: dict = {}     # per worker process: the LogMel front end


def _init_worker(spec_dict: dict, device: str, threads: int) -> None:
    import torch

    from engine.features import LogMel

    if threads > 0:
        torch.set_num_threads(threads)
    spec = FeatureSpec.from_dict(spec_dict)
    _STATE["logmel"] = LogMel(spec, device)
    _STATE["spec"] = spec


def _failure(item: Item, exc: BaseException) -> dict:
    if isinstance(exc, AudioError):
        kind, reason = exc.kind, exc.reason
    else:
        kind, reason = type(exc).__name__, str(exc) or type(exc).__name__
    return {"key": item.key, "path": item.path, "kind": kind, "reason": reason}


def _decode_or_fail(item: Item, spec: FeatureSpec, frames: int):
    try:
        return decode_item(item.path, spec, frames)
    except MemoryError:
        return AudioError(item.path, "not enough memory to decode this file")
    except Exception as exc:  # noqa: BLE001 - every other failure is this file's, not the run's
        return exc


def _write_shard(root: Path, shard: int, items: list[Item], frames: int, decode) -> dict:
    """Decode ``items`` with ``decode(item) -> (wave, real_frames) | exception``, compute log-mel
    in batches, write ``shards/NNNNNN.npy`` then ``.json`` (the completion mark)."""
    import torch

    logmel = _STATE["logmel"]
    spec: FeatureSpec = _STATE["spec"]
    records, failures, mels = [], [], []
    pending: list[tuple[Item, np.ndarray, int]] = []

    def flush() -> None:
        if not pending:
            return
        by_size: dict[int, list[int]] = {}          # one LogMel batch per wave length
        for k, (_, w, _) in enumerate(pending):
            by_size.setdefault(w.size, []).append(k)
        mel: list[np.ndarray] = [np.empty(0)] * len(pending)
        with torch.inference_mode():
            for ks in by_size.values():
                out = logmel(torch.from_numpy(np.stack([pending[k][1] for k in ks]))).cpu().numpy()
                for k, m in zip(ks, out):
                    if m.shape[-1] < frames:        # a shorter track: pad with its own silence level
                        m = np.pad(m, ((0, 0), (0, frames - m.shape[-1])), constant_values=m.min())
                    mel[k] = m.astype(np.float16)
        for (item, _, real), m in zip(pending, mel):
            if m.shape[-1] != frames:
                failures.append({"key": item.key, "path": item.path, "kind": "FeatureError",
                                 "reason": f"got {m.shape[-1]} frames instead of {frames}"})
                continue
            if not np.isfinite(m).all():
                failures.append({"key": item.key, "path": item.path, "kind": "FeatureError",
                                 "reason": "the log-mel spectrogram has invalid values"})
                continue
            records.append({"key": item.key, "offset": len(mels), "frames": real})
            mels.append(m)
        pending.clear()

    for item in items:
        out = decode(item)
        if isinstance(out, BaseException):
            failures.append(_failure(item, out))
            continue
        wave, real = out
        pending.append((item, np.ascontiguousarray(wave, np.float32), real))
        if len(pending) >= MEL_BATCH:
            flush()
    flush()
    arr = np.stack(mels) if mels else np.zeros((0, spec.n_mels, frames), np.float16)
    folder = root / "shards"
    npy = folder / f"{shard_name(shard)}.npy"
    tmp = folder / f"{shard_name(shard)}.npy.tmp"
    with open(tmp, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, npy)
    summary = {"shard": shard, "items": records, "failures": failures}
    write_json_atomic(folder / f"{shard_name(shard)}.json", summary)
    return summary


def _ping() -> bool:
    return True


def _check_workers_start(pool: cf.ProcessPoolExecutor) -> None:
    """Fail clearly when worker processes die before doing any work (so that a broken setup is
    not mistaken for decoder crashes in every file)."""
    try:
        pool.submit(_ping).result()
    except cf.process.BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise RuntimeError(
            "the worker processes could not start. When calling training.prepare.prepare() from "
            "a script, put the call under `if __name__ == \"__main__\":` (workers are spawned and "
            "import the script); or pass workers=0") from None


def _shard_job(root: str, shard: int, items: list[Item], frames: int) -> dict:
    spec = _STATE["spec"]
    return _write_shard(Path(root), shard, items, frames, lambda it: _decode_or_fail(it, spec, frames))


def _quiet_worker_init(spec_dict: dict) -> None:
    try:   # decoders print notes for damaged files; our failure list says it in words
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _isolated_decode(item: Item, spec_dict: dict, frames: int):
    return _decode_or_fail(item, FeatureSpec.from_dict(spec_dict), frames)


def _shard_isolated(root: Path, shard: int, items: list[Item], frames: int, spec: FeatureSpec) -> dict:
    """A shard that crashed its worker twice: decode each file in a helper process, so that a
    decoder crash costs only the file that caused it."""
    ctx = mp.get_context("spawn")
    pool: list[cf.ProcessPoolExecutor | None] = [None]

    def decode(item: Item):
        if pool[0] is None:
            pool[0] = cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=_quiet_worker_init,
                                             initargs=(spec.to_dict(),))
        try:
            return pool[0].submit(_isolated_decode, item, spec.to_dict(), frames).result()
        except cf.process.BrokenProcessPool:
            pool[0].shutdown(wait=False)
            pool[0] = None
            return DecoderCrashError(item.path, "the audio decoder crashed while reading this file "
                                                "(the file is probably damaged)")

    try:
        return _write_shard(root, shard, items, frames, decode)
    finally:
        if pool[0] is not None:
            pool[0].shutdown()


# --- the whole run ------------------------------------------------------------------------------
@dataclass
class PrepareResult:
    out_dir: Path
    n_items: int             # prepared (in the index)
    n_failed: int            # could not be decoded (failures.csv)
    n_left_out: int          # left out by the reader (left_out.csv)
    n_shards: int
    skipped_shards: int      # already complete from an earlier run
    seconds: float


def plan_fingerprint(items: list[Item], spec: FeatureSpec, frames: int, shard_size: int) -> str:
    h = hashlib.sha1()
    h.update(json.dumps([spec.to_dict(), frames, shard_size], sort_keys=True).encode())
    for it in items:
        h.update(f"{it.key}\0{it.path}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def default_workers() -> int:
    return max(1, min(16, (os.cpu_count() or 2) - 1))


def _pick_device(device: str | None) -> str:
    """The device asked for (checked: :class:`engine.errors.DeviceError` when it is not
    there), else CUDA when present, else the CPU."""
    if device and device != "auto":
        from engine.tagger import pick_device

        return pick_device(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def prepare(catalog: Catalog, out_dir: str | os.PathLike, spec: FeatureSpec = SEED_SPEC, *,
            workers: int | None = None, shard_size: int = 256, excerpt_seconds: float | None = None,
            device: str | None = None, overwrite: bool = False, retry_failed: bool = False,
            progress: ProgressFn | None = None) -> PrepareResult:
    """Write the shards and index of ``catalog`` under ``out_dir`` (see module doc).

    A rerun skips the shards already complete; files that cannot be decoded are listed in
    ``failures.csv``, the items the catalogue left out in ``left_out.csv``.

    Parameters
    ----------
    catalog : Catalog
        The data set: its items (key, path, tags, split), its tags in output order, and what
        was left out.
    out_dir : str or os.PathLike
        The folder to write (created when missing).
    spec : FeatureSpec, default SEED_SPEC
        The features to compute (the front end of the model to be trained).
    workers : int, optional
        Processes writing shards (0: all in this process); None: one fewer than the CPUs,
        between 1 and 16.
    shard_size : int, default 256
        Items per shard.
    excerpt_seconds : float, optional
        The excerpt stored per item, in seconds; None: :data:`PATCH_EXCERPT_SECONDS` for patch
        specs, the model's input length for centre specs.
    device : str, optional
        Where log-mel is computed ("cpu", "cuda", ...); None or "auto": CUDA when available,
        else the CPU.
    overwrite : bool, default False
        Discard an earlier, different preparation in ``out_dir`` instead of refusing.
    retry_failed : bool, default False
        On a rerun, redo the completed shards that list failures too (e.g. after fixing a mount
        that went away).
    progress : callable, optional
        ``progress(items done, items total, failures so far)``, at the start and after each shard.

    Returns
    -------
    PrepareResult
        The output folder, the items prepared, failed and left out, the shards written and
        skipped, and the seconds taken.

    Raises
    ------
    FileExistsError
        When ``out_dir`` holds a different preparation and ``overwrite`` is False.
    DeviceError
        When the ``device`` asked for is not there.
    """
    t0 = time.perf_counter()
    root = Path(out_dir)
    frames = stored_frames_for(spec, excerpt_seconds)
    items = list(catalog.items)
    plans = [items[a:a + shard_size] for a in range(0, len(items), shard_size)]
    fingerprint = plan_fingerprint(items, spec, frames, shard_size)
    meta = DatasetMeta(catalog.name, spec, catalog.tags, frames, shard_size, len(plans),
                       fingerprint, catalog.notes)

    if (root / "meta.json").is_file():
        old = read_meta(root)
        if old.fingerprint != fingerprint:
            if not overwrite:
                raise FileExistsError(
                    f"{root} already holds a different preparation (other files, feature spec or "
                    "shard size); pass --overwrite to replace it, or choose another --out")
            for name in ("shards", "index.csv", "failures.csv", "left_out.csv", "meta.json"):
                p = root / name
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
    (root / "shards").mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "meta.json", meta.to_json())

    summaries: dict[int, dict] = {}
    for i in range(len(plans)):
        js = root / "shards" / f"{shard_name(i)}.json"
        if js.is_file() and (root / "shards" / f"{shard_name(i)}.npy").is_file():
            summary = json.loads(js.read_text(encoding="utf-8"))
            if not (retry_failed and summary["failures"]):
                summaries[i] = summary
    skipped = len(summaries)
    todo = [i for i in range(len(plans)) if i not in summaries]
    total = len(items)
    done = sum(len(plans[i]) for i in summaries)
    n_fail = sum(len(s["failures"]) for s in summaries.values())

    def report(summary: dict) -> None:
        nonlocal done, n_fail
        summaries[summary["shard"]] = summary
        done += len(plans[summary["shard"]])
        n_fail += len(summary["failures"])
        if progress is not None:
            progress(done, total, n_fail)

    if progress is not None:
        progress(done, total, n_fail)
    dev = _pick_device(device)
    workers = default_workers() if workers is None else max(0, workers)
    if todo and workers == 0:
        _init_worker(spec.to_dict(), dev, 0)
        for i in todo:
            report(_shard_job(str(root), i, plans[i], frames))
    elif todo:
        crashes: dict[int, int] = {}
        queue = list(todo)
        threads = 1 if dev == "cpu" else 0
        while queue:
            pool = cf.ProcessPoolExecutor(min(workers, len(queue)), mp_context=mp.get_context("spawn"),
                                          initializer=_init_worker, initargs=(spec.to_dict(), dev, threads))
            _check_workers_start(pool)
            futures = {pool.submit(_shard_job, str(root), i, plans[i], frames): i for i in queue}
            queue = []
            try:
                for fut in cf.as_completed(futures):
                    i = futures[fut]
                    try:
                        report(fut.result())
                    except cf.process.BrokenProcessPool:
                        queue.append(i)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            for i in queue:
                crashes[i] = crashes.get(i, 0) + 1
            for i in [i for i in queue if crashes[i] >= 2]:     # isolate the culprit's shard
                queue.remove(i)
                _init_worker(spec.to_dict(), dev, 0)
                report(_shard_isolated(root, i, plans[i], frames, spec))

    # Merge the shard records into the index.
    by_key = {it.key: it for it in items}
    rows, failures = [], []
    for i in range(len(plans)):
        s = summaries[i]
        for rec in s["items"]:
            it = by_key[rec["key"]]
            rows.append({"key": it.key, "split": it.split, "shard": i, "offset": rec["offset"],
                         "frames": rec["frames"], "tags": multi_hot_string(catalog.multi_hot(it)),
                         "path": it.path})
        failures += s["failures"]
    write_index(root, rows)
    _write_csv(root / "failures.csv", ("key", "path", "kind", "reason"), failures)
    _write_csv(root / "left_out.csv", ("key", "reason"),
               [{"key": k, "reason": r} for k, r in catalog.missing])
    meta.complete = True
    write_json_atomic(root / "meta.json", meta.to_json())
    return PrepareResult(root, len(rows), len(failures), len(catalog.missing), len(plans), skipped,
                         time.perf_counter() - t0)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


if __name__ == "__main__":
    from .cli import main

    sys.exit(main(["prepare", *sys.argv[1:]]))
