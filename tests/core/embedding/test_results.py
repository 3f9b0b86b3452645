"""The result types: a panel knows whether it was subsampled, a set finds its panels and titles itself."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import EmbeddingSet, LayerEmbedding


def panel(n_embedded: int) -> LayerEmbedding:
    return LayerEmbedding("fc1", 3, np.zeros((10, 2), np.float32), "umap", 2, {}, 0, np.arange(n_embedded))


def test_a_panel_says_when_it_was_subsampled():
    assert panel(10).n_samples == 10 and not panel(10).subsampled
    assert panel(6).subsampled


def test_a_set_finds_its_panels_and_describes_itself():
    params = {"n_neighbors": 15, "preprocessing": "none", "pca_dims": None, "max_points": 6}
    result = EmbeddingSet("umap", 2, 7, params, "procrustes", (3,), ("fc1",), {(3, "fc1"): panel(6)})
    assert result.get(np.int64(3), "fc1").layer == "fc1"
    with pytest.raises(KeyError, match=r"No embedding for layer 'fc2' at epoch 3; embedded epochs \[3\], layers \['fc1'\]"):
        result.get(3, "fc2")
    # the title comes from config.METHODS; unset and "none" settings are left out
    assert result.describe() == "UMAP 2D (max_points=6, n_neighbors=15, alignment=procrustes, seed=7)"
