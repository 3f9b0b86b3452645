"""The neighbours panel: the clicked sample's k nearest neighbours in its layer's original space.

Lists rank, sample (thumbnail for images, the word for text), label and distance;
k and the metric are adjustable (they are `AppState` settings: the window's controller
looks the neighbours up again); below, how many of these neighbours are still neighbours
in every other layer. Clicking a row focuses that neighbour.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ibviewer.core.config import METRICS
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.style import class_colors

__all__ = ["NeighborsPanel", "image_to_pixmap"]

THUMB_PX = 32  # the clicked sample's thumbnail
ROW_THUMB_PX = 22  # a neighbour's thumbnail: small rows, so the list shows k rows in the space it has
MIN_ROWS_SHOWN = 10  # the list asks for room for this many rows (or k, when smaller)


def image_to_pixmap(image: np.ndarray, size: int = THUMB_PX) -> QPixmap:
    """A (H, W) or (H, W, 3) image in [0, 1] as a pixmap scaled (nearest) to ``size`` pixels."""
    array = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        data = np.ascontiguousarray(255 - (array * 255).astype(np.uint8))  # dark ink on white, as digits are drawn
        height, width = data.shape
        qimage = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    else:
        data = np.ascontiguousarray((array[:, :, :3] * 255).astype(np.uint8))
        height, width = data.shape[:2]
        qimage = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


class NeighborsPanel(QWidget):
    """Table of the focused sample's neighbours, with k and the metric of the look-up."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        header = QHBoxLayout()
        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(THUMB_PX + 8, THUMB_PX + 8)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(self.thumbnail)
        header.addWidget(self.heading, 1)
        layout.addLayout(header)

        controls = QFormLayout()
        controls.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        row = QHBoxLayout()
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 1000)
        self.k_spin.setValue(state.settings.k)
        self.k_spin.setToolTip("How many nearest neighbours to list (in the layer's own space, not the 2-D picture)")
        self.metric_combo = QComboBox()
        for metric, title in METRICS.items():
            self.metric_combo.addItem(title, metric)
        self.metric_combo.setCurrentIndex(list(METRICS).index(state.settings.metric))
        self.metric_combo.setToolTip("Distance used in the layer's original space")
        row.addWidget(QLabel("k"))
        row.addWidget(self.k_spin)
        row.addSpacing(10)
        row.addWidget(QLabel("metric"))
        row.addWidget(self.metric_combo)
        row.addStretch(1)
        controls.addRow(row)
        layout.addLayout(controls)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Rank", "Sample", "Label", "Distance"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(ROW_THUMB_PX, ROW_THUMB_PX))
        self.table.verticalHeader().setDefaultSectionSize(ROW_THUMB_PX + 2)
        self.table.verticalHeader().setMinimumSectionSize(ROW_THUMB_PX + 2)
        self.table.setAlternatingRowColors(True)
        self.table.setToolTip("Click a neighbour to select it and list its own neighbours")
        header_view = self.table.horizontalHeader()
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header_view.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        # the list and, beside it, how many of its rows are neighbours in the other layers: side by side,
        # so the list keeps the panel's height for its k rows
        body = QHBoxLayout()
        body.addWidget(self.table, 3)
        self.overlap_box = QWidget()
        overlap_layout = QVBoxLayout(self.overlap_box)
        overlap_layout.setContentsMargins(0, 0, 0, 0)
        self.overlap_title = QLabel("<b>Still neighbours in other layers</b>")
        self.overlap_title.setWordWrap(True)
        overlap_layout.addWidget(self.overlap_title)
        self.overlap_table = QTableWidget(0, 2)
        self.overlap_table.setHorizontalHeaderLabels(["Layer", "Shared neighbours"])
        self.overlap_table.verticalHeader().setVisible(False)
        self.overlap_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.overlap_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.overlap_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.overlap_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.overlap_table.verticalHeader().setDefaultSectionSize(ROW_THUMB_PX + 2)
        overlap_layout.addWidget(self.overlap_table, 0)
        overlap_layout.addStretch(1)  # title and table at the top, next to the list's first rows
        body.addWidget(self.overlap_box, 2)
        layout.addLayout(body, 1)

        self.k_spin.valueChanged.connect(self._on_k_spin_value_changed)
        self.metric_combo.currentIndexChanged.connect(self._on_metric_combo_index_changed)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        state.run_changed.connect(self.refresh)
        state.focus_changed.connect(self.refresh)
        state.neighbors_changed.connect(self.refresh)
        state.settings_changed.connect(self._on_state_settings_changed)
        self.refresh()

    # -- drawing -------------------------------------------------------------------
    def refresh(self) -> None:
        state = self.state
        self.table.setRowCount(0)
        self.overlap_table.setRowCount(0)
        self.thumbnail.clear()
        self._show_tables(state.focus is not None, state.focus is not None)
        if state.focus is None:
            self.heading.setText(
                "<span style='color:#606060'>Click a point in any layer panel to list its nearest neighbours "
                "in that layer's original space.</span>"
            )
            return
        row, layer = state.focus.row, state.focus.layer
        names = state.class_names()
        label = int(state.labels[row])
        self.heading.setText(
            f"<b>{state.sample_name(row)}</b> (label {self._label_html(label, names)}) "
            f"in <b>{layer}</b> at epoch {state.epoch}"
        )
        image = state.sample_image(row)
        if image is not None:
            self.thumbnail.setPixmap(image_to_pixmap(image, THUMB_PX))
        neighbors = state.neighbors
        if neighbors is None:
            self.overlap_title.setText("<b>Still neighbours in other layers</b> <i>(computing…)</i>")
            self._fit_table(state.settings.k)
            return
        self.overlap_title.setText("<b>Still neighbours in other layers</b>")
        self.table.setRowCount(len(neighbors.focus_indices))
        colors = class_colors(len(names))
        for rank, (nb_row, distance) in enumerate(zip(neighbors.focus_indices, neighbors.focus_distances), start=1):
            nb_row = int(nb_row)
            nb_label = int(state.labels[nb_row])
            rank_item = QTableWidgetItem(str(rank))
            rank_item.setData(Qt.ItemDataRole.UserRole, nb_row)
            rank_item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            sample_item = QTableWidgetItem(state.sample_name(nb_row))
            image = state.sample_image(nb_row)
            if image is not None:
                sample_item.setIcon(QIcon(image_to_pixmap(image, ROW_THUMB_PX)))
            label_item = QTableWidgetItem(names[nb_label] if nb_label < len(names) else str(nb_label))
            label_item.setForeground(colors[nb_label % len(colors)])
            if nb_label != label:
                label_item.setToolTip("a different label from the clicked sample")
                font = QFont()
                font.setItalic(True)
                label_item.setFont(font)
            distance_item = QTableWidgetItem(f"{distance:.4g}")
            distance_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((rank_item, sample_item, label_item, distance_item)):
                self.table.setItem(rank - 1, column, item)
        self._fit_table(len(neighbors.focus_indices))
        layers = list(neighbors.indices)
        self.overlap_table.setRowCount(len(layers))
        for i, other in enumerate(layers):
            shared = neighbors.overlap(other)
            name_item = QTableWidgetItem(other)
            value_item = QTableWidgetItem(f"{shared} of {neighbors.k}")
            value_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if other == neighbors.layer:
                font = QFont()
                font.setBold(True)
                name_item.setFont(font)
                name_item.setToolTip("the layer you clicked in")  # bold: a "(clicked)" suffix gets cut off here
            shade = int(255 - 90 * shared / max(neighbors.k, 1))
            value_item.setBackground(QColor(shade, 255 - (255 - shade) // 3, shade))
            self.overlap_table.setItem(i, 0, name_item)
            self.overlap_table.setItem(i, 1, value_item)
        self._fit_overlap_table()

    def _show_tables(self, table: bool, overlap: bool) -> None:
        """Empty tables are hidden: the hint (or the list) gets the room instead of blank grids."""
        self.table.setVisible(table)
        self.overlap_box.setVisible(overlap)

    def _fit_table(self, n_rows: int) -> None:
        """Room for the k listed rows (up to `MIN_ROWS_SHOWN`; more scroll)."""
        rows = max(1, min(n_rows, MIN_ROWS_SHOWN))
        height = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth() + 2
        self.table.setMinimumHeight(height + rows * self.table.verticalHeader().defaultSectionSize())

    def _fit_overlap_table(self) -> None:
        """As tall as its rows (up to 8), so the neighbour list keeps the space."""
        rows = min(self.overlap_table.rowCount(), 8)
        height = self.overlap_table.horizontalHeader().sizeHint().height() + 2 * self.overlap_table.frameWidth() + 2
        height += sum(self.overlap_table.rowHeight(i) for i in range(rows))
        self.overlap_table.setMaximumHeight(max(height, 60))

    @staticmethod
    def _label_html(label: int, names: list[str]) -> str:
        color = class_colors(len(names))[label % max(len(names), 1)].name()
        name = names[label] if label < len(names) else str(label)
        return f"<span style='color:{color}'>●</span> {name}"

    def listed_rows(self) -> list[int]:
        """Rows listed in the table, nearest first (for tests and the CSV export)."""
        return [int(self.table.item(i, 0).data(Qt.ItemDataRole.UserRole)) for i in range(self.table.rowCount())]

    # -- gestures ------------------------------------------------------------------
    def _on_k_spin_value_changed(self, value: int) -> None:
        self.state.set_settings(k=int(value))

    def _on_metric_combo_index_changed(self, index: int) -> None:
        self.state.set_settings(metric=str(self.metric_combo.itemData(index)))

    def _on_state_settings_changed(self) -> None:
        settings = self.state.settings  # k or the metric may come from elsewhere (a session)
        for widget in (self.k_spin, self.metric_combo):
            widget.blockSignals(True)
        self.k_spin.setValue(settings.k)
        self.metric_combo.setCurrentIndex(self.metric_combo.findData(settings.metric))
        for widget in (self.k_spin, self.metric_combo):
            widget.blockSignals(False)

    def _on_table_cell_clicked(self, table_row: int, column: int) -> None:
        item = self.table.item(table_row, 0)
        if item is None or self.state.focus is None:
            return
        self.state.set_focus(int(item.data(Qt.ItemDataRole.UserRole)), self.state.focus.layer)
