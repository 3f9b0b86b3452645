"""The main window on real runs: opening through the File menu, linked panels, neighbours, errors.

Which thread does the work and how Cancel stops it: test_responsiveness.py."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from ibviewer.core.neighbors import NeighborIndex
from ibviewer.errors import IBViewerError
from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.gui.dialogs.open_dialog import OpenRunDialog
from ibviewer.gui.main_window import MainWindow
from ibviewer.gui.settings import recent_runs
from ibviewer.gui.widgets.style import configure_pyqtgraph, points_in_polygon

MAX_SAMPLES = 300
#: how long a wait may take before the test calls it a hang: generous, so that a busy machine never fails
#: a test (tests assert no wall-clock limits; timing goals live in benchmarks/)
HANG_GUARD_MS = 240_000


def make_window(qtbot, method="pca", max_samples=MAX_SAMPLES, **kwargs) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method=method), RunRequest(path="", max_samples=max_samples), **kwargs)
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_wait(qtbot, window: MainWindow, path, timeout=HANG_GUARD_MS) -> None:
    with qtbot.waitSignal(window.idle, timeout=timeout):
        window.open_path(path)
    assert window.state.activations is not None, window.last_error


def click_scene_point(view, scene_point: QPointF, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifiers, view.mapFromScene(scene_point))


def drag(view, start: QPoint, end: QPoint, steps: int = 8) -> None:
    """A real left-button drag on a QGraphicsView's viewport (press, moves with the button held, release)."""
    viewport = view.viewport()

    def send(kind, pos, buttons):
        event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), Qt.MouseButton.LeftButton,
                            buttons, Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(viewport, event)

    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for i in range(1, steps + 1):
        pos = start + (end - start) * (i / steps)
        send(QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_open_through_the_file_menu_fills_every_view(qtbot, digits_run, monkeypatch):
    window = make_window(qtbot)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(digits_run / "run.json"), ""))
    shown = []
    monkeypatch.setattr(OpenRunDialog, "exec", lambda dialog: shown.append(dialog) or QDialog.DialogCode.Accepted)
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.menus.open_action.trigger()
    assert shown[0].path == str(digits_run)  # the folder of run.json, what was found shown before opening
    state = window.state
    assert window.last_error is None
    assert state.run.name == "test_digits"
    assert state.n_samples == MAX_SAMPLES
    assert state.epoch == 4  # the last saved epoch
    panels = window.embedding_view.panels
    assert list(panels) == list(state.layer_names) and len(panels) == 3
    for layer, panel in panels.items():
        assert len(panel.scatter.data) == MAX_SAMPLES, layer
        np.testing.assert_allclose(panel.coords, state.coords(layer)[:, :2])
    plane = state.infoplane
    assert plane is not None and plane.i_xt.shape == (3, 3)
    assert len(window.info_view.point_items) == 3 and len(window.info_view.epoch_lines) == 3
    assert "binning" in window.info_view.plot.titleLabel.text
    assert recent_runs()[0]["path"] == str(digits_run)
    assert "test_digits" in window.windowTitle()


def test_clicking_a_point_lists_the_cores_neighbours_and_highlights_them_everywhere(qtbot, digits_run):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    layer = state.layer_names[1]
    panel = window.embedding_view.panels[layer]
    row = 17
    with qtbot.waitSignal(state.neighbors_changed, timeout=HANG_GUARD_MS, check_params_cb=lambda *a: state.neighbors is not None):
        click_scene_point(panel, panel.map_row_to_scene(row))
    # the click may land on a point drawn at (nearly) the same spot; whatever it picked, the list is the core's
    focus = state.focus
    assert focus.layer == layer
    assert np.linalg.norm(panel.coords[focus.row] - panel.coords[row]) < 1e-6 * (1 + np.abs(panel.coords).max()) or focus.row == row
    expected_idx, expected_dist = NeighborIndex(state.activations.layer(layer, state.epoch), "euclidean").query(focus.row, 10)
    assert window.neighbors_panel.listed_rows() == expected_idx.tolist()
    shown = [float(window.neighbors_panel.table.item(i, 3).text()) for i in range(10)]
    np.testing.assert_allclose(shown, expected_dist, rtol=1e-3)
    highlighted = {focus.row, *expected_idx.tolist()}
    for other in window.embedding_view.panels.values():
        assert set(other.highlighted_rows().tolist()) == highlighted
        assert set(other.neighbor_rows().tolist()) == set(expected_idx.tolist())
        assert other.focus_item.data["data"][0] == focus.row
    # overlap with every other layer is reported, and equals a direct computation
    for i, name in enumerate(state.layer_names):
        other_idx, _ = NeighborIndex(state.activations.layer(name, state.epoch), "euclidean").query(focus.row, 10)
        shared = len(set(other_idx.tolist()) & set(expected_idx.tolist()))
        assert window.neighbors_panel.overlap_table.item(i, 1).text() == f"{shared} of 10"

    # clicking a neighbour in the list selects it
    neighbour = int(expected_idx[2])
    with qtbot.waitSignal(state.neighbors_changed, timeout=HANG_GUARD_MS, check_params_cb=lambda *a: state.neighbors is not None):
        window.neighbors_panel.table.cellClicked.emit(2, 1)
    assert state.focus.row == neighbour
    assert window.neighbors_panel.listed_rows() == NeighborIndex(
        state.activations.layer(layer, state.epoch), "euclidean"
    ).query(neighbour, 10)[0].tolist()

    # k and the metric are adjustable
    def k_is_5(*_) -> bool:
        return state.neighbors is not None and state.neighbors.k == 5

    with qtbot.waitSignal(state.neighbors_changed, timeout=HANG_GUARD_MS, check_params_cb=k_is_5):
        window.neighbors_panel.k_spin.setValue(5)
        window.neighbors_panel.metric_combo.setCurrentIndex(window.neighbors_panel.metric_combo.findData("cosine"))
    expected = NeighborIndex(state.activations.layer(layer, state.epoch), "cosine").query(neighbour, 5)[0]
    qtbot.waitUntil(lambda: window.neighbors_panel.listed_rows() == expected.tolist(), timeout=HANG_GUARD_MS)


def test_a_rectangle_selection_in_one_panel_highlights_in_all(qtbot, digits_run):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    view = window.embedding_view
    view.set_mode("rect")
    panel = list(view.panels.values())[0]
    coords = panel.coords
    centre = np.median(coords, axis=0)
    spread = coords.std(axis=0)
    lo, hi = centre - spread, centre + 0.5 * spread
    start = panel.mapFromScene(panel.viewbox.mapViewToScene(QPointF(lo[0], hi[1])))
    end = panel.mapFromScene(panel.viewbox.mapViewToScene(QPointF(hi[0], lo[1])))
    with qtbot.waitSignal(window.state.selection_changed, timeout=HANG_GUARD_MS):
        drag(panel, start, end)
    selected = window.state.selection
    # the rectangle actually drawn (mapped back from pixels) decides membership
    corner_a = panel.viewbox.mapSceneToView(panel.mapToScene(start))
    corner_b = panel.viewbox.mapSceneToView(panel.mapToScene(end))
    x0, x1 = sorted((corner_a.x(), corner_b.x()))
    y0, y1 = sorted((corner_a.y(), corner_b.y()))
    inside = np.flatnonzero((coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1))
    assert 5 < selected.size < len(coords)
    # pixel rounding can move a point on the border: allow a couple
    assert len(np.setxor1d(selected, inside)) <= 2
    for other in view.panels.values():
        assert other.highlighted_rows().tolist() == selected.tolist()
        assert other.scatter.opacity() < 1.0  # the rest is dimmed
    assert f"{selected.size} of {MAX_SAMPLES}" in view.selection_label.text()
    window.state.clear_selection()
    for other in view.panels.values():
        assert other.highlighted_rows().size == 0


def test_lasso_polygon_membership():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    points = np.array([[1, 1], [3, 1], [1, -0.5], [0.1, 1.9], [-1, -1]])
    assert points_in_polygon(points, square).tolist() == [True, False, False, True, False]
    triangle = np.array([[0, 0], [4, 0], [0, 4]], dtype=float)
    assert points_in_polygon(np.array([[1, 1], [3, 3]]), triangle).tolist() == [True, False]


def test_clicking_the_information_plane_selects_that_epoch(qtbot, digits_run):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    plane = state.infoplane
    # pick the cell farthest from the others (an unambiguous click), away from the legend and the shown epoch
    view = window.info_view
    legend = view.legend.sceneBoundingRect()
    points = np.column_stack([plane.i_xt.ravel(), plane.i_ty.ravel()])
    order = [(e, k) for e in range(len(plane.epochs)) for k in range(len(plane.layers))]
    candidates = [
        (np.sort(np.linalg.norm(points - points[i], axis=1))[1], cell)
        for i, cell in enumerate(order)
        if plane.epochs[cell[0]] != state.epoch and not legend.contains(view.point_position(*cell))
    ]
    e, k = max(candidates)[1]
    target = plane.epochs[e]
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        click_scene_point(window.info_view.canvas, window.info_view.point_position(e, k))
    assert state.epoch == target
    for layer, panel in window.embedding_view.panels.items():
        assert state.embedding(layer).epoch == target
        np.testing.assert_allclose(panel.coords, state.coords(layer)[:, :2])


def test_a_corrupt_file_shows_the_dialog_and_keeps_the_old_run(qtbot, digits_run, tmp_path):
    window = make_window(qtbot)
    window.show_dialogs = True
    open_and_wait(qtbot, window, digits_run)
    old_run, old_acts = window.state.run, window.state.activations
    corrupt = tmp_path / "broken.npz"
    corrupt.write_bytes(b"this is not a zip archive at all" * 10)
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS) as blocker:
        window.open_path(corrupt)
    error = blocker.args[0]
    assert isinstance(error, IBViewerError)
    dialog = window.last_error_dialog
    assert isinstance(dialog, QMessageBox) and dialog.isVisible()
    assert dialog.text() == str(error) and "broken.npz" in dialog.text()
    assert dialog.detailedText() == ""  # expected errors show no traceback
    assert window.state.run is old_run and window.state.activations is old_acts
    assert all(len(p.scatter.data) == MAX_SAMPLES for p in window.embedding_view.panels.values())
    dialog.close()


def test_epoch_outside_the_run_is_reported(qtbot, digits_run):
    window = make_window(qtbot)
    window.controller.pending_epoch = 3
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS) as blocker:
        window.open_path(digits_run)
    assert "Epoch 3 is not in this run" in str(blocker.args[0])
    window.last_error_dialog.close()
