"""Opening from the window: folders through File > Open Folder with what was found shown first, drops,
the per-path memory of the open dialog, the choice among Lightning versions and one-line errors for bad data."""

from __future__ import annotations

import json

import numpy as np
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog

from ibviewer.errors import IBViewerError
from ibviewer.gui.dialogs.error_dialog import build_error_dialog
from ibviewer.gui.dialogs.open_dialog import OpenRunDialog
from ibviewer.models import mlp
from tests.gui.conftest import WINDOW_SAMPLES
from tests.hostile import SIZES, run_folder

HANG_GUARD_MS = 120_000


class _Answer:
    """Replaces `OpenRunDialog.exec`: records each dialog shown and answers it (``fill`` may edit it first)."""

    def __init__(self, accept=True, fill=None):
        self.shown: list[OpenRunDialog] = []
        self.accept, self.fill = accept, fill

    def install(self, monkeypatch):
        monkeypatch.setattr(OpenRunDialog, "exec", lambda dialog: self.answer(dialog))

    def answer(self, dialog):
        self.shown.append(dialog)
        dialog.max_samples.setValue(WINDOW_SAMPLES)
        if self.fill is not None:
            self.fill(dialog)
        if not self.accept:
            return QDialog.DialogCode.Rejected
        dialog._on_buttons_accepted()
        return dialog.result()


def test_file_open_folder_shows_what_was_found_then_opens_every_epoch(window, qtbot, digits_run, monkeypatch):
    answer = _Answer()
    answer.install(monkeypatch)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(digits_run))
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.menus.open_folder_action.trigger()
    assert window.last_error is None
    (dialog,) = answer.shown
    text = dialog.survey_label.text()
    assert "ibviewer run: 3 saved epochs" in text and "ready to open" in text and "ibviewer.models:mlp" in text
    assert not dialog.asks_model and not dialog.asks_dataset  # the run names both
    assert window.state.activations.epochs == (0, 2, 4)
    assert window.state.n_samples == WINDOW_SAMPLES


def test_choosing_run_json_in_the_file_dialog_opens_its_folder(window, qtbot, digits_run, monkeypatch):
    answer = _Answer()
    answer.install(monkeypatch)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(digits_run / "run.json"), ""))
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.menus.open_action.trigger()
    assert answer.shown[0].path == str(digits_run)
    assert window.state.activations.epochs == (0, 2, 4)


def _drop_events(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(window.width() / 2, window.height() / 2)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(point.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    drop = QDropEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    return mime, enter, drop


def test_dropping_a_file_or_a_folder_opens_it(window, qtbot, archive_run, digits_run, monkeypatch):
    mime, enter, drop = _drop_events(window, archive_run)  # the events point to mime: keep it
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.dropEvent(drop)  # an activations archive needs nothing: it opens at once
    assert window.state.run.path == archive_run and window.state.activations.epochs == (0, 1)

    answer = _Answer()
    answer.install(monkeypatch)
    mime, _, drop = _drop_events(window, digits_run)
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.dropEvent(drop)  # a folder: what was found is shown first
    assert len(answer.shown) == 1 and window.state.activations.epochs == (0, 2, 4)

    text_only = QMimeData()
    text_only.setText("not a file")
    enter = QDragEnterEvent(enter.position().toPoint(), Qt.DropAction.CopyAction, text_only, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)  # fmt: skip
    enter.setAccepted(False)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()


def test_the_open_dialog_offers_answers_again_only_for_the_same_path(qtbot, tmp_path):
    torch.save(mlp(SIZES).state_dict(), tmp_path / "first.pt")
    torch.save(mlp(SIZES).state_dict(), tmp_path / "second.pt")
    dialog = OpenRunDialog(str(tmp_path / "first.pt"))
    qtbot.addWidget(dialog)
    assert dialog.asks_model and dialog.asks_dataset and "checkpoint file" in dialog.survey_label.text()
    assert "still needed: a model" in dialog.survey_label.text()
    dialog.model_edit.setText("ibviewer.models:mlp")
    dialog.kwargs_edit.setText(json.dumps({"sizes": SIZES}))
    dialog.dataset_combo.setCurrentText("ib12")
    dialog.trust_pickle.setChecked(True)
    dialog._on_buttons_accepted()
    assert dialog.result() == QDialog.DialogCode.Accepted
    other = OpenRunDialog(str(tmp_path / "second.pt"))  # another run: nothing of the first one's answers
    qtbot.addWidget(other)
    assert other.model_edit.text() == "" and other.kwargs_edit.text() == "" and other.dataset_combo.currentText() == ""
    same = OpenRunDialog(str(tmp_path / "first.pt"))
    qtbot.addWidget(same)
    assert same.model_edit.text() == "ibviewer.models:mlp" and same.dataset_combo.currentText() == "ib12"
    assert json.loads(same.kwargs_edit.text()) == {"sizes": SIZES}
    assert not same.trust_pickle.isChecked()  # consent is never remembered
    assert "runs any code stored in it" in same.trust_pickle.text()


def _lightning_version(folder, epochs):
    """A ``version_N/checkpoints`` folder of Lightning-style ``.ckpt`` files (state_dict under ``net.``)."""
    (folder / "checkpoints").mkdir(parents=True)
    for epoch in epochs:
        state = {f"net.{k}": v for k, v in mlp(SIZES).state_dict().items()}
        torch.save({"epoch": epoch, "global_step": epoch + 1, "state_dict": state},
                   folder / "checkpoints" / f"epoch={epoch}-step={epoch + 1}.ckpt")  # fmt: skip


def test_a_lightning_root_with_several_versions_offers_the_choice(window, qtbot, tmp_path, monkeypatch):
    root = tmp_path / "lightning_logs"
    _lightning_version(root / "version_0", (0, 1))
    _lightning_version(root / "version_1", (0, 1, 2))
    offered = []

    def choose(parent, title, label, items, current, editable):
        offered.append(list(items))
        return "version_0", True

    monkeypatch.setattr(QInputDialog, "getItem", choose)
    answer = _Answer(accept=False)
    answer.install(monkeypatch)
    window.open_with_dialogs(root)
    assert offered == [["version_1", "version_0"]]  # newest first
    assert answer.shown[0].path == str(root / "version_0")  # the chosen one is surveyed and opened
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a: ("", False))
    window.open_with_dialogs(root)  # cancelling the choice opens nothing
    assert len(answer.shown) == 1 and window.state.run is None


def test_something_ibviewer_does_not_open_is_one_line_before_anything_runs(window, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.txt").write_text("meow")
    window.open_with_dialogs(tmp_path / "photos")
    assert isinstance(window.last_error, IBViewerError)
    assert "holds no checkpoints" in str(window.last_error) and "\n" not in str(window.last_error)
    assert window.state.run is None and not window.is_busy()


def _damaged_inputs(tmp_path):
    """(path, open options, words the message must contain) for broken and foreign inputs."""
    np.savez(tmp_path / "good.npz", x=np.zeros((50, 12), np.float32), y=np.arange(50) % 2)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "acts.npz").write_bytes(data[: len(data) // 2])  # an activations archive, truncated
    (tmp_path / "pk.npz").write_bytes(b"PK\x03\x04 just four magic bytes")
    (tmp_path / "notes.pt").write_text("these are my notes, not a checkpoint\n" * 20)
    wrong_type = run_folder(tmp_path / "wrong_type")
    manifest = json.loads((wrong_type / "run.json").read_text())
    manifest["epochs"][0]["metrics"] = [1, 2]
    (wrong_type / "run.json").write_text(json.dumps(manifest))
    infinite = run_folder(tmp_path / "infinite")
    (infinite / "run.json").write_text((infinite / "run.json").read_text().replace('"epoch": 1', '"epoch": 1e999'))
    outside = run_folder(tmp_path / "outside", dataset="../good.npz")
    model = {"model": "ibviewer.models:mlp", "model_kwargs": {"sizes": SIZES}, "dataset": "ib12"}
    return [
        (tmp_path / "acts.npz", {}, "damaged"),
        (tmp_path / "notes.pt", model, "not a PyTorch checkpoint"),
        (run_folder(tmp_path / "bad_dataset"), {"dataset": str(tmp_path / "pk.npz")}, "damaged"),
        (wrong_type, {}, "metrics"),
        (infinite, {}, "epoch"),
        (outside, {}, "outside"),
    ]


def test_bad_data_is_a_one_line_dialog_never_a_bug_report(window, qtbot, tmp_path):
    for path, options, needle in _damaged_inputs(tmp_path):
        window.last_error = None
        with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS):
            window.open_path(path, **options)
        exc = window.last_error
        assert isinstance(exc, IBViewerError), (path, exc)
        box = build_error_dialog(window, exc)
        assert needle in box.text(), (path, box.text())
        assert "\n" not in box.text() and "bug" not in (box.text() + box.informativeText()).lower()
        assert box.detailedText() == ""  # no traceback for bad data
        box.deleteLater()
    assert window.state.run is None  # nothing half-opened


def test_recent_runs_keep_the_answers_but_no_consent(window, qtbot, tmp_path):
    from ibviewer.gui.settings import recent_runs

    path = tmp_path / "net.pt"
    torch.save(mlp(SIZES).state_dict(), path)
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(path, model="ibviewer.models:mlp", model_kwargs={"sizes": SIZES}, dataset="ib12")
    assert window.last_error is None
    (entry,) = recent_runs()
    assert entry["path"] == str(path) and entry["dataset"] == "ib12"
    assert not any(key.startswith("trust") for key in entry)
