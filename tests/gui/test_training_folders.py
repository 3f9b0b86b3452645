"""The window opens what the training libraries write: a transformers Trainer output folder and one checkpoint-N.

The folders are written by the real ``transformers.Trainer`` (the fixtures of
``tests/integrations``), then opened as a user would: File > Open Folder, the dialog showing
what was found, the dataset given there.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from PySide6.QtWidgets import QDialog, QFileDialog  # noqa: E402

from ibviewer.gui.dialogs.open_dialog import OpenRunDialog  # noqa: E402
from tests.integrations.conftest import tokens_npz  # noqa: E402,F401 - fixture
from tests.integrations.test_transformers_runs import BLOCKS, bert_run  # noqa: E402,F401 - fixture

pytestmark = pytest.mark.slow
HANG_GUARD_MS = 240_000


def _open_folder(window, qtbot, monkeypatch, folder, dataset):
    shown = []

    def answer(dialog):
        shown.append(dialog)
        dialog.dataset_combo.setCurrentText(str(dataset))
        dialog._on_buttons_accepted()
        return dialog.result()

    monkeypatch.setattr(OpenRunDialog, "exec", answer)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    window.menus.open_folder_action.trigger()
    assert shown[0].result() == QDialog.DialogCode.Accepted, shown[0].error_label.text()
    qtbot.waitUntil(lambda: window.state.run is not None and window.state.run.path == folder and not window.is_busy(),
                    timeout=HANG_GUARD_MS)  # fmt: skip
    assert window.last_error is None, window.last_error
    return shown[0]


def test_file_open_folder_opens_a_trainer_output_and_one_checkpoint(window, qtbot, monkeypatch, bert_run, tokens_npz):
    dialog = _open_folder(window, qtbot, monkeypatch, bert_run / "out", tokens_npz)
    text = dialog.survey_label.text()
    assert "transformers Trainer output: 2 checkpoints: checkpoint-2, checkpoint-4" in text
    assert "BertForSequenceClassification" in text and "still needed: a dataset" in text
    assert dialog.asks_dataset and not dialog.asks_model  # the config builds the model
    state = window.state
    assert state.activations.epochs == (1, 2) and list(state.layer_names) == BLOCKS
    assert window.live.is_following()  # a Trainer output can gain checkpoints

    dialog = _open_folder(window, qtbot, monkeypatch, bert_run / "out" / "checkpoint-2", tokens_npz)
    assert "transformers checkpoint: one checkpoint (one epoch)" in dialog.survey_label.text()
    assert state.activations.epochs == (1,) and list(state.layer_names) == BLOCKS
