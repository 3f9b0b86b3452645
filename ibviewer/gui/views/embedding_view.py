"""Per-layer embeddings as small multiples: one linked scatter panel per captured layer.

Every panel draws the same samples, coloured by label, predicted class, correctness or
neighbourhood faithfulness (`widgets/coloring.py`, shared with the 3D view). Hover, click
(focus + neighbours) and rectangle/lasso selections go to `AppState`; every panel
redraws its highlights from the state's signals, so a gesture in one panel shows in all
of them. With an `EpochPlayback`, the panels animate between epochs during playback.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QCursor, QKeySequence, QPainterPath, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ibviewer.core.config import COLOR_MODES
from ibviewer.gui.playback import EpochPlayback, draw_playback_frame
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.coloring import color_legend, point_brushes, point_rgba
from ibviewer.gui.widgets.figure import GridStateSlots, PanelGrid, figure_frame, grid_title, layer_title_parts
from ibviewer.gui.widgets.pointer import PointerViewBox
from ibviewer.gui.widgets.style import (
    PassiveScatter,
    FOCUS_COLOR,
    HOVER_COLOR,
    NEIGHBOR_COLOR,
    SELECTION_PEN,
    class_colors,
    make_pen,
    nearest_point,
    points_in_polygon,
)

__all__ = ["EmbeddingGridView", "LayerPanel", "SelectionViewBox", "ClassLegend"]

PAN, RECT, LASSO = "pan", "rect", "lasso"
CLICK_TOLERANCE_PX = 8.0


class SelectionViewBox(PointerViewBox):
    """A PointerViewBox whose left drag draws a rectangle or lasso in selection modes (pans otherwise)."""

    region_selected = Signal(object, object)  # (m, 2) polygon in data coordinates, Qt.KeyboardModifiers

    def __init__(self) -> None:
        super().__init__()
        self.mode = PAN
        self._drag_points: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        pen = QPen(QColor(30, 30, 30))
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self._outline.setPen(pen)
        self._outline.setBrush(QColor(30, 120, 220, 40))
        self._outline.setZValue(1e6)
        self._outline.hide()
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802, ANN001 - Qt override
        if self.mode == PAN or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._drag_points = [self.mapToView(ev.buttonDownPos())]
        position = self.mapToView(ev.pos())
        if self.mode == LASSO:
            self._drag_points.append(position)
            polygon = self._drag_points
        else:
            start = self._drag_points[0]
            polygon = [start, QPointF(position.x(), start.y()), position, QPointF(start.x(), position.y())]
        path = QPainterPath(polygon[0])
        for point in polygon[1:]:
            path.lineTo(point)
        path.closeSubpath()
        self._outline.setPath(path)
        self._outline.show()
        if ev.isFinish():
            self._outline.hide()
            array = np.array([[p.x(), p.y()] for p in polygon], dtype=np.float64)
            self.region_selected.emit(array, ev.modifiers())


class LayerPanel(pg.PlotWidget):
    """One layer's embedding: a scatter coloured by label plus highlight overlays."""

    def __init__(self, state: AppState, layer: str, color_mode: str = "label", parent: QWidget | None = None) -> None:
        self.viewbox = SelectionViewBox()
        super().__init__(parent, viewBox=self.viewbox)
        self.state = state
        self.layer = layer
        self.color_mode = color_mode
        self.coords: np.ndarray | None = None
        self._brush_list: list | None = None
        item = self.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.hideButtons()
        item.setMenuEnabled(False)
        self.viewbox.setAspectLocked(True)
        self.viewbox.setBorder(pg.mkPen("#b0b0b0"))
        self.setMinimumSize(160, 160)

        self.scatter = PassiveScatter(pen=None, size=5, pxMode=True)
        self.highlight_item = PassiveScatter(pen=SELECTION_PEN, size=7, pxMode=True)
        self.neighbor_item = PassiveScatter(pen=make_pen(NEIGHBOR_COLOR, 2.0), brush=None, size=11, pxMode=True)
        self.focus_item = PassiveScatter(
            pen=make_pen(FOCUS_COLOR, 2.0), brush=pg.mkBrush(255, 255, 255, 0), size=16, symbol="o", pxMode=True
        )
        self.hover_item = PassiveScatter(pen=make_pen(HOVER_COLOR, 1.5), brush=None, size=13, pxMode=True)
        for z, scatter in enumerate((self.scatter, self.highlight_item, self.neighbor_item, self.focus_item, self.hover_item)):
            scatter.setZValue(z)
            self.addItem(scatter)
        self.placeholder = pg.TextItem("computing…", color="#808080", anchor=(0.5, 0.5))
        self.addItem(self.placeholder, ignoreBounds=True)

        self.viewbox.point_clicked.connect(self._on_viewbox_point_clicked)
        self.viewbox.region_selected.connect(self._on_viewbox_region_selected)
        self.viewbox.hovered.connect(self._on_viewbox_hovered)
        self.update_title()

    # -- drawing -------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self.viewbox.mode = mode
        self.viewbox.setMouseEnabled(True, True)

    def point_size(self) -> float:
        n = 0 if self.coords is None else len(self.coords)
        return 7.0 if n <= 500 else 5.0 if n <= 3000 else 4.0

    def reload(self) -> None:
        """Take this layer's embedding at the current epoch from the state."""
        if self.color_mode != "label":
            self._brush_list = None  # per embedding / epoch; label colours stay (and t-SNE snapshots only move points)
        self.set_coords(self.state.coords(self.layer))
        self.update_title()

    def set_coords(self, coords: np.ndarray | None) -> None:
        """Show these (n, dims) embedding coordinates (playback passes blended ones)."""
        first = self.coords is None
        if coords is None:
            self.coords = None
            self.scatter.clear()
            self.placeholder.show()
            self.placeholder.setPos(0, 0)
        else:
            coords = np.asarray(coords, dtype=np.float64)[:, :2]
            same_colors = self._brush_list is not None and len(self._brush_list) == len(coords)
            if not same_colors:
                self._brush_list = point_brushes(point_rgba(self.state, self.color_mode, self.layer))
            self.coords = coords
            self.placeholder.hide()
            if not (same_colors and self.scatter.move_points(coords)):  # playback frames only move the points
                self.scatter.setData(pos=coords, brush=self._brush_list, size=self.point_size(), pen=None)
            if first:
                self.viewbox.autoRange(padding=0.05)
            else:
                self.viewbox.enableAutoRange()  # follow t-SNE snapshots and playback unless the user zoomed
        self.refresh_highlights()
        self.refresh_hover()

    def set_color_mode(self, mode: str) -> None:
        """Colour by ``label``, ``predicted``, ``correct`` or ``faithfulness`` (see `point_rgba`)."""
        self.color_mode = mode
        self._brush_list = None
        if self.coords is not None:
            self.set_coords(self.coords)

    def point_colors(self) -> np.ndarray:
        """(n, 4) RGBA in [0, 1] of the points as drawn (for tests and exports)."""
        return np.array([brush.color().getRgbF() for brush in self._brush_list or []], dtype=np.float64)

    def update_title(self) -> None:
        self.getPlotItem().setTitle(" · ".join(layer_title_parts(self.state, self.layer)), size="10pt")

    def refresh_highlights(self) -> None:
        state = self.state
        coords = self.coords
        rows = state.highlighted_rows() if coords is not None else np.zeros(0, dtype=np.int64)
        self.scatter.setOpacity(0.25 if rows.size else 1.0)
        if rows.size and coords is not None and self._brush_list is not None:
            brushes = self._brush_list
            self.highlight_item.setData(
                pos=coords[rows], brush=[brushes[row] for row in rows.tolist()], data=rows, size=self.point_size() + 2
            )
        else:
            self.highlight_item.clear()
        neighbors = state.neighbors
        if neighbors is not None and coords is not None:
            rows = neighbors.focus_indices
            self.neighbor_item.setData(pos=coords[rows], data=rows)
        else:
            self.neighbor_item.clear()
        if state.focus is not None and coords is not None:
            self.focus_item.setData(pos=coords[[state.focus.row]], data=[state.focus.row])
        else:
            self.focus_item.clear()

    def refresh_hover(self) -> None:
        row = self.state.hover
        if row >= 0 and self.coords is not None and row < len(self.coords):
            self.hover_item.setData(pos=self.coords[[row]], data=[row])
        else:
            self.hover_item.clear()

    def highlighted_rows(self) -> np.ndarray:
        """Rows currently drawn highlighted in this panel (for tests and exports)."""
        data = self.highlight_item.data["data"]
        return np.asarray([int(d) for d in data], dtype=np.int64)

    def neighbor_rows(self) -> np.ndarray:
        return np.asarray([int(d) for d in self.neighbor_item.data["data"]], dtype=np.int64)

    def row_at(self, x: float, y: float) -> int:
        """The sample drawn nearest to data point (x, y), or -1 when none is within a few pixels."""
        if self.coords is None:
            return -1
        return nearest_point(self.coords, x, y, self.viewbox.viewPixelSize(), CLICK_TOLERANCE_PX)

    def map_row_to_scene(self, row: int) -> QPointF:
        """Where a sample is drawn, in scene coordinates (tests use it to click points)."""
        x, y = self.coords[row]
        return self.viewbox.mapViewToScene(QPointF(float(x), float(y)))

    # -- gestures --------------------------------------------------------------------
    def _on_viewbox_point_clicked(self, x: float, y: float, modifiers) -> None:  # noqa: ANN001
        row = self.row_at(x, y)
        if row < 0:
            self.state.clear_selection()
            return
        self.state.set_selection([])
        self.state.set_focus(row, self.layer)

    def _on_viewbox_region_selected(self, polygon: np.ndarray, modifiers) -> None:  # noqa: ANN001
        if self.coords is None:
            return
        rows = np.flatnonzero(points_in_polygon(self.coords, polygon))
        if modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            rows = np.union1d(self.state.selection, rows)
        self.state.set_selection(rows)

    def _on_viewbox_hovered(self, x: float, y: float) -> None:
        row = -1 if math.isnan(x) else self.row_at(x, y)
        self.state.set_hover(row)
        if row >= 0:
            label = int(self.state.labels[row])
            names = self.state.class_names()
            text = f"{self.state.sample_name(row)} · label {names[label] if label < len(names) else label}"
            QToolTip.showText(QCursor.pos(), text, self)


class ClassLegend(QWidget):
    """A wrapping row of coloured dots with class names (at most ``max_items`` shown)."""

    def __init__(self, parent: QWidget | None = None, max_items: int = 20) -> None:
        super().__init__(parent)
        self.max_items = max_items
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 0, 4, 0)
        self._layout.setSpacing(10)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_classes(self, names: list[str], counts: np.ndarray | None = None) -> None:
        self.set_entries("Label", list(zip(names, class_colors(len(names)))), counts)

    def set_entries(self, title: str, entries: list[tuple[str, QColor]], counts: np.ndarray | None = None) -> None:
        """A title and one coloured dot per (name, colour) entry, with an optional count each."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._layout.addWidget(QLabel(f"<b>{title}</b>"))
        for i, (name, color) in enumerate(entries[: self.max_items]):
            count = f" <span style='color:#808080'>({int(counts[i])})</span>" if counts is not None and i < len(counts) else ""
            label = QLabel(f"<span style='color:{color.name()}; font-size:14pt'>●</span> {name}{count}")
            label.setToolTip(f"{title}: {name}")
            self._layout.addWidget(label)
        if len(entries) > self.max_items:
            self._layout.addWidget(QLabel(f"… {len(entries) - self.max_items} more"))
        self._layout.addStretch(1)


class EmbeddingGridView(GridStateSlots, QWidget):
    """Toolbar (pan / rectangle / lasso, clear) over a figure: title, legend and one panel per layer."""

    def __init__(self, state: AppState, playback: EpochPlayback | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.panels: dict[str, LayerPanel] = {}
        self.mode = PAN
        self.color_mode = state.settings.color_by
        self.playback: EpochPlayback | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._build_toolbar())

        # the figure is what "Export figure > layer grid" renders
        self.figure, self.title, self.legend, self.grid = figure_frame(self, "No run open", ClassLegend())
        self.panel_grid = PanelGrid(self.figure, self.grid)  # rows x columns from the panel count and aspect
        self.figure.setObjectName("layerGridFigure")
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
            self.set_playback(playback)

    def _build_toolbar(self) -> QWidget:
        bar = QWidget(self)
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 2, 4, 2)
        self.mode_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        for mode, text, tip in (
            (PAN, "Pan / zoom", "Drag to pan, wheel to zoom; click a point to list its neighbours"),
            (RECT, "Rectangle", "Drag a rectangle to select a group (Shift adds to the selection)"),
            (LASSO, "Lasso", "Draw around a group to select it (Shift adds to the selection)"),
        ):
            button = QToolButton(bar)
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(mode == PAN)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            group.addButton(button)
            button.toggled.connect(self._on_mode_button_toggled)
            self.mode_buttons[mode] = button
            row.addWidget(button)
        row.addSpacing(12)
        clear = QToolButton(bar)
        clear.setText("Clear selection")
        clear.setToolTip("Clear the selection and the clicked sample (Esc)")
        clear.clicked.connect(self.state.clear_selection)
        row.addWidget(clear)
        reset = QToolButton(bar)
        reset.setText("Reset zoom")
        reset.clicked.connect(self.reset_zoom)
        row.addWidget(reset)
        row.addStretch(1)
        self.selection_label = QLabel("")
        self.selection_label.setStyleSheet("color: #505050;")
        row.addWidget(self.selection_label)

        self.clear_action = QAction("Clear selection", self)
        self.clear_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.clear_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.clear_action.triggered.connect(self.state.clear_selection)
        self.addAction(self.clear_action)
        return bar

    # -- public --------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.mode_buttons[mode].setChecked(True)
        for panel in self.panels.values():
            panel.set_mode(mode)

    def set_playback(self, playback: EpochPlayback) -> None:
        """Follow an `EpochPlayback`: during playback the panels draw `coords_at` blends of the epochs."""
        if self.playback is not None:
            self.playback.position_changed.disconnect(self._on_playback_position_changed)
        self.playback = playback
        playback.position_changed.connect(self._on_playback_position_changed)

    def set_color_mode(self, mode: str) -> None:
        """Colour every panel by ``label``, ``predicted``, ``correct`` or ``faithfulness``."""
        self.color_mode = mode
        for panel in self.panels.values():
            panel.set_color_mode(mode)
        self._update_legend()

    def reset_zoom(self) -> None:
        for panel in self.panels.values():
            panel.viewbox.autoRange(padding=0.05)

    # -- state slots -----------------------------------------------------------------
    def _on_mode_button_toggled(self, checked: bool) -> None:
        if checked:
            for mode, button in self.mode_buttons.items():
                if button.isChecked() and mode != self.mode:
                    self.set_mode(mode)

    def _on_state_run_changed(self) -> None:
        self.panel_grid.set_panels([])
        for panel in self.panels.values():
            panel.deleteLater()
        self.panels = {}
        names = self.state.layer_names
        for name in names:
            panel = LayerPanel(self.state, name, self.color_mode, self.figure)
            panel.set_mode(self.mode)
            self.panels[name] = panel
        self.panel_grid.set_panels(list(self.panels.values()))
        self._update_legend()
        self._update_title()
        self._update_selection_label()

    def _on_state_embedding_changed(self, layer: str) -> None:
        panel = self.panels.get(layer)
        if panel is not None:
            panel.reload()
        self._update_title()

    def _on_playback_position_changed(self, position: float) -> None:
        if not draw_playback_frame(self.state, self.playback, self.panels, position):
            self._reload_all()
        elif self.playback is not None and self.playback.is_playing():
            self._update_title()  # "between epochs 24 and 26", as the timeline says

    def _reload_all(self) -> None:
        for panel in self.panels.values():
            panel.reload()
        self._update_title()

    def _on_state_highlights_changed(self) -> None:
        for panel in self.panels.values():
            panel.refresh_highlights()
        self._update_selection_label()

    def _on_state_hover_changed(self, row: int) -> None:
        for panel in self.panels.values():
            panel.refresh_hover()

    def _update_selection_label(self) -> None:
        state = self.state
        if state.selection.size:
            self.selection_label.setText(f"{state.selection.size} of {state.n_samples} samples selected")
        elif state.focus is not None:
            self.selection_label.setText(f"{state.sample_name(state.focus.row)} selected in {state.focus.layer}")
        else:
            self.selection_label.setText("")

    def _update_legend(self) -> None:
        state = self.state
        if self.color_mode == "label":
            names = state.class_names()
            counts = np.bincount(state.labels, minlength=len(names)) if state.labels.size else None
            self.legend.set_classes(names, counts)
        else:
            self.legend.set_entries(COLOR_MODES[self.color_mode], color_legend(state, self.color_mode))

    def _playback_position(self) -> float | None:
        """Where playback stands while it blends between saved epochs (None when it does not play)."""
        playing = self.playback is not None and self.playback.is_playing()
        return self.playback.position if playing else None

    def _update_title(self) -> None:
        state = self.state
        if state.activations is None:
            self.title.setText("No run open")
            return
        note = state.probe_note()
        note_html = f"<br><span style='font-size:9pt; color:#505050'>Linear probes: {note}</span>" if note else ""
        self.title.setText(grid_title(state, position=self._playback_position()) + note_html)
