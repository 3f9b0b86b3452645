"""GUI test fixtures: QSettings in a temporary folder, and small real runs written to disk.

Tests run on whatever Qt platform the session has (xcb under pytest-xvfb, or offscreen
when no display exists); nothing here forces one.
"""

from __future__ import annotations

import numpy as np
import pytest

#: samples of the digits run the `window` fixture opens (few: the window tests are about wiring)
WINDOW_SAMPLES = 120


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, qapp):
    """Every test reads and writes its own QSettings (recent runs, last dialog answers, layout)."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


def _train_digits_run(folder, sizes=(64, 32, 24, 16, 10), epochs=(0, 2, 4), seed=0):
    """A real ibviewer run: an MLP trained for a few epochs on digits, recorded with the Recorder."""
    import torch

    from ibviewer.core.datasets import digits
    from ibviewer.core.recorder import Recorder
    from ibviewer.models import mlp

    torch.manual_seed(seed)
    data = digits()
    x, y = torch.tensor(data.x), torch.tensor(data.y)
    model = mlp(list(sizes))
    recorder = Recorder(folder, "ibviewer.models:mlp", {"sizes": list(sizes)}, "digits", name="test_digits")
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(max(epochs) + 1):
        if epoch:
            for i in range(0, len(x), 128):
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[i : i + 128]), y[i : i + 128])
                loss.backward()
                optimiser.step()
        if epoch in epochs:
            with torch.no_grad():
                accuracy = float((model(x).argmax(1) == y).float().mean())
            recorder.record(epoch, model, {"train_acc": accuracy}, force=True)
    return folder


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """Path of a small trained run folder (3 epochs, 3 hidden layers) shared by the GUI tests."""
    return _train_digits_run(tmp_path_factory.mktemp("runs") / "digits_run")


@pytest.fixture(scope="session")
def archive_run(tmp_path_factory):
    """An activations archive (.npz): two layers over two epochs, 3 classes, with 8x8 images."""
    rng = np.random.default_rng(0)
    n = 240
    labels = np.repeat(np.arange(3), n // 3)
    centres = rng.normal(size=(3, 6)) * 4
    arrays = {"labels": labels, "label_names": np.array(["a", "b", "c"]), "images": rng.random((n, 8, 8))}
    for epoch in (0, 1):
        arrays[f"act/first/{epoch}"] = (centres[labels] * (epoch + 1) + rng.normal(size=(n, 6))).astype(np.float32)
        arrays[f"act/second/{epoch}"] = rng.normal(size=(n, 4)).astype(np.float32) + labels[:, None]
    path = tmp_path_factory.mktemp("archives") / "acts.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture
def controller_for():
    """The window's glue without the window: ``make(state)`` puts a JobHub and an AnalysisController behind a state.

    Views under test emit their requests as in the window (connect them to the controller);
    every hub is shut down after the test.
    """
    from ibviewer.core.config import RunRequest
    from ibviewer.gui.controller import AnalysisController
    from ibviewer.gui.jobs import JobHub
    from ibviewer.gui.playback import EpochPlayback

    made = []

    def make(state):
        controller = AnalysisController(state, JobHub(), EpochPlayback(state), RunRequest(path="", use_cache=False))
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.shutdown()
        assert controller.jobs.shutdown(10.0)


@pytest.fixture
def window(qtbot):
    """A shown MainWindow with PCA embeddings and at most ``WINDOW_SAMPLES`` samples per run, no dialogs."""
    from ibviewer.core.config import AnalysisSettings, RunRequest
    from ibviewer.gui.main_window import MainWindow
    from ibviewer.gui.widgets.style import configure_pyqtgraph

    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method="pca"), RunRequest(path="", max_samples=WINDOW_SAMPLES),
                        show_dialogs=False, persist_layout=False)  # fmt: skip
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    # every job stopped before the window goes: a late result must never reach a deleted widget
    # (on a busy machine the close event's own 2 s wait can be too short)
    window.controller.shutdown()
    assert window.jobs.shutdown(60.0)
