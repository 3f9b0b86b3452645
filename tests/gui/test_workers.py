"""TaskRunner: results, partials, failures, cancellation and stale jobs, across real threads."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from PySide6.QtCore import QObject

from ibviewer.errors import DatasetError
from ibviewer.gui.workers import TaskRunner


class Recorder(QObject):
    """Collects signal payloads in the GUI thread (worker signals need QObject slots)."""

    def __init__(self) -> None:
        super().__init__()
        self.partials: list = []
        self.progress: list = []
        self.results: list = []
        self.failures: list = []
        self.thread_ids: set = set()

    def on_partial(self, value) -> None:
        self.thread_ids.add(threading.get_ident())
        self.partials.append(value)

    def on_progress(self, fraction, message) -> None:
        self.progress.append((fraction, message))

    def on_finished(self, value) -> None:
        self.thread_ids.add(threading.get_ident())
        self.results.append(value)

    def on_failed(self, exc) -> None:
        self.failures.append(exc)


def _connect(runner: TaskRunner, recorder: Recorder) -> None:
    runner.partial_ready.connect(recorder.on_partial)
    runner.progress_changed.connect(recorder.on_progress)
    runner.finished.connect(recorder.on_finished)
    runner.failed.connect(recorder.on_failed)


def _count(n, *, progress):
    total = 0
    for i in range(n):
        progress.check_cancelled()
        progress.partial(("layer", i))
        progress.update((i + 1) / n, f"step {i + 1} of {n}")
        total += i
    return total


def test_result_partials_and_progress_arrive_in_the_gui_thread(qtbot):
    runner, recorder = TaskRunner(_count, 5), Recorder()
    _connect(runner, recorder)
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        runner.start()
    assert recorder.results == [10]
    assert recorder.partials == [("layer", i) for i in range(5)]  # final partials are never dropped, in order
    assert recorder.progress[-1][0] == 1.0
    assert recorder.thread_ids == {threading.get_ident()}
    assert not runner.is_running()


def _spin(progress):
    while True:
        progress.check_cancelled()
        time.sleep(0.005)


def test_cancel_reaches_the_worker(qtbot):
    runner = TaskRunner(_spin)
    with qtbot.waitSignal(runner.cancelled, timeout=5_000):
        runner.start()
        runner.cancel()
    assert runner.wait(2.0)


def test_failure_carries_the_exception(qtbot):
    def broken(progress):
        raise DatasetError("no such dataset: try digits")

    runner, recorder = TaskRunner(broken), Recorder()
    _connect(runner, recorder)
    with qtbot.waitSignal(runner.failed, timeout=5_000):
        runner.start()
    assert isinstance(recorder.failures[0], DatasetError)
    assert recorder.results == []


def test_a_new_job_cancels_the_old_one_and_drops_its_results(qtbot):
    started = threading.Event()
    old_saw_cancel = threading.Event()

    def slow(value, progress):
        started.set()
        for _ in range(400):
            if progress.cancel_event.is_set():
                old_saw_cancel.set()
                break
            time.sleep(0.005)
        progress.partial(("stale", value))
        return value  # returns normally: the runner must still drop it

    def fast(value, progress):
        return value

    runner, recorder = TaskRunner(), Recorder()
    _connect(runner, recorder)
    first = runner.submit(slow, "old")
    assert started.wait(5)
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        second = runner.submit(fast, "new")
    assert second == first + 1
    assert runner.wait(5.0)
    qtbot.wait(50)  # let any stale queued event arrive (and be dropped)
    assert old_saw_cancel.is_set()
    assert recorder.results == ["new"]
    assert ("stale", "old") not in recorder.partials


@dataclass(frozen=True)
class Snapshot:
    layer: str
    epoch: int
    iteration: int
    coords: np.ndarray


def test_intermediate_snapshots_are_coalesced_but_the_newest_arrives(qtbot):
    posted = threading.Event()

    def optimise(progress):
        for iteration in range(2000):
            progress.partial(Snapshot("fc1", 0, iteration, np.zeros((3, 2))))
        progress.partial(("final", "fc1"))
        posted.set()
        return None

    runner, recorder = TaskRunner(optimise), Recorder()
    _connect(runner, recorder)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()
        # the GUI thread picks nothing up while the optimiser posts: every snapshot but the newest is replaced
        assert posted.wait(10.0)
    snapshots = [p for p in recorder.partials if isinstance(p, Snapshot)]
    assert [s.iteration for s in snapshots] == [1999]
    assert recorder.partials[-1] == ("final", "fc1")


def test_shutdown_waits_for_the_thread(qtbot):
    runner = TaskRunner(_spin)
    runner.start()
    assert runner.is_running()
    assert runner.shutdown(timeout=2.0)
    assert not runner.is_running()


def test_start_without_a_function_is_a_programming_error():
    with pytest.raises(RuntimeError):
        TaskRunner().start()
