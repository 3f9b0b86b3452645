"""The menus in the real window: sessions save and reopen to the same state, View > 3D, figure export and copy."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.gui.main_window import LAYERS_TAB, MainWindow
from tests.gui.conftest import WINDOW_SAMPLES
from tests.gui.synthetic import require_opengl
from tests.gui.test_main_window import open_and_wait


def test_saved_session_reopens_to_the_same_state(window, qtbot, digits_run, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=60_000):
        state.set_epoch(state.activations.epochs[1])
    state.set_selection([3, 5, 8])
    window.controller.apply_settings(window.state.settings.with_changes(n_bins=12, color_by="correct"))
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=60_000)
    from ibviewer.gui.widgets.coloring import point_rgba

    for layer, panel in window.embedding_view.panels.items():  # the 2D panels follow the colour-by control
        np.testing.assert_allclose(panel.point_colors(), point_rgba(state, "correct", layer), atol=1 / 255)
    path = tmp_path / "view.ibvsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.menus.save_session_action.trigger()
    assert path.is_file()
    saved = window.session()

    other = MainWindow(AnalysisSettings(method="pca"), RunRequest(path="", max_samples=WINDOW_SAMPLES), show_dialogs=False,
                       persist_layout=False)  # fmt: skip
    qtbot.addWidget(other)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(other.idle, timeout=60_000):
        other.menus.open_session_action.trigger()
    assert other.last_error is None
    restored = other.session()
    assert restored == saved
    assert other.state.epoch == state.activations.epochs[1]
    assert other.state.selection.tolist() == [3, 5, 8]
    assert other.state.settings.estimator_params()["n_bins"] == 12
    assert other.controls.settings().color_by == "correct"
    assert other.tabs.currentIndex() == LAYERS_TAB


def test_file_export_figure_of_the_3d_grid_writes_the_points(window, qtbot, digits_run, tmp_path, monkeypatch):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QDialog

    from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog

    require_opengl()
    open_and_wait(qtbot, window, digits_run)
    with qtbot.waitSignal(window.idle, timeout=60_000):
        window.menus.view_3d_action.trigger()
    qtbot.waitUntil(lambda: all(p.coords is not None for p in window.grid3d.panels.values()), timeout=10_000)
    qtbot.wait(100)
    path = tmp_path / "grid3d.png"
    monkeypatch.setattr(ExportFigureDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(ExportFigureDialog, "values", lambda self: ("grid", "png", 1.0))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.menus.export_figure_action.trigger()
    assert window.last_error is None and path.is_file()
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    figure = window.grid3d.figure
    assert (image.width(), image.height()) == (figure.width(), figure.height())
    # inside every layer's GL view: the white background and the points in their class colours
    for layer, panel in window.grid3d.panels.items():
        origin = panel.view.mapTo(figure, QPoint(0, 0))
        colours = {
            image.pixel(origin.x() + x, origin.y() + y)
            for x in range(0, panel.view.width(), 2)
            for y in range(0, panel.view.height(), 2)
        }
        assert 0xFFFFFFFF in colours, layer  # the white background
        assert {0xFF1F77B4, 0xFFFF7F0E, 0xFF2CA02C} <= colours, layer  # points of classes 0, 1, 2 (tab10)
    # at twice the resolution the picture keeps its content
    monkeypatch.setattr(ExportFigureDialog, "values", lambda self: ("grid", "png", 2.0))
    window.menus.export_figure_action.trigger()
    image = QImage(str(path))
    assert (image.width(), image.height()) == (2 * figure.width(), 2 * figure.height())
    panel = next(iter(window.grid3d.panels.values()))
    origin = panel.view.mapTo(figure, QPoint(0, 0)) * 2
    colours = {image.pixel(origin.x() + x, origin.y() + y) for x in range(0, 2 * panel.view.width(), 3)
               for y in range(0, 2 * panel.view.height(), 3)}  # fmt: skip
    assert 0xFF1F77B4 in colours
