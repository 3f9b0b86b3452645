"""The information plane with the renyi estimator: inputs as X, per-cell outputs, feature maps, cache."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ibviewer.core.information import compute_information_plane, mutual_information, write_infoplane_csv
from ibviewer.core.information import plane as plane_module
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import ActivationError
from tests.core.information.data import make_acts


def _map_acts(rng, n: int = 90) -> ActivationSet:
    """A 2x3x3 feature map (flattened), the same map pooled to 2 values, and a dense layer."""
    maps = np.maximum(rng.normal(size=(2, n, 2, 3, 3)), 0).astype(np.float32)
    values = {"conv": maps.reshape(2, n, 18), "pool": maps.mean(axis=(3, 4)), "fc": np.tanh(maps[:, :, 0, 0])}
    layers = (
        LayerInfo("conv", "ReLU", (2, 3, 3), 18),
        LayerInfo("pool", "ReLU", (2, 3, 3), 2),  # gap-pooled: dim 2, shape still that of the map
        LayerInfo("fc", "Tanh", (3,), 3),
    )
    return ActivationSet(layers, (0, 4), values, rng.integers(0, 3, n), np.arange(n), key=f"maps{n}")


def test_the_plane_takes_the_inputs_as_x_and_matches_each_cell(rng, tmp_path):
    acts = make_acts(rng, n_samples=150, coarse=False)
    x = rng.normal(size=(150, 2, 5))  # any (N, ...) inputs
    plane = compute_information_plane(acts.with_inputs(x), "renyi", device="cpu", use_cache=False)
    assert plane.x_variable == "input" and plane.label().endswith("; X = input")
    assert set(plane.cell_outputs) == {"entropy_t", "entropy_x", "kernel_width", "kernel_width_x"}
    assert plane.layer_notes == {"kernel": ("vector 4", "vector 3", "vector 2")}
    for e, epoch in enumerate(plane.epochs):
        for k, name in enumerate(plane.layers):
            cell = mutual_information(acts.layer(name, epoch), acts.labels, "renyi", x=x, device="cpu")
            assert plane.i_xt[e, k] == pytest.approx(cell["i_xt"], abs=1e-12)
            assert plane.i_ty[e, k] == pytest.approx(cell["i_ty"], abs=1e-12)
            assert plane.cell_outputs["kernel_width"][e, k] == pytest.approx(cell["kernel_width"], rel=1e-12)
    assert plane.h_y == pytest.approx(cell["h_y"])  # the Rényi entropy of the labels, alpha = 2
    assert len(set(plane.cell_outputs["entropy_x"].ravel())) == 1  # S(X) computed once for the plane
    bare = compute_information_plane(acts, "renyi", device="cpu", use_cache=False)
    assert bare.x_variable == "sample" and bare.label().endswith("; X = sample, I(X;T) = S(T)")
    np.testing.assert_allclose(bare.i_xt, bare.cell_outputs["entropy_t"], atol=1e-12)
    assert np.isnan(bare.cell_outputs["entropy_x"]).all()
    assert (plane.i_xt < bare.i_xt).all()  # I(X;T) <= min(S(X), S(T))


def test_renyi_csv_says_which_x_and_which_kernel(rng, tmp_path):
    acts = _map_acts(rng)
    plane = compute_information_plane(acts, "renyi", device="cpu", use_cache=False)
    assert plane.layer_notes["kernel"] == ("tensor 2x3x3", "vector 2", "vector 3")
    path = write_infoplane_csv(plane, tmp_path / "infoplane.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "epoch", "layer", "estimator", "params", "i_xt", "i_ty", "i_ty_null", "i_ty_null_sd", "near_ceiling",
        "dpi_violation", "x_variable", "kernel",
        "entropy_t", "entropy_x", "kernel_width", "kernel_width_x",
    ]  # fmt: skip
    assert [(r["layer"], r["kernel"], r["x_variable"]) for r in rows[:3]] == [
        ("conv", "tensor 2x3x3", "sample"), ("pool", "vector 2", "sample"), ("fc", "vector 3", "sample")
    ]  # fmt: skip
    assert rows[0]["entropy_x"] == "nan" and float(rows[4]["kernel_width"]) == plane.cell_outputs["kernel_width"][1, 1]
    channels = compute_information_plane(acts, "renyi", conv_kernel="channels", device="cpu", use_cache=False)
    assert channels.layer_notes["kernel"] == ("channels 2x(3x3)", "vector 2", "vector 3")
    assert channels.params["conv_kernel"] == "channels" and "map_shape" in channels.params
    assert channels.params["map_shape"] is None  # the plane's settings; each layer's shape comes from acts.layers


def test_a_renyi_plane_comes_back_whole_from_the_cache(rng, tmp_path, monkeypatch):
    acts = _map_acts(rng).with_inputs(rng.normal(size=(90, 6)))
    first = compute_information_plane(acts, "renyi", device="cpu", cache_dir=tmp_path)

    def broken(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(plane_module, "_estimate_cell", broken)
    progress = RecordingProgress()
    again = compute_information_plane(acts, "renyi", device="cpu", cache_dir=tmp_path, progress=progress)
    assert progress.updates == [(1.0, "loaded from cache")]
    assert again.x_variable == "input" and again.layer_notes == first.layer_notes
    assert list(again.cell_outputs) == list(first.cell_outputs)
    for name, values in first.cell_outputs.items():
        np.testing.assert_array_equal(again.cell_outputs[name], values)
    other_inputs = acts.with_inputs(rng.normal(size=(90, 6)))  # same activations key, other X
    with pytest.raises(AssertionError, match="computed although cached"):
        compute_information_plane(other_inputs, "renyi", device="cpu", cache_dir=tmp_path)


def test_renyi_cells_run_in_joblib_workers(rng):
    acts = make_acts(rng, n_samples=80, epochs=(0, 1)).with_inputs(rng.normal(size=(80, 3)))
    serial = compute_information_plane(acts, "renyi", device="cpu", use_cache=False)
    parallel = compute_information_plane(acts, "renyi", device="cpu", use_cache=False, n_jobs=2)
    np.testing.assert_array_equal(parallel.i_xt, serial.i_xt)
    np.testing.assert_array_equal(parallel.i_ty, serial.i_ty)


def test_inputs_that_cannot_be_x_are_refused(rng):
    acts = make_acts(rng, n_samples=40).with_inputs(np.full((40, 2), np.inf))
    with pytest.raises(ActivationError, match="inputs cannot serve as X"):
        compute_information_plane(acts, "renyi", device="cpu", use_cache=False)
    # estimators that take X to be the sample ignore the inputs
    plane = compute_information_plane(acts, "binning", use_cache=False)
    assert plane.x_variable == "sample" and "x_variable" not in plane.columns()


def test_with_inputs_takes_the_captured_rows(rng):
    acts = make_acts(rng, n_samples=30)
    dataset_x = np.arange(100 * 3).reshape(100, 3)
    subset = ActivationSet(acts.layers, acts.epochs, acts.values, acts.labels, np.arange(30) * 3, key="sub")
    np.testing.assert_array_equal(subset.with_inputs(dataset_x).inputs, dataset_x[::3][:30])
    whole = ActivationSet(acts.layers, acts.epochs, acts.values, acts.labels, np.arange(30), key="all")
    same = dataset_x[:30]
    assert whole.with_inputs(same).inputs is same  # every sample in order: no copy
