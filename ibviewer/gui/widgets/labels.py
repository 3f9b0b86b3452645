"""Greedy non-overlapping label placement in screen space (the word view labels thousands of words with it)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["place_labels", "label_order", "GAP_PX"]

GAP_PX = 4.0
CELL_PX = 3.0


def place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    order: np.ndarray,
    forced: np.ndarray,
    bounds: tuple[float, float],
    gap: float = GAP_PX,
    max_labels: int = 150,
    max_tries: int = 800,
) -> np.ndarray:
    """Greedy non-overlapping label placement in screen space.

    Parameters
    ----------
    anchors : ndarray, (n, 2)
        Screen positions of the points (x right, y down), in pixels; NaN for hidden points.
    sizes : ndarray, (n, 2)
        Width and height of each label in pixels.
    order : ndarray of int
        Rows in the order to try them (most wanted first).
    forced : ndarray of bool, (n,)
        Labels that are always placed (query words, the selection), before all others.
    bounds : (width, height)
        The visible area; optional labels must lie inside it.
    gap : float
        Pixels between a point and its label.
    max_labels, max_tries : int
        Stop after placing this many optional labels or trying this many rows (keeps a
        relabel of thousands of words fast; the most wanted rows come first anyway).

    Returns
    -------
    ndarray of int, (n,)
        Where each label goes: 0 right of the point, 1 left, 2 above, 3 below; -1 unlabelled.
        Optional labels never overlap any other placed label; a forced label takes the first
        free side, or the right side when none is free.
    """
    n = len(anchors)
    side = np.full(n, -1, dtype=np.int64)
    width, height = float(bounds[0]), float(bounds[1])
    n_cols, n_rows = max(1, math.ceil(width / CELL_PX)), max(1, math.ceil(height / CELL_PX))
    occupied = np.zeros((n_rows + 2, n_cols + 2), dtype=bool)  # one spare cell each side for clipping

    def box(i: int, s: int) -> tuple[float, float, float, float]:
        x, y = anchors[i]
        w, h = sizes[i]
        if s == 0:
            return x + gap, y - h / 2, x + gap + w, y + h / 2
        if s == 1:
            return x - gap - w, y - h / 2, x - gap, y + h / 2
        if s == 2:
            return x - w / 2, y - gap - h, x + w / 2, y - gap
        return x - w / 2, y + gap, x + w / 2, y + gap + h

    def cells(b: tuple[float, float, float, float]) -> tuple[slice, slice]:
        x0, y0, x1, y1 = b
        c0 = int(np.clip(math.floor(x0 / CELL_PX) + 1, 0, n_cols + 1))
        c1 = int(np.clip(math.ceil(x1 / CELL_PX) + 1, 0, n_cols + 2))
        r0 = int(np.clip(math.floor(y0 / CELL_PX) + 1, 0, n_rows + 1))
        r1 = int(np.clip(math.ceil(y1 / CELL_PX) + 1, 0, n_rows + 2))
        return slice(r0, r1), slice(c0, c1)

    def inside(b: tuple[float, float, float, float]) -> bool:
        return b[0] >= 0 and b[1] >= 0 and b[2] <= width and b[3] <= height

    forced_rows = [int(i) for i in order if forced[i]] + [int(i) for i in np.flatnonzero(forced) if i not in set(order)]
    for i in forced_rows:
        if not np.isfinite(anchors[i]).all():
            continue
        chosen = 0
        for s in range(4):
            rows, cols = cells(box(i, s))
            if inside(box(i, s)) and not occupied[rows, cols].any():
                chosen = s
                break
        rows, cols = cells(box(i, chosen))
        occupied[rows, cols] = True
        side[i] = chosen
    n_placed = n_tried = 0
    for i in order:
        i = int(i)
        if forced[i] or not np.isfinite(anchors[i]).all():
            continue
        if n_placed >= max_labels or n_tried >= max_tries:
            break
        n_tried += 1
        for s in range(4):
            b = box(i, s)
            if not inside(b):
                continue
            rows, cols = cells(b)
            if not occupied[rows, cols].any():
                occupied[rows, cols] = True
                side[i] = s
                n_placed += 1
                break
    return side


def label_order(groups: np.ndarray, is_query: np.ndarray) -> np.ndarray:
    """Query words first, then every group's nearest synonym, then every group's second, ..."""
    groups = np.asarray(groups)
    rank = np.zeros(len(groups), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, g in enumerate(groups.tolist()):
        rank[i] = seen.get(g, 0)
        seen[g] = rank[i] + 1
    rank = np.where(is_query, -1, rank)
    return np.argsort(rank, kind="stable")
