"""Which captured module outputs are a network's hidden representations (the default layers).

Two rules, in order:

1. **Repeated blocks.** When the network has a list of blocks (the numbered children of a
   ``ModuleList`` or ``Sequential`` that are containers of the same type, such as a BERT's
   ``bert.encoder.layer.0``, ``.1``, ... or a ResNet's ``layer1.0``), the outputs of those
   blocks are the representations: the residual stream, skip sums and functional
   activations included.
2. **Otherwise, activation modules** among the leaf modules: each block's output after its
   non-linearity, leaving out the output layer (see :func:`default_layers`).

Works on the names and types of the calls seen while probing (``CallRecord``), so it
serves module hooks and ``torch.export`` programs alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = [
    "ACTIVATION_TYPES",
    "REPRESENTATION_TYPES",
    "PARAMETRIC_TYPES",
    "OUTPUT_TAIL_TYPES",
    "default_layers",
    "repeated_blocks",
]

ACTIVATION_TYPES = {
    "ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish",
    "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "PReLU", "RReLU", "Tanhshrink",
    "LogSigmoid", "GLU", "Threshold",
}  # fmt: skip
REPRESENTATION_TYPES = {"Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "TransformerEncoderLayer"}
PARAMETRIC_TYPES = {"Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "LazyLinear"}
OUTPUT_TAIL_TYPES = {"Softmax", "LogSoftmax", "Softmax2d", "Dropout", "Identity", "Flatten", "Unflatten"}


class _Call(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def module(self) -> str: ...


C = TypeVar("C", bound=_Call)


def _base(name: str) -> str:
    return name.split("@")[0]


def repeated_blocks(records: Sequence[C]) -> list[C]:
    """The outputs of repeated blocks, in execution order (empty when the network has none).

    A block list is a set of calls named ``<prefix>.<i>`` (or ``<i>`` at the top) with integer
    ``i``, where at least two are containers (other calls are named below them) of the same
    module type. Block lists nested inside another block are left out (the outer blocks
    already carry them).
    """
    bases = {_base(r.name) for r in records}
    containers = {b for b in bases if any(other.startswith(b + ".") for other in bases)}
    groups: dict[str, list[C]] = {}
    for record in records:
        base = _base(record.name)
        prefix, _, last = base.rpartition(".")
        if last.isdigit() and base in containers:
            groups.setdefault(prefix, []).append(record)
    chosen: dict[str, list[C]] = {}
    for prefix, members in groups.items():
        type_counts = Counter(r.module for r in members if "@" not in r.name)
        if not type_counts:
            continue
        block_type, count = type_counts.most_common(1)[0]
        if count >= 2:
            chosen[prefix] = [r for r in members if r.module == block_type]
    outer = {
        prefix: members for prefix, members in chosen.items()
        if not any(_inside(prefix, r.name) for other in chosen.values() for r in other if other is not members)
    }  # fmt: skip
    picked = {id(r) for members in outer.values() for r in members}
    return [r for r in records if id(r) in picked]


def _inside(prefix: str, block_name: str) -> bool:
    """Whether block list ``prefix`` lies inside the block ``block_name``."""
    block = _base(block_name)
    return prefix == block or prefix.startswith(block + ".")


def default_layers(records: Sequence[C]) -> list[C]:
    """The meaningful hidden representations among the probed calls (see the module docstring).

    Without repeated blocks: activation modules and representation modules (embeddings,
    recurrent layers) among the leaves, leaving out the output layer (the last parametric
    call, after dropping trailing softmax/dropout/identity). Models that use functional
    activations have no activation modules; then every parametric layer but the last is
    taken (pre-activation values).
    """
    blocks = repeated_blocks(records)
    if blocks:
        return blocks
    bases = {_base(r.name) for r in records}
    calls = [r for r in records if not any(other.startswith(_base(r.name) + ".") for other in bases)]
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
