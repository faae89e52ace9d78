"""Benchmark of the musicnn taggers: per-track time, where it goes, and the fast mode's agreement.

    python benchmarks/bench_musicnn.py [--tracks 5] [--seconds 240] [--repeats 3]
                                       [--max-patches 4 8 16] [--files MORE.flac ...] [--json OUT]

Generates ``--tracks`` music-like WAVs (44.1 kHz, 16-bit, ``--seconds`` long; cached in a temp
folder) and reports, as medians over ``--repeats`` runs:

* the default analysis of one track (every 3-s patch, as the original): wall time of
  ``Tagger(...).tag_files([path])`` with decoding in-process, split into decode + resampling,
  log-mel and the network;
* the same files tagged together (decode workers + batching across tracks), time per track;
* the fast mode (``Tagger(max_patches=K)``: at most K patches spread over the track): time
  per track and agreement with the full aggregation (mean and max absolute score difference,
  top-5 overlap), over the generated tracks plus any ``--files`` (real music is the better test).

The machine is shared, so the load average before and after is printed with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import make_tracks  # noqa: E402


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def breakdown(tagger, path: Path, repeats: int) -> dict[str, float]:
    """Decode+resample, log-mel and network time for one track (in-process)."""
    import torch

    from engine.audio.excerpts import decode_for_spec

    spec = tagger.spec
    t_dec, track = _median_time(lambda: decode_for_spec(str(path), spec, None), repeats)
    with torch.inference_mode():
        t_mel, x = _median_time(lambda: tagger.patches(track)[0], repeats)
        t_net, _ = _median_time(lambda: [tagger.run_model(x[a:a + tagger.batch_size])
                                         for a in range(0, x.shape[0], tagger.batch_size)], repeats)
    return {"decode_resample_s": t_dec, "logmel_s": t_mel, "network_s": t_net, "patches": int(x.shape[0])}


def agreement(full, fast) -> dict[str, float]:
    diffs, overlaps, maxd = [], [], []
    for a, b in zip(full, fast):
        diffs.append(float(np.abs(a.scores - b.scores).mean()))
        maxd.append(float(np.abs(a.scores - b.scores).max()))
        overlaps.append(len(set(np.argsort(-a.scores)[:5]) & set(np.argsort(-b.scores)[:5])) / 5)
    return {"mean_abs_diff": float(np.mean(diffs)), "max_abs_diff": float(np.max(maxd)),
            "top5_overlap": float(np.mean(overlaps)), "tracks": len(diffs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_musicnn.py", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="musicnn-msd")
    ap.add_argument("--tracks", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-patches", type=int, nargs="*", default=[4, 8, 16])
    ap.add_argument("--files", nargs="*", default=[], help="extra audio files for the fast-mode agreement")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tagatlas-bench-musicnn"))
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--tracks-from", nargs="*", default=None, metavar="FILE",
                    help="time these files instead of generated ones")
    ap.add_argument("--batch", type=int, default=None,
                    help="patches per forward pass (default: the Tagger's choice for the device)")
    ap.add_argument("--only-per-track", action="store_true",
                    help="measure only the default per-track time (for back-to-back comparisons)")
    args = ap.parse_args(argv)

    import torch

    from engine import Tagger

    load0 = os.getloadavg()
    if args.tracks_from:
        paths = [Path(f) for f in args.tracks_from]
    else:
        paths = make_tracks(Path(args.cache), args.tracks, args.seconds)
    report: dict = {"model": args.model, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "track_seconds": args.seconds, "tracks": len(paths), "repeats": args.repeats}

    tagger = Tagger(args.model, workers=0, device="cpu", batch_size=args.batch)
    report["batch"] = tagger.batch_size
    tagger.tag_files([paths[0]])                                   # warm-up (filter bank, kernels)
    per_track = []
    for p in paths:
        t, _ = _median_time(lambda p=p: tagger.tag_files([p]), args.repeats)
        per_track.append(t)
        print(f"  {p.name}: {t:.2f} s", file=sys.stderr, flush=True)
    report["default_per_track_s"] = statistics.median(per_track)
    report["default_per_track_each_s"] = per_track
    if args.only_per_track:
        report["load_average_before_after"] = [load0[0], os.getloadavg()[0]]
        print(f"default analysis (batch {report['batch']}), one track at a time: "
              f"{report['default_per_track_s']:.2f} s/track "
              f"(median over {len(paths)} tracks of the median of {args.repeats} runs)")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return 0
    report["breakdown"] = breakdown(tagger, paths[0], args.repeats)

    pooled = Tagger(args.model, device="cpu", batch_size=args.batch)                       # decode workers + batching
    pooled.tag_files(paths[:1])
    t_all, full = _median_time(lambda: pooled.tag_files(paths), args.repeats)
    pooled.close()
    report["together_per_track_s"] = t_all / len(paths)

    extra = [Path(f) for f in args.files]
    full_all = list(full) + (tagger.tag_files(extra) if extra else [])
    full_all = [r for r in full_all if r.ok]
    fast_report = {}
    for k in args.max_patches:
        fast = Tagger(args.model, workers=0, device="cpu", max_patches=k, batch_size=args.batch)
        t, _ = _median_time(lambda fast=fast: fast.tag_files([paths[0]]), args.repeats)
        res = [r for r in fast.tag_files([r.path for r in full_all])]
        fast_report[str(k)] = {"per_track_s": t, **agreement(full_all, res)}
        print(f"  fast mode {k}: done", file=sys.stderr, flush=True)
    report["fast_mode"] = fast_report
    report["load_average_before_after"] = [load0[0], os.getloadavg()[0]]

    print(f"model {args.model}, batch {report['batch']}; {len(paths)} generated tracks of {args.seconds:.0f} s "
          "at 44.1 kHz; "
          f"{report['cpu_count']} CPUs, torch threads {report['torch_threads']}; medians of {args.repeats}")
    b = report["breakdown"]
    print(f"default analysis, one track at a time: {report['default_per_track_s']:.2f} s/track "
          f"(decode+resample {b['decode_resample_s']:.2f}, log-mel {b['logmel_s']:.2f}, "
          f"network {b['network_s']:.2f} for {b['patches']} patches)")
    print(f"tracks tagged together (decode workers): {report['together_per_track_s']:.2f} s/track")
    for k, r in fast_report.items():
        print(f"fast mode max_patches={k}: {r['per_track_s']:.2f} s/track; vs full over {r['tracks']} tracks: "
              f"mean |diff| {r['mean_abs_diff']:.4f}, max |diff| {r['max_abs_diff']:.3f}, "
              f"top-5 overlap {r['top5_overlap']:.2f}")
    print(f"load average before/after: {load0[0]:.1f} / {report['load_average_before_after'][1]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
