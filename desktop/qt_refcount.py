"""Guard against a reference-count bug of PySide6 6.12 on Python 3.11.

PySide6 6.12 returns ``None`` from C++ ``void`` methods (``QPainter.setPen``,
``QWidget.update``, ``QPainter.drawImage`` …) and ``True`` from ``Signal.emit()`` without
taking a reference, as if these objects were immortal — which they are only from Python 3.12
on. On Python 3.11 every such call lowers their reference count by one, and after a few
thousand calls (seconds of painting, or a few thousand signals) the interpreter aborts with
"Fatal Python error: none_dealloc" (or "bool_dealloc").

:func:`guard_none_refcount` checks whether this PySide6 has the bug and, if so, gives
``None``, ``True`` and ``False`` a reference count so large (2**60) that it can never reach
zero — what Python 3.12 does for every immortal object. They are never freed in a healthy
process, so nothing else changes.

Importing this module changes nothing: :func:`desktop.app.main` applies the guard once at
start-up (the tests' setup and the scripts in ``benchmarks/`` that drive the app call it too).
"""
from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 60
_applied: bool | None = None    # None: not checked yet


def _calls_leak() -> bool:
    """True when a void PySide6 method drops a reference to None, or emitting a signal drops
    one to True."""
    from PySide6.QtCore import QObject, QPointF, Signal

    class _Probe(QObject):
        ping = Signal()

    calls = 64
    p = QPointF(0.0, 0.0)
    before = sys.getrefcount(None)
    for _ in range(calls):
        p.setX(1.0)
    none_leaks = before - sys.getrefcount(None) >= calls // 2
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(calls):
        probe.ping.emit()
    true_leaks = before - sys.getrefcount(True) >= calls // 2
    return none_leaks or true_leaks


def guard_none_refcount() -> bool:
    """Apply the guard if this interpreter and PySide6 need it; returns whether it is on."""
    global _applied
    if _applied is not None:
        return _applied
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        _applied = False      # None is immortal there
        return False
    if not _calls_leak():
        _applied = False
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _applied = True
    return True
