"""Task runners for views: outlive their widget while a job still runs, so no thread posts to a deleted object.

A `TaskRunner` parented to a widget dies with it; a job still running then posts its
progress to a deleted QObject and the worker thread fails. `view_runner` makes a runner
with no Qt parent that stays referenced here until its job has ended; signals connected
to the widget's methods are disconnected by Qt when the widget is destroyed.
"""

from __future__ import annotations

from typing import Any

from ibviewer.gui.workers import TaskRunner

__all__ = ["view_runner", "BackgroundViewMixin"]

_RUNNING: set[TaskRunner] = set()


def view_runner(name: str) -> TaskRunner:
    """A parentless `TaskRunner` kept alive while it runs a job."""
    runner = TaskRunner(name=name)

    def on_running_changed(running: bool, runner: TaskRunner = runner) -> None:
        if running:
            _RUNNING.add(runner)
        else:
            _RUNNING.discard(runner)

    runner.running_changed.connect(on_running_changed)
    return runner


class BackgroundViewMixin:
    """For a view with `view_runner` jobs: ``shutdown`` stops them, and closing the view calls it.

    The view lists its runners in ``background_runners`` and checks ``closed`` before
    submitting work (a pending timer may fire between close and deletion).
    """

    background_runners: tuple[TaskRunner, ...] = ()
    closed = False

    def shutdown(self, timeout: float = 3.0) -> None:
        """Cancel background work and wait for it (the window calls this when it closes)."""
        self.closed = True
        for runner in self.background_runners:
            runner.shutdown(timeout)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)  # type: ignore[misc]
