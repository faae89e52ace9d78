"""Analyse a large catalogue on Ray Data, into a folder of Parquet part files.

The pipeline (:func:`run_batch`):

1. **list** — the driver lists the files (folders are walked like a library scan; a file list
   or a manifest is taken as given).
2. **prepare** (CPU tasks) — per file: size, content fingerprint (the library scanner's, so an
   import matches by content); a file whose fingerprint is already in the output is passed on as
   skipped; the others are decoded for the primary model's :class:`~engine.features.FeatureSpec`
   exactly as :class:`~engine.tagger.Tagger` decodes (its own ``decode_job``) and, by default,
   their tempo, beats and key analysed (:func:`engine.rhythm.track.rhythm_job`, as a scan does).
3. **tag** (a pool of actors, each loading the models once: one GPU each when the cluster has
   GPUs, else CPU) — the app's own :class:`~engine.tagger.Tagger` over the decoded audio, with
   the same bundles and the same quick (8 patches) or full analysis as a library scan.
4. **write** (the driver) — each finished block becomes its own part file (written to a
   temporary name and renamed), so a killed run keeps what it finished and a rerun skips it.

A bad file (empty, not audio, cut short, unreadable) is a row with an error and its plain
reason; it never stops the job. Ray is imported only here, when a batch runs.
"""
from __future__ import annotations

import math
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import TagAtlasError

#: ``progress(done, total, analysed_now, path)`` after each block.
ProgressFn = Callable[[int, int, int], None]

RAY_MISSING = ("'tagatlas batch' needs Ray Data and pyarrow, which are not installed. Install them "
               "with:  python3 -m pip install \"tagatlas[batch]\"  (or: python3 -m pip install "
               "\"ray[data]>=2.9\" \"pyarrow>=14\")")


class RayMissingError(TagAtlasError):
    """Ray Data (or pyarrow) is not installed."""

    def __init__(self) -> None:
        super().__init__(RAY_MISSING)


def require_ray():
    """Import and return :mod:`ray` (with Ray Data and pyarrow), or raise :class:`RayMissingError`."""
    try:
        import pyarrow  # noqa: F401
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayMissingError() from None
    return ray


# --- listing ------------------------------------------------------------------------------------


@dataclass
class Listing:
    paths: list[str]
    not_files: list[tuple[str, str]] = field(default_factory=list)   # (path, why left out)
    skipped_hidden: int = 0


def read_file_list(list_file: str | os.PathLike) -> list[str]:
    """The paths of a text file, one per line (relative ones are relative to the list's folder;
    blank lines and lines starting with # are ignored)."""
    base = Path(list_file).resolve().parent
    out = []
    with open(list_file, "rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\r\n")
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            p = os.fsdecode(line)
            out.append(p if os.path.isabs(p) else str(base / p))
    return out


def read_manifest(manifest: str | os.PathLike) -> list[str]:
    """The ``path`` column of a manifest: CSV (with a header), JSON lines, or Parquet."""
    m = str(manifest)
    base = Path(m).resolve().parent
    low = m.lower()
    if low.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(m)
        if "path" not in table.column_names:
            raise TagAtlasError(f"{m}: the manifest has no 'path' column")
        paths = [os.fsdecode(p) if isinstance(p, bytes) else p for p in table.column("path").to_pylist()]
    elif low.endswith((".jsonl", ".ndjson", ".json")):
        import json

        paths = []
        with open(m, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        paths.append(json.loads(line)["path"])
                    except (ValueError, KeyError, TypeError):
                        raise TagAtlasError(f"{m}, line {n}: not a JSON object with a 'path'") from None
    else:
        import csv

        with open(m, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise TagAtlasError(f"{m}: the manifest has no 'path' column (CSV with a header)")
            paths = [row["path"] for row in reader if row.get("path")]
    return [p if os.path.isabs(p) else str(base / p) for p in paths if p]


def list_inputs(inputs: Sequence[str | os.PathLike] = (), *, files_from: str | None = None,
                manifest: str | None = None) -> Listing:
    """Every file to analyse: folders walked as a library scan walks them (audio extensions,
    hidden and system entries left out), single files, and the paths of a list or manifest
    (taken as given: a missing one becomes a row with its error). Each path once, in order."""
    from ..library.walk import walk_audio_files

    listing = Listing([])
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            listing.paths.append(p)

    for inp in inputs:
        p = os.path.abspath(os.fsdecode(inp))
        if os.path.isdir(p):
            walk = walk_audio_files([p])
            listing.not_files += walk.not_files
            listing.not_files += [(d, f"this folder cannot be read ({why})") for d, why in walk.unlisted]
            listing.skipped_hidden += walk.skipped
            for f in walk.files:
                add(f.path)
        elif os.path.lexists(p):
            add(p)
        else:
            raise TagAtlasError(f"{p}: no such file or folder")
    if files_from:
        for p in read_file_list(files_from):
            add(os.path.abspath(p))
    if manifest:
        for p in read_manifest(manifest):
            add(os.path.abspath(p))
    return listing


# --- stage 2: prepare (CPU tasks) -----------------------------------------------------------------


def _prepare_one(path_bytes: bytes, spec, max_patches: int | None, rhythm: bool,
                 done: frozenset) -> dict[str, Any]:
    from ..errors import EmptyFileError, FileError, UnreadableFileError
    from ..library.reading import content_fingerprint
    from ..tagger import Tagger

    path = os.fsdecode(path_bytes)
    item: dict[str, Any] = {"path_bytes": path_bytes, "size": None, "mtime_ns": None, "fingerprint": None}
    try:
        st = os.stat(path)
    except FileNotFoundError:
        item["error"] = ("scan", UnreadableFileError(path, "the file does not exist (moved or deleted?)"))
        return item
    except OSError as exc:
        item["error"] = ("scan", UnreadableFileError(path, f"the file cannot be read ({exc.strerror or exc})"))
        return item
    item["size"], item["mtime_ns"] = st.st_size, st.st_mtime_ns
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        from ..library.walk import why_not_a_file

        item["error"] = ("scan", UnreadableFileError(path, why_not_a_file(st.st_mode)))
        return item
    try:
        item["fingerprint"] = content_fingerprint(path)
    except FileError as exc:
        item["error"] = ("scan", exc)
        return item
    if item["fingerprint"] in done:
        item["skip"] = True
        return item
    if st.st_size == 0:
        item["error"] = ("scan", EmptyFileError(path, "the file is empty (0 bytes)"))
        return item
    outcome = Tagger.decode_job(path, spec, max_patches)      # never raises: a track or its AudioError
    if isinstance(outcome, BaseException):
        item["error"] = ("decode", outcome)
        return item
    item["decoded"] = outcome
    if rhythm:
        from ..rhythm.track import rhythm_job

        try:
            r = rhythm_job(0, path, max_patches is not None)
        except Exception as exc:  # noqa: BLE001 - the job catches what it knows; anything else is this file's
            r = exc
        item["rhythm_error" if isinstance(r, BaseException) else "rhythm"] = r
    return item


def prepare_block(table, *, spec_json: dict, max_patches: int | None, rhythm: bool, done: frozenset):
    """Ray Data map: ``path_bytes`` rows -> ``payload`` rows (a pickled per-file dict)."""
    import pyarrow as pa

    from ..features import FeatureSpec

    spec = FeatureSpec.from_dict(spec_json)
    payloads = []
    for pb in table.column("path_bytes").to_pylist():
        try:
            item = _prepare_one(pb, spec, max_patches, rhythm, done)
        except Exception as exc:  # noqa: BLE001 - a bug must be this file's error, not the job's
            from ..errors import AudioError

            item = {"path_bytes": pb, "error": ("decode", AudioError(
                os.fsdecode(pb), f"unexpected failure while reading the file: {type(exc).__name__}: {exc}"))}
        payloads.append(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
    return pa.table({"payload": pa.array(payloads, pa.large_binary())})


# --- stage 3: tag (actors) ---------------------------------------------------------------------------


class TagActor:
    """Holds one :class:`~engine.tagger.Tagger` (the models, loaded once) and tags decoded blocks."""

    def __init__(self, models: list[str], device: str | None, max_patches: int | None,
                 threads: int | None = None) -> None:
        import torch

        from ..tagger import Tagger

        if threads:
            torch.set_num_threads(threads)
        self.tagger = Tagger(models, device=device, workers=0, max_patches=max_patches)
        self.max_patches = max_patches

    def _infer(self, tracks: list) -> list:
        """Results of ``tracks``, grouped for the model as :meth:`Tagger.iter_tag` groups them
        (a forward pass once ``batch_size`` patches are ready); one failing group is retried
        track by track so only the culprit fails."""
        results: dict[int, Any] = {}
        group: list[tuple[int, Any]] = []
        n = 0

        def flush() -> None:
            nonlocal group, n
            todo, group, n = group, [], 0
            if not todo:
                return
            try:
                for (i, _), r in zip(todo, self.tagger.infer([t for _, t in todo])):
                    results[i] = r
            except Exception as exc:  # noqa: BLE001 - retried track by track below
                if len(todo) == 1:
                    results[todo[0][0]] = exc
                    return
                for i, t in todo:
                    try:
                        results[i] = self.tagger.infer([t])[0]
                    except Exception as exc1:  # noqa: BLE001 - this track's error row, not the job's
                        results[i] = exc1
                del exc

        for i, t in enumerate(tracks):
            group.append((i, t))
            n += t.n_patches
            if n >= self.tagger.batch_size:
                flush()
        flush()
        return [results[i] for i in range(len(tracks))]

    def __call__(self, table):
        from ..errors import ModelError
        from . import records

        items = [pickle.loads(p) for p in table.column("payload").to_pylist()]
        decoded = [(k, it["decoded"]) for k, it in enumerate(items) if "decoded" in it]
        outcomes = dict(zip((k for k, _ in decoded), self._infer([t for _, t in decoded])))
        rows: list[dict[str, Any]] = []
        skipped = []
        for k, it in enumerate(items):
            if it.get("skip"):
                skipped.append(it["path_bytes"])
                continue
            if "error" in it:
                stage, err = it["error"]
                rows += records.file_rows(it, error=err, error_stage=stage, max_patches=self.max_patches)
                continue
            res = outcomes[k]
            if isinstance(res, BaseException):
                err = ModelError(f"the model failed on this file: {type(res).__name__}: {res}")
                rows += records.file_rows(it, error=err, error_stage="analyse", max_patches=self.max_patches)
            else:
                rows += records.file_rows(it, res.by_model, max_patches=self.max_patches)
        table = records.to_table(rows)
        import pyarrow as pa

        # skipped files travel as rows with outcome "skipped" (the driver counts and drops them)
        if skipped:
            from ..errors import printable_path

            extra = records.to_table([{"path": printable_path(os.fsdecode(pb)), "path_bytes": pb,
                                       "outcome": "skipped"} for pb in skipped])
            table = pa.concat_tables([table, extra])
        return table


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class BatchOptions:
    models: Any = None                    # profile name, bundle name(s) (default: the standard profile)
    max_patches: int | None | str = "quick"  # "quick": the scan's QUICK_ANALYSIS_PATCHES; None: all
    rhythm: bool = True
    address: str | None = None            # None: a local Ray instance; "auto" or host:port: a cluster
    workers: int | None = None            # CPUs of the local instance (default: all)
    actors: int | None = None             # tagging actors (default: one per GPU, else one per CPU)
    device: str | None = None             # "cpu" forces CPU actors on a cluster with GPUs
    block_size: int | None = None         # files per block = per part file (default 16 CPU, 64 GPU)
    retry_errors: bool = False            # analyse again the files that failed in an earlier run


@dataclass
class BatchSummary:
    out: str
    listed: int = 0
    analysed: int = 0
    failed: int = 0
    skipped: int = 0                      # already in the output (by fingerprint)
    parts_written: int = 0
    elapsed_s: float = 0.0
    actors: int = 0
    device: str = ""
    models: list[str] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)   # (path, stage, reason)
    not_files: list[tuple[str, str]] = field(default_factory=list)
    temp_removed: int = 0

    @property
    def tracks_per_s(self) -> float:
        return (self.analysed + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _quiet_ray_data() -> None:
    import logging

    import ray.data

    ctx = ray.data.DataContext.get_current()
    for attr, value in (("enable_progress_bars", False), ("print_on_execution_start", False),
                        ("enable_operator_progress_bars", False)):
        if hasattr(ctx, attr):
            setattr(ctx, attr, value)
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _runtime_env() -> dict | None:
    env = {k: os.environ[k] for k in ("TAGATLAS_MODELS_DIR", "TAGATLAS_DATA_DIR", "TAGATLAS_DEVICE")
           if os.environ.get(k)}
    return {"env_vars": env} if env else None


def run_batch(paths: Sequence[str], out: str | os.PathLike, options: BatchOptions | None = None, *,
              progress: ProgressFn | None = None, on_start: Callable[[BatchSummary], None] | None = None
              ) -> BatchSummary:
    """Analyse ``paths`` on Ray into the Parquet folder ``out`` (created; resumed when it holds
    part files). Joins the Ray instance already initialised in this process, else starts a local
    one (``options.workers`` CPUs) or connects to ``options.address``."""
    options = options or BatchOptions()
    ray = require_ray()
    from ..bundle import read_bundle_info
    from ..profiles import profile_models
    from ..tagger import QUICK_ANALYSIS_PATCHES
    from . import records

    t0 = time.monotonic()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TagAtlasError(f"{out}: the output must be a folder (of Parquet part files)")
    out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(out=str(out), listed=len(paths))
    summary.temp_removed = records.remove_temporary(out)

    sources = {}
    for m in profile_models(options.models):         # fails fast on a missing bundle
        info = read_bundle_info(m)
        sources[info.name] = (m, info)
    summary.models = list(sources)
    infos = [i for _, i in sources.values()]
    max_patches = (QUICK_ANALYSIS_PATCHES if options.max_patches in ("quick", "fast")
                   else options.max_patches)
    metadata = records.models_metadata(infos, max_patches)
    done = frozenset(records.done_fingerprints(out, failed=not options.retry_errors))

    started = False
    if not ray.is_initialized():
        import logging

        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        env = _runtime_env()
        if env:
            kwargs["runtime_env"] = env
        if options.address:
            ray.init(address=options.address, **kwargs)
        else:
            ray.init(num_cpus=options.workers, **kwargs)
        started = True
    try:
        _quiet_ray_data()
        res = ray.cluster_resources()
        cpus, gpus = float(res.get("CPU", 1)), int(res.get("GPU", 0))
        use_gpu = gpus > 0 and not (options.device or "").startswith("cpu")
        if use_gpu:
            n_actors = options.actors or gpus
            actor_res = {"num_gpus": 1, "num_cpus": 1}
            device = options.device or "cuda"
            prep_cpus, prep_concurrency = 1, max(1, int(cpus) - n_actors)
            block = options.block_size or 64
            threads = None
        else:
            # On n CPUs: n model actors (half a CPU each) and n decode tasks (a quarter each) run
            # side by side, so the decoding of one file overlaps the model of another. (The two
            # stages must not ask for the same resources, or Ray fuses them into the actors.)
            n_actors = options.actors or max(1, int(cpus))
            actor_res = {"num_cpus": 0.5}
            device = "cpu"
            prep_cpus, prep_concurrency = 0.25, max(1, int(cpus))
            block = options.block_size or 16
            threads = 1
        summary.actors, summary.device = n_actors, ("cuda" if use_gpu else "cpu")
        if on_start is not None:
            on_start(summary)
        if not paths:
            return summary
        import ray.data

        spec_json = infos[0].feature_spec.to_dict()
        n_blocks = max(1, math.ceil(len(paths) / block))
        ds = ray.data.from_items([{"path_bytes": os.fsencode(p)} for p in paths],
                                 override_num_blocks=n_blocks)
        ds = ds.map_batches(prepare_block, batch_size=block, batch_format="pyarrow", zero_copy_batch=True,
                            fn_kwargs={"spec_json": spec_json, "max_patches": max_patches,
                                       "rhythm": options.rhythm, "done": done},
                            num_cpus=prep_cpus,
                            compute=ray.data.TaskPoolStrategy(size=prep_concurrency))
        ds = ds.map_batches(TagActor, batch_size=block, batch_format="pyarrow", zero_copy_batch=True,
                            fn_constructor_kwargs={"models": [m for m, _ in sources.values()],
                                                   "device": device, "max_patches": max_patches,
                                                   "threads": threads},
                            compute=ray.data.ActorPoolStrategy(size=n_actors), **actor_res)
        run_id = records.new_run_id()
        for table in ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0):
            outcome = table.column("outcome").to_pylist()
            skipped = outcome.count("skipped")
            keep = [i for i, o in enumerate(outcome) if o != "skipped"]
            if keep:
                kept = table.take(keep)
                records.write_part(out, kept, metadata, run_id=run_id, seq=summary.parts_written)
                summary.parts_written += 1
                by_file: dict[bytes, list[dict]] = {}
                for r in kept.select(["path_bytes", "path", "outcome", "error_stage", "error_reason"]).to_pylist():
                    by_file.setdefault(r["path_bytes"], []).append(r)
                for rows in by_file.values():
                    if rows[0]["outcome"] == "error":
                        summary.failed += 1
                        summary.failures.append((rows[0]["path"], rows[0]["error_stage"], rows[0]["error_reason"]))
                    else:
                        summary.analysed += 1
            summary.skipped += skipped
            if progress is not None:
                progress(summary.analysed + summary.failed + summary.skipped, len(paths),
                         summary.analysed + summary.failed)
    finally:
        summary.elapsed_s = time.monotonic() - t0
        if started:
            ray.shutdown()
    return summary


def output_rows(out: str | os.PathLike) -> Iterable[dict[str, Any]]:
    """Every row of an output folder (for scripts and tests)."""
    from . import records

    for part in records.part_files(out):
        for rows in records.iter_files(part):
            yield from rows


__all__ = ["BatchOptions", "BatchSummary", "Listing", "RayMissingError", "list_inputs", "read_file_list",
           "read_manifest", "require_ray", "run_batch", "output_rows", "prepare_block", "TagActor"]
