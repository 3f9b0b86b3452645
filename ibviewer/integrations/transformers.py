"""A transformers ``TrainerCallback`` that records an ibviewer run: add one line to your ``Trainer``.

Example
-------
>>> from ibviewer.integrations.transformers import IBViewerTrainerCallback
>>> trainer = Trainer(model=model, args=args, train_dataset=train,
...                   callbacks=[IBViewerTrainerCallback("runs/bert", dataset="tokens.npz")])

By default the run names :func:`model_from_config` with the model's config, so it opens with
no ``--model``: the model is rebuilt from its ``transformers`` class, never from custom code.
Each epoch is saved once its evaluation (if the Trainer evaluates per epoch) is logged, with
the latest value of every logged metric.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibviewer.core.recorder import Recorder, Schedule
from ibviewer.integrations._recording import RecordingPlan
from ibviewer.core.run.training_logs import metrics_up_to
from ibviewer.core.run.transformers_model import ConfigFactory
from ibviewer.errors import IBViewerError

try:
    from transformers import TrainerCallback
except ImportError as exc:
    raise ImportError("ibviewer.integrations.transformers needs transformers: pip install transformers accelerate") from exc

__all__ = ["IBViewerTrainerCallback", "model_from_config"]

#: The factory a run recorded by IBViewerTrainerCallback names by default.
CONFIG_FACTORY = "ibviewer.integrations.transformers:model_from_config"


def model_from_config(config: Mapping[str, Any]) -> Any:
    """The ``transformers`` model a config (``config.to_dict()``) describes, with random weights.

    Refuses configs that need custom code (``auto_map``), like opening a ``config.json`` does.
    """
    return ConfigFactory.from_config(dict(config), Path("run.json (model kwargs)")).build()


def _config_of(model: Any) -> dict[str, Any]:
    """The model's config as JSON, naming its class (a fresh model's config names none yet)."""
    import transformers

    name = type(model).__name__
    if getattr(transformers, name, None) is not type(model):
        raise IBViewerError(
            f"{name} is not a transformers class, so the run could not rebuild it from its config; pass "
            "model_factory='module:callable' (a factory building it) to IBViewerTrainerCallback."
        )
    config = json.loads(model.config.to_json_string(use_diff=False))
    config["architectures"] = [name]
    return config


class IBViewerTrainerCallback(TrainerCallback):
    """Save the model's weights and logged metrics into an ibviewer run folder at each epoch's end.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (created; an earlier run with the same model and dataset is continued).
    dataset : str
        The data to analyse the run on: a ``.npz`` with ``x`` (token ids), ``y`` and optionally
        ``attention_mask``, or ``"digits"``, ...
    model_factory : str, optional
        ``"module:callable"`` building the model; default :func:`model_from_config`.
    model_kwargs : dict, optional
        Its keyword arguments; default ``{"config": model.config.to_dict()}``.
    schedule : {"every", "log"} or list of int, default="every"
    n_snapshots : int, default=100
    layers : list of str, optional
        Default layers to capture (default: the transformer blocks).
    record_initial : bool, default=True
        Save epoch 0 (the weights before training) when the run is new.
    **recorder_options
        ``name``, ``extra``, ``test_indices``, ``restart`` of :class:`~ibviewer.core.recorder.Recorder`.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        dataset: str,
        model_factory: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        *,
        schedule: Schedule = "every",
        n_snapshots: int = 100,
        layers: Sequence[str] | None = None,
        record_initial: bool = True,
        **recorder_options: Any,
    ) -> None:
        self.model_factory = model_factory
        self.model_kwargs = dict(model_kwargs) if model_kwargs is not None else None
        self.plan = RecordingPlan(run_dir, dataset, schedule, n_snapshots, layers, record_initial, recorder_options)
        self.recorder: Recorder | None = None
        self._pending: tuple[int, Any] | None = None  # an ended epoch waiting for its evaluation

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or model is None:
            return
        factory, factory_kwargs = self.model_factory, self.model_kwargs
        if factory is None:
            factory, factory_kwargs = CONFIG_FACTORY, {"config": _config_of(model)}
        n_epochs = int(args.num_train_epochs) if args.num_train_epochs and args.num_train_epochs >= 1 else None
        self.recorder = self.plan.start(factory, factory_kwargs, n_epochs, model)

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.recorder is not None and model is not None and state.epoch is not None:
            self._pending = (round(state.epoch), model)  # saved after this epoch's evaluation is logged

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._flush(state)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._flush(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._flush(state)

    def _flush(self, state: Any) -> None:
        if self._pending is None or self.recorder is None:
            return
        epoch, model = self._pending
        self._pending = None
        self.recorder.record(epoch, model, metrics_up_to(state.log_history, step=state.global_step))
