"""Figure and data exports, the error and open dialogs, and the screenshot mode (in a subprocess)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from ibviewer.errors import CheckpointLoadError, IBViewerError
from ibviewer.gui.dialogs.error_dialog import build_error_dialog, show_error
from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog
from ibviewer.gui.dialogs.open_dialog import OpenRunDialog, needs_dataset, needs_model
from ibviewer.gui.settings import app_settings
from tests.gui.test_main_window import MAX_SAMPLES, make_window, open_and_wait

REPO = Path(__file__).resolve().parents[2]


def test_every_figure_exports_as_png_svg_and_pdf(qtbot, digits_run, tmp_path):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    targets = window.figure_targets()
    assert {"infoplane", "grid", "window"} <= set(targets) and sum(t.startswith("layer:") for t in targets) == 3
    for target in ("infoplane", "grid", "window", f"layer:{window.state.layer_names[0]}"):
        widget = window.figure_widget(target)
        stem = target.replace(":", "_").replace(".", "_")
        png = window.export_figure(target, tmp_path / f"{stem}.png", scale=2.0)
        image = QImage(str(png))
        assert (image.width(), image.height()) == (2 * widget.width(), 2 * widget.height())
        # not blank: many distinct colours
        pixels = np.frombuffer(image.convertToFormat(QImage.Format.Format_RGB32).constBits(), np.uint32)
        assert len(np.unique(pixels)) > 20
        svg = window.export_figure(target, tmp_path / f"{stem}.svg")
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and sum(1 for _ in root.iter()) > 30
        pdf = window.export_figure(target, tmp_path / f"{stem}.pdf")
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(data) > 1000
    with pytest.raises(IBViewerError, match="PNG, SVG or PDF"):
        window.export_figure("grid", tmp_path / "figure.bmp")
    with pytest.raises(IBViewerError, match="does not exist"):
        window.export_figure("grid", tmp_path / "missing" / "figure.png")


def test_export_figure_through_the_menu(qtbot, digits_run, tmp_path, monkeypatch):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    out = tmp_path / "plane"  # the suffix is added for the chosen format

    def accept(dialog):
        dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
        dialog.target_combo.setCurrentIndex(dialog.target_combo.findData("infoplane"))
        dialog.scale_spin.setValue(1.5)
        assert "pixels" in dialog.size_label.text()
        dialog._on_buttons_accepted()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportFigureDialog, "exec", accept)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.menus.export_figure_action.trigger()
    image = QImage(str(out) + ".png")
    canvas = window.info_view.canvas
    assert (image.width(), image.height()) == (round(1.5 * canvas.width()), round(1.5 * canvas.height()))
    assert app_settings().value("export/format") == "png"  # remembered for next time


def test_data_exports_are_csv_of_what_is_shown(qtbot, digits_run, tmp_path):
    window = make_window(qtbot)
    open_and_wait(qtbot, window, digits_run)
    state = window.state
    with pytest.raises(IBViewerError, match="click a point"):
        window.export_data("neighbors", tmp_path / "n.csv")
    rows = _read_csv((window.export_data("infoplane", tmp_path / "ip.csv")))
    assert len(rows) == len(state.infoplane.epochs) * len(state.infoplane.layers)
    assert float(rows[0]["i_xt"]) == pytest.approx(state.infoplane.i_xt[0, 0])
    rows = _read_csv((window.export_data("embeddings", tmp_path / "emb.csv")))
    assert len(rows) == MAX_SAMPLES * len(state.layer_names)
    first = state.layer_names[0]
    xs = [float(r["x"]) for r in rows if r["layer"] == first]
    np.testing.assert_allclose(xs, state.coords(first)[:, 0], rtol=1e-6)
    assert {r["index"] for r in rows} == {str(i) for i in state.activations.sample_idx}
    with qtbot.waitSignal(state.neighbors_changed, timeout=10_000, check_params_cb=lambda *a: state.neighbors is not None):
        state.set_focus(5, first)
    rows = _read_csv((window.export_data("neighbors", tmp_path / "n.csv")))
    assert len(rows) == 10 * len(state.layer_names)
    listed = [int(r["index"]) for r in rows if r["layer"] == first]
    assert listed == state.activations.sample_idx[state.neighbors.indices[first]].tolist()


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def test_error_dialog_explains_expected_errors_and_shows_tracebacks_of_bugs(qtbot):
    expected = build_error_dialog(None, CheckpointLoadError("Could not load x.pt. Choose a .pt file."))
    assert expected.text() == "Could not load x.pt. Choose a .pt file."
    assert expected.detailedText() == "" and expected.icon() == QMessageBox.Icon.Warning
    try:
        {}["missing"]
    except KeyError as exc:
        bug = exc
    box = show_error(None, bug)  # deletes itself on close
    assert box.isVisible()  # non-blocking: the window keeps running
    assert "KeyError" in box.text() and box.icon() == QMessageBox.Icon.Critical
    assert "Traceback" in box.detailedText() and "test_error_dialog" in box.detailedText()
    with qtbot.waitSignal(box.destroyed, timeout=5_000):
        box.close()


def test_open_dialog_asks_for_model_and_dataset_and_remembers_them(qtbot, tmp_path):
    checkpoint = tmp_path / "net.pt"
    checkpoint.write_bytes(b"")
    assert needs_model(checkpoint) and needs_dataset(checkpoint)
    assert not needs_model(tmp_path / "program.pt2") and needs_dataset(tmp_path / "program.pt2")
    assert not needs_dataset(tmp_path / "acts.npz")
    dialog = OpenRunDialog(str(checkpoint))
    qtbot.addWidget(dialog)
    dialog.model_edit.setText("not a factory")
    dialog._on_buttons_accepted()
    assert dialog.result() != QDialog.DialogCode.Accepted and "MODULE:CALLABLE" in dialog.error_label.text()
    dialog.model_edit.setText("ibviewer.models:mlp")
    dialog.kwargs_edit.setText('{"sizes": [64, 10]}')
    dialog.dataset_combo.setCurrentText("digits")
    dialog._on_buttons_accepted()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.values()["model_kwargs"] == {"sizes": [64, 10]}
    again = OpenRunDialog(str(checkpoint))
    qtbot.addWidget(again)
    assert again.model_edit.text() == "ibviewer.models:mlp" and again.dataset_combo.currentText() == "digits"


def _run_cli(args, tmp_path, timeout=240):
    env = dict(os.environ)
    env["IBVIEWER_CACHE_DIR"] = str(tmp_path / "cache")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # QSettings of the child go here
    code = "import sys; from ibviewer.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_screenshot_mode_saves_the_window_and_exits(digits_run, tmp_path):
    out = tmp_path / "shot.png"
    result = _run_cli(
        [str(digits_run), "--method", "pca", "--max-samples", "200", "--epoch", "2", "--select", "3", "--screenshot", str(out)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert image.width() >= 800 and image.height() >= 500
    pixels = np.frombuffer(image.convertToFormat(QImage.Format.Format_RGB32).constBits(), np.uint32)
    assert len(np.unique(pixels)) > 50


def test_screenshot_mode_fails_with_the_error_message(tmp_path):
    out = tmp_path / "shot.png"
    result = _run_cli([str(tmp_path / "no_such_run"), "--method", "pca", "--screenshot", str(out)], tmp_path)
    assert result.returncode == 2
    assert "error:" in result.stderr and "no_such_run" in result.stderr
    assert not out.exists()
