"""Live controls: settings_diff recomputes only what a change touches; debounced edits; sensitivity; search."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.information import mutual_information
from ibviewer.errors import IBViewerError
from ibviewer.core.config import AnalysisSettings, settings_diff
from ibviewer.core.pipeline import SENSITIVITY_BINS
from ibviewer.gui.views.controls_panel import ControlsPanel
from tests.gui.synthetic import make_state, make_word_state


@pytest.fixture
def panel(qtbot):
    state = make_state(dims=2)
    state.set_settings(AnalysisSettings())  # t-SNE, so that a perplexity edit matters
    panel = ControlsPanel(state)
    qtbot.addWidget(panel)
    return panel


def test_perplexity_edit_is_debounced_and_recomputes_only_embeddings(panel, qtbot):
    emitted = []
    panel.settings_edited.connect(emitted.append)
    old = panel.settings()
    for value in (31, 35, 40, 45):  # a spin box being dragged
        panel.perplexity.setValue(value)
    assert emitted == []  # nothing until the edits pause
    qtbot.waitUntil(lambda: len(emitted) == 1, timeout=2000)
    qtbot.wait(2 * 250)
    assert len(emitted) == 1 and emitted[0].perplexity == 45.0
    assert settings_diff(old, emitted[0]) == {"embeddings"}
    panel.n_bins.setValue(12)
    panel.flush()
    assert settings_diff(emitted[0], emitted[1]) == {"infoplane"}


def test_controls_follow_the_method_and_estimator(panel):
    panel.method.setCurrentIndex(panel.method.findData("pca"))
    assert not panel.perplexity.isEnabled() and not panel.pca_before.isEnabled()
    panel.method.setCurrentIndex(panel.method.findData("umap"))
    assert panel.n_neighbors.isEnabled() and not panel.perplexity.isEnabled()
    panel.alignment.setCurrentIndex(panel.alignment.findData("aligned_umap"))
    panel.method.setCurrentIndex(panel.method.findData("tsne"))
    assert panel.alignment.currentData() == "init"  # AlignedUMAP is UMAP-only
    panel.estimator.setCurrentIndex(panel.estimator.findData("kde"))
    assert panel.noise_var.isEnabled() and not panel.n_bins.isEnabled()
    panel.flush()
    assert panel.settings().estimator == "kde"
    restored = AnalysisSettings(method="umap", n_neighbors=33, dims=3, color_by="correct")
    panel.set_settings(restored)
    assert panel.settings() == restored
    for pca_dims in ("auto", 50, None, 20):  # every PCA-first choice round-trips, a number from a session too
        panel.set_settings(restored.with_changes(method="tsne", pca_dims=pca_dims))
        assert panel.settings().pca_dims == pca_dims


def test_sensitivity_sweeps_bins_in_the_background(panel, qtbot, controller_for):
    state = panel.state
    controller = controller_for(state)
    panel.sensitivity_requested.connect(controller.compute_sensitivity)
    with qtbot.waitSignal(state.result_changed, timeout=120_000, check_params_cb=lambda what: what == "sensitivity"):
        panel.request_sensitivity()
        assert state.running == {"sensitivity"} and "Computing" in panel.sensitivity_note.text()
    result = state.sensitivity
    assert result.layer == state.layer_names[-1] and result.epoch == state.epoch
    assert result.values.tolist() == list(SENSITIVITY_BINS)
    t = state.activations.layer(result.layer, state.epoch)
    expected = mutual_information(t, state.labels, "binning", n_bins=12)
    k = SENSITIVITY_BINS.index(12)
    assert result.i_xt[k] == pytest.approx(expected["i_xt"]) and result.i_ty[k] == pytest.approx(expected["i_ty"])
    assert result.i_xt[-1] >= result.i_xt[0]  # more bins resolve more
    x, y = panel.i_xt_curve.getData()
    np.testing.assert_array_equal(y, result.i_xt)
    assert f"<b>{result.layer}</b>" in panel.sensitivity_note.text()
    # clicking a sample in another layer sweeps that layer
    with qtbot.waitSignal(state.result_changed, timeout=120_000, check_params_cb=lambda what: what == "sensitivity"):
        state.set_focus(0, "fc1")
    assert state.sensitivity.layer == "fc1"
    qtbot.waitUntil(lambda: not controller.jobs.is_busy(), timeout=120_000)  # the neighbour look-up


def test_search_matches_words_and_class_names():
    state = make_word_state()
    rows = state.rows_matching(r"^query0[0-2]$")
    assert [state.sample_name(r) for r in rows] == ["query00", "query01", "query02"]
    assert state.rows_matching("").size == 0
    with pytest.raises(IBViewerError, match="Invalid search pattern"):
        state.rows_matching("(")


def test_search_box_sets_and_clears_the_selection(qtbot):
    state = make_word_state()
    panel = ControlsPanel(state)
    qtbot.addWidget(panel)
    panel.search.setText("_0[01]$")
    with qtbot.waitSignal(state.selection_changed, timeout=2000):
        pass
    assert state.selection.size == 32 and all(state.sample_name(r).endswith(("_00", "_01")) for r in state.selection)
    assert "32 of" in panel.search_status.text()
    panel.search.setText("[")
    panel.apply_search()
    assert "Invalid" in panel.search_status.text() and state.selection.size == 32
    panel.search.setText("")
    panel.apply_search()
    assert state.selection.size == 0


def test_renyi_parameters_are_controls_and_its_sweep_varies_the_kernel_width(panel, qtbot, controller_for):
    from ibviewer.core.pipeline import SENSITIVITY_WIDTH

    state = panel.state
    panel.settings_edited.connect(state.set_settings)  # as the window's controller does
    panel.estimator.setCurrentIndex(panel.estimator.findData("renyi"))
    assert panel.alpha.isEnabled() and panel.width_factor.isEnabled() and not panel.n_bins.isEnabled()
    assert not panel.noise_var.isEnabled() and not panel.kernel_width.isEnabled()
    panel.alpha.setValue(1.5)
    panel.width_rule.setCurrentIndex(panel.width_rule.findData("silverman"))
    panel.width_factor.setValue(0.5)
    panel.flush()
    assert state.settings.estimator_params() == {
        "alpha": 1.5, "kernel_width": "silverman", "width_factor": 0.5, "conv_kernel": "tensor"
    }  # fmt: skip
    panel.use_kernel_width.setChecked(True)
    panel.kernel_width.setValue(2.5)
    panel.conv_kernel.setCurrentIndex(panel.conv_kernel.findData("channels"))
    panel.flush()
    assert state.settings.estimator_params() == {"alpha": 1.5, "kernel_width": 2.5, "conv_kernel": "channels"}
    assert not panel.width_rule.isEnabled() and not panel.width_factor.isEnabled()
    restored = state.settings.with_changes(alpha=2.0, kernel_width=None, width_factor=None, width_rule="median")
    panel.set_settings(restored)
    assert panel.settings() == restored and panel.width_factor.text() == "rule's default"

    state.set_settings(restored)
    controller = controller_for(state)  # built on these settings: it recomputes nothing
    panel.sensitivity_requested.connect(controller.compute_sensitivity)
    with qtbot.waitSignal(state.result_changed, timeout=120_000, check_params_cb=lambda what: what == "sensitivity"):
        panel.request_sensitivity()
    result = state.sensitivity
    assert result.estimator == "renyi" and result.parameter == "width_factor"
    np.testing.assert_allclose(result.values, 0.35 * np.asarray(SENSITIVITY_WIDTH))
    assert result.i_xt[0] > result.i_xt[-1]  # wider kernels merge more samples
    assert panel.sensitivity_plot.getAxis("bottom").labelText == "kernel width (× the width rule)"
    assert "kernel width" in panel.sensitivity_note.text()
    assert panel.current_marker.isVisible() and panel.current_marker.value() == pytest.approx(np.log10(0.35))
    panel.width_factor.setValue(0.7)  # moves the marker along the same sweep
    panel.flush()
    assert panel.current_marker.value() == pytest.approx(np.log10(0.7))


def test_run_on_takes_a_cluster_address_and_refuses_nonsense(panel, qtbot):
    emitted = []
    panel.scheduler_edited.connect(emitted.append)
    panel.scheduler.setText("tcp://cluster.lab:8786")
    panel.scheduler.editingFinished.emit()
    panel.scheduler.setText("my laptop")
    panel.scheduler.editingFinished.emit()
    assert "Scheduler 'my laptop'" in panel.sensitivity_note.text()
    panel.scheduler.setText("")
    panel.scheduler.editingFinished.emit()
    assert emitted == ["tcp://cluster.lab:8786", None]
