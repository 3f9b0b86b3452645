"""embed_layers: the panels of a run, in order, posted as they finish, cached, subsampled, validated."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import (
    EmbeddingSet,
    LayerEmbedding,
    PartialEmbedding,
    embed,
    embed_layers,
    select_epochs,
    select_layers,
)
from ibviewer.core.embedding import layers as layers_module
from ibviewer.core.progress import RecordingProgress
from ibviewer.errors import Cancelled, EstimatorError
from tests.core.embedding.data import FAST_TSNE, layered_acts, mean_displacement


def test_epochs_are_aligned_and_partials_posted_per_panel():
    acts = layered_acts(n_layers=2, n_epochs=3)
    progress = RecordingProgress()
    result = embed_layers(acts, epochs="all", method="tsne", progress=progress, use_cache=False, **FAST_TSNE)
    assert result.epochs == (1, 2, 3)
    assert list(result.embeddings) == [(e, layer) for e in (1, 2, 3) for layer in ("l0", "l1")]
    panels = [p for p in progress.partials if isinstance(p, LayerEmbedding)]
    assert len(panels) == 6
    # the last epoch is computed first so the default view appears first
    assert panels[0].epoch == 3 and panels[0].layer == "l0"
    animated = [p for p in progress.partials if isinstance(p, PartialEmbedding)]
    assert animated and all(p.coords.shape == (acts.n_samples, 2) for p in animated)
    assert any("t-SNE: layer 1 of 2" in message for _, message in progress.updates)
    fractions = [f for f, _ in progress.updates]
    assert fractions[-1] == 1.0 and min(fractions) >= 0.0
    # consecutive epochs of one layer barely move (each starts from the later epoch's layout)
    by_layer = EmbeddingSet("tsne", 2, 0, {}, "init", (1, 2, 3), ("l0",), {k: v for k, v in result.embeddings.items() if k[1] == "l0"})
    assert mean_displacement(by_layer) < 0.5
    for item in result.embeddings.values():
        assert item.params["alignment"] == "init" and item.params["perplexity"] == 30.0
        assert item.knn_overlap is not None and item.knn_overlap.shape == (acts.n_samples,)
        assert 0.0 <= float(item.knn_overlap.min()) and float(item.knn_overlap.max()) <= 1.0
        assert 0.5 < item.trustworthiness <= 1.0


def test_embed_layers_cancels_between_panels():
    acts = layered_acts()
    progress = RecordingProgress(cancel_after=1)
    with pytest.raises(Cancelled):
        embed_layers(acts, method="pca", progress=progress)


def test_cache_hit_returns_the_same_result(tmp_path, monkeypatch):
    acts = layered_acts(n_layers=2)
    first = embed_layers(acts, method="tsne", cache_dir=tmp_path, **FAST_TSNE)
    assert not any(e.cached for e in first.embeddings.values())
    assert len(list((tmp_path / "embeddings").glob("*.npz"))) == 2

    def not_again(*args, **kwargs):
        raise AssertionError("a cached panel was embedded again")

    with monkeypatch.context() as patched:
        patched.setattr(layers_module, "embed_panel", not_again)
        second = embed_layers(acts, method="tsne", cache_dir=tmp_path, **FAST_TSNE)
    for key, item in second.embeddings.items():
        assert item.cached
        np.testing.assert_array_equal(item.coords, first.embeddings[key].coords)
        np.testing.assert_array_equal(item.knn_overlap, first.embeddings[key].knn_overlap)
        assert item.trustworthiness == first.embeddings[key].trustworthiness
        assert item.params == first.embeddings[key].params
    # another seed, another alignment or other activations miss the cache
    assert not any(e.cached for e in embed_layers(acts, method="tsne", cache_dir=tmp_path, seed=1, **FAST_TSNE).embeddings.values())
    assert not embed_layers(acts, method="tsne", alignment="none", cache_dir=tmp_path, **FAST_TSNE).get(1, "l0").cached
    changed = layered_acts(n_layers=2, seed=5)
    assert not embed_layers(changed, method="tsne", cache_dir=tmp_path, **FAST_TSNE).get(1, "l0").cached


def test_subsampling_places_the_rest_and_says_so():
    acts = layered_acts(n=300, n_layers=2)
    result = embed_layers(acts, method="tsne", max_points=150, **FAST_TSNE)
    item = result.get(1, "l1")
    assert item.subsampled and len(item.embedded_idx) == 150
    assert np.array_equal(item.embedded_idx, result.get(1, "l0").embedded_idx)  # the same subset in every panel
    assert item.coords.shape == (300, 2) and np.isfinite(item.coords).all()
    rest = np.setdiff1d(np.arange(300), item.embedded_idx)
    assert np.ptp(item.coords[rest], axis=0).min() > 0  # placed points are spread, not stacked
    assert item.trustworthiness > 0.8
    coords3 = embed(acts.layer("l0"), "tsne", 3, max_points=150, **FAST_TSNE)
    assert coords3.shape == (300, 3) and np.isfinite(coords3).all()


def test_embed_layers_validates_choices():
    acts = layered_acts(n_layers=2)
    with pytest.raises(EstimatorError, match="epoch"):
        embed_layers(acts, epochs=[7])
    with pytest.raises(EstimatorError, match="Unknown layer"):
        embed_layers(acts, layers=["nope"])
    with pytest.raises(EstimatorError, match="aligned_umap"):
        embed_layers(acts, method="tsne", alignment="aligned_umap")
    with pytest.raises(EstimatorError, match="alignment"):
        embed_layers(acts, alignment="magic")


def test_epochs_and_layers_are_chosen_in_run_order():
    acts = layered_acts(n=20, n_layers=3, n_epochs=3)
    assert select_epochs(acts, None) == select_epochs(acts, "last") == (3,)
    assert select_epochs(acts, "all") == (1, 2, 3)
    assert select_epochs(acts, [3, 1, 3]) == (1, 3)  # training order, once each
    assert select_epochs(acts, np.int64(2)) == (2,)
    assert select_layers(acts, None) == ("l0", "l1", "l2")
    assert select_layers(acts, "l1") == ("l1",)
    for bad, match in (("first", "'last', 'all' or a list"), ([], "No epochs")):
        with pytest.raises(EstimatorError, match=match):
            select_epochs(acts, bad)
    with pytest.raises(EstimatorError, match="No layers"):
        select_layers(acts, [])
