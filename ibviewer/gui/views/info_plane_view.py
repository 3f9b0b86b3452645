"""The information plane: I(X;T) against I(T;Y) for every layer and saved epoch, coloured by epoch.

Drawn as in Shwartz-Ziv & Tishby (2017): one line per epoch joining the layers, every
point coloured by its epoch with an "Epochs" colour bar, the ceilings log2(N) and H(Y)
as dashed lines, each layer's trajectory as a faint grey line. The legend names the layers
in chain order (X -> T1 -> ... -> Y^, with a caption on the data-processing inequality);
the selected epoch carries the shuffled-label null of I(T;Y) as a grey band (mean ± 2 sd),
and cells near the ceiling are ringed. Hover shows the values; clicking a point selects its
epoch in `AppState`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QCursor, QResizeEvent
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.runs_overlay import RunsSource, draw_runs
from ibviewer.gui.widgets.style import EpochScale, PassiveScatter, epoch_colormap, make_pen, nearest_point

__all__ = ["InfoPlaneView"]

LAYER_SYMBOLS = ("o", "s", "t", "d", "p", "h", "star", "t1", "t2", "t3", "+", "x")
HOVER_TOLERANCE_PX = 8.0


N_COLOR_STEPS = 24
PLANE_MIN_WIDTH = 320  # px: left axis, a readable data area and the colour bar
COLORBAR_AXIS_PX = 62  # tick values and the "Epochs" label beside them, never over the bar


def _joined(x_rows: np.ndarray, y_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of polylines as one NaN-separated polyline (for ``connect="finite"``)."""
    pad = np.full((x_rows.shape[0], 1), np.nan)
    return np.hstack([x_rows, pad]).ravel(), np.hstack([y_rows, pad]).ravel()


class _InfoPlaneViewBox(pg.ViewBox):
    def __init__(self, view: InfoPlaneView) -> None:
        super().__init__(enableMenu=False)
        self._view = view

    def mouseClickEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        if ev.button() == Qt.MouseButton.LeftButton:
            position = self.mapToView(ev.pos())
            if self._view.click_at(position.x(), position.y()):
                ev.accept()
                return
        super().mouseClickEvent(ev)

    def hoverEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        if ev.isExit():
            return
        position = self.mapToView(ev.pos())
        self._view.hover_at(position.x(), position.y())


class InfoPlaneView(QWidget):
    """The information-plane figure with its colour bar; reacts to `AppState`."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._points = np.zeros((0, 2))  # (n_epochs * n_layers, 2) i_xt, i_ty
        self._cells: list[tuple[int, int]] = []  # (epoch index, layer index) of each point
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.canvas = pg.GraphicsLayoutWidget(self)  # what "Export figure > information plane" renders
        # the plot rescales down to this (axes, data and the colour bar still readable); the title wraps
        self.canvas.setMinimumSize(PLANE_MIN_WIDTH, 200)
        layout.addWidget(self.canvas)
        self.viewbox = _InfoPlaneViewBox(self)
        self.plot = self.canvas.addPlot(row=0, col=0, viewBox=self.viewbox)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "I(X;T) (bits)")
        self.plot.setLabel("left", "I(T;Y) (bits)")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        # built once up front: creating it costs ~0.1 s, too long for the GUI thread mid-analysis
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=epoch_colormap(), interactive=False, width=14)
        # the label on the axis beside the tick values (pyqtgraph puts ``label=`` on a 0-width axis over the bar)
        self.colorbar.axis.setLabel("Epochs")
        self.colorbar.axis.setWidth(COLORBAR_AXIS_PX)
        self.canvas.addItem(self.colorbar, row=0, col=1)
        self.epoch_scale = EpochScale.for_epochs([0, 1])
        self.colorbar.hide()
        self.chain = self.canvas.addLabel("", row=1, col=0, colspan=2, size="8pt", color="#505050")
        self.legend: pg.LegendItem | None = None
        self.message = pg.TextItem("", color="#707070", anchor=(0.5, 0.5))
        self.plot.addItem(self.message, ignoreBounds=True)
        self._marker = pg.PlotDataItem(pen=make_pen(QColor("#d62728"), 2.5), symbol=None)
        self._marker.setZValue(20)
        self._marker_points = PassiveScatter(
            size=12, pen=make_pen(QColor("#d62728"), 2.0), brush=pg.mkBrush(255, 255, 255, 0), pxMode=True
        )
        self._marker_points.setZValue(21)
        # the selected epoch's shuffled-label null of I(T;Y): mean ± 2 sd along the epoch's line
        self.null_low, self.null_high = pg.PlotCurveItem(), pg.PlotCurveItem()
        self.null_band = pg.FillBetweenItem(self.null_low, self.null_high, brush=pg.mkBrush(128, 128, 128, 70))
        self.null_band.setZValue(-4)
        self.near_ceiling = PassiveScatter(
            size=13, pen=make_pen(QColor("#d62728"), 1.2), brush=pg.mkBrush(255, 255, 255, 0), pxMode=True
        )
        self.near_ceiling.setZValue(6)
        self.epoch_lines: list[pg.PlotDataItem] = []
        self.point_items: list[pg.ScatterPlotItem] = []
        self.show_band = state.settings.kde_band  # the kde estimator's lower..upper bound band (Controls > kde)
        self.band: pg.ErrorBarItem | None = None
        self.added_runs: RunsSource | None = None  # other runs drawn in this plane (File > Add Run)
        self.run_items: list[pg.GraphicsObject] = []

        state.run_changed.connect(self._on_state_run_changed)
        state.result_changed.connect(self._on_state_result_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        state.settings_changed.connect(self._on_state_settings_changed)
        self._show_message("No run open")

    # -- drawing -------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(bool(text))
        if text:
            self.plot.setXRange(0, 1)
            self.plot.setYRange(0, 1)

    def _clear(self) -> None:
        for item in list(self.plot.items):
            if item is not self.message:
                self.plot.removeItem(item)
        if self.legend is not None:
            self.legend.clear()
        self.epoch_lines, self.point_items, self.run_items = [], [], []
        self.band = None
        self.colorbar.hide()
        self._points = np.zeros((0, 2))
        self._cells = []
        self.plot.setTitle("")
        self.chain.setText("")

    def redraw(self) -> None:
        """Draw the state's information plane (or a waiting message)."""
        self._clear()
        plane = self.state.infoplane
        if plane is None:
            self._show_message("Computing the information plane…" if self.state.activations is not None else "No run open")
            return
        self._show_message("")
        epochs = np.asarray(plane.epochs, dtype=np.float64)
        i_xt, i_ty = np.asarray(plane.i_xt, dtype=np.float64), np.asarray(plane.i_ty, dtype=np.float64)
        n_epochs, n_layers = i_xt.shape
        cmap = epoch_colormap()
        self.epoch_scale = scale = EpochScale.for_epochs(epochs)  # log for log-spaced saves, as the CLI figure

        # each layer's trajectory over training: faint grey, one item for all layers
        trails = pg.PlotCurveItem(
            *_joined(i_xt.T, i_ty.T), connect="finite", pen=make_pen(QColor(150, 150, 150, 110), 1.0)
        )
        trails.setZValue(-5)
        self.plot.addItem(trails)
        # one line per epoch joining the layers; epochs share an item per colour step (cheap for 1000s of epochs)
        steps = np.minimum((N_COLOR_STEPS * scale.position(epochs)).astype(int), N_COLOR_STEPS - 1)
        for step in np.unique(steps):
            rows = np.flatnonzero(steps == step)
            color = cmap.map((step + 0.5) / N_COLOR_STEPS, mode="qcolor")
            color.setAlpha(170)
            line = pg.PlotCurveItem(*_joined(i_xt[rows], i_ty[rows]), connect="finite", pen=make_pen(color, 1.0))
            line.setZValue(-1)
            self.plot.addItem(line)
            self.epoch_lines.append(line)
        # kde: the band between the Bhattacharyya lower bound and the KL upper bound
        if plane.i_xt_lower is not None and plane.i_ty_lower is not None:
            lower_xt, lower_ty = np.asarray(plane.i_xt_lower), np.asarray(plane.i_ty_lower)
            band = pg.ErrorBarItem(
                x=i_xt.ravel(), y=i_ty.ravel(), left=(i_xt - lower_xt).ravel(), bottom=(i_ty - lower_ty).ravel(),
                pen=make_pen(QColor(120, 120, 120, 90), 1.0), beam=0,
            )  # fmt: skip
            band.setZValue(-3)
            band.setVisible(self.show_band)
            self.plot.addItem(band)
            self.band = band
        # points: colour = epoch (in the same steps as the lines: few distinct brushes keep painting fast),
        # symbol = layer (legend names the layers)
        step_brushes = [pg.mkBrush(cmap.map((i + 0.5) / N_COLOR_STEPS, mode="qcolor")) for i in range(N_COLOR_STEPS)]
        brushes = [step_brushes[i] for i in steps.tolist()]
        if self.legend is None:
            self.legend = pg.LegendItem(offset=(-10, -10), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 200))
            self.legend.setParentItem(self.viewbox)
        for k, layer in enumerate(plane.layers):
            symbol = LAYER_SYMBOLS[k % len(LAYER_SYMBOLS)]
            points = PassiveScatter(
                x=i_xt[:, k], y=i_ty[:, k], symbol=symbol, size=7, brush=brushes, pen=pg.mkPen(60, 60, 60, 120), pxMode=True
            )
            points.setZValue(5)
            self.plot.addItem(points)
            self.point_items.append(points)
            sample = PassiveScatter(symbol=symbol, size=8, brush=pg.mkBrush(200, 200, 200), pen=pg.mkPen(60, 60, 60))
            self.legend.addItem(sample, f"T{k + 1}: {layer}")  # chain order X -> T1 -> ... -> Y^
        if plane.has_null:
            self.legend.addItem(pg.BarGraphItem(x=[0], height=[1], width=1, brush=pg.mkBrush(128, 128, 128, 110),
                                                pen=None), "shuffled labels (± 2 sd)")  # fmt: skip
        near = np.asarray(plane.near_ceiling)
        self.near_ceiling.setData(x=i_xt[near], y=i_ty[near])
        if near.any():
            self.legend.addItem(PassiveScatter(size=10, pen=make_pen(QColor("#d62728"), 1.2), brush=pg.mkBrush(0, 0, 0, 0)),
                                "within 1 bit of log₂N")  # fmt: skip
        self.plot.addItem(self.near_ceiling)
        self._points = np.column_stack([i_xt.ravel(), i_ty.ravel()])
        self._cells = [(e, k) for e in range(n_epochs) for k in range(n_layers)]

        # ceilings
        for value, angle, text in (
            (plane.log2_n, 90, f"log₂N = {plane.log2_n:.2f}"),
            (plane.h_y, 0, f"H(Y) = {plane.h_y:.2f}"),
        ):
            line = pg.InfiniteLine(
                pos=value, angle=angle, pen=pg.mkPen("#555555", width=1, style=Qt.PenStyle.DashLine),
                label=text, labelOpts={"position": 0.55 if angle == 90 else 0.12, "color": "#404040", "movable": False, "fill": (255, 255, 255, 210)},
            )  # fmt: skip
            self.plot.addItem(line)
        self.plot.setXRange(0, max(plane.log2_n, float(np.nanmax(i_xt))) * 1.05, padding=0)
        self.plot.setYRange(0, max(plane.h_y, float(np.nanmax(i_ty))) * 1.08, padding=0)

        self.colorbar.setLevels((0.0, 1.0))  # positions on the epoch scale; the ticks name the epochs
        self.colorbar.axis.setTicks([scale.ticks()])
        self.colorbar.axis.setLabel("Epochs (log scale)" if scale.log else "Epochs")
        self.colorbar.show()

        name = getattr(self.state.run, "name", "")
        combined = self.added_runs.combined() if self.added_runs is not None else None
        self.run_items = draw_runs(self.plot, self.legend, combined)
        runs = f" · {combined.describe()}" if combined is not None else (f" · {name}" if name else "")
        self.plot.setTitle(f"Information plane · {plane.label()}{runs}", size="10pt")
        self.chain.setText(plane.chain_caption())
        self._fit_title()
        for item in (self.null_low, self.null_high, self.null_band):
            self.plot.addItem(item)
        self.plot.addItem(self._marker)
        self.plot.addItem(self._marker_points)
        self.update_marker()

    def _fit_title(self) -> None:
        """Wrap the title to the canvas width: a long title must not make the plot wider than its panel."""
        item = self.plot.titleLabel.item
        item.setTextWidth(-1)
        # the title spans the data column only: the canvas less the left axis, the colour bar and margins
        taken = self.plot.getAxis("left").width() + COLORBAR_AXIS_PX + 14 + 40
        available = max(self.canvas.width() - taken, 100)
        if item.document().idealWidth() > available:
            item.setTextWidth(available)
        self.plot.titleLabel.resizeEvent(None)  # recompute its minimum size from the (wrapped) text
        # the chain caption spans the whole canvas: wrapped to it, it never widens the plot either
        chain = self.chain.item
        chain.setTextWidth(-1)
        if chain.document().idealWidth() > self.canvas.width() - 20:
            chain.setTextWidth(max(self.canvas.width() - 20, 100))
        self.chain.resizeEvent(None)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_title()

    def set_added_runs(self, added: RunsSource) -> None:
        """Draw the runs of ``added`` too, redrawing whenever they change."""
        self.added_runs = added
        added.changed.connect(self.redraw)

    def _on_state_settings_changed(self) -> None:
        if self.show_band != self.state.settings.kde_band:
            self.set_band_visible(self.state.settings.kde_band)

    def set_band_visible(self, visible: bool) -> None:
        """Show or hide the kde lower..upper bound band (kept hidden across redraws until shown again)."""
        self.show_band = bool(visible)
        if self.band is not None:
            self.band.setVisible(self.show_band)

    def update_marker(self) -> None:
        """Outline the selected epoch's line."""
        plane = self.state.infoplane
        if plane is None or self.state.epoch not in plane.epochs:
            self._marker.setData([], [])
            self._marker_points.clear()
            self.null_low.setData([], [])
            self.null_high.setData([], [])
            return
        e = list(plane.epochs).index(self.state.epoch)
        x, y = np.asarray(plane.i_xt)[e], np.asarray(plane.i_ty)[e]
        self._marker.setData(x, y)
        self._marker_points.setData(x=x, y=y)
        if plane.i_ty_null is not None and plane.i_ty_null_sd is not None:
            order = np.argsort(x, kind="stable")
            mean, sd = np.asarray(plane.i_ty_null)[e][order], np.asarray(plane.i_ty_null_sd)[e][order]
            self.null_low.setData(x[order], np.clip(mean - 2 * sd, 0.0, None))
            self.null_high.setData(x[order], mean + 2 * sd)

    # -- gestures ------------------------------------------------------------------
    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(epoch index, layer index) of the point nearest (x, y) within a few pixels."""
        index = nearest_point(self._points, x, y, self.viewbox.viewPixelSize(), HOVER_TOLERANCE_PX)
        return None if index < 0 else self._cells[index]

    def point_position(self, epoch_idx: int, layer_idx: int) -> QPointF:
        """Scene position of one point (tests click it)."""
        plane = self.state.infoplane
        point = QPointF(float(plane.i_xt[epoch_idx, layer_idx]), float(plane.i_ty[epoch_idx, layer_idx]))
        return self.viewbox.mapViewToScene(point)

    def click_at(self, x: float, y: float) -> bool:
        cell = self.cell_at(x, y)
        if cell is None:
            return False
        self.state.set_epoch(int(self.state.infoplane.epochs[cell[0]]))
        return True

    def hover_at(self, x: float, y: float) -> None:
        cell = self.cell_at(x, y)
        if cell is None or math.isnan(x):
            QToolTip.hideText()
            return
        plane = self.state.infoplane
        e, k = cell
        text = (
            f"epoch {plane.epochs[e]} · layer {plane.layers[k]}\n"
            f"I(X;T) = {plane.i_xt[e, k]:.3f} bits\nI(T;Y) = {plane.i_ty[e, k]:.3f} bits"
        )
        if plane.i_xt_lower is not None:
            text += f"\nlower bounds: {plane.i_xt_lower[e, k]:.3f}, {plane.i_ty_lower[e, k]:.3f} bits"
        if plane.i_ty_null is not None and plane.i_ty_null_sd is not None:
            text += f"\nshuffled labels: I(T;Y) = {plane.i_ty_null[e, k]:.3f} ± {plane.i_ty_null_sd[e, k]:.3f} bits"
        if plane.near_ceiling[e, k]:
            text += "\nwithin 1 bit of log₂N: says nothing about compression"
        if plane.dpi_violation[e, k]:
            text += "\nmore label information than an earlier layer (beyond noise)"
        QToolTip.showText(QCursor.pos(), text + "\nclick to show this epoch", self.canvas)

    # -- state slots -----------------------------------------------------------------
    def _on_state_run_changed(self) -> None:
        self.redraw()

    def _on_state_result_changed(self, what: str) -> None:
        if what == "infoplane":
            self.redraw()

    def _on_state_epoch_changed(self, epoch: int) -> None:
        self.update_marker()
