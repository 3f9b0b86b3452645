"""Layer probes: how well each layer alone predicts the label, and where that stops improving.

Draws the core's `ProbeResult` held in `AppState.probes`: linear and k-NN probe accuracy
per layer at the current epoch on the held-out samples (bars with their 95% bootstrap
interval, chance and the raw inputs' baseline as dashed lines, the saturation layer marked), the linear probe of every layer over the probed epochs when there are
several, a table of the exact numbers and the plain-language pruning note. "Probe every
epoch" asks for the probes of all saved epochs (``probe_all_requested``); the state keeps
every probed epoch, so they stay when the shown epoch changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.style import class_colors, make_pen

if TYPE_CHECKING:
    from ibviewer.core.probes import ProbeResult

__all__ = ["ProbePanel", "probe_epoch"]

LINEAR_COLOR = QColor("#1f77b4")
KNN_COLOR = QColor("#ff7f0e")
SATURATION_COLOR = QColor("#2ca02c")
BASELINE_COLOR = QColor("#9467bd")
BAR_WIDTH = 0.38


def probe_epoch(probes: ProbeResult, epoch: int | None) -> int:
    """The probed epoch to show: ``epoch`` when it was probed, else the last probed one."""
    epochs = tuple(probes.epochs)
    return int(epoch) if epoch in epochs else int(epochs[-1])


class ProbePanel(QWidget):
    """Probe accuracy per layer (and over epochs) with the saturation layer and the pruning note.

    Signals
    -------
    probe_all_requested()
        "Probe every epoch" was pressed.
    """

    probe_all_requested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.shown_epoch: int | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        header = QHBoxLayout()
        self.title = QLabel("No probes yet", self)
        self.title.setWordWrap(True)
        self.all_epochs_button = QPushButton("Probe every epoch", self)
        self.all_epochs_button.setToolTip("Train the linear and k-NN probes on every saved epoch (in the background)")
        self.all_epochs_button.clicked.connect(self.request_probe_all)
        header.addWidget(self.title, 1)
        header.addWidget(self.all_epochs_button)
        layout.addLayout(header)

        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("font-size: 11pt; color: #1a4d1a; padding: 4px; background: #eef7ee; border-radius: 3px;")
        layout.addWidget(self.note)

        self.canvas = pg.GraphicsLayoutWidget(self)  # what a figure export renders
        self.canvas.setMinimumHeight(220)
        self.bar_plot = self.canvas.addPlot(row=0, col=0)
        self.bar_plot.setLabel("left", "held-out accuracy")
        self.bar_plot.setMenuEnabled(False)
        self.bar_plot.hideButtons()
        self.bar_plot.setMouseEnabled(False, False)
        self.bar_plot.showGrid(y=True, alpha=0.2)
        self.bar_plot.addLegend(offset=(-6, 6))
        self.linear_bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=LINEAR_COLOR, name="linear probe")
        self.knn_bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=KNN_COLOR, name="k-NN probe")
        self.bar_plot.addItem(self.linear_bars)
        self.bar_plot.addItem(self.knn_bars)
        self.linear_errors = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.1, pen=pg.mkPen("#202020"))
        self.knn_errors = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.1, pen=pg.mkPen("#202020"))
        self.bar_plot.addItem(self.linear_errors)
        self.bar_plot.addItem(self.knn_errors)
        self.baseline_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(BASELINE_COLOR, style=Qt.PenStyle.DashLine))
        self.baseline_label = pg.TextItem("raw input", color=BASELINE_COLOR, anchor=(0, 0))
        self.chance_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#707070", style=Qt.PenStyle.DashLine))
        self.chance_label = pg.TextItem("chance", color="#707070", anchor=(0, 1))
        self.saturation_line = pg.InfiniteLine(angle=90, movable=False, pen=make_pen(SATURATION_COLOR, 2.0))
        self.saturation_label = pg.TextItem("saturation", color=SATURATION_COLOR, anchor=(0.5, 1))
        for item in (self.chance_line, self.chance_label, self.saturation_line, self.saturation_label,
                     self.baseline_line, self.baseline_label):  # fmt: skip
            self.bar_plot.addItem(item, ignoreBounds=True)
        self.epoch_plot = self.canvas.addPlot(row=0, col=1)
        self.epoch_plot.setLabel("left", "linear probe accuracy")
        self.epoch_plot.setLabel("bottom", "epoch")
        self.epoch_plot.setMenuEnabled(False)
        self.epoch_plot.hideButtons()
        self.epoch_plot.showGrid(x=True, y=True, alpha=0.2)
        self.epoch_plot.addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.epoch_marker = pg.InfiniteLine(angle=90, movable=False, pen=make_pen(QColor("#d62728"), 1.5))
        self.epoch_plot.addItem(self.epoch_marker, ignoreBounds=True)
        layout.addWidget(self.canvas, 1)

        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["layer", "linear probe (95% interval)", "k-NN probe (95% interval)"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(170)
        layout.addWidget(self.table)

        state.run_changed.connect(self._on_state_run_changed)
        state.result_changed.connect(self._on_state_result_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        state.running_changed.connect(self._update_button)
        self.redraw()

    # -- public --------------------------------------------------------------------
    def request_probe_all(self) -> None:
        """Ask for the probes of every saved epoch (they join `state.probes`)."""
        if self.state.activations is not None:
            self.probe_all_requested.emit()

    def shown_values(self) -> dict[str, tuple[float, float]]:
        """layer -> (linear, k-NN) accuracy as drawn in the bars (for tests and exports)."""
        first = 1 if self.state.probes is not None and self.state.probes.baseline is not None else 0
        layers = [self.table.item(i, 0).text() for i in range(first, self.table.rowCount())]
        linear = self.linear_bars.opts["height"]
        knn = self.knn_bars.opts["height"]
        return {layer: (float(linear[i]), float(knn[i])) for i, layer in enumerate(layers)}

    def redraw(self) -> None:
        probes = self.state.probes
        has_run = self.state.activations is not None
        self._update_button()
        if probes is None:
            self.shown_epoch = None
            self.title.setText("Layer probes are computing…" if has_run else "No run open")
            self.note.setText("")
            self.note.setVisible(False)
            self.linear_bars.setOpts(x=[], height=[])
            self.knn_bars.setOpts(x=[], height=[])
            for errors in (self.linear_errors, self.knn_errors):
                errors.setData(x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0))
            for item in (self.chance_line, self.chance_label, self.saturation_line, self.saturation_label,
                         self.baseline_line, self.baseline_label):  # fmt: skip
                item.setVisible(False)
            self.table.setRowCount(0)
            self._draw_epochs(None)
            return
        epoch = probe_epoch(probes, self.state.epoch)
        self.shown_epoch = epoch
        row = tuple(probes.epochs).index(epoch)
        layers = list(probes.layers)
        linear = np.asarray(probes.linear_acc, dtype=np.float64)[row]
        knn = np.asarray(probes.knn_acc, dtype=np.float64)[row]
        x = np.arange(len(layers), dtype=np.float64)
        self.linear_bars.setOpts(x=x - BAR_WIDTH / 2, height=linear)
        self.knn_bars.setOpts(x=x + BAR_WIDTH / 2, height=knn)
        intervals = {"linear": _interval(probes.linear_ci, row, linear), "knn": _interval(probes.knn_ci, row, knn)}
        for errors, offset, values, name in ((self.linear_errors, -1, linear, "linear"), (self.knn_errors, 1, knn, "knn")):
            low, high = intervals[name]
            errors.setData(x=x + offset * BAR_WIDTH / 2, y=values, top=high - values, bottom=values - low)
        baseline = probes.baseline
        if baseline is not None:
            self.baseline_line.setValue(baseline.linear_acc)
            self.baseline_label.setText(f"raw input {100 * baseline.linear_acc:.1f}%")
            self.baseline_label.setPos(-0.55, baseline.linear_acc)
        self.bar_plot.getAxis("bottom").setTicks([[(float(i), name) for i, name in enumerate(layers)]])
        self.bar_plot.setXRange(-0.6, len(layers) - 0.4, padding=0)
        self.bar_plot.setYRange(0, 1.05, padding=0)
        self.chance_line.setValue(probes.chance)
        self.chance_label.setPos(-0.55, probes.chance)
        saturation = probes.saturation_layer(epoch)
        s = layers.index(saturation)
        self.saturation_line.setValue(s + 0.5)
        self.saturation_label.setText(f"saturation: {saturation}")
        self.saturation_label.setPos(s + 0.5, 1.05)
        for item in (self.chance_line, self.chance_label, self.saturation_line, self.saturation_label):
            item.setVisible(True)
        self.baseline_line.setVisible(baseline is not None)
        self.baseline_label.setVisible(baseline is not None)
        # the line sits after the saturation layer: everything right of it is a pruning candidate
        self.saturation_line.setVisible(s < len(layers) - 1)

        stale = "" if epoch == self.state.epoch else f" <span style='color:#a04000'>(epoch {self.state.epoch} not probed)</span>"
        self.title.setText(
            f"<b>Layer probes</b> at epoch <b>{epoch}</b>{stale} · {probes.split_note()} · "
            f"chance {100 * probes.chance:.1f}%"
        )
        self.note.setText(f"<b>{saturation}</b>: {probes.pruning_note(epoch)}")
        self.note.setVisible(True)

        rows = [(name, linear[i], knn[i], [iv[0][i] for iv in intervals.values()], [iv[1][i] for iv in intervals.values()])
                for i, name in enumerate(layers)]  # fmt: skip
        if baseline is not None:
            rows.insert(0, ("input (raw, baseline)", baseline.linear_acc, baseline.knn_acc,
                            [baseline.linear_ci[0], baseline.knn_ci[0]], [baseline.linear_ci[1], baseline.knn_ci[1]]))  # fmt: skip
        first = 1 if baseline is not None else 0
        self.table.setRowCount(len(rows))
        for i, (name, lin, kn, lows, highs) in enumerate(rows):
            cells = (name, _percent(lin, lows[0], highs[0]), _percent(kn, lows[1], highs[1]))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setData(Qt.ItemDataRole.UserRole, float(lin if j == 1 else kn))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if i == s + first:
                    item.setBackground(QColor("#e3f2e3"))
                    item.setToolTip("saturation layer: the earliest within the tolerance of the best")
                elif i < first:
                    item.setForeground(BASELINE_COLOR)
                    item.setToolTip("the same probes on the raw inputs: what a layer has to beat")
                self.table.setItem(i, j, item)
        self._draw_epochs(probes)

    def _draw_epochs(self, probes: ProbeResult | None) -> None:
        for item in self.epoch_plot.listDataItems():
            self.epoch_plot.removeItem(item)
        if self.epoch_plot.legend is not None:
            self.epoch_plot.legend.clear()
        over_epochs = probes is not None and len(probes.epochs) > 1
        self.epoch_plot.setVisible(over_epochs)
        if not over_epochs:
            return
        epochs = np.asarray(probes.epochs, dtype=np.float64)
        colors = class_colors(len(probes.layers))
        for j, name in enumerate(probes.layers):
            self.epoch_plot.plot(
                epochs, np.asarray(probes.linear_acc)[:, j], pen=make_pen(colors[j], 1.8),
                symbol="o", symbolSize=5, symbolBrush=colors[j], name=name,
            )  # fmt: skip
        self.epoch_marker.setValue(float(self.shown_epoch))
        self.epoch_plot.setYRange(0, 1.05, padding=0)

    def _saved_epochs(self) -> tuple[int, ...]:
        return tuple(self.state.activations.epochs) if self.state.activations is not None else ()

    def _update_button(self) -> None:
        probing = "probes" in self.state.running
        self.all_epochs_button.setText("Probing…" if probing else "Probe every epoch")
        self.all_epochs_button.setEnabled(not probing and len(self._saved_epochs()) > 1)

    # -- slots -------------------------------------------------------------------------
    def _on_state_run_changed(self) -> None:
        self.redraw()

    def _on_state_result_changed(self, what: str) -> None:
        if what == "probes":
            self.redraw()

    def _on_state_epoch_changed(self, epoch: int) -> None:
        self.redraw()


def _interval(ci: np.ndarray | None, row: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of one epoch's intervals; the values themselves when the result has none."""
    if ci is None:
        return values, values
    return np.asarray(ci[row, :, 0], dtype=np.float64), np.asarray(ci[row, :, 1], dtype=np.float64)


def _percent(value: float, low: float, high: float) -> str:
    return f"{100 * value:.1f}% ({100 * low:.1f} to {100 * high:.1f})"
