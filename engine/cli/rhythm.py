"""``tagatlas rhythm FILE...``: tempo (BPM), beats, meter and key of audio files (nothing written)."""
from __future__ import annotations

import argparse
import json
import sys

from ._common import ProgressLine, printable
from .exit_codes import exit_code


def _bpm_range(text: str):
    from ..rhythm import TempoRange

    try:
        low, high = (float(v) for v in text.replace("–", "-").split("-"))
        return TempoRange(low, high)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a range such as 70-180 ({e})" if "range" in str(e) else
            f"{text!r}: give a range such as 70-180") from None


def register(sub) -> None:
    p = sub.add_parser(
        "rhythm", help="tempo (BPM), beats and key of audio files (nothing is written)",
        description="Analyse the tempo, beats, meter and musical key of audio files and print "
                    "them. Files are not changed. The tempo is chosen inside --bpm-range "
                    "(the other octaves, x2 and /2, are shown as alternatives).")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--bpm-range", type=_bpm_range, default=None, metavar="LOW-HIGH",
                   help="tempo range in BPM, at least an octave wide (default 60-200; DJs often "
                        "use 70-180)")
    p.add_argument("--notation", choices=("standard", "camelot", "openkey"), default="standard",
                   help="how to write keys: standard (F#m, Bb), camelot (11A, 6B) or openkey "
                        "(4m, 11d)")
    p.add_argument("--key-profile", default=None, metavar="NAME",
                   help="key profile: temperley (default), krumhansl, edma, ...")
    p.add_argument("--full", action="store_true",
                   help="analyse whole tracks instead of the middle minute")
    p.add_argument("--beats", action="store_true", help="also print every beat time")
    p.add_argument("--json", action="store_true", help="print JSON (with beat times)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import AudioError
    from ..rhythm import TempoRange
    from ..rhythm.track import analyse_file

    tempo_range = args.bpm_range or TempoRange()
    progress = ProgressLine("rhythm:")
    results = []
    try:
        for i, path in enumerate(args.files):
            try:
                results.append(analyse_file(path, quick=not args.full, tempo_range=tempo_range,
                                            key_profile=args.key_profile))
            except AudioError as e:
                results.append(e)
            progress(i + 1, len(args.files))
    finally:
        progress.finish()
    failed = sum(isinstance(r, AudioError) for r in results)
    if args.json:
        out = [{"path": printable(p), **(r.to_dict(args.notation) if not isinstance(r, AudioError)
                                         else {"error": r.reason, "kind": r.kind})}
               for p, r in zip(args.files, results)]
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for path, r in zip(args.files, results):
            print(printable(path))
            if isinstance(r, AudioError):
                print(f"  error: {r.reason}")
                continue
            d = r.to_dict(args.notation)
            rh = r.rhythm
            part = "" if rh.start_s == 0 and abs(rh.end_s - r.duration_s) < 0.5 else \
                f" (from {rh.start_s:.0f} s to {rh.end_s:.0f} s)"
            if rh.bpm is None:
                print(f"  tempo: no steady beat found{part}")
            else:
                alt = ", ".join(f"{a:.1f}" for a in rh.alternatives)
                print(f"  tempo: {rh.bpm:.1f} BPM (confidence {rh.confidence:.2f}"
                      f"{'; the tempo drifts' if rh.variable_tempo else ''}){part}"
                      + (f"; also heard as {alt}" if alt else ""))
                if rh.meter:
                    print(f"  meter: {rh.meter} beats per bar, {len(rh.beats)} beats, "
                          f"{len(rh.downbeats)} bars")
            print(f"  key:   {d['key']} (confidence {d['key_confidence']:.2f})" if d["key"] else
                  "  key:   none heard (silence)")
            if args.beats:
                print("  beats: " + " ".join(f"{b:.2f}" for b in rh.beats))
    sys.stdout.flush()
    if failed:
        print(f"{failed} of {len(results)} files could not be analysed", file=sys.stderr)
    return exit_code(len(results) - failed, failed)
