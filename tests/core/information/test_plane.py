"""The information plane: cell-by-cell agreement, per-layer ranges, CSV, cache, cancellation, joblib."""

from __future__ import annotations

import csv
import math

import joblib
import numpy as np
import pytest

from ibviewer.core.information import compute_information_plane, mutual_information, write_infoplane_csv
from ibviewer.core.information import plane as plane_module
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet
from ibviewer.errors import ActivationError, Cancelled, EstimatorError
from tests.core.information.data import make_acts


def test_plane_matches_cell_by_cell_estimates(rng):
    acts = make_acts(rng)
    progress = RecordingProgress()
    plane = compute_information_plane(acts, "binning", n_bins=8, progress=progress)
    assert plane.i_xt.shape == plane.i_ty.shape == (4, 3)
    assert plane.i_xt.dtype == np.float64
    assert plane.layers == ("h0", "h1", "h2") and plane.epochs == (0, 1, 5, 20)
    for e, epoch in enumerate(plane.epochs):
        for k, name in enumerate(plane.layers):
            cell = mutual_information(acts.layer(name, epoch), acts.labels, "binning", n_bins=8)
            assert plane.i_xt[e, k] == pytest.approx(cell["i_xt"], abs=1e-12)
            assert plane.i_ty[e, k] == pytest.approx(cell["i_ty"], abs=1e-12)
    assert plane.h_y == pytest.approx(cell["h_y"]) and plane.log2_n == pytest.approx(math.log2(300))
    assert plane.i_xt_lower is None and plane.n_samples == 300
    fractions = [f for f, _ in progress.updates]
    assert len(fractions) == 1 + 12 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "epoch 20, layer h2 (12/12)" in progress.updates[-1][1]
    assert plane.label() == "binning: 8 bins on [-1, 1] or the layer's range"


def test_plane_per_layer_range_spans_all_epochs(rng):
    acts = make_acts(rng, relu=True)
    plane = compute_information_plane(acts, "binning", value_range="layer", n_bins=10, layers=["h1"])
    values = acts.values["h1"]
    low, high = float(values.min()), float(values.max())
    for e, epoch in enumerate(acts.epochs):
        cell = mutual_information(acts.layer("h1", epoch), acts.labels, "binning", n_bins=10, value_range=(low, high))
        assert plane.i_xt[e, 0] == pytest.approx(cell["i_xt"], abs=1e-12)
    assert plane.label() == "binning: 10 bins on each layer's [min, max]"


def test_plane_kde_has_bounds_and_csv_columns(rng, tmp_path):
    acts = make_acts(rng, n_samples=120, epochs=(0, 3))
    plane = compute_information_plane(acts, "kde", noise_var=0.05, device="cpu")
    assert plane.has_bounds and plane.i_xt_lower.shape == (2, 3)
    assert (plane.i_xt_lower <= plane.i_xt + 1e-12).all()
    assert "device" not in plane.params and plane.params == {"noise_var": 0.05}
    path = write_infoplane_csv(plane, tmp_path / "infoplane.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "epoch", "layer", "estimator", "params", "i_xt", "i_ty", "i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper",
        "i_ty_null", "i_ty_null_sd", "near_ceiling", "dpi_violation",
    ]
    assert len(rows) == 6 and rows[0]["estimator"] == "kde" and rows[0]["params"] == '{"noise_var": 0.05}'
    assert float(rows[4]["i_xt_upper"]) == plane.i_xt[1, 1] and float(rows[4]["i_ty_lower"]) == plane.i_ty_lower[1, 1]


def test_plane_csv_for_binning(rng, tmp_path):
    plane = compute_information_plane(make_acts(rng), "adaptive", n_bins=5)
    path = write_infoplane_csv(plane, tmp_path / "sub" / "plane.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "epoch", "layer", "estimator", "params", "i_xt", "i_ty", "i_ty_null", "i_ty_null_sd", "near_ceiling", "dpi_violation"
    ]
    assert [(r["epoch"], r["layer"]) for r in rows[:4]] == [("0", "h0"), ("0", "h1"), ("0", "h2"), ("1", "h0")]
    assert float(rows[5]["i_ty"]) == plane.i_ty[1, 2]


def test_plane_cache_hit_skips_computation(rng, tmp_path, monkeypatch):
    acts = make_acts(rng)
    first = compute_information_plane(acts, "binning", cache_dir=tmp_path)
    assert len(list((tmp_path / "infoplane").glob("*.npz"))) == 1

    def broken(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(plane_module, "_estimate_cell", broken)
    progress = RecordingProgress()
    again = compute_information_plane(acts, "binning", cache_dir=tmp_path, progress=progress)
    np.testing.assert_array_equal(again.i_xt, first.i_xt)
    np.testing.assert_array_equal(again.i_ty, first.i_ty)
    assert again.params == first.params and again.layers == first.layers and again.h_y == first.h_y
    assert progress.updates == [(1.0, "loaded from cache")]
    with pytest.raises(AssertionError, match="computed although cached"):
        compute_information_plane(acts, "binning", cache_dir=tmp_path, use_cache=False)
    with pytest.raises(AssertionError, match="computed although cached"):  # other params: other key
        compute_information_plane(acts, "binning", n_bins=12, cache_dir=tmp_path)


def test_plane_cache_keeps_warnings(rng, tmp_path):
    acts = make_acts(rng, n_samples=50, coarse=False)  # 4 continuous units, 50 samples: each its own bin
    with pytest.warns(UserWarning) as computed:
        plane = compute_information_plane(acts, "binning", cache_dir=tmp_path)
    assert any("Layer 'h0' sits at the ceiling" in m and "4 of 4 epochs" in m for m in plane.warnings)
    assert [str(w.message) for w in computed] == list(plane.warnings)
    with pytest.warns(UserWarning) as replayed:
        cached = compute_information_plane(acts, "binning", cache_dir=tmp_path)
    assert cached.warnings == plane.warnings
    assert [str(w.message) for w in replayed] == list(plane.warnings)
    # the flags per cell, for the front ends' offer of another estimator
    assert plane.saturated.shape == (4, 3) and plane.saturated[:, 0].all()
    np.testing.assert_array_equal(cached.saturated, plane.saturated)
    assert any("or use the renyi estimator" in m for m in plane.warnings)


def test_plane_cancellation_stops_between_cells(rng, tmp_path):
    acts = make_acts(rng)
    progress = RecordingProgress(cancel_after=4)
    with pytest.raises(Cancelled):
        compute_information_plane(acts, "binning", progress=progress, cache_dir=tmp_path)
    assert len(progress.updates) == 4  # the start and three cells of twelve
    assert not list((tmp_path / "infoplane").glob("*.npz"))  # nothing half-done is cached


def test_plane_runs_through_the_configured_joblib_backend(rng):
    acts = make_acts(rng)
    serial = compute_information_plane(acts, "binning", use_cache=False)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        threaded = compute_information_plane(acts, "binning", use_cache=False, n_jobs=None)
    np.testing.assert_array_equal(threaded.i_xt, serial.i_xt)
    np.testing.assert_array_equal(threaded.i_ty, serial.i_ty)


def test_plane_bad_requests(rng):
    acts = make_acts(rng)
    with pytest.raises(EstimatorError, match="Unknown layer.*'h9'.*h0, h1, h2"):
        compute_information_plane(acts, layers=["h9"])
    with pytest.raises(EstimatorError, match="Unknown estimator"):
        compute_information_plane(acts, "mine")
    with pytest.raises(EstimatorError, match="no parameter 'bins'"):
        compute_information_plane(acts, bins=3)
    values = dict(acts.values)
    values["h1"] = values["h1"].copy()
    values["h1"][2, 5, 0] = np.nan
    broken = ActivationSet(acts.layers, acts.epochs, values, acts.labels, acts.sample_idx, key="nan")
    with pytest.raises(ActivationError, match="'h1' has NaN"):
        compute_information_plane(broken, use_cache=False)
