"""Draws the runs added to the information plane (`ibviewer.gui.added_runs`) over the shown run's plane.

"compare": every added run's layer trajectories in its own colour (dashed), its last epoch
marked, one legend entry per run. "average": per layer the mean trajectory over all runs
(the shown one included) in black, with ±1 sd error bars in both directions at every epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ibviewer.gui.widgets.style import PassiveScatter, class_colors, make_pen

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from ibviewer.core.multirun import RunPlanes

__all__ = ["draw_runs", "RunsSource"]


class RunsSource(Protocol):
    """What the plane view reads of the added runs (`ibviewer.gui.added_runs.AddedRuns`)."""

    changed: SignalInstance

    def combined(self) -> RunPlanes | None: ...


def draw_runs(plot: pg.PlotItem, legend: pg.LegendItem | None, combined: RunPlanes | None) -> list[pg.GraphicsObject]:
    """Add the combined runs' items to ``plot`` (and entries to ``legend``); returns the items added."""
    if combined is None:
        return []
    items: list[pg.GraphicsObject] = []
    if combined.mode == "compare":
        colors = class_colors(combined.n_runs + 1)
        for r, (name, plane) in enumerate(zip(combined.names[1:], combined.planes[1:]), start=1):
            pen = make_pen(colors[r], 1.6)
            pen.setStyle(Qt.PenStyle.DashLine)
            for k in range(len(plane.layers)):
                curve = pg.PlotDataItem(np.asarray(plane.i_xt[:, k], dtype=float), np.asarray(plane.i_ty[:, k], dtype=float),
                                        pen=pen)  # fmt: skip
                items.append(curve)
            last = PassiveScatter(x=np.asarray(plane.i_xt[-1], dtype=float), y=np.asarray(plane.i_ty[-1], dtype=float),
                                  size=9, brush=pg.mkBrush(colors[r]), pen=pg.mkPen("k"), pxMode=True)  # fmt: skip
            items.append(last)
            if legend is not None:
                legend.addItem(pg.PlotDataItem(pen=pen), f"run {name}")
    else:
        assert combined.i_xt_mean is not None and combined.i_ty_mean is not None
        assert combined.i_xt_sd is not None and combined.i_ty_sd is not None
        pen = make_pen(QColor("#111111"), 2.2)
        for k in range(len(combined.layers)):
            items.append(pg.PlotDataItem(combined.i_xt_mean[:, k], combined.i_ty_mean[:, k], pen=pen))
        spread = pg.ErrorBarItem(
            x=combined.i_xt_mean.ravel(), y=combined.i_ty_mean.ravel(), left=combined.i_xt_sd.ravel(),
            right=combined.i_xt_sd.ravel(), top=combined.i_ty_sd.ravel(), bottom=combined.i_ty_sd.ravel(),
            pen=make_pen(QColor(20, 20, 20, 110), 1.0), beam=0,
        )  # fmt: skip
        items.append(spread)
        if legend is not None:
            legend.addItem(pg.PlotDataItem(pen=pen), f"mean ± sd of {combined.n_runs} runs")
    for item in items:
        item.setZValue(8)
        plot.addItem(item)
    return items
