"""How layers are named to people: legends, panel titles, ``ibviewer info``.

A module name such as ``1`` (an index in a ``Sequential``) says nothing on its own, so every
front end shows :func:`layer_label` (``"1 · ReLU (512-d)"``) and, for runs whose layers
include sequences, :func:`pooling_note` (``"sequences: mean over real tokens"``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ibviewer.core.activations import is_sequence
from ibviewer.core.config import SEQUENCE_POOLS
from ibviewer.core.types import ActivationSet, LayerInfo

__all__ = ["layer_label", "layer_labels", "pooling_note", "pooling_title"]

_SEPARATOR = " · "


def layer_label(layer: LayerInfo, *, dim: bool = True) -> str:
    """``"1 · ReLU (512-d)"``: the name, the module type unless the name already says it, the width.

    Examples
    --------
    >>> layer_label(LayerInfo("1", "ReLU", (512,), 512))
    '1 · ReLU (512-d)'
    >>> layer_label(LayerInfo("bert.encoder.layer.0", "BertLayer", (8, 32), 32))
    'bert.encoder.layer.0 · BertLayer (32-d)'
    >>> layer_label(LayerInfo("relu", "ReLU", (64,), 64), dim=False)
    'relu'
    """
    text = layer.name
    last = layer.name.split("@")[0].rsplit(".", 1)[-1]
    if layer.module and layer.module != "archive" and layer.module.lower() != last.lower():
        text += _SEPARATOR + layer.module
    if dim:
        text += f" ({layer.dim}-d)"
    return text


def layer_labels(layers: tuple[LayerInfo, ...] | list[LayerInfo]) -> dict[str, str]:
    """``{name: layer_label(layer)}`` for a legend."""
    return {layer.name: layer_label(layer) for layer in layers}


def pooling_title(sequence_pool: str, masked: bool) -> str:
    """``"mean over real tokens"``: one pooling choice in words (``masked``: the dataset has an attention mask)."""
    if sequence_pool == "flatten":
        return "all positions flattened"
    title = SEQUENCE_POOLS.get(sequence_pool, sequence_pool)
    return title.replace("token", "real token") if masked else title


def pooling_note(acts: ActivationSet) -> str:
    """``"sequences: mean over real tokens"`` when some captured layer was pooled, else ``""``.

    Read from what the activations recorded (``acts.options``), so it names what was done.
    """
    options: Mapping[str, object] = acts.options
    if not any(is_sequence(layer.shape, layer.module) for layer in acts.layers if layer.module != "archive"):
        return ""
    pool = str(options.get("sequence_pool", "mean"))
    return f"sequences: {pooling_title(pool, bool(options.get('attention_mask', False)))}"
