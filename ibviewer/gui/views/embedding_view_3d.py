"""Per-layer embeddings in 3D: small multiples of `pyqtgraph.opengl` views, linked through `AppState`.

Each panel draws one layer's embedding as a `GLScatterPlotItem` (translucent blending, so
dense clusters keep their colour) coloured like the 2D view. Drag rotates, the wheel zooms,
Ctrl+drag pans; cameras are linked across panels by default. Clicking picks a point by
projecting every point to the screen with the view's projection and view matrices and
taking the nearest within a few pixels; hover, selection, focus and neighbours come from
`AppState`, so a gesture in the 2D or 3D view shows in both. The OpenGL helpers (scatter
item, view widget, projection, picking) live in `gui/widgets/glview.py`.

OpenGL needs a real or virtual X display (Xvfb with ``QT_QPA_PLATFORM=xcb``); Qt's
offscreen platform has none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QImage
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QToolTip, QVBoxLayout, QWidget

from ibviewer.core.config import COLOR_MODES
from ibviewer.gui.playback import EpochPlayback, draw_playback_frame, full_coords
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.coloring import color_legend, point_rgba
from ibviewer.gui.widgets.figure import GridStateSlots, PanelGrid, figure_frame, grid_title, layer_title_parts
from ibviewer.gui.widgets.glview import (
    DEFAULT_CAMERA,
    GLScatterItem,
    GLScatterView,
    fit_distance,
    normalise_coords,
    pick_nearest,
    project_to_screen,
)
from ibviewer.gui.widgets.grab import grab_with_gl, opengl_available
from ibviewer.gui.widgets.style import FOCUS_COLOR, HOVER_COLOR, NEIGHBOR_COLOR

__all__ = ["GLLayerPanel", "EmbeddingGrid3DView"]

DIMMED_ALPHA = 0.18
# overlays are drawn without depth test, in depth-value order, so rings stay visible inside clouds
OVERLAY_GL_OPTIONS = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA),
}


def _rgba_tuple(color: QColor) -> tuple[float, float, float, float]:
    return (color.redF(), color.greenF(), color.blueF(), color.alphaF())


class GLLayerPanel(QWidget):
    """One layer's 3D embedding: a title over a GL view with the points and highlight overlays."""

    def __init__(self, state: AppState, layer: str, color_mode: str = "label", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.layer = layer
        self.color_mode = color_mode
        self.coords: np.ndarray | None = None  # (n, 3) display coordinates
        self.embedding_dims = 0
        self._colors: np.ndarray | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        self.title = QLabel(self)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("color: #202020; background: white;")
        self.view = GLScatterView(self)
        self.view.setMinimumSize(160, 160)
        self.view.set_camera_state({k: v for k, v in DEFAULT_CAMERA.items() if k != "distance"})
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

        self.scatter = GLScatterItem(pos=np.zeros((0, 3)), size=5, pxMode=True)
        self.scatter.setGLOptions("translucent")
        self.scatter.setVisible(False)
        self.focus_ring = self._overlay(FOCUS_COLOR, 1)
        self.neighbor_ring = self._overlay(NEIGHBOR_COLOR, 2)
        self.highlight_item = self._overlay(None, 3)
        self.hover_ring = self._overlay(HOVER_COLOR, 4)
        self.hover_dot = self._overlay(None, 5)
        self.view.addItem(self.scatter)
        for item in (self.focus_ring, self.neighbor_ring, self.highlight_item, self.hover_ring, self.hover_dot):
            self.view.addItem(item)

        self.view.clicked.connect(self._on_view_clicked)
        self.view.hovered.connect(self._on_view_hovered)
        self.view.region_selected.connect(self._on_view_region_selected)
        self.update_title()

    def _overlay(self, color: QColor | None, depth: int) -> gl.GLScatterPlotItem:
        item = GLScatterItem(pos=np.zeros((0, 3)), size=8, pxMode=True)
        if color is not None:
            item.setData(color=_rgba_tuple(color))
        item.setGLOptions(dict(OVERLAY_GL_OPTIONS))
        item.setDepthValue(depth)
        item.setVisible(False)
        return item

    # -- drawing -------------------------------------------------------------------
    def point_size(self) -> float:
        n = 0 if self.coords is None else len(self.coords)
        return 7.0 if n <= 500 else 5.0 if n <= 3000 else 4.0

    def reload(self) -> None:
        """Take this layer's embedding at the current epoch from the state."""
        coords = full_coords(self.state, self.layer)
        self.embedding_dims = 0 if coords is None else int(coords.shape[1])
        if self.color_mode != "label":
            self._colors = None  # per embedding (faithfulness) or epoch (predictions); label colours stay
        self.set_coords(coords)
        self.update_title()

    def set_coords(self, coords: np.ndarray | None) -> None:
        """Show these (n, dims) embedding coordinates (playback passes blended ones)."""
        if coords is None:
            self.coords = None
            self.scatter.setVisible(False)
        else:
            self.coords = normalise_coords(coords)
            if self._colors is None or len(self._colors) != len(self.coords):
                self._colors = point_rgba(self.state, self.color_mode, self.layer)
            self.scatter.setVisible(True)
        self.refresh_highlights()
        self.refresh_hover()

    def set_color_mode(self, mode: str) -> None:
        self.color_mode = mode
        self._colors = None
        if self.coords is not None:
            self._colors = point_rgba(self.state, mode, self.layer)
        self.refresh_highlights()

    def update_title(self) -> None:
        parts = layer_title_parts(self.state, self.layer)
        if self.coords is None:
            parts.append("<span style='color:#808080'>computing…</span>")
        elif self.embedding_dims == 2:
            parts.append("<span style='color:#a04000'>2-D embedding (set dims to 3)</span>")
        self.title.setText(" · ".join(parts))

    def refresh_highlights(self) -> None:
        coords, colors = self.coords, self._colors
        if coords is None or colors is None:
            for item in (self.focus_ring, self.neighbor_ring, self.highlight_item):
                item.setVisible(False)
            return
        state = self.state
        size = self.point_size()
        rows = state.highlighted_rows()
        rows = rows[rows < len(coords)]
        base = colors
        if rows.size:
            base = colors.copy()
            base[:, 3] *= DIMMED_ALPHA
        self.scatter.setData(pos=coords, color=base, size=size)
        self._show(self.highlight_item, coords[rows], colors[rows], size + 2)
        neighbors = state.neighbors
        neighbor_rows = neighbors.focus_indices if neighbors is not None else np.zeros(0, dtype=np.int64)
        self._show(self.neighbor_ring, coords[neighbor_rows[neighbor_rows < len(coords)]], None, size + 7)
        focus_rows = [state.focus.row] if state.focus is not None and state.focus.row < len(coords) else []
        self._show(self.focus_ring, coords[focus_rows], None, size + 10)

    def refresh_hover(self) -> None:
        row = self.state.hover
        if self.coords is not None and self._colors is not None and 0 <= row < len(self.coords):
            size = self.point_size()
            self._show(self.hover_ring, self.coords[[row]], None, size + 7)
            self._show(self.hover_dot, self.coords[[row]], self._colors[[row]], size + 2)
        else:
            self.hover_ring.setVisible(False)
            self.hover_dot.setVisible(False)

    @staticmethod
    def _show(item: gl.GLScatterPlotItem, pos: np.ndarray, colors: np.ndarray | None, size: float) -> None:
        if len(pos) == 0:
            item.setVisible(False)
            return
        if colors is None:
            item.setData(pos=pos, size=size)
        else:
            item.setData(pos=pos, color=colors, size=size)
        item.setVisible(True)

    def highlighted_rows(self) -> np.ndarray:
        """Rows currently drawn highlighted (for tests and exports)."""
        if not self.highlight_item.visible() or self.coords is None:
            return np.zeros(0, dtype=np.int64)
        rows = self.state.highlighted_rows()
        return rows[rows < len(self.coords)]

    # -- picking ---------------------------------------------------------------------
    def screen_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(screen (n, 2), depth (n,), visible (n,)) of every point in view-widget coordinates."""
        if self.coords is None:
            empty = np.zeros((0, 2))
            return empty, np.zeros(0), np.zeros(0, dtype=bool)
        return project_to_screen(self.coords, self.view.mvp_matrix(), self.view.width(), self.view.height())

    def row_at(self, x: float, y: float) -> int:
        """The sample drawn nearest to widget point (x, y), or -1 when none is within a few pixels."""
        screen, depth, visible = self.screen_positions()
        return pick_nearest(screen, depth, visible, x, y)

    def render_image(self, width: int | None = None, height: int | None = None) -> QImage:
        """Render the GL view into an off-screen framebuffer at a chosen size (independent of the window)."""
        from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

        view = self.view
        width = int(width or view.width())
        height = int(height or view.height())
        view.makeCurrent()
        fmt = QOpenGLFramebufferObjectFormat()
        fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
        fbo = QOpenGLFramebufferObject(width, height, fmt)
        try:
            fbo.bind()
            GL.glViewport(0, 0, width, height)
            view.paint(region=(0, 0, width, height), viewport=(0, 0, width, height))
            image = fbo.toImage().convertToFormat(QImage.Format.Format_RGB32)
        finally:
            fbo.release()
            QOpenGLFramebufferObject.bindDefault()
            view.doneCurrent()
        return image

    # -- gestures --------------------------------------------------------------------
    def _on_view_clicked(self, x: float, y: float, modifiers: Any) -> None:
        row = self.row_at(x, y)
        if row < 0:
            self.state.clear_selection()
            return
        if modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            self.state.set_selection(np.union1d(self.state.selection, [row]))
            return
        self.state.set_selection([])
        self.state.set_focus(row, self.layer)

    def _on_view_region_selected(self, rect: QRectF) -> None:
        """Shift+drag: add the points drawn inside the rectangle to the selection."""
        screen, _depth, visible = self.screen_positions()
        inside = (
            visible
            & (screen[:, 0] >= rect.left()) & (screen[:, 0] <= rect.right())
            & (screen[:, 1] >= rect.top()) & (screen[:, 1] <= rect.bottom())
        )  # fmt: skip
        self.state.set_focus(None)
        self.state.set_selection(np.union1d(self.state.selection, np.flatnonzero(inside)))

    def _on_view_hovered(self, x: float, y: float) -> None:
        row = -1 if math.isnan(x) else self.row_at(x, y)
        self.state.set_hover(row)
        if row >= 0:
            label = int(self.state.labels[row])
            names = self.state.class_names()
            text = f"{self.state.sample_name(row)} · label {names[label] if label < len(names) else label}"
            QToolTip.showText(QCursor.pos(), text, self.view)


class EmbeddingGrid3DView(GridStateSlots, QWidget):
    """Toolbar (linked cameras, reset view) over a figure: title, colour legend, one 3D panel per layer."""

    def __init__(
        self, state: AppState, playback: EpochPlayback | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.playback = playback
        self.color_mode = state.settings.color_by
        self.panels: dict[str, GLLayerPanel] = {}
        self._syncing = False
        self._stale = False
        self._needs_panels = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        bar = QWidget(self)
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 2, 4, 2)
        self.link_cameras = QCheckBox("Link cameras", bar)
        self.link_cameras.setChecked(True)
        self.link_cameras.setToolTip("Rotate and zoom every layer's panel together")
        reset = QToolButton(bar)
        reset.setText("Reset view")
        reset.clicked.connect(self.reset_cameras)
        hint = QLabel(
            "drag: rotate · wheel: zoom · Ctrl+drag: pan · click: neighbours · "
            "Shift+click / Shift+drag: add to the selection · Esc: clear"
        )
        hint.setStyleSheet("color: #707070;")
        hint.setToolTip(hint.text())
        # clipped when the tab is narrow instead of making the whole window wider than the screen
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.link_cameras)
        row.addWidget(reset)
        row.addSpacing(12)
        row.addWidget(hint, 1)
        layout.addWidget(bar)

        self.figure, self.title, self.legend, self.grid = figure_frame(self, "No run open")
        self.panel_grid = PanelGrid(self.figure, self.grid)  # rows x columns from the panel count and aspect
        self.figure.setObjectName("layerGrid3DFigure")
        layout.addWidget(self.figure, 1)

        state.run_changed.connect(self._on_state_run_changed)
        state.embedding_changed.connect(self._on_state_embedding_changed)
        state.result_changed.connect(self._on_state_result_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        state.selection_changed.connect(self._on_state_highlights_changed)
        state.focus_changed.connect(self._on_state_highlights_changed)
        state.neighbors_changed.connect(self._on_state_highlights_changed)
        state.hover_changed.connect(self._on_state_hover_changed)
        state.settings_changed.connect(self._on_state_settings_changed)
        if playback is not None:
            playback.position_changed.connect(self._on_playback_position_changed)
        if state.activations is not None:
            self._on_state_run_changed()

    # -- public --------------------------------------------------------------------
    def set_color_mode(self, mode: str) -> None:
        """Colour every panel by ``label``, ``predicted``, ``correct`` or ``faithfulness``."""
        self.color_mode = mode
        for panel in self.panels.values():
            panel.set_color_mode(mode)
        self._update_legend()

    def camera_state(self) -> dict[str, Any] | None:
        """The camera of the first panel (all panels share it while linked)."""
        first = next(iter(self.panels.values()), None)
        return None if first is None else first.view.camera_state()

    def set_camera_state(self, camera: dict[str, Any]) -> None:
        for panel in self.panels.values():
            panel.view.set_camera_state(camera)

    def reset_cameras(self) -> None:
        """Back to the default angle, zoomed so every panel's cloud fits."""
        camera = {k: v for k, v in DEFAULT_CAMERA.items() if k != "distance"}
        for panel in self.panels.values():
            panel.view.set_camera_state(camera)
            panel.view.opts["distance"] = fit_distance(panel.view.width(), panel.view.height(), camera["fov"])
            panel.view.update()

    def export_png(self, path: str | Path, scale: float = 1.0) -> Path:
        """Save the whole figure (title, legend, every panel) as a PNG; ``scale`` > 1 for print."""
        path = Path(path)
        image = grab_with_gl(self.figure)
        if scale != 1.0:
            image = image.scaled(
                int(image.width() * scale), int(image.height() * scale),
                Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation,
            )  # fmt: skip
        if not image.save(str(path), "PNG"):
            from ibviewer.errors import IBViewerError

            raise IBViewerError(f"Could not write {path}; choose a folder you can write to.")
        return path

    # -- state slots -----------------------------------------------------------------
    def _on_state_run_changed(self) -> None:
        self.panel_grid.set_panels([])
        for panel in self.panels.values():
            panel.deleteLater()
        self.panels = {}
        if not self.isVisible():
            # no GL widget until the 3D view is shown: the first QOpenGLWidget in a window switches
            # the whole window to OpenGL composition (a ~0.3 s stall), which 2D-only use never needs
            self._needs_panels = True
            return
        self._needs_panels = False
        names = self.state.layer_names
        n = len(names)
        available, reason = opengl_available()
        if n and not available:
            self.title.setText(f"3D views need OpenGL: {reason}.")
            return  # a QOpenGLWidget on a platform without OpenGL crashes when shown
        for name in names:
            panel = GLLayerPanel(self.state, name, self.color_mode, self.figure)
            panel.view.camera_changed.connect(self._on_panel_camera_changed)
            self.panels[name] = panel
        self.panel_grid.set_panels(list(self.panels.values()))
        self._reload_all()

    def _on_state_embedding_changed(self, layer: str) -> None:
        if not self.isVisible():
            self._stale = True  # a hidden 3D grid costs nothing while t-SNE snapshots stream in
            return
        panel = self.panels.get(layer)
        if panel is not None:
            panel.reload()
        self._update_title()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._needs_panels:
            self._on_state_run_changed()
        elif self._stale:
            self._reload_all()

    def _on_playback_position_changed(self, position: float) -> None:
        if not self.isVisible():
            self._stale = True
            return
        if not draw_playback_frame(self.state, self.playback, self.panels, position):
            self._reload_all()
        elif self.playback is not None and self.playback.is_playing():
            self._update_title()  # "between epochs 24 and 26", as the timeline says

    def _reload_all(self) -> None:
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        for panel in self.panels.values():
            panel.reload()
        self._update_title()
        self._update_legend()

    def _on_state_highlights_changed(self) -> None:
        for panel in self.panels.values():
            panel.refresh_highlights()

    def _on_state_hover_changed(self, row: int) -> None:
        for panel in self.panels.values():
            panel.refresh_hover()

    def _on_panel_camera_changed(self) -> None:
        if self._syncing or not self.link_cameras.isChecked():
            return
        source = self.sender()
        if not isinstance(source, GLScatterView):
            return
        camera = source.camera_state()
        self._syncing = True
        try:
            for panel in self.panels.values():
                if panel.view is not source:
                    panel.view.set_camera_state(camera)
        finally:
            self._syncing = False

    def _playback_position(self) -> float | None:
        """Where playback stands while it blends between saved epochs (None when it does not play)."""
        playing = self.playback is not None and self.playback.is_playing()
        return self.playback.position if playing else None

    def _update_title(self) -> None:
        state = self.state
        if state.activations is None:
            self.title.setText("No run open")
            return
        if not self.panels and state.layer_names:
            return  # the "needs OpenGL" message stays
        self.title.setText(grid_title(state, "3D", position=self._playback_position()))

    def _update_legend(self) -> None:
        if self.state.activations is None:
            self.legend.setText("")
            return
        entries = color_legend(self.state, self.color_mode)[:20]
        dots = " ".join(
            f"<span style='color:{color.name()}; font-size:14pt'>●</span> {name}&nbsp;&nbsp;" for name, color in entries
        )
        self.legend.setText(f"<b>{COLOR_MODES[self.color_mode]}</b>&nbsp;&nbsp;{dots}")
