"""Shared array aliases and the frozen result types every core module passes around."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

DatasetKind = Literal["images", "tokens", "features", "bits"]


@dataclass(frozen=True)
class Dataset:
    """Inputs and labels a model is run on.

    Attributes
    ----------
    name : str
        Short name shown to users ("digits", "ib12", a file name).
    spec : str
        The spec it was made from, so it can be reopened (``"digits"``, a path).
    kind : {"images", "tokens", "features", "bits"}
        What ``x`` holds; decides how samples are shown (thumbnails, words, values).
    x : ndarray
        Model inputs, (n_samples, ...) in the dtype the model takes.
    y : ndarray of int64
        Class labels, (n_samples,), values in ``0..n_classes-1``.
    label_names : tuple of str or None
        Names of the classes, index-aligned with labels.
    images : ndarray or None
        (n_samples, H, W) or (n_samples, H, W, 3) images for thumbnails, values in [0, 1].
    words : tuple of str or None
        One word per sample for text data.
    attention_mask : ndarray or None
        (n_samples, length) of 0/1 for token inputs (1 = a real token, 0 = padding): given
        to models that take ``attention_mask`` and used to pool sequences over real tokens.
    """

    name: str
    spec: str
    kind: DatasetKind
    x: np.ndarray
    y: IntArray
    label_names: tuple[str, ...] | None = None
    images: np.ndarray | None = None
    words: tuple[str, ...] | None = None
    attention_mask: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_classes(self) -> int:
        if self.label_names is not None:
            return len(self.label_names)
        return int(self.y.max()) + 1 if self.y.size else 0

    def class_name(self, label: int) -> str:
        if self.label_names is not None and 0 <= label < len(self.label_names):
            return self.label_names[label]
        return str(label)

    def sample_name(self, index: int) -> str:
        """How one sample is named in lists: the word, or ``#index``."""
        if self.words is not None:
            return self.words[index]
        return f"#{index}"

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "spec": self.spec,
            "kind": self.kind,
            "n_samples": self.n_samples,
            "input_shape": list(self.x.shape[1:]),
            "input_dtype": str(self.x.dtype),
            "n_classes": self.n_classes,
            "classes": list(self.label_names) if self.label_names is not None else None,
            "has_images": self.images is not None,
            "has_words": self.words is not None,
            "has_attention_mask": self.attention_mask is not None,
        }


@dataclass(frozen=True)
class LayerInfo:
    """A capturable layer.

    ``shape`` is the per-sample output shape of the module; ``dim`` the size of the
    flattened/pooled vector that is captured; ``output`` the part of a tuple or
    ``ModelOutput`` output that is captured (``"[0]"``, ``".last_hidden_state"``; ``""`` for
    a plain tensor).
    """

    name: str
    module: str
    shape: tuple[int, ...]
    dim: int
    output: str = ""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"name": self.name, "module": self.module, "shape": list(self.shape), "dim": self.dim}
        if self.output:
            data["output"] = self.output
        return data


@dataclass(frozen=True)
class ActivationSet:
    """Every captured layer at every epoch for the same samples.

    Attributes
    ----------
    layers : tuple of LayerInfo
        In network order.
    epochs : tuple of int
        Saved epochs in training order.
    values : dict of str to ndarray
        Layer name -> (n_epochs, n_samples, dim) float32 activations.
    labels : ndarray of int64
        (n_samples,) labels of the captured samples.
    sample_idx : ndarray of int64
        (n_samples,) indices of the captured samples in the dataset (a seeded subset
        when ``max_samples`` was used, otherwise ``arange``).
    key : str
        Content hash identifying these activations (for caches of derived results).
    options : dict
        How they were captured (pooling, flattening, device, ...), recorded for figures.
    inputs : ndarray or None
        (n_samples, ...) the model inputs of the captured samples (``dataset.x[sample_idx]``)
        when known; the ``renyi`` estimator takes them as the X of I(X;T). Set with
        :meth:`with_inputs`; None for token inputs and activation archives.
    test_indices : ndarray of int64 or None
        Dataset indices the network was not trained on (a run's ``split.npz``, an archive's
        ``test_indices``): the layer probes are scored on the captured ones among them.
        None when the run has no split.
    """

    layers: tuple[LayerInfo, ...]
    epochs: tuple[int, ...]
    values: dict[str, np.ndarray]
    labels: IntArray
    sample_idx: IntArray
    key: str
    options: dict[str, object] = field(default_factory=dict)
    inputs: np.ndarray | None = None
    test_indices: IntArray | None = None

    def with_inputs(self, dataset_x: np.ndarray) -> ActivationSet:
        """A copy that carries the captured samples' rows of ``dataset_x`` (all of the dataset's inputs).

        No copy of the inputs is made when every sample was captured in order.
        """
        return replace(self, inputs=captured_rows(dataset_x, self.sample_idx))

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str, epoch: int | None = None) -> np.ndarray:
        """(n_samples, dim) activations of one layer at one epoch (default: the last)."""
        array = self.values[name]
        if epoch is None:
            return array[-1]
        return array[self.epoch_index(epoch)]

    def epoch_index(self, epoch: int) -> int:
        try:
            return self.epochs.index(epoch)
        except ValueError:
            raise KeyError(f"epoch {epoch} is not in this run; saved epochs: {list(self.epochs)}") from None


def captured_rows(dataset_x: np.ndarray, sample_idx: np.ndarray) -> np.ndarray:
    """The rows of ``dataset_x`` at ``sample_idx``; no copy when every sample was captured in order."""
    x = np.asarray(dataset_x)
    if sample_idx.shape == (x.shape[0],) and np.array_equal(sample_idx, np.arange(x.shape[0])):
        return x
    return x[sample_idx]
