"""What every Run shares: subsampling, the memory plan, cancellation, the activation cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibviewer.core.activations import ExtractOptions
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.run import open_run
from ibviewer.errors import ActivationError, Cancelled, IBViewerError


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


def test_progress_covers_every_epoch_in_order(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    progress = RecordingProgress()
    open_run(folder, model=spec, dataset="ib12").activations(ExtractOptions(batch_size=2048), progress, use_cache=False)
    assert [f for f, _ in progress.updates] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    assert progress.updates[2][1] == "extracting epoch 5 (2/3), batch 1/2"


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


def test_summary_and_unknown_layers_and_epochs(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    summary = run.summary()
    assert summary["kind"] == "checkpoints" and summary["epochs"] == [1, 5, 20]
    assert summary["default_layers"] == ["1", "3"] and summary["metrics"]["5"]["loss"] == pytest.approx(0.2)
    assert [(layer["name"], layer["default"]) for layer in summary["layers"]] == [
        ("0", False), ("1", True), ("2", False), ("3", True), ("4", False)]  # fmt: skip
    with pytest.raises(IBViewerError, match="no layer 'nope'. Capturable layers: 0, 1, 2, 3, 4"):
        run.activations(ExtractOptions(layers=("nope",)))
    with pytest.raises(IBViewerError, match=r"no epoch 7; saved epochs: \[1, 5, 20\]"):
        run.load_model(7)
