"""The information-plane view draws the chain order, the selected epoch's shuffled-label null band and ceiling rings."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.information import compute_information_plane
from ibviewer.gui.views.info_plane_view import InfoPlaneView
from tests.gui.synthetic import EPOCHS, LAYERS, make_state


def test_the_view_shows_the_chain_the_null_band_of_the_selected_epoch_and_the_near_ceiling_cells(qtbot):
    state = make_state(dims=2)
    view = InfoPlaneView(state)
    qtbot.addWidget(view)
    with pytest.warns(UserWarning, match="ceiling"):
        plane = compute_information_plane(state.activations, "binning", use_cache=False)
    state.set_infoplane(plane)
    state.set_epoch(EPOCHS[1])
    legend = [label.text for _, label in view.legend.items]
    assert legend[:3] == [f"T{k + 1}: {name}" for k, name in enumerate(LAYERS)]
    assert "shuffled labels (± 2 sd)" in legend
    assert view.chain.text.startswith(f"X → {' → '.join(LAYERS)} → Ŷ") and "data-processing inequality" in view.chain.text
    x, low = view.null_low.getData()
    _, high = view.null_high.getData()
    e = EPOCHS.index(EPOCHS[1])
    order = np.argsort(plane.i_xt[e], kind="stable")
    np.testing.assert_allclose(x, plane.i_xt[e][order])
    np.testing.assert_allclose(high, (plane.i_ty_null[e] + 2 * plane.i_ty_null_sd[e])[order])
    assert (low <= high).all() and view.null_band in view.plot.items
    # 60 samples: wide tanh layers resolve every sample, so some cells sit within a bit of log2(60)
    near = plane.near_ceiling
    assert near.any()
    ringed = view.near_ceiling.getData()
    assert len(ringed[0]) == int(near.sum())
    assert sorted(ringed[0]) == pytest.approx(sorted(plane.i_xt[near]))
