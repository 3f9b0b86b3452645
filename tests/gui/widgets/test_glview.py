"""The OpenGL helpers: projection to the screen (as Qt maps it), picking, and display coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.gui.widgets.glview import normalise_coords, pick_nearest, project_to_screen


def test_projection_matches_qt_matrix_mapping():
    from PySide6.QtGui import QMatrix4x4, QVector3D

    m = QMatrix4x4()
    m.perspective(60.0, 1.5, 0.1, 100.0)
    m.lookAt(QVector3D(3, 2, 5), QVector3D(0, 0, 0), QVector3D(0, 0, 1))
    mvp = np.array(m.copyDataTo()).reshape(4, 4)
    points = np.array([[0.0, 0, 0], [0.5, -0.3, 0.2], [0, 0, 100.0]])
    screen, depth, visible = project_to_screen(points, mvp, 300, 200)
    for point, (sx, sy), vis in zip(points, screen, visible):
        ndc = m.map(QVector3D(*point))
        if vis:
            assert sx == pytest.approx((ndc.x() + 1) * 150, abs=1e-4)
            assert sy == pytest.approx((1 - ndc.y()) * 100, abs=1e-4)
    assert visible[:2].all()
    # nearest point within tolerance; none when the click is far from all points
    assert pick_nearest(screen, depth, visible, *screen[1] + 2) == 1
    assert pick_nearest(screen, depth, visible, -50, -50) == -1


def test_normalise_fits_the_cube_and_pads_2d():
    coords = np.array([[0.0, 0.0], [4.0, 2.0], [2.0, 1.0]])
    shown = normalise_coords(coords)
    assert shown.shape == (3, 3) and np.all(shown[:, 2] == 0)
    assert np.abs(shown).max() == pytest.approx(1.0)
