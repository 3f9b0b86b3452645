"""The launcher's screenshot mode in-process: it waits for every job and every view, the word view included."""

from __future__ import annotations

from PySide6.QtGui import QImage

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import OpenedRun
from ibviewer.gui.app import ScreenshotDriver
from ibviewer.gui.main_window import WORDS_TAB, MainWindow
from ibviewer.gui.widgets.style import configure_pyqtgraph
from tests.gui.synthetic import QUERY_WORDS, make_word_state


def test_the_screenshot_of_a_word_run_shows_the_drawn_word_experiment(qtbot, tmp_path, monkeypatch):
    words = make_word_state()  # a text run with 16 query words, opened by the window's own open job

    def open_word_run(request, *, progress):
        return OpenedRun(request, words.run, words.activations)

    monkeypatch.setattr("ibviewer.gui.controller.open_and_extract", open_word_run)
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method="pca"), RunRequest(path="", use_cache=False), show_dialogs=False,
                        persist_layout=False)  # fmt: skip
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    out = tmp_path / "words.png"
    seen = {}

    def on_exit(code: int) -> None:  # what the picture shows, at the moment it is taken
        panels = window.word_view.panels
        seen.update(code=code, busy=window.is_busy(), tab=window.tabs.currentIndex(),
                    experiment=window.word_view.experiment, missing=window.state.missing_results(),
                    labelled={layer: set(panel.labelled_words()) for layer, panel in panels.items()})  # fmt: skip

    driver = ScreenshotDriver(window, str(out), None, on_exit)
    window.open_path("word-run")
    qtbot.waitUntil(lambda: "code" in seen, timeout=180_000)
    assert seen["code"] == 0 and driver.exit_code == 0, window.last_error
    assert not seen["busy"] and seen["missing"] == [] and seen["tab"] == WORDS_TAB
    experiment = seen["experiment"]
    assert experiment is not None and experiment is window.state.word_experiment
    assert list(seen["labelled"]) == list(words.layer_names)
    for layer, labelled in seen["labelled"].items():  # the labels were placed on the laid-out panels
        assert set(QUERY_WORDS) <= labelled, layer
    image = QImage(str(out))
    assert (image.width(), image.height()) == (window.width(), window.height())
    figure = window.word_view.figure
    origin = figure.mapTo(window, figure.rect().topLeft())
    colours = {image.pixel(origin.x() + x, origin.y() + y) for x in range(0, figure.width(), 2)
               for y in range(0, figure.height(), 2)}  # fmt: skip
    assert 0xFF1F77B4 in colours  # the first query word's group colour: the word panels are in the picture
