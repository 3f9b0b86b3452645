"""Task runners for views: outlive their widget while a job still runs, so no thread posts to a deleted object.

A `TaskRunner` parented to a widget dies with it; a job still running then posts its
progress to a deleted QObject and the worker thread fails. `view_runner` makes a runner
with no Qt parent that stays referenced here until its job has ended; signals connected
to the widget's methods are disconnected by Qt when the widget is destroyed.
"""

from __future__ import annotations

from ibviewer.gui.workers import TaskRunner

__all__ = ["view_runner"]

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
