"""Embeddings: reproducibility, alignment, faithfulness, bad input, progress/cancel, cache, outputs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ibviewer.core.embedding import (
    EmbeddingSet,
    LayerEmbedding,
    PartialEmbedding,
    embed,
    embed_layers,
    preprocess,
    procrustes_align,
    trustworthiness,
)
from ibviewer.core.layer_figure import plot_layer_grid
from ibviewer.core.probes import run_probes
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import ActivationError, Cancelled, EstimatorError

FAST_TSNE = {"n_iter": 100, "early_exaggeration_iter": 50}


def blobs(n: int = 240, dim: int = 12, n_classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    centres = rng.normal(size=(n_classes, dim)) * 4
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels.astype(np.int64)


def layered_acts(n: int = 240, n_layers: int = 4, n_epochs: int = 1, seed: int = 0) -> ActivationSet:
    """Clusters pushed through a random tanh network: every layer re-shapes them differently."""
    rng = np.random.default_rng(seed)
    x, labels = blobs(n, 12, seed=seed)
    h = x.astype(np.float64)
    values, infos = {}, []
    for i in range(n_layers):
        w = rng.normal(size=(h.shape[1], 16)) / np.sqrt(h.shape[1])
        h = np.tanh(h @ w * 0.7) * 3
        per_epoch = [h * (0.6 + 0.4 * (e + 1) / n_epochs) + 0.05 * rng.normal(size=h.shape) for e in range(n_epochs)]
        values[f"l{i}"] = np.stack(per_epoch).astype(np.float32)
        infos.append(LayerInfo(f"l{i}", "Tanh", (16,), 16))
    epochs = tuple(range(1, n_epochs + 1))
    return ActivationSet(tuple(infos), epochs, values, labels, np.arange(n, dtype=np.int64), key=f"test{seed}")


def mean_displacement(result: EmbeddingSet) -> float:
    """Mean distance a point moves between consecutive panels, each scaled to unit RMS radius."""
    panels = [e.coords.astype(np.float64) for e in result.embeddings.values()]
    normed = [(p - p.mean(0)) / np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()) for p in panels]
    return float(np.mean([np.linalg.norm(a - b, axis=1).mean() for a, b in zip(normed, normed[1:])]))


@pytest.mark.parametrize(("method", "dims"), [("pca", 2), ("pca", 3), ("tsne", 2), ("tsne", 3)])
def test_embed_is_reproducible_with_a_seed(method, dims):
    x, _ = blobs()
    params = FAST_TSNE if method == "tsne" else {}
    first = embed(x, method, dims, seed=3, **params)
    second = embed(x, method, dims, seed=3, **params)
    assert first.shape == (len(x), dims)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    if method == "tsne":
        assert not np.array_equal(first, embed(x, method, dims, seed=4, **params))


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


def test_cancellation_stops_tsne_quickly():
    x, _ = blobs(n=600)
    progress = RecordingProgress(cancel_after=2)
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        embed(x, "tsne", 2, progress=progress, n_iter=5000, early_exaggeration_iter=250, callbacks_every_iters=10)
    assert time.perf_counter() - start < 10
    assert progress.partials and isinstance(progress.partials[-1], PartialEmbedding)
    assert progress.partials[-1].iteration < 100


def test_embed_layers_cancels_between_panels():
    acts = layered_acts()
    progress = RecordingProgress(cancel_after=1)
    with pytest.raises(Cancelled):
        embed_layers(acts, method="pca", progress=progress)


def test_cache_hit_returns_the_same_result(tmp_path):
    acts = layered_acts(n_layers=2)
    first = embed_layers(acts, method="tsne", cache_dir=tmp_path, **FAST_TSNE)
    assert not any(e.cached for e in first.embeddings.values())
    assert len(list((tmp_path / "embeddings").glob("*.npz"))) == 2
    start = time.perf_counter()
    second = embed_layers(acts, method="tsne", cache_dir=tmp_path, **FAST_TSNE)
    assert time.perf_counter() - start < 1.0
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


def test_perplexity_too_large_is_adapted_with_a_warning():
    x, _ = blobs(n=20)
    with pytest.warns(UserWarning, match="perplexity 30 is too large for 20 points"):
        coords = embed(x, "tsne", 2, **FAST_TSNE)
    assert coords.shape == (20, 2) and np.isfinite(coords).all()
    acts = layered_acts(n=20, n_layers=1)
    with pytest.warns(UserWarning, match="perplexity"):
        result = embed_layers(acts, method="tsne", use_cache=False, **FAST_TSNE)
    assert result.get(1, "l0").params["perplexity"] == pytest.approx(6.33)


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
    ],
)
def test_bad_input_gives_clear_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        embed(x, **kwargs)


def test_3d_from_too_few_features_is_handled():
    x, _ = blobs(dim=2)
    with pytest.warns(UserWarning, match="only 2 axes"):
        coords = embed(x, "pca", 3)
    assert np.array_equal(coords[:, 2], np.zeros(len(x), np.float32))
    coords = embed(x, "tsne", 3, **FAST_TSNE)  # t-SNE can: random start instead of PCA
    assert coords.shape == (len(x), 3) and np.ptp(coords, axis=0).min() > 0


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


def test_layer_grid_outputs(tmp_path):
    acts = layered_acts(n_layers=3)
    probes = run_probes(acts, cv=3)
    for dims in (2, 3):
        result = embed_layers(acts, method="pca", dims=dims)
        png = plot_layer_grid(result, acts.labels, ["a", "b", "c", "d"], probes=probes, path=tmp_path / f"g{dims}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    figure = plot_layer_grid(result, acts.labels)
    titles = [ax.get_title() for ax in figure.axes]
    assert any(title.startswith("l0 (16-d)") for title in titles)


@pytest.mark.slow
def test_umap_is_reproducible_and_places_the_rest():
    """UMAP tests are few: numba compiles ~10 s per process."""
    acts = layered_acts(n=150, n_layers=2)
    first = embed_layers(acts, method="umap", n_epochs=50, max_points=100, use_cache=False)
    second = embed_layers(acts, method="umap", n_epochs=50, max_points=100, use_cache=False)
    for key, item in first.embeddings.items():
        assert item.coords.shape == (150, 2) and np.isfinite(item.coords).all()
        assert len(item.embedded_idx) == 100 and item.params["n_neighbors"] == 15
        np.testing.assert_array_equal(item.coords, second.embeddings[key].coords)
        assert item.trustworthiness > 0.7


@pytest.mark.slow
def test_aligned_umap_sequence():
    acts = layered_acts(n=120, n_layers=3)
    aligned = embed_layers(acts, method="umap", alignment="aligned_umap", n_epochs=50, max_points=100, use_cache=False)
    assert list(aligned.embeddings) == [(1, "l0"), (1, "l1"), (1, "l2")]
    for item in aligned.embeddings.values():
        assert item.params["alignment"] == "aligned_umap" and len(item.embedded_idx) == 100
        assert item.coords.shape == (120, 2) and np.isfinite(item.coords).all()
    independent = embed_layers(acts, method="umap", alignment="none", n_epochs=50, use_cache=False)
    assert mean_displacement(aligned) < mean_displacement(independent)


def test_large_layers_are_subsampled_by_default_and_it_is_said(monkeypatch):
    import ibviewer.core.embedding as embedding

    monkeypatch.setattr(embedding, "AUTO_MAX_POINTS", 120)  # stands in for 50,000 (10^6 points would take hours)
    acts = layered_acts(n=300, n_layers=1)
    with pytest.warns(UserWarning, match="seeded subset of 120 of the 300 points"):
        item = embed_layers(acts, method="tsne", **FAST_TSNE).get(1, "l0")
    assert item.subsampled and len(item.embedded_idx) == 120 and item.coords.shape == (300, 2)
    assert not embed_layers(acts, method="tsne", max_points=300, **FAST_TSNE).get(1, "l0").subsampled  # asked for all
