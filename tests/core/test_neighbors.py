"""Exact neighbours: equal to brute force for every metric; across-layer overlaps; changed points."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.neighbors import NeighborCache, NeighborIndex, exact_knn, find_neighbors, knn_overlap, most_changed_points
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import ActivationError, EstimatorError


def brute_force(x: np.ndarray, index: int, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    x64 = x.astype(np.float64)
    q = x64[index]
    if metric == "euclidean":
        d = np.sqrt(((x64 - q) ** 2).sum(axis=1))
    elif metric == "cosine":
        d = 1.0 - (x64 @ q) / (np.linalg.norm(x64, axis=1) * np.linalg.norm(q))
    else:
        d = -(x64 @ q)
    d[index] = np.inf
    order = np.lexsort((np.arange(len(d)), d))[:k]
    return order, d[order]


def make_acts(n: int = 300, seed: int = 0) -> ActivationSet:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 8))
    values = {
        "a": base[None].astype(np.float32),
        "b": (base + 0.1 * rng.normal(size=base.shape))[None].astype(np.float32),  # nearly the same space
        "c": rng.normal(size=(1, n, 8)).astype(np.float32),  # unrelated
    }
    layers = tuple(LayerInfo(name, name, (8,), 8) for name in values)
    return ActivationSet(layers, (5,), values, np.zeros(n, np.int64), np.arange(n, dtype=np.int64) + 1000, key="n")


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
def test_query_equals_brute_force(metric):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 40)).astype(np.float32)
    index = NeighborIndex(x, metric)
    for i in (0, 17, 499):
        for k in (1, 10, 499):
            idx, dist = index.query(i, k)
            expected_idx, expected_dist = brute_force(x, i, k, metric)
            np.testing.assert_array_equal(idx, expected_idx)
            np.testing.assert_allclose(dist, expected_dist, rtol=1e-9, atol=1e-9)
            assert i not in idx
    all_idx, all_dist = exact_knn(x, 7, metric)
    for i in (3, 250):
        np.testing.assert_array_equal(all_idx[i], brute_force(x, i, 7, metric)[0])


def test_query_k_limits_and_bad_index():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    index = NeighborIndex(x)
    with pytest.warns(UserWarning, match="using k=19"):
        idx, _ = index.query(0, 50)
    assert len(idx) == 19
    with pytest.raises(EstimatorError, match="out of range"):
        index.query(20, 3)
    with pytest.raises(EstimatorError, match="1000"):
        index.query(0, 1001)
    with pytest.raises(EstimatorError, match="metric"):
        NeighborIndex(x, "manhattan")
    with pytest.raises(ActivationError, match="NaN"):
        NeighborIndex(np.array([[np.nan, 1.0], [1.0, 2.0]]))


def test_cosine_handles_zero_vectors_and_duplicates():
    x = np.array([[0, 0], [1, 0], [2, 0], [0, 1], [1, 0]], np.float32)
    idx, dist = NeighborIndex(x, "cosine").query(1, 4)
    assert list(idx[:2]) == [2, 4] and np.allclose(dist[:2], 0)  # same direction, ties by index
    assert list(idx[2:]) == [0, 3] and np.allclose(dist[2:], 1)  # the zero vector counts as orthogonal


def test_find_neighbors_reports_every_layer_and_the_overlap():
    acts = make_acts()
    result = find_neighbors(acts, None, 10, k=15)
    assert result.layers == ("a", "b", "c") and result.epoch == 5 and result.layer == "c" and result.k == 15
    for name in ("a", "b", "c"):
        assert len(result.indices[name]) == 15 and 10 not in result.indices[name]
        assert list(result.distances[name]) == sorted(result.distances[name])
        # exact: the same neighbours as a brute-force float64 search
        x = acts.layer(name, 5).astype(np.float64)
        d = ((x - x[10]) ** 2).sum(axis=1)
        d[10] = np.inf
        assert set(result.indices[name].tolist()) == set(np.argsort(d, kind="stable")[:15].tolist())
    overlaps = {(a, b): j for a, b, j in result.consecutive_jaccard()}
    assert overlaps[("a", "b")] > 0.4 and overlaps[("b", "c")] < 0.2
    a, b = set(result.indices["a"].tolist()), set(result.indices["b"].tolist())
    assert result.overlap("b", "a") == len(a & b)
    assert overlaps[("a", "b")] == pytest.approx(len(a & b) / len(a | b))


def test_find_neighbors_with_a_cache_gives_the_same_answer_and_reuses_indexes():
    acts = make_acts()
    cache = NeighborCache(max_items=2)
    first = find_neighbors(acts, 5, 3, layer="a", k=4, cache=cache, layers=["a", "b"])
    again = find_neighbors(acts, 5, 3, layer="a", k=4, cache=cache, layers=["a", "b"])
    plain = find_neighbors(acts, 5, 3, layer="a", k=4, layers=["a", "b"])
    assert first.focus_indices.tolist() == again.focus_indices.tolist() == plain.focus_indices.tolist()
    assert cache.get(acts, 5, "a", "euclidean") is cache.get(acts, 5, "a", "euclidean")
    with pytest.raises(EstimatorError, match="out of range"):
        find_neighbors(acts, 5, acts.n_samples, k=3)
    with pytest.raises(EstimatorError, match="not among"):
        find_neighbors(acts, 5, 0, layer="z", k=3)


def test_most_changed_points_finds_a_moved_point():
    acts = make_acts()
    moved = acts.values["b"].copy()
    moved[0, 42] = moved[0, 7] + 0.01  # sample 42 jumps next to sample 7 in layer b
    acts.values["b"] = moved
    result = most_changed_points(acts, 5, "a", "b", k=10, top=5)
    assert result["indices"][0] == 42 and result["jaccard"][0] < 0.1
    assert len(result["jaccard_all"]) == acts.n_samples
    assert result["jaccard"] == sorted(result["jaccard"])


def test_knn_overlap_is_one_for_the_same_space():
    x = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
    np.testing.assert_array_equal(knn_overlap(x, x * 3 + 1, 5), np.ones(100, np.float32))
    assert knn_overlap(x, np.random.default_rng(1).normal(size=(100, 2)), 5).mean() < 0.3
