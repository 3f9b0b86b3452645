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
