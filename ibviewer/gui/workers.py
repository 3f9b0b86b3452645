"""Run core functions in worker threads; their progress, partial results and outcome arrive as signals.

`TaskRunner` owns one job slot: starting a job cancels the previous one, and every job
carries a generation so that anything a stale job still posts is dropped. Worker code
never touches widgets: the progress adapter queues events and pokes the runner (a
QObject living in the GUI thread) through a queued signal; the runner drains the queue
in the GUI thread and re-emits the public signals.

Progress updates and intermediate partial results (objects with an ``iteration``
attribute, such as t-SNE snapshots) are coalesced: only the newest one per layer is
kept while the GUI has not yet picked it up, so a fast optimiser cannot flood the
event loop. Final partial results are always delivered, in order.

Warnings raised in a job (the core's actionable advice, e.g. "layer X sits at log2(N)")
become `TaskRunner.warning_raised` instead of going to stderr or, under a strict
warnings filter, failing the job. Python 3.11 has no per-thread warning filters, so
while any job runs one process-wide override routes each worker thread's warnings to
its job and everything else to the previous handler.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Signal

from ibviewer.errors import Cancelled

__all__ = ["TaskRunner", "ThreadProgress", "reserve_gui_core", "WORKER_NICENESS"]

# worker threads run at a lower OS priority than the GUI thread (Linux: per-thread nice)
WORKER_NICENESS = 10

log = logging.getLogger(__name__)


class ThreadProgress:
    """The `Progress` a worker sees: queues events for the GUI thread; cancelled through an Event."""

    def __init__(self, poke: Callable[[ThreadProgress], None]) -> None:
        self._poke = poke
        self._lock = threading.Lock()
        self._events: list[tuple[str, Any]] = []
        self._latest_progress: tuple[float, str] | None = None
        self._poked = False
        self._warned: set[str] = set()
        self.cancel_event = threading.Event()

    # -- the Progress protocol (worker thread) --------------------------------------
    def update(self, fraction: float, message: str = "") -> None:
        with self._lock:
            self._latest_progress = (min(max(float(fraction), 0.0), 1.0), str(message))
            self._notify_locked()

    def partial(self, result: object) -> None:
        with self._lock:
            key = _intermediate_key(result)
            if key is not None:
                for i, (kind, queued) in enumerate(self._events):
                    if kind == "partial" and _intermediate_key(queued) == key:
                        self._events[i] = ("partial", result)  # newer snapshot of the same thing
                        break
                else:
                    self._events.append(("partial", result))
            else:
                self._events.append(("partial", result))
            self._notify_locked()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def warn(self, message: str) -> None:
        """Queue a warning raised in the job (each distinct message once per job)."""
        with self._lock:
            if ("warning", message) not in self._events and message not in self._warned:
                self._warned.add(message)
                self._events.append(("warning", message))
                self._notify_locked()

    # -- GUI thread -------------------------------------------------------------------
    def take(self) -> tuple[tuple[float, str] | None, list[tuple[str, Any]]]:
        """Everything posted since the last call: (latest progress or None, partial events)."""
        with self._lock:
            progress, events = self._latest_progress, self._events
            self._latest_progress, self._events = None, []
            self._poked = False
        return progress, events

    def _notify_locked(self) -> None:
        if not self._poked:
            self._poked = True
            self._poke(self)


class _WarningRouter:
    """Routes warnings of worker threads to their job while at least one job runs (see module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[int, ThreadProgress] = {}
        self._override: Any = None
        self._previous_show: Callable[..., Any] | None = None

    @contextlib.contextmanager
    def route(self, adapter: ThreadProgress) -> Iterator[None]:
        ident = threading.get_ident()
        with self._lock:
            if not self._routes:
                self._override = warnings.catch_warnings()
                self._override.__enter__()
                self._previous_show = warnings.showwarning
                warnings.simplefilter("always")
                warnings.showwarning = self._show
            self._routes[ident] = adapter
        try:
            yield
        finally:
            with self._lock:
                self._routes.pop(ident, None)
                if not self._routes and self._override is not None:
                    self._override.__exit__(None, None, None)
                    self._override = None

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        adapter = self._routes.get(threading.get_ident())
        if adapter is not None:
            log.info("warning in a job: %s", message)
            adapter.warn(str(message))
        elif self._previous_show is not None:
            self._previous_show(message, category, filename, lineno, file, line)


_WARNINGS = _WarningRouter()


def _lower_thread_priority() -> None:
    """Let the GUI thread win the CPU over computation (Linux allows a nice value per thread)."""
    import os

    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), WORKER_NICENESS))
    except OSError:  # not permitted or not per-thread on this platform: run at normal priority
        pass


def reserve_gui_core() -> Callable[[], None]:
    """Cap the native thread pools (BLAS, OpenMP, torch) at one less than the cores, leaving one to the GUI.

    Applies to the libraries loaded so far (call it after `ibviewer.core.pipeline.warm_up`);
    returns a function that restores the previous limits.
    """
    import os

    n_threads = max(1, (os.cpu_count() or 1) - 1)
    restore: list[Callable[[], None]] = []
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=n_threads)
        restore.append(limiter.restore_original_limits)
    except ImportError:
        pass
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(min(previous, n_threads))
        restore.append(lambda: torch.set_num_threads(previous))
    except ImportError:
        pass

    def undo() -> None:
        for step in reversed(restore):
            step()

    return undo


def _emit_safely(signal: Any, *args: Any) -> None:
    """Emit from a worker thread; the runner may have been deleted with its window meanwhile."""
    try:
        signal.emit(*args)
    except RuntimeError:  # "Signal source has been deleted": nobody is listening any more
        log.debug("a job ended after its runner was deleted")


def _intermediate_key(result: object) -> tuple | None:
    """Key under which intermediate snapshots replace each other, or None for final results."""
    if hasattr(result, "iteration"):
        return (type(result).__name__, getattr(result, "layer", None), getattr(result, "epoch", None))
    return None


class TaskRunner(QObject):
    """Run ``fn(*args, progress=adapter, **kwargs)`` in a thread and report through signals.

    Parameters
    ----------
    fn : callable, optional
        The core function; it must accept a ``progress`` keyword argument.
    *args, **kwargs
        Its arguments.
    name : str
        Shown in logs and the status bar.

    Signals
    -------
    progress_changed(float, str)
        Fraction done in [0, 1] and a message ("t-SNE: layer 3 of 5").
    partial_ready(object)
        An intermediate result the function posted with ``progress.partial``.
    finished(object)
        The function's return value.
    failed(object)
        The exception it raised (an `IBViewerError` for expected failures).
    cancelled()
        The job stopped because `cancel` was called.
    running_changed(bool)
        A job of this runner started or ended (however it ended).
    warning_raised(str)
        The job raised a warning (actionable advice for the status bar).
    """

    progress_changed = Signal(float, str)
    partial_ready = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    running_changed = Signal(bool)
    warning_raised = Signal(str)

    _poked = Signal(object)  # ThreadProgress with queued events (worker -> GUI thread)
    _job_done = Signal(object, str, object)  # ThreadProgress, outcome, payload

    def __init__(
        self, fn: Callable[..., Any] | None = None, *args: Any, name: str = "", parent: QObject | None = None, **kwargs: Any
    ) -> None:
        super().__init__(parent)
        self.name = name
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._generation = 0
        self._current: ThreadProgress | None = None
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self.started_at = 0.0
        self._poked.connect(self._on_worker_poked)
        self._job_done.connect(self._on_worker_job_done)

    @property
    def generation(self) -> int:
        return self._generation

    def is_running(self) -> bool:
        """Whether the current job has neither finished nor been cancelled."""
        return self._current is not None

    def start(self) -> int:
        """Start the function given at construction; returns the job's generation."""
        if self._fn is None:
            raise RuntimeError("TaskRunner.start() needs a function: pass it to the constructor or use submit().")
        return self.submit(self._fn, *self._args, **self._kwargs)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Cancel any running job and start ``fn(*args, progress=..., **kwargs)``; returns its generation."""
        was_running = self._current is not None
        self._cancel_current()
        self._generation += 1
        adapter = ThreadProgress(self._poke)
        self._current = adapter
        self.started_at = time.monotonic()
        thread = threading.Thread(
            target=self._work, args=(adapter, fn, args, kwargs), name=f"ibviewer-{self.name or 'task'}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        self._thread = thread
        thread.start()
        if not was_running:
            self.running_changed.emit(True)
        return self._generation

    def cancel(self) -> None:
        """Ask the running job to stop; `cancelled` is emitted once it has."""
        if self._current is not None:
            self._current.cancel_event.set()

    def wait(self, timeout: float = 5.0) -> bool:
        """Block until every thread this runner started has ended; False when ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        return not self._threads

    def shutdown(self, timeout: float = 3.0) -> bool:
        """Cancel and wait (used when the window closes)."""
        if self._current is not None:
            self._cancel_current()
            self.running_changed.emit(False)
        return self.wait(timeout)

    # -- internals ------------------------------------------------------------------
    def _cancel_current(self) -> None:
        if self._current is not None:
            self._current.cancel_event.set()
            self._current = None  # whatever it still posts is stale now

    def _work(self, adapter: ThreadProgress, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        _lower_thread_priority()
        try:
            with _WARNINGS.route(adapter):
                result = fn(*args, progress=adapter, **kwargs)
        except Cancelled:
            outcome, payload = "cancelled", None
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the GUI
            log.debug("task %s failed", self.name, exc_info=True)
            outcome, payload = "failed", exc
        else:
            outcome, payload = ("cancelled", None) if adapter.cancel_event.is_set() else ("finished", result)
        _emit_safely(self._job_done, adapter, outcome, payload)

    def _poke(self, adapter: ThreadProgress) -> None:
        _emit_safely(self._poked, adapter)

    def _on_worker_poked(self, adapter: ThreadProgress) -> None:
        self._drain(adapter)

    def _drain(self, adapter: ThreadProgress) -> None:
        progress, events = adapter.take()
        if adapter is not self._current or adapter.cancel_event.is_set():
            return  # stale or cancelled: drop
        for kind, payload in events:
            if kind == "warning":
                self.warning_raised.emit(payload)
            else:
                self.partial_ready.emit(payload)
            if adapter is not self._current:  # a slot started a new job
                return
        if progress is not None:
            self.progress_changed.emit(*progress)

    def _on_worker_job_done(self, adapter: ThreadProgress, outcome: str, payload: object) -> None:
        if adapter is not self._current:
            return  # superseded by a newer job (or the runner shut down): its outcome no longer matters
        if outcome == "finished":
            self._drain(adapter)  # deliver the last partial results before the final one
            if adapter is not self._current:
                return
        self._current = None
        self.running_changed.emit(False)
        if outcome == "finished":
            self.progress_changed.emit(1.0, "")
            self.finished.emit(payload)
        elif outcome == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
