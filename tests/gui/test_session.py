"""Sessions: a saved session reopens to the same state; malformed and newer files give clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ibviewer.errors import IBViewerError
from ibviewer.core.config import AnalysisSettings
from ibviewer.gui.session import (
    SESSION_VERSION,
    Session,
    apply_session_view,
    capture_session,
    copy_widget_to_clipboard,
    load_session,
    save_session,
    session_from_dict,
    session_to_dict,
)
from tests.gui.synthetic import make_state


def test_session_round_trip_reopens_the_same_state(tmp_path):
    state = make_state(dims=3)
    state.set_epoch(5)
    state.set_settings(k=7, metric="cosine")
    state.set_selection([4, 9, 11])
    state.set_focus(9, "fc2")
    settings = AnalysisSettings(method="umap", n_neighbors=25, dims=3, color_by="faithfulness", search="^4$", n_bins=12)
    camera = {"center": [0.1, 0.0, -0.2], "distance": 5.5, "elevation": 30.0, "azimuth": 12.0, "fov": 60.0}
    run_options = {"path": str(tmp_path / "run"), "model": "net.py:make", "dataset": "digits", "max_samples": 300,
                   "trust_pickle": True}  # fmt: skip
    session = capture_session(state, run_options, settings, camera)
    path = save_session(tmp_path / "s.ibvsession", session)
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary left behind
    loaded = load_session(path)
    assert loaded == session
    assert "trust_pickle" not in loaded.run  # reopening never unpickles without asking again

    # a fresh window state with the same run open: apply the session
    reopened = make_state(dims=3)
    assert apply_session_view(reopened, loaded) == []
    assert reopened.epoch == 5
    assert reopened.selection.tolist() == [4, 9, 11]
    assert reopened.focus.row == 9 and reopened.focus.layer == "fc2"
    assert reopened.settings.k == 7 and reopened.settings.metric == "cosine"
    assert capture_session(reopened, run_options, loaded.settings, loaded.camera) == session


def test_relative_run_paths_and_partial_application(tmp_path):
    data = session_to_dict(Session(run={"path": "runs/a"}, epoch=99, selection=(1, 5000), focus=(3, "nope")))
    session = session_from_dict(data, base_dir=tmp_path)
    assert session.run["path"] == str(tmp_path / "runs" / "a")
    state = make_state(dims=2)
    problems = apply_session_view(state, session)
    assert len(problems) == 3 and "epoch 99" in problems[0]
    assert state.selection.tolist() == [1] and state.focus is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"format": "something-else"}', "not an ibviewer session"),
        (json.dumps({"format": "ibviewer-session", "version": SESSION_VERSION + 1, "run": {"path": "x"}}), "newer ibviewer"),
        (json.dumps({"format": "ibviewer-session", "version": 1}), "names no run"),
        (json.dumps({"format": "ibviewer-session", "version": 1, "run": {"path": "x"}, "selection": [1, -2]}), "selection"),
        (json.dumps({"format": "ibviewer-session", "version": 1, "run": {"path": "x"}, "settings": {"n_bins": 0}}), "n_bins"),
        (json.dumps({"format": "ibviewer-session", "version": 1, "run": {"path": "x"}, "camera": {"fov": "wide"}}), "camera"),
    ],
)
def test_malformed_sessions_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.ibvsession"
    path.write_text(content)
    with pytest.raises(IBViewerError, match=message):
        load_session(path)


def test_missing_session_file(tmp_path):
    with pytest.raises(IBViewerError, match="Could not read"):
        load_session(tmp_path / "missing.ibvsession")


def test_copy_figure_to_clipboard(qtbot):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QLabel

    label = QLabel("figure")
    label.resize(120, 40)
    label.setStyleSheet("background: white; color: #d62728; font-size: 20px;")
    qtbot.addWidget(label)
    image = copy_widget_to_clipboard(label)
    assert (image.width(), image.height()) == (120, 40)
    copied = QGuiApplication.clipboard().image()
    assert not copied.isNull() and copied.size() == image.size()
    pixels = np.array([[copied.pixelColor(x, y).red() for x in range(0, 120, 2)] for y in range(0, 40, 2)])
    assert pixels.min() < 255  # the text is in the copied picture
