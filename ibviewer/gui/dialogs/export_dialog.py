"""Choosing what to export as a figure: which part of the window, the format, and the PNG resolution."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from ibviewer.gui.export import FIGURE_FORMATS
from ibviewer.gui.settings import app_settings

__all__ = ["ExportFigureDialog"]


class ExportFigureDialog(QDialog):
    """Target (information plane, layer grid, one layer, whole window), format and PNG scale."""

    def __init__(self, targets: dict[str, str], widget_for: Callable[[str], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Figure")
        self._widget_for = widget_for
        settings = app_settings()
        form = QFormLayout(self)
        self.target_combo = QComboBox()
        for key, title in targets.items():
            self.target_combo.addItem(title, key)
        last_target = self.target_combo.findData(settings.value("export/target", "infoplane"))
        self.target_combo.setCurrentIndex(max(last_target, 0))
        self.format_combo = QComboBox()
        for key, title in FIGURE_FORMATS.items():
            self.format_combo.addItem(f"{key.upper()} — {title}", key)
        self.format_combo.setCurrentIndex(max(self.format_combo.findData(settings.value("export/format", "png")), 0))
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(0.5, 8.0)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setSuffix(" ×")
        self.scale_spin.setValue(float(settings.value("export/scale", 2.0)))
        self.scale_spin.setToolTip("PNG resolution relative to the screen (2× suits print)")
        self.size_label = QLabel()
        form.addRow("Figure", self.target_combo)
        form.addRow("Format", self.format_combo)
        form.addRow("PNG resolution", self.scale_spin)
        form.addRow("", self.size_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.target_combo.currentIndexChanged.connect(self._update_size_label)
        self.format_combo.currentIndexChanged.connect(self._update_size_label)
        self.scale_spin.valueChanged.connect(self._update_size_label)
        self._update_size_label()

    def values(self) -> tuple[str, str, float]:
        """(target key, format, PNG scale)."""
        return str(self.target_combo.currentData()), str(self.format_combo.currentData()), float(self.scale_spin.value())

    def _update_size_label(self) -> None:
        target, fmt, scale = self.values()
        self.scale_spin.setEnabled(fmt == "png")
        size = self._widget_for(target).size()
        if fmt == "png":
            self.size_label.setText(f"{round(size.width() * scale)} × {round(size.height() * scale)} pixels")
        else:
            self.size_label.setText(f"vector, {size.width()} × {size.height()} points")

    def _on_buttons_accepted(self) -> None:
        target, fmt, scale = self.values()
        settings = app_settings()
        settings.setValue("export/target", target)
        settings.setValue("export/format", fmt)
        settings.setValue("export/scale", scale)
        self.accept()
