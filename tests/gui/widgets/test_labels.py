"""Greedy label placement: forced labels always placed, optional ones never overlapping."""

from __future__ import annotations

import numpy as np

from ibviewer.gui.widgets.labels import label_order, place_labels


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
