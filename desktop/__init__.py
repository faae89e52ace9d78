"""Tag Atlas desktop app (PySide6). Holds no ML or file-format logic: it calls ``engine``.

PySide6 6.12 on Python 3.11 drops references to None/True on every void call and signal emit,
which aborts the interpreter after a few thousand calls; the guard is applied before anything
else in the package touches Qt (see :mod:`desktop.map.qt_refcount`).
"""
from .map.qt_refcount import guard_none_refcount as _guard

_guard()
