"""Heavy work in a child process: scans (so that Cancel always stops them at once) and other
jobs whose Python work would otherwise compete with the window for the interpreter lock.

The engine's scanner checks its cancel flag between steps, but one step can be long: a batch of
model inference on a CPU takes seconds. The app therefore runs :func:`engine.library.scanner.scan`
in a child process (``spawn``; it never imports Qt) that reports progress through a pipe. Cancel
first asks the scan to stop; if it has not stopped within :data:`GRACE_S`, the child and its
decoding workers are killed. That is safe: the library commits each file's changes atomically
and a killed scan leaves a consistent database (the next scan carries on where it stopped).
Running apart also keeps the scanner's Python work off the GUI process's interpreter lock.

:func:`call_in_child` runs any picklable function the same way (the device query, which
imports torch; the map, which imports scikit-learn and labels regions) and returns its result.
Nothing here imports Qt, so the children start without it.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
from typing import Any, Callable

#: How long a cancelled scan may take to stop by itself before it is killed (seconds).
GRACE_S = 0.5
#: Progress messages from the child at most this often (seconds), plus every phase change.
PROGRESS_INTERVAL_S = 0.05


def _child_main(db_path: str, req: Any, conn, cancel_event) -> None:
    """The child process: run the scan, send ("progress", value) / ("done", summary) /
    ("error", exception)."""
    if hasattr(os, "setsid"):
        try:
            os.setsid()          # its own process group: the decoding workers die with it
        except OSError:
            pass
    last = [0.0, None]

    def progress(phase: str, done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if phase != last[1] or now - last[0] >= PROGRESS_INTERVAL_S or (total and done == total):
            last[0], last[1] = now, phase
            conn.send(("progress", (phase, done, total, path)))

    try:
        from engine.library import Library
        from engine.library.scanner import scan

        with Library(db_path) as lib:
            summary = scan(lib, req.folders, model=req.model, analyse=req.analyse,
                           workers=req.workers, device=req.device, progress=progress,
                           cancel=cancel_event.is_set, retry_failed=req.retry_failed,
                           max_patches=req.max_patches)
        conn.send(("done", summary))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the app
        try:
            conn.send(("error", exc))
        except (pickle.PicklingError, TypeError, AttributeError):  # it does not pickle: send its words
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _kill(proc) -> None:
    """Kill the child and, where the platform allows, its process group (decoders)."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError, OSError):
            pass
    proc.kill()


def run_scan(db_path: str, req: Any, *, report: Callable[[Any], None],
             cancelled: Callable[[], bool]):
    """Scan in a child process; returns the :class:`~engine.library.scanner.ScanSummary`
    (``cancelled`` set when it was stopped) or raises the child's exception."""
    from engine.library.scanner import ScanSummary

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    cancel_event = ctx.Event()
    proc = ctx.Process(target=_child_main, args=(db_path, req, child, cancel_event),
                       name="tagatlas-scan")   # not a daemon: it starts decoding workers
    proc.start()
    child.close()
    outcome: tuple[str, Any] | None = None
    asked_at: float | None = None
    killed = False
    try:
        while True:
            if cancelled() and asked_at is None:
                asked_at = time.monotonic()
                cancel_event.set()
            if asked_at is not None and not killed and time.monotonic() - asked_at > GRACE_S:
                _kill(proc)
                killed = True
            try:
                ready = parent.poll(0.02)
            except (EOFError, OSError):
                ready = False
            if ready:
                try:
                    kind, value = parent.recv()
                except (EOFError, OSError):
                    if not proc.is_alive():
                        break
                    continue
                if kind == "progress":
                    report(value)
                else:
                    outcome = (kind, value)
                    break
            elif not proc.is_alive():
                break
    finally:
        # The child has closed the library before reporting its outcome; what is left is
        # interpreter shutdown (a second or so with torch loaded), which nobody needs to wait for.
        proc.join(0.2)
        if proc.is_alive():
            _kill(proc)
            proc.join(5.0)
        parent.close()
    if outcome is not None and outcome[0] == "error":
        raise outcome[1]
    if outcome is not None:
        return outcome[1]
    summary = ScanSummary(roots=[os.path.abspath(f) for f in req.folders], model=req.model)
    summary.cancelled = True
    if asked_at is None:   # the child died on its own
        raise RuntimeError(f"the scan stopped unexpectedly (exit code {proc.exitcode}); "
                           "run it again to carry on")
    return summary


def call_in_child(fn: Callable[..., Any], *args: Any, cancelled: Callable[[], bool] | None = None,
                  timeout_s: float | None = None) -> Any:
    """``fn(*args)`` in a fresh child process (``spawn``); its result, or its exception raised
    here. ``cancelled()`` is polled: when it turns true the child is killed and None returned."""
    import concurrent.futures as cf

    ex = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    try:
        fut = ex.submit(fn, *args)
        t0 = time.monotonic()
        while True:
            try:
                return fut.result(timeout=0.05)
            except cf.TimeoutError:
                if (cancelled is not None and cancelled()) or (
                        timeout_s is not None and time.monotonic() - t0 > timeout_s):
                    for p in list(getattr(ex, "_processes", {}).values()):
                        p.kill()
                    if cancelled is not None and cancelled():
                        return None
                    raise TimeoutError(f"{getattr(fn, '__name__', 'the job')} took longer than "
                                       f"{timeout_s:.0f} s") from None
    finally:
        ex.shutdown(wait=False, cancel_futures=True)


def describe_device(device: str | None) -> str:
    """The inference device in words ("CPU (2 cores)", "NVIDIA H100 (CUDA)")."""
    from engine.errors import DeviceError
    from engine.tagger import describe_device as describe, pick_device

    try:
        return describe(pick_device(device))
    except (DeviceError, RuntimeError) as exc:  # e.g. CUDA chosen on a machine without it
        return f"unavailable: {exc}"


def load_library_map(db_path: str, model: str | None):
    """The :class:`desktop.map.LibraryMap` of the library, computing or extending its layout
    (:func:`desktop.map.load_library_map`); None when nothing is analysed yet."""
    from engine.library import Library

    from desktop.map.library_map import load_library_map as load

    with Library(db_path) as lib:
        return load(lib, model)


def load_similar_source(db_path: str, model: str | None):
    """A :class:`desktop.similar_panel.SimilarSource` for the library (its ``library`` left
    empty: the GUI sets its own connection), or None when nothing is analysed yet."""
    from engine.errors import LibraryError
    from engine.library import Library

    from desktop.similar_panel import SimilarSource

    with Library(db_path) as lib:
        try:
            src = SimilarSource.from_library(lib, model)
        except LibraryError:
            return None
    src.library = None
    return src


if __name__ == "__main__":  # pragma: no cover - never run directly
    sys.exit("desktop.background.child_process is used by the app")
