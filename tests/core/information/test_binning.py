"""The binning estimators: known answers on 12-bit inputs, agreement with a dict-counting reference, edges."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from ibviewer.core.information import AdaptiveBinningMIEstimator, BinningMIEstimator, mutual_information
from tests.core.information.data import binomial_entropy, parity

PLUGIN = ("binning", "adaptive")


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


def test_per_layer_range_spans_every_epoch_and_widens_a_constant_layer(rng):
    params = BinningMIEstimator(value_range="layer").get_params()
    values = rng.normal(size=(3, 50, 2))
    values[2, 7, 1] = 9.5  # the maximum, in the last epoch only
    assert BinningMIEstimator.layer_params(params, values)["value_range"] == [float(values.min()), 9.5]
    assert BinningMIEstimator.layer_params(params, np.full((2, 5, 1), 0.25))["value_range"] == [0.25, 1.25]
    assert params["value_range"] == "layer"  # not changed in place
    fixed = BinningMIEstimator(value_range=(-1, 1)).get_params()
    assert BinningMIEstimator.layer_params(fixed, values) is fixed


def test_the_default_range_keeps_minus_one_to_one_inside_it_and_takes_the_layer_range_outside(rng):
    # a ReLU-like layer whose values all exceed 1: fixed [-1, 1] bins put every sample in the top bin
    y = rng.integers(0, 4, 1000)
    t = 1.5 + y[:, None] + rng.uniform(0, 0.2, (1000, 2))
    fixed = BinningMIEstimator(value_range=(-1, 1)).fit(t, y)
    assert fixed.i_xt_ == pytest.approx(0.0, abs=1e-12) and fixed.out_of_range_ == 1.0
    default = BinningMIEstimator().fit(t, y)
    assert default.get_params()["value_range"] == "auto"
    assert (default.range_low_, default.range_high_) == (float(t.min()), float(t.max()))
    assert default.out_of_range_ == 0.0
    assert default.i_ty_ == pytest.approx(default.h_y_, abs=1e-9)  # the four groups lie in separate bins
    assert default.i_xt_ > 2.0
    # a tanh-like layer inside [-1, 1] keeps the published edges
    inside = BinningMIEstimator().fit(np.tanh(rng.normal(size=(500, 3))), rng.integers(0, 2, 500))
    assert (inside.range_low_, inside.range_high_) == (-1.0, 1.0)
    np.testing.assert_array_equal(inside.edges_, np.linspace(-1, 1, 30).astype(np.float32))
    params = BinningMIEstimator().get_params()
    assert BinningMIEstimator.layer_params(params, np.full((2, 3, 1), 0.5))["value_range"] == [-1.0, 1.0]
    assert BinningMIEstimator.layer_params(params, np.full((2, 3, 1), 2.0))["value_range"] == [2.0, 3.0]


def test_adaptive_gives_every_distinct_value_its_own_bin_when_they_are_no_more_than_the_bins(bits):
    # a 13-valued popcount layer over all 4096 12-bit inputs: H = entropy of Binomial(12, 1/2)
    popcount = bits.sum(axis=1, keepdims=True).astype(np.float64)
    expected = binomial_entropy(12)
    assert expected == pytest.approx(2.8385, abs=1e-4)
    fitted = AdaptiveBinningMIEstimator(n_bins=30).fit(popcount, parity(bits))
    assert fitted.i_xt_ == pytest.approx(expected, abs=1e-12)
    assert fitted.n_distinct_ == 13
    # exactly as many distinct values as bins: still one each
    assert AdaptiveBinningMIEstimator(n_bins=13).fit(popcount, parity(bits)).i_xt_ == pytest.approx(expected, abs=1e-12)
