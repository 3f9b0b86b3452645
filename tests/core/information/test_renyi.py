"""The renyi estimator: known answers to 1e-9 bits, an independent slow implementation, widths, kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibviewer.core.information import make_estimator, mutual_information
from ibviewer.errors import EstimatorError

ALPHAS = (0.5, 1.0, 1.01, 2.0, 3.0)
EXACT = 1e-9


# --- an independent, slow implementation: explicit matrices, numpy eigvalsh --------------------


def _distances(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(axis=2))


def _gaussian(values: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-(_distances(values) ** 2) / (2.0 * width**2))


def _entropy(k: np.ndarray, alpha: float) -> float:
    lam = np.linalg.eigvalsh(k / np.trace(k))
    lam = lam[lam > 1e-12 * lam.max()]  # the documented cutoff: rounding noise
    if alpha == 1.0:
        return float(-(lam * np.log2(lam)).sum())
    return float(np.log2((lam**alpha).sum()) / (1.0 - alpha))


def _mi(a: np.ndarray, b: np.ndarray, alpha: float) -> float:
    return _entropy(a, alpha) + _entropy(b, alpha) - _entropy(a * b, alpha)


def _median_width(values: np.ndarray, factor: float) -> float:
    """``factor`` x the median distance between distinct samples (the documented rule)."""
    d = _distances(values)[np.triu_indices(len(values), 1)]
    return factor * float(np.median(d[d > 0]))


def _renyi_of(p: np.ndarray, alpha: float) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if alpha == 1.0 else float(np.log2((p**alpha).sum()) / (1 - alpha))


def _far_groups(rng, sizes, dim: int, gap: float = 100.0) -> np.ndarray:
    """Groups of identical points, one group per entry of ``sizes``, centres >= gap apart."""
    centres = gap * np.eye(len(sizes), dim) + rng.normal(size=(len(sizes), dim))
    return np.repeat(centres, sizes, axis=0)


# --- known answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("k", [1, 3, 8])
def test_k_far_groups_of_identical_points_give_log2_k(rng, alpha, k):
    t = _far_groups(rng, [25] * k, dim=k + 2)
    result = mutual_information(t, np.zeros(len(t)), "renyi", alpha=alpha, kernel_width=1.0, device="cpu")
    assert result["i_xt"] == pytest.approx(math.log2(k), abs=EXACT)
    assert result["entropy_t"] == pytest.approx(math.log2(k), abs=EXACT)
    assert result["x_variable"] == "sample" and result["entropy_x"] is None


@pytest.mark.parametrize("alpha", ALPHAS)
def test_unequal_far_groups_give_the_renyi_entropy_of_their_sizes(rng, alpha):
    sizes = [5, 10, 20, 45]
    t = _far_groups(rng, sizes, dim=6)
    s = mutual_information(t, np.zeros(len(t)), "renyi", alpha=alpha, kernel_width=1.0, device="cpu")["entropy_t"]
    assert s == pytest.approx(_renyi_of(np.array(sizes) / sum(sizes), alpha), abs=EXACT)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_n_distinct_far_points_give_log2_n(rng, alpha):
    t = 1000.0 * rng.normal(size=(200, 3))
    with pytest.warns(UserWarning, match="sits at the ceiling"):
        result = mutual_information(t, rng.integers(0, 2, 200), "renyi", alpha=alpha, kernel_width=1.0, device="cpu")
    assert result["i_xt"] == pytest.approx(math.log2(200), abs=EXACT)
    assert result["saturated"] is True  # every sample resolved: the estimate says nothing


@pytest.mark.parametrize("alpha", ALPHAS)
def test_i_ty_is_h_y_when_t_determines_y(rng, alpha):
    # five far groups, two of which share a label: T determines Y, not the other way round
    t = _far_groups(rng, [30, 30, 30, 30, 30], dim=5)
    y = np.repeat([0, 1, 2, 2, 3], 30)
    result = mutual_information(t, y, "renyi", alpha=alpha, kernel_width=1.0, device="cpu")
    expected = _renyi_of(np.array([1, 1, 2, 1]) / 5, alpha)
    assert result["h_y"] == pytest.approx(expected, abs=EXACT)
    assert result["i_ty"] == pytest.approx(result["h_y"], abs=EXACT)
    balanced = mutual_information(t, np.arange(150) // 30, "renyi", alpha=alpha, kernel_width=1.0, device="cpu")
    assert balanced["i_ty"] == pytest.approx(math.log2(5), abs=EXACT)  # Shannon's H(Y) for balanced classes


@pytest.mark.parametrize("rule", ["median", "silverman"])
@pytest.mark.parametrize("alpha", [1.01, 2.0])
def test_width_rules_are_scale_invariant(rng, rule, alpha):
    t, x = np.tanh(rng.normal(size=(150, 6))), rng.normal(size=(150, 4))
    y = (t[:, 0] > 0).astype(int)
    base = mutual_information(t, y, "renyi", x=x, alpha=alpha, kernel_width=rule, device="cpu")
    for scale_t, scale_x in ((1e-3, 7.5), (40.0, 1e-2)):
        scaled = mutual_information(scale_t * t, y, "renyi", x=scale_x * x, alpha=alpha, kernel_width=rule, device="cpu")
        for key in ("i_xt", "i_ty", "entropy_t", "entropy_x"):
            assert scaled[key] == pytest.approx(base[key], abs=EXACT)
        assert scaled["kernel_width"] == pytest.approx(scale_t * base["kernel_width"], rel=1e-12)
        assert scaled["kernel_width_x"] == pytest.approx(scale_x * base["kernel_width_x"], rel=1e-12)
    assert 0.5 < base["i_ty"] and 0.5 < base["i_xt"] < base["log2_n"] - 0.3  # a case that says something


# --- against the slow implementation ------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 1.01, 2.0, 3.0])
def test_agrees_with_a_slow_numpy_eigvalsh_implementation(rng, alpha):
    n = 160
    t = np.maximum(rng.normal(size=(n, 7)), 0) * rng.uniform(0.5, 2.0, size=7)
    x = rng.normal(size=(n, 5))
    y = rng.integers(0, 4, n)
    fitted = make_estimator("renyi", alpha=alpha, device="cpu").fit(t, y, x)
    width_t, width_x = _median_width(t, 0.35), _median_width(x, 0.35)
    k_t, k_x = _gaussian(t, width_t), _gaussian(x, width_x)
    k_y = (y[:, None] == y[None, :]).astype(float)
    assert fitted.kernel_width_ == pytest.approx(width_t, rel=1e-12)
    assert fitted.kernel_width_x_ == pytest.approx(width_x, rel=1e-12)
    assert fitted.entropy_t_ == pytest.approx(_entropy(k_t, alpha), abs=EXACT)
    assert fitted.entropy_x_ == pytest.approx(_entropy(k_x, alpha), abs=EXACT)
    assert fitted.i_xt_ == pytest.approx(_mi(k_x, k_t, alpha), abs=EXACT)
    assert fitted.i_ty_ == pytest.approx(_mi(k_t, k_y, alpha), abs=EXACT)
    assert fitted.h_y_ == pytest.approx(_entropy(k_y, alpha), abs=EXACT)
    assert fitted.x_variable_ == "input" and 0.0 < fitted.i_xt_ < min(fitted.entropy_x_, fitted.entropy_t_)


def test_silverman_rule_is_silvermans_bandwidth(rng):
    t = rng.normal(size=(120, 3)) * np.array([1.0, 2.0, 3.0])
    fitted = make_estimator("renyi", kernel_width="silverman", device="cpu").fit(t, np.zeros(120))
    s = math.sqrt(np.var(t, axis=0, ddof=1).mean())
    assert fitted.kernel_width_ == pytest.approx(s * (4 / 5) ** (1 / 7) * 120 ** (-1 / 7), rel=1e-12)
    doubled = make_estimator("renyi", kernel_width="silverman", width_factor=2.0, device="cpu").fit(t, np.zeros(120))
    assert doubled.kernel_width_ == pytest.approx(2 * fitted.kernel_width_, rel=1e-12)


def test_the_median_rule_uses_a_fixed_subset_of_large_layers(rng):
    t = rng.normal(size=(1500, 2))
    first = make_estimator("renyi", device="cpu").fit(t, np.zeros(1500))
    again = make_estimator("renyi", device="cpu").fit(t, np.zeros(1500))
    assert first.kernel_width_ == again.kernel_width_  # seeded: the same subset every time
    # the distance of two 2-D standard normals is sqrt(2) x Rayleigh(1): median 2 sqrt(ln 2) ~ 1.665
    assert first.kernel_width_ == pytest.approx(0.35 * 2 * math.sqrt(math.log(2)), rel=0.03)


def test_the_median_rule_ignores_repeated_rows(rng):
    spread = rng.normal(size=(40, 3))
    mostly_zero = np.vstack([np.zeros((60, 3)), spread])  # most pairs are identical rows
    fitted = make_estimator("renyi", device="cpu").fit(mostly_zero, np.zeros(100))
    assert fitted.kernel_width_ == pytest.approx(_median_width(mostly_zero, 0.35), rel=1e-12)
    assert fitted.entropy_t_ > 1.0  # the 40 distinct rows still count


def test_chunked_sums_equal_a_single_block(rng):
    t, x, y = rng.normal(size=(97, 4)), rng.normal(size=(97, 3)), rng.integers(0, 3, 97)
    whole = mutual_information(t, y, "renyi", x=x, device="cpu", chunk_size=97)
    for chunk in (1, 7, 50):
        part = mutual_information(t, y, "renyi", x=x, device="cpu", chunk_size=chunk)
        assert part["i_xt"] == pytest.approx(whole["i_xt"], abs=1e-12)
        assert part["i_ty"] == pytest.approx(whole["i_ty"], abs=1e-12)


def test_kept_input_gram_equals_recomputing_it_per_block(rng, monkeypatch):
    from ibviewer.core.information import renyi

    t, x, y = rng.normal(size=(120, 4)), rng.normal(size=(120, 6)), rng.integers(0, 3, 120)
    kept = mutual_information(t, y, "renyi", x=x, device="cpu", chunk_size=50)
    monkeypatch.setattr(renyi, "_MAX_KEPT_INPUT_GRAM", 100)  # as for more than 4096 samples
    recomputed = mutual_information(t, y, "renyi", x=x, device="cpu", chunk_size=50)
    for key in ("i_xt", "i_ty", "entropy_x"):
        assert recomputed[key] == pytest.approx(kept[key], abs=1e-12)


# --- feature maps -------------------------------------------------------------------------------


def test_the_tensor_kernel_is_the_kernel_of_the_flattened_map(rng):
    maps = np.maximum(rng.normal(size=(80, 3, 4, 4)), 0)
    flat, y = maps.reshape(80, -1), rng.integers(0, 2, 80)
    vector = mutual_information(flat, y, "renyi", device="cpu")
    tensor = mutual_information(flat, y, "renyi", map_shape=(3, 4, 4), device="cpu")
    assert (vector["kernel"], tensor["kernel"]) == ("vector 48", "tensor 3x4x4")
    assert tensor["i_xt"] == vector["i_xt"] and tensor["i_ty"] == vector["i_ty"]


def test_channel_kernels_multiply_one_kernel_per_channel(rng):
    maps = rng.normal(size=(60, 3, 2, 2)) * np.array([0.1, 1.0, 30.0])[None, :, None, None]
    flat, y = maps.reshape(60, -1), rng.integers(0, 3, 60)
    result = mutual_information(
        flat, y, "renyi", alpha=1.01, conv_kernel="channels", map_shape=(3, 2, 2), width_factor=1.0, device="cpu"
    )
    assert result["kernel"] == "channels 3x(2x2)"
    k_t = np.prod([_gaussian(maps[:, c], _median_width(maps[:, c], 1.0)) for c in range(3)], axis=0)
    k_y = (y[:, None] == y[None, :]).astype(float)
    assert result["i_xt"] == pytest.approx(_entropy(k_t, 1.01), abs=EXACT)
    assert result["i_ty"] == pytest.approx(_mi(k_t, k_y, 1.01), abs=EXACT)
    assert result["kernel_width"] == pytest.approx(_median_width(maps[:, 0], 1.0), rel=1e-12)


def test_a_constant_channel_or_layer_merges_everything(rng):
    maps = rng.normal(size=(50, 2, 3))
    maps[:, 1] = 0.25
    flat, y = maps.reshape(50, -1), rng.integers(0, 2, 50)
    alone = mutual_information(maps[:, 0], y, "renyi", device="cpu")
    with_constant = mutual_information(flat, y, "renyi", conv_kernel="channels", map_shape=(2, 3), device="cpu")
    assert with_constant["i_xt"] == pytest.approx(alone["i_xt"], abs=EXACT)
    constant = mutual_information(np.full((50, 4), 3.0), y, "renyi", x=rng.normal(size=(50, 2)), device="cpu")
    assert constant["i_xt"] == pytest.approx(0.0, abs=EXACT) and constant["i_ty"] == pytest.approx(0.0, abs=EXACT)
    assert constant["kernel_width"] == 0.0


# --- settings and devices -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": 0.0}, "alpha must be a positive"),
        ({"kernel_width": "auto"}, "'median', 'silverman' or a positive number"),
        ({"kernel_width": -1.0}, "kernel_width must be a positive"),
        ({"kernel_width": 1.0, "width_factor": 2.0}, "leave it out"),
        ({"width_factor": 0.0}, "width_factor must be a positive"),
        ({"conv_kernel": "pixels"}, "'tensor' or 'channels'"),
        ({"map_shape": (2, 2, 2)}, "has 8 values but t has 4 units"),
        ({"map_shape": (4,)}, "map_shape must be"),
        ({"chunk_size": 0}, "chunk_size must be an integer >= 1"),
    ],
)
def test_bad_settings_raise_estimator_error(rng, params, match):
    with pytest.raises(EstimatorError, match=match):
        mutual_information(rng.normal(size=(10, 4)), np.arange(10) % 2, "renyi", device="cpu", **params)


def test_inputs_are_checked_and_only_renyi_takes_them(rng):
    t, y = rng.normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(EstimatorError, match="one input per row"):
        mutual_information(t, y, "renyi", x=np.zeros((19, 3)))
    with pytest.raises(EstimatorError, match="NaN or infinite"):
        mutual_information(t, y, "renyi", x=np.full((20, 3), np.nan))
    with pytest.raises(EstimatorError, match="does not use inputs"):
        mutual_information(t, y, "binning", x=np.zeros((20, 3)))
    images = rng.integers(0, 255, size=(20, 1, 3, 3), dtype=np.uint8)
    result = mutual_information(t, y, "renyi", x=images, device="cpu")  # any (N, ...) numbers, flattened
    assert result["x_variable"] == "input" and result["entropy_x"] > 0


def test_eigendecomposition_is_refused_for_huge_sample_counts():
    with pytest.raises(EstimatorError, match="use alpha=2"):
        mutual_information(np.arange(10_001.0)[:, None], np.zeros(10_001), "renyi", alpha=1.01, device="cpu")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("alpha", [1.01, 2.0])
def test_cuda_agrees_with_cpu(rng, alpha):
    t, x, y = rng.normal(size=(300, 9)), rng.normal(size=(300, 4)), rng.integers(0, 3, 300)
    cpu = mutual_information(t, y, "renyi", x=x, alpha=alpha, device="cpu")
    gpu = mutual_information(t, y, "renyi", x=x, alpha=alpha, device="cuda")
    for key in ("i_xt", "i_ty", "entropy_t", "entropy_x"):
        assert gpu[key] == pytest.approx(cpu[key], abs=EXACT)
