"""``tagatlas batch`` throughput: tracks/s with 1 and 2 Ray workers, and per-track stage costs.

    python benchmarks/bench_batch.py                 # 16 generated 4-minute WAVs, workers 1 and 2
    python benchmarks/bench_batch.py -n 32 --workers 1 2 4 --json

For each worker count, a local Ray instance with that many CPUs (this process and so Ray pinned
to that many cores) analyses the tracks into a fresh
output folder (the standard profile, the scan's quick analysis, tempo/beats/key): the wall time
(Ray start, model loading and all), and the steady rate between the first and the last finished
block. Then, in this process with one torch thread (as an actor has), what one track costs in
each stage: *prepare* (fingerprint, decode, tempo/beats/key: the CPU tasks) and *tag* (the models:
the actors). Those per-track figures are what a projection to a cluster is made from.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ray_run(paths: list[Path], workers: int, block: int, out: Path) -> dict:
    from engine.catalogue.batch import BatchOptions, run_batch

    if out.exists():
        shutil.rmtree(out)
    marks: list[tuple[float, int]] = []
    # Ray's CPU count is a reservation, not a limit: pin this process (and so the Ray processes
    # it starts) to that many cores, so that "1 worker" really has one core
    pinned = hasattr(os, "sched_setaffinity") and workers <= len(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0) if pinned else None
    if pinned:
        os.sched_setaffinity(0, sorted(before)[:workers])
    try:
        t0 = time.perf_counter()
        s = run_batch([str(p) for p in paths], out, BatchOptions(workers=workers, block_size=block),
                      progress=lambda done, total, now: marks.append((time.perf_counter(), now)))
        wall = time.perf_counter() - t0
    finally:
        if pinned:
            os.sched_setaffinity(0, before)
    assert s.analysed == len(paths) and s.failed == 0, s
    steady = None
    if len(marks) >= 2 and marks[-1][0] > marks[0][0]:
        steady = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])
    return {"workers": workers, "cores_pinned": workers if pinned else None, "actors": s.actors,
            "tracks": len(paths), "wall_s": round(wall, 2),
            "tracks_per_s_wall": round(len(paths) / wall, 3),
            "first_block_s": round(marks[0][0] - t0, 2) if marks else None,
            "tracks_per_s_steady": None if steady is None else round(steady, 3)}


def stage_costs(paths: list[Path], repeats: int) -> dict:
    """Median seconds per track of the two stages, in this process (one torch thread)."""
    import pyarrow as pa
    import torch

    from engine.bundle import read_bundle_info
    from engine.catalogue.batch import TagActor, prepare_block
    from engine.profiles import profile_models
    from engine.tagger import QUICK_ANALYSIS_PATCHES

    torch.set_num_threads(1)
    models = profile_models()
    spec = read_bundle_info(models[0]).feature_spec.to_dict()
    actor = TagActor(models, "cpu", QUICK_ANALYSIS_PATCHES, threads=1)
    kw = {"spec_json": spec, "max_patches": QUICK_ANALYSIS_PATCHES, "done": frozenset()}

    def one(p: Path, rhythm: bool):
        table = pa.table({"path_bytes": pa.array([os.fsencode(p)], pa.binary())})
        t0 = time.perf_counter()
        prepared = prepare_block(table, rhythm=rhythm, **kw)
        t1 = time.perf_counter()
        rows = actor(prepared)
        t2 = time.perf_counter()
        assert set(rows.column("outcome").to_pylist()) == {"ok"}
        return t1 - t0, t2 - t1

    one(paths[0], True)                     # warm-up: imports, the beat model, caches
    prep, prep_norhythm, tag = [], [], []
    for _ in range(repeats):
        for p in paths:
            a, b = one(p, True)
            prep.append(a)
            tag.append(b)
            prep_norhythm.append(one(p, False)[0])
    return {"prepare_s": round(statistics.median(prep), 4),
            "prepare_without_rhythm_s": round(statistics.median(prep_norhythm), 4),
            "tag_s": round(statistics.median(tag), 4), "torch_threads": 1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=16, help="generated tracks (default 16)")
    ap.add_argument("--seconds", type=float, default=240.0, help="track length (default 240)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray CPUs to compare")
    ap.add_argument("--block-size", type=int, default=2, help="files per block (default 2)")
    ap.add_argument("--repeats", type=int, default=1, help="passes for the stage costs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from benchmarks.common import make_tracks

    folder = Path(tempfile.gettempdir()) / "tagatlas-bench-batch"
    paths = make_tracks(folder / "tracks", args.n, args.seconds)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {"tracks": args.n, "seconds": args.seconds, "cpus": os.cpu_count(),
              "load_before": load, "runs": []}
    for w in args.workers:
        report["runs"].append(ray_run(paths, w, args.block_size, folder / f"out-{w}"))
    report["stages"] = stage_costs(paths, args.repeats)
    report["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.n} generated {args.seconds:.0f}-s tracks, standard profile, quick analysis + tempo/key; "
          f"{os.cpu_count()} CPUs, load {load:.1f} before, {report['load_after']:.1f} after")
    print("workers  actors  wall s  tracks/s (wall)  tracks/s (steady)  first block s")
    for r in report["runs"]:
        print(f"{r['workers']:>7}  {r['actors']:>6}  {r['wall_s']:>6}  {r['tracks_per_s_wall']:>15}  "
              f"{r['tracks_per_s_steady']!s:>17}  {r['first_block_s']:>13}")
    st = report["stages"]
    print(f"per track, one thread: prepare {st['prepare_s']} s (decode + tempo/key; "
          f"{st['prepare_without_rhythm_s']} s without), tag {st['tag_s']} s (both models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
