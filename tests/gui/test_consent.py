"""Security in the window: code that came with an input runs only after a dialog showing exactly what runs.

Every payload here would create ``marker`` if it ran; each test asserts that it did not (and,
where it proves the payload is live, that it does once the user consents).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ibviewer.core.config import AnalysisSettings
from ibviewer.errors import FactoryConsentRequired, UnsafeCheckpointError
from ibviewer.gui.dialogs.consent_dialog import ConsentDialog
from ibviewer.gui.dialogs.error_dialog import build_error_dialog
from ibviewer.gui.dialogs.open_dialog import OpenRunDialog
from ibviewer.gui.session import Session, save_session
from ibviewer.gui.settings import recent_runs
from tests.hostile import evil_module, export_program, pickle_payload, rewrite_pt2, run_folder

HANG_GUARD_MS = 120_000


class _Consent:
    """Replaces `ConsentDialog.exec`: records what each dialog said and answers yes or no."""

    def __init__(self, monkeypatch, yes: bool):
        self.yes = yes
        self.shown: list[tuple[str, str]] = []
        monkeypatch.setattr(ConsentDialog, "exec", lambda dialog: self.answer(dialog))

    def answer(self, dialog):
        self.shown.append((dialog.what, dialog.text() + " " + dialog.informativeText()))
        return QMessageBox.StandardButton.Yes if self.yes else QMessageBox.StandardButton.No


def _wait_settled(qtbot, window, consent, n):
    qtbot.waitUntil(lambda: len(consent.shown) >= n and not window.is_busy(), timeout=HANG_GUARD_MS)


def test_a_run_folder_naming_os_system_shows_the_exact_call_and_runs_nothing_when_declined(window, qtbot, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={"command": f"touch {marker}"})
    dialog = OpenRunDialog(str(folder))  # what the open dialog says before anything runs
    qtbot.addWidget(dialog)
    assert "os:system is code named by the run: you will be asked before it runs" in dialog.survey_label.text()
    window.show_dialogs = True
    consent = _Consent(monkeypatch, yes=False)
    window.open_path(folder)
    _wait_settled(qtbot, window, consent, 1)
    (what, text), = consent.shown
    assert what == f"import the module os and call system(command='touch {marker}')"
    assert what in text and "--trust" not in text
    assert not marker.exists()
    assert window.state.run is None and window.last_error is None  # declining is not an error
    assert "Not opened" in window.status_message.text()


def test_a_factory_file_in_the_run_runs_only_after_consent_and_consent_is_never_kept(window, qtbot, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    folder = run_folder(tmp_path / "run", factory="model.py:build", kwargs={})
    evil_module(folder / "model.py", marker)
    window.show_dialogs = True
    consent = _Consent(monkeypatch, yes=True)
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(folder)
    qtbot.waitUntil(lambda: window.state.activations is not None and not window.is_busy(), timeout=HANG_GUARD_MS)
    assert consent.shown[0][0] == f"import the file {(folder / 'model.py').resolve()} and call build()"
    assert marker.exists()  # the payload is live: consent runs it
    assert window.state.activations.epochs == (0, 1)
    (entry,) = recent_runs()
    assert entry["path"] == str(folder) and not any("trust" in key for key in entry)
    session = window.session()
    assert not any("trust" in key for key in session.run)

    marker.unlink()
    consent.yes = False  # reopening from the recent runs asks again
    window.menus.recent_menu.aboutToShow.emit()
    window.menus.recent_menu.actions()[0].trigger()
    _wait_settled(qtbot, window, consent, 2)
    assert not marker.exists()


def test_without_dialogs_a_refusal_is_one_line_in_the_windows_words(window, qtbot, tmp_path):
    marker = tmp_path / "marker"
    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={"command": f"touch {marker}"})
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS):
        window.open_path(folder)
    assert isinstance(window.last_error, FactoryConsentRequired)
    box = build_error_dialog(window, window.last_error)
    assert "os:system" in box.text() and "confirm" in box.text()
    assert "--trust" not in box.text() and "pass " not in box.text() and "\n" not in box.text()
    assert "bug" not in (box.text() + box.informativeText()).lower()
    assert not marker.exists()


def test_a_pickled_checkpoint_asks_consent_and_the_refusal_never_says_trust_pickle(window, qtbot, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    checkpoint = tmp_path / "evil.pt"
    checkpoint.write_bytes(pickle_payload(marker))
    options = {"model": "ibviewer.models:mlp", "model_kwargs": {"sizes": [12, 8, 2]}, "dataset": "ib12"}
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS):
        window.open_path(checkpoint, **options)
    assert isinstance(window.last_error, UnsafeCheckpointError)
    text = build_error_dialog(window, window.last_error).text()
    assert "evil.pt" in text and "--trust-pickle" not in text and "pass " not in text
    assert not marker.exists()

    window.show_dialogs = True
    consent = _Consent(monkeypatch, yes=False)
    window.open_path(checkpoint, **options)
    _wait_settled(qtbot, window, consent, 1)
    assert consent.shown[0][0] == f"unpickle {checkpoint} fully: any code stored in the file runs"
    assert not marker.exists()


def test_a_pt2_with_a_pickled_sample_input_runs_nothing_when_declined(window, qtbot, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    program = rewrite_pt2(export_program(tmp_path / "ok.pt2"), tmp_path / "evil.pt2",
                          replace={"data/sample_inputs/model.pt": pickle_payload(marker)})  # fmt: skip
    window.show_dialogs = True
    consent = _Consent(monkeypatch, yes=False)
    window.open_path(program, dataset="ib12")
    _wait_settled(qtbot, window, consent, 1)
    assert "sample inputs need unpickling" in consent.shown[0][1] and "--trust-pickle" not in consent.shown[0][1]
    assert not marker.exists() and window.state.run is None


def test_a_session_that_fails_to_open_applies_nothing(window, qtbot, digits_run, tmp_path, monkeypatch):
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(digits_run)
    before = window.state.settings
    run_before = window.state.run
    marker = tmp_path / "marker"
    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={"command": f"touch {marker}"})
    session = tmp_path / "evil.ibvsession"
    save_session(session, Session(run={"path": str(folder), "model": "os:system"}, epoch=1,
                                  settings=AnalysisSettings(method="pca", n_bins=7, color_by="correct")))  # fmt: skip
    (tmp_path / "missing.ibvsession").write_text(session.read_text().replace(str(folder), str(tmp_path / "nowhere")))
    window.show_dialogs = True
    consent = _Consent(monkeypatch, yes=False)
    window.open_session_file(session)  # the session names a factory: it is asked, not run
    _wait_settled(qtbot, window, consent, 1)
    assert "call system(command=" in consent.shown[0][0] and not marker.exists()
    window.show_dialogs = False
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS):
        window.open_session_file(tmp_path / "missing.ibvsession")
    assert window.state.settings == before and window.state.run is run_before
    assert window.controller.pending_settings is None and window.controller.pending_epoch is None
    assert window.pending_session is None
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.state.set_epoch(2)  # the run still answers as before, with the settings it had
    assert window.state.epoch == 2 and window.state.settings == before


def test_consent_given_at_launch_holds_for_the_launch_run_only(qtbot, tmp_path):
    from ibviewer.core.config import RunRequest
    from ibviewer.gui.main_window import MainWindow

    marker = tmp_path / "marker"
    launched = run_folder(tmp_path / "mine", factory="model.py:build", kwargs={})
    evil_module(launched / "model.py", tmp_path / "mine_ran")
    other = run_folder(tmp_path / "theirs", factory="os:system", kwargs={"command": f"touch {marker}"})
    window = MainWindow(AnalysisSettings(method="pca"), RunRequest(path=str(launched), trust_factory=True, max_samples=60),
                        show_dialogs=False, persist_layout=False)  # fmt: skip  (as `ibviewer gui mine --trust-factory`)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(str(launched))
    assert window.last_error is None and (tmp_path / "mine_ran").exists()
    with qtbot.waitSignal(window.job_failed, timeout=HANG_GUARD_MS):
        window.open_path(other)  # opened later in the same window: the launch consent does not carry over
    assert isinstance(window.last_error, FactoryConsentRequired)
    assert not marker.exists()


def test_a_run_added_to_the_plane_does_not_inherit_the_launch_consent(qtbot, tmp_path):
    from ibviewer.core.config import RunRequest
    from ibviewer.gui.added_runs import AddedRuns
    from ibviewer.gui.jobs import JobHub
    from ibviewer.gui.state import AppState

    marker = tmp_path / "marker"
    other = run_folder(tmp_path / "theirs", factory="os:system", kwargs={"command": f"touch {marker}"})
    hub = JobHub()
    added = AddedRuns(AppState(), hub, RunRequest(path=str(tmp_path / "mine"), trust_factory=True, use_cache=False))
    with qtbot.waitSignal(hub.job_failed, timeout=HANG_GUARD_MS) as blocker:
        added.add(other)
    assert isinstance(blocker.args[1], FactoryConsentRequired)
    assert not marker.exists()
    assert hub.shutdown(10.0)
