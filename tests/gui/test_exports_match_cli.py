"""The GUI's File > Export Data writes byte-identical files to `ibviewer analyze` for the same run and settings."""

from __future__ import annotations

from ibviewer.cli import main
from ibviewer.core.activations import choose_samples
from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.gui.main_window import MainWindow
from ibviewer.gui.widgets.style import configure_pyqtgraph

ROW = 5
N = 300


def test_export_data_writes_the_same_bytes_as_analyze(qtbot, tmp_path, digits_run):
    index = int(choose_samples(1797, N)[ROW])
    out = tmp_path / "cli"
    code = main(["analyze", str(digits_run), "--out", str(out), "--method", "tsne", "--perplexity", "12", "--seed", "3",
                 "--max-samples", str(N), "--select", str(index), "--k", "6", "--no-cache"])  # fmt: skip
    assert code == 0

    configure_pyqtgraph()
    settings = AnalysisSettings(method="tsne", perplexity=12.0, seed=3, k=6)
    window = MainWindow(settings, RunRequest(path="", max_samples=N, use_cache=False), show_dialogs=False,
                        persist_layout=False)  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.idle, timeout=180_000):
        window.open_path(digits_run)
    state = window.state
    assert window.last_error is None and state.epoch == state.activations.epochs[-1]
    assert {state.embedding(layer).method for layer in state.layer_names} == {"tsne"}
    with qtbot.waitSignal(state.neighbors_changed, timeout=60_000, check_params_cb=lambda: state.neighbors is not None):
        state.set_focus(ROW, state.layer_names[-1])
    qtbot.waitUntil(lambda: state.neighbors is not None, timeout=60_000)

    gui = tmp_path / "gui"
    gui.mkdir()
    for name in ("infoplane", "probes", "embeddings", "neighbors"):
        written = window.export_data(name, gui / f"{name}.csv")
        assert written.read_bytes() == (out / f"{name}.csv").read_bytes(), name
        if name in ("probes", "embeddings"):  # and the sidecars saying how they were made
            assert (gui / f"{name}.json").read_bytes() == (out / f"{name}.json").read_bytes(), name
