"""The layer grid's shape and the epoch colour scale that the headless figures and the window share."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.figure_layout import EpochScale, grid_shape


@pytest.mark.parametrize("n_panels", range(1, 13))
@pytest.mark.parametrize("aspect", [0.5, 1.0, 1.6, 3.0])
def test_a_grid_never_has_an_empty_row_or_column(n_panels, aspect):
    n_rows, n_cols = grid_shape(n_panels, aspect)
    assert n_rows * n_cols >= n_panels
    assert (n_rows - 1) * n_cols < n_panels and n_rows * (n_cols - 1) < n_panels


def test_five_panels_fill_a_wide_area_in_two_rows_of_three_and_a_tall_one_in_three_rows_of_two():
    assert grid_shape(5, 1.6) == (2, 3)  # not 2 x 4 with three empty cells
    assert grid_shape(5, 0.8) == (3, 2)
    assert grid_shape(3, 3.0) == (1, 3)
    assert grid_shape(4, 1.0) == (2, 2)
    assert grid_shape(6, 1.6, max_cols=2) == (3, 2)


def test_log_spaced_epochs_get_a_log_colour_scale_that_spreads_them_and_evenly_spaced_ones_stay_linear():
    log_spaced = np.unique(np.round(np.logspace(0, 4, 300)).astype(int) - 1)  # ib12_tanh's saves: 0 .. 9999
    scale = EpochScale.for_epochs(log_spaced)
    assert scale.log
    positions = scale.position(log_spaced)
    # on a linear scale about two thirds of these epochs would share the first tenth of the colours
    assert np.mean(log_spaced / log_spaced.max() < 0.1) > 0.6 and np.mean(positions < 0.1) < 0.05
    assert positions[0] == 0.0 and positions[-1] == 1.0 and np.all(np.diff(positions) > 0)
    labels = [label for _, label in scale.ticks()]
    assert labels[:3] == ["0", "1", "10"] and labels[-1] == "1000"
    even = EpochScale.for_epochs(np.arange(0, 301, 6))
    assert not even.log
    assert np.allclose(even.position([0, 150, 300]), [0.0, 0.5, 1.0])
    single = EpochScale.for_epochs([7])
    assert not single.log and single.position(7) == 0.0
