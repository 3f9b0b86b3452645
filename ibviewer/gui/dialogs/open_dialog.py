"""Asking how to open what the user picked: what was found there, then the model factory and dataset it still needs.

The dialog shows :func:`ibviewer.core.run.survey`'s answer first (kind, epochs found, what is
still needed, notes), then asks only for what opening needs: ``MODULE:CALLABLE`` that builds
the model for plain checkpoints, the data to run it on for checkpoints and ``.pt2``
programs. Answers are remembered per path (QSettings) and offered again for that path only:
another run never inherits the previous run's factory and dataset. Consent (the pickle
checkbox) is never remembered.
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
from ibviewer.core.run.survey import Survey, survey
from ibviewer.gui.settings import app_settings

__all__ = ["OpenRunDialog", "needs_model", "needs_dataset", "RUN_FILE_FILTER", "PICKLE_CONSENT_TEXT", "remembered_answers"]

RUN_FILE_FILTER = (
    "Runs and checkpoints (run.json *.pt *.pth *.ckpt *.pt2 *.npz *.safetensors *.bin);;"
    "ibviewer run manifest (run.json);;PyTorch checkpoints (*.pt *.pth *.ckpt *.bin);;"
    "torch.export programs (*.pt2);;Activation archives (*.npz *.safetensors);;All files (*)"
)
#: the pickle checkbox: what ticking it means, in the user's words
PICKLE_CONSENT_TEXT = (
    "Trust this file: unpickle it fully, which runs any code stored in it with your rights "
    "(only for files you made or fully trust)"
)
_ANSWERS_KEY = "open/answers"  # {path: {"model", "model_kwargs", "dataset", "max_samples"}}
_MAX_REMEMBERED = 20


def remembered_answers(path: str | Path) -> dict[str, Any]:
    """The answers last given for ``path`` (empty for a path never opened through the dialog)."""
    answers = _all_answers()
    entry = answers.get(str(Path(path).expanduser().absolute()), {})
    return entry if isinstance(entry, dict) else {}


def _all_answers() -> dict[str, Any]:
    raw = app_settings().value(_ANSWERS_KEY, "{}")
    try:
        answers = json.loads(raw if isinstance(raw, str) else "{}")
    except json.JSONDecodeError:
        return {}
    return answers if isinstance(answers, dict) else {}


def _remember(path: str, entry: dict[str, Any]) -> None:
    answers = _all_answers()
    key = str(Path(path).expanduser().absolute())
    answers.pop(key, None)
    answers[key] = entry
    app_settings().setValue(_ANSWERS_KEY, json.dumps(dict(list(answers.items())[-_MAX_REMEMBERED:])))


class OpenRunDialog(QDialog):
    """What was found at ``path``; the model factory, its keyword arguments, dataset and sample limit it needs.

    Parameters
    ----------
    path : str
    found : Survey, optional
        What :func:`survey` says of ``path`` (surveyed here when not given).
    max_samples : int, optional
        The sample limit offered when none was given for this path before (the launch option).
    """

    def __init__(
        self, path: str, parent: QWidget | None = None, found: Survey | None = None, max_samples: int | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open Run or Checkpoint")
        self.path = path
        self.found = found if found is not None else survey(path)
        self.asks_model = self.found.needs_model
        self.asks_dataset = self.found.needs_dataset
        answers = remembered_answers(path)
        layout = QVBoxLayout(self)
        self.survey_label = QLabel(self._survey_html())
        self.survey_label.setWordWrap(True)
        layout.addWidget(self.survey_label)
        form = QFormLayout()
        self.model_edit = QLineEdit(str(answers.get("model") or ""))
        self.model_edit.setPlaceholderText("ibviewer.models:mlp  or  /path/to/net.py:make")
        self.model_edit.setToolTip(
            "MODULE:CALLABLE returning the torch.nn.Module; MODULE is importable or a .py file. "
            "Naming a factory here runs it: only name code you trust."
        )
        browse_model = QPushButton("Browse…")
        browse_model.clicked.connect(self._on_browse_model_clicked)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(browse_model)
        kwargs = answers.get("model_kwargs")
        self.kwargs_edit = QLineEdit(json.dumps(kwargs) if isinstance(kwargs, dict) else "")
        self.kwargs_edit.setPlaceholderText('{"sizes": [64, 32, 10]}')
        self.dataset_combo = QComboBox()
        self.dataset_combo.setEditable(True)
        self.dataset_combo.addItems(["digits", "ib12"])
        self.dataset_combo.setCurrentText(str(answers.get("dataset") or ""))
        self.dataset_combo.lineEdit().setPlaceholderText("digits, ib12 or a file")
        self.dataset_combo.setToolTip("digits, ib12, a .npz file (x, y, ...) or MNIST idx images")
        browse_data = QPushButton("Browse…")
        browse_data.clicked.connect(self._on_browse_dataset_clicked)
        data_row = QHBoxLayout()
        data_row.addWidget(self.dataset_combo, 1)
        data_row.addWidget(browse_data)
        self.max_samples = QSpinBox()
        self.max_samples.setRange(0, 1_000_000)
        self.max_samples.setSpecialValueText("all")
        self.max_samples.setValue(int(answers.get("max_samples", max_samples) or 0))
        self.max_samples.setToolTip("Capture a seeded subset of this many samples (0: all)")
        self.trust_pickle = QCheckBox(PICKLE_CONSENT_TEXT)
        self.trust_pickle.setToolTip(
            "Checkpoints are read with PyTorch's safe loader, which runs no code. A file that needs full "
            "unpickling can run any program when it is loaded. Never remembered: asked again each time."
        )
        if self.asks_model:
            form.addRow("Model factory", model_row)
            form.addRow("Factory arguments (JSON)", self.kwargs_edit)
        if self.asks_dataset:
            form.addRow("Dataset", data_row)
        form.addRow("Samples", self.max_samples)
        if self.asks_model:
            form.addRow("", self.trust_pickle)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b00020;")
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setEnabled(self.found.opens)
        layout.addWidget(buttons)
        self.resize(600, self.sizeHint().height())

    def _survey_html(self) -> str:
        from html import escape

        lines = [escape(line.replace(" (--model)", "").replace(" (--dataset)", ""), quote=False) for line in self.found.lines()]
        model = self.found.model or ""
        if model and not model.startswith(("ibviewer.models:", "transformers ")):
            lines.append(f"<i>{escape(model, quote=False)} is code named by the run: you will be asked before it runs.</i>")
        head = f"<b>{escape(self.found.path.name or str(self.found.path))}</b>"
        return head + "<br>" + "<br>".join(lines)

    def values(self) -> dict[str, Any]:
        """The answers: model, model_kwargs (dict or None), dataset, max_samples (None = all), trust_pickle."""
        kwargs_text = self.kwargs_edit.text().strip()
        return {
            "model": (self.model_edit.text().strip() or None) if self.asks_model else None,
            "model_kwargs": json.loads(kwargs_text) if kwargs_text and self.asks_model else None,
            "dataset": (self.dataset_combo.currentText().strip() or None) if self.asks_dataset else None,
            "max_samples": self.max_samples.value() or None,
            "trust_pickle": self.asks_model and self.trust_pickle.isChecked(),
        }

    def _on_buttons_accepted(self) -> None:
        if self.asks_model and ":" not in self.model_edit.text():
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
        if self.asks_dataset and not self.dataset_combo.currentText().strip():
            self.error_label.setText("Choose a dataset: digits, ib12 or a file.")
            return
        values = self.values()
        _remember(self.path, {key: values[key] for key in ("model", "model_kwargs", "dataset", "max_samples")})
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
