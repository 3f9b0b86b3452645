"""The controller in the real window: settings edits recompute only what changed, epochs, playback keyframes, Cancel."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from ibviewer.gui.main_window import PROBES_TAB
from tests.gui.test_main_window import open_and_wait


def test_views_fill_in_and_settings_edits_recompute_only_what_changed(window, qtbot, digits_run, monkeypatch):
    assert [window.tabs.tabText(i) for i in range(3)] == ["Layers", "Words", "Layer probes"]
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    assert not window.tabs.isTabEnabled(1)  # digits has no words
    # the window's probes reach the probe panel; the timeline drives the epoch
    assert window.probe_panel.shown_epoch == state.epoch
    assert window.timeline.slider.maximum() == len(state.activations.epochs) - 1
    with qtbot.waitSignal(window.idle, timeout=60_000):
        window.timeline.slider.setValue(0)
    assert state.epoch == state.activations.epochs[0] and window.timeline.marker_epoch() == state.epoch
    # a perplexity edit recomputes only the embeddings, a bin edit only the information plane
    stages = []
    monkeypatch.setattr(window.controller, "start_analysis", lambda s: stages.append(set(s)))
    window.controls.perplexity.setValue(12)
    window.controls.flush()
    window.controls.n_bins.setValue(10)
    window.controls.flush()
    assert stages == [{"infoplane"}]  # method is PCA: the perplexity edit recomputed nothing
    window.controls.method.setCurrentIndex(window.controls.method.findData("tsne"))
    window.controls.flush()
    assert stages[-1] == {"embeddings"} and state.settings.method == "tsne"
    assert state.settings.estimator_params()["n_bins"] == 10
    # View > 3D switches the layer stack (and asks for 3-D embeddings)
    window.menus.view_3d_action.trigger()
    assert state.settings.dims == 3 and window.layer_stack.currentWidget() is window.grid3d
    assert stages[-1] == {"embeddings"}
    # the Layer grid export follows the shown grid: the 3D panels now
    assert window.figure_widget("grid") is window.grid3d.figure
    window.tabs.setCurrentIndex(PROBES_TAB)
    assert window.current_figure() is window.probe_panel.canvas
    window.menus.copy_figure_action.trigger()
    assert not QApplication.clipboard().image().isNull()


def test_embedding_controls_reach_the_computation_and_recompute_only_embeddings(window, qtbot, digits_run):
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=120_000):
        window.controller.apply_settings(window.state.settings.with_changes(method="tsne", perplexity=20.0))
    layers = state.layer_names
    assert {state.embedding(layer).params["perplexity"] for layer in layers} == {20.0}
    activations, infoplane, probes = state.activations, state.infoplane, state.probes
    # a perplexity edit in the Controls panel: new t-SNE embeddings, nothing else recomputed
    with qtbot.waitSignal(window.idle, timeout=120_000):
        window.controls.perplexity.setValue(12)
        window.controls.flush()
    assert state.activations is activations and state.infoplane is infoplane and state.probes is probes
    for layer in layers:
        embedding = state.embedding(layer)
        assert embedding.method == "tsne" and embedding.params["perplexity"] == 12.0, layer
        assert not embedding.cached
    # alignment, preprocessing and PCA-50 reach embed_layers too
    controls = window.controls
    with qtbot.waitSignal(window.idle, timeout=120_000):
        controls.alignment.setCurrentIndex(controls.alignment.findData("procrustes"))
        controls.preprocessing.setCurrentIndex(controls.preprocessing.findData("standardize"))
        controls.pca_before.setCurrentIndex(controls.pca_before.findData(50))
        controls.flush()
    params = state.embedding(layers[-1]).params
    assert (params["alignment"], params["preprocessing"], params["pca_dims"]) == ("procrustes", "standardize", 50)
    assert state.infoplane is infoplane
    # back to perplexity 20 with the first settings: every panel comes from the disk cache
    with qtbot.waitSignal(window.idle, timeout=120_000):
        window.controller.apply_settings(
            state.settings.with_changes(perplexity=20.0, alignment="init", preprocessing="none", pca_dims="auto")
        )
    assert all(state.embedding(layer).cached and state.embedding(layer).params["perplexity"] == 20.0 for layer in layers)


def test_play_embeds_the_saved_epochs_aligned_then_animates(window, qtbot, digits_run):
    from ibviewer.core.embedding import embed_layers

    state = window.state
    playback, timeline = window.playback, window.timeline
    open_and_wait(qtbot, window, digits_run)
    epochs = state.activations.epochs
    assert playback.keyframes == epochs and playback.missing_epochs() == epochs[:-1]  # only the shown epoch so far
    playback.epochs_per_second = 8.0
    with qtbot.waitSignal(playback.playing_changed, timeout=60_000, check_params_cb=bool):
        timeline.play_button.click()
        assert not playback.is_playing() and window.jobs.runner("playback").is_running()  # embeds first, then plays
        assert "for playback" in window.status_message.text()
    assert playback.missing_epochs() == ()
    # the same aligned embeddings as one embed_layers(..., epochs="all") call (from its cache now)
    expected = embed_layers(state.activations, epochs="all", method="pca", dims=2, seed=0, alignment="init",
                            preprocessing="none", cache_dir=window.controller.open_defaults.cache_dir)  # fmt: skip
    for (epoch, layer), embedding in expected.embeddings.items():
        np.testing.assert_allclose(state.coords(layer, epoch), embedding.coords, rtol=1e-5, atol=1e-6)
    with qtbot.waitSignal(playback.playing_changed, timeout=10_000):
        pass  # played to the end
    assert state.epoch == epochs[-1]
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=60_000)


def test_playback_of_many_epochs_embeds_evenly_spaced_keyframes(window, qtbot, digits_run):
    from ibviewer.gui.playback import coords_at

    state = window.state
    playback = window.playback
    playback.max_keyframes = 2  # as ib12_tanh's 300 epochs with 25 keyframes, on a 3-epoch run
    open_and_wait(qtbot, window, digits_run)
    first, middle, last = state.activations.epochs
    assert playback.keyframes == (first, last) and playback.subsampled()
    with qtbot.waitSignal(window.jobs.runner("playback").finished, timeout=60_000):
        playback.play()
        assert "2 of 3 saved epochs (evenly spaced)" in window.status_message.text()
    playback.pause()
    assert "2 of 3 saved epochs (evenly spaced)" in window.status_message.text()
    layer = state.layer_names[0]
    assert state.coords(layer, first) is not None and state.coords(layer, middle) is None
    # between keyframes the animation blends the two keyframes around the position
    blended = coords_at(state, layer, 0.5)
    np.testing.assert_allclose(blended, 0.75 * state.coords(layer, first) + 0.25 * state.coords(layer, last), atol=1e-6)
    # PCA keyframes skip the k-NN overlap (it costs more than PCA); colouring by it brings it back from the cache
    assert state.embedding(layer, last).knn_overlap is None
    with qtbot.waitSignal(window.idle, timeout=60_000):
        assert "embeddings" in window.controller.apply_settings(window.state.settings.with_changes(color_by="faithfulness"))
    assert all(state.embedding(name).knn_overlap is not None for name in state.layer_names)


def test_cancel_stops_the_playback_embedding(window, qtbot, digits_run):
    state = window.state
    open_and_wait(qtbot, window, digits_run)
    with qtbot.waitSignal(window.idle, timeout=120_000):
        window.controller.apply_settings(window.state.settings.with_changes(method="tsne"))
    with qtbot.waitSignal(window.jobs.runner("playback").cancelled, timeout=20_000):
        window.timeline.play_button.click()
        qtbot.waitUntil(lambda: window.progress_bar.isVisible(), timeout=5000)
        window.cancel_button.click()
    qtbot.wait(100)
    assert not window.playback.is_playing() and not window.timeline.play_button.isChecked()
    assert window.playback.missing_epochs()


def test_kde_band_toggle_shows_and_hides_the_band(window, qtbot, digits_run):
    open_and_wait(qtbot, window, digits_run)
    controls = window.controls
    with qtbot.waitSignal(window.idle, timeout=120_000):
        controls.estimator.setCurrentIndex(controls.estimator.findData("kde"))
        controls.flush()
    info = window.info_view
    assert window.state.infoplane.estimator == "kde" and info.band is not None and info.band.isVisible()
    plane = window.state.infoplane
    controls.kde_band.setChecked(False)
    controls.flush()
    assert not info.band.isVisible()
    assert window.state.infoplane is plane and not window.is_busy()  # display only: nothing recomputed
    info.redraw()
    assert not info.band.isVisible()  # stays hidden across redraws
    controls.kde_band.setChecked(True)
    controls.flush()
    assert info.band.isVisible()


def test_probe_every_epoch_is_kept_when_the_epoch_changes(window, qtbot, digits_run):
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    epochs = tuple(state.activations.epochs)
    assert state.probes.epochs == (epochs[-1],)  # the analysis probes the shown epoch
    with qtbot.waitSignal(window.idle, timeout=120_000):
        window.probe_panel.all_epochs_button.click()
    every = state.probes
    assert every.epochs == epochs
    with qtbot.waitSignal(window.idle, timeout=120_000):
        state.set_epoch(epochs[0])  # the per-epoch analysis of the new epoch (its embeddings)
    assert state.probes.epochs == epochs  # not overwritten by one epoch's probes
    np.testing.assert_array_equal(state.probes.linear_acc, every.linear_acc)
    assert window.probe_panel.epoch_plot.isVisible() and window.probe_panel.shown_epoch == epochs[0]
