"""Mutual-information estimators and the information plane: known answers, invariances, errors."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

import joblib
import numpy as np
import pytest

from ibviewer.core import information
from ibviewer.core.information import (
    ESTIMATORS,
    AdaptiveBinningMIEstimator,
    BinningMIEstimator,
    KDEMIEstimator,
    compute_information_plane,
    mutual_information,
    write_infoplane_csv,
)
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import ActivationError, Cancelled, EstimatorError, IBViewerError

PLUGIN = ("binning", "adaptive")


@pytest.fixture(scope="module")
def bits() -> np.ndarray:
    """All 4096 12-bit inputs as 0/1 float32, bit 0 first."""
    codes = np.arange(4096)
    return ((codes[:, None] >> np.arange(12)) & 1).astype(np.float32)


def parity(columns: np.ndarray) -> np.ndarray:
    return (columns.sum(axis=1) % 2).astype(np.int64)


def binomial_entropy(n: int) -> float:
    p = np.array([math.comb(n, k) for k in range(n + 1)], dtype=np.float64) / 2**n
    return float(-(p * np.log2(p)).sum())


# --- known answers --------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", PLUGIN)
def test_first_five_bits_with_parity_of_bits_0_to_2(bits, estimator):
    result = mutual_information(bits[:, :5], parity(bits[:, :3]), estimator)
    assert result["i_xt"] == pytest.approx(5.0, abs=1e-9)
    assert result["i_ty"] == pytest.approx(1.0, abs=1e-9)
    assert result["h_y"] == pytest.approx(1.0, abs=1e-12)
    assert result["log2_n"] == pytest.approx(12.0, abs=1e-12)


@pytest.mark.parametrize("estimator", PLUGIN)
def test_bits_0_to_5_carry_nothing_about_parity_of_bits_6_to_11(bits, estimator):
    result = mutual_information(bits[:, :6], parity(bits[:, 6:]), estimator)
    assert result["i_ty"] == pytest.approx(0.0, abs=1e-9)
    assert result["i_xt"] == pytest.approx(6.0, abs=1e-9)


@pytest.mark.parametrize(
    "t_scale, params",
    [
        (1.0, {"value_range": "layer"}),  # edges on [0, 12]: spacing 0.41 < 1
        (1.0 / 12.0, {}),  # default edges on [-1, 1], values k/12 are 0.083 apart > 2/29
        (1.0, {"bin_width": 1.0, "value_range": (0.0, 12.0)}),  # one integer per bin
    ],
)
def test_number_of_ones_gives_the_binomial_entropy(bits, t_scale, params):
    ones = bits.sum(axis=1, keepdims=True) * t_scale
    result = mutual_information(ones, parity(bits[:, :3]), "binning", **params)
    assert result["i_xt"] == pytest.approx(binomial_entropy(12), abs=1e-9)


def test_zero_and_one_land_in_different_default_bins():
    estimator = BinningMIEstimator().fit(np.array([[0.0], [1.0], [0.0], [1.0]]), [0, 1, 0, 1])
    zero_bin, one_bin = estimator.transform(np.array([[0.0], [1.0]]))[:, 0]
    assert zero_bin != one_bin
    assert estimator.n_distinct_ == 2


def test_default_edges_match_the_original_code():
    estimator = BinningMIEstimator().fit(np.zeros((2, 1)), [0, 1])
    assert estimator.edges_.dtype == np.float32
    np.testing.assert_array_equal(estimator.edges_, np.linspace(-1, 1, 30).astype(np.float32))


def test_edges_follow_np_digitize_exactly(rng):
    estimator = BinningMIEstimator().fit(np.zeros((2, 1)), [0, 1])
    edges = estimator.edges_
    # values on, just below and just above every edge, outside the range, and at random
    values = np.concatenate(
        [
            edges,
            np.nextafter(edges, np.float32(-np.inf)),
            np.nextafter(edges, np.float32(np.inf)),
            np.array([-5.0, -1.0000001, 1.0, 1.5, 7.0], dtype=np.float32),
            rng.uniform(-1.2, 1.2, 500).astype(np.float32),
        ]
    )
    bins = estimator.transform(values[:, None])[:, 0]
    np.testing.assert_array_equal(bins, np.digitize(values, edges))
    lookup = dict(zip(values.tolist(), bins.tolist()))
    assert lookup[-5.0] == 0  # underflow has its own bin
    assert lookup[float(edges[0])] == 1  # a value on an edge opens the bin that starts there
    assert lookup[1.0] == 30 and lookup[7.0] == 30  # at or above the last edge


# --- agreement with a straightforward reference --------------------------------------------


def reference_binning_mi(t: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
    """Rows as tuples of np.digitize indices, counted in dicts: H(T) and H(T) - sum p(y) H(T|y)."""
    symbols = [tuple(row) for row in np.digitize(t, edges).tolist()]

    def entropy(items) -> float:
        counts = Counter(items)
        total = sum(counts.values())
        return -sum(c / total * math.log2(c / total) for c in counts.values())

    by_label = defaultdict(list)
    for symbol, label in zip(symbols, y.tolist()):
        by_label[label].append(symbol)
    h_t = entropy(symbols)
    h_t_given_y = sum(len(group) / len(symbols) * entropy(group) for group in by_label.values())
    return h_t, h_t - h_t_given_y


@pytest.mark.parametrize(
    "width, scale, params",
    [
        (3, 1.0, {}),
        (6, 0.5, {"n_bins": 12}),
        (4, 3.0, {"value_range": "layer"}),
        (5, 1.0, {"bin_width": 0.25, "value_range": (-1.0, 1.0)}),
        (40, 0.3, {}),  # 31**40 overflows int64: codes are densified between column groups
        (120, 0.05, {"n_bins": 8}),
    ],
)
def test_binning_agrees_with_reference(rng, width, scale, params):
    t = np.tanh(rng.normal(0.0, scale, (600, width))).astype(np.float32)
    t[:200] = t[200:400]  # repeated rows, so counts are not all 1
    y = rng.integers(0, 3, 600)
    fitted = BinningMIEstimator(**params).fit(t, y)
    ref_xt, ref_ty = reference_binning_mi(t, y, fitted.edges_)
    assert fitted.i_xt_ == pytest.approx(ref_xt, abs=1e-9)
    assert fitted.i_ty_ == pytest.approx(ref_ty, abs=1e-9)


def test_adaptive_agrees_with_reference(rng):
    t = rng.normal(size=(500, 3))
    y = rng.integers(0, 2, 500)
    fitted = AdaptiveBinningMIEstimator(n_bins=6).fit(t, y)
    bins = np.searchsorted(fitted.edges_, t, side="right")
    # searchsorted on inner edges == digitize on the same edges
    np.testing.assert_array_equal(bins, np.digitize(t, fitted.edges_))
    ref_xt, ref_ty = reference_binning_mi(t, y, fitted.edges_)
    assert fitted.i_xt_ == pytest.approx(ref_xt, abs=1e-9)
    assert fitted.i_ty_ == pytest.approx(ref_ty, abs=1e-9)


def test_adaptive_bins_hold_equal_mass(rng):
    t = rng.uniform(size=(3000, 1))
    fitted = AdaptiveBinningMIEstimator(n_bins=30).fit(t, rng.integers(0, 2, 3000))
    counts = np.bincount(fitted.transform(t)[:, 0])
    assert counts.size == 30
    assert counts.min() >= 99 and counts.max() <= 101
    assert fitted.i_xt_ == pytest.approx(math.log2(30), abs=1e-3)


def test_adaptive_levels_strategy_splits_a_mass_of_ties(rng):
    # ReLU-like: 70% exact zeros; equal-mass edges collapse onto 0, equal-levels ones do not
    t = np.maximum(rng.normal(size=(2000, 1)) - 0.5, 0.0)
    y = rng.integers(0, 2, 2000)
    by_mass = AdaptiveBinningMIEstimator(n_bins=10, strategy="mass").fit(t, y)
    by_levels = AdaptiveBinningMIEstimator(n_bins=10, strategy="levels").fit(t, y)
    assert by_mass.n_distinct_ < by_levels.n_distinct_ == 10


# --- invariances ----------------------------------------------------------------------------


def levels_and_labels(rng, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """400 samples of units taking 3 values (many repeated rows) and 3 classes that depend on t."""
    t = rng.choice(np.array([-0.8, 0.1, 0.7]), size=(400, n_units))
    y = (t[:, 0] > 0).astype(np.int64) + (t[:, 1] > 0.5)
    return t, y


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2})])
def test_permuting_units_changes_nothing(rng, estimator, params):
    t, y = levels_and_labels(rng, n_units=5)
    base = mutual_information(t, y, estimator, **params)
    assert 0.1 < base["i_ty"] and base["i_xt"] < base["log2_n"] - 0.5
    permuted = mutual_information(t[:, [3, 0, 4, 2, 1]], y, estimator, **params)
    for key in ("i_xt", "i_ty"):
        assert permuted[key] == pytest.approx(base[key], abs=1e-10)


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2})])
def test_relabelling_classes_changes_nothing(rng, estimator, params):
    t, y = levels_and_labels(rng, n_units=4)
    names = np.array(["cat", "ant", "bee"])[y]  # other values, other sort order
    base = mutual_information(t, y, estimator, **params)
    renamed = mutual_information(t, names, estimator, **params)
    for key in ("i_xt", "i_ty", "h_y"):
        assert renamed[key] == pytest.approx(base[key], abs=1e-10)


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2})])
def test_shuffling_labels_drops_i_ty_towards_zero(bits, rng, estimator, params):
    t, y = bits[:, :5], parity(bits[:, :3])
    informed = mutual_information(t, y, estimator, **params)["i_ty"]
    shuffled = mutual_information(t, rng.permutation(y), estimator, **params)["i_ty"]
    assert informed == pytest.approx(1.0, abs=1e-3)
    assert shuffled < 0.02


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_constant_layer_gives_zero_and_zero(rng, estimator):
    params = {"value_range": "layer"} if estimator == "binning" else {}
    result = mutual_information(np.full((300, 4), 0.37), rng.integers(0, 2, 300), estimator, **params)
    assert result["i_xt"] == pytest.approx(0.0, abs=1e-12)
    assert result["i_ty"] == pytest.approx(0.0, abs=1e-12)


# --- kde ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4, 8])
def test_kde_separated_clusters_give_log2_k(rng, k):
    centres = rng.normal(size=(k, 3)) * 10.0
    labels = np.arange(240) % k
    t = centres[labels] + rng.normal(scale=1e-4, size=(240, 3))
    result = mutual_information(t, labels, "kde", noise_var=1e-3)
    assert result["i_xt_upper"] == pytest.approx(math.log2(k), abs=1e-4)
    assert result["i_xt_lower"] == pytest.approx(math.log2(k), abs=1e-4)
    assert result["i_ty_upper"] == pytest.approx(math.log2(k), abs=1e-4)
    assert result["i_xt_lower"] <= result["i_xt_upper"]


def reference_kde(t: np.ndarray, y: np.ndarray, noise_var: float) -> tuple[float, float, float, float]:
    """Saxe et al.'s formulas, written out: (xt_upper, ty_upper, xt_lower, ty_lower) in bits."""
    d2 = ((t[:, None, :] - t[None, :, :]) ** 2).sum(axis=-1)

    def entropy_bound(dist: np.ndarray, var: float) -> float:  # without the constants that cancel
        return float(-np.mean(np.log(np.mean(np.exp(-dist / (2 * var)), axis=1))))

    out = []
    for var in (noise_var, 4 * noise_var):
        h = entropy_bound(d2, var)
        h_cond = sum(np.mean(y == c) * entropy_bound(d2[np.ix_(y == c, y == c)], var) for c in np.unique(y))
        out += [h / math.log(2), (h - h_cond) / math.log(2)]
    return out[0], out[1], out[2], out[3]


def test_kde_agrees_with_reference_and_chunking_does_not_matter(rng):
    t = np.tanh(rng.normal(size=(300, 4)))
    y = rng.integers(0, 3, 300)
    xt_up, ty_up, xt_lo, ty_lo = reference_kde(t, y, 0.05)
    for chunk_size in (None, 7, 300):
        fitted = KDEMIEstimator(noise_var=0.05, chunk_size=chunk_size, device="cpu").fit(t, y)
        assert fitted.i_xt_ == pytest.approx(xt_up, abs=1e-10)
        assert fitted.i_ty_ == pytest.approx(ty_up, abs=1e-10)
        assert fitted.i_xt_lower_ == pytest.approx(xt_lo, abs=1e-10)
        assert fitted.i_ty_lower_ == pytest.approx(ty_lo, abs=1e-10)
    assert fitted.i_xt_lower_ < fitted.i_xt_


def test_kde_device_cuda(rng):
    import torch

    t, y = np.tanh(rng.normal(size=(200, 3))), rng.integers(0, 2, 200)
    if not torch.cuda.is_available():
        with pytest.raises(EstimatorError, match="no CUDA GPU is available"):
            mutual_information(t, y, "kde", noise_var=0.1, device="cuda")
        return
    on_gpu = mutual_information(t, y, "kde", noise_var=0.1, device="cuda")
    on_cpu = mutual_information(t, y, "kde", noise_var=0.1, device="cpu")
    for key in ("i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"):
        assert on_gpu[key] == pytest.approx(on_cpu[key], abs=1e-9)


def test_kde_more_noise_means_less_information(rng):
    t = np.tanh(rng.normal(size=(300, 4)))
    y = rng.integers(0, 2, 300)
    values = [mutual_information(t, y, "kde", noise_var=v)["i_xt"] for v in (1e-2, 1e-1, 1.0, 10.0)]
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1] + 1.0


# --- warnings, results, errors --------------------------------------------------------------


def test_warns_when_every_sample_has_its_own_bin(rng):
    t = rng.uniform(-1, 1, size=(200, 6))
    with pytest.warns(UserWarning, match=r"log2\(N\).*fewer bins"):
        result = mutual_information(t, rng.integers(0, 2, 200))
    assert result["i_xt"] == pytest.approx(result["log2_n"], abs=1e-12)


def test_kde_warns_when_noise_is_too_small(rng):
    with pytest.warns(UserWarning, match="larger noise variance"):
        mutual_information(rng.normal(size=(100, 3)), rng.integers(0, 2, 100), "kde", noise_var=1e-8)


def test_result_keys(bits):
    y = parity(bits[:, :3])
    plain = mutual_information(bits[:, :5], y)
    assert set(plain) == {"estimator", "params", "i_xt", "i_ty", "h_y", "log2_n", "unit"}
    assert plain["unit"] == "bits" and plain["params"] == {"n_bins": 30, "bin_width": None, "value_range": [-1.0, 1.0]}
    kde = mutual_information(bits[:512, :5], y[:512], "kde", noise_var=0.01)
    assert set(kde) == set(plain) | {"i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"}
    assert kde["i_xt"] == kde["i_xt_upper"] and kde["i_ty"] == kde["i_ty_upper"]


def test_public_entry_point_is_lazy_exported():
    import ibviewer

    assert ibviewer.mutual_information is mutual_information


@pytest.mark.parametrize(
    "t, y, match",
    [
        (np.zeros((10, 2)), np.zeros(9), "10 samples but y has 9"),
        (np.array([[0.0], [np.nan], [1.0]]), np.zeros(3), "NaN or infinite"),
        (np.array([[0.0], [np.inf], [1.0]]), np.zeros(3), "NaN or infinite"),
        (np.zeros((1, 3)), np.zeros(1), "at least 2 samples"),
        (np.zeros((4, 2, 2)), np.zeros(4), "2-D"),
        (np.zeros(4), np.zeros(4), "2-D"),
        (np.zeros((4, 0)), np.zeros(4), "no units"),
        (np.zeros((4, 2)), np.zeros((4, 3)), "1-D array of class labels"),
        (np.array([["a"], ["b"]]), np.zeros(2), "must hold numbers"),
        (np.zeros((3, 1)), np.array([0.0, np.nan, 1.0]), "NaN or infinite labels"),
    ],
)
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_bad_input_raises_estimator_error(t, y, match, estimator):
    with pytest.raises(EstimatorError, match=match):
        mutual_information(t, y, estimator)


@pytest.mark.parametrize(
    "estimator, params, match",
    [
        ("nope", {}, "Unknown estimator 'nope'. Choose one of: binning, adaptive, kde"),
        ("binning", {"noise_var": 1.0}, "no parameter 'noise_var'"),
        ("binning", {"n_bins": 1}, "n_bins must be an integer >= 2"),
        ("binning", {"n_bins": 2.5}, "n_bins must be an integer"),
        ("binning", {"n_bins": 10, "bin_width": 0.1}, "either n_bins or bin_width"),
        ("binning", {"bin_width": -1.0}, "bin_width must be a positive"),
        ("binning", {"value_range": (1.0, -1.0)}, "low < high"),
        ("binning", {"value_range": "auto"}, "or 'layer'"),
        ("adaptive", {"strategy": "median"}, "'mass' or 'levels'"),
        ("adaptive", {"n_bins": 0}, "n_bins must be an integer >= 1"),
        ("kde", {"noise_var": 0.0}, "noise_var must be a positive"),
        ("kde", {"chunk_size": 0}, "chunk_size must be an integer >= 1"),
    ],
)
def test_bad_settings_raise_estimator_error(estimator, params, match):
    with pytest.raises(EstimatorError, match=match):
        mutual_information(np.zeros((4, 1)), np.array([0, 1, 0, 1]), estimator, **params)


def test_estimator_error_is_user_facing():
    assert issubclass(EstimatorError, IBViewerError)


def test_fit_returns_self_and_init_only_stores(rng):
    estimator = BinningMIEstimator(n_bins=-3)  # no validation in __init__
    assert estimator.n_bins == -3
    with pytest.raises(EstimatorError):
        estimator.fit(np.zeros((3, 1)), [0, 1, 0])
    fitted = BinningMIEstimator()
    assert fitted.fit(rng.normal(size=(20, 2)), rng.integers(0, 2, 20)) is fitted


# --- the information plane ------------------------------------------------------------------


def make_acts(
    rng, n_samples=300, epochs=(0, 1, 5, 20), widths=(4, 3, 2), relu=False, coarse=True
) -> ActivationSet:
    """Random activations; ``coarse`` rounds them to steps of 0.5 so rows repeat (no saturation)."""
    values = {}
    for k, width in enumerate(widths):
        raw = rng.normal(size=(len(epochs), n_samples, width)) * (1 + np.arange(len(epochs)))[:, None, None] * 0.5
        layer = np.maximum(raw, 0) if relu else np.tanh(raw)
        values[f"h{k}"] = (np.round(layer * 2) / 2 if coarse else layer).astype(np.float32)
    layers = tuple(LayerInfo(f"h{k}", "Tanh", (w,), w) for k, w in enumerate(widths))
    labels = rng.integers(0, 3, n_samples)
    return ActivationSet(layers, tuple(epochs), values, labels, np.arange(n_samples), key=f"test-{relu}-{n_samples}")


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
    assert plane.label() == "binning: 8 bins on [-1, 1]"


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
        "epoch", "layer", "estimator", "params", "i_xt", "i_ty", "i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"
    ]
    assert len(rows) == 6 and rows[0]["estimator"] == "kde" and rows[0]["params"] == '{"noise_var": 0.05}'
    assert float(rows[4]["i_xt_upper"]) == plane.i_xt[1, 1] and float(rows[4]["i_ty_lower"]) == plane.i_ty_lower[1, 1]


def test_plane_csv_for_binning(rng, tmp_path):
    plane = compute_information_plane(make_acts(rng), "adaptive", n_bins=5)
    path = write_infoplane_csv(plane, tmp_path / "sub" / "plane.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "layer", "estimator", "params", "i_xt", "i_ty"]
    assert [(r["epoch"], r["layer"]) for r in rows[:4]] == [("0", "h0"), ("0", "h1"), ("0", "h2"), ("1", "h0")]
    assert float(rows[5]["i_ty"]) == plane.i_ty[1, 2]


def test_plane_cache_hit_skips_computation(rng, tmp_path, monkeypatch):
    acts = make_acts(rng)
    first = compute_information_plane(acts, "binning", cache_dir=tmp_path)
    assert len(list((tmp_path / "infoplane").glob("*.npz"))) == 1

    def broken(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(information, "_estimate_cell", broken)
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


# --- figures --------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("kde", {"noise_var": 0.05})])
def test_figure_files_are_valid(rng, tmp_path, estimator, params):
    from ibviewer.core.infoplane_figure import plot_information_plane

    acts = make_acts(rng, n_samples=120)
    plane = compute_information_plane(acts, estimator, use_cache=False, **params)
    paths = [tmp_path / "fig" / "plane.png", tmp_path / "plane.svg", tmp_path / "plane.pdf"]
    written = plot_information_plane(plane, paths, highlight_epoch=5)
    assert written == paths
    png = paths[0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(paths[0])
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600 and pixels.std() > 0.05  # drawn, not blank
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg")
    assert plane.label() in paths[1].read_text()  # the title, in the SVG metadata
    pdf = paths[2].read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_figure_rejects_bad_requests(rng, tmp_path):
    from ibviewer.core.infoplane_figure import plot_information_plane

    plane = compute_information_plane(make_acts(rng), "binning", n_bins=4, use_cache=False)
    with pytest.raises(IBViewerError, match="use one of .png, .svg, .pdf"):
        plot_information_plane(plane, [tmp_path / "plane.bmp"])
    with pytest.raises(IBViewerError, match="Epoch 7 is not in the information plane"):
        plot_information_plane(plane, [tmp_path / "plane.png"], highlight_epoch=7)
    assert not (tmp_path / "plane.png").exists()

