"""The registry and mutual_information: names, results, saturation, descriptions, settings errors."""

from __future__ import annotations

import re
import typing
import warnings

import numpy as np
import pytest

from ibviewer.core import config
from ibviewer.core.information import ESTIMATORS, EstimatorName, describe_estimator, make_estimator, mutual_information
from ibviewer.errors import EstimatorError
from tests.core.information.data import parity


def test_registry_names_are_exactly_configs_names():
    """config.ESTIMATORS holds the titles users see; the registry the classes: one list of names."""
    assert list(ESTIMATORS) == list(config.ESTIMATORS)
    assert typing.get_args(EstimatorName) == tuple(ESTIMATORS)
    assert all(cls.name == name for name, cls in ESTIMATORS.items())


def test_warns_when_every_sample_has_its_own_bin(rng):
    t = rng.uniform(-1, 1, size=(200, 6))
    with pytest.warns(UserWarning, match=r"log2\(N\).*fewer bins"):
        result = mutual_information(t, rng.integers(0, 2, 200))
    assert result["i_xt"] == pytest.approx(result["log2_n"], abs=1e-12)


@pytest.mark.parametrize(
    "estimator, params, fix",
    [
        ("binning", {"n_bins": 30}, r"use fewer bins \(n_bins / --bins\) or a larger bin width \(bin_width / --bin-w"),
        ("adaptive", {"n_bins": 30}, r"use fewer bins \(n_bins / --bins\), or use the renyi estimator, made for wide layers \(--estimator renyi\)\.$"),
        ("kde", {"noise_var": 1e-8}, r"use a larger noise variance \(noise_var / --noise-var\), or use the renyi"),
        ("renyi", {"kernel_width": 1e-4}, r"use a wider kernel \(width_factor / --width-factor, or kernel_width / --kernel-width\)\.$"),
    ],
)
def test_saturated_entry_matches_the_warning_and_the_estimator(rng, estimator, params, fix):
    t, y = rng.uniform(-1, 1, size=(200, 6)), rng.integers(0, 2, 200)
    ceiling = r"This representation sits at the ceiling I\(X;T\) = log2\(N\) = 7\.64 bits"
    with pytest.warns(UserWarning, match=ceiling) as caught:
        result = mutual_information(t, y, estimator, **params)
    assert len(caught) == 1 and re.search(fix, str(caught[0].message))
    assert result["saturated"] is True
    assert make_estimator(estimator, **params).fit(t, y).saturated_ is True
    coarse = {"n_bins": 2} if "n_bins" in params else {"kernel_width": 1.0} if estimator == "renyi" else {"noise_var": 10.0}
    coarse = {**params, **coarse}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when not saturated
        resolved = mutual_information(t, y, estimator, **coarse)
    assert resolved["saturated"] is False and resolved["i_xt"] < resolved["log2_n"] - 1.0
    assert make_estimator(estimator, **coarse).fit(t, y).saturated_ is False


def test_result_keys(bits):
    y = parity(bits[:, :3])
    plain = mutual_information(bits[:, :5], y)
    assert set(plain) == {
        "estimator", "params", "i_xt", "i_ty", "h_y", "log2_n", "saturated", "x_variable", "unit",
        "range_low", "range_high", "out_of_range",  # binning: the range its bins spanned
    }  # fmt: skip
    assert plain["x_variable"] == "sample"
    assert plain["unit"] == "bits" and plain["params"] == {"n_bins": 30, "bin_width": None, "value_range": "auto"}
    assert (plain["range_low"], plain["range_high"], plain["out_of_range"]) == (-1.0, 1.0, 0.0)
    assert plain["saturated"] is False
    kde = mutual_information(bits[:512, :5], y[:512], "kde", noise_var=0.01)
    assert set(kde) == set(plain) - {"range_low", "range_high", "out_of_range"} | {
        "i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"
    }
    assert kde["i_xt"] == kde["i_xt_upper"] and kde["i_ty"] == kde["i_ty_upper"]


def test_public_entry_point_is_lazy_exported():
    import ibviewer

    assert ibviewer.mutual_information is mutual_information


@pytest.mark.parametrize(
    "estimator, params, text",
    [
        ("binning", {}, "binning: 30 bins on [-1, 1] or the layer's range"),
        ("binning", {"value_range": (-1, 1)}, "binning: 30 bins on [-1, 1]"),
        ("binning", {"bin_width": 0.25, "value_range": "layer"}, "binning: bin width 0.25 on each layer's [min, max]"),
        ("binning", {"n_bins": 8, "value_range": (0, 2.5)}, "binning: 8 bins on [0, 2.5]"),
        ("adaptive", {}, "adaptive: 30 equal-mass bins per epoch and layer"),
        ("adaptive", {"n_bins": 4, "strategy": "levels"}, "adaptive: 4 equal-levels bins per epoch and layer"),
        ("kde", {"device": "cpu"}, "kde: noise variance 0.001"),
        ("renyi", {}, "renyi: alpha=2, width 0.35 x median distance, tensor kernels"),
        ("renyi", {"alpha": 1.01, "kernel_width": "silverman", "conv_kernel": "channels"},
         "renyi: alpha=1.01, width 1 x Silverman's rule, channels kernels"),
        ("renyi", {"kernel_width": 0.5, "device": "cpu"}, "renyi: alpha=2, kernel width 0.5, tensor kernels"),
    ],
)
def test_describe_estimator(estimator, params, text):
    assert describe_estimator(estimator, make_estimator(estimator, **params).get_params()) == text


def test_describe_estimator_keeps_an_unknown_name():
    assert describe_estimator("mine", {"a": 1}) == "mine"


@pytest.mark.parametrize(
    "estimator, params, match",
    [
        ("nope", {}, "Unknown estimator 'nope'. Choose one of: binning, adaptive, kde, renyi"),
        ("binning", {"noise_var": 1.0}, "no parameter 'noise_var'"),
        ("binning", {"n_bins": 1}, "n_bins must be an integer >= 2"),
        ("binning", {"n_bins": 2.5}, "n_bins must be an integer"),
        ("binning", {"n_bins": 10, "bin_width": 0.1}, "either n_bins or bin_width"),
        ("binning", {"bin_width": -1.0}, "bin_width must be a positive"),
        ("binning", {"value_range": (1.0, -1.0)}, "low < high"),
        ("binning", {"value_range": "every"}, "'auto' or 'layer'"),
        ("adaptive", {"strategy": "median"}, "'mass' or 'levels'"),
        ("adaptive", {"n_bins": 0}, "n_bins must be an integer >= 1"),
        ("kde", {"noise_var": 0.0}, "noise_var must be a positive"),
        ("kde", {"chunk_size": 0}, "chunk_size must be an integer >= 1"),
    ],
)
def test_bad_settings_raise_estimator_error(estimator, params, match):
    with pytest.raises(EstimatorError, match=match):
        mutual_information(np.zeros((4, 1)), np.array([0, 1, 0, 1]), estimator, **params)
