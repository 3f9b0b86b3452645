"""PCA: scikit-learn's components of every point; zero axes where the data has too few."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import embed
from tests.core.embedding.data import FAST_TSNE, blobs


def test_pca_is_the_leading_components_of_every_point():
    from sklearn.decomposition import PCA

    x, _ = blobs(n=100)
    expected = PCA(n_components=2, random_state=0).fit_transform(x)
    np.testing.assert_allclose(embed(x, "pca", 2), expected, rtol=1e-5, atol=1e-5)
    # max_points, pca_dims and init are for t-SNE/UMAP: PCA projects every point
    np.testing.assert_array_equal(embed(x, "pca", 2, max_points=10, pca_dims=3, init=np.ones((3, 3))), embed(x, "pca", 2))


def test_3d_from_too_few_features_is_handled():
    x, _ = blobs(dim=2)
    with pytest.warns(UserWarning, match="only 2 axes"):
        coords = embed(x, "pca", 3)
    assert np.array_equal(coords[:, 2], np.zeros(len(x), np.float32))
    coords = embed(x, "tsne", 3, **FAST_TSNE)  # t-SNE can: random start instead of PCA
    assert coords.shape == (len(x), 3) and np.ptp(coords, axis=0).min() > 0
