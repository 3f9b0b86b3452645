"""Layer names as people read them: type and width beside a Sequential index, the pooling used."""

from __future__ import annotations

import numpy as np

from ibviewer.core.layer_names import layer_label, layer_labels, pooling_note, pooling_title
from ibviewer.core.types import ActivationSet, LayerInfo


def test_labels_say_type_and_width():
    assert layer_label(LayerInfo("1", "ReLU", (512,), 512)) == "1 · ReLU (512-d)"
    assert layer_label(LayerInfo("net.3@2", "Tanh", (8,), 8)) == "net.3@2 · Tanh (8-d)"
    assert layer_label(LayerInfo("relu", "ReLU", (64,), 64)) == "relu (64-d)"  # the name already says it
    assert layer_label(LayerInfo("h1", "archive", (5,), 5)) == "h1 (5-d)"
    assert layer_labels([LayerInfo("0", "Linear", (2,), 2)]) == {"0": "0 · Linear (2-d)"}


def _acts(layers, options):
    values = {layer.name: np.zeros((1, 2, layer.dim), np.float32) for layer in layers}
    return ActivationSet(tuple(layers), (0,), values, np.zeros(2, np.int64), np.arange(2), "k", options)


def test_the_pooling_note_names_what_was_done_to_sequences():
    block = LayerInfo("layer.0", "BertLayer", (8, 32), 32)
    assert pooling_note(_acts([block], {"sequence_pool": "last", "attention_mask": True})) == "sequences: last real token"
    assert pooling_note(_acts([block], {"sequence_pool": "first"})) == "sequences: first token"
    assert pooling_note(_acts([LayerInfo("1", "ReLU", (4,), 4)], {"sequence_pool": "mean"})) == ""  # nothing pooled
    assert pooling_title("mean", masked=True) == "mean over real tokens"
