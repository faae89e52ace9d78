"""Helpers shared by the sub-commands: printing paths safely and a progress line (the exit
codes and the error policy are :mod:`engine.cli.exit_codes`)."""
from __future__ import annotations

import sys
import time

from ..errors import printable_path as printable  # noqa: F401  (re-exported for the commands)


class ProgressLine:
    """``done/total`` with rate and ETA on one rewritten stderr line (only on a terminal)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, path: str = "") -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.label} {done}/{total}  {rate:5.1f} tracks/s  ETA {eta:5.0f} s ")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
