"""A pyqtgraph ViewBox that reports clicks and hovers in data coordinates (the 2D views pick points themselves)."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

__all__ = ["PointerViewBox"]


class PointerViewBox(pg.ViewBox):
    """A ViewBox that reports left clicks and hover positions in data coordinates."""

    point_clicked = Signal(float, float, object)  # data x, y, modifiers
    hovered = Signal(float, float)  # data x, y (nan, nan when the mouse left)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)

    def mouseClickEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            position = self.mapToView(ev.pos())
            self.point_clicked.emit(position.x(), position.y(), ev.modifiers())
            return
        super().mouseClickEvent(ev)

    def hoverEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        if ev.isExit():
            self.hovered.emit(math.nan, math.nan)
            return
        position = self.mapToView(ev.pos())
        self.hovered.emit(position.x(), position.y())
