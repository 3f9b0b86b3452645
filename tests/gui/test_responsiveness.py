"""The issue's responsiveness check on the real default sample: a full analysis
(extraction of every saved epoch, information plane, PCA then t-SNE panels, probes)
never stalls the event loop for more than 200 ms."""

from __future__ import annotations

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import warm_up
from ibviewer.gui.main_window import MainWindow
from ibviewer.gui.widgets.style import configure_pyqtgraph
from ibviewer.gui.workers import reserve_gui_core
from ibviewer.samples import DEFAULT_SAMPLE, sample_path
from tests.gui.event_loop import open_while_timing


def test_full_analysis_of_the_default_sample_keeps_the_event_loop_free(qtbot):
    warm_up("tsne")  # the app loads the heavy libraries at start, before the user acts
    restore_thread_limits = reserve_gui_core()
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method="tsne"), RunRequest(path=""), show_dialogs=False, persist_layout=False)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    try:
        worst, where = open_while_timing(qtbot, window, sample_path(DEFAULT_SAMPLE), timeout_ms=300_000)
    finally:
        restore_thread_limits()
    state = window.state
    assert window.last_error is None
    assert state.n_samples == 1797 and len(state.run.epochs) == 50
    assert {state.embedding(layer).method for layer in state.layer_names} == {"tsne"}
    assert state.probes is not None and state.infoplane is not None
    assert worst < 0.2, f"the event loop stalled for {worst * 1000:.0f} ms during {where!r}"
