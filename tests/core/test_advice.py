import numpy as np
import pytest

from ibviewer.core.advice import plane_advice
from ibviewer.core.config import AnalysisSettings
from ibviewer.core.information import compute_information_plane
from ibviewer.core.types import ActivationSet, LayerInfo


def _acts(values: dict[str, np.ndarray], labels: np.ndarray) -> ActivationSet:
    layers = tuple(LayerInfo(name, "Linear", (v.shape[-1],), v.shape[-1]) for name, v in values.items())
    return ActivationSet(layers, (0,), {k: v[None].astype(np.float32) for k, v in values.items()}, labels,
                         np.arange(len(labels)), key="advice-test")  # fmt: skip


def test_a_saturated_layer_gets_the_wide_layer_estimator_as_one_click_and_a_coarse_one_gets_nothing(tmp_path):
    rng = np.random.default_rng(0)
    n = 256
    labels = rng.integers(0, 2, n)
    wide = rng.uniform(-1, 1, (n, 32))  # every sample in its own bin
    coarse = np.repeat(labels[:, None], 3, axis=1) * 0.5  # two codes: far below log2(N)
    with pytest.warns(UserWarning, match="'wide' sits at the ceiling"):
        plane = compute_information_plane(_acts({"wide": wide, "coarse": coarse}, labels), "binning", n_bins=30,
                                          cache_dir=tmp_path)  # fmt: skip
    settings = AnalysisSettings()
    advice = plane_advice(plane, settings)
    assert len(advice) == 1 and "wide" in advice[0].message and "coarse" not in advice[0].message
    assert advice[0].apply(settings).estimator == "renyi"
    assert "--" not in advice[0].message + advice[0].action  # the GUI's words, not flags
    only_coarse = compute_information_plane(_acts({"coarse": coarse}, labels), "binning", cache_dir=tmp_path)
    assert plane_advice(only_coarse, settings) == []


def test_a_layer_near_the_ceiling_and_values_outside_a_fixed_range_get_one_click_fixes_and_a_dpi_violation_is_told(tmp_path):
    n = 4096
    index = np.arange(n)
    labels = index % 2
    near = np.where(index < 200, index // 2 * 2, index)[:, None] / n  # 11.95 of 12 bits, inside [-1, 1]
    settings = AnalysisSettings(range_mode="fixed", n_bins=30, bin_width=1 / n)
    plane = compute_information_plane(_acts({"near": near}, labels), "binning", cache_dir=tmp_path,
                                      **settings.estimator_params())  # fmt: skip
    assert not plane.saturated.any()
    (advice,) = plane_advice(plane, settings)
    assert "near" in advice.message and advice.apply(settings).estimator == "renyi"

    relu = 2.0 + labels[:, None] + index[:, None] % 3  # all above 1: one bin under [-1, 1]
    blind = (index[:, None] // 2) % 2 * 0.5
    with pytest.warns(UserWarning, match="outside the fixed range"):
        plane = compute_information_plane(_acts({"blind": blind, "relu": relu}, labels), "binning",
                                          cache_dir=tmp_path, **AnalysisSettings(range_mode="fixed").estimator_params())  # fmt: skip
    fixed = AnalysisSettings(range_mode="fixed")
    assert [a.changes for a in plane_advice(plane, fixed)] == [{"range_mode": "auto"}]
    assert plane_advice(plane, fixed)[0].apply(fixed).estimator_params()["value_range"] == "auto"
    fixed_range = AnalysisSettings(range_mode="auto")
    plane = compute_information_plane(_acts({"blind": blind, "relu": relu}, labels), "binning", cache_dir=tmp_path,
                                      **fixed_range.estimator_params())  # fmt: skip
    (dpi,) = plane_advice(plane, fixed_range)
    assert "relu" in dpi.message and "data-processing inequality" in dpi.message and not dpi.changes
    assert "--" not in dpi.message
