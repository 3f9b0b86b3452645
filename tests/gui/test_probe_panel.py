"""The probe panel draws exactly the core's ProbeResult, marks the saturation layer and says what to prune."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ibviewer.core.probes import run_probes
from ibviewer.gui.views.probe_panel import ProbePanel
from tests.gui.synthetic import EPOCHS, LAYERS, make_state


def test_probe_panel_numbers_equal_the_core(qtbot):
    state = make_state(dims=2)
    panel = ProbePanel(state)
    qtbot.addWidget(panel)
    assert panel.table.rowCount() == 0 and "computing" in panel.title.text()
    acts = state.activations
    inputs = np.random.default_rng(0).normal(size=(acts.n_samples, 4)).astype(np.float32)
    result = run_probes(replace(acts, inputs=inputs), epochs="last", seed=0, use_cache=False)
    state.set_probes(result)
    shown = panel.shown_values()
    assert list(shown) == list(LAYERS)
    # the raw inputs' baseline is the first row and a dashed line; every bar has its interval
    base = result.baseline
    assert panel.table.item(0, 0).text().startswith("input") and panel.table.item(0, 1).data(256) == base.linear_acc
    assert panel.baseline_line.isVisible() and panel.baseline_line.value() == base.linear_acc
    for j, layer in enumerate(LAYERS):
        assert shown[layer] == (result.linear_acc[0, j], result.knn_acc[0, j])
        assert panel.table.item(j + 1, 1).data(256) == result.linear_acc[0, j]  # Qt.UserRole
        low, high = result.linear_ci[0, j]
        assert panel.table.item(j + 1, 1).text() == f"{100 * result.linear_acc[0, j]:.1f}% ({100 * low:.1f} to {100 * high:.1f})"
        assert panel.linear_errors.opts["top"][j] == high - result.linear_acc[0, j]
    assert result.split_note() in panel.title.text() and "seeded held-out" in panel.title.text()
    saturation = result.saturation_layer()
    assert f"saturation: {saturation}" == panel.saturation_label.toPlainText()
    assert result.pruning_note() in panel.note.text()
    assert panel.chance_line.value() == result.chance
    assert not panel.epoch_plot.isVisible()  # one probed epoch: no curve over epochs


def test_saturation_note_with_a_layer_that_adds_nothing(qtbot):
    from ibviewer.core.probes import ProbeResult

    state = make_state(dims=2)
    panel = ProbePanel(state)
    qtbot.addWidget(panel)
    linear = np.array([[0.5, 0.95, 0.955]])
    state.set_probes(ProbeResult(epochs=(20,), layers=LAYERS, linear_acc=linear, knn_acc=linear - 0.1, chance=1 / 3, n_samples=60))
    assert "layers after fc2 add less than 1% accuracy, within the held-out spread at epoch 20" in panel.note.text()
    assert not panel.baseline_line.isVisible()
    assert panel.saturation_line.isVisible() and panel.saturation_line.value() == 1.5


def test_probe_every_epoch_draws_the_curves_and_follows_the_epoch(qtbot, controller_for):
    state = make_state(dims=2)
    panel = ProbePanel(state)
    qtbot.addWidget(panel)
    panel.show()
    controller = controller_for(state)
    panel.probe_all_requested.connect(controller.probe_all_epochs)
    with qtbot.waitSignal(state.result_changed, timeout=120_000, check_params_cb=lambda what: what == "probes"):
        panel.all_epochs_button.click()
        assert not panel.all_epochs_button.isEnabled() and panel.all_epochs_button.text() == "Probing…"
    expected = state.probes  # the core's ProbeResult, as the worker returned it
    qtbot.waitUntil(lambda: panel.all_epochs_button.isEnabled(), timeout=5000)
    assert expected.epochs == EPOCHS and expected.linear_acc.shape == (3, 3)
    assert panel.epoch_plot.isVisible() and len(panel.epoch_plot.listDataItems()) == len(LAYERS)
    for j, curve in enumerate(panel.epoch_plot.listDataItems()):
        np.testing.assert_array_equal(curve.yData, expected.linear_acc[:, j])
    state.set_epoch(5)
    assert panel.shown_epoch == 5 and panel.epoch_marker.value() == 5
    shown = panel.shown_values()
    for j, layer in enumerate(LAYERS):
        assert shown[layer] == (expected.linear_acc[1, j], expected.knn_acc[1, j])
