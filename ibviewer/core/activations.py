"""Capturing every layer's representation: forward hooks, pooling rules, batched extraction.

A *capture* turns one module output into a (batch, dim) float32 block:
tuples (LSTM/GRU) keep their first element; 4-D+ feature maps are flattened or
global-average-pooled; 3-D outputs of 1-D convolutions and pools are feature
maps, other 3-D outputs are sequences (batch first) pooled by mean or last step
(or flattened). A module called more than once in one forward pass (a shared
activation) yields ``name``, ``name@2``, ``name@3`` ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ibviewer.core.progress import NULL_PROGRESS, Progress
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
    "choose_samples",
    "plan_memory",
    "check_finite",
    "fill_activations",
]

logger = logging.getLogger(__name__)

ACTIVATION_TYPES = {
    "ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish",
    "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "PReLU", "RReLU", "Tanhshrink",
    "LogSigmoid", "GLU", "Threshold",
}  # fmt: skip
REPRESENTATION_TYPES = {"Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "TransformerEncoderLayer"}
PARAMETRIC_TYPES = {"Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "LazyLinear"}
OUTPUT_TAIL_TYPES = {"Softmax", "LogSoftmax", "Softmax2d", "Dropout", "Identity", "Flatten", "Unflatten"}
FEATURE_MAP_3D_TYPES = {"Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
                        "AdaptiveMaxPool1d", "BatchNorm1d", "InstanceNorm1d"}  # fmt: skip


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
    sequence_pool : {"mean", "last", "flatten"}, default="mean"
        How (batch, length, dim) sequence outputs become vectors.
    feature_maps : {"flatten", "gap"}, default="flatten"
        How (batch, channels, ...) feature maps become vectors (gap: global average pool).
    memory_limit_gb : float, default=4.0
        Refuse to extract when the memory plan (`plan_memory`) says the peak exceeds this.
    """

    layers: tuple[str, ...] | None = None
    device: str = "cpu"
    max_samples: int | None = None
    seed: int = 0
    batch_size: int = 1024
    sequence_pool: Literal["mean", "last", "flatten"] = "mean"
    feature_maps: Literal["flatten", "gap"] = "flatten"
    memory_limit_gb: float = 4.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = list(self.layers) if self.layers is not None else None
        return data


def reduce_output(output: Any, module_type: str, options: ExtractOptions) -> torch.Tensor:
    """One module output -> a (batch, dim) tensor, following the module docstring's rules."""
    import torch

    if isinstance(output, (tuple, list)):
        if not output:
            raise ActivationError(f"A {module_type} module returned an empty {type(output).__name__}.")
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ActivationError(
            f"A {module_type} module returned a {type(output).__name__}, which cannot be captured; "
            "choose another layer."
        )
    if not output.is_floating_point():
        output = output.float()
    if output.ndim == 1:
        return output.unsqueeze(1)
    if output.ndim == 2:
        return output
    if output.ndim >= 4 or module_type in FEATURE_MAP_3D_TYPES:
        if options.feature_maps == "gap":
            return output.flatten(2).mean(dim=2)
        return output.flatten(1)
    if options.sequence_pool == "mean":
        return output.mean(dim=1)
    if options.sequence_pool == "last":
        return output[:, -1]
    return output.flatten(1)


def captured_dim(shape: Sequence[int], module_type: str, options: ExtractOptions) -> int:
    """The vector length :func:`reduce_output` gives for a per-sample output ``shape``."""
    if len(shape) == 0:
        return 1
    if len(shape) == 1:
        return int(shape[0])
    if len(shape) >= 3 or module_type in FEATURE_MAP_3D_TYPES:
        return int(shape[0]) if options.feature_maps == "gap" else int(np.prod(shape))
    return int(shape[1]) if options.sequence_pool in ("mean", "last") else int(np.prod(shape))


def with_options(layer: LayerInfo, options: ExtractOptions) -> LayerInfo:
    """``layer`` with the dimension it has when captured with ``options``."""
    if layer.module == "archive":
        return layer
    return LayerInfo(layer.name, layer.module, layer.shape, captured_dim(layer.shape, layer.module, options))


Sink = Callable[[str, str, Any], None]


class ModuleCapture:
    """Forward hooks on a model's leaf modules (and any named module asked for).

    ``run(inputs, sink)`` calls ``sink(layer_name, module_type, output)`` for each
    captured call during one forward pass and returns the model's output.
    """

    def __init__(self, model: nn.Module, extra: Sequence[str] = ()) -> None:
        self.model = model
        self._sink: Sink | None = None
        self._calls: dict[str, int] = {}
        self._handles = []
        wanted = {name.split("@")[0] for name in extra}
        for name, module in model.named_modules():
            is_leaf = next(module.children(), None) is None
            if name and (is_leaf or name in wanted):
                self._handles.append(module.register_forward_hook(self._make_hook(name, type(module).__name__)))

    def _make_hook(self, name: str, module_type: str):  # noqa: ANN202
        def hook(module, inputs, output):  # noqa: ANN001, ARG001
            count = self._calls.get(name, 0) + 1
            self._calls[name] = count
            if self._sink is not None:
                self._sink(name if count == 1 else f"{name}@{count}", module_type, output)

        return hook

    def run(self, inputs: torch.Tensor, sink: Sink) -> Any:
        self._sink = sink
        self._calls = {}
        try:
            return self.model(inputs)
        finally:
            self._sink = None

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


class ExportCapture:
    """Captures the values of a ``torch.export`` program that correspond to its original modules.

    Each call_function node carries ``nn_module_stack`` metadata; the output of a
    module is the last node computed inside it. Programs exported with a fixed batch
    size are run in chunks of that size (the last chunk padded).
    """

    def __init__(self, program: Any) -> None:
        import torch.fx

        self.graph_module = program.module()
        self.module_types: dict[str, str] = {}
        last_node: dict[str, Any] = {}
        for node in self.graph_module.graph.nodes:
            stack = node.meta.get("nn_module_stack")
            if node.op != "call_function" or not stack:
                continue
            for path, module_type in stack.values():
                if not path:
                    continue
                type_name = module_type if isinstance(module_type, str) else getattr(module_type, "__name__", "")
                self.module_types[path] = type_name.rsplit(".", 1)[-1]
                last_node[path] = node
        self.node_to_layers: dict[Any, list[str]] = {}
        for path, node in last_node.items():
            self.node_to_layers.setdefault(node, []).append(path)
        paths = list(self.module_types)
        self.leaves = [p for p in paths if not any(q.startswith(p + ".") for q in paths)]
        placeholders = [n for n in self.graph_module.graph.nodes if n.op == "placeholder"]
        value = placeholders[0].meta.get("val") if placeholders else None
        self.fixed_batch: int | None = None
        self.input_shape: tuple[int, ...] | None = None
        if value is not None and hasattr(value, "shape") and len(value.shape) > 0:
            self.input_shape = tuple(int(s) if isinstance(s, int) else -1 for s in value.shape[1:])
            first = value.shape[0]
            self.fixed_batch = int(first) if isinstance(first, int) else None
        capture = self

        class _Interpreter(torch.fx.Interpreter):
            sink: Sink | None = None

            def run_node(self, node):  # noqa: ANN001, ANN202
                result = super().run_node(node)
                if self.sink is not None:
                    for path in capture.node_to_layers.get(node, ()):
                        self.sink(path, capture.module_types[path], result)
                return result

        self._interpreter = _Interpreter(self.graph_module)

    def run(self, inputs: torch.Tensor, sink: Sink) -> Any:
        import torch

        if self.fixed_batch is None or inputs.shape[0] == self.fixed_batch:
            return self._run_once(inputs, sink)
        outputs = []
        pieces: dict[str, tuple[str, list[Any]]] = {}
        size = self.fixed_batch

        def collect(name: str, module_type: str, value: Any) -> None:
            pieces.setdefault(name, (module_type, []))[1].append(value)

        for start in range(0, inputs.shape[0], size):
            chunk = inputs[start : start + size]
            n_real = chunk.shape[0]
            if n_real < size:
                pad = chunk[-1:].expand(size - n_real, *chunk.shape[1:])
                chunk = torch.cat([chunk, pad])
            before = {name: len(parts) for name, (_, parts) in pieces.items()}
            outputs.append(self._run_once(chunk, collect)[:n_real])
            for name, (_, parts) in pieces.items():
                for j in range(before.get(name, 0), len(parts)):
                    parts[j] = _first_rows(parts[j], n_real)
        for name, (module_type, parts) in pieces.items():
            sink(name, module_type, _concat(parts))
        return torch.cat(outputs)

    def _run_once(self, inputs: torch.Tensor, sink: Sink) -> Any:
        self._interpreter.sink = sink
        try:
            return self._interpreter.run(inputs)
        finally:
            self._interpreter.sink = None

    def close(self) -> None:
        pass


def _first_rows(value: Any, n: int) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_first_rows(v, n) for v in value)
    return value[:n] if hasattr(value, "shape") and len(value.shape) > 0 else value


def _concat(parts: list[Any]) -> Any:
    import torch

    first = parts[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_concat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, torch.Tensor) and first.ndim > 0:
        return torch.cat(parts)
    return first


@dataclass(frozen=True)
class CallRecord:
    """One captured call seen while probing a model: name, module type, output shape."""

    name: str
    module: str
    shape: tuple[int, ...]
    dim: int


def probe_layers(capture: Any, sample: torch.Tensor, options: ExtractOptions) -> list[CallRecord]:
    """Run a tiny batch through the model and list every capturable call in execution order."""
    records: dict[str, CallRecord] = {}

    def sink(name: str, module_type: str, output: Any) -> None:
        if name in records:
            return
        raw = output[0] if isinstance(output, (tuple, list)) and output else output
        shape = tuple(int(s) for s in getattr(raw, "shape", ())[1:])
        try:
            dim = int(reduce_output(output, module_type, options).shape[1])
        except ActivationError:
            return
        records[name] = CallRecord(name, module_type, shape, dim)

    capture.run(sample, sink)
    return list(records.values())


def default_layers(records: Sequence[CallRecord]) -> list[CallRecord]:
    """The meaningful hidden representations: each block's output after its non-linearity.

    Picks activation modules and representation modules (embeddings, recurrent
    layers) and leaves out the output layer (the last parametric call, after
    dropping trailing softmax/dropout/identity). Models that use functional
    activations have no activation modules; then every parametric layer but the
    last is taken (pre-activation values).
    """
    calls = list(records)
    while calls and calls[-1].module in OUTPUT_TAIL_TYPES:
        calls.pop()
    if len(calls) > 1 and calls[-1].module in ACTIVATION_TYPES:
        calls.pop()  # an output non-linearity (e.g. a final sigmoid)
    if calls and calls[-1].module not in ACTIVATION_TYPES | REPRESENTATION_TYPES:
        calls.pop()  # the output layer (logits)
    chosen = [c for c in calls if c.module in ACTIVATION_TYPES | REPRESENTATION_TYPES]
    if not chosen:
        chosen = [c for c in calls if c.module in PARAMETRIC_TYPES]
    if not chosen:
        chosen = calls
    return chosen


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


def check_finite(values: dict[str, np.ndarray], epochs: Sequence[int]) -> None:
    """Raise ActivationError naming the first layer and epoch holding NaN or inf."""
    for name, array in values.items():
        for i, epoch in enumerate(epochs):
            block = array[i]
            if not np.isfinite(block).all():
                n_bad = int((~np.isfinite(block)).sum())
                raise ActivationError(
                    f"Layer {name!r} at epoch {epoch} has {n_bad} NaN or infinite values. The weights of that "
                    "epoch may have diverged; exclude the epoch or choose other layers."
                )


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
) -> None:
    """Run ``x`` through ``capture`` in batches, copying each layer's block into ``buffers``.

    ``buffers`` maps layer name -> preallocated (n_samples, dim) float32 array;
    cancellation is checked before every batch.
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
                block = reduce_output(output, module_type, options)
                if block.shape[1] != wanted[name].dim:
                    raise ActivationError(
                        f"Layer {name!r} gave {block.shape[1]} values per sample, expected {wanted[name].dim}."
                    )
                views[name][start:end].copy_(block.detach())
                seen.add(name)

        batch = to_tensor(x[start:end], input_dtype).to(device)
        with torch.no_grad():
            try:
                capture.run(batch, sink)
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
