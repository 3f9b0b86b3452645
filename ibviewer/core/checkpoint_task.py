"""One checkpoint's share of an analysis, as a task any process can run: open, capture, reduce, return numbers.

A :class:`CheckpointTask` names a run (its `RunRequest`), one saved epoch and what to reduce
that epoch's activations to: the information-plane cells, the layers' extremes (the first
pass of a plane whose bins span each layer's range over all epochs), the probe scores, or
the activations themselves (the few epochs that are embedded). :func:`run_checkpoint_task`
does it wherever it runs, in this process or on a dask worker: it opens the run through
`ibviewer.core.pipeline.open_request` (the same checks as any opening: consent, paths, sizes),
captures that one epoch, reduces it and drops the activations, so only small arrays travel.

Pure core: no dask here (``ibviewer.core.distributed`` ships these tasks to a cluster).
"""

from __future__ import annotations

import json
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ibviewer.core.config import RunRequest
from ibviewer.core.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from ibviewer.core.activations import ExtractOptions
    from ibviewer.core.probes import ProbeResult
    from ibviewer.core.run import Run

__all__ = ["CheckpointTask", "CheckpointResult", "run_checkpoint_task", "remember_run", "extract_options"]

#: Opened runs kept per process (a worker serves many checkpoints of the same few runs).
_OPENED_RUNS: OrderedDict[str, Run] = OrderedDict()
_MAX_OPENED = 4


def extract_options(request: RunRequest) -> ExtractOptions:
    """The capture options a request asks for (the in-memory and the streamed analysis use the same)."""
    from ibviewer.core.activations import ExtractOptions

    return ExtractOptions(
        layers=request.layers,
        device=request.device,
        max_samples=request.max_samples,
        sequence_pool=request.sequence_pool,
        feature_maps=request.feature_maps,
    )


@dataclass(frozen=True)
class CheckpointTask:
    """What one process does with one saved epoch of one run.

    Parameters
    ----------
    run_index : int
        Which run of the analysis (results are sorted back by it).
    request : RunRequest
        Opens the run where the task runs.
    run_key : str
        The run's activation key, so a process never reuses a run opened before its files changed.
    epoch : int
    layers : tuple of str
        The layers to capture, in network order.
    cells : tuple of dict, optional
        Estimate the plane's cells: the estimator's settings for each layer (``estimator``
        gives its name).
    estimator : str
    extremes : bool
        Return each layer's per-unit min and max, (2, dim).
    probe_seed : int, optional
        Run the layer probes, seeded.
    keep : bool
        Return the activations (embedding inputs).
    """

    run_index: int
    request: RunRequest
    run_key: str
    epoch: int
    layers: tuple[str, ...]
    cells: tuple[dict[str, Any], ...] | None = None
    estimator: str = "binning"
    extremes: bool = False
    probe_seed: int | None = None
    keep: bool = False

    @property
    def memo_key(self) -> str:
        """Identifies the opened run this task needs (the request, less what does not change the run)."""
        described = {k: v for k, v in asdict(self.request).items() if k not in ("scheduler", "device", "use_cache")}
        return json.dumps({"request": described, "key": self.run_key}, sort_keys=True, default=str)


@dataclass(frozen=True, eq=False)
class CheckpointResult:
    """A task's reduced results; None where not asked for.

    ``cells`` one dict per layer as :func:`ibviewer.core.information.plane.estimate_cells`; ``extremes``
    layer -> (2, dim); ``probes`` a one-epoch `ProbeResult`; ``values`` layer -> (n_samples, dim);
    ``warnings`` the messages of warnings raised while running (re-raised where results are gathered).
    """

    run_index: int
    epoch: int
    cells: list[dict[str, Any]] | None = None
    extremes: dict[str, np.ndarray] | None = None
    probes: ProbeResult | None = None
    values: dict[str, np.ndarray] | None = None
    warnings: tuple[str, ...] = ()


def remember_run(task: CheckpointTask, run: Run) -> None:
    """Keep ``run`` as this process's opened run for ``task``'s request (the client has it open already)."""
    _OPENED_RUNS[task.memo_key] = run
    _OPENED_RUNS.move_to_end(task.memo_key)
    while len(_OPENED_RUNS) > _MAX_OPENED:
        _OPENED_RUNS.popitem(last=False)


def _opened_run(task: CheckpointTask) -> Run:
    run = _OPENED_RUNS.get(task.memo_key)
    if run is None:
        from ibviewer.core.pipeline import open_request

        run = open_request(task.request)  # every check of opening a run applies here too
        remember_run(task, run)
    return run


def run_checkpoint_task(task: CheckpointTask, progress: Progress = NULL_PROGRESS) -> CheckpointResult:
    """Capture one epoch of one run and reduce it as ``task`` says; the activations are dropped on return.

    Raises
    ------
    IBViewerError
        Whatever opening or capturing raises (the run is gone, NaN values, ...).
    Cancelled
        ``progress`` asked to stop (checked before every batch).
    """
    from dataclasses import replace

    run = _opened_run(task)
    options = replace(extract_options(task.request), layers=task.layers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = run.epoch_activations(task.epoch, options, progress)
        labels = run.capture_plan(options).labels
        cells = extremes = probes = None
        if task.cells is not None:
            from ibviewer.core.information.plane import estimate_cells

            prepared = _prepared_inputs(run, task, options, len(labels))
            cells = estimate_cells([values[name] for name in task.layers], labels, task.estimator, task.cells, prepared)
        if task.extremes:
            extremes = {name: np.stack([array.min(axis=0), array.max(axis=0)]) for name, array in values.items()}
        if task.probe_seed is not None:
            probes = _probe_epoch(run, task, options, values, labels)
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    return CheckpointResult(
        task.run_index, task.epoch, cells, extremes, probes, values if task.keep else None, messages
    )


#: The last prepared inputs (renyi's input Gram matrix): every task of a run needs the same.
_PREPARED: dict[str, Any] = {}


def _prepared_inputs(run: Run, task: CheckpointTask, options: ExtractOptions, n_samples: int) -> Any:
    """What the estimator needs of the samples' inputs for every cell (None unless it uses them), memoised."""
    from ibviewer.core.information.registry import make_estimator
    from ibviewer.core.pipeline import sample_inputs

    assert task.cells is not None
    spec = make_estimator(task.estimator, **task.cells[0])
    if not spec.uses_inputs:
        return None
    key = json.dumps([task.memo_key, task.estimator, task.cells[0]], sort_keys=True, default=str)
    if key not in _PREPARED:
        from ibviewer.core.information._common import _check_x

        inputs = sample_inputs(run, run.capture_plan(options).sample_idx)
        _PREPARED.clear()
        _PREPARED[key] = None if inputs is None else spec.prepare_inputs(_check_x(inputs, n_samples))
    return _PREPARED[key]


def _probe_epoch(
    run: Run, task: CheckpointTask, options: ExtractOptions, values: dict[str, np.ndarray], labels: np.ndarray
) -> ProbeResult:
    """`run_probes` on this one epoch: its split and resamples depend on the samples and the seed only, so rows join exactly."""
    from ibviewer.core.pipeline import sample_inputs
    from ibviewer.core.probes import run_probes
    from ibviewer.core.types import ActivationSet

    plan = run.capture_plan(options)
    one_epoch = ActivationSet(
        plan.layers, (task.epoch,), {name: array[None] for name, array in values.items()}, labels, plan.sample_idx,
        task.run_key, inputs=sample_inputs(run, plan.sample_idx), test_indices=run.test_indices,
    )  # fmt: skip
    return run_probes(one_epoch, epochs=[task.epoch], seed=int(task.probe_seed or 0))
