"""Analyses that hold one checkpoint at a time: the number of epochs no longer multiplies memory.

`stream_analysis` turns runs into per-checkpoint tasks (`ibviewer.core.checkpoint_task`),
hands them to an executor and joins what comes back (information-plane cells, probe scores,
the activations of the few epochs that are embedded) into the same results an in-memory
analysis gives, bit for bit, under the same cache keys. Executors: `InProcessExecutor` runs
the tasks here (one at a time, or ``n_jobs`` joblib processes); `ibviewer.core.distributed`
runs them on a dask cluster. `make_executor` picks one from the scheduler setting.

A plane whose bins span each layer's range over all epochs (binning with ``range_mode
"layer"``) needs that range before any cell: a first pass captures every checkpoint and keeps
only each unit's min and max, then the second pass estimates. Both passes capture; nothing is
held between them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ibviewer.core.cache import DiskCache, hash_json
from ibviewer.core.checkpoint_task import (
    CheckpointResult,
    CheckpointTask,
    extract_options,
    remember_run,
    run_checkpoint_task,
)
from ibviewer.core.config import AnalysisSettings, RunRequest, parse_scheduler
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet

if TYPE_CHECKING:
    from ibviewer.core.information import InformationPlane
    from ibviewer.core.information.plane import PlaneSetup
    from ibviewer.core.probes import ProbeResult
    from ibviewer.core.run import Run

__all__ = ["TaskExecutor", "InProcessExecutor", "make_executor", "StreamedRun", "StreamedResult", "stream_analysis"]


class TaskExecutor(Protocol):
    """Runs checkpoint tasks somewhere and hands their results back as they finish."""

    def prepare(self, request: RunRequest) -> RunRequest:
        """The request as the executing processes must see it (e.g. a shipped model file renamed)."""
        ...

    def run_tasks(self, tasks: Sequence[CheckpointTask], progress: Progress) -> Iterator[CheckpointResult]:
        """Every task's result, in any order; cancelling ``progress`` stops (and cancels) the rest."""
        ...


class InProcessExecutor:
    """Runs the tasks in this process, one checkpoint at a time, or in ``n_jobs`` joblib processes."""

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def prepare(self, request: RunRequest) -> RunRequest:
        return request

    def run_tasks(self, tasks: Sequence[CheckpointTask], progress: Progress) -> Iterator[CheckpointResult]:
        n = len(tasks)
        if self.n_jobs == 1 or n <= 1:
            for i, task in enumerate(tasks):
                progress.check_cancelled()
                yield run_checkpoint_task(task, SubProgress(progress, i / n, (i + 1) / n))
            return
        from joblib import Parallel, delayed

        # each joblib process opens each run once and keeps it (checkpoint_task's per-process memo)
        with Parallel(n_jobs=self.n_jobs, return_as="generator_unordered") as parallel:
            results = parallel(delayed(run_checkpoint_task)(task) for task in tasks)
            try:
                for result in results:
                    yield result
                    progress.check_cancelled()
            finally:
                results.close()  # a cancel (or error) drops the tasks not started


@contextlib.contextmanager
def make_executor(scheduler: str | None, n_jobs: int = 1) -> Iterator[TaskExecutor]:
    """The executor a scheduler setting names: None in this process, else a dask cluster (imported only then).

    ``"local"``/``"local:N"`` start a `LocalCluster` for the duration; an address connects to a running one.
    """
    if scheduler is None:
        yield InProcessExecutor(n_jobs)
        return
    from ibviewer.core.distributed import DaskExecutor

    kind, value = parse_scheduler(scheduler)
    with DaskExecutor.open(kind, value) as executor:
        yield executor


@dataclass(frozen=True, eq=False)
class StreamedRun:
    """One run of a streamed analysis: the opened run, what is captured, and the epochs to embed and probe."""

    request: RunRequest
    run: Run
    epochs: tuple[int, ...]
    layers: tuple[Any, ...]  # LayerInfo, in network order
    sample_idx: np.ndarray
    labels: np.ndarray
    key: str

    @classmethod
    def prepare(cls, request: RunRequest, run: Run, epochs: Sequence[int]) -> StreamedRun:
        """Plan the capture of ``run`` (nothing captured yet); ``epochs`` are saved epochs of it."""
        options = extract_options(request)
        plan = run.capture_plan(options)
        chosen = tuple(e for e in run.epochs if e in set(epochs))
        return cls(request, run, chosen, plan.layers, plan.sample_idx, plan.labels, run.activation_key(options))

    @property
    def inputs(self) -> np.ndarray | None:
        """The captured samples' model inputs (the X of renyi's I(X;T)), as the in-memory analysis has them."""
        from ibviewer.core.pipeline import sample_inputs

        return sample_inputs(self.run, self.sample_idx)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def kept_activations(self, values: dict[int, dict[str, np.ndarray]]) -> ActivationSet:
        """The chosen epochs' activations as an `ActivationSet` (under its own key: it is not the whole run)."""
        stacked = {name: np.stack([values[e][name] for e in self.epochs]) for name in self.layer_names}
        key = hash_json({"epochs_of": self.key, "epochs": list(self.epochs)})
        record = dict(extract_options(self.request).to_dict(), layers=list(self.layer_names), epochs_kept=list(self.epochs))
        return ActivationSet(self.layers, self.epochs, stacked, self.labels, self.sample_idx, key, record,
                             test_indices=self.run.test_indices)  # fmt: skip


@dataclass(eq=False)
class StreamedResult:
    """What `stream_analysis` gives for one run; a stage not asked for is None."""

    infoplane: InformationPlane | None = None
    probes: ProbeResult | None = None
    activations: ActivationSet | None = None  # the chosen epochs only
    warnings: list[str] = field(default_factory=list)


@dataclass(eq=False)
class _RunState:
    """What is gathered for one run while its tasks come back."""

    run: StreamedRun
    setup: PlaneSetup | None = None
    plane: InformationPlane | None = None
    cell_params: tuple[dict[str, Any], ...] | None = None
    extremes: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    cells: dict[tuple[int, int], dict[str, Any]] | None = None
    probes: dict[int, ProbeResult] = field(default_factory=dict)
    kept: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def needs_plane(self) -> bool:
        return self.setup is not None and self.plane is None


def stream_analysis(
    runs: Sequence[StreamedRun],
    settings: AnalysisSettings,
    executor: TaskExecutor,
    *,
    stages: frozenset[str] | set[str],
    keep: bool = False,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> list[StreamedResult]:
    """The information plane (every epoch) and the probes (chosen epochs) of every run, one checkpoint per task.

    Parameters
    ----------
    runs : sequence of StreamedRun
        Their tasks are scheduled together.
    settings : AnalysisSettings
    executor : TaskExecutor
        Where the tasks run.
    stages : set of {"infoplane", "probes", "embeddings"}
        ``"embeddings"`` here only means ``keep``: the chosen epochs' activations come back.
    keep : bool
        Return the chosen epochs' activations (embedding inputs, neighbours).
    cache_dir, use_cache
        The information-plane cache, shared with the in-memory analysis (same keys).
    progress : Progress
        One update per finished checkpoint; cancelling stops the tasks.

    Returns
    -------
    list of StreamedResult
        One per run, in order; equal to what the in-memory analysis computes.
    """
    from ibviewer.core.activations import ExtractOptions, plan_memory
    from ibviewer.core.information.plane import PlaneSetup

    cache = DiskCache("infoplane", cache_dir, enabled=use_cache)
    states = []
    for run in runs:
        # one checkpoint in flight per process; here also the epochs kept for embeddings
        held = 1 + (len(run.epochs) if keep else 0)
        plan_memory(run.layers, held, len(run.sample_idx), ExtractOptions().memory_limit_gb, input_bytes=run.run.input_bytes)
        state = _RunState(run)
        if "infoplane" in stages:
            state.setup = PlaneSetup.create(
                run.key, settings.estimator, run.layer_names, settings.estimator_params(), inputs=run.inputs
            )
            state.plane = state.setup.cached(cache)
        states.append(state)
    requests = [executor.prepare(run.request) for run in runs]

    first = [
        CheckpointTask(r, requests[r], s.run.key, epoch, s.run.layer_names, extremes=True)
        for r, s in enumerate(states)
        if s.needs_plane and _needs_extremes(s.setup)
        for epoch in s.run.run.epochs
    ]
    share = 0.5 if first else 0.0
    _remember(first, runs, executor)
    for result in executor.run_tasks(first, SubProgress(progress, 0.0, share, prefix="layer ranges: ")):
        states[result.run_index].extremes[result.epoch] = result.extremes or {}
    for state in states:
        if state.needs_plane:
            state.cell_params = _cell_params(state)
            state.cells = {}

    tasks = _second_pass(states, requests, settings, stages, keep)
    _remember(tasks, runs, executor)
    messages: dict[str, None] = {}
    rest = SubProgress(progress, share, 1.0)
    for done, result in enumerate(executor.run_tasks(tasks, rest), start=1):
        state = states[result.run_index]
        if result.cells is not None and state.cells is not None:
            e = state.run.run.epochs.index(result.epoch)
            state.cells.update({(e, k): cell for k, cell in enumerate(result.cells)})
        if result.probes is not None:
            state.probes[result.epoch] = result.probes
        if result.values is not None:
            state.kept[result.epoch] = result.values
        messages.update(dict.fromkeys(result.warnings))
        rest.update(done / len(tasks), f"{state.run.run.name}: epoch {result.epoch} ({done}/{len(tasks)} checkpoints)")
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    return [_finish(state, cache, stages, keep) for state in states]


def _remember(tasks: Sequence[CheckpointTask], runs: Sequence[StreamedRun], executor: TaskExecutor) -> None:
    """In this process the runs are open already: tasks reuse them instead of opening them again."""
    if isinstance(executor, InProcessExecutor):
        for task in tasks:
            remember_run(task, runs[task.run_index].run)


def _needs_extremes(setup: PlaneSetup | None) -> bool:
    """Whether the estimator's per-layer settings depend on the layer's values (e.g. binning over each layer's range).

    Streamed, ``MIEstimator.layer_params`` sees each unit's min and max per epoch, (n_epochs, 2, dim),
    instead of the values: exact for settings made from the layer's extremes (a test checks each estimator).
    """
    if setup is None:
        return False
    probe = np.array([[[0.0], [1.0]]], dtype=np.float32)
    return setup.layer_params(probe) != setup.full_params


def _cell_params(state: _RunState) -> tuple[dict[str, Any], ...]:
    assert state.setup is not None
    if not state.extremes:  # only the layer's shape can matter (renyi's feature maps)
        return tuple(
            state.setup.layer_params(np.zeros((1, 2, layer.dim), np.float32), tuple(layer.shape))
            for layer in state.run.layers
        )
    epochs = state.run.run.epochs
    return tuple(
        state.setup.layer_params(np.stack([state.extremes[e][layer.name] for e in epochs]), tuple(layer.shape))
        for layer in state.run.layers
    )


def _second_pass(
    states: Sequence[_RunState], requests: Sequence[RunRequest], settings: AnalysisSettings,
    stages: frozenset[str] | set[str], keep: bool,
) -> list[CheckpointTask]:  # fmt: skip
    tasks = []
    for r, state in enumerate(states):
        run = state.run
        for epoch in run.run.epochs:
            chosen = epoch in run.epochs
            probe = "probes" in stages and chosen
            if not (state.needs_plane or probe or (keep and chosen)):
                continue  # the plane came from the cache and nothing else needs this epoch
            tasks.append(
                CheckpointTask(
                    r, requests[r], run.key, epoch, run.layer_names,
                    cells=state.cell_params if state.needs_plane else None, estimator=settings.estimator,
                    probe_seed=settings.seed if probe else None, keep=keep and chosen,
                )  # fmt: skip
            )
    return tasks


def _finish(state: _RunState, cache: DiskCache, stages: frozenset[str] | set[str], keep: bool) -> StreamedResult:
    result = StreamedResult()
    run = state.run
    if state.setup is not None:
        if state.plane is None:
            assert state.cells is not None
            state.plane = state.setup.assemble(run.run.epochs, state.cells, len(run.labels))
            state.setup.store(cache, state.plane)
        result.infoplane = state.plane
        for message in state.plane.warnings:
            warnings.warn(message, UserWarning, stacklevel=3)
    if "probes" in stages:
        result.probes = _join_probes([state.probes[e] for e in run.epochs])
    if keep:
        result.activations = run.kept_activations(state.kept)
    return result


def _join_probes(parts: Sequence[ProbeResult]) -> ProbeResult:
    """One `ProbeResult` from one-epoch results (same layers, split and samples: only the rows differ)."""
    from ibviewer.core.probes import join_probes

    return join_probes(parts)
