"""The epoch timeline: a slider and play button over the saved epochs, with an accuracy/loss strip.

Moving the slider sets `AppState`'s epoch; Play starts the `EpochPlayback` (`gui/playback.py`),
whose position the marker follows between saved epochs.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QVBoxLayout, QWidget

from ibviewer.gui.playback import EpochPlayback
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.figure import epoch_text
from ibviewer.gui.widgets.style import make_pen

__all__ = ["TimelinePanel", "metric_series"]

MARKER_COLOR = QColor("#d62728")
ACC_COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf")
LOSS_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")


def metric_series(metrics: dict[int, dict[str, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric name, (epochs, values) sorted by epoch, from a run's ``metrics`` mapping."""
    series: dict[str, list[tuple[int, float]]] = {}
    for epoch, values in (metrics or {}).items():
        for name, value in (values or {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                series.setdefault(str(name), []).append((int(epoch), float(value)))
    return {
        name: (np.array([e for e, _ in sorted(points)], dtype=np.float64), np.array([v for _, v in sorted(points)]))
        for name, points in sorted(series.items())
    }


class TimelinePanel(QWidget):
    """Play button, epoch slider and label over a small accuracy/loss strip with a marker."""

    def __init__(self, state: AppState, playback: EpochPlayback | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.playback = playback or EpochPlayback(state, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        row = QHBoxLayout()
        self.play_button = QToolButton(self)
        # the style's media icons: every platform draws them (a "⏸" glyph is a missing-glyph box in many fonts)
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setText("Play")
        self.play_button.setToolTip("Animate the embeddings through the saved epochs")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play_button_toggled)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setMinimum(0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("Saved epoch shown in every panel")
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.speed = QComboBox(self)
        for text, value in (("0.5×", 0.5), ("1×", 1.0), ("2×", 2.0), ("4×", 4.0)):
            self.speed.addItem(text, value)
        self.speed.setCurrentIndex(1)
        self.speed.setToolTip("Saved epochs per second during playback")
        self.speed.currentIndexChanged.connect(self._on_speed_current_index_changed)
        self.epoch_label = QLabel("no run", self)
        self.epoch_label.setMinimumWidth(130)
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.speed)
        row.addWidget(self.epoch_label)
        layout.addLayout(row)

        # the curves' names in a line above the strip: a legend inside these small plots covers the curves
        self.legend_label = QLabel(self)
        self.legend_label.setWordWrap(True)
        self.legend_label.setStyleSheet("font-size: 8pt; color: #404040;")
        layout.addWidget(self.legend_label)
        self.strip = pg.GraphicsLayoutWidget(self)
        self.strip.setFixedHeight(110)
        self.acc_plot = self.strip.addPlot(row=0, col=0)
        self.loss_plot = self.strip.addPlot(row=0, col=1)
        tick_font = QFont()
        tick_font.setPointSizeF(7.5)
        for plot, label in ((self.acc_plot, "accuracy"), (self.loss_plot, "loss")):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(False, False)
            plot.setLabel("left", label)
            plot.showGrid(x=True, y=True, alpha=0.15)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.enableAutoSIPrefix(False)  # the values as saved: no "(x0.001)" that the narrow axis cuts off
                axis.setStyle(tickFont=tick_font, tickTextOffset=2)
                axis.setTickDensity(0.5)  # fewer ticks: the strip is small
        self.acc_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.loss_plot.setXLink(self.acc_plot)
        self.markers = []
        for plot in (self.acc_plot, self.loss_plot):
            marker = pg.InfiniteLine(angle=90, movable=False, pen=make_pen(MARKER_COLOR, 2.0))
            marker.setZValue(10)
            plot.addItem(marker, ignoreBounds=True)
            self.markers.append(marker)
        # a run without metrics: one line of text instead of two empty plots
        self.no_metrics = QLabel("No training metrics saved with this run", self)
        self.no_metrics.setStyleSheet("color: #808080;")
        self.no_metrics.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_metrics.hide()
        layout.addWidget(self.strip)
        layout.addWidget(self.no_metrics)
        self.setMaximumHeight(self.strip.height() + 70)  # a strip, never a panel: the plane keeps the space

        state.run_changed.connect(self._on_state_run_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        self.playback.position_changed.connect(self._on_playback_position_changed)
        self.playback.playing_changed.connect(self._on_playback_playing_changed)
        self._on_state_run_changed()

    # -- public --------------------------------------------------------------------
    def marker_epoch(self) -> float:
        """Where the marker stands (epoch number, fractional during playback)."""
        return float(self.markers[0].value())

    def metric_names(self) -> list[str]:
        return [item.name() for plot in (self.acc_plot, self.loss_plot) for item in plot.listDataItems()]

    # -- state and widget slots ------------------------------------------------------
    def _on_state_run_changed(self) -> None:
        epochs = self.playback.epochs
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(len(epochs) - 1, 0))
        self.slider.setValue(epochs.index(self.state.epoch) if self.state.epoch in epochs else 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(epochs) > 1)
        self.play_button.setEnabled(len(epochs) > 1)
        self._draw_metrics()
        self._update_marker()

    def _draw_metrics(self) -> None:
        for plot in (self.acc_plot, self.loss_plot):
            for item in plot.listDataItems():
                plot.removeItem(item)
        run = self.state.run
        series = metric_series(getattr(run, "metrics", None) or {})
        accuracies = [(name, s) for name, s in series.items() if "acc" in name]
        losses = [(name, s) for name, s in series.items() if "loss" in name]
        legend = []
        for plot, items, colors in ((self.acc_plot, accuracies, ACC_COLORS), (self.loss_plot, losses, LOSS_COLORS)):
            for (name, (x, y)), color in zip(items, colors * 4):
                plot.plot(x, y, pen=make_pen(QColor(color), 1.5), symbol="o", symbolSize=4, symbolBrush=color, name=name)
                legend.append(f"<span style='color:{color}'>━</span> {name}")
        has_metrics = bool(accuracies or losses)
        self.strip.setVisible(has_metrics)
        self.legend_label.setVisible(has_metrics)
        self.no_metrics.setVisible(not has_metrics and self.state.run is not None)
        self.legend_label.setText("&nbsp;&nbsp;".join(legend))
        epochs = self.playback.epochs
        if epochs:
            low, high = min(epochs), max(epochs)
            if high > low:
                self.acc_plot.setXRange(low, high, padding=0.03)
            else:
                self.acc_plot.setXRange(low - 1, high + 1, padding=0)  # one saved epoch: around it, not -100..100
        if not accuracies:
            self.acc_plot.setYRange(0, 1)

    def _update_marker(self) -> None:
        value = self.playback.epoch_value()
        for marker in self.markers:
            marker.setVisible(not math.isnan(value))
            if not math.isnan(value):
                marker.setValue(value)
        epochs = self.playback.epochs
        if not epochs:
            self.epoch_label.setText("no run")
            return
        if self.playback.is_playing():
            self.epoch_label.setText(epoch_text(epochs, self.playback.position))
        else:
            index = epochs.index(self.state.epoch) if self.state.epoch in epochs else self.slider.value()
            self.epoch_label.setText(f"{epoch_text(epochs, index)} ({index + 1}/{len(epochs)})")

    def _on_slider_value_changed(self, value: int) -> None:
        if not self.playback.is_playing():
            self.playback.set_position(float(value))
        self._update_marker()

    def _on_state_epoch_changed(self, epoch: int) -> None:
        epochs = self.playback.epochs
        if epoch in epochs and self.slider.value() != epochs.index(epoch):
            self.slider.blockSignals(True)
            self.slider.setValue(epochs.index(epoch))
            self.slider.blockSignals(False)
        self._update_marker()

    def _on_playback_position_changed(self, position: float) -> None:
        self._update_marker()

    def _on_playback_playing_changed(self, playing: bool) -> None:
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if playing else "Play")
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self._update_marker()

    def _on_play_button_toggled(self, checked: bool) -> None:
        if checked:
            self.playback.play()
            if not self.playback.is_playing():  # waiting for the epochs to be embedded
                self._on_playback_playing_changed(False)
        else:
            self.playback.pause()

    def _on_speed_current_index_changed(self, index: int) -> None:
        self.playback.epochs_per_second = float(self.speed.itemData(index))
