"""The word experiment preset: query words and their synonyms per layer, drawn as readable text labels.

The core's `word_experiment` picks each query word's nearest words in the final layer and
embeds all of them at every layer. This view draws one panel per layer, points coloured by
the query word they belong to, and labels words without clutter: a greedy placement in
screen space labels the query words and the selected samples always, then as many other
words as fit without overlapping (nearest synonyms of every query first), and places
labels again whenever the view is zoomed, panned, rotated or resized. 2D (N=200) by
default; 3D (N=50) draws the same in `pyqtgraph.opengl` views with `GLTextItem` labels.

The view draws ``state.word_experiment`` and asks for it with ``experiment_requested``
(the 2D/3D buttons, or the window when the Words tab shows). Rows are linked to `AppState`
through ``experiment.selected_idx`` (word row i is sample row ``selected_idx[i]``): clicking
a word focuses that sample everywhere, and the state's selection (a search, a lasso in
another view) is always labelled here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ibviewer.core.config import WORD_NEIGHBORS
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.figure import PanelGrid, figure_frame
from ibviewer.gui.widgets.grab import grab_with_gl
from ibviewer.gui.widgets.labels import GAP_PX, label_order, place_labels
from ibviewer.gui.widgets.pointer import PointerViewBox
from ibviewer.gui.widgets.style import PassiveScatter, class_brushes, class_colors, make_pen, nearest_point

if TYPE_CHECKING:
    from ibviewer.core.words import WordExperiment

__all__ = [
    "WordPanel2D",
    "WordPanel3D",
    "WordView",
]

QUERY_FONT_PT = 10
WORD_FONT_PT = 8
RELABEL_DELAY_MS = 60


def _fonts() -> tuple[QFont, QFont]:
    query = QFont()
    query.setPointSize(QUERY_FONT_PT)
    query.setBold(True)
    word = QFont()
    word.setPointSize(WORD_FONT_PT)
    return query, word


def _label_sizes(words: tuple[str, ...], is_query: np.ndarray) -> np.ndarray:
    query_font, word_font = _fonts()
    metrics = (QFontMetricsF(word_font), QFontMetricsF(query_font))
    return np.array(
        [[metrics[int(q)].horizontalAdvance(w) + 2, metrics[int(q)].height()] for w, q in zip(words, is_query)]
    )


def _text_color(color: QColor, is_query: bool) -> QColor:
    # synonyms get a darker shade of their group colour: readable on white, still grouped
    return QColor(color).darker(150 if is_query else 165)


class _WordPanelMixin:
    """What both panels share: the experiment rows, label choice and the link to `AppState`."""

    def _init_rows(self, state: AppState, experiment: WordExperiment, layer: str) -> None:
        self.state = state
        self.experiment = experiment
        self.layer = layer
        self.coords = np.asarray(experiment.embeddings.get(experiment.epoch, layer).coords, dtype=np.float64)
        self.groups = np.asarray(experiment.groups)
        self.is_query = np.asarray(experiment.is_query, dtype=bool)
        self.words = tuple(experiment.words)
        self.rows = np.asarray(experiment.selected_idx, dtype=np.int64)  # word row -> state row
        self._row_to_word = {int(r): i for i, r in enumerate(self.rows.tolist())}
        self.sizes = _label_sizes(self.words, self.is_query)
        self.order = label_order(self.groups, self.is_query)
        self.label_sides = np.full(len(self.words), -1, dtype=np.int64)
        self.colors = class_colors(max(len(experiment.query_words), 1))
        self._relabel_timer = QTimer(self)
        self._relabel_timer.setSingleShot(True)
        self._relabel_timer.setInterval(RELABEL_DELAY_MS)
        self._relabel_timer.timeout.connect(self.relabel)

    def schedule_relabel(self) -> None:
        timer = getattr(self, "_relabel_timer", None)  # None while the base class is still being built
        if timer is not None:
            timer.start()

    def relabel_pending(self) -> bool:
        return self._relabel_timer.isActive()

    def forced_rows(self) -> np.ndarray:
        """Word rows always labelled: the query words and whatever the state highlights."""
        forced = self.is_query.copy()
        for row in self.state.highlighted_rows().tolist():
            i = self._row_to_word.get(int(row))
            if i is not None:
                forced[i] = True
        if 0 <= self.state.hover and self.state.hover in self._row_to_word:
            forced[self._row_to_word[self.state.hover]] = True
        return forced

    def labelled_words(self) -> list[str]:
        return [self.words[i] for i in np.flatnonzero(self.label_sides >= 0)]

    def word_row_to_state_row(self, i: int) -> int:
        return int(self.rows[i])

    def _click_word(self, i: int) -> None:
        if i < 0:
            self.state.clear_selection()
            return
        self.state.set_selection([])
        self.state.set_focus(self.word_row_to_state_row(i), self.layer)

    def _hover_word(self, i: int) -> None:
        self.state.set_hover(-1 if i < 0 else self.word_row_to_state_row(i))


class WordPanel2D(_WordPanelMixin, pg.PlotWidget):
    """One layer of the word experiment in 2D: coloured points and greedily placed word labels."""

    labels_changed = Signal()

    def __init__(self, state: AppState, experiment: WordExperiment, layer: str, parent: QWidget | None = None) -> None:
        self.viewbox = PointerViewBox()
        pg.PlotWidget.__init__(self, parent, viewBox=self.viewbox)
        self._init_rows(state, experiment, layer)
        item = self.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setTitle(f"<b>{layer}</b>", size="10pt")
        self.viewbox.setAspectLocked(True)
        self.viewbox.setBorder(pg.mkPen("#b0b0b0"))
        self.setMinimumSize(220, 220)
        brushes = class_brushes(len(self.colors), 200)
        self.scatter = PassiveScatter(
            pos=self.coords[:, :2], brush=[brushes[g] for g in self.groups.tolist()], pen=None, size=5, pxMode=True
        )
        query_rows = np.flatnonzero(self.is_query)
        self.query_scatter = PassiveScatter(
            pos=self.coords[query_rows, :2], brush=[brushes[g] for g in self.groups[query_rows].tolist()],
            pen=make_pen(QColor("#000000"), 1.2), size=10, pxMode=True, symbol="s",
        )  # fmt: skip
        self.highlight = PassiveScatter(pen=make_pen(QColor("#000000"), 2.0), brush=None, size=13, pxMode=True)
        for z, scatter in enumerate((self.scatter, self.query_scatter, self.highlight)):
            scatter.setZValue(z)
            self.addItem(scatter)
        self._text_items: list[pg.TextItem] = []
        self.viewbox.setDefaultPadding(0.06)
        self.viewbox.enableAutoRange()  # follows resizes until the user zooms
        self.viewbox.sigRangeChanged.connect(self.schedule_relabel)
        self.viewbox.point_clicked.connect(self._on_viewbox_clicked)
        self.viewbox.hovered.connect(self._on_viewbox_hovered)

    def resizeEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(ev)
        self.schedule_relabel()

    def screen_anchors(self) -> tuple[np.ndarray, tuple[float, float]]:
        """Points in viewbox pixels (x right, y down) and the viewbox size."""
        if any(self.viewbox.autoRangeEnabled()):
            self.viewbox.updateAutoRange()  # pyqtgraph ranges lazily: a panel laid out at once may still show [0, 1]
        rect = self.viewbox.viewRect()
        size = self.viewbox.boundingRect()
        w, h = float(size.width()), float(size.height())
        if rect.width() <= 0 or rect.height() <= 0 or w <= 0 or h <= 0:
            return np.full((len(self.coords), 2), np.nan), (0.0, 0.0)
        x = (self.coords[:, 0] - rect.left()) / rect.width() * w
        y = (rect.bottom() - self.coords[:, 1]) / rect.height() * h
        return np.column_stack([x, y]), (w, h)

    def relabel(self) -> None:
        """Place the labels again for the current zoom, size and highlights."""
        anchors, bounds = self.screen_anchors()
        forced = self.forced_rows()
        self.label_sides = place_labels(anchors, self.sizes, self.order, forced, bounds)
        rows = np.flatnonzero(self.label_sides >= 0)
        while len(self._text_items) < len(rows):
            item = pg.TextItem("", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 170))  # legible over points
            item.textItem.document().setDocumentMargin(0)
            for part in (item, item.textItem):  # labels never swallow clicks meant for the points
                part.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                part.setAcceptHoverEvents(False)
            item.setZValue(10)
            self.addItem(item, ignoreBounds=True)
            self._text_items.append(item)
        query_font, word_font = _fonts()
        rect = self.viewbox.viewRect()
        w, h = bounds
        px, py = (rect.width() / w, rect.height() / h) if w and h else (0.0, 0.0)
        highlighted = set(self.state.highlighted_rows().tolist())
        for item, i in zip(self._text_items, rows.tolist()):
            side = int(self.label_sides[i])
            sw, sh = self.sizes[i]
            x, y = anchors[i]
            left = {0: x + GAP_PX, 1: x - GAP_PX - sw, 2: x - sw / 2, 3: x - sw / 2}[side]
            top = {0: y - sh / 2, 1: y - sh / 2, 2: y - GAP_PX - sh, 3: y + GAP_PX}[side]
            selected = int(self.rows[i]) in highlighted
            color = QColor("#000000") if selected else _text_color(self.colors[self.groups[i]], self.is_query[i])
            font = query_font if self.is_query[i] or selected else word_font
            item.setText(self.words[i], color=color)
            item.setFont(font)
            item.setPos(rect.left() + left * px, rect.bottom() - top * py)
            item.setVisible(True)
        for item in self._text_items[len(rows) :]:
            item.setVisible(False)
        self.refresh_highlights()
        self.labels_changed.emit()

    def refresh_highlights(self) -> None:
        rows = [self._row_to_word[r] for r in self.state.highlighted_rows().tolist() if r in self._row_to_word]
        if rows:
            self.highlight.setData(pos=self.coords[rows, :2])
        else:
            self.highlight.clear()

    def _word_at(self, x: float, y: float) -> int:
        return nearest_point(self.coords[:, :2], x, y, self.viewbox.viewPixelSize(), 8.0)

    def _on_viewbox_clicked(self, x: float, y: float, _modifiers: object = None) -> None:
        self._click_word(self._word_at(x, y))

    def _on_viewbox_hovered(self, x: float, y: float) -> None:
        self._hover_word(-1 if math.isnan(x) else self._word_at(x, y))


class WordPanel3D(_WordPanelMixin, QWidget):
    """One layer of the word experiment in 3D: a GL view with points and `GLTextItem` labels."""

    labels_changed = Signal()

    def __init__(self, state: AppState, experiment: WordExperiment, layer: str, parent: QWidget | None = None) -> None:
        QWidget.__init__(self, parent)
        import pyqtgraph.opengl as gl

        from ibviewer.gui.widgets.glview import DEFAULT_CAMERA, GLScatterItem, GLScatterView, normalise_coords

        self._gl = gl
        self._init_rows(state, experiment, layer)
        self.display = normalise_coords(self.coords)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"<b>{layer}</b>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = GLScatterView(self)
        self.view.setMinimumSize(220, 220)
        self.view.set_camera_state({k: v for k, v in DEFAULT_CAMERA.items() if k != "distance"})
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        colors = np.array([[c.redF(), c.greenF(), c.blueF(), 0.85] for c in self.colors], dtype=np.float32)
        sizes = np.where(self.is_query, 11.0, 6.0).astype(np.float32)
        self.scatter = GLScatterItem(pos=self.display, color=colors[self.groups], size=sizes, pxMode=True)
        self.scatter.setGLOptions("translucent")
        self.view.addItem(self.scatter)
        self._text_items: list[Any] = []
        self.view.camera_changed.connect(self.schedule_relabel)
        self.view.clicked.connect(self._on_view_clicked)
        self.view.hovered.connect(self._on_view_hovered)

    def resizeEvent(self, ev):  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(ev)
        self.schedule_relabel()

    def _screen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from ibviewer.gui.widgets.glview import project_to_screen

        return project_to_screen(self.display, self.view.mvp_matrix(), self.view.width(), self.view.height())

    def relabel(self) -> None:
        screen, _depth, visible = self._screen()
        anchors = np.where(visible[:, None], screen, np.nan)
        self.label_sides = place_labels(
            anchors, self.sizes, self.order, self.forced_rows(), (self.view.width(), self.view.height())
        )
        rows = np.flatnonzero(self.label_sides >= 0)
        gl = self._gl
        while len(self._text_items) < len(rows):
            item = gl.GLTextItem()
            item.setDepthValue(10)
            self.view.addItem(item)
            self._text_items.append(item)
        query_font, word_font = _fonts()
        highlighted = set(self.state.highlighted_rows().tolist())
        align = {
            0: Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            1: Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            2: Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            3: Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
        }
        for item, i in zip(self._text_items, rows.tolist()):
            side = int(self.label_sides[i])
            selected = int(self.rows[i]) in highlighted
            color = QColor("#000000") if selected else _text_color(self.colors[self.groups[i]], self.is_query[i])
            pad = " " if side == 0 else ""
            item.setData(
                pos=self.display[i].astype(np.float64), text=pad + self.words[i] + (" " if side == 1 else ""),
                color=color, font=query_font if self.is_query[i] or selected else word_font, alignment=align[side],
            )  # fmt: skip
            item.setVisible(True)
        for item in self._text_items[len(rows) :]:
            item.setVisible(False)
        self.labels_changed.emit()

    def refresh_highlights(self) -> None:
        self.schedule_relabel()

    def text_items(self) -> list[Any]:
        return [item for item in self._text_items if item.visible()]

    def _word_at(self, x: float, y: float) -> int:
        from ibviewer.gui.widgets.glview import pick_nearest

        screen, depth, visible = self._screen()
        return pick_nearest(screen, depth, visible, x, y)

    def _on_view_clicked(self, x: float, y: float, modifiers: Any) -> None:
        self._click_word(self._word_at(x, y))

    def _on_view_hovered(self, x: float, y: float) -> None:
        self._hover_word(-1 if math.isnan(x) else self._word_at(x, y))


class WordView(QWidget):
    """The word experiment preset: 2D/3D switch, a legend of query words, one labelled panel per layer.

    Signals
    -------
    experiment_requested(int, str, object)
        Compute the word experiment in these dims with this method and ``n_neighbors`` (None: the default).
    experiment_changed()
        A new `WordExperiment` is drawn.
    """

    experiment_requested = Signal(int, str, object)
    experiment_changed = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.experiment: WordExperiment | None = None
        self.dims = 2
        self.method = "tsne"
        self.n_neighbors: int | None = None
        self.panels: dict[str, WordPanel2D | WordPanel3D] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.dim_buttons: dict[int, QToolButton] = {}
        group = QButtonGroup(self)
        for dims, text in ((2, f"2D (N={WORD_NEIGHBORS[2]})"), (3, f"3D (N={WORD_NEIGHBORS[3]})")):
            button = QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setChecked(dims == 2)
            button.setToolTip(f"Each query word with its {WORD_NEIGHBORS[dims]} nearest words, embedded in {dims}D per layer")
            group.addButton(button)
            button.clicked.connect(lambda _checked=False, d=dims: self.request(d))
            self.dim_buttons[dims] = button
            bar.addWidget(button)
        self.status = QLabel("", self)
        self.status.setStyleSheet("color: #505050;")
        bar.addSpacing(12)
        bar.addWidget(self.status, 1)
        layout.addLayout(bar)

        self.figure, self.title, self.legend, self.grid = figure_frame(self)  # the figure exports render
        self.panel_grid = PanelGrid(self.figure, self.grid)  # rows x columns from the panel count and aspect
        layout.addWidget(self.figure, 1)

        state.run_changed.connect(self._on_state_run_changed)
        state.result_changed.connect(self._on_state_result_changed)
        state.running_changed.connect(self._update_status)
        for signal in (state.selection_changed, state.focus_changed, state.neighbors_changed):
            signal.connect(self._on_state_highlights_changed)
        state.hover_changed.connect(self._on_state_hover_changed)
        self._on_state_run_changed()

    # -- public --------------------------------------------------------------------
    def request(self, dims: int | None = None, method: str | None = None, n_neighbors: int | None = None) -> None:
        """Ask for the word experiment (``dims`` 2 or 3, ``n_neighbors`` synonyms per query word)."""
        if dims is not None:
            self.dims = int(dims)
            self.dim_buttons[self.dims].setChecked(True)
        if method is not None:
            self.method = method
        if n_neighbors is not None:
            self.n_neighbors = int(n_neighbors)
        if self.state.has_words():
            self.experiment_requested.emit(self.dims, self.method, self.n_neighbors)
        self._update_status()

    def set_experiment(self, experiment: WordExperiment | None) -> None:
        """Draw a `WordExperiment` (2D or 3D from its embeddings' dims)."""
        self.panel_grid.set_panels([])
        for panel in self.panels.values():
            panel.deleteLater()
        self.panels = {}
        self.experiment = experiment
        self._update_status()
        if experiment is None:
            self.title.setText("")
            self.legend.setText("")
            return
        dims = int(experiment.embeddings.dims)
        self.dims = dims
        self.dim_buttons[dims].setChecked(True)
        layers = experiment.embeddings.layers
        cls = WordPanel2D if dims == 2 else WordPanel3D
        for layer in layers:
            self.panels[layer] = cls(self.state, experiment, layer, self.figure)
        self.panel_grid.set_panels(list(self.panels.values()))
        colors = class_colors(max(len(experiment.query_words), 1))
        self.legend.setText(
            "<b>Query word</b>&nbsp;&nbsp;"
            + " ".join(
                f"<span style='color:{colors[g].name()}; font-size:13pt'>■</span> {word}&nbsp;&nbsp;"
                for g, word in enumerate(experiment.query_words)
            )
        )
        self.title.setText(
            f"<b>Word experiment</b>: {len(experiment.query_words)} query words and their {experiment.n_neighbors} "
            f"nearest words in {experiment.layer_for_synonyms} ({experiment.metric}) · epoch {experiment.epoch}<br>"
            f"<span style='font-size:9pt; color:#505050'>{experiment.n_selected} words · "
            f"{experiment.embeddings.describe()}</span>"
            + control_text(experiment)
        )
        for panel in self.panels.values():
            panel.schedule_relabel()
        self.experiment_changed.emit()

    def grab_figure(self) -> QImage:
        """A QImage of the whole figure, 3D labels included."""
        return grab_with_gl(self.figure)

    def relabel_now(self) -> None:
        for panel in self.panels.values():
            panel.relabel()

    def drawing_pending(self) -> bool:
        """Whether a panel still waits to place its labels (after a new experiment, a resize or a zoom)."""
        return any(panel.relabel_pending() for panel in self.panels.values())

    # -- slots -----------------------------------------------------------------------
    def _update_status(self) -> None:
        state = self.state
        if state.activations is not None and not state.has_words():
            text = "This run carries no words: the word experiment needs a text run with query words."
        elif "words" in state.running:
            n = self.n_neighbors if self.n_neighbors is not None else WORD_NEIGHBORS[self.dims]
            text = f"Embedding the query words and their {n} nearest words…"
        else:
            text = ""
        self.status.setText(text)

    def _on_state_run_changed(self) -> None:
        self.set_experiment(None)

    def _on_state_result_changed(self, what: str) -> None:
        if what == "words":
            self.set_experiment(self.state.word_experiment)

    def _on_state_highlights_changed(self) -> None:
        for panel in self.panels.values():
            panel.schedule_relabel()

    def _on_state_hover_changed(self, row: int) -> None:
        for panel in self.panels.values():
            panel.schedule_relabel()


def control_text(experiment: WordExperiment) -> str:
    """The control line of the title: each layer's same-group share, trained vs the untrained network."""
    control = experiment.control
    if control is None:
        return "<br><i>No control: this is the first saved epoch (no untrained network to compare with).</i>"
    cells = " · ".join(
        f"{'<u>' if layer == control.chosen_layer else ''}{layer}{'</u>' if layer == control.chosen_layer else ''} "
        f"<b>{control.share[j]:.2f}</b> (untrained {control.control_share[j]:.2f})"
        for j, layer in enumerate(control.layers)
    )
    return (
        f"<br>Same-group share of the {control.k} nearest words: {cells} · chance {control.chance:.3f}. "
        f"Groups were chosen in <u>{control.chosen_layer}</u> (close there by construction); the untrained network "
        f"(epoch {control.control_epoch}) is the control."
    )
