"""The window stays responsive by construction: heavy core work runs in worker threads, and Cancel stops it.

Nothing here measures time (a busy machine must not fail the suite): the stall measurement is
`benchmarks/bench_responsiveness.py`. These tests wrap the core entry points the window's jobs
call and record the thread each call ran on and how it ended; what the tests assert is which
thread did the work and what reached `AppState`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from ibviewer.errors import Cancelled
from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.gui.main_window import MainWindow
from ibviewer.gui.widgets.style import configure_pyqtgraph
from tests.gui.test_main_window import HANG_GUARD_MS

HANG_GUARD_S = HANG_GUARD_MS / 1000

#: (module, attribute path) of the heavy core work behind opening a run and its analysis chain
ANALYSIS_WORK = (
    ("ibviewer.core.run", "open_run"),  # opening: reads the checkpoints
    ("ibviewer.core.run", "Run.activations"),  # extraction (or the activation cache)
    ("ibviewer.core.activations", "fill_activations"),  # the forward passes
    ("ibviewer.core.information", "compute_information_plane"),
    ("ibviewer.core.embedding", "embed_layers"),  # the PCA preview, then t-SNE
    ("ibviewer.core.probes", "run_probes"),
)
PROBE_WORK = (("ibviewer.core.probes", "run_probes"),)  # also behind "Probe every epoch"
NEIGHBOUR_WORK = (("ibviewer.core.neighbors", "NeighborIndex.__init__"), ("ibviewer.core.neighbors", "NeighborIndex.query"))


@dataclass
class CoreCall:
    name: str
    thread: threading.Thread
    kwargs: dict[str, Any]
    outcome: str = "running"  # "returned", or the name of the exception it raised


class CoreCalls:
    """Wrap core functions (and methods) to record every call: which thread, with what, how it ended.

    A function is replaced in its own module and in every loaded ``ibviewer`` module that
    imported it by name, so the record does not depend on how the GUI imports the core.
    """

    def __init__(self, monkeypatch, targets: Sequence[tuple[str, str]]) -> None:  # noqa: ANN001
        self.calls: list[CoreCall] = []
        self.names = [path for _, path in targets]
        self._lock = threading.Lock()
        for module_name, path in targets:
            owner: Any = import_module(module_name)
            *parents, attribute = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            replace_everywhere(monkeypatch, owner, attribute, self._wrap(path, getattr(owner, attribute)))

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            call = CoreCall(name, threading.current_thread(), kwargs)
            with self._lock:
                self.calls.append(call)
            try:
                result = original(*args, **kwargs)
            except BaseException as exc:
                call.outcome = type(exc).__name__
                raise
            call.outcome = "returned"
            return result

        return recorded

    def of(self, name: str) -> list[CoreCall]:
        with self._lock:
            return [call for call in self.calls if call.name == name]

    def never_called(self) -> list[str]:
        return [name for name in self.names if not self.of(name)]

    def on_thread(self, thread: threading.Thread) -> list[str]:
        with self._lock:
            return [call.name for call in self.calls if call.thread is thread]


def replace_everywhere(monkeypatch, owner: Any, attribute: str, new: Any) -> None:  # noqa: ANN001
    """``monkeypatch.setattr(owner, attribute, new)``, and the same in every ``ibviewer`` module
    holding the old object under any name (``from module import function``)."""
    old = getattr(owner, attribute)
    monkeypatch.setattr(owner, attribute, new)
    if isinstance(owner, type):
        return  # a method: every caller looks it up on the class
    for module_name, module in list(sys.modules.items()):
        if module is owner or not module_name.startswith("ibviewer") or module is None:
            continue
        for name, value in list(vars(module).items()):
            if value is old:
                monkeypatch.setattr(module, name, new)


def make_window(qtbot, method: str, max_samples: int | None) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method=method), RunRequest(path="", max_samples=max_samples),
                        show_dialogs=False, persist_layout=False)  # fmt: skip
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    qtbot.waitExposed(window)
    return window


def button(window: MainWindow, text: str) -> QPushButton:
    """The window's push button showing ``text`` (found as a user finds it, by its label)."""
    found = [b for b in window.findChildren(QPushButton) if b.text() == text]
    assert len(found) == 1, f"expected one {text!r} button, found {len(found)}"
    return found[0]


def assert_off_the_gui_thread(calls: CoreCalls, gui_thread: threading.Thread) -> None:
    assert calls.never_called() == [], "the window no longer reaches these: update the lists of core work"
    assert [call.outcome for call in calls.calls if call.outcome != "returned"] == []
    assert calls.on_thread(gui_thread) == [], "heavy core work ran on the GUI thread"


def test_opening_and_the_full_analysis_run_off_the_gui_thread(qtbot, digits_run, monkeypatch):
    """Open a run (extraction) and the full analysis (PCA preview, information plane, t-SNE,
    probes): each heavy core call runs in a worker thread, and its results reach the state."""
    gui_thread = threading.current_thread()
    calls = CoreCalls(monkeypatch, ANALYSIS_WORK)
    window = make_window(qtbot, "tsne", max_samples=300)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(digits_run)
    assert window.last_error is None
    assert state.n_samples == 300 and state.infoplane is not None
    assert {state.embedding(layer).method for layer in state.layer_names} == {"tsne"}
    assert state.probes is not None and state.probes.epochs == (state.epoch,)
    assert_off_the_gui_thread(calls, gui_thread)
    methods = [call.kwargs.get("method") for call in calls.of("embed_layers")]
    assert methods == ["pca", "tsne"]  # the preview, then the chosen method


def test_probing_every_epoch_and_neighbour_look_ups_run_off_the_gui_thread(qtbot, digits_run, monkeypatch):
    """ "Probe every epoch" and a neighbour look-up: in worker threads, with correct results."""
    gui_thread = threading.current_thread()
    window = make_window(qtbot, "pca", max_samples=300)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(digits_run)
    assert window.last_error is None
    calls = CoreCalls(monkeypatch, PROBE_WORK + NEIGHBOUR_WORK)

    button(window, "Probe every epoch").click()
    qtbot.waitUntil(lambda: state.probes.epochs == tuple(state.run.epochs), timeout=HANG_GUARD_MS)
    layer = state.layer_names[1]
    with qtbot.waitSignal(state.neighbors_changed, timeout=HANG_GUARD_MS, check_params_cb=lambda *_: state.neighbors is not None):
        state.set_focus(17, layer)
    assert state.neighbors.metric == "euclidean"
    x = state.activations.layer(layer, state.epoch)
    distances = np.linalg.norm(x - x[17], axis=1)
    distances[17] = np.inf  # the sample itself is not its own neighbour
    np.testing.assert_allclose(state.neighbors.distances[layer], np.sort(distances)[: state.neighbors.k], rtol=1e-4)
    assert_off_the_gui_thread(calls, gui_thread)


def test_cancel_stops_a_running_t_sne_and_nothing_it_posts_later_reaches_the_state(qtbot, digits_run, monkeypatch):
    """Open a run with t-SNE chosen; the worker is held inside t-SNE's first iteration callback until
    Cancel is clicked, then posts that snapshot and checks for cancellation: the snapshot must be
    dropped, the job must end as cancelled, its thread must end, and what was finished stays."""
    optimising, clicked = threading.Event(), threading.Event()
    snapshots_after_cancel: list[object] = []

    class HeldAtFirstSnapshot:
        """The job's progress, except that t-SNE's first snapshot waits for the click."""

        def __init__(self, progress: Any) -> None:
            self._progress = progress

        def partial(self, result: object) -> None:
            if hasattr(result, "iteration"):
                if not optimising.is_set():
                    optimising.set()
                    clicked.wait(HANG_GUARD_S)
                if clicked.is_set():
                    snapshots_after_cancel.append(result)
            self._progress.partial(result)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._progress, name)

    import ibviewer.core.embedding as embedding

    real_embed_layers = embedding.embed_layers

    def embed_layers(*args: Any, progress: Any, **kwargs: Any) -> Any:
        if kwargs.get("method") == "tsne":
            progress = HeldAtFirstSnapshot(progress)
        return real_embed_layers(*args, progress=progress, **kwargs)

    replace_everywhere(monkeypatch, embedding, "embed_layers", embed_layers)
    calls = CoreCalls(monkeypatch, [("ibviewer.core.embedding", "embed_layers")])
    window = make_window(qtbot, "tsne", max_samples=None)
    state = window.state
    try:
        window.open_path(digits_run)
        qtbot.waitUntil(optimising.is_set, timeout=HANG_GUARD_MS)
        # the PCA preview and the information plane came before t-SNE: wait until they are in the state
        qtbot.waitUntil(lambda: state.infoplane is not None and all(
            getattr(state.embedding(layer), "method", None) == "pca" for layer in state.layer_names
        ), timeout=HANG_GUARD_MS)  # fmt: skip
        shown = {layer: state.embedding(layer) for layer in state.layer_names}
        infoplane = state.infoplane
        changes: list[str] = []
        state.embedding_changed.connect(changes.append)
        state.result_changed.connect(changes.append)
        assert window.cancel_button.isVisible()
        with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
            QTest.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
            clicked.set()
    finally:
        clicked.set()  # never leave the worker waiting

    [tsne] = [call for call in calls.of("embed_layers") if call.kwargs.get("method") == "tsne"]
    tsne.thread.join(HANG_GUARD_S)
    assert not tsne.thread.is_alive(), "the cancelled job's thread is still running"
    assert tsne.outcome == Cancelled.__name__
    assert len(snapshots_after_cancel) == 1, "t-SNE went on optimising after Cancel"  # only the held one
    QApplication.processEvents()  # deliver whatever the thread queued before it ended
    assert changes == [], "a result of the cancelled job reached the state"
    assert {layer: state.embedding(layer) for layer in state.layer_names} == shown
    assert state.infoplane is infoplane and state.probes is None  # the probes come after t-SNE: never started
    assert window.last_error is None
    assert window.status_message.text() == "Cancelled"
    assert not window.cancel_button.isVisible() and not window.is_busy()
    # what was finished stays on screen: the PCA preview with every sample
    assert all(len(panel.scatter.data) == state.n_samples for panel in window.embedding_view.panels.values())
