"""Tag Atlas desktop app (PySide6). Holds no ML or file-format logic: it calls ``engine``.

Importing it changes nothing in the interpreter: the start-up workaround for PySide6 6.12 on
Python 3.11 (:mod:`desktop.qt_refcount`) is applied by :func:`desktop.app.main`.
"""
