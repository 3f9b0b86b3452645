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


def test_the_neighbour_list_has_room_for_k_rows_and_empty_tables_are_hidden(qtbot):
    from ibviewer.core.neighbors import find_neighbors
    from ibviewer.gui.views.neighbors_panel import NeighborsPanel

    state = make_state(dims=2)
    panel = NeighborsPanel(state)
    qtbot.addWidget(panel)
    panel.resize(500, 360)  # what the window's left column gives it
    _settle(qtbot, panel)
    assert not panel.table.isVisible() and not panel.overlap_table.isVisible()  # nothing clicked: only the hint
    state.set_focus(4, "fc2")
    state.set_neighbors(find_neighbors(state.activations, state.epoch, 4, layer="fc2", k=10))
    _settle(qtbot, panel)
    assert panel.table.isVisible() and panel.overlap_table.isVisible()
    table = panel.table
    last = table.rowCount() - 1
    assert table.rowCount() == 10
    assert table.rowViewportPosition(last) + table.rowHeight(last) <= table.viewport().height()  # all k rows in view


def test_the_metrics_strip_names_its_curves_outside_the_plots_and_shows_values_as_saved(qtbot):
    from ibviewer.gui.views.timeline import TimelinePanel

    views = {}
    metrics = {1: {"loss": 0.004, "train_acc": 0.4}, 5: {"loss": 0.002, "train_acc": 0.8}, 20: {"loss": 0.001, "train_acc": 0.9}}
    state = make_state(dims=2, metrics=metrics, attach=lambda s: views.setdefault("timeline", TimelinePanel(s)))
    timeline = views["timeline"]
    qtbot.addWidget(timeline)
    timeline.resize(500, 200)
    _settle(qtbot, timeline)
    for plot in (timeline.acc_plot, timeline.loss_plot):
        assert plot.legend is None  # no legend box over the curves
        assert plot.getAxis("left").autoSIPrefixScale == 1.0  # "loss (x0.001" was cut off, the values rescaled
    assert "train_acc" in timeline.legend_label.text() and "loss" in timeline.legend_label.text()
    assert timeline.legend_label.isVisible() and not timeline.no_metrics.isVisible()


def test_a_run_without_metrics_says_so_in_full_and_a_one_epoch_run_spans_its_epoch(qtbot):
    from ibviewer.gui.views.timeline import TimelinePanel

    views = {}
    state = make_state(dims=2, metrics={}, attach=lambda s: views.setdefault("timeline", TimelinePanel(s)))
    timeline = views["timeline"]
    qtbot.addWidget(timeline)
    timeline.resize(420, 200)
    _settle(qtbot, timeline)
    assert timeline.no_metrics.isVisible() and not timeline.strip.isVisible()
    assert timeline.no_metrics.sizeHint().width() <= timeline.no_metrics.width()  # not clipped
    from tests.gui.synthetic import FakeRun, make_activations

    acts = make_activations()
    one = type(acts)(acts.layers, (7,), {k: v[:1] for k, v in acts.values.items()}, acts.labels, acts.sample_idx, key="one")
    state.set_run(FakeRun({7: {"train_acc": 0.5}}), one)
    _settle(qtbot, timeline)
    low, high = timeline.acc_plot.viewRange()[0]
    assert 5 <= low < 7 < high <= 9  # was -100..100


def test_the_play_button_draws_with_glyphs_the_font_has_and_the_epoch_label_is_one_text(qtbot):
    from PySide6.QtGui import QFontMetrics

    from ibviewer.gui.views.timeline import TimelinePanel
    from ibviewer.gui.widgets.figure import epoch_text

    views = {}
    state = make_state(dims=2, attach=lambda s: views.setdefault("timeline", TimelinePanel(s)))
    timeline = views["timeline"]
    qtbot.addWidget(timeline)
    button = timeline.play_button
    for playing in (False, True):
        timeline._on_playback_playing_changed(playing)
        metrics = QFontMetrics(button.font())
        assert all(metrics.inFontUcs4(ord(ch)) for ch in button.text()), button.text()
        assert not button.icon().isNull()
    timeline._on_playback_playing_changed(False)
    assert timeline.epoch_label.text() == "epoch 20 (3/3)"  # an integer, not "epoch 20.0"
    assert epoch_text((1, 5, 20), 1.0) == "epoch 5"
    assert epoch_text((1, 5, 20), 1.4) == "between epochs 5 and 20"
    from ibviewer.gui.widgets.figure import grid_title

    assert "between epochs <b>5</b> and <b>20</b>" in grid_title(state, position=1.5)
    assert "at epoch <b>20</b>" in grid_title(state)


def test_opening_controls_never_makes_the_window_wider_than_the_screen_and_the_plane_stays_in_view(qtbot, window):
    area = window.screen().availableGeometry()
    window.resize(min(1500, area.width() - 40), min(900, area.height() - 40))
    _settle(qtbot, window)
    toggle = window.controls_dock.toggleViewAction()
    toggle.trigger()  # View > Controls (Ctrl+K)
    qtbot.waitUntil(lambda: window.controls_dock.isVisible())
    _settle(qtbot, window)
    assert window.minimumSizeHint().width() <= area.width()  # the docks' and views' minimum sizes fit the screen
    assert window.frameGeometry().width() <= area.width()
    from PySide6.QtCore import QPoint

    plane = window.info_view
    left, right = plane.mapTo(window, QPoint(0, 0)).x(), plane.mapTo(window, QPoint(plane.width(), 0)).x()
    assert plane.width() >= 300 and 0 <= left and right <= window.width()  # the whole plane inside the window
    toggle.trigger()
    _settle(qtbot, window)
    assert window.frameGeometry().width() <= area.width()


def test_fit_to_screen_shrinks_a_window_grown_past_the_screen(qtbot, window):
    area = window.screen().availableGeometry()
    window.resize(area.width() + 200, area.height())
    window.fit_to_screen()
    assert window.frameGeometry().width() <= area.width()


def test_the_colour_bar_is_shown_after_opening_a_second_run_in_the_window(qtbot, window, digits_run, archive_run):
    for path in (digits_run, archive_run, digits_run):
        with qtbot.waitSignal(window.idle, timeout=240_000):
            window.open_path(path)
        assert window.state.infoplane is not None, window.last_error
        _settle(qtbot, window)
        assert window.info_view.colorbar.isVisible()
        bar = window.info_view.colorbar.sceneBoundingRect()
        assert bar.right() <= window.info_view.canvas.viewport().width() + 1  # in view, not pushed out


def test_the_layer_grid_takes_its_shape_from_the_panel_count_and_the_figures_aspect(qtbot):
    from ibviewer.core.figure_layout import grid_shape
    from ibviewer.gui.views.embedding_view import EmbeddingGridView

    views = {}
    make_state(dims=2, attach=lambda s: views.setdefault("grid", EmbeddingGridView(s)))
    grid = views["grid"]
    qtbot.addWidget(grid)
    shapes = {}
    for size in ((1300, 450), (420, 1000)):
        grid.resize(*size)
        _settle(qtbot, grid)
        shapes[size] = grid.panel_grid.shape
        assert shapes[size] == grid_shape(3, grid.panel_grid.aspect())
        n_rows, n_cols = shapes[size]
        rows = {grid.grid.getItemPosition(grid.grid.indexOf(p))[0] for p in grid.panels.values()}
        cols = {grid.grid.getItemPosition(grid.grid.indexOf(p))[1] for p in grid.panels.values()}
        assert rows == set(range(n_rows)) and cols == set(range(n_cols))  # no empty row or column
    assert shapes[(1300, 450)] == (1, 3) and shapes[(420, 1000)][0] == 3  # wide: a row; tall: a column


def test_the_word_tab_never_asks_for_more_width_than_a_screen_beside_the_plane(qtbot):
    from ibviewer.core.config import AnalysisSettings
    from ibviewer.core.pipeline import run_word_experiment
    from ibviewer.gui.views.info_plane_view import InfoPlaneView
    from ibviewer.gui.views.word_view import WordView
    from tests.gui.synthetic import QUERY_WORDS, make_word_state

    state = make_word_state()
    view = WordView(state)
    qtbot.addWidget(view)
    experiment = run_word_experiment(state.activations, state.dataset.words, QUERY_WORDS, AnalysisSettings(method="pca"))
    state.set_word_experiment(experiment)
    view.resize(900, 700)
    _settle(qtbot, view)
    assert len(view.title.text()) > 100  # the long title ("16 query words and their ... nearest words ...")
    plane = InfoPlaneView(state)
    qtbot.addWidget(plane)
    # word_lm's window was 1742 px wide on a 1600 px screen: the word title alone asked for 1113 px
    assert view.minimumSizeHint().width() + plane.minimumSizeHint().width() + 40 <= 1600
