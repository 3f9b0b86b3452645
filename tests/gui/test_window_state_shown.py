"""State the user can see (issue 15): the warnings panel with its fixes, the status line, the clicked layer."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.advice import Advice
from ibviewer.core.pipeline import StageResult
from ibviewer.gui.dialogs.warnings_dialog import WarningsDialog, gui_words
from ibviewer.gui.jobs import JobHub
from tests.gui.synthetic import make_state


def test_warnings_read_in_the_windows_words():
    text = ("Layer 'fc3' sits at the ceiling; use fewer bins (n_bins / --bins) or a larger bin width "
            "(bin_width / --bin-width), or use the renyi estimator, made for wide layers (--estimator renyi).")  # fmt: skip
    shown = gui_words(text)
    assert "--" not in shown
    assert shown.endswith("use the renyi estimator, made for wide layers.") and "use fewer bins or a larger bin width" in shown


def test_the_warnings_panel_lists_advice_with_a_button_that_applies_its_fix(qtbot, controller_for):
    state = make_state(dims=2)
    controller = controller_for(state)
    jobs = JobHub()
    dialog = WarningsDialog(jobs, state)
    qtbot.addWidget(dialog)
    dialog.advice_chosen.connect(controller.apply_advice)
    # a cheap fix (the list length): applying it must not start a long job in this test
    state.set_advice([Advice("I(X;T) sits at its ceiling in fc3.", "List 7 neighbours", {"k": 7}),
                      Advice("Nothing to change here.")])  # fmt: skip
    dialog.show()
    assert dialog.shown_warnings() == ["I(X;T) sits at its ceiling in fc3.", "Nothing to change here."]
    assert [b.text() for b in dialog.action_buttons] == ["List 7 neighbours"]  # no button without a fix
    with qtbot.waitSignal(state.settings_changed):
        dialog.action_buttons[0].click()
    assert state.settings.k == 7
    jobs.shutdown(5.0)


def test_the_controller_derives_advice_when_the_plane_lands(controller_for):
    from ibviewer.core.information import InformationPlane

    state = make_state(dims=2)
    controller = controller_for(state)
    saturated = np.zeros((3, 3), dtype=bool)
    saturated[:, 0] = True
    plane = InformationPlane("binning", {"n_bins": 30, "value_range": (-1.0, 1.0)}, (1, 5, 20), ("fc1", "fc2", "fc3"),
                             np.full((3, 3), 5.9), np.ones((3, 3)), None, None, 1.58, 5.9, 60, saturated=saturated)  # fmt: skip
    controller._on_analysis_partial(StageResult("infoplane", plane))
    assert state.infoplane is plane
    assert len(state.advice) == 1 and "fc1" in state.advice[0].message and state.advice[0].changes
    state.set_run(state.run, state.activations)
    assert state.advice == ()  # a new run: no advice about the old one


def test_cancelled_is_not_hidden_by_a_warning_and_the_button_counts_advice(window):
    window.jobs.warning_raised.emit("fc3 sits at log2(N): use fewer bins (n_bins / --bins)")
    window.jobs.warnings.append("fc3 sits at log2(N): use fewer bins (n_bins / --bins)")
    window.jobs.warnings_changed.emit()
    window.jobs.job_cancelled.emit("analysis")
    assert window.statusBar().currentMessage() == ""  # no timed overlay hiding the status line
    assert window.status_message.text() == "Cancelled" and window.status_message.isVisible()
    window.state.set_advice([Advice("advice", "Fix it", {"estimator": "renyi"})])
    assert window.warning_button.isVisible() and window.warning_button.text() == "⚠ 2 warnings"
    dialog = window.show_warnings()
    assert "--" not in " ".join(dialog.shown_warnings())
    dialog.close()


def test_the_status_bar_names_the_layer_the_user_clicked(qtbot, window, digits_run):
    with qtbot.waitSignal(window.idle, timeout=240_000):
        window.open_path(digits_run)
    state = window.state
    first = state.layer_names[0]
    with qtbot.waitSignal(state.neighbors_changed, timeout=240_000, check_params_cb=lambda *a: state.neighbors is not None):
        state.set_focus(3, first)
    qtbot.waitUntil(lambda: not window.jobs.is_busy(), timeout=240_000)
    text = window.status_message.text()
    assert f"in {first}" in text and state.layer_names[-1] not in text.replace(first, ""), text
