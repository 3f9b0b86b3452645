"""embed(): one representation through one method: reproducible, clear errors, dead layers."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import embed, embed_layers
from ibviewer.errors import ActivationError, EstimatorError
from tests.core.embedding.data import FAST_TSNE, blobs, layered_acts

# fewer points and iterations than elsewhere: reproducibility holds bit for bit at any size
TINY_TSNE = {"n_iter": 40, "early_exaggeration_iter": 20, "perplexity": 10.0}


@pytest.mark.parametrize(("method", "dims"), [("pca", 2), ("pca", 3), ("tsne", 2), ("tsne", 3)])
def test_embed_is_reproducible_with_a_seed(method, dims):
    x, _ = blobs(n=120)
    params = TINY_TSNE if method == "tsne" else {}
    first = embed(x, method, dims, seed=3, **params)
    second = embed(x, method, dims, seed=3, **params)
    assert first.shape == (len(x), dims)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    if method == "tsne":
        assert not np.array_equal(first, embed(x, method, dims, seed=4, **params))


def test_warnings_point_at_the_callers_line():
    x, _ = blobs(n=20)
    with pytest.warns(UserWarning, match="perplexity") as caught:
        embed(x, "tsne", 2, **FAST_TSNE)
    assert caught[0].filename == __file__  # not a line inside the package
    acts = layered_acts(n=60, n_layers=1)
    acts.values["l0"][:] = 1.0
    with pytest.warns(UserWarning, match="identical activations") as caught:
        embed_layers(acts, method="pca", use_cache=False)
    assert caught[0].filename == __file__


def test_dead_and_duplicate_layers_do_not_crash():
    rng = np.random.default_rng(0)
    dead = np.zeros((50, 8), np.float32)
    with pytest.warns(UserWarning, match="identical activations"):
        coords = embed(dead, "tsne", 2)
    assert np.array_equal(coords, np.zeros((50, 2), np.float32))
    duplicates = np.repeat(rng.normal(size=(3, 6)), 20, axis=0).astype(np.float32)
    with pytest.warns(UserWarning, match="perplexity"):
        coords = embed(duplicates, "tsne", 2, **FAST_TSNE)
    assert np.isfinite(coords).all()
    # a dead layer inside a run: drawn at the origin, no faithfulness, later layers still aligned
    acts = layered_acts(n_layers=3)
    acts.values["l1"][:] = 0.0
    with pytest.warns(UserWarning, match="layer l1: all 240 samples have identical activations"):
        result = embed_layers(acts, method="tsne", use_cache=False, **FAST_TSNE)
    assert result.get(1, "l1").trustworthiness is None and result.get(1, "l1").knn_overlap is None
    assert np.ptp(result.get(1, "l2").coords, axis=0).min() > 0


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (np.array([[1.0, np.nan], [2, 3], [3, 4]]), {"method": "pca"}, ActivationError, "NaN"),
        (np.ones((1, 5)), {"method": "pca"}, ActivationError, "at least 2"),
        (np.ones(5), {"method": "pca"}, ActivationError, "1-D"),
        (np.eye(4), {"method": "tsne"}, EstimatorError, "at least 5 samples"),
        (np.eye(8), {"method": "pca", "dims": 4}, EstimatorError, "2 or 3 dimensions"),
        (np.eye(8), {"method": "tsne", "dims": 3, "negative_gradient_method": "fft"}, EstimatorError, "2-D only"),
        (np.eye(8), {"method": "tsne", "n_neighbors": 5}, EstimatorError, "does not take n_neighbors"),
        (np.eye(8), {"method": "mds"}, EstimatorError, "Unknown embedding method"),
        (np.eye(8), {"method": "pca", "preprocessing": "whiten"}, EstimatorError, "Unknown preprocessing"),
        (np.eye(8), {"method": "tsne", "max_points": 3}, EstimatorError, "max_points=3 is too small"),
        (np.eye(8), {"method": "tsne", "init": np.zeros((3, 2))}, EstimatorError, r"init must have shape \(8, 2\)"),
    ],
)
def test_bad_input_gives_clear_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        embed(x, **kwargs)

