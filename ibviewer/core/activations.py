"""Capturing every layer's representation: forward hooks, pooling rules, batched extraction.

Any module can be captured, leaf or container. A *capture* turns one module output into a
(batch, dim) float32 block:

- a tuple keeps its first tensor (``[0]``: an LSTM's outputs, a transformer block's hidden
  states), a ``ModelOutput`` or other mapping its ``last_hidden_state``, else its first
  tensor (``.logits``); the part taken is recorded in ``LayerInfo.output``;
- 4-D+ feature maps are flattened or global-average-pooled; 3-D outputs of 1-D
  convolutions and pools are feature maps too;
- other 3-D outputs are sequences (batch, length, dim), pooled per ``sequence_pool``: the
  mean over tokens, the last token or the first token (or flattened). With an attention
  mask (``attention_mask`` in the dataset) only real tokens count: the mean over them, the
  last and the first real token.

A module called more than once in one forward pass (a shared activation) yields ``name``,
``name@2``, ``name@3`` ...
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ibviewer.core.export_capture import ExportCapture
from ibviewer.core.layer_choice import default_layers
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.safe_read import memory_limit_gb
from ibviewer.core.types import LayerInfo
from ibviewer.errors import ActivationError, ModelMismatchError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "ExtractOptions",
    "ModuleCapture",
    "ExportCapture",
    "default_layers",
    "is_sequence",
    "choose_samples",
    "plan_memory",
    "check_finite",
    "fill_activations",
]

logger = logging.getLogger(__name__)

FEATURE_MAP_3D_TYPES = {"Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
                        "AdaptiveMaxPool1d", "BatchNorm1d", "InstanceNorm1d"}  # fmt: skip
#: The part of a ModelOutput taken when it has one (the residual stream of a transformer).
HIDDEN_STATE_KEY = "last_hidden_state"


@dataclass(frozen=True)
class ExtractOptions:
    """How activations are captured; recorded with every result.

    Parameters
    ----------
    layers : tuple of str, optional
        Layer names to capture (``named_modules`` names, ``name@2`` for a second call);
        default: the run's hidden representations.
    device : str, default="cpu"
        Torch device for the forward passes ("cuda", "cuda:1", ...).
    max_samples : int, optional
        Capture a seeded subset of this many samples, identical for all layers and epochs.
    seed : int, default=0
        Seed of that subset.
    batch_size : int, default=1024
    sequence_pool : {"mean", "last", "first", "flatten"}, default="mean"
        How (batch, length, dim) sequence outputs become one vector per sample: the mean over
        tokens, the last token, the first token (over real tokens only when the dataset has an
        attention mask), or all positions flattened.
    feature_maps : {"flatten", "gap"}, default="flatten"
        How (batch, channels, ...) feature maps become vectors (gap: global average pool).
    memory_limit_gb : float, default=4.0 (or ``$IBVIEWER_MEMORY_LIMIT_GB``)
        Refuse to extract when the memory plan (`plan_memory`) says the peak exceeds this.
    """

    layers: tuple[str, ...] | None = None
    device: str = "cpu"
    max_samples: int | None = None
    seed: int = 0
    batch_size: int = 1024
    sequence_pool: Literal["mean", "last", "first", "flatten"] = "mean"
    feature_maps: Literal["flatten", "gap"] = "flatten"
    memory_limit_gb: float = field(default_factory=memory_limit_gb)

    def __post_init__(self) -> None:
        if self.layers is not None:
            if isinstance(self.layers, str) or not all(isinstance(name, str) and name for name in self.layers):
                raise ActivationError(
                    f"layers must be a list of layer names, got {self.layers!r}"
                    + (f" (a single text; did you mean [{self.layers!r}]?)" if isinstance(self.layers, str) else "")
                )
            object.__setattr__(self, "layers", tuple(self.layers))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = list(self.layers) if self.layers is not None else None
        return data


def output_tensor(output: Any, module_type: str) -> tuple[Any, str]:
    """The tensor a module output is reduced from, and which part of it that is.

    Returns ``(output, "")`` for a tensor, ``(output[i], "[i]")`` for a tuple or list (its
    first tensor), ``(output[key], ".key")`` for a mapping such as a ``ModelOutput``
    (``last_hidden_state`` when present, else its first tensor).
    """
    import torch

    if isinstance(output, torch.Tensor):
        return output, ""
    if isinstance(output, (tuple, list)):
        if not output:
            raise ActivationError(f"A {module_type} module returned an empty {type(output).__name__}.")
        for i, item in enumerate(output):
            if isinstance(item, torch.Tensor):
                return item, f"[{i}]"
    elif isinstance(output, Mapping):
        if isinstance(output.get(HIDDEN_STATE_KEY), torch.Tensor):
            return output[HIDDEN_STATE_KEY], f".{HIDDEN_STATE_KEY}"
        for key, item in output.items():
            if isinstance(item, torch.Tensor):
                return item, f".{key}"
    raise ActivationError(
        f"A {module_type} module returned a {type(output).__name__} holding no tensor, which cannot be captured; "
        "choose another layer."
    )


def is_sequence(shape: Sequence[int], module_type: str) -> bool:
    """Whether a per-sample output ``shape`` is a (length, dim) sequence that ``sequence_pool`` pools."""
    return len(shape) == 2 and module_type not in FEATURE_MAP_3D_TYPES


def reduce_output(
    output: Any, module_type: str, options: ExtractOptions, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """One module output -> a (batch, dim) tensor, following the module docstring's rules.

    ``attention_mask`` is (batch, length) of 0/1 (1 = a real token); it is used for sequence
    outputs of that length and ignored for others.
    """
    output, _ = output_tensor(output, module_type)
    if not output.is_floating_point():
        output = output.float()
    if output.ndim == 0:
        raise ActivationError(
            f"A {module_type} module returned one number for the whole batch, not values per sample; choose another layer."
        )
    if output.ndim == 1:
        return output.unsqueeze(1)
    if output.ndim == 2:
        return output
    if output.ndim >= 4 or module_type in FEATURE_MAP_3D_TYPES:
        if options.feature_maps == "gap":
            return output.flatten(2).mean(dim=2)
        return output.flatten(1)
    if options.sequence_pool == "flatten":
        return output.flatten(1)
    if attention_mask is not None and tuple(attention_mask.shape) == tuple(output.shape[:2]):
        return _pool_real_tokens(output, attention_mask.to(output.device), options.sequence_pool)
    if options.sequence_pool == "mean":
        return output.mean(dim=1)
    if options.sequence_pool == "last":
        return output[:, -1]
    return output[:, 0]


def _pool_real_tokens(output: torch.Tensor, mask: torch.Tensor, pool: str) -> torch.Tensor:
    import torch

    real = mask > 0
    if pool == "mean":
        weights = real.to(output.dtype).unsqueeze(-1)
        return (output * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    positions = torch.arange(output.shape[1], device=output.device).expand_as(real)
    if pool == "last":  # the last real token, whether padding is on the right or the left
        index = torch.where(real, positions, torch.full_like(positions, -1)).amax(dim=1).clamp(min=0)
    else:  # the first real token
        index = torch.where(real, positions, torch.full_like(positions, output.shape[1])).amin(dim=1)
        index = index.clamp(max=output.shape[1] - 1)
    return output[torch.arange(output.shape[0], device=output.device), index]


def captured_dim(shape: Sequence[int], module_type: str, options: ExtractOptions) -> int:
    """The vector length :func:`reduce_output` gives for a per-sample output ``shape``."""
    if len(shape) == 0:
        return 1
    if len(shape) == 1:
        return int(shape[0])
    if len(shape) >= 3 or module_type in FEATURE_MAP_3D_TYPES:
        return int(shape[0]) if options.feature_maps == "gap" else int(np.prod(shape))
    return int(np.prod(shape)) if options.sequence_pool == "flatten" else int(shape[1])


def with_options(layer: LayerInfo, options: ExtractOptions) -> LayerInfo:
    """``layer`` with the dimension it has when captured with ``options``."""
    if layer.module == "archive":
        return layer
    return LayerInfo(layer.name, layer.module, layer.shape, captured_dim(layer.shape, layer.module, options), layer.output)


Sink = Callable[[str, str, Any], None]


class ModuleCapture:
    """Forward hooks on a model's modules: every named module, leaf or container, or only ``layers``.

    ``run(inputs, sink, attention_mask)`` calls ``sink(layer_name, module_type, output)``
    for each captured call during one forward pass and returns the model's output. The
    mask is passed to the model when its ``forward`` takes ``attention_mask``.

    Parameters
    ----------
    model : nn.Module
    layers : sequence of str, optional
        Capture only these (``name`` or ``name@2``); default: every named module (probing).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None) -> None:
        self.model = model
        self._sink: Sink | None = None
        self._calls: dict[str, int] = {}
        self._handles = []
        wanted = None if not layers else {name.split("@")[0] for name in layers}
        for name, module in model.named_modules():
            if name and (wanted is None or name in wanted):
                self._handles.append(module.register_forward_hook(self._make_hook(name, type(module).__name__)))
        try:
            self._takes_mask = "attention_mask" in inspect.signature(model.forward).parameters
        except (TypeError, ValueError):
            self._takes_mask = False

    def _make_hook(self, name: str, module_type: str):  # noqa: ANN202
        def hook(module, inputs, output):  # noqa: ANN001, ARG001
            count = self._calls.get(name, 0) + 1
            self._calls[name] = count
            if self._sink is not None:
                self._sink(name if count == 1 else f"{name}@{count}", module_type, output)

        return hook

    def run(self, inputs: torch.Tensor, sink: Sink, attention_mask: torch.Tensor | None = None) -> Any:
        self._sink = sink
        self._calls = {}
        try:
            if attention_mask is not None and self._takes_mask:
                return self.model(inputs, attention_mask=attention_mask)
            return self.model(inputs)
        finally:
            self._sink = None

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@dataclass(frozen=True)
class CallRecord:
    """One captured call seen while probing a model: name, module type, output shape, part taken."""

    name: str
    module: str
    shape: tuple[int, ...]
    dim: int
    output: str = ""


def probe_layers(
    capture: Any, sample: torch.Tensor, options: ExtractOptions, attention_mask: torch.Tensor | None = None
) -> list[CallRecord]:
    """Run a tiny batch through the model and list every capturable call in execution order.

    Outputs that hold no tensor, or whose first dimension is not the batch (a position
    table broadcast over the batch), are not capturable and left out, and so are
    zero-width outputs (nothing to analyse).
    """
    records: dict[str, CallRecord] = {}
    n = int(sample.shape[0])

    def sink(name: str, module_type: str, output: Any) -> None:
        if name in records:
            return
        try:
            raw, part = output_tensor(output, module_type)
            if raw.ndim == 0 or raw.shape[0] != n:
                return
            dim = int(reduce_output(raw, module_type, options, attention_mask).shape[1])
        except ActivationError:
            return
        if dim > 0:  # a zero-width output holds nothing to analyse
            records[name] = CallRecord(name, module_type, tuple(int(s) for s in raw.shape[1:]), dim, part)

    capture.run(sample, sink, attention_mask)
    return list(records.values())


def choose_samples(n_samples: int, max_samples: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of the captured samples: all, or a seeded subset of ``max_samples``."""
    if max_samples is None or max_samples >= n_samples:
        return np.arange(n_samples, dtype=np.int64)
    if max_samples < 2:
        raise ActivationError(f"--max-samples must be at least 2, got {max_samples}.")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, size=max_samples, replace=False)).astype(np.int64)


#: Bytes the information-plane estimate of one (epoch, layer) cell takes beyond its activations, per value
#: of the layer (binning: bin indices, row codes and their sort; measured with tracemalloc on 10,000 x 512).
CELL_WORKSPACE_BYTES = 28


def plan_memory(
    layers: Sequence[LayerInfo], n_epochs: int, n_samples: int, limit_gb: float, *, input_bytes: int = 0
) -> int:
    """Bytes an analysis holding ``n_epochs`` epochs of activations needs at its peak; refuses above ``limit_gb``.

    The peak is the activations held (4 bytes x samples x the layers' dims x epochs) plus the
    larger of what capturing and estimating add: the copy of the captured inputs
    (``input_bytes`` per sample) and the widest layer's estimator workspace
    (`CELL_WORKSPACE_BYTES` per value). The all-in-memory route holds every epoch; a streamed
    analysis one per process (plus, where results are gathered, the epochs kept for embeddings).
    Measured peaks are in ``docs/performance.md`` (benchmarks/bench_scale.py).

    Raises
    ------
    ActivationError
        The estimate exceeds ``limit_gb``, naming the widest layer and what to do.
    """
    held = 4 * n_epochs * n_samples * sum(layer.dim for layer in layers)
    widest = max(layers, key=lambda layer: layer.dim)
    total = held + max(n_samples * input_bytes, CELL_WORKSPACE_BYTES * n_samples * widest.dim)
    if total > limit_gb * 1e9:
        raise ActivationError(
            f"Capturing {len(layers)} layers x {n_epochs} epochs x {n_samples} samples needs "
            f"{total / 1e9:.1f} GB at its peak ({held / 1e9:.1f} GB of activations), above the {limit_gb:g} GB limit "
            f"(widest layer: {widest.name}, {widest.dim} values). "
            "Use --max-samples N, fewer --layers (or feature maps 'gap'), or fewer epochs."
        )
    return total


_DIVERGED = "The weights of that epoch may have diverged; exclude the epoch or choose other layers."


def check_finite(values: dict[str, np.ndarray], epochs: Sequence[int], cause: str = _DIVERGED) -> None:
    """Raise ActivationError naming the first layer and epoch holding NaN or inf.

    ``cause``: the sentence saying why and what to do; by default the weights are blamed,
    which holds when the inputs were checked finite (datasets are, when loaded).
    """
    for name, array in values.items():
        for i, epoch in enumerate(epochs):
            block = array[i]
            if not np.isfinite(block).all():
                n_bad = int((~np.isfinite(block)).sum())
                raise ActivationError(f"Layer {name!r} at epoch {epoch} has {n_bad} NaN or infinite values. {cause}")


def to_tensor(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    import torch

    if np.issubdtype(x.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)


def fill_activations(
    capture: Any,
    x: np.ndarray,
    layers: Sequence[LayerInfo],
    buffers: dict[str, np.ndarray],
    options: ExtractOptions,
    input_dtype: torch.dtype,
    progress: Progress = NULL_PROGRESS,
    describe: str = "",
    attention_mask: np.ndarray | None = None,
) -> None:
    """Run ``x`` through ``capture`` in batches, copying each layer's block into ``buffers``.

    ``buffers`` maps layer name -> preallocated (n_samples, dim) float32 array;
    ``attention_mask`` (n_samples, length) of 0/1 goes to the model with each batch and
    restricts sequence pooling to real tokens. Cancellation is checked before every batch.
    """
    import torch

    wanted = {layer.name: layer for layer in layers}
    n = x.shape[0]
    n_batches = max(1, -(-n // options.batch_size))
    views = {name: torch.from_numpy(buf) for name, buf in buffers.items()}
    device = torch.device(options.device)
    for b in range(n_batches):
        progress.check_cancelled()
        start, end = b * options.batch_size, min(n, (b + 1) * options.batch_size)
        seen: set[str] = set()

        def sink(name: str, module_type: str, output: Any, start: int = start, end: int = end) -> None:
            if name in wanted:
                block = reduce_output(output, module_type, options, mask)
                if block.shape[0] != end - start or block.shape[1] != wanted[name].dim:
                    raise ActivationError(
                        f"Layer {name!r} gave {tuple(block.shape)} values for {end - start} samples, expected "
                        f"{wanted[name].dim} per sample."
                    )
                views[name][start:end].copy_(block.detach())
                seen.add(name)

        batch = to_tensor(x[start:end], input_dtype).to(device)
        mask = None if attention_mask is None else torch.from_numpy(np.asarray(attention_mask[start:end])).to(device)
        with torch.no_grad():
            try:
                capture.run(batch, sink, mask)
            except (RuntimeError, ValueError, IndexError, TypeError, AssertionError) as exc:
                raise ModelMismatchError(
                    f"The model failed on the dataset's inputs of shape {tuple(x.shape[1:])} ({x.dtype}): "
                    f"{str(exc).splitlines()[0][:300]}"
                ) from exc
        missing = set(wanted) - seen
        if missing:
            raise ActivationError(
                f"Layers {sorted(missing)} produced no output in the forward pass; choose layers the model uses."
            )
        progress.update((b + 1) / n_batches, f"{describe}batch {b + 1}/{n_batches}")
