"""The one hub for every background job of the window: slots, Cancel, busy/idle, progress, errors, warnings.

A job runs a core function in a worker thread (`ibviewer.gui.workers.TaskRunner`: generations
drop stale results, partial results are coalesced, warnings are caught per job). Jobs live in
named slots ("open", "analysis", "neighbors", "words", ...): a new job in a slot cancels the
previous one there, so at most one job per slot ever reports. Whoever submits a job passes
callbacks for its results; everything else is handled here, once, for every job:

- busy/idle: the hub is busy while any *user* job runs (the library warm-up is not one);
  ``idle`` comes once nothing runs any more, deferred to the next turn of the event loop, so
  that a job started by another job's result (open, then analyse) keeps it from coming;
- progress: one bar for all jobs. Within a batch of overlapping jobs (from the moment one
  starts until none runs) the shown fraction is the mean of the running jobs' fractions and
  never moves backwards;
- Cancel: `cancel_all` stops every user job, whoever asked for it;
- failures: every failed job ends in ``job_failed`` (the window shows the error dialog);
- warnings: every warning a job raises goes to ``warning_raised`` and to `warnings`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ibviewer.gui.workers import TaskRunner

__all__ = ["JobHub"]

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class JobHub(QObject):
    """Runs core functions in named slots and reports them as one set of signals.

    Signals
    -------
    job_started(str)
        A job started in this slot (also when it replaced a running one).
    running_changed(str, bool)
        A slot started running or stopped (however its job ended).
    job_finished(str, object)
        Slot and the job's return value (after the job's own ``on_finished``).
    job_failed(str, object)
        Slot and the exception a job raised: the window reports it.
    job_cancelled(str)
    busy_changed(bool)
        Whether any user job runs.
    idle()
        Every user job has ended and none started in the same turn of the event loop.
    progress_changed(float, str)
        The batch's fraction done (never decreasing within a batch) and the newest message.
    warning_raised(str)
        A job raised a warning (also appended to `warnings`).
    warnings_changed()
        `warnings` grew or was cleared.
    """

    job_started = Signal(str)
    running_changed = Signal(str, bool)
    job_finished = Signal(str, object)
    job_failed = Signal(str, object)
    job_cancelled = Signal(str)
    busy_changed = Signal(bool)
    idle = Signal()
    progress_changed = Signal(float, str)
    warning_raised = Signal(str)
    warnings_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.warnings: list[str] = []
        self._runners: dict[str, TaskRunner] = {}
        self._background: set[str] = set()  # slots whose jobs never make the hub busy
        self._on_partial: dict[str, Callback | None] = {}
        self._on_finished: dict[str, Callback | None] = {}
        self._busy = False
        self._closed = False  # after `shutdown` no job starts (a timer may still fire while the window closes)
        self._fractions: dict[str, float] = {}  # running user slots of the current batch
        self._shown = 0.0
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(0)
        self._idle_timer.timeout.connect(self._on_idle_timer_timeout)

    # -- submitting ------------------------------------------------------------------
    def submit(
        self,
        slot: str,
        fn: Callable[..., Any],
        *args: Any,
        on_partial: Callback | None = None,
        on_finished: Callback | None = None,
        background: bool = False,
        **kwargs: Any,
    ) -> int:
        """Run ``fn(*args, progress=..., **kwargs)`` in ``slot``, cancelling the slot's previous job.

        ``on_partial`` receives what the job posts with ``progress.partial``, ``on_finished``
        its return value; both run in the GUI thread and only for this job (a newer job in
        the slot silences it). A ``background`` job (the warm-up) never makes the hub busy
        and `cancel_all` leaves it alone. Returns the job's generation within its slot (0: not
        started, the hub was shut down).
        """
        if self._closed:
            log.debug("not starting %s: the hub is shut down", slot)
            return 0
        runner = self.runner(slot)
        if background:
            self._background.add(slot)
        else:
            self._background.discard(slot)
        self._on_partial[slot] = on_partial
        self._on_finished[slot] = on_finished
        generation = runner.submit(fn, *args, **kwargs)
        self.job_started.emit(slot)
        if not background:
            self._fractions[slot] = 0.0
            self._set_busy_now()
        return generation

    def runner(self, slot: str) -> TaskRunner:
        """The `TaskRunner` behind a slot (made on first use)."""
        runner = self._runners.get(slot)
        if runner is None:
            runner = TaskRunner(name=slot, parent=self)
            runner.progress_changed.connect(self._on_runner_progress_changed)
            runner.partial_ready.connect(self._on_runner_partial_ready)
            runner.finished.connect(self._on_runner_finished)
            runner.failed.connect(self._on_runner_failed)
            runner.cancelled.connect(self._on_runner_cancelled)
            runner.running_changed.connect(self._on_runner_running_changed)
            runner.warning_raised.connect(self._on_runner_warning_raised)
            self._runners[slot] = runner
        return runner

    # -- controlling -----------------------------------------------------------------
    def cancel(self, slot: str) -> None:
        """Ask the slot's job to stop (``job_cancelled`` follows once it has)."""
        runner = self._runners.get(slot)
        if runner is not None:
            runner.cancel()

    def cancel_all(self) -> None:
        """Stop every user job (what Cancel does); the background warm-up goes on."""
        for slot, runner in self._runners.items():
            if slot not in self._background:
                runner.cancel()

    def is_running(self, slot: str) -> bool:
        runner = self._runners.get(slot)
        return runner is not None and runner.is_running()

    def is_busy(self) -> bool:
        """Whether any user job runs now."""
        return any(self.is_running(slot) for slot in self._runners if slot not in self._background)

    def running_slots(self) -> frozenset[str]:
        return frozenset(slot for slot in self._runners if self.is_running(slot))

    def shutdown(self, timeout: float = 3.0) -> bool:
        """Cancel every job, the warm-up too, and wait for their threads (window close, app exit)."""
        self._closed = True
        ok = True
        for runner in self._runners.values():
            ok = runner.shutdown(timeout) and ok
        return ok

    def clear_warnings(self) -> None:
        if self.warnings:
            self.warnings.clear()
            self.warnings_changed.emit()

    # -- runner slots (GUI thread) ------------------------------------------------------
    def _slot_of_sender(self) -> str:
        return self.sender().name

    def _on_runner_progress_changed(self, fraction: float, message: str) -> None:
        slot = self._slot_of_sender()
        if slot in self._background or slot not in self._fractions:
            return
        self._fractions[slot] = max(self._fractions[slot], fraction)
        self._shown = max(self._shown, sum(self._fractions.values()) / len(self._fractions))
        self.progress_changed.emit(self._shown, message)

    def _on_runner_partial_ready(self, result: object) -> None:
        callback = self._on_partial.get(self._slot_of_sender())
        if callback is not None:
            callback(result)

    def _on_runner_finished(self, result: object) -> None:
        slot = self._slot_of_sender()
        callback = self._on_finished.get(slot)
        if callback is not None:
            callback(result)
        self.job_finished.emit(slot, result)

    def _on_runner_failed(self, exc: BaseException) -> None:
        slot = self._slot_of_sender()
        log.info("job %s failed: %s", slot, exc)
        self.job_failed.emit(slot, exc)

    def _on_runner_cancelled(self) -> None:
        self.job_cancelled.emit(self._slot_of_sender())

    def _on_runner_warning_raised(self, message: str) -> None:
        self.warnings.append(message)
        self.warning_raised.emit(message)
        self.warnings_changed.emit()

    def _on_runner_running_changed(self, running: bool) -> None:
        slot = self._slot_of_sender()
        self.running_changed.emit(slot, running)
        if slot in self._background or running:
            return
        self._fractions.pop(slot, None)
        if not self._fractions:
            self._shown = 0.0  # the batch is over: the next job starts a new bar
        if not self.is_busy():
            if self._busy:
                self._busy = False
                self.busy_changed.emit(False)
            self._idle_timer.start()

    def _set_busy_now(self) -> None:
        self._idle_timer.stop()
        if not self._busy:
            self._busy = True
            self.busy_changed.emit(True)

    def _on_idle_timer_timeout(self) -> None:
        if not self.is_busy():
            self.idle.emit()
