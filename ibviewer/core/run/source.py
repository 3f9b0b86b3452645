"""What each kind of run input provides: a :class:`RunSource` (epochs, description, activations).

An opener (one module per kind of input, listed in ``detect.py``) reads a path and
returns a source; :class:`~ibviewer.core.run.run.Run` wraps it. Most inputs run a
network for every saved epoch: they subclass :class:`ModelSource` and only say how to
get a :class:`Capture` for one epoch. Inputs that already hold activations subclass
:class:`RunSource` directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from ibviewer.core import activations as act
from ibviewer.core.device import resolve_device
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.run import files
from ibviewer.core.types import Dataset, LayerInfo
from ibviewer.errors import IBViewerError, ModelMismatchError, RunFormatError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["EpochEntry", "Capture", "RunSource", "ModelSource"]


@dataclass(frozen=True)
class EpochEntry:
    """One saved epoch: its number, the file holding its weights, its training metrics."""

    epoch: int
    source: Path | None
    metrics: dict[str, float] = field(default_factory=dict)


class Capture(Protocol):
    """Runs inputs through one epoch's network, handing every captured module output to a sink.

    :class:`~ibviewer.core.activations.ModuleCapture` (forward hooks) and
    :class:`~ibviewer.core.activations.ExportCapture` (a ``torch.export`` graph) are the two.
    """

    def run(self, inputs: torch.Tensor, sink: act.Sink, attention_mask: torch.Tensor | None = None) -> Any: ...

    def close(self) -> None: ...


class RunSource(ABC):
    """One opened input: its saved epochs, the data it runs on, and how its activations are made.

    Parameters
    ----------
    kind : str
        What was opened (``"checkpoints"``, ``"ibviewer"``, ...), shown by ``ibviewer info``.
    path : Path
        The file or folder opened.
    name : str
        Shown in titles.
    entries : sequence of EpochEntry
        The saved epochs, in order.
    dataset : Dataset, optional
        The inputs and labels the network runs on.
    default_layers : sequence of str, optional
        Layers the input names as its default (an ibviewer run's ``layers``).
    extra : mapping, optional
        Anything the input keeps beside its weights (an ibviewer run's ``extra``).
    test_indices : array of int, optional
        Held-out samples, if the input records a split.
    """

    #: True when the activations are already in memory: nothing to plan, cache or run.
    holds_activations: ClassVar[bool] = False
    #: What the epoch numbers count: ``"epoch"``, or ``"step"`` for runs saved within epochs.
    epoch_unit: str = "epoch"
    #: Hyper-parameters the run folder records (Lightning's ``hparams.yaml``), for display.
    hparams: dict[str, Any] | None = None

    def __init__(
        self,
        *,
        kind: str,
        path: Path,
        name: str,
        entries: Sequence[EpochEntry],
        dataset: Dataset | None,
        default_layers: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        test_indices: np.ndarray | None = None,
    ) -> None:
        self.kind = kind
        self.path = path
        self.name = name
        self.entries = tuple(entries)
        self.dataset = dataset
        self.default_layers = tuple(default_layers) if default_layers else None
        self.extra = dict(extra or {})
        self.test_indices = test_indices
        self._digests: dict[Path, tuple[tuple[int, int, int], str]] = {}

    # ---- description: the defaults suit inputs without a model factory --------------------
    @property
    def model_spec(self) -> str | None:
        """The ``module:callable`` factory building the network, if the input has one."""
        return None

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {}

    @property
    def n_parameters(self) -> int | None:
        """Parameters of the network, once it is known (None before or without one)."""
        return None

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(entry.epoch for entry in self.entries)

    def entry(self, epoch: int) -> EpochEntry:
        for entry in self.entries:
            if entry.epoch == epoch:
                return entry
        raise IBViewerError(f"Run {self.name} has no epoch {epoch}; saved epochs: {list(self.epochs)}.")

    def load_model(self, epoch: int) -> nn.Module:
        """The network with the weights of ``epoch``, in eval mode on the CPU."""
        raise IBViewerError(f"{self.path.name} holds no network to load ({self.kind}).")

    def content_digests(self, progress: Progress = NULL_PROGRESS) -> list[str]:
        """What the activation cache key follows: a digest of each epoch's file (cancellable between blocks).

        Digests are remembered per file size and modification time, so a live run that gains
        an epoch hashes only the new file.
        """
        return [self._digest(e.source, progress) if e.source is not None else "" for e in self.entries]

    def _digest(self, path: Path, progress: Progress = NULL_PROGRESS) -> str:
        stat = path.stat()
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)  # a rename gives a new inode
        known = self._digests.get(path)
        if known is None or known[0] != stamp:
            known = (stamp, files.digest(path, progress))
            self._digests[path] = known
        return known[1]

    # ---- what every kind must say ---------------------------------------------------------
    @abstractmethod
    def discover_layers(self) -> tuple[tuple[LayerInfo, ...], tuple[LayerInfo, ...]]:
        """Every capturable layer and the default ones (the hidden representations).

        Raises
        ------
        ModelMismatchError
            The dataset's inputs do not fit the network.
        """

    @abstractmethod
    def extract(
        self, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions, progress: Progress
    ) -> dict[str, np.ndarray]:
        """``values[layer]``: (n_epochs, len(sample_idx), dim) float32 for every layer; checks cancellation.

        Sources that run a network also take ``entries=`` (see :meth:`ModelSource.extract`).
        """

    def extract_epoch(
        self, epoch: int, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions,
        progress: Progress,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """``values[layer]``: (len(sample_idx), dim) float32 at one epoch (what streaming holds at a time).

        The default takes the epoch's row of `extract`: right for inputs that already hold
        their activations; networks run only that epoch (:class:`ModelSource`).
        """
        index = self.epochs.index(self.entry(epoch).epoch)
        values = self.extract(layers, sample_idx, options, progress)
        return {name: np.ascontiguousarray(array[index]) for name, array in values.items()}


class ModelSource(RunSource):
    """An input that runs a network for every saved epoch; subclasses say how to capture one epoch."""

    @abstractmethod
    def open_capture(self, epoch: int, layer_names: Sequence[str], device: torch.device) -> tuple[Capture, torch.dtype]:
        """A capture running the network of ``epoch`` on ``device``, and the dtype its float inputs take."""

    def probe_capture(self) -> Capture:
        """The capture used to discover layers (the first epoch's network on the CPU)."""
        import torch

        return self.open_capture(self.epochs[0], (), torch.device("cpu"))[0]

    def mismatch_hint(self, capture: Capture) -> str:
        """A sentence on what inputs the network takes, for the dataset-mismatch message."""
        return ""

    def discover_layers(self) -> tuple[tuple[LayerInfo, ...], tuple[LayerInfo, ...]]:
        """Probe the network with two samples: capturable layers, shapes, and dataset fit."""
        import torch

        if self.dataset is None:
            return (), ()
        sample = act.to_tensor(self.dataset.x[:2], torch.float32)
        mask = self.dataset.attention_mask
        sample_mask = None if mask is None else torch.from_numpy(np.asarray(mask[:2]))
        capture = self.probe_capture()
        try:
            with torch.no_grad():
                records = act.probe_layers(capture, sample, act.ExtractOptions(), sample_mask)
        except (RuntimeError, ValueError, IndexError, TypeError, AssertionError) as exc:
            raise ModelMismatchError(self._mismatch_message(exc, capture)) from exc
        finally:
            capture.close()
        all_layers = tuple(LayerInfo(r.name, r.module, r.shape, r.dim, r.output) for r in records)
        if not self.default_layers:
            chosen = {r.name for r in act.default_layers(records)}
            return all_layers, tuple(layer for layer in all_layers if layer.name in chosen)
        known = {layer.name: layer for layer in all_layers}
        unknown = [name for name in self.default_layers if name not in known]
        if unknown:
            raise RunFormatError(
                f"{self.path.name} names layers {unknown} that the model does not have; "
                f"capturable layers: {', '.join(known)}."
            )
        return all_layers, tuple(known[name] for name in self.default_layers)

    def _mismatch_message(self, exc: BaseException, capture: Capture) -> str:
        assert self.dataset is not None
        return (
            f"The dataset {self.dataset.name} gives inputs of shape {tuple(self.dataset.x.shape[1:])} "
            f"({self.dataset.x.dtype}) per sample, which the model cannot take ({str(exc).splitlines()[0][:200]})."
            f"{self.mismatch_hint(capture)} Choose the dataset the model was trained on, or the matching --model."
        )

    def extract(
        self,
        layers: Sequence[LayerInfo],
        sample_idx: np.ndarray,
        options: act.ExtractOptions,
        progress: Progress,
        entries: Sequence[EpochEntry] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run each epoch's network over the samples, filling preallocated (n_epochs, n, dim) buffers.

        ``entries`` limits the work to those epochs (a live run's new ones); default: all.
        """
        assert self.dataset is not None
        device = resolve_device(options.device)
        entries = self.entries if entries is None else tuple(entries)
        n_epochs = len(entries)
        values = {layer.name: np.empty((n_epochs, len(sample_idx), layer.dim), np.float32) for layer in layers}
        x = self.dataset.x[sample_idx]
        mask = None if self.dataset.attention_mask is None else self.dataset.attention_mask[sample_idx]
        for i, entry in enumerate(entries):
            progress.check_cancelled()
            sub = SubProgress(progress, i / n_epochs, (i + 1) / n_epochs)
            describe = f"extracting epoch {entry.epoch} ({i + 1}/{n_epochs}), "
            buffers = {name: array[i] for name, array in values.items()}
            self._fill_epoch(entry.epoch, x, layers, buffers, options, device, sub, describe, mask)
        return values

    def extract_epoch(
        self, epoch: int, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions,
        progress: Progress,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """One epoch's network over the samples: the same values as `extract`'s row for that epoch."""
        assert self.dataset is not None
        self.entry(epoch)  # an unknown epoch is an IBViewerError, before any work
        values = {layer.name: np.empty((len(sample_idx), layer.dim), np.float32) for layer in layers}
        x = self.dataset.x[sample_idx]
        mask = None if self.dataset.attention_mask is None else self.dataset.attention_mask[sample_idx]
        self._fill_epoch(
            epoch, x, layers, values, options, resolve_device(options.device), progress, f"epoch {epoch}, ", mask
        )
        return values

    def _fill_epoch(
        self, epoch: int, x: np.ndarray, layers: Sequence[LayerInfo], buffers: dict[str, np.ndarray],
        options: act.ExtractOptions, device: torch.device, progress: Progress, describe: str,
        mask: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        capture, input_dtype = self.open_capture(epoch, [layer.name for layer in layers], device)
        try:
            act.fill_activations(capture, x, layers, buffers, options, input_dtype, progress, describe, mask)
        finally:
            capture.close()
