"""Background work for the GUI: one helper, in the spirit of Picard's ``run_task`` and superqt's
``GeneratorWorker``.

A :class:`Task` wraps a function ``fn(task, *args, **kwargs)`` and runs it on a pool thread.
Inside, the function reports with ``task.report(value)`` and checks ``task.is_cancelled()``
(hand both to the engine as its ``progress`` / ``cancel`` callbacks). If ``fn`` is a generator
function, every ``yield`` is a progress report and cancellation is checked between yields (the
generator is closed, so its ``finally`` blocks run). The outcome arrives on the GUI thread as
exactly one of ``result(value)`` or ``error(exception)``, then ``finished()``.

:class:`Runner` owns two pools: a general one, and a one-thread pool for everything that writes
files (tag writes and undo), so two writes never race. Hand tasks copies of data, never widgets;
a task opens its own :class:`engine.library.Library` (one per thread).
"""
from __future__ import annotations

import inspect
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot


class Task(QObject):
    """One piece of background work; connect to its signals, then hand it to a :class:`Runner`."""

    #: a value from ``report`` (or a ``yield``), on the GUI thread
    progress = Signal(object)
    #: the function's return value (None for a cancelled generator)
    result = Signal(object)
    #: the exception the function raised (``exc.traceback_text`` holds the formatted traceback)
    error = Signal(object)
    #: always last, after result or error
    finished = Signal()

    # worker thread -> GUI thread (queued to this object, which lives on the GUI thread)
    _progress_q = Signal(object)
    _result_q = Signal(object)
    _error_q = Signal(object)

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "",
                 progress_interval_s: float = 0.05, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self.progress_interval_s = progress_interval_s
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._last_report = 0.0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.outcome: Any = None
        self.exception: BaseException | None = None
        self._progress_q.connect(self._deliver_progress, Qt.ConnectionType.QueuedConnection)
        self._result_q.connect(self._deliver_result, Qt.ConnectionType.QueuedConnection)
        self._error_q.connect(self._deliver_error, Qt.ConnectionType.QueuedConnection)

    # -- called from the worker ---------------------------------------------------------------
    def report(self, value: Any, *, force: bool = False) -> None:
        """Send a progress value to the GUI (at most one per ``progress_interval_s`` unless
        ``force``, so a fast loop never floods the event queue)."""
        now = time.monotonic()
        if force or now - self._last_report >= self.progress_interval_s:
            self._last_report = now
            self._progress_q.emit(value)

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- called from the GUI ---------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the task to stop; it stops at its next check (the engine checks often)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """True once the function has returned or raised (the signals may still be queued)."""
        return self._done.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the function has returned (for shutdown and tests); True if it has."""
        return self._done.wait(timeout_s)

    # -- the run -------------------------------------------------------------------------------------
    def _run(self) -> None:
        self.started_at = time.monotonic()
        try:
            out = self.fn(self, *self.args, **self.kwargs)
            if inspect.isgenerator(out):
                out = self._drain(out)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            self.exception = exc
            self.ended_at = time.monotonic()
            self._done.set()
            self._error_q.emit(exc)
            return
        self.outcome = out
        self.ended_at = time.monotonic()
        self._done.set()
        self._result_q.emit(out)

    def _drain(self, gen) -> Any:
        try:
            while True:
                if self.is_cancelled():
                    gen.close()
                    return None
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.report(value)
        finally:
            gen.close()

    @Slot(object)
    def _deliver_progress(self, value: Any) -> None:
        if not self._finished_emitted:
            self.progress.emit(value)

    _finished_emitted = False

    @Slot(object)
    def _deliver_result(self, value: Any) -> None:
        self.result.emit(value)
        self._finished_emitted = True
        self.finished.emit()

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        self.error.emit(exc)
        self._finished_emitted = True
        self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task
        self.setAutoDelete(True)

    def run(self) -> None:
        self.task._run()


class Runner(QObject):
    """Starts tasks on a general pool, or on the single file-write thread (``writes=True``)."""

    #: emitted (on the GUI thread) whenever a task ends; the window uses it to refresh state
    task_finished = Signal(object)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.write_pool = QThreadPool(self)
        self.write_pool.setMaxThreadCount(1)
        self._active: set[Task] = set()

    def start(self, task: Task, *, writes: bool = False) -> Task:
        self._active.add(task)

        def ended() -> None:
            self._active.discard(task)
            try:
                self.task_finished.emit(task)
            except RuntimeError:  # the runner's window is gone; nobody is listening
                pass

        task.finished.connect(ended)
        (self.write_pool if writes else self.pool).start(_Runnable(task))
        return task

    def run(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            on_progress: Callable[[Any], None] | None = None,
            on_finished: Callable[[], None] | None = None, writes: bool = False,
            name: str = "", **kwargs: Any) -> Task:
        """Make a :class:`Task` for ``fn(task, *args, **kwargs)``, connect the callbacks, start it.

        The callbacks run on the GUI thread: exactly one of ``on_result`` or ``on_error``, then
        ``on_finished``.

        Parameters
        ----------
        fn : callable
            The work, called as ``fn(task, *args, **kwargs)`` on a pool thread (a generator
            function's every ``yield`` is a progress report).
        *args
            Passed to ``fn`` after the task.
        on_result : callable, optional
            ``on_result(value)`` with ``fn``'s return value.
        on_error : callable, optional
            ``on_error(exception)`` when ``fn`` raised (``exc.traceback_text`` holds the traceback).
        on_progress : callable, optional
            ``on_progress(value)`` for each value reported.
        on_finished : callable, optional
            ``on_finished()``, always last.
        writes : bool, default False
            Run on the single file-write thread, so two writes never race.
        name : str, default ""
            The task's name; empty: ``fn``'s name.
        **kwargs
            Passed to ``fn``.

        Returns
        -------
        Task
            The started task.
        """
        task = Task(fn, *args, name=name, **kwargs)
        if on_progress is not None:
            task.progress.connect(on_progress)
        if on_result is not None:
            task.result.connect(on_result)
        if on_error is not None:
            task.error.connect(on_error)
        if on_finished is not None:
            task.finished.connect(on_finished)
        return self.start(task, writes=writes)

    @property
    def active(self) -> list[Task]:
        return list(self._active)

    def cancel_all(self) -> None:
        for task in list(self._active):
            task.cancel()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel everything and wait for the threads; True when they all stopped in time."""
        self.cancel_all()
        ms = int(timeout_s * 1000)
        return self.pool.waitForDone(ms) & self.write_pool.waitForDone(ms)
