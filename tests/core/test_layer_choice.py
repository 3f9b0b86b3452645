"""Default layers: outputs of repeated blocks when a network has them, else its activation modules."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ibviewer.core import activations as act
from ibviewer.core.activations import ExtractOptions, ModuleCapture
from ibviewer.core.layer_choice import default_layers, repeated_blocks
from ibviewer.core.types import LayerInfo


class ResidualBlock(nn.Module):
    """x + W2 relu(W1 x): the skip sum and the functional activation are no module's output."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, x):
        return x + self.outer(torch.relu(self.inner(x)))


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 6, depth: int = 3) -> None:
        super().__init__()
        self.stem = nn.Linear(4, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


class TinyEncoder(nn.Module):
    """A token model with transformer blocks that return tuples, like a BERT's encoder layers."""

    class Block(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
            self.norm = nn.LayerNorm(dim)

        def forward(self, h):
            mixed, weights = self.attn(h, h, h)
            return self.norm(h + mixed), weights

    def __init__(self, vocab: int = 20, dim: int = 8, depth: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layer = nn.ModuleList(self.Block(dim) for _ in range(depth))
        self.pool = nn.Tanh()
        self.out = nn.Linear(dim, 2)

    def forward(self, tokens):
        h = self.embed(tokens)
        for block in self.layer:
            h, _ = block(h)
        return self.out(self.pool(h[:, 0]))


def _probe(model: nn.Module, sample: torch.Tensor) -> list[act.CallRecord]:
    capture = ModuleCapture(model.eval())
    try:
        with torch.no_grad():
            return act.probe_layers(capture, sample, ExtractOptions())
    finally:
        capture.close()


def test_a_residual_mlp_defaults_to_its_block_outputs_with_the_skip_sum():
    torch.manual_seed(0)
    model = ResidualMLP()
    records = _probe(model, torch.zeros(2, 4))
    assert [r.name for r in default_layers(records)] == ["blocks.0", "blocks.1", "blocks.2"]
    # what is captured is the block's output: the residual stream, skip sum included
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    layer = next(LayerInfo(r.name, r.module, r.shape, r.dim) for r in records if r.name == "blocks.1")
    buffer = np.empty((5, 6), np.float32)
    act.fill_activations(ModuleCapture(model, ["blocks.1"]), x, [layer], {"blocks.1": buffer}, ExtractOptions(), torch.float32)
    with torch.no_grad():
        h = model.stem(torch.from_numpy(x))
        h = model.blocks[0](h)
        expected = h + model.blocks[1].outer(torch.relu(model.blocks[1].inner(h)))
    np.testing.assert_allclose(buffer, expected.numpy(), atol=1e-6)


def test_transformer_blocks_returning_tuples_are_the_default_and_record_the_part_taken():
    torch.manual_seed(0)
    records = _probe(TinyEncoder(), torch.zeros(2, 5, dtype=torch.long))
    chosen = default_layers(records)
    assert [(r.name, r.module, r.output) for r in chosen] == [("layer.0", "Block", "[0]"), ("layer.1", "Block", "[0]")]
    assert chosen[0].shape == (5, 8) and chosen[0].dim == 8  # a sequence, pooled to one vector per sample
    names = [r.name for r in records]
    assert "layer.0.attn" in names and "layer.0.norm" in names  # containers and leaves are all listed


def test_plain_networks_keep_the_activation_rule():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 2))
    assert [r.name for r in default_layers(_probe(mlp, torch.zeros(2, 4)))] == ["1", "3"]
    # a Sequential of (Linear, ReLU) blocks: the blocks are repeated containers
    blocks = nn.Sequential(*(nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(3)), nn.Linear(4, 2))
    assert [r.name for r in default_layers(_probe(blocks, torch.zeros(2, 4)))] == ["0", "1", "2"]


def test_block_lists_inside_blocks_are_left_to_the_outer_blocks():
    records = [
        act.CallRecord(name, module, (4,), 4)
        for name, module in [
            ("stage.0.sub.0.fc", "Linear"), ("stage.0.sub.0", "Sub"), ("stage.0.sub.1.fc", "Linear"),
            ("stage.0.sub.1", "Sub"), ("stage.0", "Stage"), ("stage.1.sub.0.fc", "Linear"), ("stage.1.sub.0", "Sub"),
            ("stage.1", "Stage"), ("head", "Linear"),
        ]
    ]  # fmt: skip
    assert [r.name for r in repeated_blocks(records)] == ["stage.0", "stage.1"]
    # one block of a kind is not a repetition
    assert repeated_blocks([act.CallRecord("enc.0.fc", "Linear", (4,), 4), act.CallRecord("enc.0", "Block", (4,), 4)]) == []
