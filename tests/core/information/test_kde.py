"""The kde estimator: separated clusters, Saxe et al.'s formulas written out, chunking, devices, noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibviewer.core.information import KDEMIEstimator, mutual_information
from ibviewer.errors import EstimatorError


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



def test_kde_warns_when_noise_is_too_small(rng):
    with pytest.warns(UserWarning, match="larger noise variance"):
        mutual_information(rng.normal(size=(100, 3)), rng.integers(0, 2, 100), "kde", noise_var=1e-8)
