"""``tagatlas scan DIR...``: find the music in folders, record it in the library and analyse it.

Also home of the small helpers the library commands share (opening the library from ``--db``,
the phase-aware progress display; the exit codes live in :mod:`engine.cli.exit_codes`).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..errors import printable_path as printable
from .exit_codes import EXIT_FAILED, EXIT_OK, EXIT_SOME_FAILED, exit_code  # noqa: F401  (also imported from here)


def open_library(args: argparse.Namespace):
    """The library named by the global ``--db`` (default: the user data folder / TAGATLAS_DB),
    with the journal entries of tag writes that were killed resolved first."""
    from ..library import Library

    lib = Library(getattr(args, "db", None))
    try:
        recovered = lib.recover_unfinished_writes()
    except BaseException:
        lib.close()
        raise
    if recovered.completed:
        print(f"note: an interrupted tag write had changed {len(recovered.completed)} files; it is "
              f"now journaled, so 'tagatlas undo' restores their previous tags")
    if recovered.rolled_back:
        print(f"note: an interrupted tag write had not changed {len(recovered.rolled_back)} files; "
              f"its unfinished journal entries were removed")
    return lib


_PHASES = {"walk": "finding files", "read": "reading tags", "analyse": "analysing", "rhythm": "tempo and key",
           "write": "writing tags", "plan": "reading tags"}


class PhaseProgress:
    """``progress(phase, done, total, path)`` for the engine's long operations.

    On a terminal: one rewritten line with a bar, tracks/s and ETA. Otherwise (a pipe, a log
    file): a plain line when a phase starts, every 10 % or 10 s, and when it ends.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.phase: str | None = None
        self.t0 = self._last = time.perf_counter()
        self._last_pct = -1
        self._dirty = False

    def __call__(self, phase: str, done: int, total: int, path: str = "") -> None:
        now = time.perf_counter()
        if phase != self.phase:
            self._end_line()
            self.phase, self.t0, self._last_pct = phase, now, -1
            if not self.tty and (total > 0 or phase == "walk"):
                self._print(f"{_PHASES.get(phase, phase)}..." if total == 0 else
                            f"{_PHASES.get(phase, phase)}: {total} files")
        label = _PHASES.get(phase, phase)
        elapsed = now - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        if self.tty:
            if now - self._last < 0.1 and done < total:
                return
            self._last = now
            if total <= 0:
                line = f"{label}: {done} found"
            else:
                width = 24
                fill = int(width * done / total)
                eta = (total - done) / rate if rate > 0 else 0.0
                line = (f"{label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} "
                        f"{rate:6.1f} tracks/s  ETA {format_duration(eta)}")
            self.stream.write("\r" + line[:120].ljust(80))
            self.stream.flush()
            self._dirty = True
        elif total > 0 and done > 0:
            pct = int(100 * done / total)
            if done == total or pct // 10 > self._last_pct // 10 or now - self._last >= 10:
                self._last, self._last_pct = now, pct
                eta = (total - done) / rate if rate > 0 else 0.0
                self._print(f"{label}: {done}/{total} ({pct}%) {rate:.1f} tracks/s"
                            + (f", ETA {format_duration(eta)}" if done < total else ""))

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self.tty and self._dirty:
            self.stream.write("\n")
            self.stream.flush()
            self._dirty = False

    def finish(self) -> None:
        self._end_line()


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def register(sub) -> None:
    p = sub.add_parser(
        "scan", help="add folders to the library and analyse new or changed tracks",
        description="Find the audio files in DIRs (recursively), record them and their tags in the "
                    "library and analyse the ones that are new or changed. Unchanged files are "
                    "skipped; moved files keep their analysis; removed files are marked gone. "
                    "Files are never modified.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders (or single files) to scan")
    p.add_argument("--model", default=None,
                   help="analysis profile or model bundle(s) to analyse with, e.g. standard, msd, "
                        "musicnn-msd+jamendo-musicnn (default: the standard profile, "
                        "musicnn-msd + jamendo-musicnn)")
    p.add_argument("--no-analyse", "--no-analyze", dest="analyse", action="store_false",
                   help="only record files and their tags")
    p.add_argument("--no-rhythm", dest="rhythm", action="store_false",
                   help="do not analyse tempo (BPM), beats and key")
    p.add_argument("--retry-failed", action="store_true",
                   help="try again files whose decoding failed in an earlier scan")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="decoding processes (default: up to 4; 0 decodes in this process)")
    depth = p.add_mutually_exclusive_group()
    from ..tagger import QUICK_ANALYSIS_PATCHES

    depth.add_argument("--full", dest="max_patches", action="store_const", const=None,
                       default=QUICK_ANALYSIS_PATCHES,
                       help="analyse every 3-s patch of each track, as the original models do "
                            f"(default: the quick analysis of {QUICK_ANALYSIS_PATCHES} patches "
                            "spread over the track)")
    depth.add_argument("--max-patches", dest="max_patches", type=int, metavar="N",
                       help="analyse at most N patches spread over each track")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.scanner import scan

    progress = PhaseProgress()
    with open_library(args) as lib:
        try:
            s = scan(lib, args.dirs, model=args.model, analyse=args.analyse, workers=args.workers,
                     device=args.device, progress=progress, retry_failed=args.retry_failed,
                     max_patches=args.max_patches, rhythm=args.rhythm)
        finally:
            progress.finish()
    found = s.new + s.changed + s.unchanged + s.moved
    print(f"{found} audio files in {', '.join(printable(r) for r in s.roots)}: "
          f"{s.new} new, {s.changed} changed, {s.unchanged} unchanged, {s.moved} moved, "
          f"{s.gone} gone, {s.failed} failed")
    if s.analysed:
        rate = f" ({s.analysed / s.elapsed_s:.1f} tracks/s overall)" if s.elapsed_s > 0 else ""
        print(f"analysed {s.analysed} tracks with {s.model} in {s.elapsed_s:.1f} s{rate}")
    for path, why in s.notes:
        print(f"note: {printable(path)}: {why}")
    if s.rhythm_analysed:
        print(f"tempo, beats and key of {s.rhythm_analysed} tracks analysed")
    if s.loops:
        print(f"note: {s.loops} folder links lead back into folders already scanned; they were followed once")
    if s.skipped:
        print(f"note: {s.skipped} hidden or system entries were skipped")
    if s.in_progress_elsewhere:
        print(f"note: {s.in_progress_elsewhere} tracks are being analysed by another scan that is "
              f"still running; they were left to it")
    if s.temp_files_removed:
        print(f"note: removed {s.temp_files_removed} hidden temporary copies left by tag writes that were "
              "interrupted (your files were not affected)")
    for folder, why in s.unlisted:
        print(f"could not read folder {printable(folder)}: {why}; its files were left as they were")
    for path, why in s.not_files:
        print(f"skipped {printable(path)}: {why}")
    shown = s.failures[:20]
    for f in shown:
        print(f"failed ({f.stage}): {f.display_path}: {f.reason}")
    if len(s.failures) > len(shown):
        print(f"... and {len(s.failures) - len(shown)} more; see 'tagatlas errors'")
    if s.cancelled:
        print("the scan was cancelled; run it again to carry on")
        return EXIT_SOME_FAILED
    # 1 when some files failed but others were read or analysed; 2 only when nothing could be done
    return exit_code(max(0, found - s.failed) + s.analysed, s.failed)
