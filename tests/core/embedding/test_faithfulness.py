"""Faithfulness: trustworthiness against scikit-learn's, its estimate from a subset, per-point k-NN overlap."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import embed, trustworthiness
from ibviewer.core.embedding import faithfulness as faithfulness_module
from ibviewer.core.embedding.faithfulness import faithfulness
from ibviewer.errors import EstimatorError
from tests.core.embedding.data import FAST_TSNE, blobs


def test_tsne_separates_clusters_and_trustworthiness_matches_sklearn():
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    x, labels = blobs()
    coords = embed(x, "tsne", 2, seed=0, **FAST_TSNE)
    exact = trustworthiness(x, coords, 10, max_queries=None)
    assert exact == pytest.approx(sklearn_trustworthiness(x, coords, n_neighbors=10), abs=1e-9)
    assert exact > 0.9
    estimate = trustworthiness(x, coords, 10, max_queries=60, seed=1)
    assert abs(estimate - exact) < 0.03
    # a random layout is much less trustworthy
    random_layout = np.random.default_rng(0).normal(size=coords.shape)
    assert trustworthiness(x, random_layout, 10) < exact - 0.2


def test_trustworthiness_refuses_mismatched_inputs():
    x, _ = blobs(n=30)
    with pytest.raises(EstimatorError, match="x_high has 30 samples but x_low has 29"):
        trustworthiness(x, x[:29, :2])
    with pytest.raises(EstimatorError, match="k < n_samples/2"):
        trustworthiness(x, x[:, :2], k=15)


def test_faithfulness_of_a_panel(monkeypatch):
    x, _ = blobs(n=60)
    trust, overlap = faithfulness(x, x[:, :2], "euclidean", seed=0)
    assert 0.0 < trust <= 1.0
    assert overlap.shape == (60,) and overlap.dtype == np.float32 and 0.0 <= overlap.min() <= overlap.max() <= 1.0
    # a layout that keeps every neighbourhood has full overlap
    assert faithfulness(x, x, "euclidean", seed=0)[1].min() == 1.0
    assert faithfulness(x, np.zeros((60, 2), np.float32), "euclidean", seed=0) == (None, None)
    monkeypatch.setattr(faithfulness_module, "MAX_OVERLAP_POINTS", 50)
    trust_big, overlap_big = faithfulness(x, x[:, :2], "euclidean", seed=0)
    assert trust_big == trust and overlap_big is None  # the overlap is skipped for large panels
