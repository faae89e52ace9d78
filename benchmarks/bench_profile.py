"""Quick analysis (the library scan's) per 4-minute track: one model against an analysis profile.

    python benchmarks/bench_profile.py [--tracks 6] [--seconds 240] [--repeats 3]
                                       [--profile musicnn-msd jamendo-musicnn]

Generates music-like 44.1-kHz WAVs (cached in a temp folder) and times
``Tagger(models, max_patches=QUICK_ANALYSIS_PATCHES).tag_files(paths)`` (decode workers as the
scan uses them), first with the profile's first model alone (the baseline), then with the whole
profile on one decode. Prints medians over ``--repeats`` runs, seconds per track, and the ratio.
The machine may be shared: the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import make_tracks, per_track_seconds  # noqa: E402
from engine import DEFAULT_PROFILE, profile_models  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", nargs="*", default=None, help="models (default: the default profile)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tagatlas-bench-musicnn"))
    args = ap.parse_args(argv)
    models = args.profile or profile_models(DEFAULT_PROFILE)
    paths = make_tracks(Path(args.cache), args.tracks, args.seconds)
    print(f"{len(paths)} tracks of {args.seconds:.0f} s, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}")
    base = per_track_seconds(models[:1], paths, args.repeats)
    print(f"{models[0]} alone:            {base:.3f} s per track")
    if len(models) > 1:
        both = per_track_seconds(models, paths, args.repeats)
        print(f"profile {' + '.join(models)}: {both:.3f} s per track ({both / base:.2f}x the baseline)")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
