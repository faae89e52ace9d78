"""``tagatlas batch``: analyse a large catalogue on Ray (this machine or a cluster) into Parquet.

Ray is optional (``pip install "tagatlas[batch]"``) and imported only when the command runs.
"""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import printable_path as printable
from .scan import EXIT_FAILED, exit_code, format_duration


def register(sub) -> None:
    p = sub.add_parser(
        "batch", help="analyse a large catalogue on Ray (one machine or a cluster) into Parquet",
        description="Analyse the audio files of folders, a file list or a manifest on Ray Data: "
                    "decoding in CPU tasks, the models in a pool of actors (one per GPU when the "
                    "cluster has GPUs, else on the CPUs), with the same models and analysis as a "
                    "library scan. Results go to a folder of Parquet part files; a rerun skips the "
                    "files already there (by content fingerprint). Bring them into the library "
                    "with 'tagatlas import OUT'. Needs Ray: pip install \"tagatlas[batch]\".")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="folders (walked) or audio files")
    p.add_argument("-o", "--out", required=True, metavar="FOLDER",
                   help="output folder of Parquet part files (created; resumed when it exists)")
    p.add_argument("--files-from", metavar="LIST", help="a text file of paths, one per line")
    p.add_argument("--manifest", metavar="FILE",
                   help="a manifest with a 'path' column: CSV (with header), JSON lines or Parquet")
    p.add_argument("--model", default=None,
                   help="analysis profile or model bundle(s), as for 'tagatlas scan' (default: the "
                        "standard profile, musicnn-msd + jamendo-musicnn)")
    depth = p.add_mutually_exclusive_group()
    from ..tagger import QUICK_ANALYSIS_PATCHES

    depth.add_argument("--full", dest="max_patches", action="store_const", const=None,
                       default=QUICK_ANALYSIS_PATCHES,
                       help="analyse every 3-s patch of each track (default: the quick analysis of "
                            f"{QUICK_ANALYSIS_PATCHES} patches spread over the track, as a library scan)")
    depth.add_argument("--max-patches", dest="max_patches", type=int, metavar="N",
                       help="analyse at most N patches spread over each track")
    p.add_argument("--no-rhythm", dest="rhythm", action="store_false",
                   help="do not analyse tempo (BPM), beats and key")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="join a running Ray cluster: 'auto' (this machine is part of it) or "
                        "HOST:PORT (default: start Ray on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="CPUs Ray may use on this machine (default: all; ignored with --address)")
    p.add_argument("--actors", type=int, default=None, metavar="N",
                   help="model actors (default: one per GPU, or one per CPU without GPUs)")
    p.add_argument("--device", default=None, help="cpu to keep the models off the GPUs")
    p.add_argument("--block-size", type=int, default=None, metavar="N",
                   help="files per block and per part file (default: 16 on CPU, 64 on GPU)")
    p.add_argument("--retry-errors", action="store_true",
                   help="analyse again the files that failed in an earlier run into the same output "
                        "(default: a rerun skips them as it skips the analysed ones); "
                        "'tagatlas import' then takes a file's analysis over its failure")
    p.set_defaults(func=run)


class BatchProgress:
    """``done/total``, tracks/s (of the files analysed in this run) and ETA, on stderr: one
    rewritten line on a terminal, else a line every 10 % or 10 s."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self._last = time.perf_counter()
        self._last_pct = -1

    def __call__(self, done: int, total: int, analysed_now: int) -> None:
        now = time.perf_counter()
        elapsed = now - self.t0
        rate = analysed_now / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        pct = int(100 * done / total) if total else 100
        line = (f"batch: {done}/{total} ({pct}%) {rate:.2f} tracks/s"
                + (f", ETA {format_duration(eta)}" if done < total and rate > 0 else ""))
        if self.tty:
            self.stream.write("\r" + line.ljust(70))
        elif done == total or pct // 10 > self._last_pct // 10 or now - self._last >= 10:
            self.stream.write(line + "\n")
        else:
            return
        self._last, self._last_pct = now, pct
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from ..catalogue.batch import BatchOptions, RayMissingError, list_inputs, require_ray, run_batch

    try:
        require_ray()
    except RayMissingError as exc:
        print(f"tagatlas batch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not (args.inputs or args.files_from or args.manifest):
        print("tagatlas batch: nothing to analyse: give folders or files, --files-from or --manifest",
              file=sys.stderr)
        return EXIT_FAILED
    listing = list_inputs(args.inputs, files_from=args.files_from, manifest=args.manifest)
    for path, why in listing.not_files:
        print(f"skipped {printable(path)}: {why}")
    options = BatchOptions(models=args.model, max_patches=args.max_patches, rhythm=args.rhythm,
                           address=args.address, workers=args.workers, actors=args.actors,
                           device=args.device, block_size=args.block_size,
                           retry_errors=args.retry_errors)
    progress = BatchProgress()

    def started(s) -> None:
        where = f"the Ray cluster at {args.address}" if args.address else "a local Ray instance"
        print(f"{len(listing.paths)} files to analyse with {'+'.join(s.models)} on {where}: "
              f"{s.actors} {s.device.upper()} model actors; results in {printable(s.out)}", file=sys.stderr)

    try:
        s = run_batch(listing.paths, args.out, options, progress=progress, on_start=started)
    finally:
        progress.finish()
    n = s.analysed + s.failed
    rate = f" ({s.tracks_per_s:.2f} tracks/s)" if n and s.elapsed_s > 0 else ""
    print(f"{s.listed} files: {s.analysed} analysed, {s.failed} failed, {s.skipped} already in "
          f"{printable(s.out)} (skipped), in {s.elapsed_s:.1f} s{rate}; {s.parts_written} part files written")
    shown = s.failures[:20]
    for path, stage, reason in shown:
        print(f"failed ({stage}): {path}: {reason}")
    if len(s.failures) > len(shown):
        print(f"... and {len(s.failures) - len(shown)} more (rows with outcome 'error' in the output)")
    if s.temp_removed:
        print(f"note: removed {s.temp_removed} half-written part files of an interrupted run")
    print(f"next: tagatlas import {printable(s.out)}")
    if n == 0:
        return 0 if s.skipped or not s.listed else EXIT_FAILED
    return exit_code(s.analysed, s.failed)
