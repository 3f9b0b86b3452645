"""The playback model: an animated position on the timeline and the blended embeddings it shows.

`EpochPlayback` moves a position continuously between saved epochs (a fractional index
into ``activations.epochs``); the embedding views listen to it and draw `coords_at` (a
linear blend of two aligned epochs' embeddings), and `AppState`'s epoch follows the last
saved epoch passed. Long runs animate through evenly spaced keyframe epochs
(`keyframe_epochs`); when some are not embedded yet, playback asks for them with
``embeddings_needed`` and the window's controller embeds them as a job.

Playback starts at once: while the chosen method's keyframes are being computed it animates
preview frames (`EpochPlayback.add_frame`: the PCA of the same keyframes, which take a
fraction of a second), and switches to the chosen method's frames once every keyframe of
every layer has them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ibviewer.gui.state import AppState

__all__ = [
    "interpolate_coords",
    "split_position",
    "blend_at",
    "coords_at",
    "full_coords",
    "keyframe_epochs",
    "draw_playback_frame",
    "MAX_PLAYBACK_EPOCHS",
    "EpochPlayback",
    "FramePanel",
]


class FramePanel(Protocol):
    """An embedding panel playback can draw into."""

    def set_coords(self, coords: np.ndarray | None) -> None: ...


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


def full_coords(state: AppState, layer: str, epoch: int | None = None) -> np.ndarray | None:
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


def blend_at(lookup: Callable[[int], np.ndarray | None], epochs: tuple[int, ...], position: float) -> np.ndarray | None:
    """The frame at a fractional epoch index from ``lookup(epoch)`` (coordinates, or None where there are none).

    The blend runs between the closest saved epoch at or before ``position`` that has
    coordinates and the closest one after it (the two saved epochs around it when both have
    them; playback of long runs embeds only evenly spaced keyframes). When only one side
    has coordinates, that one is returned (no blending), None when no epoch has.
    """
    if not epochs:
        return None
    lower, upper, fraction = split_position(position, len(epochs))
    if fraction == 0.0:
        upper = lower
    below = next((i for i in range(lower, -1, -1) if lookup(epochs[i]) is not None), None)
    above = next((i for i in range(upper, len(epochs)) if lookup(epochs[i]) is not None), None)
    if below is None and above is None:
        return None
    if below is None or above is None or below == above:
        return lookup(epochs[above if below is None else below])  # nothing to blend
    position = min(max(float(position), 0.0), len(epochs) - 1.0)
    t = (position - below) / (above - below)
    start, end = lookup(epochs[below]), lookup(epochs[above])
    assert start is not None and end is not None
    return interpolate_coords(start, end, t)


def coords_at(state: AppState, layer: str, position: float) -> np.ndarray | None:
    """A layer's embedding at a fractional epoch index: a blend of the nearest embedded epochs around it (`blend_at`)."""
    epochs = tuple(state.activations.epochs) if state.activations is not None else ()
    return blend_at(lambda epoch: full_coords(state, layer, epoch), epochs, position)


def draw_playback_frame(
    state: AppState, playback: EpochPlayback | None, panels: Mapping[str, FramePanel], position: float
) -> bool:
    """Draw a playback frame in embedding panels (each with ``set_coords``); False when the caller should
    instead reload from the state (not playing, or standing on a saved epoch the state has)."""
    if playback is None or not playback.is_playing():
        return False
    previewing = playback.previewing()
    if float(position).is_integer() and not previewing:
        return False
    for name, panel in panels.items():
        coords = playback.frame_at(name, position, previewing)
        if coords is not None and playback.drawn.get(id(panel)) is not coords:
            panel.set_coords(coords)
            playback.drawn[id(panel)] = coords  # a frame held while keyframes are missing is drawn once
    return True


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
        #: preview frames (epoch, layer) -> coordinates, animated until the chosen method's keyframes are all there
        self.frames: dict[tuple[int, str], np.ndarray] = {}
        #: the coordinates object each panel (by id) last drew while playing: the GUI thread redraws
        #: nothing while playback holds a frame, leaving the cores to the job computing the next ones
        self.drawn: dict[int, np.ndarray] = {}
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

    def add_frame(self, epoch: int, layer: str, coords: np.ndarray) -> None:
        """Keep a preview frame (a cheap embedding of a keyframe, aligned like the others)."""
        self.frames[(int(epoch), layer)] = np.asarray(coords)

    def clear_frames(self) -> None:
        """Forget the preview frames (the run or the embedding settings changed)."""
        self.frames.clear()

    def ready_keyframes(self) -> int:
        """How many (keyframe, layer) panels have the chosen method's full embedding."""
        state, method = self.state, self.state.settings.method
        return sum(
            1 for epoch in self.keyframes for layer in state.layer_names
            if full_coords(state, layer, epoch) is not None and getattr(state.embedding(layer, epoch), "method", None) == method
        )  # fmt: skip

    def previewing(self) -> bool:
        """Whether frames come from the preview: the chosen method's keyframes are not all there yet."""
        return bool(self.frames) and self.ready_keyframes() < len(self.keyframes) * len(self.state.layer_names)

    def frame_at(self, layer: str, position: float, previewing: bool | None = None) -> np.ndarray | None:
        """What playback shows of ``layer`` at a fractional epoch index: preview frames or the state's embeddings."""
        if previewing if previewing is not None else self.previewing():
            return blend_at(lambda epoch: self.frames.get((epoch, layer)), self.epochs, position)
        return coords_at(self.state, layer, position)

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
            previewing = self.previewing()
            self._timer.stop()
            self.drawn.clear()
            self.playing_changed.emit(False)
            if previewing:
                self.position_changed.emit(self.position)  # views redraw from the state, not a preview frame

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
        self.clear_frames()
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
