"""`Run`: one opened input (any kind) over its saved epochs, with the dataset it runs on.

What differs between kinds of input lives in their :class:`~ibviewer.core.run.source.RunSource`;
``Run`` adds what they share: the description, layer lookup, and ``activations()``
(sample choice, memory plan, the disk cache, the NaN check).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ibviewer.core import activations as act
from ibviewer.core.cache import DiskCache, hash_arrays
from ibviewer.core.datasets import require_finite
from ibviewer.core.layer_names import layer_label
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run.source import EpochEntry, RunSource
from ibviewer.core.types import ActivationSet, Dataset, LayerInfo
from ibviewer.errors import ActivationError, DatasetError, IBViewerError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Run", "CapturePlan"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class CapturePlan:
    """What one extraction captures: the layers (with their captured dims), the samples and their labels.

    ``record`` is what the `ActivationSet` records of how it was captured.
    """

    layers: tuple[LayerInfo, ...]
    sample_idx: np.ndarray
    labels: np.ndarray
    record: dict[str, Any]


class Run:
    """A trained network (or its activations) over saved epochs, with the dataset to run it on.

    Made by :func:`~ibviewer.core.run.open_run`. ``layers`` are the default hidden
    representations; ``all_layers`` every capturable module call. ``activations()``
    extracts (or loads from cache) the representations of every layer at every epoch.

    Parameters
    ----------
    source : RunSource
        The opened input; its layers are discovered here (probing the network).

    Raises
    ------
    ModelMismatchError
        The dataset's inputs do not fit the network.
    """

    def __init__(self, source: RunSource) -> None:
        self.source = source
        self.all_layers: tuple[LayerInfo, ...]
        self.layers: tuple[LayerInfo, ...]
        self.all_layers, self.layers = source.discover_layers()

    # ---- description -------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def kind(self) -> str:
        """``"checkpoints"``, ``"checkpoint"``, ``"ibviewer"``, ``"export"`` or ``"activations"``."""
        return self.source.kind

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return self.source.entries

    @property
    def dataset(self) -> Dataset | None:
        return self.source.dataset

    @property
    def model_spec(self) -> str | None:
        return self.source.model_spec

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return self.source.model_kwargs

    @property
    def extra(self) -> dict[str, Any]:
        return self.source.extra

    @property
    def test_indices(self) -> np.ndarray | None:
        return self.source.test_indices

    @property
    def epochs(self) -> tuple[int, ...]:
        return self.source.epochs

    @property
    def metrics(self) -> dict[int, dict[str, float]]:
        return {entry.epoch: dict(entry.metrics) for entry in self.entries if entry.metrics}

    @property
    def n_parameters(self) -> int | None:
        return self.source.n_parameters

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (the ``ibviewer info --json`` object; keys are stable)."""
        default = {layer.name for layer in self.layers}
        return {
            "path": str(self.path),
            "name": self.name,
            "kind": self.kind,
            "model": self.model_spec,
            "model_kwargs": self.model_kwargs,
            "n_parameters": self.n_parameters,
            "epochs": list(self.epochs),
            "epoch_unit": self.source.epoch_unit,
            "metrics": {str(k): v for k, v in self.metrics.items()},
            "hparams": self.source.hparams or None,
            "layers": [
                dict(layer.to_dict(), output=layer.output, label=layer_label(layer), default=layer.name in default)
                for layer in self.all_layers
            ],
            "default_layers": [layer.name for layer in self.layers],
            "dataset": self.dataset.summary() if self.dataset is not None else None,
        }

    def layer_info(self, name: str) -> LayerInfo:
        for layer in self.all_layers:
            if layer.name == name:
                return layer
        raise IBViewerError(
            f"Run {self.name} has no layer {name!r}. Capturable layers: {', '.join(l.name for l in self.all_layers)}."
        )

    def load_model(self, epoch: int) -> nn.Module:
        """The network with the weights of ``epoch``, in eval mode on the CPU.

        Raises
        ------
        IBViewerError
            The input has no network (an activations archive, a ``torch.export`` program) or no such epoch.
        """
        return self.source.load_model(epoch)

    # ---- activations -------------------------------------------------------------------------
    def activations(
        self,
        options: act.ExtractOptions | None = None,
        progress: Progress = NULL_PROGRESS,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> ActivationSet:
        """Every chosen layer's representation at every saved epoch, for the same samples.

        Parameters
        ----------
        options : ExtractOptions, optional
            Layers, device, subsampling, pooling; defaults to the run's hidden layers on the CPU.
        progress : Progress
            Reports per batch; cancellation is checked before every batch.
        cache_dir : path, optional
            Cache folder (default: see :mod:`ibviewer.core.cache`).
        use_cache : bool, default=True
            Reuse and store results keyed by checkpoint contents, dataset and options.

        Returns
        -------
        ActivationSet
            ``values[layer]`` is (n_epochs, n_samples, dim) float32.

        Raises
        ------
        ActivationError
            Too much memory, NaN/inf values (naming layer and epoch), unknown layers.
        """
        options = options or act.ExtractOptions()
        plan = self.capture_plan(options)
        layers, sample_idx, labels, record = plan.layers, plan.sample_idx, plan.labels, plan.record
        if self.source.holds_activations:  # already in memory: nothing to plan, run or cache
            values = self.source.extract(layers, sample_idx, options, progress)
            act.check_finite(values, self.epochs, cause=f"{self.name} holds them so; fix the archive or choose other layers.")
            key = hash_arrays([*values.values(), labels], {"archive": True})
            return ActivationSet(tuple(layers), self.epochs, values, labels, sample_idx, key, dict(record, source="archive"),
                                 test_indices=self.test_indices)  # fmt: skip
        require_finite(self.dataset)  # NaN in the data must not be blamed on the weights later
        act.plan_memory(layers, len(self.entries), len(sample_idx), options.memory_limit_gb, input_bytes=self.input_bytes)
        key = self.cache_key(layers, sample_idx, options, progress)
        cache = DiskCache("activations", cache_dir, enabled=use_cache)
        hit = cache.get(key)
        if hit is not None:
            arrays, _ = hit
            shapes = {f"layer_{i}": (len(self.entries), len(sample_idx), layer.dim) for i, layer in enumerate(layers)}
            if all(k in arrays and arrays[k].shape == shape and arrays[k].dtype == np.float32 for k, shape in shapes.items()):
                logger.info("activations of %s loaded from cache %s", self.name, key[:12])
                progress.update(1.0, "activations loaded from cache")
                values = {layer.name: arrays[f"layer_{i}"] for i, layer in enumerate(layers)}
                return ActivationSet(tuple(layers), self.epochs, values, labels, sample_idx, key, record,
                                     test_indices=self.test_indices)  # fmt: skip
            cache.drop(key, "its arrays do not have the shapes this run gives")
        values = self.source.extract(layers, sample_idx, options, progress)
        act.check_finite(values, self.epochs)  # the inputs are finite (checked on loading): the weights are not
        cache.put(key, {f"layer_{i}": values[layer.name] for i, layer in enumerate(layers)}, {"run": str(self.path)})
        return ActivationSet(tuple(layers), self.epochs, values, labels, sample_idx, key, record, test_indices=self.test_indices)

    @property
    def input_bytes(self) -> int:
        """Bytes of one input sample (what the memory plan counts for the copy of the captured inputs)."""
        if self.dataset is None or self.source.holds_activations:
            return 0
        x = self.dataset.x
        return int(x.dtype.itemsize * (x[:1].size if len(x) else 0))

    def capture_plan(self, options: act.ExtractOptions | None = None) -> CapturePlan:
        """What `activations` captures with ``options``, decided without running anything.

        Raises
        ------
        DatasetError, ActivationError
            No dataset to run on; unknown layers.
        """
        options = options or act.ExtractOptions()
        if self.dataset is None:
            raise DatasetError(f"Say which data to run {self.name} on with --dataset (digits, ib12, a .npz file, ...).")
        layers = tuple(act.with_options(layer, options) for layer in self._resolve_layers(options.layers))
        sample_idx = act.choose_samples(self.dataset.n_samples, options.max_samples, options.seed)
        masked = self.dataset.attention_mask is not None
        record = dict(options.to_dict(), layers=[layer.name for layer in layers], attention_mask=masked)
        return CapturePlan(layers, sample_idx, self.dataset.y[sample_idx], record)

    def activation_key(self, options: act.ExtractOptions | None = None) -> str:
        """The content key `activations` gives its `ActivationSet` (networks only: archives hash their values).

        Derived results (planes, embeddings) are cached under it, so a streamed analysis
        (one epoch at a time, `epoch_activations`) shares their cache entries.
        """
        options = options or act.ExtractOptions()
        if self.source.holds_activations:
            raise IBViewerError(f"{self.name} holds its activations: their key is the hash of the values.")
        plan = self.capture_plan(options)
        return self.cache_key(plan.layers, plan.sample_idx, options)

    def epoch_activations(
        self, epoch: int, options: act.ExtractOptions | None = None, progress: Progress = NULL_PROGRESS
    ) -> dict[str, np.ndarray]:
        """One saved epoch of every chosen layer, (n_samples, dim) float32: exactly that epoch's row of `activations`.

        Nothing is cached: what streaming holds at a time is one epoch, whatever the number of epochs.

        Raises
        ------
        ActivationError
            NaN/inf values (naming layer and epoch), unknown layers.
        IBViewerError
            No such epoch.
        """
        options = options or act.ExtractOptions()
        plan = self.capture_plan(options)
        values = self.source.extract_epoch(epoch, plan.layers, plan.sample_idx, options, progress)
        act.check_finite({name: array[None] for name, array in values.items()}, [epoch])
        return values

    def _resolve_layers(self, names: Sequence[str] | None) -> list[LayerInfo]:
        if not names:
            if not self.layers:
                raise ActivationError(f"No capturable layers were found in {self.name}.")
            return list(self.layers)
        return [self.layer_info(name) for name in names]

    def cache_key(
        self, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions,
        progress: Progress = NULL_PROGRESS,
    ) -> str:  # fmt: skip
        """The activation-cache key of these layers and samples over the run's current epochs and files."""
        assert self.dataset is not None
        described = {
            "version": 2,
            "kind": self.kind,
            "model": self.model_spec,
            "kwargs": self.model_kwargs,
            "epochs": list(self.epochs),
            "sources": self.source.content_digests(progress),
            "layers": [layer.to_dict() for layer in layers],
            "options": {
                k: v for k, v in options.to_dict().items() if k not in ("device", "batch_size", "layers", "memory_limit_gb")
            },
        }
        arrays = [self.dataset.x, self.dataset.y, sample_idx]
        if self.dataset.attention_mask is not None:  # pooling over real tokens changes every pooled layer
            arrays.append(self.dataset.attention_mask)
        return hash_arrays(arrays, described)
