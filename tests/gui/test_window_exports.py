"""Exports that do what they say (issue 15): PDF page size as shown, the typed extension wins, default names."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QDialog, QFileDialog, QLabel

from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog
from ibviewer.gui.export import default_export_name, export_path, render_pdf
from ibviewer.gui.settings import app_settings
from tests.gui.synthetic import FakeRun, make_activations


def test_the_pdf_page_has_the_size_the_dialog_states(qtbot, tmp_path):
    widget = QLabel("a figure")
    widget.setStyleSheet("background: white;")
    qtbot.addWidget(widget)
    widget.resize(540, 395)
    widget.show()
    dialog = ExportFigureDialog({"infoplane": "Information plane"}, lambda _target: widget)
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("pdf"))
    assert dialog.size_label.text() == "vector, 540 × 395 points"
    render_pdf(widget, tmp_path / "figure.pdf")
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", (tmp_path / "figure.pdf").read_bytes())
    assert box is not None
    assert (round(float(box.group(1))), round(float(box.group(2)))) == (540, 395)  # was 405 x 296


def test_the_typed_extension_wins_and_names_follow_run_figure_and_epoch():
    assert export_path("out/grid.png", "svg") == (export_path("out/grid.png", "png")[0], "png")
    assert str(export_path("out/grid", "svg")[0]).endswith("grid.svg")
    assert export_path("out/grid.PDF", "png")[1] == "pdf"
    assert default_export_name("checkpoint_000.pt", "infoplane", 4, "png") == "checkpoint_000_infoplane_e4.png"
    assert default_export_name("digits_mlp", "layer:net.1", 300, "svg") == "digits_mlp_layer_net.1_e300.svg"


def test_export_figure_through_the_menu_proposes_the_default_name_and_writes_the_typed_format(qtbot, window, tmp_path,
                                                                                               monkeypatch):  # fmt: skip
    window.state.set_run(FakeRun(), make_activations())
    app_settings().setValue("export/last_dir", str(tmp_path))
    asked = {}

    def accept(dialog):
        dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("svg"))
        dialog.target_combo.setCurrentIndex(dialog.target_combo.findData("infoplane"))
        dialog._on_buttons_accepted()
        return QDialog.DialogCode.Accepted

    def save_name(_parent, _title, proposed, _filter):
        asked["proposed"] = proposed
        return str(tmp_path / "grid.png"), ""

    monkeypatch.setattr(ExportFigureDialog, "exec", accept)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.menus.export_figure_action.trigger()
    assert asked["proposed"] == str(tmp_path / f"synthetic_infoplane_e{window.state.epoch}.svg")
    assert not (tmp_path / "grid.png.svg").exists()
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # a PNG, as its name says
