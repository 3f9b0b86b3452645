"""The epoch timeline: the slider sets the epoch (embeddings and marker follow); Play animates through epochs."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.gui.playback import EpochPlayback
from ibviewer.gui.views.timeline import TimelinePanel, metric_series
from tests.gui.synthetic import EPOCHS, make_state


def test_metric_series_sorts_each_metric_by_epoch():
    series = metric_series({5: {"loss": 0.5, "acc": 0.8}, 1: {"loss": 1.0}})
    assert series["loss"][0].tolist() == [1, 5] and series["loss"][1].tolist() == [1.0, 0.5]


def test_slider_changes_epoch_embeddings_and_marker(qtbot):
    from ibviewer.gui.views.embedding_view import EmbeddingGridView

    views = {}

    def attach(state):
        views["timeline"] = TimelinePanel(state)
        views["grid"] = EmbeddingGridView(state)  # part 1's 2D panels listen to the same state

    state = make_state(dims=2, attach=attach)
    timeline, grid = views["timeline"], views["grid"]
    for widget in (timeline, grid):
        qtbot.addWidget(widget)
    assert state.epoch == EPOCHS[-1] and timeline.slider.value() == 2
    assert timeline.marker_epoch() == EPOCHS[-1]
    assert set(timeline.metric_names()) == {"train_acc", "test_acc", "loss"}
    before = grid.panels["fc1"].coords.copy()
    with qtbot.waitSignal(state.epoch_changed):
        timeline.slider.setValue(1)
    assert state.epoch == EPOCHS[1] == 5
    assert timeline.marker_epoch() == 5 and "epoch 5" in timeline.epoch_label.text()
    np.testing.assert_allclose(grid.panels["fc1"].coords, state.coords("fc1", 5)[:, :2])
    assert not np.allclose(grid.panels["fc1"].coords, before)
    # the epoch set elsewhere (a click on the information plane) moves the slider
    state.set_epoch(1)
    assert timeline.slider.value() == 0 and timeline.marker_epoch() == 1


def test_playback_animates_between_epochs(qtbot):
    state = make_state(dims=2)
    playback = EpochPlayback(state)
    timeline = TimelinePanel(state, playback)
    qtbot.addWidget(timeline)
    timeline.slider.setValue(0)
    assert playback.position == 0.0 and state.epoch == 1
    positions = []
    playback.position_changed.connect(positions.append)
    playback.epochs_per_second = 8.0
    with qtbot.waitSignal(playback.playing_changed, timeout=5000, check_params_cb=lambda playing: not playing):
        timeline.play_button.click()
    assert state.epoch == EPOCHS[-1] and playback.position == 2.0
    assert any(0 < p < 1 for p in positions) and any(1 < p < 2 for p in positions)  # fractional frames
    assert timeline.play_button.text().endswith("Play")
    # a frame between epochs 5 and 20 puts the marker between them
    playback.set_position(1.5)
    assert state.epoch == 5 and timeline.marker_epoch() == pytest.approx(12.5)
