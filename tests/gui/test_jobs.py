"""The job hub: slots replace their job, stale results are dropped, one progress, busy/idle, Cancel,
and every job's failures and warnings reach the window, those a view asked for included."""

from __future__ import annotations

import threading
import time
import warnings

import pytest
from PySide6.QtCore import QObject

from ibviewer.errors import DatasetError, IBViewerError
from ibviewer.gui.jobs import JobHub
from tests.gui.synthetic import FakeRun, make_activations


class Calls(QObject):
    """Collects callback and signal payloads in the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: list = []
        self.partials: list = []
        self.threads: set[int] = set()

    def on_finished(self, value) -> None:
        self.threads.add(threading.get_ident())
        self.finished.append(value)

    def on_partial(self, value) -> None:
        self.partials.append(value)


def _wait_for(event: threading.Event, *, progress) -> str:
    """A job that runs until ``event`` is set (checking for cancellation), then returns "done"."""
    while not event.wait(0.005):
        progress.check_cancelled()
    return "done"


def _steps(values, *, progress, hold: threading.Event | None = None):
    for i, value in enumerate(values):
        progress.check_cancelled()
        progress.update(value, f"step {i}")
        time.sleep(0.01)
    if hold is not None:
        while not hold.wait(0.005):
            progress.check_cancelled()
    return values[-1]


@pytest.fixture
def hub(qtbot):
    jobs = JobHub()
    yield jobs
    jobs.shutdown(10.0)


def test_a_new_job_in_a_slot_replaces_the_old_one_and_its_result_is_dropped(hub, qtbot):
    calls = Calls()
    first = threading.Event()
    hub.submit("words", _wait_for, first, on_finished=calls.on_finished)
    first_thread = hub.runner("words")._thread
    hub.submit("words", lambda *, progress: "second", on_finished=calls.on_finished)
    first.set()  # the first job would now return "done": too late, it was replaced
    with qtbot.waitSignal(hub.idle, timeout=20_000):
        pass
    first_thread.join(5)
    qtbot.wait(50)
    assert calls.finished == ["second"] and calls.threads == {threading.get_ident()}  # in the GUI thread


def test_busy_idle_and_one_progress_that_never_goes_back(hub, qtbot):
    busy, progress = [], []
    hub.busy_changed.connect(busy.append)
    hub.progress_changed.connect(lambda fraction, message: progress.append(fraction))
    hold = threading.Event()
    with qtbot.waitSignal(hub.idle, timeout=30_000):
        hub.submit("analysis", _steps, [0.2, 0.5, 0.9], hold=hold)
        hub.submit("neighbors", _steps, [0.1, 1.0])  # joins while the analysis runs: the bar must not jump back
        assert hub.is_busy() and busy == [True]
        qtbot.waitUntil(lambda: not hub.is_running("neighbors"), timeout=20_000)
        hold.set()
    assert busy == [True, False] and not hub.is_busy()
    assert progress and all(b >= a for a, b in zip(progress, progress[1:])), progress


def test_background_jobs_are_never_busy_and_survive_cancel(hub, qtbot):
    release = threading.Event()
    calls = Calls()
    hub.submit("warm-up", _wait_for, release, background=True, on_finished=calls.on_finished)
    assert hub.is_running("warm-up") and not hub.is_busy()
    hub.cancel_all()
    release.set()
    qtbot.waitUntil(lambda: calls.finished == ["done"], timeout=20_000)


def test_failures_and_warnings_of_every_slot_reach_the_hub(hub, qtbot):
    def fails(*, progress):
        warnings.warn("layer fc2 sits at log2(N): lower the number of bins", stacklevel=1)
        raise DatasetError("the dataset has one class")

    with qtbot.waitSignal(hub.job_failed, timeout=20_000) as blocker:
        hub.submit("probes", fails)
    slot, exc = blocker.args
    assert slot == "probes" and isinstance(exc, DatasetError)
    assert hub.warnings == ["layer fc2 sits at log2(N): lower the number of bins"]
    hub.clear_warnings()
    assert hub.warnings == []


# -- the window: jobs a view asks for are jobs like any other --------------------------------------


def _show_synthetic_run(window) -> None:
    """Put a small in-memory run into the window's state (no open job, no analysis)."""
    window.state.set_run(FakeRun(), make_activations())


def test_a_failing_view_request_reaches_the_error_dialog(window, qtbot, monkeypatch):
    def broken_sweep(*args, progress, **kwargs):
        raise IBViewerError("The sweep cannot run on this layer; pick another one.")

    monkeypatch.setattr("ibviewer.gui.controller.estimator_sensitivity", broken_sweep)
    _show_synthetic_run(window)
    window.show_dialogs = True
    with qtbot.waitSignal(window.job_failed, timeout=20_000) as blocker:
        window.controls.sweep_button.click()
    assert str(blocker.args[0]) == "The sweep cannot run on this layer; pick another one."
    assert window.last_error is blocker.args[0] and window.last_error_dialog.isVisible()
    assert window.status_message.text().startswith("Failed: The sweep cannot run")
    assert "Computing" not in window.controls.sensitivity_note.text()  # no red text or stale note in the view
    window.last_error_dialog.close()


def test_warnings_of_a_view_request_reach_the_warnings_list(window, qtbot, monkeypatch):
    from ibviewer.core.pipeline import estimator_sensitivity

    _show_synthetic_run(window)
    state = window.state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimator_sensitivity(state.activations, "fc3", state.epoch, state.settings)

    def sweep_with_advice(*args, progress, **kwargs):
        warnings.warn("fc3 sits at log2(N) at 200 bins: use fewer bins", stacklevel=1)
        return result

    monkeypatch.setattr("ibviewer.gui.controller.estimator_sensitivity", sweep_with_advice)
    with qtbot.waitSignal(window.jobs.idle, timeout=20_000):
        window.controls.sweep_button.click()
    assert window.state.sensitivity is result
    assert window.jobs.warnings == ["fc3 sits at log2(N) at 200 bins: use fewer bins"]
    assert window.warning_button.isVisible() and window.warning_button.text() == "⚠ 1 warning"
    window.warning_button.click()
    assert window.warnings_dialog.isVisible()
    assert window.warnings_dialog.shown_warnings() == ["fc3 sits at log2(N) at 200 bins: use fewer bins"]
    window.warnings_dialog.close()


def test_cancel_stops_a_view_request_and_the_window_goes_idle(window, qtbot, monkeypatch):
    started = threading.Event()

    def endless_probes(*args, progress, **kwargs):
        started.set()
        while True:
            progress.check_cancelled()
            time.sleep(0.005)

    monkeypatch.setattr("ibviewer.gui.controller.probe_epochs", endless_probes)
    _show_synthetic_run(window)
    panel = window.probe_panel
    panel.all_epochs_button.click()
    assert window.is_busy() and window.state.running == {"probes"}
    assert started.wait(20) and panel.all_epochs_button.text() == "Probing…"
    qtbot.waitUntil(window.cancel_button.isVisible, timeout=5000)
    with qtbot.waitSignal(window.idle, timeout=20_000):
        window.cancel_button.click()
    assert not window.is_busy() and window.state.running == frozenset()
    assert window.status_message.text() == "Cancelled" and not window.cancel_button.isVisible()
    assert panel.all_epochs_button.isEnabled() and panel.all_epochs_button.text() == "Probe every epoch"
    assert window.last_error is None


def test_an_older_request_of_a_view_never_lands_after_a_newer_one(window, qtbot, monkeypatch):
    from ibviewer.core.pipeline import estimator_sensitivity

    _show_synthetic_run(window)
    state = window.state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {layer: estimator_sensitivity(state.activations, layer, state.epoch, state.settings)
                   for layer in ("fc1", "fc2")}  # fmt: skip
    release, threads = threading.Event(), []

    def sweep(activations, layer, epoch, settings, *, progress):
        if layer == "fc1":  # slow, and deaf to Cancel: it returns after the newer request has finished
            threads.append(threading.current_thread())
            release.wait(20)
        return results[layer]

    monkeypatch.setattr("ibviewer.gui.controller.estimator_sensitivity", sweep)
    window.controls.sensitivity_layer.setCurrentIndex(0)
    window.controls.sweep_button.click()  # fc1
    window.controls.sensitivity_layer.setCurrentIndex(1)
    with qtbot.waitSignal(window.idle, timeout=20_000):
        window.controls.sweep_button.click()  # fc2 replaces it
    assert state.sensitivity is results["fc2"]
    release.set()
    threads[0].join(20)
    qtbot.wait(100)  # whatever the old job posted has been delivered (and dropped) by now
    assert state.sensitivity is results["fc2"] and "<b>fc2</b>" in window.controls.sensitivity_note.text()
