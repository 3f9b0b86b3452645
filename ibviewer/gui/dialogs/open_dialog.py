"""Asking how to open a file that needs more than its path: the model factory and the dataset.

Plain checkpoints (.pt/.pth/.ckpt) hold weights only: they need ``MODULE:CALLABLE`` that
builds the model and the data to run it on; ``torch.export`` programs (.pt2) need only
the data. The last answers are remembered (QSettings) and offered again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ibviewer.core.run import needs_dataset, needs_model
from ibviewer.gui.settings import app_settings

__all__ = ["OpenRunDialog", "needs_model", "needs_dataset", "RUN_FILE_FILTER"]

RUN_FILE_FILTER = (
    "Runs and checkpoints (run.json *.pt *.pth *.ckpt *.pt2 *.npz *.safetensors);;"
    "ibviewer run manifest (run.json);;PyTorch checkpoints (*.pt *.pth *.ckpt);;"
    "torch.export programs (*.pt2);;Activation archives (*.npz *.safetensors);;All files (*)"
)


class OpenRunDialog(QDialog):
    """Model factory (``MODULE:CALLABLE``), its keyword arguments, dataset and sample limit."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open Run or Checkpoint")
        self.path = path
        settings = app_settings()
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>{Path(path).name}</b> holds weights only. Say which code builds the model and which data to run it on."
            if needs_model(path)
            else f"<b>{Path(path).name}</b> needs the data to run the model on."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.model_edit = QLineEdit(str(settings.value("open/model", "")))
        self.model_edit.setPlaceholderText("ibviewer.models:mlp  or  /path/to/net.py:make")
        self.model_edit.setToolTip("MODULE:CALLABLE returning the torch.nn.Module; MODULE is importable or a .py file")
        browse_model = QPushButton("Browse…")
        browse_model.clicked.connect(self._on_browse_model_clicked)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(browse_model)
        self.kwargs_edit = QLineEdit(str(settings.value("open/model_kwargs", "")))
        self.kwargs_edit.setPlaceholderText('{"sizes": [64, 32, 10]}')
        self.dataset_combo = QComboBox()
        self.dataset_combo.setEditable(True)
        self.dataset_combo.addItems(["digits", "ib12"])
        self.dataset_combo.setCurrentText(str(settings.value("open/dataset", "digits")))
        self.dataset_combo.setToolTip("digits, ib12, a .npz file (x, y, ...) or MNIST idx images")
        browse_data = QPushButton("Browse…")
        browse_data.clicked.connect(self._on_browse_dataset_clicked)
        data_row = QHBoxLayout()
        data_row.addWidget(self.dataset_combo, 1)
        data_row.addWidget(browse_data)
        self.max_samples = QSpinBox()
        self.max_samples.setRange(0, 1_000_000)
        self.max_samples.setSpecialValueText("all")
        self.max_samples.setValue(int(settings.value("open/max_samples", 0) or 0))
        self.max_samples.setToolTip("Capture a seeded subset of this many samples (0: all)")
        self.trust_pickle = QCheckBox("Allow full unpickling (runs code from the file: only for files you trust)")
        if needs_model(path):
            form.addRow("Model factory", model_row)
            form.addRow("Factory arguments (JSON)", self.kwargs_edit)
        form.addRow("Dataset", data_row)
        form.addRow("Samples", self.max_samples)
        if needs_model(path):
            form.addRow("", self.trust_pickle)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b00020;")
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def values(self) -> dict[str, Any]:
        """The answers: model, model_kwargs (dict or None), dataset, max_samples (None = all), trust_pickle."""
        kwargs_text = self.kwargs_edit.text().strip()
        return {
            "model": self.model_edit.text().strip() or None if needs_model(self.path) else None,
            "model_kwargs": json.loads(kwargs_text) if kwargs_text and needs_model(self.path) else None,
            "dataset": self.dataset_combo.currentText().strip() or None,
            "max_samples": self.max_samples.value() or None,
            "trust_pickle": self.trust_pickle.isChecked(),
        }

    def _on_buttons_accepted(self) -> None:
        if needs_model(self.path) and ":" not in self.model_edit.text():
            self.error_label.setText("The model factory must be MODULE:CALLABLE, e.g. ibviewer.models:mlp.")
            return
        try:
            kwargs = json.loads(self.kwargs_edit.text()) if self.kwargs_edit.text().strip() else {}
        except json.JSONDecodeError as exc:
            self.error_label.setText(f"The factory arguments are not valid JSON ({exc}).")
            return
        if not isinstance(kwargs, dict):
            self.error_label.setText('The factory arguments must be a JSON object, e.g. {"sizes": [64, 10]}.')
            return
        if not self.dataset_combo.currentText().strip():
            self.error_label.setText("Choose a dataset: digits, ib12 or a file.")
            return
        settings = app_settings()
        settings.setValue("open/model", self.model_edit.text().strip())
        settings.setValue("open/model_kwargs", self.kwargs_edit.text().strip())
        settings.setValue("open/dataset", self.dataset_combo.currentText().strip())
        settings.setValue("open/max_samples", self.max_samples.value())
        self.accept()

    def _on_browse_model_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file defining the model", "", "Python (*.py)")
        if path:
            callable_name = self.model_edit.text().rpartition(":")[2] or "make"
            self.model_edit.setText(f"{path}:{callable_name}")

    def _on_browse_dataset_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dataset", "", "Datasets (*.npz *.idx *ubyte *.gz);;All files (*)")
        if path:
            self.dataset_combo.setCurrentText(path)
