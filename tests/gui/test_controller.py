"""The part-2 views in the real main window (MainWindow calls install_part2): tabs, timeline, controls, sessions."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.gui.main_window import MainWindow
from ibviewer.gui.part2 import LAYERS_TAB, PROBES_TAB
from ibviewer.gui.widgets.style import configure_pyqtgraph
from tests.gui.synthetic import require_opengl

MAX_SAMPLES = 120


@pytest.fixture
def window(qtbot):
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method="pca"), RunRequest(path="", max_samples=MAX_SAMPLES), show_dialogs=False,
                        persist_layout=False)  # fmt: skip
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    return window


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.idle, timeout=60_000):
        window.open_path(path)
    assert window.state.activations is not None, window.last_error


def test_part2_views_fill_in_and_follow_the_controls(window, qtbot, digits_run, monkeypatch):
    part2 = window.part2
    assert [part2.tabs.tabText(i) for i in range(3)] == ["Layers", "Words", "Layer probes"]
    _open(qtbot, window, digits_run)
    state = window.state
    assert not part2.tabs.isTabEnabled(1)  # digits has no words
    # the window's probes reach the probe panel; the timeline drives the epoch
    assert part2.probe_panel.shown_epoch == state.epoch
    assert part2.timeline.slider.maximum() == len(state.activations.epochs) - 1
    with qtbot.waitSignal(window.idle, timeout=60_000):
        part2.timeline.slider.setValue(0)
    assert state.epoch == state.activations.epochs[0] and part2.timeline.marker_epoch() == state.epoch
    # a perplexity edit recomputes only the embeddings, a bin edit only the information plane
    stages = []
    monkeypatch.setattr(window, "start_analysis", lambda s: stages.append(set(s)))
    part2.controls.perplexity.setValue(12)
    part2.controls.flush()
    part2.controls.n_bins.setValue(10)
    part2.controls.flush()
    assert stages == [{"infoplane"}]  # method is PCA: the perplexity edit recomputed nothing
    part2.controls.method.setCurrentIndex(part2.controls.method.findData("tsne"))
    part2.controls.flush()
    assert stages[-1] == {"embeddings"} and state.settings.method == "tsne"
    assert state.settings.estimator_params()["n_bins"] == 10
    # View > 3D switches the layer stack (and asks for 3-D embeddings)
    part2.view_3d_action.trigger()
    assert state.settings.dims == 3 and part2.layer_stack.currentWidget() is part2.grid3d
    assert stages[-1] == {"embeddings"}
    # the Layer grid export follows the shown grid: the 3D panels now
    assert window.figure_widget("grid") is part2.grid3d.figure
    part2.tabs.setCurrentIndex(PROBES_TAB)
    assert part2.current_figure() is part2.probe_panel.canvas
    part2.copy_figure_action.trigger()
    assert not QApplication.clipboard().image().isNull()


def test_saved_session_reopens_to_the_same_state(window, qtbot, digits_run, tmp_path, monkeypatch):
    part2 = window.part2
    _open(qtbot, window, digits_run)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=60_000):
        state.set_epoch(state.activations.epochs[1])
    state.set_selection([3, 5, 8])
    part2.apply_settings(part2.settings.with_changes(n_bins=12, color_by="correct"))
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=60_000)
    from ibviewer.gui.widgets.coloring import point_rgba

    for layer, panel in window.embedding_view.panels.items():  # the 2D panels follow the colour-by control
        np.testing.assert_allclose(panel.point_colors(), point_rgba(state, "correct", layer), atol=1 / 255)
    path = tmp_path / "view.ibvsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    part2.save_session_action.trigger()
    assert path.is_file()
    saved = part2.session()

    other = MainWindow(AnalysisSettings(method="pca"), RunRequest(path="", max_samples=MAX_SAMPLES), show_dialogs=False,
                       persist_layout=False)  # fmt: skip
    qtbot.addWidget(other)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(other.idle, timeout=60_000):
        other.part2.open_session_action.trigger()
    assert other.last_error is None
    restored = other.part2.session()
    assert restored == saved
    assert other.state.epoch == state.activations.epochs[1]
    assert other.state.selection.tolist() == [3, 5, 8]
    assert other.state.settings.estimator_params()["n_bins"] == 12
    assert other.part2.controls.settings().color_by == "correct"
    assert other.part2.tabs.currentIndex() == LAYERS_TAB


def test_embedding_controls_reach_the_computation_and_recompute_only_embeddings(window, qtbot, digits_run):
    part2 = window.part2
    _open(qtbot, window, digits_run)
    state = window.state
    with qtbot.waitSignal(window.idle, timeout=120_000):
        part2.apply_settings(part2.settings.with_changes(method="tsne", perplexity=20.0))
    layers = state.layer_names
    assert {state.embedding(layer).params["perplexity"] for layer in layers} == {20.0}
    activations, infoplane, probes = state.activations, state.infoplane, state.probes
    # a perplexity edit in the Controls panel: new t-SNE embeddings, nothing else recomputed
    with qtbot.waitSignal(window.idle, timeout=120_000):
        part2.controls.perplexity.setValue(12)
        part2.controls.flush()
    assert state.activations is activations and state.infoplane is infoplane and state.probes is probes
    for layer in layers:
        embedding = state.embedding(layer)
        assert embedding.method == "tsne" and embedding.params["perplexity"] == 12.0, layer
        assert not embedding.cached
    # alignment, preprocessing and PCA-50 reach embed_layers too
    controls = part2.controls
    with qtbot.waitSignal(window.idle, timeout=120_000):
        controls.alignment.setCurrentIndex(controls.alignment.findData("procrustes"))
        controls.preprocessing.setCurrentIndex(controls.preprocessing.findData("standardize"))
        controls.pca_before.setChecked(True)
        controls.flush()
    params = state.embedding(layers[-1]).params
    assert (params["alignment"], params["preprocessing"], params["pca_dims"]) == ("procrustes", "standardize", 50)
    assert state.infoplane is infoplane
    # back to perplexity 20 with the first settings: every panel comes from the disk cache
    with qtbot.waitSignal(window.idle, timeout=120_000):
        part2.apply_settings(part2.settings.with_changes(perplexity=20.0, alignment="init", preprocessing="none",
                                                         pca_dims=None))  # fmt: skip
    assert all(state.embedding(layer).cached and state.embedding(layer).params["perplexity"] == 20.0 for layer in layers)


def test_play_embeds_the_saved_epochs_aligned_then_animates(window, qtbot, digits_run):
    from ibviewer.core.embedding import embed_layers

    part2, state = window.part2, window.state
    playback, timeline = part2.playback, part2.timeline
    _open(qtbot, window, digits_run)
    epochs = state.activations.epochs
    assert playback.keyframes == epochs and playback.missing_epochs() == epochs[:-1]  # only the shown epoch so far
    playback.epochs_per_second = 8.0
    with qtbot.waitSignal(playback.playing_changed, timeout=60_000, check_params_cb=bool):
        timeline.play_button.click()
        assert not playback.is_playing() and part2.playback_runner.is_running()  # embeds first, then plays
        assert "for playback" in window.status_message.text()
    assert playback.missing_epochs() == ()
    # the same aligned embeddings as one embed_layers(..., epochs="all") call (from its cache now)
    expected = embed_layers(state.activations, epochs="all", method="pca", dims=2, seed=0, alignment="init",
                            preprocessing="none", cache_dir=window.open_defaults.cache_dir)  # fmt: skip
    for (epoch, layer), embedding in expected.embeddings.items():
        np.testing.assert_allclose(state.coords(layer, epoch), embedding.coords, rtol=1e-5, atol=1e-6)
    with qtbot.waitSignal(playback.playing_changed, timeout=10_000):
        pass  # played to the end
    assert state.epoch == epochs[-1]
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=60_000)


def test_playback_of_many_epochs_embeds_evenly_spaced_keyframes(window, qtbot, digits_run):
    from ibviewer.gui.playback import coords_at

    part2, state = window.part2, window.state
    playback = part2.playback
    playback.max_keyframes = 2  # as ib12_tanh's 300 epochs with 25 keyframes, on a 3-epoch run
    _open(qtbot, window, digits_run)
    first, middle, last = state.activations.epochs
    assert playback.keyframes == (first, last) and playback.subsampled()
    with qtbot.waitSignal(part2.playback_runner.finished, timeout=60_000):
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
        assert "embeddings" in part2.apply_settings(part2.settings.with_changes(color_by="faithfulness"))
    assert all(state.embedding(name).knn_overlap is not None for name in state.layer_names)


def test_cancel_stops_the_playback_embedding(window, qtbot, digits_run):
    part2, state = window.part2, window.state
    _open(qtbot, window, digits_run)
    with qtbot.waitSignal(window.idle, timeout=120_000):
        part2.apply_settings(part2.settings.with_changes(method="tsne"))
    with qtbot.waitSignal(part2.playback_runner.cancelled, timeout=20_000):
        part2.timeline.play_button.click()
        qtbot.waitUntil(lambda: window.progress_bar.isVisible(), timeout=5000)
        window.cancel_button.click()
    qtbot.wait(100)
    assert not part2.playback.is_playing() and not part2.timeline.play_button.isChecked()
    assert part2.playback.missing_epochs()


def test_kde_band_toggle_shows_and_hides_the_band(window, qtbot, digits_run):
    part2 = window.part2
    _open(qtbot, window, digits_run)
    controls = part2.controls
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


def test_file_export_figure_of_the_3d_grid_writes_the_points(window, qtbot, digits_run, tmp_path, monkeypatch):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QDialog

    from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog

    require_opengl()
    part2 = window.part2
    _open(qtbot, window, digits_run)
    with qtbot.waitSignal(window.idle, timeout=60_000):
        part2.view_3d_action.trigger()
    qtbot.waitUntil(lambda: all(p.coords is not None for p in part2.grid3d.panels.values()), timeout=10_000)
    qtbot.wait(100)
    path = tmp_path / "grid3d.png"
    monkeypatch.setattr(ExportFigureDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(ExportFigureDialog, "values", lambda self: ("grid", "png", 1.0))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.export_figure_action.trigger()
    assert window.last_error is None and path.is_file()
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    figure = part2.grid3d.figure
    assert (image.width(), image.height()) == (figure.width(), figure.height())
    # inside every layer's GL view: the white background and the points in their class colours
    for layer, panel in part2.grid3d.panels.items():
        origin = panel.view.mapTo(figure, QPoint(0, 0))
        colours = {
            image.pixel(origin.x() + x, origin.y() + y)
            for x in range(0, panel.view.width(), 2)
            for y in range(0, panel.view.height(), 2)
        }
        assert 0xFFFFFFFF in colours, layer  # the white background
        assert {0xFF1F77B4, 0xFFFF7F0E, 0xFF2CA02C} <= colours, layer  # points of classes 0, 1, 2 (tab10)
    # at twice the resolution the picture keeps its content
    monkeypatch.setattr(ExportFigureDialog, "values", lambda self: ("grid", "png", 2.0))
    window.export_figure_action.trigger()
    image = QImage(str(path))
    assert (image.width(), image.height()) == (2 * figure.width(), 2 * figure.height())
    panel = next(iter(part2.grid3d.panels.values()))
    origin = panel.view.mapTo(figure, QPoint(0, 0)) * 2
    colours = {image.pixel(origin.x() + x, origin.y() + y) for x in range(0, 2 * panel.view.width(), 3)
               for y in range(0, 2 * panel.view.height(), 3)}  # fmt: skip
    assert 0xFF1F77B4 in colours
