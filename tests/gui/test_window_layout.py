"""The window as users meet it (issue 15): plots that rescale to their panel, colour bars, grids, strips.

Each test builds the view on a small in-memory state (or the window on a small real run) and
checks what is drawn: item geometry in the scene, the text shown, the grid's rows and columns.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from ibviewer.core.information import InformationPlane
from ibviewer.gui.views.info_plane_view import InfoPlaneView
from ibviewer.gui.widgets.style import configure_pyqtgraph
from tests.gui.synthetic import make_state


def _plane(epochs, layers=("fc1", "fc2", "fc3")) -> InformationPlane:
    n_epochs, n_layers = len(epochs), len(layers)
    grow = np.linspace(0.2, 1.0, n_epochs)[:, None]
    i_xt = 6.0 * grow * np.linspace(1.0, 0.5, n_layers)[None, :]
    i_ty = 1.5 * grow * np.linspace(0.6, 1.0, n_layers)[None, :]
    return InformationPlane("binning", {"n_bins": 30, "value_range": (-1.0, 1.0)}, tuple(int(e) for e in epochs), tuple(layers), i_xt, i_ty,
                            None, None, 1.58, 6.9, 120)  # fmt: skip


def _settle(qtbot, widget) -> None:
    widget.show()
    qtbot.waitExposed(widget)
    for _ in range(3):
        QApplication.processEvents()


class _NamedRun:
    name = "a_run_with_a_rather_long_name_checkpoint_000.pt"
    dataset = None
    metrics: dict = {}


def test_the_information_plane_rescales_to_a_narrow_panel_instead_of_being_cut_off(qtbot):
    configure_pyqtgraph()
    state = make_state(dims=2)
    state.run = _NamedRun()
    view = InfoPlaneView(state)
    qtbot.addWidget(view)
    state.set_infoplane(_plane((1, 5, 20)))
    view.resize(330, 420)
    _settle(qtbot, view)
    width = view.canvas.viewport().width()
    # the plot and the colour bar both fit in the canvas: nothing beyond its right edge
    assert view.plot.sceneBoundingRect().right() <= width + 1
    assert view.colorbar.sceneBoundingRect().right() <= width + 1
    # the data are drawn inside the plot's view: the last point maps inside the canvas
    point = view.point_position(2, 0)
    assert 0 <= point.x() <= width and 0 <= point.y() <= view.canvas.viewport().height()


def test_the_epochs_label_sits_beside_the_colour_bar_not_over_it_and_the_bar_survives_a_new_run(qtbot):
    configure_pyqtgraph()
    state = make_state(dims=2)
    view = InfoPlaneView(state)
    qtbot.addWidget(view)
    view.resize(600, 450)
    state.set_infoplane(_plane((1, 5, 20)))
    _settle(qtbot, view)
    label = view.colorbar.axis.label
    assert label.isVisible() and "Epochs" in label.toPlainText()
    bar = view.colorbar.bar.sceneBoundingRect()
    assert not label.sceneBoundingRect().intersects(bar)
    # a second run opens (new activations, then its plane): the bar is back with the new epochs
    from tests.gui.synthetic import FakeRun, make_activations

    state.set_run(FakeRun(), make_activations(seed=1))
    assert not view.colorbar.isVisible()  # no plane yet: no bar
    state.set_infoplane(_plane((0, 10, 30, 60)))
    _settle(qtbot, view)
    assert view.colorbar.isVisible()
    assert [text for _, text in view.colorbar.axis._tickLevels[0]][-1] == "60"


def test_log_spaced_epochs_get_distinct_colours_on_a_log_colour_bar(qtbot):
    configure_pyqtgraph()
    state = make_state(dims=2)
    view = InfoPlaneView(state)
    qtbot.addWidget(view)
    epochs = np.unique(np.round(np.logspace(0, 4, 120)).astype(int) - 1)
    state.set_infoplane(_plane(epochs))
    assert view.epoch_scale.log
    assert "log" in view.colorbar.axis.labelText
    # the epoch lines are grouped by colour step: log spacing fills most steps, a linear scale would not
    assert len(view.epoch_lines) >= 18
    ticks = [text for _, text in view.colorbar.axis._tickLevels[0]]
    assert ticks[:3] == ["0", "1", "10"]
