"""Layout decisions the headless figures and the GUI share: the grid of layer panels, the epoch colour scale.

Pure numpy, no Qt and no matplotlib, so `ibviewer.core.layer_figure`, `ibviewer.core.infoplane_figure`
and the window's views make the same choice from the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["grid_shape", "EpochScale"]


def grid_shape(n_panels: int, aspect: float = 1.0, max_cols: int | None = None) -> tuple[int, int]:
    """(rows, columns) for ``n_panels`` square-ish panels in an area ``aspect`` = width / height.

    Chooses the grid whose cells are closest to square in that area, never one with an
    empty row or column, and among near ties the one with fewer empty cells (5 panels in a
    wide area: 2 x 3, not 2 x 4 with three empty cells).
    """
    if n_panels <= 0:
        return (1, 1)
    aspect = aspect if math.isfinite(aspect) and aspect > 0 else 1.0
    limit = n_panels if max_cols is None else max(1, min(max_cols, n_panels))
    best: tuple[float, int, int] | None = None
    for n_cols in range(1, limit + 1):
        n_rows = math.ceil(n_panels / n_cols)
        if (n_rows - 1) * n_cols >= n_panels or n_rows * (n_cols - 1) >= n_panels:
            continue  # an empty row or column
        cell_aspect = aspect * n_rows / n_cols
        empty = n_rows * n_cols - n_panels
        cost = abs(math.log(cell_aspect)) + 0.35 * empty / n_panels
        if best is None or cost < best[0]:
            best = (cost, n_rows, n_cols)
    if best is None:  # only when max_cols forces empty columns away: the widest allowed grid
        return (math.ceil(n_panels / limit), limit)
    return best[1], best[2]


@dataclass(frozen=True)
class EpochScale:
    """How epochs map to the colour scale: linear, or logarithmic for log-spaced saves.

    Log-spaced saves (0, 1, 2, 3, 5, ... 10000) on a linear scale paint almost every epoch
    the same dark colour; when the epochs span more than two orders of magnitude and most of
    them are early, the scale is log10(1 + epoch) instead (the headless figure and the window
    use this one rule).
    """

    low: float
    high: float
    log: bool

    @classmethod
    def for_epochs(cls, epochs: Sequence[float] | np.ndarray) -> EpochScale:
        values = np.asarray(epochs, dtype=np.float64)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        high = high if high > low else low + 1.0
        # log-spaced: two orders of magnitude, and most saves early (evenly spaced ones have their median mid-way)
        spread = low >= 0 and high > 100 * (low + 1)
        return cls(low, high, bool(spread and float(np.median(values)) < low + 0.25 * (high - low)))

    def _t(self, epochs: np.ndarray | float) -> np.ndarray:
        values = np.asarray(epochs, dtype=np.float64)
        return np.log10(1.0 + np.maximum(values, 0.0)) if self.log else values

    def position(self, epochs: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """Where each epoch sits on the colour scale, in [0, 1]."""
        lo, hi = self._t(self.low), self._t(self.high)
        return np.clip((self._t(np.asarray(epochs, dtype=np.float64)) - lo) / (hi - lo), 0.0, 1.0)

    def ticks(self, n_max: int = 6) -> list[tuple[float, str]]:
        """(position in [0, 1], epoch label) for a colour bar's axis: round epochs, spread along the scale."""
        if self.log:
            candidates = [0.0] + [m * 10.0**p for p in range(0, 9) for m in (1, 2, 5)]
        else:
            step = _nice_step((self.high - self.low) / max(n_max - 1, 1))
            candidates = list(np.arange(math.ceil(self.low / step) * step, self.high + step / 2, step))
        inside = [c for c in candidates if self.low <= c <= self.high]
        if self.log and len(inside) > n_max:
            inside = [c for c in inside if c == 0 or str(int(c)).startswith("1")]  # 0, 1, 10, 100, ...
        return [(float(self.position(c)), f"{c:g}") for c in inside]


def _nice_step(raw: float) -> float:
    """The 1-2-5 step at or above ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power
