"""Live controls: settings_diff recomputes only what a change touches; debounced edits; sensitivity; search."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.information import mutual_information
from ibviewer.errors import IBViewerError
from ibviewer.gui.analysis_settings import AnalysisSettings, settings_diff
from ibviewer.gui.views.controls_panel import SENSITIVITY_BINS, ControlsPanel, search_rows
from tests.gui.part2_data import make_state, make_word_state


def test_settings_diff_names_only_what_depends_on_the_change():
    base = AnalysisSettings()
    assert settings_diff(base, base.with_changes(perplexity=50.0)) == {"embeddings"}
    assert settings_diff(base, base.with_changes(n_bins=12)) == {"infoplane"}
    assert settings_diff(base, base.with_changes(range_mode="layer")) == {"infoplane"}
    assert settings_diff(base, base.with_changes(estimator="kde")) == {"infoplane"}
    assert settings_diff(base, base.with_changes(seed=3, dims=3)) == {"embeddings"}
    assert settings_diff(base, base.with_changes(alignment="procrustes", preprocessing="l2")) == {"embeddings"}
    # display-only settings and parameters the chosen method / estimator ignore recompute nothing
    assert settings_diff(base, base.with_changes(color_by="faithfulness", search="^a", kde_band=False)) == set()
    assert settings_diff(base, base.with_changes(noise_var=0.1)) == set()  # binning ignores it
    assert settings_diff(base, base.with_changes(n_neighbors=40)) == set()  # t-SNE ignores it
    umap = base.with_changes(method="umap")
    assert settings_diff(umap, umap.with_changes(n_neighbors=40)) == {"embeddings"}
    assert settings_diff(umap, umap.with_changes(perplexity=5.0)) == set()
    assert settings_diff(None, base) == {"infoplane", "embeddings", "probes"}
    assert settings_diff(base, base.with_changes(n_bins=12, perplexity=5.0)) == {"infoplane", "embeddings"}


def test_settings_map_onto_the_core_arguments():
    s = AnalysisSettings(n_bins=12, range_mode="layer", method="umap", n_neighbors=20, pca_dims=50)
    assert s.estimator_params() == {"n_bins": 12, "value_range": "layer"}
    assert AnalysisSettings(bin_width=0.1).estimator_params() == {"bin_width": 0.1, "value_range": (-1.0, 1.0)}
    assert AnalysisSettings(estimator="kde", noise_var=0.01).estimator_params() == {"noise_var": 0.01}
    params = s.embedding_params()
    assert params["n_neighbors"] == 20 and "perplexity" not in params and params["pca_dims"] == 50
    assert AnalysisSettings.from_dict(s.to_dict()) == s
    with pytest.raises(IBViewerError, match="aligned_umap"):
        AnalysisSettings(alignment="aligned_umap")
    with pytest.raises(IBViewerError, match="n_bins"):
        AnalysisSettings(n_bins=1)
    with pytest.raises(IBViewerError, match="Unknown analysis setting"):
        AnalysisSettings.from_dict({"bins": 3})


@pytest.fixture
def panel(qtbot):
    state = make_state(dims=2)
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


def test_sensitivity_sweeps_bins_in_the_background(panel, qtbot):
    state = panel.state
    with qtbot.waitSignal(panel.sensitivity_runner.finished, timeout=20_000):
        panel.compute_sensitivity()
    result = panel.sensitivity
    assert result.layer == state.layer_names[-1] and result.epoch == state.epoch
    assert result.values.tolist() == list(SENSITIVITY_BINS)
    t = state.activations.layer(result.layer, state.epoch)
    expected = mutual_information(t, state.labels, "binning", n_bins=12)
    k = SENSITIVITY_BINS.index(12)
    assert result.i_xt[k] == pytest.approx(expected["i_xt"]) and result.i_ty[k] == pytest.approx(expected["i_ty"])
    assert result.i_xt[-1] >= result.i_xt[0]  # more bins resolve more
    x, y = panel.i_xt_curve.getData()
    np.testing.assert_array_equal(y, result.i_xt)
    # clicking a sample in another layer sweeps that layer
    with qtbot.waitSignal(panel.sensitivity_runner.finished, timeout=20_000):
        state.set_focus(0, "fc1")
    assert panel.sensitivity.layer == "fc1"


def test_search_selects_matching_samples_everywhere():
    state = make_word_state()
    rows = search_rows(state, r"^query0[0-2]$")
    assert [state.sample_name(r) for r in rows] == ["query00", "query01", "query02"]
    assert search_rows(state, "").size == 0
    with pytest.raises(IBViewerError, match="Invalid search pattern"):
        search_rows(state, "(")


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
