"""Checkpoint folders and single checkpoint files with a model factory."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from ibviewer.core.activations import ExtractOptions
from ibviewer.core.run import open_run
from ibviewer.errors import DatasetError, IBViewerError


def _expected_hidden(model, x):
    """Tanh outputs computed directly, without hooks."""
    outs, h = [], torch.from_numpy(x)
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, torch.nn.Tanh):
                outs.append(h.numpy())
    return outs


def test_checkpoint_folder_orders_epochs_and_extracts_exact_values(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    assert run.kind == "checkpoints"
    assert run.epochs == (1, 5, 20)
    assert [layer.name for layer in run.layers] == ["1", "3"]
    assert [layer.dim for layer in run.layers] == [8, 6]
    assert run.metrics[5]["loss"] == pytest.approx(0.2)
    acts = run.activations()
    assert acts.values["1"].shape == (3, 4096, 8)
    model = run.load_model(5)
    expected = _expected_hidden(model, run.dataset.x)
    np.testing.assert_allclose(acts.layer("1", 5), expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(acts.layer("3", 5), expected[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(acts.labels, run.dataset.y)


@pytest.mark.parametrize("layout", ["bare", "state_dict", "model", "lightning"])
def test_checkpoint_layouts_and_epochs_from_file_names(tmp_path, model_file, net, layout):
    folder = tmp_path / layout
    folder.mkdir()
    for epoch in (3, 10):
        sd = net.make().state_dict()
        if layout == "bare":
            obj = sd
        elif layout == "lightning":
            obj = {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "global_step": 7}
        else:
            obj = {layout: sd}
        torch.save(obj, folder / f"run-epoch={epoch}.ckpt")
    run = open_run(folder, model=f"{model_file}:make", dataset="ib12")
    assert run.epochs == (3, 10)
    assert run.activations(ExtractOptions(max_samples=64)).values["3"].shape == (2, 64, 6)


def test_names_without_epochs_fall_back_to_sorted_order_with_a_warning(tmp_path, model_file, net):
    for name in ("best", "alpha", "final"):
        torch.save(net.make().state_dict(), tmp_path / f"{name}.pt")
    with pytest.warns(UserWarning, match="sorted file-name order"):
        run = open_run(tmp_path, model=f"{model_file}:make", dataset="ib12")
    assert run.epochs == (0, 1, 2)
    assert [e.source.name for e in run.entries] == ["alpha.pt", "best.pt", "final.pt"]


def test_single_checkpoint_is_a_one_epoch_run(tmp_path, model_file, net):
    torch.save({"epoch": 42, "state_dict": net.make().state_dict()}, tmp_path / "model.pth")
    run = open_run(tmp_path / "model.pth", model=f"{model_file}:make", dataset="ib12")
    assert run.kind == "checkpoint" and run.epochs == (42,)
    assert run.summary()["model"] == f"{model_file}:make" and run.n_parameters == 12 * 8 + 8 + 8 * 6 + 6 + 6 * 2 + 2


def test_weights_alone_need_a_model_and_a_dataset(tmp_path, ib12_checkpoints, net):
    folder, spec = ib12_checkpoints
    with pytest.raises(DatasetError, match="--dataset"):
        open_run(folder, model=spec)
    torch.save(net.make().state_dict(), tmp_path / "w.pt")
    with pytest.raises(IBViewerError, match="weights only.*--model"):
        open_run(tmp_path / "w.pt", dataset="ib12")
    with pytest.raises(IBViewerError, match="holds weights only"):
        open_run(folder, dataset="ib12")  # a folder finds out when it builds the first model


def test_a_pickled_module_opens_without_a_factory_when_trusted(tmp_path, net):
    torch.save(net.make(), tmp_path / "whole.pt")
    with pytest.warns(UserWarning, match="full unpickling"):
        run = open_run(tmp_path / "whole.pt", dataset="ib12", trust_pickle=True)
    assert run.model_spec is None and [layer.name for layer in run.layers] == ["1", "3"]


def test_tokens_lstm_tuple_and_sequence_pooling(tmp_path, model_file, net, rng):
    torch.save(net.SeqNet().state_dict(), tmp_path / "seq.pt")
    tokens = rng.integers(0, 20, size=(30, 7))
    np.savez(tmp_path / "tokens.npz", x=tokens, y=rng.integers(0, 3, 30), words=np.array([f"w{i}" for i in range(30)]))
    run = open_run(tmp_path / "seq.pt", model=f"{model_file}:SeqNet", dataset=str(tmp_path / "tokens.npz"))
    assert run.dataset.kind == "tokens" and run.dataset.words[3] == "w3"
    assert [layer.name for layer in run.layers] == ["embed", "lstm", "act"]
    mean = run.activations(ExtractOptions(sequence_pool="mean"), use_cache=False)
    last = run.activations(ExtractOptions(sequence_pool="last"), use_cache=False)
    model = run.load_model(run.epochs[0])
    with torch.no_grad():
        emb = model.embed(torch.from_numpy(tokens))
        seq, _ = model.lstm(emb)
    np.testing.assert_allclose(mean.layer("embed"), emb.mean(1).numpy(), atol=1e-6)
    np.testing.assert_allclose(last.layer("lstm"), seq[:, -1].numpy(), atol=1e-6)
    assert mean.options["sequence_pool"] == "mean"


def test_feature_maps_flatten_or_global_average(tmp_path, model_file, net, rng):
    torch.save(net.ConvNet().state_dict(), tmp_path / "conv.pt")
    np.savez(tmp_path / "img.npz", x=rng.random((12, 1, 8, 8), dtype=np.float32), y=rng.integers(0, 10, 12))
    run = open_run(tmp_path / "conv.pt", model=f"{model_file}:ConvNet", dataset=str(tmp_path / "img.npz"))
    assert run.dataset.kind == "images" and run.dataset.images.shape == (12, 8, 8)
    assert run.layer_info("relu").shape == (3, 8, 8)
    flat = run.activations(ExtractOptions(layers=("relu",), feature_maps="flatten"))
    gap = run.activations(ExtractOptions(layers=("relu",), feature_maps="gap"))
    assert flat.values["relu"].shape == (1, 12, 192) and gap.values["relu"].shape == (1, 12, 3)
    np.testing.assert_allclose(gap.layer("relu"), flat.layer("relu").reshape(12, 3, 64).mean(2), atol=1e-6)


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path, model_file, net, rng):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 8, 8)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 20))
    torch.save(net.ConvNet().state_dict(), tmp_path / "conv.pt")
    run = open_run(tmp_path / "conv.pt", model=f"{model_file}:ConvNet", dataset=str(tmp_path / "t10k-images-idx3-ubyte.gz"))
    assert run.dataset.x.shape == (20, 1, 8, 8) and run.dataset.x.max() <= 1.0
    assert run.activations().values["relu"].shape[1] == 20


def test_a_dataset_the_model_cannot_take_names_both_shapes(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    with pytest.raises(IBViewerError, match=r"shape \(64,\).*Its first layer is a Linear with in_features=12"):
        open_run(folder, model=spec, dataset="digits")
