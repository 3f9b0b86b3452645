"""Puts the part-2 views into the main window: 3D panels, timeline, probes, words, live controls, sessions.

`install_part2(window)` adds, without the window knowing their classes:

- the layer panels become a 2D/3D stack in a "Layers" tab, beside "Words" (the word
  experiment, for runs with words) and "Layer probes";
- the epoch timeline under the information plane;
- a "Controls" dock with the live settings (View > Controls); an edit recomputes only
  what `settings_diff` names, through the window's own analysis job;
- File > Open Session… / Save Session…, Edit > Copy Figure, View > 3D Embeddings.

The window stays the owner of runs and analysis jobs; this controller only composes views
and forwards settings, so views still talk to each other through `AppState` alone.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMenu, QScrollArea, QStackedWidget, QTabWidget, QWidget

from ibviewer.errors import IBViewerError
from ibviewer.core.pipeline import embed_keyframes
from ibviewer.core.config import AnalysisSettings, settings_diff
from ibviewer.gui.session import (
    SESSION_SUFFIX,
    Session,
    apply_session_view,
    capture_session,
    copy_widget_to_clipboard,
    load_session,
    save_session,
)
from ibviewer.gui.views.controls_panel import ControlsPanel
from ibviewer.gui.views.embedding_view_3d import EmbeddingGrid3DView
from ibviewer.gui.views.probe_panel import ProbePanel
from ibviewer.gui.playback import EpochPlayback
from ibviewer.gui.views.timeline import TimelinePanel
from ibviewer.gui.views.word_view import WordView, word_preset_available
from ibviewer.gui.workers import TaskRunner

__all__ = ["Part2Controller", "install_part2"]

log = logging.getLogger(__name__)

LAYERS_TAB, WORDS_TAB, PROBES_TAB = 0, 1, 2


def install_part2(window: Any) -> Part2Controller:
    """Add the part-2 views, menus and the controls dock to a `MainWindow`; returns the controller."""
    controller = Part2Controller(window)
    window.part2 = controller
    return controller


class Part2Controller(QObject):
    """Composes the part-2 views into ``window`` and forwards control edits to its analysis."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        state = self.state = window.state
        self.run_options: dict[str, Any] | None = None
        self.pending_session: Session | None = None

        self.playback = EpochPlayback(state, self)
        self.playback.hold_for_embeddings = True  # play starts once the keyframe epochs are embedded
        window.embedding_view.set_playback(self.playback)  # the 2D panels animate during playback too
        self.playback_runner = TaskRunner(name="playback", parent=self)
        window.add_runner(self.playback_runner, shows_embeddings=True)
        self._resume_playback = False
        self._closing = False
        self.grid3d = EmbeddingGrid3DView(state, self.playback)
        self.timeline = TimelinePanel(state, self.playback)
        self.probe_panel = ProbePanel(state)
        self.word_view = WordView(state)
        self.controls = ControlsPanel(state, self.settings)

        # right: Layers (2D / 3D) | Words | Layer probes
        self.layer_stack = QStackedWidget()
        index = window.main_splitter.indexOf(window.embedding_view)
        self.tabs = QTabWidget()
        window.main_splitter.replaceWidget(index, self.tabs)
        self.layer_stack.addWidget(window.embedding_view)
        self.layer_stack.addWidget(self.grid3d)
        self.tabs.addTab(self.layer_stack, "Layers")
        self.tabs.addTab(self.word_view, "Words")
        self.tabs.addTab(self.probe_panel, "Layer probes")
        self.tabs.setTabToolTip(WORDS_TAB, "The word experiment: query words and their nearest words, per layer")
        # left: the timeline under the information plane
        window.left_splitter.insertWidget(window.left_splitter.indexOf(window.info_view) + 1, self.timeline)
        window.left_splitter.setStretchFactor(1, 0)
        # the controls dock
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(self.controls.sizeHint().width() + 24)  # labels and values readable
        self.controls_dock = QDockWidget("Controls", window)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(scroll)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.controls_dock)
        # closed at first so the information plane keeps its width; View > Controls (Ctrl+K) opens it
        # and the window's saved layout remembers the choice
        self.controls_dock.hide()
        self._build_menus()

        self.controls.settings_edited.connect(self._on_controls_settings_edited)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        window.open_runner.finished.connect(self._on_open_runner_finished)
        state.run_changed.connect(self._on_state_run_changed)
        self.playback.embeddings_needed.connect(self._on_playback_embeddings_needed)
        self.playback.playing_changed.connect(self._on_playback_playing_changed)
        self.playback_runner.finished.connect(self._on_playback_runner_finished)
        self.playback_runner.failed.connect(self._on_playback_runner_stopped)
        self.playback_runner.cancelled.connect(self._on_playback_runner_stopped)
        window.installEventFilter(self)
        self._show_dims(self.settings.dims)
        self._on_state_run_changed()

    # -- building ------------------------------------------------------------------------
    def _build_menus(self) -> None:
        window = self.window
        file_menu = window.menuBar().actions()[0].menu()
        self.open_session_action = QAction("Open &Session…", window)
        self.open_session_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_session_action.triggered.connect(self._on_open_session_action_triggered)
        self.save_session_action = QAction("&Save Session…", window)
        self.save_session_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_session_action.triggered.connect(self._on_save_session_action_triggered)
        before = window.export_figure_action
        file_menu.insertAction(before, self.open_session_action)
        file_menu.insertAction(before, self.save_session_action)
        file_menu.insertSeparator(before)
        menus = window.menuBar().actions()  # File, Analysis, ..., Help
        edit_menu = QMenu("&Edit", window)
        window.menuBar().insertMenu(menus[1], edit_menu)
        self.copy_figure_action = QAction("&Copy Figure to Clipboard", window)
        self.copy_figure_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_figure_action.triggered.connect(self.copy_figure)
        edit_menu.addAction(self.copy_figure_action)
        view_menu = QMenu("&View", window)
        window.menuBar().insertMenu(menus[1], view_menu)
        self.view_3d_action = QAction("&3D Embeddings", window, checkable=True)
        self.view_3d_action.setShortcut(QKeySequence("Ctrl+3"))
        self.view_3d_action.setStatusTip("Switch the layer panels between 2D and rotatable 3D embeddings")
        self.view_3d_action.triggered.connect(self._on_view_3d_action_triggered)
        view_menu.addAction(self.view_3d_action)
        controls_action = self.controls_dock.toggleViewAction()
        controls_action.setText("&Controls")
        controls_action.setShortcut(QKeySequence("Ctrl+K"))
        view_menu.addAction(controls_action)

    # -- public --------------------------------------------------------------------
    def current_figure(self) -> QWidget:
        """The figure of the visible tab (what "Copy Figure" copies)."""
        index = self.tabs.currentIndex()
        if index == WORDS_TAB:
            return self.word_view.figure
        if index == PROBES_TAB:
            return self.probe_panel.canvas
        return self.grid3d.figure if self.settings.dims == 3 else self.window.embedding_view.figure

    def copy_figure(self) -> None:
        copy_widget_to_clipboard(self.current_figure())
        self.window.status_message.setText("Figure copied to the clipboard")

    @property
    def settings(self) -> AnalysisSettings:
        """The window's settings (held by `AppState`)."""
        return self.state.settings

    def apply_settings(self, settings: AnalysisSettings) -> set[str]:
        """Use ``settings``: update the views and recompute what changed; returns the recomputed stages."""
        old = self.state.settings
        stages = settings_diff(old, settings) - {"neighbors"}
        if self.controls.settings() != settings:
            self.controls.set_settings(settings)
        self.state.set_settings(settings)
        method_actions = getattr(self.window, "method_actions", {})
        for name, action in method_actions.items():
            action.setChecked(name == settings.method)
        self.window.info_view.set_band_visible(settings.kde_band)
        self.grid3d.set_color_mode(settings.color_by)
        self.window.embedding_view.set_color_mode(settings.color_by)
        self._show_dims(settings.dims)
        if settings.color_by == "faithfulness" and old.color_by != "faithfulness" and self._lacks_faithfulness():
            stages.add("embeddings")  # from the cache: the same embeddings with their k-NN overlap
        if self.state.activations is not None and stages:
            if "embeddings" in stages:
                self._stop_playback_embedding()
                self.state.clear_embeddings()
            self.window.start_analysis(frozenset(stages))
        return stages

    def _lacks_faithfulness(self) -> bool:
        state = self.state
        return any(
            state.embedding(layer) is not None and getattr(state.embedding(layer), "knn_overlap", None) is None
            for layer in state.layer_names
        )

    def session(self) -> Session:
        """The session of what the window shows now."""
        if self.run_options is None:
            raise IBViewerError("Open a run before saving a session.")
        camera = self.grid3d.camera_state()
        return capture_session(self.state, self.run_options, self.settings, camera)

    def open_session(self, path: str | Path) -> None:
        """Open the session's run with its options; its settings, epoch, selection and camera follow."""
        session = load_session(path)
        options = {k: v for k, v in session.run.items() if k != "path"}
        valid = {f.name for f in dataclasses.fields(type(self.window.open_defaults))}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise IBViewerError(f"This ibviewer cannot open runs with option(s) {', '.join(unknown)}.")
        self.pending_session = session
        self.apply_settings(session.settings)
        self.window.pending_epoch = session.epoch
        self.window.open_path(session.run["path"], **options)

    # -- slots -------------------------------------------------------------------------
    def _show_dims(self, dims: int) -> None:
        self.layer_stack.setCurrentWidget(self.grid3d if dims == 3 else self.window.embedding_view)
        self.view_3d_action.setChecked(dims == 3)

    def _on_controls_settings_edited(self, settings: AnalysisSettings) -> None:
        self.apply_settings(settings)

    def _on_view_3d_action_triggered(self, checked: bool) -> None:
        self.apply_settings(self.settings.with_changes(dims=3 if checked else 2))

    def _on_open_runner_finished(self, opened: Any) -> None:
        request = opened.request
        fields = ("path", "model", "model_kwargs", "dataset", "layers", "max_samples", "sequence_pool", "feature_maps")
        self.run_options = {name: getattr(request, name, None) for name in fields}
        session, self.pending_session = self.pending_session, None
        if session is not None:
            problems = apply_session_view(self.state, session)
            if session.camera:
                self.grid3d.set_camera_state(session.camera)
            if session.settings.search:
                self.controls.apply_search()
            if problems:
                self.window.status_message.setText("Session partly restored: " + "; ".join(problems))

    def _on_state_run_changed(self) -> None:
        self._stop_playback_embedding()
        has_words = word_preset_available(self.state)
        self.tabs.setTabEnabled(WORDS_TAB, has_words)
        if has_words:
            self.tabs.setCurrentIndex(WORDS_TAB)  # the preset of runs with words
        elif self.tabs.currentIndex() == WORDS_TAB:
            self.tabs.setCurrentIndex(LAYERS_TAB)

    def _on_tabs_current_changed(self, index: int) -> None:
        if index == WORDS_TAB and self.word_view.experiment is None and word_preset_available(self.state):
            self.word_view.compute(self.settings.dims, self.settings.method)

    def playback_note(self) -> str:
        """Which saved epochs playback animates through, e.g. "25 of 300 saved epochs (evenly spaced)"."""
        playback = self.playback
        n_saved, n_keys = len(playback.epochs), len(playback.keyframes)
        if playback.subsampled():
            return f"{n_keys} of {n_saved} saved epochs (evenly spaced)"
        return f"all {n_saved} saved epochs"

    def embed_playback_epochs(self) -> None:
        """Embed every layer at the playback keyframes in the background (aligned across epochs)."""
        state = self.state
        if state.activations is None or state.epoch is None:
            return
        settings = self.settings
        # t-SNE/UMAP: the same cache entries as the analysis chain (faithfulness is cheap beside them);
        # PCA: faithfulness would cost more than the embeddings, so only when it is what colours the points
        faithfulness = settings.method != "pca" or settings.color_by == "faithfulness"
        self.playback_runner.submit(
            embed_keyframes, state.activations, settings, self.playback.keyframes, faithfulness=faithfulness,
            **self.window.cache_options(),
        )  # fmt: skip
        self.window.status_message.setText(f"Embedding {self.playback_note()} for playback…")

    def _stop_playback_embedding(self) -> None:
        self._resume_playback = False
        self.playback_runner.cancel()

    def _on_playback_embeddings_needed(self, epochs: tuple[int, ...]) -> None:
        log.info("playback: embedding epochs %s first", list(epochs))
        self._resume_playback = True
        if not self.playback_runner.is_running():
            self.embed_playback_epochs()

    def _on_playback_runner_finished(self, _result: object) -> None:
        resume, self._resume_playback = self._resume_playback, False
        self.window.status_message.setText(f"Playback animates {self.playback_note()}")
        if resume and not self.playback.missing_epochs():
            self.playback.play()

    def _on_playback_runner_stopped(self, *_args: object) -> None:
        self._resume_playback = False

    def _on_playback_playing_changed(self, playing: bool) -> None:
        if not playing and self.state.activations is not None and not self._closing:
            self.window.analyse_epoch()  # probes (and embeddings when missing) where playback stopped

    def _on_open_session_action_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open Session", "", f"ibviewer sessions (*{SESSION_SUFFIX})")
        if path:
            try:
                self.open_session(path)
            except IBViewerError as exc:
                self.window._report(exc)

    def _on_save_session_action_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save Session", "", f"ibviewer sessions (*{SESSION_SUFFIX})")
        if not path:
            return
        if not path.endswith(SESSION_SUFFIX):
            path += SESSION_SUFFIX
        try:
            save_session(path, self.session())
        except (IBViewerError, OSError) as exc:
            self.window._report(exc if isinstance(exc, IBViewerError) else IBViewerError(f"Could not save {path}: {exc}"))
            return
        self.window.status_message.setText(f"Session saved to {Path(path).name}")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.Close:
            self._closing = True
            self.playback.pause()
            for panel in (self.controls, self.probe_panel, self.word_view):
                panel.shutdown(timeout=2.0)
        return False
