"""Scan writes grouped into transactions, so a long scan neither holds the database lock for
minutes nor commits every file on its own."""
from __future__ import annotations

import sqlite3
import time

from .db import Library


class CommitBatches:
    """Writes grouped into transactions committed every ``every`` items or ``seconds``.

    A transaction begins at :meth:`open` (just before an item's writes) and ends at the
    :meth:`tick` that reaches a limit; between that and the next item's writes no lock is held,
    so another process using the library (a second scan, the app) gets its turn while this one
    decodes and analyses the next track.
    """

    def __init__(self, lib: Library, every: int, seconds: float) -> None:
        self.lib, self.every, self.seconds = lib, max(1, every), seconds
        self._tx = None
        self._n = 0
        self._t0 = 0.0

    def __enter__(self) -> "CommitBatches":
        return self

    def open(self) -> None:
        if self._tx is None:
            self._tx = self.lib.transaction()
            self._tx.__enter__()
            self._n, self._t0 = 0, time.monotonic()

    def _end(self, exc_info=(None, None, None)) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(*exc_info)

    def tick(self) -> None:
        self._n += 1
        if self._n >= self.every or time.monotonic() - self._t0 >= self.seconds:
            self._end()

    def __exit__(self, *exc) -> None:
        # Each file's changes are complete (a savepoint per file), so what was done is kept
        # even when an error interrupts the scan; only a database error rolls the batch back.
        if exc[0] is not None and issubclass(exc[0], sqlite3.Error):
            self._end(exc)
        else:
            self._end()
