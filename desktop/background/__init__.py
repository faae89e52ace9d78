"""Background work for the app, in one place:

* :mod:`.workers` — :class:`Task` (a function run on a pool thread, reporting progress and
  its outcome on the GUI thread) and :class:`Runner` (the pools that run them);
* :mod:`.jobs` — the app's jobs as functions for a task (load the library, scan, write, undo,
  export, evidence, the device), and :class:`SharedLibrary`, the reading connection they share;
* :mod:`.child_process` — work run in a child process (the scan, so Cancel always stops it
  at once; the map and the similarity index, heavy Python work) without Qt.

Names load on first use (as in ``engine``): a child process started with ``spawn`` imports
this package to reach :mod:`.child_process`, and must not import Qt with it.
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module of this package that defines it
_EXPORTS = {
    "Task": "workers", "Runner": "workers",
    "SharedLibrary": "jobs", "ScanRequest": "jobs", "WriteResult": "jobs", "scan_job": "jobs",
    "load_library_job": "jobs", "evidence_job": "jobs", "load_errors_job": "jobs",
    "read_tags_job": "jobs", "write_job": "jobs", "undo_job": "jobs", "last_write_job": "jobs",
    "import_analyses_job": "jobs",
    "device_job": "jobs", "export_m3u8_job": "jobs",
    "run_scan": "child_process", "call_in_child": "child_process",
    "load_library_map": "child_process", "load_similar_source": "child_process",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'desktop.background' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
