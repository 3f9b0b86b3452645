"""Launching the desktop app: `run_app(args)` (called by ``ibviewer.cli``) and the gui-script `main()`.

Only Qt and pyqtgraph are imported before the window shows; torch, scikit-learn and the
estimators load in the worker thread of the first job, so the window appears at once.
``--screenshot OUT.png`` opens the window, waits until every job has ended, everything the
window shows is in `AppState` and every view has drawn (the word view's labels included),
saves the window and exits (0, or 2 with ``error: ...`` on stderr).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QTimer, SignalInstance
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from ibviewer import __version__
from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    from ibviewer.gui.state import AppState

__all__ = [
    "run_app",
    "LaunchOptions",
    "default_sample_path",
    "ScreenshotDriver",
    "ScreenshotHost",
    "ErrorReporter",
    "install_excepthook",
]

log = logging.getLogger(__name__)

EXIT_USER_ERROR = 2
EXIT_BUG = 1
SETTLE_MS = 50  # after the last job, let layouts and deferred drawing run before the picture
MAX_SETTLE_TRIES = 100


def default_sample_path() -> str | None:
    """The bundled default sample run, or None when the samples are not available."""
    try:
        from ibviewer.samples import DEFAULT_SAMPLE, sample_path
    except ImportError:
        return None
    try:
        return str(sample_path(DEFAULT_SAMPLE))
    except IBViewerError as exc:
        log.warning("no default sample: %s", exc)
        return None


@dataclass(frozen=True)
class LaunchOptions:
    """What the launcher asks of the window beyond the run and the settings."""

    screenshot: str | None = None  # compute, save the window as PNG and exit
    epoch: int | None = None  # the epoch to show first
    select: int | None = None  # the sample row to focus (with --screenshot)
    session: str | None = None  # a session file to reopen


class ScreenshotHost(Protocol):
    """What the screenshot needs of the window."""

    idle: SignalInstance  # every job has ended
    job_failed: SignalInstance  # (exception)
    state: AppState

    def is_busy(self) -> bool: ...

    def drawing_pending(self) -> bool: ...

    def grab(self) -> QPixmap: ...


class ErrorReporter(Protocol):
    """Where uncaught exceptions go (the window's error dialog)."""

    def report(self, exc: BaseException) -> None: ...


class ScreenshotDriver(QObject):
    """Waits until the window has computed and drawn everything, saves it as PNG and ends the event loop.

    "Everything": the job hub is idle (no job left, the word experiment's included), `AppState`
    has every result the window shows (``state.missing_results()`` is empty) and no view
    waits to finish drawing (``window.drawing_pending()``). Idle with a result missing means
    nothing will compute it any more: that fails instead of waiting forever.
    """

    def __init__(self, window: ScreenshotHost, out: str, select: int | None, on_exit: Callable[[int], None]) -> None:
        super().__init__()
        self.window = window
        self.out = Path(out)
        self.select = select
        self._on_exit = on_exit
        self._selected = select is None
        self._settle_tries = 0
        self.exit_code: int | None = None
        window.idle.connect(self._on_window_idle)
        window.job_failed.connect(self._on_window_job_failed)

    def _on_window_idle(self) -> None:
        state = self.window.state
        if self.exit_code is not None or state.activations is None:
            return
        if not self._selected:
            self._selected = True
            if not 0 <= self.select < state.n_samples:
                self.fail(IBViewerError(f"--select {self.select} is out of range; this run has {state.n_samples} samples (0..{state.n_samples - 1})."))
                return
            state.set_focus(self.select, state.layer_names[-1])
            if self.window.is_busy():
                return  # the neighbour look-up runs; idle comes again
        missing = state.missing_results()
        if missing:
            self.fail(RuntimeError(f"Nothing is computing any more, but {', '.join(missing)} are missing."))
            return
        self._settle_tries = 0
        QTimer.singleShot(SETTLE_MS, self._save)

    def _save(self) -> None:
        if self.exit_code is not None or self.window.is_busy():
            return  # a job started meanwhile: idle comes again
        if self.window.drawing_pending() and self._settle_tries < MAX_SETTLE_TRIES:
            self._settle_tries += 1
            QTimer.singleShot(SETTLE_MS, self._save)
            return
        if not self.out.parent.is_dir():
            self.fail(IBViewerError(f"The folder {self.out.parent} does not exist; choose another place for the screenshot."))
            return
        if not self.window.grab().save(str(self.out), "PNG"):
            self.fail(IBViewerError(f"Could not write {self.out}; check that the folder is writable."))
            return
        print(f"saved {self.out}")
        self.exit_code = 0
        self._on_exit(0)

    def fail(self, exc: BaseException) -> None:
        if self.exit_code is not None:
            return
        from ibviewer.gui.dialogs.error_dialog import error_summary

        print(f"error: {error_summary(exc)}", file=sys.stderr)
        if not isinstance(exc, IBViewerError):
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        self.exit_code = EXIT_USER_ERROR if isinstance(exc, IBViewerError) else EXIT_BUG
        self._on_exit(self.exit_code)

    def _on_window_job_failed(self, exc: BaseException) -> None:
        self.fail(exc)


def install_excepthook(window: ErrorReporter, screenshot: ScreenshotDriver | None = None) -> Callable:
    """Route uncaught exceptions (e.g. in slots) to the error dialog; returns the previous hook."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb) -> None:  # noqa: ANN001
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        if screenshot is not None:
            screenshot.fail(exc)
            return
        try:
            window.report(exc)
        except Exception:  # noqa: BLE001 - never let the hook itself raise
            previous(exc_type, exc, tb)

    sys.excepthook = hook
    return previous


def run_app(request: RunRequest, settings: AnalysisSettings, launch: LaunchOptions | None = None) -> int:
    """Open the window on ``request`` (empty path: the default sample) and run the event loop; returns the exit code."""
    from PySide6.QtCore import QCoreApplication

    from ibviewer.gui.settings import APPLICATION, ORGANIZATION

    launch = launch or LaunchOptions()
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ibviewer"])
    app.setApplicationVersion(__version__)

    from ibviewer.gui.main_window import MainWindow
    from ibviewer.gui.resources import style_sheet
    from ibviewer.gui.widgets.style import configure_pyqtgraph

    configure_pyqtgraph()
    if not app.styleSheet():
        app.setStyleSheet(style_sheet())
    window = MainWindow(settings, request, show_dialogs=launch.screenshot is None, persist_layout=launch.screenshot is None)
    window.controller.pending_epoch = launch.epoch
    driver = None
    if launch.screenshot:
        driver = ScreenshotDriver(window, launch.screenshot, launch.select, app.exit)
    previous_hook = install_excepthook(window, driver)
    window.show()
    path = request.path or default_sample_path()
    if launch.session:
        window.open_session_file(launch.session)
    elif path:
        window.open_path(path)
    elif driver is not None:
        driver.fail(IBViewerError("No run to show: give a PATH, or run from the source folder where the samples are."))
    else:
        window.show_status("No run open: choose File > Open Run or Checkpoint… (Ctrl+O)")
    if driver is None:  # a screenshot exits when its view is complete: nothing to warm up or precompute for
        window.controller.precompute_3d = True  # the 3-D view, in the background once the 2-D one is final
        window.start_warm_up(when_idle=True)  # after the first view, which it would only slow down
    try:
        code = app.exec() if driver is None or driver.exit_code is None else driver.exit_code
    finally:
        sys.excepthook = previous_hook
    if driver is not None:
        window.close()
        code = driver.exit_code if driver.exit_code is not None else EXIT_BUG
    # let cancelled jobs and an unfinished library warm-up end before the interpreter does: a thread
    # still inside a C extension's import when Python finalises crashes the process (imports cannot be
    # cancelled, only awaited)
    window.jobs.shutdown(timeout=60.0)
    _destroy_window(window)
    return int(code)


def _destroy_window(window: QWidget) -> None:
    """Delete the window's C++ objects now, while Python is fully alive.

    Left to PySide's exit-time cleanup, pyqtgraph's graphics widgets are destroyed after
    the interpreter started finalising and their event handlers crash the process
    (a segfault after a successful run). Deleting them here avoids that.
    """
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    window.hide()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
