"""The playback model: blended coordinates between saved epochs, keyframes, and the views drawing its frames."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.gui.playback import EpochPlayback, coords_at, interpolate_coords, keyframe_epochs, split_position
from tests.gui.synthetic import EPOCHS, LAYERS, make_state, require_opengl


def _play_frame(playback: EpochPlayback, position: float) -> None:
    """Show the playback frame at ``position`` (reached from 0 while playing, so it is blended)."""
    playback.set_position(0.0)
    playback._timer.start()  # playing: frames between epochs are blended
    try:
        playback.set_position(position)
    finally:
        playback.pause()


def test_interpolation_helpers():
    a = np.array([[0.0, 0.0], [2.0, 4.0]])
    b = np.array([[2.0, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(interpolate_coords(a, b, 0.25), [[0.5, 0.5], [1.5, 3.0]])
    np.testing.assert_allclose(interpolate_coords(a, b, 0.0), a)
    np.testing.assert_allclose(interpolate_coords(a, b, 1.0), b)
    with pytest.raises(ValueError, match="same samples"):
        interpolate_coords(a, b[:1], 0.5)
    assert split_position(1.25, 3) == (1, 2, 0.25)
    assert split_position(2.0, 3) == (2, 2, 0.0)
    assert split_position(-1.0, 3) == (0, 1, 0.0)
    assert keyframe_epochs(range(300)) == tuple(round(i * 299 / 24) for i in range(25))
    assert keyframe_epochs((0, 1, 2)) == (0, 1, 2)


def test_coords_at_blends_two_saved_epochs():
    state = make_state(dims=2)
    first = state.coords("fc2", EPOCHS[0])
    second = state.coords("fc2", EPOCHS[1])
    np.testing.assert_allclose(coords_at(state, "fc2", 0.5), (first + second) / 2, rtol=1e-6)
    np.testing.assert_allclose(coords_at(state, "fc2", 1.0), second)
    # an epoch that is not embedded yet: the embedded neighbour is shown instead of a blend
    partial = make_state(dims=2, epochs=EPOCHS[:1])
    np.testing.assert_allclose(coords_at(partial, "fc2", 0.3), partial.coords("fc2", EPOCHS[0]))


def test_playback_asks_for_missing_epochs(qtbot):
    state = make_state(dims=2, epochs=EPOCHS[1:])
    playback = EpochPlayback(state)
    assert playback.missing_epochs() == (EPOCHS[0],)
    with qtbot.waitSignal(playback.embeddings_needed) as blocker:
        playback.play()
    playback.pause()
    assert blocker.args == [(EPOCHS[0],)]


def test_playback_draws_blended_coordinates_in_3d(qtbot):
    from ibviewer.gui.views.embedding_view_3d import EmbeddingGrid3DView
    from ibviewer.gui.widgets.glview import normalise_coords

    require_opengl()
    state = make_state(dims=3)
    playback = EpochPlayback(state)
    grid = EmbeddingGrid3DView(state, playback)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    _play_frame(playback, 0.5)
    for layer in LAYERS:
        blended = (state.coords(layer, 1) + state.coords(layer, 5)) / 2
        np.testing.assert_allclose(grid.panels[layer].coords, normalise_coords(blended), atol=1e-5)


def test_2d_panels_follow_playback_and_the_colour_mode(qtbot):
    from ibviewer.gui.widgets.coloring import point_rgba
    from ibviewer.gui.views.embedding_view import EmbeddingGridView

    views = {}

    def attach(state):
        views["playback"] = playback = EpochPlayback(state)
        views["grid"] = EmbeddingGridView(state, playback)

    state = make_state(dims=2, attach=attach)
    playback, grid = views["playback"], views["grid"]
    qtbot.addWidget(grid)
    _play_frame(playback, 0.25)
    for layer in LAYERS:
        blended = 0.75 * state.coords(layer, 1) + 0.25 * state.coords(layer, 5)
        np.testing.assert_allclose(grid.panels[layer].coords, blended, atol=1e-5)
        np.testing.assert_allclose(np.column_stack(grid.panels[layer].scatter.getData()), blended, atol=1e-5)  # drawn
    # while playing, the title names the two saved epochs it blends between (as the timeline does)
    playback.set_position(0.0)
    playback._timer.start()
    try:
        playback.set_position(1.5)
        assert state.epoch == 5 and "between epochs <b>5</b> and <b>20</b>" in grid.title.text()
    finally:
        playback.pause()
    # standing on a saved epoch again: that epoch's own embedding
    playback.set_position(1.0)
    np.testing.assert_allclose(grid.panels["fc1"].coords, state.coords("fc1", 5))
    # colour by neighbourhood faithfulness: the embedding's k-NN overlap, through the 3D view's colouring
    panel = grid.panels["fc2"]
    labels = state.labels
    by_label = panel.point_colors()
    assert np.allclose(by_label[labels == 0][0], by_label[labels == 0][-1])
    grid.set_color_mode("faithfulness")
    colours = panel.point_colors()
    np.testing.assert_allclose(colours, point_rgba(state, "faithfulness", "fc2"), atol=1 / 255)
    assert not np.allclose(colours[0], colours[-1])  # overlap 0 vs 1 in the synthetic embedding
    assert "faithfulness" in " ".join(w.text() for w in grid.legend.findChildren(type(grid.title)))
    state.set_selection([0, 59])  # highlights keep the colouring
    assert panel.highlight_item.data["brush"][1].color().getRgbF() == pytest.approx(tuple(colours[59]), abs=1 / 255)
    grid.set_color_mode("correct")  # no predictions in this run: grey, and the legend says so
    assert np.allclose(panel.point_colors(), panel.point_colors()[0])
    assert "not available" in " ".join(w.text() for w in grid.legend.findChildren(type(grid.title)))
