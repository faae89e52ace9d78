"""The GUI's one worker helper: results, errors, progress, cancellation and the write thread."""
from __future__ import annotations

import threading
import time

import pytest

from desktop.background import Runner, Task

pytestmark = pytest.mark.timeout(60)


def test_result_and_progress_arrive_on_the_gui_thread(qtbot, qapp):
    gui = threading.get_ident()
    seen = {"progress": [], "threads": set()}

    def work(task, n):
        seen["worker"] = threading.get_ident()
        for i in range(n):
            task.report(i, force=True)
        return n * 2

    runner = Runner()
    task = Task(work, 5)
    task.progress.connect(lambda v: (seen["progress"].append(v), seen["threads"].add(threading.get_ident())))
    task.result.connect(lambda v: seen.setdefault("result", v))
    with qtbot.waitSignals([task.result, task.finished], order="strict", timeout=10_000):
        runner.start(task)
    assert seen["result"] == 10
    assert seen["progress"] == [0, 1, 2, 3, 4]
    assert seen["threads"] == {gui} and seen["worker"] != gui
    assert task.done and task.exception is None


def test_an_exception_becomes_the_error_signal(qtbot, qapp):
    def work(task):
        raise ValueError("the file is damaged")

    runner = Runner()
    task = Task(work)
    results, errors = [], []
    task.result.connect(results.append)
    task.error.connect(errors.append)
    with qtbot.waitSignals([task.error, task.finished], order="strict", timeout=10_000):
        runner.start(task)
    [exc] = errors
    assert isinstance(exc, ValueError) and "damaged" in str(exc)
    assert "Traceback" in exc.traceback_text
    assert results == []


def test_a_cancelled_generator_stops_between_yields_and_never_returns(qtbot, qapp):
    steps = []
    cleaned = threading.Event()

    def work(task):
        try:
            for i in range(1000):
                steps.append(i)
                time.sleep(0.01)
                yield i
            return "finished"
        finally:
            cleaned.set()

    runner = Runner()
    task = Task(work)
    got = []
    task.result.connect(got.append)
    task.progress.connect(lambda v: task.cancel() if v >= 3 else None)
    with qtbot.waitSignal(task.finished, timeout=10_000):
        runner.start(task)
    assert got == [None]                  # a cancelled generator has no result
    assert cleaned.is_set()               # its finally block ran
    assert len(steps) < 100


def test_cancel_reaches_a_function_through_is_cancelled(qtbot, qapp):
    def work(task):
        t0 = time.monotonic()
        while not task.is_cancelled():
            time.sleep(0.005)
            if time.monotonic() - t0 > 5:
                return "not cancelled"
        return "stopped"

    runner = Runner()
    task = runner.run(work)
    time.sleep(0.05)
    t0 = time.monotonic()
    task.cancel()
    assert task.wait(1.0), "the task did not stop within a second"
    assert time.monotonic() - t0 < 1.0
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert task.outcome == "stopped"


def test_writes_run_one_at_a_time(qtbot, qapp):
    active, overlap, order = [0], [False], []
    lock = threading.Lock()

    def write(task, name):
        with lock:
            active[0] += 1
            overlap[0] |= active[0] > 1
        time.sleep(0.05)
        order.append(name)
        with lock:
            active[0] -= 1
        return name

    runner = Runner()
    tasks = [runner.run(write, f"w{i}", writes=True) for i in range(4)]
    qtbot.waitUntil(lambda: all(t.done for t in tasks), timeout=10_000)
    assert not overlap[0]
    assert order == ["w0", "w1", "w2", "w3"]
    assert runner.shutdown(5.0)


def test_shutdown_cancels_running_tasks(qtbot, qapp):
    def forever(task):
        while not task.is_cancelled():
            time.sleep(0.01)
        return "stopped"

    runner = Runner()
    task = runner.run(forever)
    time.sleep(0.05)
    assert runner.shutdown(2.0)
    assert task.done and task.outcome == "stopped"
