"""Preprocessing: centring/standardising/L2, PCA-before, the seeded subset and a usable start layout."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import embed_layers, preprocess
from ibviewer.core.embedding.preprocessing import reduce_dims, subset, usable_init
from ibviewer.errors import EstimatorError
from tests.core.embedding.data import layered_acts


def test_preprocessing_choices():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)).astype(np.float32) * [1, 10, 0, 3] + 5
    np.testing.assert_allclose(preprocess(x, "center").mean(0), 0, atol=1e-5)
    standard = preprocess(x, "standardize")
    np.testing.assert_allclose(standard.std(0), [1, 1, 0, 1], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(preprocess(x, "l2"), axis=1), 1, atol=1e-5)
    acts = layered_acts(n_layers=1)
    result = embed_layers(acts, method="pca", preprocessing="standardize", pca_dims=8)
    assert result.get(1, "l0").params["preprocessing"] == "standardize"
    assert result.params["pca_dims"] == 8


def test_pca_before_keeps_small_inputs_as_they_are():
    x = np.random.default_rng(0).normal(size=(40, 12)).astype(np.float32)
    assert reduce_dims(x, 5, seed=0).shape == (40, 5)
    assert reduce_dims(x, None, seed=0) is x
    assert reduce_dims(x, 12, seed=0) is x  # not more features than asked for
    assert reduce_dims(x[:4], 5, seed=0).shape == (4, 12)  # fewer samples than components


def test_the_subset_is_seeded_sorted_and_whole_when_small():
    assert np.array_equal(subset(10, None, seed=0), np.arange(10))
    assert np.array_equal(subset(10, 10, seed=0), np.arange(10))
    chosen = subset(100, 30, seed=4)
    assert len(chosen) == 30 and np.all(np.diff(chosen) > 0) and chosen.dtype == np.int64
    assert np.array_equal(chosen, subset(100, 30, seed=4))
    assert not np.array_equal(chosen, subset(100, 30, seed=5))
    with pytest.raises(EstimatorError, match="max_points=3 is too small"):
        subset(100, 3, seed=0)


def test_a_start_layout_is_centred_or_ignored():
    layout = np.random.default_rng(0).normal(size=(20, 2)) + 7
    centred = usable_init(layout, 20, 2)
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-12)
    assert usable_init(None, 20, 2) is None
    assert usable_init(np.full((20, 2), np.nan), 20, 2) is None
    assert usable_init(np.ones((20, 2)), 20, 2) is None  # collapsed: no shape to start from
    with pytest.raises(EstimatorError, match=r"init must have shape \(20, 3\)"):
        usable_init(layout, 20, 3)
