"""Checkpoint tasks on a dask.distributed cluster: a running scheduler, or a LocalCluster started for one analysis.

Imported only when a scheduler is asked for (``--scheduler``, ``RunRequest.scheduler``), so
dask stays an optional extra (``pip install 'ibviewer[dask]'``). What travels: the task (a
`RunRequest`, an epoch, the estimator's settings) to the worker and the reduced results back;
the activations stay on the worker that captured them. Workers open the run themselves with
the same checks as any opening, so the run (and any dataset file it names) must be readable
at the same path there (a shared file system); a ``--model file.py:factory`` is shipped with
``Client.upload_file`` and imported on the workers as the module ``file``.

A worker that dies costs only the tasks it held: the scheduler runs them again on the others
(up to dask's ``distributed.scheduler.allowed-failures``, 3 by default); cancelling the
progress cancels every future not yet finished.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ibviewer.core.checkpoint_task import CheckpointResult, CheckpointTask, run_checkpoint_task
from ibviewer.core.config import RunRequest
from ibviewer.core.progress import Progress
from ibviewer.errors import IBViewerError

try:
    import distributed
except ImportError as exc:  # pragma: no cover - the optional extra is missing
    raise IBViewerError(
        "Running on a cluster (--scheduler) needs dask.distributed: pip install 'ibviewer[dask]'."
    ) from exc

__all__ = ["DaskExecutor", "LOCAL_CLUSTER_OPTIONS"]

logger = logging.getLogger(__name__)

#: Seconds between two looks at the cancel flag while waiting for tasks.
_POLL_S = 0.2
#: A LocalCluster of single-threaded worker processes without a dashboard; the scheduler's own HTTP
#: endpoint on a free port (its default, 8787, is taken while another cluster runs: a warning).
LOCAL_CLUSTER_OPTIONS: dict[str, Any] = {
    "threads_per_worker": 1, "processes": True, "dashboard_address": None,
    "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"},
}  # fmt: skip
#: How long connecting to a running scheduler may take.
_CONNECT_TIMEOUT_S = 20


class DaskExecutor:
    """Runs checkpoint tasks as dask futures on ``client``'s cluster (see `open`)."""

    def __init__(self, client: distributed.Client) -> None:
        self.client = client
        self._uploaded: dict[Path, str] = {}

    @classmethod
    @contextlib.contextmanager
    def open(cls, kind: str, value: int | str | None) -> Iterator[DaskExecutor]:
        """Connect to a scheduler (``kind="address"``) or start a LocalCluster of ``value`` workers (``"local"``).

        A LocalCluster lives only as long as the ``with`` block; a running cluster is left running.

        Raises
        ------
        IBViewerError
            The scheduler cannot be reached, or the LocalCluster does not start.
        """
        with contextlib.ExitStack() as stack:
            if kind == "local":
                n_workers = int(value) if value else (os.cpu_count() or 1)
                try:
                    cluster = stack.enter_context(
                        distributed.LocalCluster(n_workers=n_workers, **LOCAL_CLUSTER_OPTIONS)
                    )
                except (OSError, RuntimeError) as exc:
                    raise IBViewerError(f"Could not start a local dask cluster of {n_workers} workers ({exc}).") from exc
                client = stack.enter_context(distributed.Client(cluster))
            else:
                try:
                    client = stack.enter_context(distributed.Client(str(value), timeout=_CONNECT_TIMEOUT_S))
                except OSError as exc:
                    raise IBViewerError(
                        f"Could not reach the dask scheduler at {value} ({exc}). Start one with `dask scheduler` "
                        "and workers with `dask worker ADDRESS`, or use --scheduler local:N."
                    ) from exc
            logger.info("dask cluster: %s", client)
            yield cls(client)

    def prepare(self, request: RunRequest) -> RunRequest:
        """The request as workers see it: paths made absolute (workers have their own working folder),
        and a ``--model file.py:factory`` shipped to them, named as the module ``file``."""
        changes: dict[str, Any] = {"path": os.path.abspath(os.path.expanduser(request.path))}
        if request.dataset and Path(request.dataset).expanduser().exists():
            changes["dataset"] = os.path.abspath(os.path.expanduser(request.dataset))
        if request.cache_dir:
            changes["cache_dir"] = os.path.abspath(os.path.expanduser(request.cache_dir))
        spec = request.model
        module, _, attr = (spec or "").rpartition(":")
        if module.endswith(".py") and Path(module).expanduser().is_file():  # else importable, or opening reports it
            file = Path(module).expanduser().resolve()
            if file not in self._uploaded:
                try:
                    self.client.upload_file(str(file))
                except Exception as exc:  # the workers import the file: its errors come back here
                    raise IBViewerError(f"Could not ship the model file {file} to the dask workers ({exc}).") from exc
                self._uploaded[file] = file.stem
            changes["model"] = f"{self._uploaded[file]}:{attr}"
        return replace(request, **changes)

    def run_tasks(self, tasks: Sequence[CheckpointTask], progress: Progress) -> Iterator[CheckpointResult]:
        """Submit every task, yield results as they finish; on cancel or error, cancel what is left."""
        if not tasks:
            return
        futures = [
            self.client.submit(
                run_checkpoint_task, task, pure=False, key=f"ibviewer-r{task.run_index}-e{task.epoch}-{uuid.uuid4().hex}"
            )
            for task in tasks
        ]
        finished = distributed.as_completed(futures, loop=self.client.loop)
        pending: set[Any] = set(futures)
        try:
            while pending:
                progress.check_cancelled()
                if not finished.has_ready():
                    time.sleep(_POLL_S)  # a look at the cancel flag every _POLL_S seconds
                    continue
                for future in finished.next_batch(block=False):
                    progress.check_cancelled()  # also between results that came back together
                    pending.discard(future)
                    yield future.result()  # a task's own error is raised here, with its message
        finally:
            if pending:
                self.client.cancel(list(pending))
