"""The 3D embedding grid under a (virtual) X display: rendering, PNG export, picking, linked highlights."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from ibviewer.core.neighbors import Neighborhood
from ibviewer.gui.widgets.glview import normalise_coords
from tests.gui.synthetic import LAYERS, make_state, require_opengl


def _non_blank(image: QImage) -> int:
    """Number of distinct colours in the image (a blank render has one)."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    array = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return len(np.unique(array[:, : image.width()].reshape(-1, 4), axis=0))


@pytest.fixture
def grid(qtbot, qapp):
    require_opengl()
    from ibviewer.gui.views.embedding_view_3d import EmbeddingGrid3DView

    state = make_state(dims=3)
    view = EmbeddingGrid3DView(state)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    return view


def test_panels_render_and_export_non_blank_png(grid, tmp_path):
    assert list(grid.panels) == list(LAYERS)
    for panel in grid.panels.values():
        assert panel.coords is not None and panel.coords.shape == (grid.state.n_samples, 3)
        image = panel.render_image(240, 200)
        assert (image.width(), image.height()) == (240, 200)
        assert _non_blank(image) >= 4, panel.layer  # white background plus the three class colours
    path = grid.export_png(tmp_path / "grid3d.png")
    saved = QImage(str(path))
    assert not saved.isNull() and saved.width() > 500
    assert _non_blank(saved) > 10
    # the three class colours are in the exported picture (the 3D content, not just the title)
    colours = {(int(c.red()), int(c.green()), int(c.blue())) for c in (saved.pixelColor(x, y) for x in range(0, saved.width(), 3) for y in range(0, saved.height(), 3))}
    assert (0x1F, 0x77, 0xB4) in colours and (0xFF, 0x7F, 0x0E) in colours


def test_click_picks_the_sample_under_the_mouse(grid, qtbot):
    state = grid.state
    panel = grid.panels["fc2"]
    screen, depth, visible = panel.screen_positions()
    # a visible point with no other point within the pick tolerance
    d = np.linalg.norm(screen[:, None] - screen[None], axis=2) + np.eye(len(screen)) * 1e9
    isolated = np.flatnonzero(visible & (d.min(axis=1) > 8))
    assert isolated.size >= 3
    row = int(isolated[isolated.size // 2])
    x, y = screen[row]
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(round(x), round(y)))
    assert state.focus is not None and state.focus.row == row and state.focus.layer == "fc2"
    # the focused sample is drawn in every panel, including the others
    for other in grid.panels.values():
        assert other.focus_ring.visible() and np.allclose(other.focus_ring.pos[0], other.coords[row])
    # a click on empty space clears it
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(2, 2))
    assert state.focus is None


def test_drag_rotates_and_links_cameras_without_picking(grid, qtbot):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    panel = grid.panels["fc1"]
    before = grid.panels["fc3"].view.camera_state()["azimuth"]

    def send(kind, pos, buttons):
        event = QMouseEvent(kind, QPointF(pos), QPointF(panel.view.mapToGlobal(pos)), Qt.MouseButton.LeftButton,
                            buttons, Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(panel.view, event)

    send(QEvent.Type.MouseButtonPress, QPoint(50, 50), Qt.MouseButton.LeftButton)
    for x in range(55, 120, 5):
        send(QEvent.Type.MouseMove, QPoint(x, 50), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, QPoint(120, 50), Qt.MouseButton.NoButton)
    after = grid.panels["fc3"].view.camera_state()["azimuth"]
    assert after == pytest.approx(before - 65)  # the drag orbited fc1 and the link moved fc3 too
    assert grid.state.focus is None  # a drag is not a click
    assert grid.camera_state()["azimuth"] == pytest.approx(after)


def test_selection_hover_and_neighbours_show_in_every_panel(grid):
    state = grid.state
    state.set_selection([3, 4, 5])
    for panel in grid.panels.values():
        assert panel.highlighted_rows().tolist() == [3, 4, 5]
        assert panel.scatter.color[:, 3].max() < 0.5  # the rest is dimmed
    state.clear_selection()
    state.set_focus(10, "fc1")
    indices = {layer: np.array([11, 12]) for layer in LAYERS}
    state.set_neighbors(Neighborhood(10, "fc1", state.epoch, 2, "euclidean", tuple(LAYERS), indices, {k: np.ones(2) for k in LAYERS}))
    for panel in grid.panels.values():
        assert len(panel.neighbor_ring.pos) == 2
        np.testing.assert_allclose(panel.neighbor_ring.pos, panel.coords[[11, 12]])
    state.set_hover(30)
    for panel in grid.panels.values():
        assert panel.hover_ring.visible()
        np.testing.assert_allclose(panel.hover_ring.pos[0], panel.coords[30])


def test_hover_by_mouse_move(grid, qtbot):
    panel = grid.panels["fc3"]
    screen, _, visible = panel.screen_positions()
    d = np.linalg.norm(screen[:, None] - screen[None], axis=2) + np.eye(len(screen)) * 1e9
    row = int(np.flatnonzero(visible & (d.min(axis=1) > 8))[0])
    QTest.mouseMove(panel.view, QPoint(round(screen[row, 0]), round(screen[row, 1])))
    qtbot.waitUntil(lambda: grid.state.hover == row, timeout=2000)


def test_colour_modes_and_camera_state_round_trip(grid):
    panel = grid.panels["fc1"]
    grid.set_color_mode("faithfulness")
    colours = panel.scatter.color
    assert not np.allclose(colours[0], colours[-1])  # overlap 0 vs 1 in the synthetic embedding
    grid.set_color_mode("label")
    labels = grid.state.labels
    assert np.allclose(panel.scatter.color[labels == 0][0], panel.scatter.color[labels == 0][-1])
    camera = {"center": [0.1, 0.2, 0.3], "distance": 5.0, "elevation": 10.0, "azimuth": 75.0, "fov": 50.0}
    grid.set_camera_state(camera)
    state = grid.camera_state()
    assert state.pop("center") == pytest.approx(camera.pop("center"))
    assert state == pytest.approx(camera)


def test_shift_drag_selects_the_points_inside_the_rectangle(grid):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    panel = grid.panels["fc1"]
    view = panel.view
    camera = view.camera_state()
    screen, _, visible = panel.screen_positions()
    left, top = 0, 0
    right, bottom = view.width() // 2, view.height()
    expected = np.flatnonzero(visible & (screen[:, 0] >= left) & (screen[:, 0] <= right) & (screen[:, 1] <= bottom))
    assert 0 < expected.size < grid.state.n_samples

    def send(kind, pos, buttons):
        event = QMouseEvent(kind, QPointF(pos), QPointF(view.mapToGlobal(pos)), Qt.MouseButton.LeftButton,
                            buttons, Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
        QApplication.sendEvent(view, event)

    send(QEvent.Type.MouseButtonPress, QPoint(left, top), Qt.MouseButton.LeftButton)
    for x in range(10, right + 1, 10):
        send(QEvent.Type.MouseMove, QPoint(x, bottom * x // right), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, QPoint(right, bottom), Qt.MouseButton.NoButton)
    assert grid.state.selection.tolist() == expected.tolist()
    assert view.camera_state() == camera  # a selection drag does not rotate
    for other in grid.panels.values():
        assert other.highlighted_rows().tolist() == expected.tolist()


def test_hidden_grid_builds_and_draws_when_shown(qtbot, qapp):
    require_opengl()
    from ibviewer.gui.views.embedding_view_3d import EmbeddingGrid3DView

    state = make_state(dims=3)
    grid = EmbeddingGrid3DView(state)
    qtbot.addWidget(grid)
    state.set_epoch(5)
    assert grid.panels == {}  # hidden: no GL widget is made (it would switch the window to GL composition)
    grid.show()
    qtbot.waitExposed(grid)
    for layer, panel in grid.panels.items():
        np.testing.assert_allclose(panel.coords, normalise_coords(state.coords(layer, 5)))


def test_without_opengl_the_grid_says_why_instead_of_crashing(qtbot, monkeypatch):
    import ibviewer.gui.views.embedding_view_3d as view3d

    monkeypatch.setattr(view3d, "opengl_available", lambda: (False, "no OpenGL here"))
    grid = view3d.EmbeddingGrid3DView(make_state(dims=3))
    qtbot.addWidget(grid)
    grid.show()
    assert grid.panels == {} and "no OpenGL here" in grid.title.text()
    grid.state.set_epoch(5)  # state changes keep working
    assert "no OpenGL here" in grid.title.text() and grid.camera_state() is None
