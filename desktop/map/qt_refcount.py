"""Guard against a reference-count bug of PySide6 6.12 on Python 3.11.

PySide6 6.12 returns ``None`` from C++ ``void`` methods (``QPainter.setPen``,
``QWidget.update``, ``QPainter.drawImage`` …) without taking a reference to it, as if
``None`` were immortal — which it is only from Python 3.12 on. On Python 3.11 every such call
lowers ``None``'s reference count by one, and after a few thousand calls (a few seconds of
painting) the interpreter aborts with "Fatal Python error: none_dealloc".

:func:`guard_none_refcount` checks whether this PySide6 has the bug and, if so, gives
``None`` a reference count so large (2**60) that it can never reach zero — what Python 3.12
does for every immortal object. ``None`` is never freed in a healthy process, so nothing
else changes. Importing :mod:`desktop.map` (and the player and the similar panel) applies it;
the application should call it once at start-up as well.
"""
from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 60
_applied = False


def _void_call_leaks() -> bool:
    """True when calling a void PySide6 method drops a reference to None."""
    from PySide6.QtCore import QPointF

    p = QPointF(0.0, 0.0)
    calls = 64
    before = sys.getrefcount(None)
    for _ in range(calls):
        p.setX(1.0)
    return before - sys.getrefcount(None) >= calls // 2


def guard_none_refcount() -> bool:
    """Apply the guard if this interpreter and PySide6 need it; returns whether it is on."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False          # None is immortal there
    if not _void_call_leaks():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += _BOOST
    _applied = True
    return True


guard_none_refcount()
