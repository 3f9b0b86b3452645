"""A PyTorch Lightning ``Callback`` that records an ibviewer run: add one line to your ``Trainer``.

Example
-------
>>> from ibviewer.integrations.lightning import IBViewerCallback
>>> trainer = Trainer(max_epochs=20, callbacks=[
...     IBViewerCallback("runs/mlp", "mymodels.py:LitMLP", "digits", model_kwargs={"hidden": 64})])

The factory builds what is saved: your ``LightningModule`` class (its ``__init__`` arguments in
``model_kwargs``), or with ``module="net"`` the network the module keeps in ``self.net``.
``pytorch_lightning`` is used when installed, else ``lightning.pytorch``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ibviewer.core.recorder import Recorder, Schedule
from ibviewer.integrations._recording import RecordingPlan

try:
    from pytorch_lightning import Callback
except ImportError:  # the unified "lightning" package
    try:
        from lightning.pytorch import Callback  # type: ignore[no-redef]
    except ImportError as exc:
        raise ImportError(
            "ibviewer.integrations.lightning needs PyTorch Lightning: pip install pytorch-lightning"
        ) from exc

__all__ = ["IBViewerCallback"]


class IBViewerCallback(Callback):
    """Save the model's weights and logged metrics into an ibviewer run folder as training goes.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (created; an earlier run with the same factory and dataset is continued).
    model_factory : str
        ``"module:callable"`` building what is saved (see the module docstring).
    dataset : str
        The data to analyse the run on: ``"digits"``, ``"ib12"``, a ``.npz`` file, ...
    model_kwargs : dict, optional
        JSON keyword arguments of the factory.
    module : str, optional
        Save ``getattr(lightning_module, module)`` instead of the whole ``LightningModule``.
    schedule : {"every", "log"} or list of int, default="every"
        Which epochs to save (``"log"``: ``n_snapshots`` log-spaced ones of ``max_epochs``).
    n_snapshots : int, default=100
    layers : list of str, optional
        Default layers to capture.
    record_initial : bool, default=True
        Save epoch 0 (the weights before training) when the run is new.
    **recorder_options
        ``name``, ``extra``, ``test_indices``, ``restart`` of :class:`~ibviewer.core.recorder.Recorder`.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        model_factory: str,
        dataset: str,
        model_kwargs: Mapping[str, Any] | None = None,
        *,
        module: str | None = None,
        schedule: Schedule = "every",
        n_snapshots: int = 100,
        layers: Sequence[str] | None = None,
        record_initial: bool = True,
        **recorder_options: Any,
    ) -> None:
        super().__init__()
        self.model_factory = model_factory
        self.model_kwargs = dict(model_kwargs or {})
        self.module = module
        self.plan = RecordingPlan(run_dir, dataset, schedule, n_snapshots, layers, record_initial, recorder_options)
        self.recorder: Recorder | None = None

    def _network(self, pl_module: Any) -> Any:
        return getattr(pl_module, self.module) if self.module else pl_module

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        self.recorder = self.plan.start(self.model_factory, self.model_kwargs, max_epochs, self._network(pl_module))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is None or trainer.sanity_checking:
            return
        metrics = {}
        for key, value in trainer.callback_metrics.items():
            try:
                metrics[str(key)] = float(value)
            except (TypeError, ValueError, RuntimeError):
                continue  # not a scalar
        self.recorder.record(trainer.current_epoch + 1, self._network(pl_module), metrics)
