"""What tempo, beats and key add to a library scan, per 4-minute track, against the tagger.

    python benchmarks/bench_rhythm.py [--tracks 6] [--seconds 240] [--repeats 3] [--workers 2]

Generates music-like 44.1-kHz WAVs (the same cached ones as ``bench_profile.py``) and times, as
medians over ``--repeats`` runs:

* the scan's tagging (the default profile's quick analysis, decode workers as the scan runs it);
* the scan's tempo/key phase as it runs it: ``analyse_file(quick=True)`` (decode the middle
  minute at 22,050 Hz, BeatNet, the DBN, tempo, meter, key) in ``--workers`` spawned worker
  processes: the start-up (spawning, importing torch, loading the model, the first tracks) and
  the wall time per track after it;
* the same analysis in this one process, split into decode, features + network, DBN + tempo,
  and key.

Prints seconds per track and the ratio of the tempo/key phase to the tagging.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import make_tracks, per_track_seconds  # noqa: E402
from engine import DEFAULT_PROFILE, profile_models  # noqa: E402
from engine.library.analysing import run_jobs  # noqa: E402
from engine.rhythm.track import analyse_file, rhythm_job  # noqa: E402


def phase_seconds(paths: list[Path], workers: int, repeats: int) -> tuple[float, float]:
    """(start-up seconds, steady seconds per track) of the scan's worker pool: the time to the
    first ``workers`` results, and the rate after them."""
    startup, steady = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        stamps = []
        jobs = [(i, str(p), True) for i, p in enumerate(paths)]
        for _i, r in run_jobs(rhythm_job, jobs, workers, lambda: False):   # as the scan does
            assert not isinstance(r, BaseException), r
            stamps.append(time.perf_counter() - t0)
        w = max(1, workers)
        startup.append(stamps[w - 1])
        steady.append((stamps[-1] - stamps[w - 1]) / max(1, len(stamps) - w))
    return statistics.median(startup), statistics.median(steady)


def split_seconds(paths: list[Path]) -> dict[str, float]:
    import numpy as np

    from engine.audio.decode import load_audio, probe
    from engine.key import estimate_key
    from engine.rhythm.analysis import beat_network, excerpt_bounds
    from engine.rhythm.dbn import decode_beats
    from engine.rhythm.features import FPS, beat_features
    from engine.rhythm.tempo import estimate_tempo

    parts = {"decode": [], "network": [], "dbn+tempo": [], "key": []}
    analyse_file(paths[0])                                 # warm-up: model load
    for p in paths:
        t0 = time.perf_counter()
        start, end = excerpt_bounds(probe(p).duration_s, 60.0)
        y = load_audio(p, 22050, start_s=start, duration_s=end - start)
        t1 = time.perf_counter()
        act = beat_network(None).activations(beat_features(y))
        t2 = time.perf_counter()
        b = np.clip(act.sum(axis=1), 0, 1)
        estimate_tempo(decode_beats(b).beats, b, FPS)
        t3 = time.perf_counter()
        estimate_key(y, 22050)
        t4 = time.perf_counter()
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[k].append(v)
    return {k: statistics.median(v) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tagatlas-bench-musicnn"))
    args = ap.parse_args(argv)
    paths = make_tracks(Path(args.cache), args.tracks, args.seconds)
    print(f"{len(paths)} tracks of {args.seconds:.0f} s, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}")
    models = profile_models(DEFAULT_PROFILE)
    tagging = per_track_seconds(models, paths, args.repeats)
    print(f"tagging ({' + '.join(models)}, quick):   {tagging:.3f} s per track")
    startup, rhythm = phase_seconds(paths, args.workers, args.repeats)
    print(f"tempo, beats and key ({args.workers} workers): {rhythm:.3f} s per track "
          f"({rhythm / tagging:.2f}x the tagging), after {startup:.1f} s to start the workers "
          "and analyse their first tracks")
    split = split_seconds(paths)
    print("one process, per track: " + ", ".join(f"{k} {v:.3f} s" for k, v in split.items())
          + f" (total {sum(split.values()):.3f} s)")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
