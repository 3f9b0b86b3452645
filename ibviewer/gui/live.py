"""Following a run while training still writes it: file watching, a settle timer, background rescans.

`LiveFollower` starts following every run the controller opens whose input can grow (an
ibviewer run folder, a checkpoint folder, a transformers ``Trainer`` output, a Lightning run;
see :class:`ibviewer.core.run.LiveRun`). A ``QFileSystemWatcher`` watches the run's folders
(files are replaced by renames, so folders, not files); every change restarts a single-shot
timer of `SETTLE_MS` (writes come in bursts), and when it fires one job on the hub's
`LIVE` slot re-scans the run and extracts only the new epochs (never on the GUI thread, no
polling). New epochs then reach the information plane and the timeline through
`AnalysisController.show_grown_run`, which keeps the epoch and the selection.

`LiveIndicator` is the status-bar button that says the run is followed (and what arrived
last); clicking it stops following.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtWidgets import QToolButton, QWidget

from ibviewer.core.pipeline import OpenedRun
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run.live import LiveRun, RunChanges
from ibviewer.core.run.run import Run
from ibviewer.core.types import ActivationSet
from ibviewer.gui.controller import OPEN, AnalysisController
from ibviewer.gui.jobs import JobHub

__all__ = ["LiveFollower", "LiveIndicator", "LiveStep", "follow_step", "LIVE", "SETTLE_MS"]

LIVE = "live"  # the job slot of rescans
SETTLE_MS = 1000  # quiet time after the last change before rescanning


@dataclass(frozen=True)
class LiveStep:
    """One rescan: what changed and the activations grown by the new epochs."""

    live: LiveRun
    changes: RunChanges
    activations: ActivationSet


def follow_step(
    live: LiveRun,
    activations: ActivationSet,
    *,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> LiveStep:
    """Re-scan ``live`` and extract its new epochs (a job: cancellable through ``progress``)."""
    progress.update(0.0, f"Looking for new epochs in {live.run.path.name}")
    before = live.run.source.entries
    changes = live.rescan()
    if changes.added:
        progress.update(0.05, f"Extracting {len(changes.added)} new epoch(s)")
        try:
            activations = live.extend(activations, changes, progress=progress, cache_dir=cache_dir, use_cache=use_cache)
        except BaseException:
            live.run.source.entries = before  # cancelled or failed: the next rescan finds these epochs again
            raise
    return LiveStep(live, changes, activations)


class LiveFollower(QObject):
    """Follows the open run as it grows (see the module docstring).

    Signals
    -------
    following_changed(bool)
        Following started (a growable run opened) or stopped.
    epochs_arrived(object)
        The `RunChanges` of a rescan that added epochs, after the window shows them.
    """

    following_changed = Signal(bool)
    epochs_arrived = Signal(object)

    def __init__(self, controller: AnalysisController, jobs: JobHub, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.jobs = jobs
        self.live: LiveRun | None = None
        self.last_changes: RunChanges | None = None
        self.stopped_reason = ""
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._on_watcher_changed)
        self.watcher.fileChanged.connect(self._on_watcher_changed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SETTLE_MS)
        self.timer.timeout.connect(self.rescan)
        controller.run_opened.connect(self._on_controller_run_opened)
        jobs.job_failed.connect(self._on_jobs_job_failed)

    # -- following -------------------------------------------------------------------------
    def is_following(self) -> bool:
        return self.live is not None

    def follow(self, run: Any) -> bool:
        """Follow ``run`` (an opened `Run`) when its input can grow; returns whether it is followed."""
        self.stop(emit=False)
        live = LiveRun(run) if isinstance(run, Run) else None  # other runs (the word experiment's) never grow
        if live is None or not live.followable:
            self.following_changed.emit(False)
            return False
        self.live = live
        self.stopped_reason = ""
        self._watch()
        self.following_changed.emit(True)
        return True

    def stop(self, emit: bool = True, reason: str = "") -> None:
        """Stop following: no more watching, the pending rescan is dropped."""
        was_following = self.live is not None
        self.live = None
        self.timer.stop()
        self.jobs.cancel(LIVE)
        watched = self.watcher.directories() + self.watcher.files()
        if watched:
            self.watcher.removePaths(watched)
        self.stopped_reason = reason
        if emit and was_following:
            self.following_changed.emit(False)

    def watched_paths(self) -> list[str]:
        return self.watcher.directories() + self.watcher.files()

    def _watch(self) -> None:
        """Watch the run's folders that exist now (a folder made later is picked up after the next rescan)."""
        if self.live is None:
            return
        wanted = [str(p) for p in self.live.watched_paths() if Path(p).is_dir()]
        missing = [p for p in wanted if p not in self.watched_paths()]
        if missing:
            self.watcher.addPaths(missing)

    # -- rescanning ------------------------------------------------------------------------
    def _on_watcher_changed(self, _path: str) -> None:
        if self.live is not None:
            self.timer.start()  # restart: rescan once the burst of writes has settled

    def rescan(self) -> None:
        """Re-scan the run now in the background (what the timer does after changes)."""
        state = self.controller.state
        if self.live is None or state.activations is None:
            return
        if LIVE in state.running or OPEN in state.running:
            self.timer.start()  # one rescan at a time, and never over a run being opened
            return
        self.jobs.submit(LIVE, follow_step, self.live, state.activations, on_finished=self._on_step_finished,
                         **self.controller.cache_options())  # fmt: skip

    def _on_step_finished(self, step: LiveStep) -> None:
        if step.live is not self.live:
            return  # another run was opened meanwhile
        changes = step.changes
        self._watch()
        if changes.pending:
            self.timer.start()  # files still being written: their folder may not change again
        if changes.added:
            self.last_changes = changes
            self.controller.show_grown_run(step.activations)
            self.epochs_arrived.emit(changes)

    def _on_jobs_job_failed(self, slot: str, exc: BaseException) -> None:
        if slot == LIVE and self.live is not None:
            self.stop(reason=str(exc))

    def _on_controller_run_opened(self, opened: OpenedRun) -> None:
        self.follow(opened.run)


class LiveIndicator(QToolButton):
    """"● Live" in the status bar while the run is followed; a click stops following."""

    def __init__(self, follower: LiveFollower, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.follower = follower
        self.setAutoRaise(True)
        self.setStyleSheet("color: #1a7f37; font-weight: bold;")
        self.clicked.connect(self._on_clicked)
        follower.following_changed.connect(self._on_follower_following_changed)
        follower.epochs_arrived.connect(self._on_follower_epochs_arrived)
        self.hide()

    def _on_follower_following_changed(self, following: bool) -> None:
        self.setVisible(following)
        if following:
            self.setText("● Live")
            self.setToolTip(
                "This run is followed: epochs that training adds appear in the plane and the timeline.\n"
                "Watching: " + "\n".join(self.follower.watched_paths()) + "\n\nClick to stop following."
            )

    def _on_follower_epochs_arrived(self, changes: RunChanges) -> None:
        epochs = ", ".join(str(entry.epoch) for entry in changes.added)
        self.setText(f"● Live · epoch {epochs} at {time.strftime('%H:%M:%S')}")

    def _on_clicked(self) -> None:
        self.follower.stop()
