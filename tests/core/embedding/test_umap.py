"""UMAP: reproducible with a seed, the rest placed by transform; numba's cache folder."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ibviewer.core.embedding import configure_numba_cache, embed_layers
from tests.core.embedding.data import layered_acts


@pytest.mark.slow
@pytest.mark.usefixtures("umap_compiled")
def test_umap_is_reproducible_and_places_the_rest():
    acts = layered_acts(n=120, n_layers=2)
    first = embed_layers(acts, method="umap", n_epochs=30, max_points=80, use_cache=False)
    second = embed_layers(acts, method="umap", n_epochs=30, max_points=80, use_cache=False)
    for key, item in first.embeddings.items():
        assert item.coords.shape == (120, 2) and np.isfinite(item.coords).all()
        assert len(item.embedded_idx) == 80 and item.params["n_neighbors"] == 15
        np.testing.assert_array_equal(item.coords, second.embeddings[key].coords)
        rest = np.setdiff1d(np.arange(120), item.embedded_idx)
        assert np.ptp(item.coords[rest], axis=0).min() > 0  # placed points are spread, not stacked
        assert item.trustworthiness > 0.7


def test_numba_cache_folder_is_set_only_when_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    folder = configure_numba_cache(str(tmp_path))
    assert folder == str(tmp_path / "numba") and os.environ["NUMBA_CACHE_DIR"] == folder
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    assert configure_numba_cache(str(tmp_path)) == "/somewhere/else"
