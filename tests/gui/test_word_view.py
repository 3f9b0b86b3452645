"""The word preset: greedy non-overlapping labels, query words always labelled, linked to AppState."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.gui.views.word_view import WordView
from tests.gui.synthetic import QUERY_WORDS, make_state, make_word_state, require_opengl


@pytest.fixture
def word_view(qtbot, controller_for):
    state = make_word_state()
    view = WordView(state)
    view.experiment_requested.connect(controller_for(state).compute_word_experiment)  # as the window connects it
    qtbot.addWidget(view)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def _compute(word_view, qtbot, dims, n_neighbors):
    with qtbot.waitSignal(word_view.experiment_changed, timeout=30_000):
        word_view.request(dims, method="pca", n_neighbors=n_neighbors)
        assert "Embedding the query words" in word_view.status.text()
    # the new panels get their final size once the layout has run
    qtbot.waitUntil(lambda: all(p.width() > 200 and p.height() > 150 for p in word_view.panels.values()), timeout=5000)
    qtbot.wait(20)
    word_view.relabel_now()


def test_word_view_labels_query_words_in_every_layer(word_view, qtbot):
    state = word_view.state
    assert state.has_words() and not make_state().has_words()
    _compute(word_view, qtbot, 2, 10)
    experiment = word_view.experiment
    assert experiment is state.word_experiment and word_view.status.text() == ""
    assert experiment.query_words == QUERY_WORDS and experiment.n_neighbors == 10
    assert list(word_view.panels) == ["embed", "act1", "act2"]
    assert experiment.control is None and "No control" in word_view.title.text()  # one saved epoch
    for panel in word_view.panels.values():
        labelled = set(panel.labelled_words())
        assert set(QUERY_WORDS) <= labelled
        assert len(labelled) > len(QUERY_WORDS)  # some synonyms fit too
        assert len(labelled) < experiment.n_selected  # but not every word: no unreadable mush
        texts = {item.toPlainText() for item in panel._text_items if item.isVisible()}
        assert texts == labelled
    # a selected synonym (e.g. from the search box) is always labelled, in every panel
    panel = word_view.panels["act2"]
    hidden = [i for i in range(experiment.n_selected) if panel.label_sides[i] < 0]
    target = hidden[0]
    state.set_selection([int(experiment.selected_idx[target])])
    word_view.relabel_now()
    for panel in word_view.panels.values():
        assert experiment.words[target] in panel.labelled_words()


def test_runs_without_words_say_so(qtbot):
    state = make_state()
    view = WordView(state)
    qtbot.addWidget(view)
    assert "no words" in view.status.text()
    requests = []
    view.experiment_requested.connect(lambda *args: requests.append(args))
    view.request(2)
    assert requests == [] and view.experiment is None and "no words" in view.status.text()


def test_clicking_a_word_focuses_its_sample(word_view, qtbot):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    _compute(word_view, qtbot, 2, 10)
    panel = word_view.panels["act1"]
    i = 3  # a query word
    scene = panel.viewbox.mapViewToScene(QPointF(*panel.coords[i, :2]))
    QTest.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, panel.mapFromScene(scene))
    assert word_view.state.focus is not None
    assert word_view.state.focus.row == int(word_view.experiment.selected_idx[i]) and word_view.state.focus.layer == "act1"


def test_word_view_3d_uses_text_items_for_query_words(word_view, qtbot):
    require_opengl()
    _compute(word_view, qtbot, 3, 5)
    assert word_view.dims == 3
    for panel in word_view.panels.values():
        texts = {item.text.strip() for item in panel.text_items()}
        assert set(QUERY_WORDS) <= texts
    image = word_view.figure.grab().toImage()
    assert not image.isNull() and image.width() > 500


def test_the_title_shows_the_control_beside_the_result(qtbot, controller_for):
    state = make_word_state(untrained=True)
    view = WordView(state)
    view.experiment_requested.connect(controller_for(state).compute_word_experiment)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.experiment_changed, timeout=30_000):
        view.request(2, method="pca", n_neighbors=10)
    control = view.experiment.control
    assert control is not None and control.control_epoch == 0 and control.epoch == 3
    title = view.title.text()
    for j, layer in enumerate(control.layers):
        assert f"<b>{control.share[j]:.2f}</b> (untrained {control.control_share[j]:.2f})" in title
    assert f"Groups were chosen in <u>{control.chosen_layer}</u>" in title
    # trained clusters hold in every layer; the untrained network groups only where it chose
    assert control.share.min() > 0.8 and control.control_share[0] < control.chance + 0.1
