"""The main window: composes the views around `AppState`, the job hub and the controller; the status bar.

Layout: the information plane, the epoch timeline and the neighbours panel on the left; on
the right the tabs Layers (2D or 3D grid), Words and Layer probes; the Controls dock (View >
Controls). The window owns the one `AppState`, the one `JobHub` (every background job) and
the `AnalysisController` (settings -> jobs -> state), connects the views' requests to the
controller, and shows what the hub reports: progress, Cancel, warnings and, for any job that
fails, the error dialog. A new run only replaces the old one once it has opened and its
activations exist, so a file that fails to open leaves the previous run on screen.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QWidget,
)

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import OpenedRun
from ibviewer.errors import IBViewerError
from ibviewer.gui import resources
from ibviewer.gui.controller import OPEN, PRECOMPUTE_3D, AnalysisController
from ibviewer.gui.dialogs.error_dialog import error_summary, show_error
from ibviewer.gui.dialogs.warnings_dialog import WarningsDialog, gui_words, warning_count
from ibviewer.gui.export import export_data, export_widget
from ibviewer.gui.jobs import JobHub
from ibviewer.gui.live import LiveFollower, LiveIndicator
from ibviewer.gui.menus import Menus
from ibviewer.gui.opening import DECLINED, RETRIED, OpenFlow, dropped_path
from ibviewer.gui.playback import EpochPlayback
from ibviewer.gui.session import (
    RUN_KEYS,
    Session,
    apply_session_view,
    capture_session,
    copy_widget_to_clipboard,
    load_session,
    save_session,
)
from ibviewer.gui.settings import app_settings
from ibviewer.gui.state import AppState
from ibviewer.gui.views.controls_panel import ControlsPanel
from ibviewer.gui.views.embedding_view import EmbeddingGridView
from ibviewer.gui.views.embedding_view_3d import EmbeddingGrid3DView
from ibviewer.gui.added_runs import AddedRuns
from ibviewer.gui.views.info_plane_view import InfoPlaneView
from ibviewer.gui.views.neighbors_panel import NeighborsPanel
from ibviewer.gui.views.probe_panel import ProbePanel
from ibviewer.gui.views.timeline import TimelinePanel
from ibviewer.gui.views.word_view import WordView

__all__ = ["MainWindow", "FIGURE_TARGETS", "LAYERS_TAB", "WORDS_TAB", "PROBES_TAB"]

log = logging.getLogger(__name__)

FIGURE_TARGETS = {"infoplane": "Information plane", "grid": "Layer grid", "words": "Word experiment",
                  "probes": "Layer probes", "window": "Whole window"}  # fmt: skip
LAYERS_TAB, WORDS_TAB, PROBES_TAB = 0, 1, 2
CONTROLS_MAX_MIN_WIDTH = 400  # px: the Controls dock's minimum width at most (wider content scrolls)


class MainWindow(QMainWindow):
    """The ibviewer window.

    Signals
    -------
    idle()
        Every job has ended (nothing left to compute for what is shown).
    job_failed(object)
        A job failed (or another error was reported) with this exception, after the error dialog was shown.
    """

    idle = Signal()
    job_failed = Signal(object)

    def __init__(
        self,
        settings: AnalysisSettings | None = None,
        open_defaults: RunRequest | None = None,
        show_dialogs: bool = True,
        persist_layout: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("ibviewer")
        self.setWindowIcon(resources.app_icon())
        self.state = AppState(self)
        self.state.settings = settings or AnalysisSettings()
        self.show_dialogs = show_dialogs
        self.persist_layout = persist_layout
        self.last_error: BaseException | None = None
        self.last_error_dialog: QMessageBox | None = None
        self.warnings_dialog: WarningsDialog | None = None
        self.run_options: dict[str, Any] | None = None  # how the shown run was opened (for sessions)
        self.pending_session: Session | None = None
        self.jobs = JobHub(self)
        self.playback = EpochPlayback(self.state, self)
        self.controller = AnalysisController(self.state, self.jobs, self.playback, open_defaults, self)
        self.added_runs = AddedRuns(self.state, self.jobs, open_defaults, self)
        self.opener = OpenFlow(self, self.controller, self)  # dialogs, version choice, consent
        self.live = LiveFollower(self.controller, self.jobs, self)  # runs that training still writes
        self.setAcceptDrops(True)  # a file or folder dropped on the window opens

        self._build_views()
        self._build_layout()
        self.menus = Menus(self, self.menuBar(), self.state, self.controller, self.controls_dock.toggleViewAction(), self)
        self._build_status_bar()
        self._connect()
        self._on_state_run_changed()
        self._on_state_settings_changed()
        self.resize(1500, 920)
        self.main_splitter.setSizes([560, 940])
        self.left_splitter.setSizes([400, self.timeline.maximumHeight(), 370])  # plane, timeline, neighbours
        if persist_layout:
            self._restore_layout()
        self.fit_to_screen()

    # ------------------------------------------------------------------ building
    def _build_views(self) -> None:
        state = self.state
        self.info_view = InfoPlaneView(state)
        self.info_view.set_added_runs(self.added_runs)
        self.timeline = TimelinePanel(state, self.playback)
        self.neighbors_panel = NeighborsPanel(state)
        self.embedding_view = EmbeddingGridView(state, self.playback)
        self.grid3d = EmbeddingGrid3DView(state, self.playback)
        self.word_view = WordView(state)
        self.probe_panel = ProbePanel(state)
        self.controls = ControlsPanel(state)

    def _build_layout(self) -> None:
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.setChildrenCollapsible(False)  # dragging never hides the plane or the neighbours entirely
        for widget, stretch in ((self.info_view, 3), (self.timeline, 0), (self.neighbors_panel, 2)):
            self.left_splitter.addWidget(widget)
            self.left_splitter.setStretchFactor(self.left_splitter.count() - 1, stretch)
        # right: Layers (2D / 3D) | Words | Layer probes
        self.layer_stack = QStackedWidget()
        self.layer_stack.addWidget(self.embedding_view)
        self.layer_stack.addWidget(self.grid3d)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.layer_stack, "Layers")
        self.tabs.addTab(self.word_view, "Words")
        self.tabs.addTab(self.probe_panel, "Layer probes")
        self.tabs.setTabToolTip(WORDS_TAB, "The word experiment: query words and their nearest words, per layer")
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.addWidget(self.left_splitter)
        self.main_splitter.addWidget(self.tabs)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 3)
        self.main_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.main_splitter)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        # labels and values readable, but never so wide that the window outgrows the screen beside the plane
        scroll.setMinimumWidth(min(self.controls.sizeHint().width() + 24, CONTROLS_MAX_MIN_WIDTH))
        self.controls_dock = QDockWidget("Controls", self)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.controls_dock)
        # closed at first so the information plane keeps its width; View > Controls (Ctrl+K) opens it
        # and the window's saved layout remembers the choice
        self.controls_dock.hide()
        # opening or closing Controls: the central views give the dock its room, the window never grows past the screen
        self.controls_dock.visibilityChanged.connect(self._on_controls_dock_visibility_changed)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.run_label = QLabel("No run open")
        self.run_label.setStyleSheet("color: #404040; padding-right: 8px;")
        self.status_message = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFixedWidth(220)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running computation (Ctrl+.)")
        self.cancel_button.clicked.connect(self.cancel_all)
        self.warning_button = QToolButton()  # "⚠ N warnings": opens the warnings panel
        self.warning_button.setAutoRaise(True)
        self.warning_button.setStyleSheet("color: #9a6700;")
        self.warning_button.clicked.connect(self.show_warnings)
        self.warning_button.hide()
        self.live_indicator = LiveIndicator(self.live)
        bar.addWidget(self.run_label)
        bar.addWidget(self.status_message, 1)
        bar.addPermanentWidget(self.live_indicator)
        bar.addPermanentWidget(self.warning_button)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self.progress_bar.hide()
        self.cancel_button.hide()
        self.menus.cancel_action.setEnabled(False)

    def _connect(self) -> None:
        state, jobs, controller = self.state, self.jobs, self.controller
        # what the views ask for becomes a job
        self.controls.settings_edited.connect(controller.apply_settings)
        self.controls.sensitivity_requested.connect(controller.compute_sensitivity)
        self.controls.set_scheduler(controller.scheduler)
        self.controls.scheduler_edited.connect(controller.set_scheduler)
        self.probe_panel.probe_all_requested.connect(controller.probe_all_epochs)
        self.word_view.experiment_requested.connect(controller.compute_word_experiment)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        state.run_changed.connect(self._on_state_run_changed)
        state.settings_changed.connect(self._on_state_settings_changed)
        controller.status_changed.connect(self.show_status)
        controller.run_opened.connect(self._on_controller_run_opened)
        controller.problem_found.connect(self.report)
        self.live.epochs_arrived.connect(self._show_run_label)
        # what every job reports
        jobs.busy_changed.connect(self._on_jobs_busy_changed)
        jobs.idle.connect(self.idle)
        jobs.progress_changed.connect(self._on_jobs_progress_changed)
        jobs.job_failed.connect(self._on_jobs_job_failed)
        jobs.job_cancelled.connect(self._on_jobs_job_cancelled)
        jobs.warning_raised.connect(self._on_jobs_warning_raised)
        jobs.warnings_changed.connect(self._on_jobs_warnings_changed)
        state.advice_changed.connect(self._on_jobs_warnings_changed)

    def fit_to_screen(self) -> None:
        """Shrink the window to its screen's available area (a dock or a restored geometry may have grown it)."""
        screen = self.screen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        area = screen.availableGeometry()
        frame_extra = self.frameGeometry().width() - self.width()
        width = min(self.width(), area.width() - frame_extra)
        height = min(self.height(), area.height() - (self.frameGeometry().height() - self.height()))
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, self.minimumSizeHint().width()), max(height, self.minimumSizeHint().height()))
        if self.frameGeometry().right() > area.right():
            self.move(max(area.left(), area.right() - self.frameGeometry().width() + 1), self.y())

    def _on_controls_dock_visibility_changed(self, visible: bool) -> None:
        QTimer.singleShot(0, self.fit_to_screen)  # after the dock's layout has settled

    # ------------------------------------------------------------------ layout persistence
    def _restore_layout(self) -> None:
        settings = app_settings()
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/main_splitter", self.main_splitter.restoreState),
            ("window/left_splitter", self.left_splitter.restoreState),
        ):
            value = settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def save_layout(self) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/main_splitter", self.main_splitter.saveState())
        settings.setValue("window/left_splitter", self.left_splitter.saveState())
        settings.sync()

    def start_warm_up(self, when_idle: bool = False) -> None:
        """Load the heavy libraries in the background (see `AnalysisController.start_warm_up`)."""
        self.controller.start_warm_up(when_idle)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.persist_layout:
            self.save_layout()
        self.live.stop()
        self.controller.shutdown()
        self.jobs.shutdown(timeout=2.0)
        super().closeEvent(event)

    # ------------------------------------------------------------------ opening
    def open_path(self, path: str | Path, **options: Any) -> None:
        """Open a run in the background; ``options`` override the launch defaults (model, dataset, ...)."""
        self.controller.open_path(path, **options)

    def add_run(self, path: str | Path) -> None:
        """Draw another run in the information plane beside the shown one (File > Add Run to the Plane)."""
        self.added_runs.add(path)

    def open_with_dialogs(self, path: str | Path) -> None:
        """Open ``path`` showing what was found there and asking for what it still needs (`OpenFlow`)."""
        self.opener.open_with_dialogs(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = dropped_path(event.mimeData())
        if path is None:
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_with_dialogs(path))  # dialogs after the drag has ended

    def open_session_file(self, path: str | Path) -> None:
        """Reopen a saved session (its run, settings, epoch, selection and camera); errors go to the dialog."""
        try:
            session = load_session(path)
            options = {k: v for k, v in session.run.items() if k != "path"}
            unknown = sorted(set(options) - {f.name for f in fields(RunRequest)})
            if unknown:
                raise IBViewerError(f"This ibviewer cannot open runs with option(s) {', '.join(unknown)}.")
        except IBViewerError as exc:
            self.report(exc)
            return
        # nothing is applied until the run has opened: a session that fails to open changes nothing
        self.pending_session = session
        self.controller.pending_settings = session.settings
        self.controller.pending_epoch = session.epoch
        self.open_path(session.run["path"], **options)

    def session(self) -> Session:
        """The session of what the window shows now."""
        if self.run_options is None:
            raise IBViewerError("Open a run before saving a session.")
        return capture_session(self.state, self.run_options, self.state.settings, self.grid3d.camera_state())

    def save_session_file(self, path: str | Path) -> None:
        save_session(path, self.session())

    def _on_controller_run_opened(self, opened: OpenedRun) -> None:
        request = opened.request
        self.run_options = {name: getattr(request, name, None) for name in RUN_KEYS}
        self.setWindowTitle(f"{opened.run.name} — ibviewer")
        self._show_run_label()
        session, self.pending_session = self.pending_session, None
        if session is not None:
            problems = apply_session_view(self.state, session)
            if session.camera:
                self.grid3d.set_camera_state(session.camera)
            if session.settings.search:
                self.controls.apply_search()
            if problems:
                self.show_status("Session partly restored: " + "; ".join(problems))

    def _show_run_label(self, *_args: object) -> None:
        """The status bar's run summary (again when a live run grows)."""
        run, acts = self.state.run, self.state.activations
        if run is None or acts is None:
            return
        epochs = list(acts.epochs)
        self.run_label.setText(
            f"<b>{run.name}</b> · {acts.n_samples} samples · {len(acts.layers)} layers · "
            f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''} ({epochs[0]}–{epochs[-1]})"
        )

    # ------------------------------------------------------------------ views
    def _on_state_run_changed(self) -> None:
        has_words = self.state.has_words()
        self.tabs.setTabEnabled(WORDS_TAB, has_words)
        if has_words and self.tabs.currentIndex() != WORDS_TAB:
            self.tabs.setCurrentIndex(WORDS_TAB)  # the preset of runs with words (asks for the experiment)
        elif has_words:
            self._on_tabs_current_changed(WORDS_TAB)
        elif self.tabs.currentIndex() == WORDS_TAB:
            self.tabs.setCurrentIndex(LAYERS_TAB)

    def _on_tabs_current_changed(self, index: int) -> None:
        state = self.state
        if index == WORDS_TAB and state.word_experiment is None and "words" not in state.running and state.has_words():
            self.word_view.request(state.settings.dims, state.settings.method)

    def _on_state_settings_changed(self) -> None:
        self.layer_stack.setCurrentWidget(self.grid3d if self.state.settings.dims == 3 else self.embedding_view)

    def current_figure(self) -> QWidget:
        """The figure of the visible tab (what "Copy Figure" copies)."""
        index = self.tabs.currentIndex()
        if index == WORDS_TAB:
            return self.word_view.figure
        if index == PROBES_TAB:
            return self.probe_panel.canvas
        return self.layer_stack.currentWidget().figure

    def copy_figure(self) -> None:
        copy_widget_to_clipboard(self.current_figure())
        self.show_status("Figure copied to the clipboard")

    def drawing_pending(self) -> bool:
        """Whether a view still waits to finish its picture (the word view places its labels on a timer)."""
        return self.word_view.drawing_pending()

    # ------------------------------------------------------------------ jobs and status
    def cancel_all(self) -> None:
        self.jobs.cancel_all()

    def is_busy(self) -> bool:
        return self.jobs.is_busy()

    def show_status(self, text: str) -> None:
        self.status_message.setText(text)

    def show_warnings(self) -> WarningsDialog:
        """Open (or raise) the warnings panel: the jobs' warnings and the results' advice, with their fixes."""
        if self.warnings_dialog is None:
            self.warnings_dialog = WarningsDialog(self.jobs, self.state, self)
            self.warnings_dialog.advice_chosen.connect(self.controller.apply_advice)
        self.warnings_dialog.show()
        self.warnings_dialog.raise_()
        return self.warnings_dialog

    def _on_jobs_busy_changed(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.menus.cancel_action.setEnabled(busy)
        if busy:
            self.progress_bar.setValue(0)

    def _on_jobs_progress_changed(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(1000 * fraction))
        if message:
            self.show_status(message)

    def _on_jobs_job_failed(self, slot: str, exc: BaseException) -> None:
        opening = self.controller.opening
        if slot == OPEN:
            outcome = self.opener.after_failure(exc)  # asks consent when that is what opening lacked
            if outcome == RETRIED:
                return
            self.controller.forget_pending()
            self.pending_session = None
            if outcome == DECLINED:
                return
        if slot == OPEN and opening is not None:
            self.show_status(f"Could not open {Path(opening.path).name}")
        else:
            self.show_status(f"Failed: {error_summary(exc)}")
        self.report(exc)

    def _on_jobs_job_cancelled(self, slot: str) -> None:
        if slot != PRECOMPUTE_3D:  # a background precompute stops whenever the user starts something
            self.show_status("Cancelled")

    def _on_jobs_warning_raised(self, message: str) -> None:
        # the status line, not a timed overlay: a later "Cancelled" or "Analysis done" replaces it at once
        self.show_status("⚠ " + gui_words(message).split("\n")[0])

    def _on_jobs_warnings_changed(self) -> None:
        n = warning_count(self.jobs, self.state)
        self.warning_button.setText(f"⚠ {n} warning{'s' if n != 1 else ''}")
        self.warning_button.setToolTip("Click to list the warnings and what fixes them")
        self.warning_button.setVisible(n > 0)

    def report(self, exc: BaseException) -> None:
        """Show ``exc`` in the error dialog (unless dialogs are off) and emit ``job_failed``."""
        self.last_error = exc
        if self.show_dialogs:
            self.last_error_dialog = show_error(self, exc)
        self.job_failed.emit(exc)

    # ------------------------------------------------------------------ export
    def figure_widget(self, target: str) -> QWidget:
        """The widget behind an export target: infoplane, grid, words, probes, window or ``layer:<name>``."""
        widgets = {"infoplane": self.info_view.canvas, "grid": self.layer_stack.currentWidget().figure,
                   "words": self.word_view.figure, "probes": self.probe_panel.canvas, "window": self}  # fmt: skip
        if target in widgets:
            return widgets[target]  # the grid: the 2D or the 3D one, whichever is shown
        if target.startswith("layer:"):
            name = target.partition(":")[2]
            if name in self.embedding_view.panels:
                return self.embedding_view.panels[name]
            raise IBViewerError(f"There is no layer panel {name!r}; layers: {list(self.embedding_view.panels)}.")
        raise IBViewerError(f"Unknown figure {target!r}; choose infoplane, grid, words, probes, window or layer:<name>.")

    def figure_targets(self) -> dict[str, str]:
        targets = dict(FIGURE_TARGETS)
        for name in self.embedding_view.panels:
            targets[f"layer:{name}"] = f"Layer panel: {name}"
        return targets

    def export_figure(self, target: str, path: str | Path, scale: float = 1.0) -> Path:
        return export_widget(self.figure_widget(target), path, scale=scale)

    def export_data(self, kind: str, path: str | Path) -> Path:
        """Write ``kind`` (see `ibviewer.gui.export.DATA_KINDS`) as ``ibviewer analyze`` writes it."""
        return export_data(self.state, kind, path)
