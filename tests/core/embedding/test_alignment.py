"""Alignment: the panel order, Procrustes, init-from-the-neighbour and AlignedUMAP keep points in place."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import embed, embed_layers, procrustes_align
from ibviewer.core.embedding.alignment import plan_panels
from tests.core.embedding.data import FAST_TSNE, blobs, layered_acts, mean_displacement


def test_alignment_reduces_displacement_between_layers():
    acts = layered_acts()
    displacement = {
        alignment: mean_displacement(
            embed_layers(acts, method="tsne", alignment=alignment, faithfulness=False, use_cache=False, **FAST_TSNE)
        )
        for alignment in ("init", "procrustes", "none")
    }
    assert displacement["init"] < 0.8 * displacement["none"], displacement
    assert displacement["procrustes"] < displacement["none"], displacement


def test_pca_procrustes_undoes_sign_flips():
    x, _ = blobs()
    flipped = x.copy()
    flipped[:, :] = x @ np.diag(np.where(np.arange(x.shape[1]) % 2, -1.0, 1.0)).astype(np.float32)
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(2, 2)))[0]
    coords = embed(x, "pca", 2)
    rotated = coords @ rotation.T + 5
    np.testing.assert_allclose(procrustes_align(rotated, coords), coords, atol=1e-4)


def test_procrustes_leaves_a_collapsed_layout_alone():
    coords = np.zeros((5, 2), np.float32)
    assert np.array_equal(procrustes_align(coords, np.eye(5, 2)), coords)


def test_the_plan_computes_the_last_epoch_first_and_aligns_to_neighbours():
    plan = plan_panels((1, 2), ("a", "b"), "init")
    assert plan == [((2, "a"), None), ((2, "b"), (2, "a")), ((1, "a"), (2, "a")), ((1, "b"), (2, "b"))]
    assert all(ref is None for _, ref in plan_panels((1, 2), ("a", "b"), "none"))
    # AlignedUMAP: a snake through the grid, so consecutive panels are always neighbours
    snake = [panel for panel, _ in plan_panels((1, 2), ("a", "b"), "aligned_umap")]
    assert snake == [(1, "a"), (1, "b"), (2, "b"), (2, "a")]


@pytest.mark.slow
@pytest.mark.usefixtures("umap_compiled")
def test_aligned_umap_sequence():
    acts = layered_acts(n=80, n_layers=3)
    aligned = embed_layers(acts, method="umap", alignment="aligned_umap", n_epochs=30, max_points=60, use_cache=False)
    assert list(aligned.embeddings) == [(1, "l0"), (1, "l1"), (1, "l2")]
    for item in aligned.embeddings.values():
        assert item.params["alignment"] == "aligned_umap" and len(item.embedded_idx) == 60
        assert item.coords.shape == (80, 2) and np.isfinite(item.coords).all()
    independent = embed_layers(acts, method="umap", alignment="none", n_epochs=30, use_cache=False)
    assert mean_displacement(aligned) < mean_displacement(independent)
