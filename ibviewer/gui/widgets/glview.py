"""OpenGL drawing helpers shared by the 3D views: the scatter item, the view widget, projection and picking.

Importing this module loads ``pyqtgraph.opengl`` (PyOpenGL): only 3D views import it, so
2D-only use never pays for OpenGL. Points are drawn in display coordinates in [-1, 1]^3
(`normalise_coords`); clicks are picked by projecting every point to the screen with the
view's own matrices (`project_to_screen`, `pick_nearest`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtWidgets import QRubberBand, QWidget

__all__ = [
    "DEFAULT_CAMERA",
    "fit_distance",
    "project_to_screen",
    "pick_nearest",
    "normalise_coords",
    "GLScatterItem",
    "GLScatterView",
]

PICK_TOLERANCE_PX = 6.0
CLICK_SLOP_PX = 4.0
DEFAULT_CAMERA = {"distance": 4.2, "elevation": 22.0, "azimuth": 40.0, "fov": 60.0, "center": [0.0, 0.0, 0.0]}
FIT_RADIUS = 1.35  # points lie in [-1, 1]^3; a little more than 1 keeps rotated corners in view


def fit_distance(width: float, height: float, fov: float) -> float:
    """Camera distance at which a sphere of radius ``FIT_RADIUS`` fills the smaller side of the view."""
    aspect = min(1.0, height / width) if width > 0 and height > 0 else 1.0
    return FIT_RADIUS / (math.tan(math.radians(fov) / 2) * aspect)


def _matrix(m: Any) -> np.ndarray:
    """A QMatrix4x4 as a row-major (4, 4) array."""
    return np.array(m.copyDataTo(), dtype=np.float64).reshape(4, 4)


def project_to_screen(
    points: np.ndarray, mvp: np.ndarray, width: float, height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screen positions of 3D points under a model-view-projection matrix.

    Parameters
    ----------
    points : ndarray, (n, 3)
    mvp : ndarray, (4, 4)
        Row-major projection @ view matrix.
    width, height : float
        Widget size in logical pixels.

    Returns
    -------
    screen : ndarray, (n, 2)
        Widget coordinates (x right, y down).
    depth : ndarray, (n,)
        Normalised device depth (smaller is nearer).
    visible : ndarray of bool, (n,)
        In front of the camera and inside the view.
    """
    points = np.asarray(points, dtype=np.float64)
    homogeneous = np.hstack([points[:, :3], np.ones((len(points), 1))])
    clip = homogeneous @ mvp.T
    w = clip[:, 3]
    in_front = w > 1e-9
    safe_w = np.where(in_front, w, 1.0)
    ndc = clip[:, :3] / safe_w[:, None]
    screen = np.empty((len(points), 2))
    screen[:, 0] = (ndc[:, 0] + 1.0) * 0.5 * width
    screen[:, 1] = (1.0 - ndc[:, 1]) * 0.5 * height
    visible = in_front & (np.abs(ndc) <= 1.0).all(axis=1)
    return screen, ndc[:, 2], visible


def pick_nearest(
    screen: np.ndarray, depth: np.ndarray, visible: np.ndarray, x: float, y: float, tolerance_px: float = PICK_TOLERANCE_PX
) -> int:
    """Row of the visible point drawn nearest to (x, y), or -1 when none is within ``tolerance_px``.

    Points at (almost) the same screen distance go to the one nearer the camera.
    """
    if len(screen) == 0:
        return -1
    d2 = (screen[:, 0] - x) ** 2 + (screen[:, 1] - y) ** 2
    d2 = np.where(visible, d2, np.inf)
    candidates = np.flatnonzero(d2 <= tolerance_px**2)
    if candidates.size == 0:
        return -1
    # half-pixel rings, then depth: a point hidden right behind another loses to it
    order = np.lexsort((depth[candidates], np.floor(np.sqrt(d2[candidates]) * 2)))
    return int(candidates[order[0]])


def normalise_coords(coords: np.ndarray) -> np.ndarray:
    """(n, 3) float32 display coordinates in [-1, 1]: centred, scaled by the largest half-extent.

    2-D embeddings get z = 0 (the 3D view then shows them flat).
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[1] < 3:
        coords = np.hstack([coords, np.zeros((len(coords), 3 - coords.shape[1]))])
    coords = coords[:, :3]
    if len(coords) == 0:
        return coords.astype(np.float32)
    low, high = coords.min(axis=0), coords.max(axis=0)
    half = float((high - low).max()) / 2.0
    scale = half if half > 0 else 1.0
    return ((coords - (low + high) / 2.0) / scale).astype(np.float32)


class GLScatterItem(gl.GLScatterPlotItem):
    """A GLScatterPlotItem whose shader program is cached per OpenGL share group.

    pyqtgraph caches one program for the whole process; it dies with the first window's
    context, and a later window (another top-level, a reopened view) then draws with a
    dangling program and crashes. One program per share group is always valid.
    """

    _programs: dict[int, Any] = {}

    def getShaderProgram(self):  # noqa: N802, ANN201 - pyqtgraph override
        from shiboken6 import Shiboken

        from PySide6.QtGui import QOpenGLContext

        group = QOpenGLContext.currentContext().shareGroup()
        key = Shiboken.getCppPointer(group)[0]
        program = self._programs.get(key)
        if program is None:
            gl.GLScatterPlotItem._shaderProgram = None  # never reuse another group's program
            program = gl.GLScatterPlotItem.getShaderProgram()
            gl.GLScatterPlotItem._shaderProgram = None
            self._programs[key] = program
            group.destroyed.connect(lambda *_args, key=key: GLScatterItem._programs.pop(key, None))
        return program


class GLScatterView(gl.GLViewWidget):
    """A GLViewWidget that tells clicks, hovers and Shift+drag rectangles apart from camera drags."""

    clicked = Signal(float, float, object)  # widget x, y, modifiers
    hovered = Signal(float, float)  # widget x, y (nan, nan when the mouse left)
    region_selected = Signal(object)  # QRectF in widget coordinates
    camera_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setBackgroundColor("w")
        self._press: QPointF | None = None
        self._dragged = False
        self._band: QRubberBand | None = None  # Shift+drag draws a selection rectangle instead of rotating
        self.auto_fit = True  # keep the cloud in view on resize until the user moves the camera

    def mvp_matrix(self) -> np.ndarray:
        """Row-major projection @ view matrix for the whole widget (as `paintGL` uses)."""
        viewport = (0, 0, self.width(), self.height())
        return _matrix(self.projectionMatrix(viewport, viewport)) @ _matrix(self.viewMatrix())

    def camera_state(self) -> dict[str, Any]:
        opts = self.opts
        center = opts["center"]
        return {
            "center": [float(center.x()), float(center.y()), float(center.z())],
            "distance": float(opts["distance"]),
            "elevation": float(opts["elevation"]),
            "azimuth": float(opts["azimuth"]),
            "fov": float(opts["fov"]),
        }

    def set_camera_state(self, camera: dict[str, Any]) -> None:
        self.auto_fit = "distance" not in camera
        params: dict[str, Any] = {k: float(camera[k]) for k in ("distance", "elevation", "azimuth", "fov") if k in camera}
        if "center" in camera:
            params["center"] = pg.Vector(*[float(v) for v in camera["center"]])
        self.setCameraParams(**params)

    # -- Qt overrides ------------------------------------------------------------------
    def mousePressEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        self._press = ev.position()
        self._dragged = False
        if ev.button() == Qt.MouseButton.LeftButton and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._band = QRubberBand(QRubberBand.Shape.Rectangle, self)
            self._band.setGeometry(QRect(self._press.toPoint(), QSize()))
            self._band.show()
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        position = ev.position()
        if ev.buttons() == Qt.MouseButton.NoButton:
            self.hovered.emit(position.x(), position.y())
            return
        if self._band is not None and self._press is not None:
            self._band.setGeometry(QRect(self._press.toPoint(), position.toPoint()).normalized())
            return
        if self._press is not None and (position - self._press).manhattanLength() > CLICK_SLOP_PX:
            self._dragged = True
        self.auto_fit = False
        super().mouseMoveEvent(ev)
        self.camera_changed.emit()

    def mouseReleaseEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        press, self._press = self._press, None
        position = ev.position()
        if self._band is not None:
            band, self._band = self._band, None
            band.hide()
            band.deleteLater()
            if press is not None and (position - press).manhattanLength() > CLICK_SLOP_PX:
                self.region_selected.emit(QRectF(press, position).normalized())
                return
        if (
            ev.button() == Qt.MouseButton.LeftButton
            and press is not None
            and not self._dragged
            and (position - press).manhattanLength() <= CLICK_SLOP_PX
        ):
            self.clicked.emit(position.x(), position.y(), ev.modifiers())
        super().mouseReleaseEvent(ev)

    def wheelEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        self.auto_fit = False
        super().wheelEvent(ev)
        self.camera_changed.emit()

    def resizeEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(ev)
        if self.auto_fit:
            self.opts["distance"] = fit_distance(self.width(), self.height(), self.opts["fov"])

    def leaveEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        self.hovered.emit(math.nan, math.nan)
        super().leaveEvent(ev)
