"""File > Add Run to the Plane: other runs' planes drawn beside the shown one, compared or averaged."""

from __future__ import annotations

import numpy as np

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import run_analysis
from ibviewer.gui.added_runs import AddedRuns
from ibviewer.gui.jobs import JobHub
from ibviewer.gui.views.info_plane_view import InfoPlaneView
from tests.gui.synthetic import EPOCHS, LAYERS, make_activations, make_state


def _archive(path, seed):
    acts = make_activations(seed=seed)
    arrays = {f"act/{layer}/{epoch}": acts.layer(layer, epoch) for layer in LAYERS for epoch in EPOCHS}
    np.savez(path, labels=acts.labels, layer_order=np.array(LAYERS), **arrays)
    return path


def test_added_runs_are_drawn_side_by_side_and_averaged(qtbot, tmp_path):
    state = make_state(dims=2)
    settings = AnalysisSettings(n_bins=4)  # coarse: no layer at the ceiling (which would warn)
    state.settings = settings
    shown = run_analysis(state.activations, settings, epochs=EPOCHS[-1:], stages={"infoplane"}, use_cache=False).infoplane
    state.set_infoplane(shown)
    hub = JobHub()
    added = AddedRuns(state, hub, RunRequest(path="", use_cache=False))
    view = InfoPlaneView(state)
    view.set_added_runs(added)
    qtbot.addWidget(view)
    assert view.run_items == [] and added.combined() is None
    with qtbot.waitSignal(added.changed, timeout=60_000):
        added.add(_archive(tmp_path / "seed1.npz", seed=1))
    combined = added.combined()
    assert combined is not None and combined.names == ("synthetic", "seed1.npz") and combined.mode == "compare"
    # compare: every layer's trajectory of the added run, plus its last epoch's points
    assert len(view.run_items) == len(LAYERS) + 1
    np.testing.assert_array_equal(view.run_items[0].yData, combined.planes[1].i_ty[:, 0])
    assert "2 runs side by side" in view.plot.titleLabel.text
    added.set_mode("average")
    combined = added.combined()
    np.testing.assert_allclose(combined.i_xt_mean, (shown.i_xt + combined.planes[1].i_xt) / 2)
    assert len(view.run_items) == len(LAYERS) + 1  # mean trajectories and the spread's error bars
    np.testing.assert_allclose(view.run_items[-1].opts["left"], combined.i_xt_sd.ravel())
    assert "mean ± sd over 2 runs" in view.plot.titleLabel.text
    added.clear()
    assert view.run_items == [] and added.combined() is None
    assert hub.shutdown(10.0)
