"""The main window: menus, status bar, the views in splitters, and the jobs that feed `AppState`.

Three job slots (`TaskRunner`): opening a run (open + extract), the analysis chain
(PCA, information plane, t-SNE/UMAP, probes) and neighbour look-ups. A new run only
replaces the old one once it has opened and its activations exist, so a file that
fails to open leaves the previous run on screen.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QWidget,
)

from ibviewer import __version__
from ibviewer.core.config import METHODS
from ibviewer.errors import IBViewerError
from ibviewer.gui import resources
from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import (
    NeighborCache,
    Neighborhood,
    OpenedRun,
    StageResult,
    find_neighbors,
    open_and_extract,
    run_analysis,
    warm_up,
)
from ibviewer.gui.dialogs.error_dialog import error_summary, show_error
from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog
from ibviewer.gui.dialogs.open_dialog import RUN_FILE_FILTER, OpenRunDialog, needs_dataset
from ibviewer.gui.export import export_widget
from ibviewer.gui.part2 import install_part2
from ibviewer.gui.settings import add_recent_run, app_settings, recent_runs
from ibviewer.gui.state import AppState
from ibviewer.gui.views.embedding_view import EmbeddingGridView
from ibviewer.gui.views.info_plane_view import InfoPlaneView
from ibviewer.gui.views.neighbors_panel import NeighborsPanel
from ibviewer.gui.workers import TaskRunner, reserve_gui_core

__all__ = ["MainWindow", "FIGURE_TARGETS"]

log = logging.getLogger(__name__)

FIGURE_TARGETS = {"infoplane": "Information plane", "grid": "Layer grid", "words": "Word experiment",
                  "probes": "Layer probes", "window": "Whole window"}  # fmt: skip
DATA_KINDS = {"infoplane": "Information plane (CSV)", "embeddings": "Embeddings of the shown epoch (CSV)",
              "neighbors": "Neighbours of the selected sample (CSV)", "probes": "Layer probes (CSV)"}  # fmt: skip


class MainWindow(QMainWindow):
    """The ibviewer window.

    Signals
    -------
    idle()
        Every job has ended (nothing left to compute for what is shown).
    job_failed(object)
        A job failed with this exception (after the error dialog was shown).
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
        self.open_defaults = open_defaults or RunRequest(path="")
        self.show_dialogs = show_dialogs
        self.persist_layout = persist_layout
        self.last_error: BaseException | None = None
        self.last_error_dialog: QMessageBox | None = None
        self.pending_epoch: int | None = None
        self._neighbor_cache = NeighborCache()
        self._opening: RunRequest | None = None

        self.info_view = InfoPlaneView(self.state)
        self.neighbors_panel = NeighborsPanel(self.state)
        self.embedding_view = EmbeddingGridView(self.state)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.addWidget(self.info_view)
        self.left_splitter.addWidget(self.neighbors_panel)
        self.left_splitter.setStretchFactor(0, 3)
        self.left_splitter.setStretchFactor(1, 2)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.addWidget(self.left_splitter)
        self.main_splitter.addWidget(self.embedding_view)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 3)
        self.main_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.main_splitter)

        self.open_runner = TaskRunner(name="open", parent=self)
        self.analysis_runner = TaskRunner(name="analysis", parent=self)
        self.neighbor_runner = TaskRunner(name="neighbours", parent=self)
        self.runners: tuple[TaskRunner, ...] = ()
        for runner in (self.open_runner, self.analysis_runner, self.neighbor_runner):
            self.add_runner(runner)
        self.warm_up_runner = TaskRunner(name="warm-up", parent=self)  # not a user job: never "busy"
        self.open_runner.finished.connect(self._on_open_runner_finished)
        self.analysis_runner.partial_ready.connect(self._on_analysis_runner_partial_ready)
        self.analysis_runner.finished.connect(self._on_analysis_runner_finished)
        self.neighbor_runner.finished.connect(self._on_neighbor_runner_finished)

        self.state.focus_changed.connect(self._on_state_focus_changed)
        self.state.epoch_changed.connect(self._on_state_epoch_changed)
        self.neighbors_panel.query_changed.connect(self._on_neighbors_panel_query_changed)
        self._neighbor_timer = QTimer(self)  # debounces k / metric edits
        self._neighbor_timer.setSingleShot(True)
        self._neighbor_timer.setInterval(150)
        self._neighbor_timer.timeout.connect(self.query_neighbors)
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(0)
        self._idle_timer.timeout.connect(self._on_idle_timer_timeout)

        self._build_menus()
        self._build_status_bar()
        # part 2: 3D panels, timeline, probes and words tabs, controls dock, session menus
        self.part2 = install_part2(self)
        self.resize(1500, 920)
        self.main_splitter.setSizes([560, 940])
        self.left_splitter.setSizes([430, self.part2.timeline.maximumHeight(), 340])  # plane, timeline, neighbours
        if persist_layout:
            self._restore_layout()

    # ------------------------------------------------------------------ building
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Run or Checkpoint…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.setStatusTip("Open an ibviewer run folder, a checkpoint, a .pt2 program or an activations archive")
        self.open_action.triggered.connect(self._on_open_action_triggered)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file_menu.addSeparator()
        self.export_figure_action = QAction("&Export Figure…", self)
        self.export_figure_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_figure_action.triggered.connect(self._on_export_figure_action_triggered)
        file_menu.addAction(self.export_figure_action)
        self.export_data_action = QAction("Export &Data…", self)
        self.export_data_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_data_action.triggered.connect(self._on_export_data_action_triggered)
        file_menu.addAction(self.export_data_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        analysis_menu = self.menuBar().addMenu("&Analysis")
        self.cancel_action = QAction("&Cancel Running Jobs", self)
        self.cancel_action.setShortcut(QKeySequence("Ctrl+."))
        self.cancel_action.triggered.connect(self.cancel_all)
        analysis_menu.addAction(self.cancel_action)
        self.recompute_action = QAction("&Recompute", self)
        self.recompute_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.recompute_action.triggered.connect(self._on_recompute_action_triggered)
        analysis_menu.addAction(self.recompute_action)
        method_menu = analysis_menu.addMenu("Embedding &Method")
        self.method_actions: dict[str, QAction] = {}
        for method, title in METHODS.items():
            action = QAction(title, self, checkable=True)
            action.setChecked(method == self.state.settings.method)
            action.setData(method)
            action.triggered.connect(self._on_method_action_triggered)
            method_menu.addAction(action)
            self.method_actions[method] = action

        help_menu = self.menuBar().addMenu("&Help")
        self.help_action = QAction("How to Read the &Information Plane", self)
        self.help_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.help_action.triggered.connect(self._on_help_action_triggered)
        help_menu.addAction(self.help_action)
        self.about_action = QAction("&About ibviewer", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self._on_about_action_triggered)
        help_menu.addAction(self.about_action)

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
        self.warnings: list[str] = []
        self.warning_label = QLabel("")
        self.warning_label.setStyleSheet("color: #9a6700;")
        self.warning_label.hide()
        bar.addWidget(self.run_label)
        bar.addWidget(self.status_message, 1)
        bar.addPermanentWidget(self.warning_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self.progress_bar.hide()
        self.cancel_button.hide()

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

    def start_warm_up(self) -> None:
        """Load the heavy libraries in the background (see `ibviewer.core.pipeline.warm_up`)."""
        self.warm_up_runner.finished.connect(self._on_warm_up_runner_finished)
        self.warm_up_runner.submit(warm_up, self.state.settings.method)

    def _on_warm_up_runner_finished(self, _result: object) -> None:
        reserve_gui_core()  # the libraries are loaded now: cap their thread pools

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.persist_layout:
            self.save_layout()
        for runner in (*self.runners, self.warm_up_runner):
            runner.shutdown(timeout=2.0)
        super().closeEvent(event)

    # ------------------------------------------------------------------ opening
    def open_path(self, path: str | Path, **options: Any) -> None:
        """Open a run in the background; ``options`` override the launch defaults (model, dataset, ...)."""
        request = replace(self.open_defaults, path=str(path), **options)
        self._opening = request
        self.status_message.setText(f"Opening {Path(request.path).name}…")
        self.open_runner.submit(open_and_extract, request)

    def open_session_file(self, path: str | Path) -> None:
        """Reopen a saved session (its run, settings, epoch, selection and camera); errors go to the dialog."""
        try:
            self.part2.open_session(path)
        except IBViewerError as exc:
            self._report(exc)

    def open_with_dialogs(self, path: str) -> None:
        """Open ``path``, asking for the model factory and dataset when the file needs them."""
        if needs_dataset(path):
            dialog = OpenRunDialog(path, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            values = dialog.values()
            self.open_path(
                path,
                model=values["model"],
                model_kwargs=values["model_kwargs"],
                dataset=values["dataset"],
                max_samples=values["max_samples"],
                trust_pickle=values["trust_pickle"],
            )
        else:
            self.open_path(path)

    def _on_open_action_triggered(self) -> None:
        start = str(app_settings().value("open/last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open Run or Checkpoint", start, RUN_FILE_FILTER)
        if not path:
            return
        app_settings().setValue("open/last_dir", str(Path(path).parent))
        if Path(path).name == "run.json":
            path = str(Path(path).parent)
        self.open_with_dialogs(path)

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        entries = recent_runs()
        if not entries:
            action = self.recent_menu.addAction("No recent runs")
            action.setEnabled(False)
            return
        for entry in entries:
            action = self.recent_menu.addAction(Path(entry["path"]).name or entry["path"])
            action.setToolTip(entry["path"])
            action.setData(entry)
            action.triggered.connect(self._on_recent_action_triggered)

    def _on_recent_action_triggered(self) -> None:
        entry = self.sender().data()
        self.open_path(
            entry["path"],
            model=entry.get("model"),
            model_kwargs=entry.get("model_kwargs"),
            dataset=entry.get("dataset"),
            max_samples=entry.get("max_samples"),
        )

    def _on_open_runner_finished(self, opened: OpenedRun) -> None:
        for runner in (self.analysis_runner, self.neighbor_runner):
            runner.cancel()
        request = opened.request
        add_recent_run(
            {"path": request.path, "model": request.model, "model_kwargs": request.model_kwargs,
             "dataset": request.dataset, "max_samples": request.max_samples}  # fmt: skip
        )
        self.state.set_run(opened.run, opened.activations)
        self.warnings.clear()
        self.warning_label.hide()
        acts = opened.activations
        epochs = list(acts.epochs)
        self.setWindowTitle(f"{opened.run.name} — ibviewer")
        self.run_label.setText(
            f"<b>{opened.run.name}</b> · {acts.n_samples} samples · {len(acts.layers)} layers · "
            f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''} ({epochs[0]}–{epochs[-1]})"
        )
        if self.pending_epoch is not None:
            epoch, self.pending_epoch = self.pending_epoch, None
            if epoch not in epochs:
                self._report(IBViewerError(f"Epoch {epoch} is not in this run; saved epochs: {epochs}."))
            else:
                self.state.epoch = epoch
        self.start_analysis()

    # ------------------------------------------------------------------ analysis
    def start_analysis(self, stages: frozenset[str] = frozenset({"infoplane", "embeddings", "probes"})) -> None:
        """(Re)compute the given stages for the open run and the current epoch."""
        state = self.state
        if state.activations is None or state.epoch is None:
            return
        self.analysis_runner.submit(
            run_analysis, state.activations, state.settings, epochs=(state.epoch,), stages=stages, preview=True,
            **self.cache_options(),
        )  # fmt: skip

    def cache_options(self) -> dict[str, Any]:
        """The disk-cache keyword arguments of the pipeline's functions, from the launch options."""
        return {"cache_dir": self.open_defaults.cache_dir, "use_cache": self.open_defaults.use_cache}

    def add_runner(self, runner: TaskRunner, shows_embeddings: bool = False) -> None:
        """Treat ``runner`` as a user job: status-bar progress, Cancel and errors; with ``shows_embeddings``
        the embeddings it posts are drawn like the analysis chain's."""
        self.runners = (*self.runners, runner)
        runner.progress_changed.connect(self._on_runner_progress_changed)
        runner.failed.connect(self._on_runner_failed)
        runner.cancelled.connect(self._on_runner_cancelled)
        runner.running_changed.connect(self._on_runner_running_changed)
        runner.warning_raised.connect(self._on_runner_warning_raised)
        if shows_embeddings:
            runner.partial_ready.connect(self._on_analysis_runner_partial_ready)

    def _on_analysis_runner_partial_ready(self, result: object) -> None:
        state = self.state
        if isinstance(result, StageResult):
            if result.stage == "infoplane":
                state.set_infoplane(result.value)
            elif result.stage == "probes":
                state.set_probes(result.value)
            return
        coords = getattr(result, "coords", None)
        layer = getattr(result, "layer", None)
        epoch = getattr(result, "epoch", None)
        if coords is None or layer is None or epoch is None or len(coords) != state.n_samples:
            return  # a snapshot of a subsample cannot be drawn over all samples: wait for the final one
        current = state.embedding(layer, epoch)
        final_method = getattr(current, "method", None)
        if final_method not in (None, "pca") and getattr(result, "method", None) == "pca":
            return  # never replace a finished t-SNE/UMAP panel by the PCA preview
        state.set_embedding(epoch, layer, result)

    def _on_analysis_runner_finished(self, _result: object) -> None:
        elapsed = time.monotonic() - self.analysis_runner.started_at
        self.status_message.setText(f"Analysis done in {elapsed:.1f} s")

    def _on_state_epoch_changed(self, epoch: int) -> None:
        if self.part2.playback.is_playing():
            return  # playback shows embedded epochs; the stopped epoch is analysed on pause
        self.analyse_epoch()

    def analyse_epoch(self) -> None:
        """Embeddings (unless every layer already has the final one) and probes of the current epoch."""
        # embeddings and probes are per epoch (cached on disk, so going back is instant)
        state = self.state
        method = state.settings.method
        embedded = all(
            getattr(state.embedding(layer), "method", None) == method
            and getattr(state.coords(layer), "shape", (0,))[0] == state.n_samples
            for layer in state.layer_names
        )
        self.start_analysis(frozenset({"probes"} if embedded else {"embeddings", "probes"}))
        if state.focus is not None:
            self.query_neighbors()

    def _on_recompute_action_triggered(self) -> None:
        self.state.clear_embeddings()
        self.start_analysis()

    def _on_method_action_triggered(self) -> None:
        method = self.sender().data()
        for name, action in self.method_actions.items():
            action.setChecked(name == method)
        settings = self.part2.settings
        changes: dict[str, Any] = {"method": method}
        if method != "umap" and settings.alignment == "aligned_umap":
            changes["alignment"] = "init"  # AlignedUMAP is UMAP-only
        self.part2.apply_settings(settings.with_changes(**changes))  # recomputes the embeddings

    # ------------------------------------------------------------------ neighbours
    def _on_state_focus_changed(self) -> None:
        self.query_neighbors()

    def _on_neighbors_panel_query_changed(self) -> None:
        self._neighbor_timer.start()

    def query_neighbors(self) -> None:
        """Look up the focused sample's neighbours in every layer (in the background)."""
        state = self.state
        if state.focus is None or state.activations is None:
            self.neighbor_runner.cancel()
            return
        settings = state.settings
        self.neighbor_runner.submit(
            find_neighbors, state.activations, state.epoch, state.focus.row, layer=state.focus.layer,
            k=settings.k, metric=settings.metric, cache=self._neighbor_cache,
        )  # fmt: skip

    def _on_neighbor_runner_finished(self, neighbors: Neighborhood) -> None:
        state = self.state
        focus = state.focus
        if focus is None or (neighbors.row, neighbors.layer, neighbors.epoch) != (focus.row, focus.layer, state.epoch):
            return  # answers a question nobody asks any more
        state.set_neighbors(neighbors)

    # ------------------------------------------------------------------ jobs and status
    def cancel_all(self) -> None:
        for runner in self.runners:
            runner.cancel()

    def is_busy(self) -> bool:
        return any(runner.is_running() for runner in self.runners)

    def _on_runner_progress_changed(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(1000 * fraction))
        if message:
            self.status_message.setText(message)

    def _on_runner_running_changed(self, running: bool) -> None:
        busy = self.is_busy()
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_action.setEnabled(busy)
        if running:
            self.progress_bar.setValue(0)
        if not busy:
            self._idle_timer.start()

    def _on_idle_timer_timeout(self) -> None:
        if not self.is_busy():
            self.idle.emit()

    def _on_runner_failed(self, exc: BaseException) -> None:
        runner = self.sender()
        if runner is self.open_runner and self._opening is not None:
            self.status_message.setText(f"Could not open {Path(self._opening.path).name}")
        else:
            self.status_message.setText(f"Failed: {error_summary(exc)}")
        self._report(exc)

    def _on_runner_warning_raised(self, message: str) -> None:
        self.warnings.append(message)
        self.warning_label.setText(f"⚠ {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}")
        self.warning_label.setToolTip("\n\n".join(self.warnings[-10:]))
        self.warning_label.show()
        self.statusBar().showMessage(message, 20_000)

    def _on_runner_cancelled(self) -> None:
        self.status_message.setText("Cancelled")

    def _report(self, exc: BaseException) -> None:
        self.last_error = exc
        if self.show_dialogs:
            self.last_error_dialog = show_error(self, exc)
        self.job_failed.emit(exc)

    # ------------------------------------------------------------------ export
    def figure_widget(self, target: str) -> QWidget:
        """The widget behind an export target: infoplane, grid, words, probes, window or ``layer:<name>``."""
        if target == "infoplane":
            return self.info_view.canvas
        if target == "grid":
            return self.part2.layer_stack.currentWidget().figure  # the 2D or the 3D grid, whichever is shown
        if target == "words":
            return self.part2.word_view.figure
        if target == "probes":
            return self.part2.probe_panel.canvas
        if target == "window":
            return self
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
        state = self.state
        if kind == "infoplane":
            if state.infoplane is None:
                raise IBViewerError("The information plane is not computed yet; wait for it or open a run.")
            from ibviewer.core.writers import write_infoplane_csv

            return write_infoplane_csv(state.infoplane, path)
        from ibviewer.core import writers

        names = state.sample_names()
        if kind == "embeddings":
            shown = [state.embedding(layer) for layer in state.layer_names]
            return writers.write_embeddings_csv(path, [e for e in shown if e is not None], state.activations, names)
        if kind == "neighbors":
            if state.neighbors is None:
                raise IBViewerError("No neighbours to export: click a point in a layer panel first.")
            return writers.write_neighbors_csv(path, state.neighbors, state.activations, names)
        if kind == "probes":
            if state.probes is None:
                raise IBViewerError("The layer probes are not computed yet; wait for them or open a run.")
            return writers.write_probes_csv(state.probes, path)
        raise IBViewerError(f"Unknown data export {kind!r}; choose {', '.join(DATA_KINDS)}.")

    def _default_export_name(self, stem: str, suffix: str) -> str:
        folder = Path(str(app_settings().value("export/last_dir", str(Path.home()))))
        name = getattr(self.state.run, "name", "ibviewer")
        return str(folder / f"{name}_{stem}.{suffix}")

    def _on_export_figure_action_triggered(self) -> None:
        dialog = ExportFigureDialog(self.figure_targets(), self.figure_widget, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        target, fmt, scale = dialog.values()
        stem = target.replace("layer:", "layer_").replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export Figure", self._default_export_name(stem, fmt), f"{fmt.upper()} (*.{fmt})"
        )
        if path and not path.lower().endswith(f".{fmt}"):
            path += f".{fmt}"
        self._save(path, lambda: self.export_figure(target, path, scale))

    def _on_export_data_action_triggered(self) -> None:
        titles = list(DATA_KINDS.values())
        title, ok = QInputDialog.getItem(self, "Export Data", "What to export:", titles, 0, False)
        if not ok:
            return
        kind = list(DATA_KINDS)[titles.index(title)]
        path, _ = QFileDialog.getSaveFileName(self, "Export Data", self._default_export_name(kind, "csv"), "CSV (*.csv)")
        self._save(path, lambda: self.export_data(kind, path))

    def _save(self, path: str, write: Any) -> None:
        """Run ``write()`` for a path the user chose (nothing when cancelled); errors go to the dialog."""
        if not path:
            return
        try:
            write()
        except IBViewerError as exc:
            self._report(exc)
            return
        app_settings().setValue("export/last_dir", str(Path(path).parent))
        self.status_message.setText(f"Saved {path}")

    # ------------------------------------------------------------------ help
    def _on_help_action_triggered(self) -> None:
        from ibviewer.gui.dialogs.help_dialog import HelpDialog

        dialog = HelpDialog(self)
        dialog.show()

    def _on_about_action_triggered(self) -> None:
        QMessageBox.about(
            self,
            "About ibviewer",
            f"<h3>ibviewer {__version__}</h3>"
            "<p>Look inside trained neural networks through information theory: the information plane "
            "(Shwartz-Ziv &amp; Tishby 2017; Saxe et al. 2018), per-layer embeddings, nearest neighbours "
            "and layer probes.</p><p>MIT licence.</p>",
        )
