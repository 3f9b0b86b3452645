"""Activation archives: precomputed activations of any model, in .npz or .safetensors."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file as save_numpy

from ibviewer.core.activations import ExtractOptions
from ibviewer.core.run import open_run
from ibviewer.errors import ActivationError, IBViewerError


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
    with pytest.raises(IBViewerError, match="precomputed activations, not a model"):
        run.load_model(2)


def test_a_subsample_of_an_archive_takes_the_same_rows_of_every_layer(tmp_path, rng):
    np.savez(tmp_path / "a.npz", labels=rng.integers(0, 2, 40), **{"act/h": rng.normal(size=(40, 3))})
    run = open_run(tmp_path / "a.npz")
    full, part = run.activations(), run.activations(ExtractOptions(max_samples=10, seed=1))
    np.testing.assert_array_equal(part.values["h"], full.values["h"][:, part.sample_idx])
    assert part.options["source"] == "archive" and part.key != full.key


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


@pytest.mark.parametrize("arrays, message", [
    ({"act/h": np.zeros((3, 2))}, "no 'labels' array"),
    ({"labels": np.zeros(3)}, "'labels' must be a 1-D integer array"),
    ({"labels": np.zeros(3, int)}, "holds no act/<layer> arrays"),
    ({"labels": np.zeros(3, int), "act/h": np.zeros((4, 2))}, "has 4 rows for 3 labels"),
    ({"labels": np.zeros(3, int), "act/h/0": np.zeros((3, 2)), "act/g/1": np.zeros((3, 2))}, "the same epochs"),
    ({"labels": np.zeros(3, int), "act/h/x": np.zeros((3, 2))}, "must be integers"),
    ({"labels": np.zeros(3, int), "act/h": np.zeros((3, 2)), "layer_order": np.array(["g"])}, r"names \['g'\]"),
])  # fmt: skip
def test_a_malformed_archive_says_what_is_wrong(tmp_path, arrays, message):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(ActivationError, match=message):
        open_run(tmp_path / "a.npz")
