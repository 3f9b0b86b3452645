"""The epoch timeline: a slider and play button over the saved epochs, with an accuracy/loss strip.

Moving the slider sets `AppState`'s epoch. Playback moves an `EpochPlayback` position
continuously between saved epochs (a fractional index into ``activations.epochs``); the
embedding views listen to it and draw `coords_at` (a linear blend of two aligned epochs'
embeddings), and the state's epoch follows the last saved epoch passed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from ibviewer.gui.state import AppState
from ibviewer.gui.views.style import make_pen

__all__ = [
    "interpolate_coords",
    "split_position",
    "coords_at",
    "full_coords",
    "keyframe_epochs",
    "draw_playback_frame",
    "MAX_PLAYBACK_EPOCHS",
    "EpochPlayback",
    "TimelinePanel",
    "metric_series",
]

MARKER_COLOR = QColor("#d62728")
ACC_COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf")
LOSS_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")
FRAME_MS = 40
#: playback embeds at most this many saved epochs (evenly spaced) and blends between them
MAX_PLAYBACK_EPOCHS = 25


def interpolate_coords(start: np.ndarray, end: np.ndarray, fraction: float) -> np.ndarray:
    """Coordinates a ``fraction`` (0..1) of the way from ``start`` to ``end`` (both (n, dims), aligned).

    The embeddings must already be aligned (same samples in the same rows, layouts rotated
    onto each other, as ``embed_layers`` does across epochs); when their dims differ the
    common leading dims are blended.
    """
    a = np.asarray(start, dtype=np.float64)
    b = np.asarray(end, dtype=np.float64)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"cannot blend {a.shape[0]} points with {b.shape[0]}: not the same samples")
    dims = min(a.shape[1], b.shape[1])
    t = min(max(float(fraction), 0.0), 1.0)
    return (1.0 - t) * a[:, :dims] + t * b[:, :dims]


def split_position(position: float, n_epochs: int) -> tuple[int, int, float]:
    """(index before, index after, fraction between) of a fractional epoch index."""
    if n_epochs <= 0:
        raise ValueError("no epochs")
    position = min(max(float(position), 0.0), n_epochs - 1.0)
    lower = int(math.floor(position))
    upper = min(lower + 1, n_epochs - 1)
    return lower, upper, position - lower


def full_coords(state: Any, layer: str, epoch: int | None = None) -> np.ndarray | None:
    """A layer's embedding with one row per sample, or None (missing, or a running subset snapshot)."""
    coords = state.coords(layer, epoch)
    if coords is None or coords.ndim != 2 or coords.shape[0] != state.n_samples:
        return None
    return coords


def keyframe_epochs(epochs: tuple[int, ...] | list[int], limit: int = MAX_PLAYBACK_EPOCHS) -> tuple[int, ...]:
    """The saved epochs playback embeds: all of them, or ``limit`` evenly spaced ones (first and last kept).

    Evenly spaced by position in the list of saved epochs (so log-spaced snapshots stay
    log-spaced), e.g. 25 of ib12_tanh's 300.
    """
    epochs = tuple(int(e) for e in epochs)
    if len(epochs) <= max(int(limit), 2):
        return epochs
    picks = np.unique(np.round(np.linspace(0, len(epochs) - 1, max(int(limit), 2))).astype(int))
    return tuple(epochs[i] for i in picks)


def coords_at(state: Any, layer: str, position: float) -> np.ndarray | None:
    """A layer's embedding at a fractional epoch index: a blend of the nearest embedded epochs around it.

    The blend runs between the closest embedded saved epoch at or before ``position`` and
    the closest one after it (the two saved epochs around it when both are embedded;
    playback of long runs embeds only evenly spaced keyframes). When only one side is
    embedded, that one is returned (no blending), None when no epoch is.
    """
    epochs = tuple(state.activations.epochs) if state.activations is not None else ()
    if not epochs:
        return None
    lower, upper, fraction = split_position(position, len(epochs))
    if fraction == 0.0:
        upper = lower
    below = next((i for i in range(lower, -1, -1) if full_coords(state, layer, epochs[i]) is not None), None)
    above = next((i for i in range(upper, len(epochs)) if full_coords(state, layer, epochs[i]) is not None), None)
    if below is None and above is None:
        return None
    if below is None or above is None or below == above:
        return full_coords(state, layer, epochs[above if below is None else below])  # nothing to blend
    position = min(max(float(position), 0.0), len(epochs) - 1.0)
    t = (position - below) / (above - below)
    start, end = full_coords(state, layer, epochs[below]), full_coords(state, layer, epochs[above])
    return interpolate_coords(start, end, t)


def draw_playback_frame(state: Any, playback: Any, panels: dict[str, Any], position: float) -> bool:
    """Draw a playback frame in embedding panels (each with ``set_coords``); False when the caller should
    instead reload from the state (not playing, or standing on a saved epoch)."""
    if playback is None or not playback.is_playing() or float(position).is_integer():
        return False
    for name, panel in panels.items():
        coords = coords_at(state, name, position)
        if coords is not None:
            panel.set_coords(coords)
    return True


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


class EpochPlayback(QObject):
    """The animated position on the timeline: a fractional index into the saved epochs.

    Signals
    -------
    position_changed(float)
    playing_changed(bool)
    embeddings_needed(object)
        Playback started while these saved epochs (a tuple) have no embedding of every
        layer: the window should embed them (aligned, ``embed_layers(epochs="all")``) so
        the animation can blend instead of holding the nearest embedded epoch.
    """

    position_changed = Signal(float)
    playing_changed = Signal(bool)
    embeddings_needed = Signal(object)

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.position = 0.0
        self.epochs_per_second = 1.0  # keyframes crossed per second
        self.loop = False
        #: when True, `play` only asks for missing embeddings (``embeddings_needed``) and waits:
        #: whoever embeds them calls `play` again when they are there
        self.hold_for_embeddings = False
        self.max_keyframes = MAX_PLAYBACK_EPOCHS
        self.keyframes: tuple[int, ...] = ()
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last_tick = 0.0
        state.run_changed.connect(self._on_state_run_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        self._on_state_run_changed()

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(self.state.activations.epochs) if self.state.activations is not None else ()

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def epoch_value(self) -> float:
        """The epoch number at the current position (interpolated between saved epochs)."""
        epochs = self.epochs
        if not epochs:
            return math.nan
        lower, upper, fraction = split_position(self.position, len(epochs))
        return (1 - fraction) * epochs[lower] + fraction * epochs[upper]

    def set_position(self, position: float) -> None:
        """Move to a fractional index; the state's epoch follows the last saved epoch passed."""
        epochs = self.epochs
        if not epochs:
            return
        position = min(max(float(position), 0.0), len(epochs) - 1.0)
        changed = position != self.position
        self.position = position
        index = int(math.floor(position + 1e-9))
        self.state.set_epoch(epochs[index])  # no-op when unchanged; may re-enter via epoch_changed
        if changed:
            self.position_changed.emit(self.position)

    def missing_epochs(self) -> tuple[int, ...]:
        """Keyframe epochs (see `keyframe_epochs`) where some layer has no full embedding yet."""
        state = self.state
        return tuple(
            epoch for epoch in self.keyframes if any(full_coords(state, layer, epoch) is None for layer in state.layer_names)
        )

    def subsampled(self) -> bool:
        """Whether playback uses evenly spaced keyframes instead of every saved epoch."""
        return len(self.keyframes) < len(self.epochs)

    def play(self) -> None:
        if len(self.epochs) < 2 or self.is_playing():
            return
        missing = self.missing_epochs()
        if missing:
            self.embeddings_needed.emit(missing)
            if self.hold_for_embeddings:
                return
        self._last_tick = time.monotonic()
        self._timer.start()  # first, so a rewind below is already part of playback
        if self.position >= len(self.epochs) - 1:
            self.set_position(0.0)
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.is_playing():
            self._timer.stop()
            self.playing_changed.emit(False)

    def step(self, seconds: float) -> None:
        """Advance by ``seconds`` of playback (what each timer tick does)."""
        last = len(self.epochs) - 1.0
        # keyframes per second: a run with 300 saved epochs and 25 keyframes crosses 12 epochs per keyframe
        stride = last / (len(self.keyframes) - 1) if len(self.keyframes) > 1 else 1.0
        position = self.position + seconds * self.epochs_per_second * stride
        if position >= last:
            position = 0.0 if self.loop else last
            if not self.loop:
                self.set_position(last)
                self.pause()
                return
        self.set_position(position)

    def _on_timer_timeout(self) -> None:
        now = time.monotonic()
        # cap the step: a stalled event loop should not skip epochs
        self.step(min(now - self._last_tick, 0.25))
        self._last_tick = now

    def _on_state_run_changed(self) -> None:
        self.pause()
        epochs = self.epochs
        self.keyframes = keyframe_epochs(epochs, self.max_keyframes)
        self.position = float(epochs.index(self.state.epoch)) if epochs and self.state.epoch in epochs else 0.0
        self.position_changed.emit(self.position)

    def _on_state_epoch_changed(self, epoch: int) -> None:
        epochs = self.epochs
        if epoch not in epochs:
            return
        index = epochs.index(epoch)
        if int(math.floor(self.position + 1e-9)) != index:
            # the epoch was set elsewhere (slider, information plane click): jump there
            self.position = float(index)
            self.position_changed.emit(self.position)


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
        self.play_button.setText("▶ Play")
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

        self.strip = pg.GraphicsLayoutWidget(self)
        self.strip.setFixedHeight(110)
        self.acc_plot = self.strip.addPlot(row=0, col=0)
        self.loss_plot = self.strip.addPlot(row=0, col=1)
        for plot, label in ((self.acc_plot, "accuracy"), (self.loss_plot, "loss")):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(False, False)
            plot.setLabel("left", label)
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.addLegend(offset=(-4, 4), labelTextSize="7pt", verSpacing=-6)
        self.loss_plot.setXLink(self.acc_plot)
        self.markers = []
        for plot in (self.acc_plot, self.loss_plot):
            marker = pg.InfiniteLine(angle=90, movable=False, pen=make_pen(MARKER_COLOR, 2.0))
            marker.setZValue(10)
            plot.addItem(marker, ignoreBounds=True)
            self.markers.append(marker)
        self.no_metrics = pg.TextItem("no training metrics saved with this run", color="#808080", anchor=(0.5, 0.5))
        self.acc_plot.addItem(self.no_metrics, ignoreBounds=True)
        layout.addWidget(self.strip)
        self.setMaximumHeight(self.strip.height() + 48)  # a strip, never a panel: the plane keeps the space

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
            if plot.legend is not None:
                plot.legend.clear()
        run = self.state.run
        series = metric_series(getattr(run, "metrics", None) or {})
        accuracies = [(name, s) for name, s in series.items() if "acc" in name]
        losses = [(name, s) for name, s in series.items() if "loss" in name]
        for plot, items, colors in ((self.acc_plot, accuracies, ACC_COLORS), (self.loss_plot, losses, LOSS_COLORS)):
            for (name, (x, y)), color in zip(items, colors * 4):
                plot.plot(x, y, pen=make_pen(QColor(color), 1.5), symbol="o", symbolSize=4, symbolBrush=color, name=name)
        self.no_metrics.setVisible(not accuracies and not losses)
        epochs = self.playback.epochs
        if epochs:
            self.acc_plot.setXRange(min(epochs), max(epochs), padding=0.03)
            self.no_metrics.setPos((min(epochs) + max(epochs)) / 2, 0.5)
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
        index = self.slider.value()
        shown = f"epoch {value:.1f}" if self.playback.is_playing() else f"epoch {self.state.epoch}"
        self.epoch_label.setText(f"{shown} ({index + 1}/{len(epochs)})")

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
        self.play_button.setText("⏸ Pause" if playing else "▶ Play")
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
