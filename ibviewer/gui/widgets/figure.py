"""What the layer grids (2D, 3D) and the word view share: the white figure frame and the titles.

No OpenGL here, so the 2D grid and the word view can use it without importing
``pyqtgraph.opengl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ibviewer.core.config import METHODS
from ibviewer.core.figure_layout import grid_shape

if TYPE_CHECKING:
    from ibviewer.gui.state import AppState

__all__ = ["figure_frame", "layer_title_parts", "grid_title", "epoch_text", "PanelGrid"]


def figure_frame(
    parent: QWidget, title: str = "", legend: QWidget | None = None
) -> tuple[QWidget, QLabel, QWidget, QGridLayout]:
    """A white figure widget (what exports render) with a title, a legend line and a grid of panels.

    ``legend`` is the legend widget to place under the title (default: a word-wrapped QLabel).
    """
    figure = QWidget(parent)
    figure.setAutoFillBackground(True)
    palette = figure.palette()
    palette.setColor(figure.backgroundRole(), QColor("white"))
    figure.setPalette(palette)
    layout = QVBoxLayout(figure)
    layout.setContentsMargins(6, 4, 6, 4)
    title_label = QLabel(title, figure)
    title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    title_label.setStyleSheet("font-size: 12pt; color: #202020;")
    # a long title must never make the figure wider than its tab: it asks for no width (clipped at worst);
    # titles break their own lines (a word-wrapped label's height-for-width re-lays the panels out late)
    title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    if legend is None:
        legend = QLabel(figure)
        legend.setWordWrap(True)
    grid = QGridLayout()
    grid.setSpacing(4)
    layout.addWidget(title_label)
    layout.addWidget(legend)
    layout.addLayout(grid, 1)
    return figure, title_label, legend, grid


class PanelGrid(QObject):
    """Places a figure's panels in its grid, with rows and columns chosen from their count and the figure's aspect.

    The shape comes from `ibviewer.core.figure_layout.grid_shape` (the headless grid uses it
    too) and follows the figure's resizes: a wide figure gets more columns, a tall one more rows,
    and no row or column is ever left empty.
    """

    def __init__(self, figure: QWidget, grid: QGridLayout) -> None:
        super().__init__(figure)
        self.figure = figure
        self.grid = grid
        self.panels: list[QWidget] = []
        self.shape: tuple[int, int] = (0, 0)
        figure.installEventFilter(self)

    def set_panels(self, panels: list[QWidget]) -> None:
        """Show ``panels`` (in order) instead of the current ones; the caller deletes the old ones."""
        for panel in self.panels:
            self.grid.removeWidget(panel)
        self.panels = list(panels)
        self.shape = (0, 0)
        self.fit()

    def aspect(self) -> float:
        """Width / height of the area the panels share (the figure less its title and legend)."""
        rect = self.grid.geometry()
        if rect.width() > 10 and rect.height() > 10:
            return rect.width() / rect.height()
        size = self.figure.size()
        return max(size.width(), 1) / max(size.height() - 80, 1)

    def fit(self) -> None:
        """Re-place the panels when the figure's aspect calls for another grid."""
        shape = grid_shape(len(self.panels), self.aspect()) if self.panels else (0, 0)
        if shape == self.shape:
            return
        n_rows, n_cols = shape
        for panel in self.panels:
            self.grid.removeWidget(panel)
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 0)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 0)
        for i, panel in enumerate(self.panels):
            self.grid.addWidget(panel, i // n_cols, i % n_cols)
        for r in range(n_rows):
            self.grid.setRowStretch(r, 1)
        for c in range(n_cols):
            self.grid.setColumnStretch(c, 1)
        self.shape = shape

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.figure and event.type() == QEvent.Type.Resize and self.panels:
            self.fit()
        return False


def layer_title_parts(state: AppState, layer: str) -> list[str]:
    """A layer panel's title pieces: name, dimension, probe accuracy (when known), method (and t-SNE iteration)."""
    parts = [f"<b>{layer}</b>"]
    try:
        parts.append(f"{state.layer_dim(layer)}-d")
    except (KeyError, AttributeError):
        pass
    accuracy = state.probe_accuracy(layer)
    if accuracy is not None:
        parts.append(f"probe {100 * accuracy:.1f}%")
    embedding = state.embedding(layer)
    if embedding is not None:
        method = getattr(embedding, "method", None)
        iteration = getattr(embedding, "iteration", None)
        text = METHODS.get(str(method), str(method)) if method else ""
        if iteration is not None:
            text = f"{text} it. {iteration}".strip()
        if text:
            parts.append(f"<span style='color:#707070'>{text}</span>")
    return parts


def epoch_text(epochs: tuple[int, ...] | list[int], position: float, html: bool = False) -> str:
    """The one way the window names where it is on the timeline: "epoch 24", or "between epochs 24 and 26".

    ``position`` is a (fractional) index into the saved ``epochs``, as playback moves it;
    saved epochs are integers and the blend between two of them names both.
    """
    if not epochs:
        return "no epoch"
    position = min(max(float(position), 0.0), len(epochs) - 1.0)
    lower = int(position + 1e-6)
    b, e = ("<b>", "</b>") if html else ("", "")
    if position - lower < 1e-6 or lower + 1 >= len(epochs):
        return f"epoch {b}{epochs[lower]}{e}"
    return f"between epochs {b}{epochs[lower]}{e} and {b}{epochs[lower + 1]}{e}"


def grid_title(state: AppState, kind: str = "", position: float | None = None) -> str:
    """A layer grid's title, e.g. "<b>t-SNE</b> 3D of each layer at epoch 20 · 1797 samples (PCA shown until ...)".

    ``position``: playback's fractional index into the saved epochs while it blends between them.
    """
    if state.activations is None:
        return "No run open"
    wanted = METHODS.get(state.settings.method, state.settings.method)
    shown = {getattr(state.embedding(layer), "method", None) for layer in state.layer_names} - {None}
    pending = ""
    if shown == {"pca"} and state.settings.method != "pca":
        pending = f" <span style='color:#808080'>(PCA shown until {wanted} is ready)</span>"
    kind = f" {kind}" if kind else ""
    epochs = tuple(state.activations.epochs)
    if position is None:
        position = epochs.index(state.epoch) if state.epoch in epochs else 0
    where = epoch_text(epochs, position, html=True)
    where = where if where.startswith("between") else f"at {where}"
    return f"<b>{wanted}</b>{kind} of each layer {where} · {state.n_samples} samples{pending}"


class GridStateSlots:
    """The AppState slots the 2D and 3D layer grids share.

    The class using it has ``state``, ``panels`` (layer -> panel with ``update_title``),
    ``color_mode``, ``playback``, ``set_color_mode``, ``_reload_all`` and ``_update_title``.
    """

    def _on_state_settings_changed(self) -> None:
        if self.color_mode != self.state.settings.color_by:
            self.set_color_mode(self.state.settings.color_by)
        self._update_title()

    def _on_state_result_changed(self, what: str) -> None:
        if what == "embeddings":
            self._reload_all()
        elif what == "probes":
            for panel in self.panels.values():
                panel.update_title()
            self._update_title()
            if self.color_mode in ("predicted", "correct"):
                self.set_color_mode(self.color_mode)

    def _on_state_epoch_changed(self, epoch: int) -> None:
        if self.playback is not None and self.playback.is_playing():
            # playback draws blended coordinates itself; the titles name the epoch passed
            for panel in self.panels.values():
                panel.update_title()
            self._update_title()
            return
        self._reload_all()
