"""Activation archives (``.npz`` or ``.safetensors``): precomputed activations of any model.

Keys (see ``docs/run-format.md``): ``labels`` (N,), ``act/<layer>`` or
``act/<layer>/<epoch>`` (N, ...), optional ``epochs``, ``layer_order``,
``label_names``, ``words``, ``images`` and ``test_indices`` (the held-out samples, as in a
run's ``split.npz``: the layer probes are scored on them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ibviewer.core import activations as act
from ibviewer.core.dataset_extras import display_images
from ibviewer.core.run import files
from ibviewer.core.run.source import EpochEntry, RunSource
from ibviewer.core.types import Dataset, LayerInfo
from ibviewer.errors import ActivationError, IBViewerError

if TYPE_CHECKING:
    from torch import nn

    from ibviewer.core.progress import Progress
    from ibviewer.core.run.detect import OpenRequest

__all__ = ["ArchiveSource", "ArchiveOpener"]


class ArchiveSource(RunSource):
    """Activations read from an archive: ``values[layer]`` is (n_epochs, N, dim) float32."""

    holds_activations: ClassVar[bool] = True

    def __init__(self, *, values: Mapping[str, np.ndarray], layers: Sequence[LayerInfo], **description: Any) -> None:
        super().__init__(**description)
        self.values = dict(values)
        self.layers = tuple(layers)

    def load_model(self, epoch: int) -> nn.Module:
        raise IBViewerError(f"{self.path.name} holds precomputed activations, not a model.")

    def discover_layers(self) -> tuple[tuple[LayerInfo, ...], tuple[LayerInfo, ...]]:
        return self.layers, self.layers

    def extract(
        self, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions, progress: Progress
    ) -> dict[str, np.ndarray]:
        n = next(iter(self.values.values())).shape[1] if self.values else 0
        if np.array_equal(sample_idx, np.arange(n)):
            return {layer.name: self.values[layer.name] for layer in layers}  # every sample: no copy
        return {layer.name: self.values[layer.name][:, sample_idx] for layer in layers}


class ArchiveOpener:
    """A ``.npz`` file, or a ``.safetensors`` file whose keys start with ``act/``."""

    def claims(self, path: Path) -> bool:
        return path.suffix == ".npz" or (path.suffix == ".safetensors" and files.is_activation_archive(path))

    def needs_model(self, path: Path) -> bool:
        return False

    def needs_dataset(self, path: Path) -> bool:
        return False

    def open(self, path: Path, request: OpenRequest) -> ArchiveSource:
        arrays, order = files.read_archive(path)
        labels = _labels(path, arrays)
        epochs, values, layers = _stack_layers(path, arrays, order, labels.shape[0])
        act.check_finite(values, epochs, cause=f"The archive {path.name} holds them so; fix the archive or choose other layers.")
        label_names = tuple(str(s) for s in arrays["label_names"]) if "label_names" in arrays else None
        words = tuple(str(s) for s in arrays["words"]) if "words" in arrays else None
        images = display_images(arrays["images"], arrays.get("image_range"), path.name) if "images" in arrays else None
        data = Dataset(
            name=path.name, spec=str(path), kind="images" if images is not None else "features",
            x=np.zeros((labels.shape[0], 0), np.float32), y=labels.astype(np.int64), label_names=label_names,
            images=images, words=words,
        )  # fmt: skip
        return ArchiveSource(
            kind="activations", path=path, name=path.name, entries=[EpochEntry(e, None) for e in epochs],
            dataset=data, values=values, layers=layers, test_indices=_test_indices(path, arrays, labels.shape[0]),
        )  # fmt: skip


def _test_indices(path: Path, arrays: Mapping[str, np.ndarray], n: int) -> np.ndarray | None:
    if "test_indices" not in arrays:
        return None
    indices = np.asarray(arrays["test_indices"])
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) or (indices.size and not 0 <= indices.min() <= indices.max() < n):
        raise ActivationError(f"{path.name}: 'test_indices' must be a 1-D integer array of sample indices in 0..{n - 1}.")
    return indices.astype(np.int64)


def _labels(path: Path, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    if "labels" not in arrays:
        raise ActivationError(f"{path.name} has no 'labels' array. An activations archive needs labels (N,) and act/<layer> arrays.")
    labels = np.asarray(arrays["labels"])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ActivationError(f"{path.name}: 'labels' must be a 1-D integer array, got {labels.dtype} {labels.shape}.")
    return labels


def _stack_layers(
    path: Path, arrays: dict[str, np.ndarray], order: Sequence[str], n: int
) -> tuple[list[int], dict[str, np.ndarray], list[LayerInfo]]:
    """Group ``act/`` arrays by layer and epoch: the epochs, (n_epochs, n, dim) values and layer infos.

    Each layer's arrays are removed from ``arrays`` once stacked, so the peak stays near
    twice the archive's size (one layer's blocks and all stacks so far).
    """
    per_layer: dict[str, dict[str | None, np.ndarray]] = {}
    for key in order:
        if not key.startswith("act/"):
            continue
        parts = key.split("/")
        layer, epoch = (parts[1], None) if len(parts) == 2 else ("/".join(parts[1:-1]), parts[-1])
        per_layer.setdefault(layer, {})[epoch] = np.asarray(arrays[key])
    if not per_layer:
        raise ActivationError(f"{path.name} holds no act/<layer> arrays. See docs/run-format.md for the key names.")
    if "layer_order" in arrays:
        wanted = [str(s) for s in arrays["layer_order"]]
        unknown = [name for name in wanted if name not in per_layer]
        if unknown:
            raise ActivationError(f"{path.name}: layer_order names {unknown}, which have no act/ arrays.")
        per_layer = {name: per_layer[name] for name in wanted}
    if len({tuple(sorted(v, key=str)) for v in per_layer.values()}) != 1:
        raise ActivationError(f"{path.name}: every layer must have the same epochs (act/<layer>/<epoch>).")
    keys = list(next(iter(per_layer.values())))
    if keys == [None]:
        epochs = [int(arrays["epochs"][0])] if "epochs" in arrays else [0]
        ordered_keys: list[str | None] = [None]
    else:
        try:
            numeric = sorted((int(k), k) for k in keys)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ActivationError(f"{path.name}: epoch parts of act/<layer>/<epoch> must be integers ({exc}).") from exc
        epochs = [e for e, _ in numeric]
        ordered_keys = [k for _, k in numeric]
        if len(set(epochs)) != len(epochs):
            raise ActivationError(f"{path.name}: epoch keys {sorted(keys)} name an epoch more than once (e.g. 5 and 05).")
    values: dict[str, np.ndarray] = {}
    layers = []
    for name in list(per_layer):
        by_epoch = per_layer.pop(name)
        shape = tuple(int(s) for s in next(iter(by_epoch.values())).shape[1:])
        stack = []
        for epoch, k in zip(epochs, ordered_keys):
            block = by_epoch.pop(k)
            arrays.pop(f"act/{name}" if k is None else f"act/{name}/{k}", None)
            if block.shape[0] != n:
                raise ActivationError(f"{path.name}: layer {name!r} at epoch {epoch} has {block.shape[0]} rows for {n} labels.")
            stack.append(block.reshape(n, -1).astype(np.float32, copy=False))
        values[name] = np.stack(stack)
        del stack, block
        layers.append(LayerInfo(name, "archive", shape, int(values[name].shape[2])))
    return epochs, values, layers
