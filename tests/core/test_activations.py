"""Capturing layer outputs: hooks into preallocated buffers, pooling rules, sample choice and the checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ibviewer.core import activations as act
from ibviewer.core.activations import ExtractOptions, ModuleCapture
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import LayerInfo
from ibviewer.errors import ActivationError, Cancelled, ModelMismatchError


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).eval()


def _tanh_of_first_layer(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.tanh(model[0](torch.from_numpy(x))).numpy()


def test_hooks_write_every_batch_into_the_preallocated_buffer(rng):
    model = _mlp()
    x = rng.normal(size=(10, 4)).astype(np.float32)
    layers = [LayerInfo("1", "Tanh", (3,), 3), LayerInfo("3", "ReLU", (5,), 5)]
    block = np.full((2, 10, 3), np.nan, np.float32)  # two epochs; fill the second one through a view
    buffers = {"1": block[1], "3": np.full((10, 5), np.nan, np.float32)}
    progress = RecordingProgress()
    capture = ModuleCapture(model, ["1", "3"])
    act.fill_activations(capture, x, layers, buffers, ExtractOptions(batch_size=4), torch.float32, progress, "e1, ")
    capture.close()
    np.testing.assert_allclose(block[1], _tanh_of_first_layer(model, x), atol=1e-6)
    assert np.isnan(block[0]).all()  # the other epoch's rows were not touched
    with torch.no_grad():
        relu = torch.relu(model[2](torch.from_numpy(_tanh_of_first_layer(model, x)))).numpy()
    np.testing.assert_allclose(buffers["3"], relu, atol=1e-6)
    assert progress.updates == [(1 / 3, "e1, batch 1/3"), (2 / 3, "e1, batch 2/3"), (1.0, "e1, batch 3/3")]
    assert all(not m._forward_hooks for m in model.modules())  # close() removed every hook


def test_cancellation_is_checked_before_each_batch(rng):
    model = _mlp()
    x = rng.normal(size=(12, 4)).astype(np.float32)
    buffer = np.full((12, 3), np.nan, np.float32)
    with pytest.raises(Cancelled):
        act.fill_activations(ModuleCapture(model), x, [LayerInfo("1", "Tanh", (3,), 3)], {"1": buffer},
                             ExtractOptions(batch_size=4), torch.float32, RecordingProgress(cancel_after=1))  # fmt: skip
    assert np.isfinite(buffer[:4]).all() and np.isnan(buffer[4:]).all()  # stopped after the first batch


def test_a_model_that_rejects_the_inputs_is_a_mismatch_naming_the_shape(rng):
    x = rng.normal(size=(6, 7)).astype(np.float32)  # the model takes 4 features
    with pytest.raises(ModelMismatchError, match=r"inputs of shape \(7,\)"):
        act.fill_activations(ModuleCapture(_mlp()), x, [LayerInfo("1", "Tanh", (3,), 3)],
                             {"1": np.empty((6, 3), np.float32)}, ExtractOptions(), torch.float32)  # fmt: skip


def test_a_layer_that_never_runs_is_reported(rng):
    class Skips(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    buffers = {"unused": np.empty((3, 2), np.float32)}
    with pytest.raises(ActivationError, match=r"\['unused'\] produced no output"):
        act.fill_activations(ModuleCapture(Skips()), rng.normal(size=(3, 4)).astype(np.float32),
                             [LayerInfo("unused", "Linear", (2,), 2)], buffers, ExtractOptions(), torch.float32)  # fmt: skip


def test_a_module_called_twice_is_captured_as_name_and_name_at_2(rng):
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.act = nn.Linear(4, 3), nn.Linear(3, 3), nn.Tanh()

        def forward(self, x):
            return self.act(self.b(self.act(self.a(x))))

    model = Shared().eval()
    records = act.probe_layers(ModuleCapture(model), torch.zeros(2, 4), ExtractOptions())
    assert [(r.name, r.module) for r in records] == [("a", "Linear"), ("act", "Tanh"), ("b", "Linear"), ("act@2", "Tanh")]
    x = rng.normal(size=(5, 4)).astype(np.float32)
    second = np.empty((5, 3), np.float32)
    act.fill_activations(ModuleCapture(model), x, [LayerInfo("act@2", "Tanh", (3,), 3)], {"act@2": second},
                         ExtractOptions(), torch.float32)  # fmt: skip
    with torch.no_grad():
        np.testing.assert_allclose(second, model(torch.from_numpy(x)).numpy(), atol=1e-6)


def test_reduce_output_of_tuples_sequences_and_feature_maps():
    seq = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # (batch, length, dim)
    mean, last, flat = (ExtractOptions(sequence_pool=p) for p in ("mean", "last", "flatten"))
    assert torch.equal(act.reduce_output((seq, "hidden state"), "LSTM", mean), seq.mean(1))  # tuples: first element
    assert torch.equal(act.reduce_output([seq], "GRU", last), seq[:, -1])
    assert torch.equal(act.reduce_output(seq, "TransformerEncoderLayer", flat), seq.reshape(2, 12))
    # 3-D outputs of 1-D convolutions are (batch, channels, length) feature maps, not sequences
    assert torch.equal(act.reduce_output(seq, "Conv1d", ExtractOptions(feature_maps="gap")), seq.mean(2))
    maps = torch.rand(2, 3, 4, 5)
    assert torch.equal(act.reduce_output(maps, "ReLU", ExtractOptions()), maps.reshape(2, 60))
    assert torch.allclose(act.reduce_output(maps, "ReLU", ExtractOptions(feature_maps="gap")), maps.mean((2, 3)))
    ids = torch.tensor([3, 1])
    reduced = act.reduce_output(ids, "Argmax", ExtractOptions())
    assert reduced.dtype == torch.float32 and reduced.shape == (2, 1)  # integers become floats, 1-D a column
    with pytest.raises(ActivationError, match="empty tuple"):
        act.reduce_output((), "LSTM", ExtractOptions())
    with pytest.raises(ActivationError, match="returned a dict holding no tensor"):
        act.reduce_output({"x": "text"}, "Custom", ExtractOptions())


@pytest.mark.parametrize("shape, module", [((6,), "Linear"), ((3, 4), "LSTM"), ((3, 4), "Conv1d"), ((2, 4, 4), "Conv2d")])
@pytest.mark.parametrize("options", [ExtractOptions(), ExtractOptions(sequence_pool="last", feature_maps="gap"),
                                     ExtractOptions(sequence_pool="flatten")])  # fmt: skip
def test_captured_dim_predicts_what_reduce_output_gives(shape, module, options):
    output = torch.zeros(2, *shape)
    assert act.captured_dim(shape, module, options) == act.reduce_output(output, module, options).shape[1]


def test_choose_samples_is_seeded_sorted_and_shared():
    a = act.choose_samples(1000, 50, seed=3)
    assert np.array_equal(a, act.choose_samples(1000, 50, seed=3))
    assert not np.array_equal(a, act.choose_samples(1000, 50, seed=4))
    assert a.dtype == np.int64 and len(np.unique(a)) == 50 and np.all(np.diff(a) > 0) and a.max() < 1000
    assert np.array_equal(act.choose_samples(20, None), np.arange(20))
    assert np.array_equal(act.choose_samples(20, 20), np.arange(20))
    with pytest.raises(ActivationError, match="at least 2"):
        act.choose_samples(20, 1)


def test_plan_memory_counts_bytes_and_refuses_above_the_limit():
    layers = [LayerInfo("small", "Tanh", (10,), 10), LayerInfo("wide", "ReLU", (512,), 512)]
    held = 4 * 3 * 100 * 522
    # plus the larger of the inputs' copy and the widest layer's estimator workspace
    assert act.plan_memory(layers, n_epochs=3, n_samples=100, limit_gb=1.0) == held + 28 * 100 * 512
    assert act.plan_memory(layers, n_epochs=3, n_samples=100, limit_gb=1.0, input_bytes=20_000) == held + 100 * 20_000
    with pytest.raises(ActivationError, match=r"needs 0\.0 GB.*widest layer: wide, 512 values.*--max-samples"):
        act.plan_memory(layers, n_epochs=3, n_samples=100, limit_gb=1e-6)


def test_check_finite_names_the_layer_and_the_epoch_number():
    good = np.zeros((2, 4, 3), np.float32)
    bad = good.copy()
    bad[1, 2, 0], bad[1, 3, 1] = np.nan, np.inf
    act.check_finite({"h1": good}, [5, 40])
    with pytest.raises(ActivationError, match=r"Layer 'h2' at epoch 40 has 2 NaN or infinite values"):
        act.check_finite({"h1": good, "h2": bad}, [5, 40])


def _records(*modules: str):
    return [act.CallRecord(str(i), m, (3,), 3) for i, m in enumerate(modules)]


def test_default_layers_are_the_hidden_representations():
    chosen = act.default_layers(_records("Linear", "Tanh", "Linear", "Tanh", "Linear", "Softmax"))
    assert [(c.name, c.module) for c in chosen] == [("1", "Tanh"), ("3", "Tanh")]
    # a final non-linearity is the output, not a hidden layer
    assert [c.name for c in act.default_layers(_records("Linear", "ReLU", "Linear", "Sigmoid"))] == ["1"]
    # functional activations: every parametric layer but the output one (pre-activations)
    assert [c.name for c in act.default_layers(_records("Linear", "Linear", "Linear", "Dropout"))] == ["0", "1"]
    assert [c.module for c in act.default_layers(_records("Embedding", "LSTM", "Linear"))] == ["Embedding", "LSTM"]


def test_pooling_over_real_tokens_with_an_attention_mask():
    seq = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]])  # right padding, then left padding
    pooled = {pool: act.reduce_output(seq, "BertLayer", ExtractOptions(sequence_pool=pool), mask) for pool in ("mean", "last", "first")}
    assert torch.equal(pooled["mean"], torch.stack([seq[0, :2].mean(0), seq[1, 1:].mean(0)]))
    assert torch.equal(pooled["last"], torch.stack([seq[0, 1], seq[1, 3]]))
    assert torch.equal(pooled["first"], torch.stack([seq[0, 0], seq[1, 1]]))
    # without a mask: every position; a mask of another length is not this sequence's
    assert torch.equal(act.reduce_output(seq, "BertLayer", ExtractOptions(sequence_pool="first")), seq[:, 0])
    assert torch.equal(act.reduce_output(seq, "X", ExtractOptions(), torch.ones(2, 9)), seq.mean(1))
    # an all-padding row does not divide by zero
    empty = act.reduce_output(seq, "X", ExtractOptions(), torch.zeros(2, 4))
    assert torch.isfinite(empty).all()


def test_model_outputs_give_their_hidden_states_and_name_the_part():
    hidden = torch.rand(2, 4, 3)
    assert act.output_tensor({"logits": torch.rand(2, 5), "last_hidden_state": hidden}, "BertModel")[1] == ".last_hidden_state"
    assert act.output_tensor({"loss": None, "logits": hidden}, "Head")[1] == ".logits"
    assert act.output_tensor((None, hidden), "Block")[1] == "[1]"
    assert torch.equal(act.reduce_output({"last_hidden_state": hidden}, "BertModel", ExtractOptions()), hidden.mean(1))


def test_the_mask_reaches_models_that_take_it_and_pools_their_sequences(rng):
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 3)
            self.seen: list[torch.Tensor | None] = []

        def forward(self, tokens, attention_mask=None):
            self.seen.append(attention_mask)
            return self.embed(tokens)

    torch.manual_seed(0)
    model = Masked().eval()
    tokens = rng.integers(0, 10, size=(5, 4))
    mask = np.ones((5, 4), np.int64)
    mask[:, 3] = 0
    buffer = np.empty((5, 3), np.float32)
    act.fill_activations(ModuleCapture(model, ["embed"]), tokens, [LayerInfo("embed", "Embedding", (4, 3), 3)],
                         {"embed": buffer}, ExtractOptions(), torch.float32, attention_mask=mask)  # fmt: skip
    assert torch.equal(model.seen[-1], torch.from_numpy(mask))
    with torch.no_grad():
        expected = model.embed(torch.from_numpy(tokens))[:, :3].mean(1).numpy()
    np.testing.assert_allclose(buffer, expected, atol=1e-6)


def test_outputs_that_are_not_per_sample_are_not_listed():
    class Positions(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Embedding(4, 3)
            self.mix = nn.Linear(3, 3)

        def forward(self, x):
            positions = self.table(torch.arange(4).unsqueeze(0))  # (1, 4, 3): broadcast over the batch
            return self.mix(x + positions)

    records = act.probe_layers(ModuleCapture(Positions().eval()), torch.zeros(2, 4, 3), ExtractOptions())
    assert [r.name for r in records] == ["mix"]


def test_layers_given_as_one_text_are_refused_whole():
    from ibviewer.core.activations import ExtractOptions
    from ibviewer.errors import ActivationError

    with pytest.raises(ActivationError, match=r"got 'net.1' \(a single text; did you mean \['net.1'\]\?\)"):
        ExtractOptions(layers="net.1")
    assert ExtractOptions(layers=["net.1"]).layers == ("net.1",)
