"""The word preset: greedy non-overlapping labels, query words always labelled, linked to AppState."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.gui.views.word_view import WordView, label_order, place_labels, word_preset_available
from tests.gui.part2_data import QUERY_WORDS, make_state, make_word_state, require_opengl


def _boxes(anchors, sizes, sides, gap=4.0):
    out = []
    for i in np.flatnonzero(sides >= 0):
        x, y = anchors[i]
        w, h = sizes[i]
        s = sides[i]
        x0 = {0: x + gap, 1: x - gap - w, 2: x - w / 2, 3: x - w / 2}[s]
        y0 = {0: y - h / 2, 1: y - h / 2, 2: y - gap - h, 3: y + gap}[s]
        out.append((i, x0, y0, x0 + w, y0 + h))
    return out


def test_place_labels_never_overlaps_and_always_places_forced():
    rng = np.random.default_rng(0)
    n = 400
    anchors = rng.uniform(0, 300, size=(n, 2))
    sizes = np.column_stack([rng.uniform(20, 60, n), np.full(n, 10.0)])
    forced = np.zeros(n, dtype=bool)
    forced[:5] = True
    sides = place_labels(anchors, sizes, np.arange(n), forced, (300, 300))
    assert (sides[:5] >= 0).all()
    placed = _boxes(anchors, sizes, sides)
    assert 20 < len(placed) < n  # many fit, not all
    for a in range(len(placed)):
        for b in range(a + 1, len(placed)):
            i, ax0, ay0, ax1, ay1 = placed[a]
            j, bx0, by0, bx1, by1 = placed[b]
            if forced[i] and forced[j]:
                continue
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (i, j)
    # an isolated point always gets its label; a point off screen never does
    anchors2 = np.array([[150.0, 150.0], [np.nan, np.nan]])
    sides2 = place_labels(anchors2, np.array([[30.0, 10], [30, 10]]), np.arange(2), np.zeros(2, bool), (300, 300))
    assert sides2.tolist() == [0, -1]


def test_label_order_interleaves_groups():
    groups = np.array([0, 1, 0, 0, 1, 1])
    is_query = np.array([True, True, False, False, False, False])
    assert label_order(groups, is_query).tolist() == [0, 1, 2, 4, 3, 5]


@pytest.fixture
def word_view(qtbot):
    state = make_word_state()
    view = WordView(state)
    qtbot.addWidget(view)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def _compute(word_view, qtbot, dims, n_neighbors):
    with qtbot.waitSignal(word_view.experiment_changed, timeout=30_000):
        word_view.compute(dims, method="pca", n_neighbors=n_neighbors)
    # the new panels get their final size once the layout has run
    qtbot.waitUntil(lambda: all(p.width() > 200 and p.height() > 150 for p in word_view.panels.values()), timeout=5000)
    qtbot.wait(20)
    word_view.relabel_now()


def test_word_view_labels_query_words_in_every_layer(word_view, qtbot):
    state = word_view.state
    assert word_preset_available(state) and not word_preset_available(make_state())
    _compute(word_view, qtbot, 2, 10)
    experiment = word_view.experiment
    assert experiment.query_words == QUERY_WORDS and experiment.n_neighbors == 10
    assert list(word_view.panels) == ["embed", "act1", "act2"]
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
    view.compute(2)
    assert view.experiment is None and not view.runner.is_running() and "no words" in view.status.text()


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
