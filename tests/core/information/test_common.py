"""What every estimator in the registry must do: invariances, input checks, the scikit-learn shape."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from ibviewer.core.information import ESTIMATORS, BinningMIEstimator, MIEstimator, make_estimator, mutual_information
from ibviewer.errors import EstimatorError, IBViewerError
from tests.core.information.data import levels_and_labels, parity


# --- invariances ----------------------------------------------------------------------------


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2}), ("renyi", {"kernel_width": 0.1})])
def test_permuting_units_changes_nothing(rng, estimator, params):
    t, y = levels_and_labels(rng, n_units=5)
    base = mutual_information(t, y, estimator, **params)
    assert 0.1 < base["i_ty"] and base["i_xt"] < base["log2_n"] - 0.5
    permuted = mutual_information(t[:, [3, 0, 4, 2, 1]], y, estimator, **params)
    for key in ("i_xt", "i_ty"):
        assert permuted[key] == pytest.approx(base[key], abs=1e-10)


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2}), ("renyi", {"kernel_width": 0.1})])
def test_relabelling_classes_changes_nothing(rng, estimator, params):
    t, y = levels_and_labels(rng, n_units=4)
    names = np.array(["cat", "ant", "bee"])[y]  # other values, other sort order
    base = mutual_information(t, y, estimator, **params)
    renamed = mutual_information(t, names, estimator, **params)
    for key in ("i_xt", "i_ty", "h_y"):
        assert renamed[key] == pytest.approx(base[key], abs=1e-10)


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("adaptive", {}), ("kde", {"noise_var": 1e-2}), ("renyi", {"kernel_width": 0.1})])
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


# --- input checks and the estimator shape ---------------------------------------------------


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


def test_estimator_error_is_user_facing():
    assert issubclass(EstimatorError, IBViewerError)


def test_fit_returns_self_and_init_only_stores(rng):
    estimator = BinningMIEstimator(n_bins=-3)  # no validation in __init__
    assert estimator.n_bins == -3
    with pytest.raises(EstimatorError):
        estimator.fit(np.zeros((3, 1)), [0, 1, 0])
    fitted = BinningMIEstimator()
    assert fitted.fit(rng.normal(size=(20, 2)), rng.integers(0, 2, 20)) is fitted


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_every_estimator_fits_to_the_contract(bits, estimator):
    """What mutual_information, the plane and the GUI's sweeps read from any registered estimator."""
    cls = ESTIMATORS[estimator]
    assert issubclass(cls, MIEstimator) and cls.name == estimator
    t, y = bits[:512, :5], parity(bits[:512, :3])  # 32 distinct rows, 16 of each
    fitted = make_estimator(estimator)
    assert not hasattr(fitted, "i_xt_")  # __init__ only stores
    assert fitted.fit(t, y) is fitted
    assert isinstance(fitted.saturated_, bool) and not fitted.saturated_
    assert fitted.log2_n_ == pytest.approx(9.0) and fitted.h_y_ == pytest.approx(1.0)
    assert 0.0 <= fitted.i_ty_ <= fitted.h_y_ and 0.0 <= fitted.i_xt_ <= fitted.log2_n_
    assert hasattr(fitted, "i_xt_lower_") == hasattr(fitted, "i_ty_lower_") == cls.has_bounds
    params = fitted.get_params()
    assert set(params) == set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert cls.runtime_params <= set(params)
    assert cls.describe(params).startswith(f"{estimator}: ")
    if estimator == "binning":  # the default range depends on the layer's values: [-1, 1] for these bits
        assert cls.layer_params(params, t[None]) == {**params, "value_range": [-1.0, 1.0]}
    else:  # default settings need nothing per layer
        assert cls.layer_params(params, t[None]) == params
