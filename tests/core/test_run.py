"""Opening every supported input format and extracting activations from it."""

from __future__ import annotations

import gzip
import importlib.util
import json
import struct

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from ibviewer.core.activations import ExtractOptions
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.run import open_run
from ibviewer.errors import ActivationError, Cancelled, IBViewerError


def _factory_module(model_file):
    spec = importlib.util.spec_from_file_location("net_for_test", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def test_checkpoint_layouts_and_epochs_from_file_names(tmp_path, model_file, layout):
    module = _factory_module(model_file)
    folder = tmp_path / layout
    folder.mkdir()
    for epoch in (3, 10):
        sd = module.make().state_dict()
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


def test_names_without_epochs_fall_back_to_sorted_order_with_a_warning(tmp_path, model_file):
    module = _factory_module(model_file)
    for name in ("best", "alpha", "final"):
        torch.save(module.make().state_dict(), tmp_path / f"{name}.pt")
    with pytest.warns(UserWarning, match="sorted file-name order"):
        run = open_run(tmp_path, model=f"{model_file}:make", dataset="ib12")
    assert run.epochs == (0, 1, 2)
    assert [e.source.name for e in run.entries] == ["alpha.pt", "best.pt", "final.pt"]


def test_single_checkpoint_is_a_one_epoch_run(tmp_path, model_file):
    module = _factory_module(model_file)
    torch.save({"epoch": 42, "state_dict": module.make().state_dict()}, tmp_path / "model.pth")
    run = open_run(tmp_path / "model.pth", model=f"{model_file}:make", dataset="ib12")
    assert run.kind == "checkpoint" and run.epochs == (42,)


def test_ibviewer_run_folder_with_float16_safetensors(tmp_path):
    torch.manual_seed(1)
    from torch import nn

    folder = tmp_path / "myrun"
    (folder / "weights").mkdir(parents=True)
    entries = []
    for epoch in (0, 4):
        model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
        save_file({k: v.half() for k, v in model.state_dict().items()}, folder / f"weights/epoch_{epoch:06d}.safetensors")
        entries.append({"epoch": epoch, "weights": f"weights/epoch_{epoch:06d}.safetensors", "metrics": {"loss": 1.5 - epoch / 10}})
    (folder / "model.py").write_text(
        "from torch import nn\n\ndef build(hidden):\n    return nn.Sequential(nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, 10))\n"
    )
    manifest = {"format": "ibviewer-run", "version": 1, "model": {"factory": "model.py:build", "kwargs": {"hidden": 16}},
                "dataset": "digits", "epochs": list(reversed(entries))}
    (folder / "run.json").write_text(json.dumps(manifest))
    run = open_run(folder)
    assert run.kind == "ibviewer" and run.epochs == (0, 4)
    assert run.metrics[4]["loss"] == pytest.approx(1.1)
    assert [layer.name for layer in run.layers] == ["1"]
    acts = run.activations()
    assert acts.values["1"].shape == (2, 1797, 16) and acts.values["1"].dtype == np.float32


def test_newer_run_format_version_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"format": "ibviewer-run", "version": 99}))
    with pytest.raises(IBViewerError, match="version 99.*Upgrade"):
        open_run(tmp_path)


def test_torch_export_program_captures_the_same_values_as_hooks(tmp_path, model_file):
    module = _factory_module(model_file)
    torch.manual_seed(0)
    model = module.make().eval()
    program = torch.export.export(model, (torch.zeros(32, 12),))  # a fixed batch of 32
    torch.export.save(program, tmp_path / "net.pt2")
    torch.save(model.state_dict(), tmp_path / "net.pt")
    exported = open_run(tmp_path / "net.pt2", dataset="ib12")
    plain = open_run(tmp_path / "net.pt", model=f"{model_file}:make", dataset="ib12")
    assert [layer.name for layer in exported.layers] == [layer.name for layer in plain.layers] == ["1", "3"]
    a, b = exported.activations(), plain.activations()
    for name in ("1", "3"):
        np.testing.assert_allclose(a.values[name], b.values[name], atol=1e-6)


def test_npz_activation_archive_per_epoch(tmp_path, rng):
    labels = rng.integers(0, 3, 50)
    arrays = {"labels": labels, "epochs": np.array([2, 10]), "label_names": np.array(["a", "b", "c"])}
    for epoch in (10, 2):
        arrays[f"act/enc/{epoch}"] = rng.normal(size=(50, 4)).astype(np.float32)
        arrays[f"act/dec/{epoch}"] = rng.normal(size=(50, 2, 3))
    np.savez(tmp_path / "acts.npz", **arrays)
    run = open_run(tmp_path / "acts.npz")
    assert run.kind == "activations" and run.epochs == (2, 10)
    acts = run.activations()
    assert acts.layer_names == ("enc", "dec")
    np.testing.assert_array_equal(acts.layer("enc", 2), arrays["act/enc/2"])
    assert acts.values["dec"].shape == (2, 50, 6)
    assert run.dataset.label_names == ("a", "b", "c")


def test_safetensors_activation_archive_single_epoch(tmp_path, rng):
    save_numpy({"labels": np.arange(10) % 2, "act/h1": rng.normal(size=(10, 3)).astype(np.float32)}, tmp_path / "a.safetensors")
    acts = open_run(tmp_path / "a.safetensors").activations()
    assert acts.epochs == (0,) and acts.values["h1"].shape == (1, 10, 3)


def test_archive_with_nan_names_layer_and_epoch(tmp_path):
    bad = np.zeros((5, 2), np.float32)
    bad[3, 1] = np.nan
    np.savez(tmp_path / "a.npz", labels=np.zeros(5, np.int64), **{"act/h/0": np.zeros((5, 2)), "act/h/7": bad})
    with pytest.raises(ActivationError, match=r"'h' at epoch 7"):
        open_run(tmp_path / "a.npz")


def test_tokens_lstm_tuple_and_sequence_pooling(tmp_path, model_file, rng):
    module = _factory_module(model_file)
    torch.save(module.SeqNet().state_dict(), tmp_path / "seq.pt")
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


def test_feature_maps_flatten_or_global_average(tmp_path, model_file, rng):
    module = _factory_module(model_file)
    torch.save(module.ConvNet().state_dict(), tmp_path / "conv.pt")
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


def test_mnist_idx_files(tmp_path, model_file, rng):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 8, 8)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 20))
    module = _factory_module(model_file)
    torch.save(module.ConvNet().state_dict(), tmp_path / "conv.pt")
    run = open_run(tmp_path / "conv.pt", model=f"{model_file}:ConvNet", dataset=str(tmp_path / "t10k-images-idx3-ubyte.gz"))
    assert run.dataset.x.shape == (20, 1, 8, 8) and run.dataset.x.max() <= 1.0
    assert run.activations().values["relu"].shape[1] == 20


def test_subsample_is_seeded_and_shared_by_layers_and_epochs(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    a = run.activations(ExtractOptions(max_samples=100, seed=3))
    b = run.activations(ExtractOptions(max_samples=100, seed=3), use_cache=False)
    np.testing.assert_array_equal(a.sample_idx, b.sample_idx)
    np.testing.assert_array_equal(a.labels, run.dataset.y[a.sample_idx])
    full = run.activations()
    np.testing.assert_allclose(a.values["3"], full.values["3"][:, a.sample_idx], atol=1e-6)


def test_memory_plan_refuses_too_much_and_says_what_to_do(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    with pytest.raises(ActivationError, match="--max-samples"):
        run.activations(ExtractOptions(memory_limit_gb=1e-6))


def test_cancellation_stops_extraction(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    progress = RecordingProgress(cancel_after=1)
    with pytest.raises(Cancelled):
        run.activations(ExtractOptions(batch_size=256), progress=progress, use_cache=False)
    assert len(progress.updates) == 1  # stopped at the first batch boundary after the request


def test_cache_is_reused_and_follows_checkpoint_contents(ib12_checkpoints, monkeypatch, tmp_path):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    first = run.activations(cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "activations").glob("*.npz"))

    def boom(*args):
        raise AssertionError("the model should not be run again")

    monkeypatch.setattr(run.source, "open_capture", boom)
    second = run.activations(cache_dir=tmp_path / "c")
    assert second.key == first.key
    np.testing.assert_array_equal(second.values["1"], first.values["1"])
    monkeypatch.undo()
    # new weights in one file -> a different key, a fresh extraction
    module_sd = torch.load(folder / "e005.pt", weights_only=True)
    module_sd["model_state_dict"]["0.bias"] += 1.0
    torch.save(module_sd, folder / "e005.pt")
    third = open_run(folder, model=spec, dataset="ib12").activations(cache_dir=tmp_path / "c")
    assert third.key != first.key
    assert not np.allclose(third.layer("1", 5), first.layer("1", 5))


def test_damaged_cache_entry_is_recomputed(ib12_checkpoints, tmp_path):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    first = run.activations(cache_dir=tmp_path / "c")
    (entry,) = (tmp_path / "c" / "activations").glob("*.npz")
    entry.write_bytes(b"garbage")
    again = run.activations(cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(again.values["3"], first.values["3"])


def test_what_opening_needs(tmp_path, ib12_checkpoints, rng):
    from ibviewer.core.run import needs_dataset, needs_model

    folder, _ = ib12_checkpoints
    assert needs_model(folder) and needs_dataset(folder)
    assert needs_model(folder / "e005.pt")
    weights = tmp_path / "w"
    weights.mkdir()
    save_file({"0.weight": torch.zeros(2, 2)}, weights / "epoch_1.safetensors")
    assert needs_model(weights) and needs_model(weights / "epoch_1.safetensors")  # safetensors weights, folder or file
    save_numpy({"labels": np.arange(4), "act/h": rng.normal(size=(4, 2))}, tmp_path / "acts.safetensors")
    assert not needs_model(tmp_path / "acts.safetensors") and not needs_dataset(tmp_path / "acts.safetensors")
    (tmp_path / "p.pt2").write_bytes(b"")
    assert not needs_model(tmp_path / "p.pt2") and needs_dataset(tmp_path / "p.pt2")
    (weights / "run.json").write_text("{}")
    assert not needs_model(weights) and not needs_dataset(weights)  # an ibviewer run names its own
