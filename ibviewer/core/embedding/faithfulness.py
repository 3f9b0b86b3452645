"""How faithful an embedding is to its layer: trustworthiness, and per-point k-NN overlap.

The overlap itself is :func:`ibviewer.core.neighbors.knn_overlap` (exact neighbours, shared
with the neighbour views); `faithfulness` is what each panel of `embed_layers` records.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from ibviewer.core.embedding.checks import as_activations
from ibviewer.core.embedding.knn import neighbor_table
from ibviewer.core.embedding.preprocessing import preprocess
from ibviewer.core.neighbors import exact_knn, knn_overlap
from ibviewer.core.types import FloatArray
from ibviewer.errors import EstimatorError

__all__ = ["FAITHFULNESS_K", "MAX_TRUST_QUERIES", "MAX_OVERLAP_POINTS", "trustworthiness", "faithfulness"]

logger = logging.getLogger(__name__)

FAITHFULNESS_K = 10
MAX_TRUST_QUERIES = 1000
MAX_OVERLAP_POINTS = 20_000


def trustworthiness(
    x_high: np.ndarray,
    x_low: np.ndarray,
    k: int = FAITHFULNESS_K,
    *,
    max_queries: int | None = MAX_TRUST_QUERIES,
    seed: int = 0,
    metric: Literal["euclidean", "cosine"] = "euclidean",
) -> float:
    """Trustworthiness of an embedding (Venna & Kaski), estimated from a subset of points.

    Parameters
    ----------
    x_high : ndarray
        (n_samples, n_features) original space.
    x_low : ndarray
        (n_samples, dims) embedding.
    k : int, default=10
        Must be below n_samples / 2.
    max_queries : int or None, default=1000
        Penalties are summed over a seeded random subset of this many points (each
        ranked against *all* points), then scaled by n / max_queries: an unbiased
        estimate of the full sum. None or a value >= n gives exactly scikit-learn's
        ``trustworthiness``. Cost O(max_queries * n * n_features) instead of O(n^2).
    seed : int, default=0
    metric : {"euclidean", "cosine"}
        Distance in the original space (the embedding is always Euclidean).

    Returns
    -------
    float
        In [0, 1]; 1 means no embedding neighbour is a stranger in the original space.
    """
    high = as_activations(x_high)
    low = as_activations(x_low)
    n = high.shape[0]
    if low.shape[0] != n:
        raise EstimatorError(f"x_high has {n} samples but x_low has {low.shape[0]}.")
    if not 1 <= k < n / 2:
        raise EstimatorError(f"trustworthiness needs 1 <= k < n_samples/2; got k={k} for {n} samples.")
    if max_queries is None or max_queries >= n:
        queries = np.arange(n)
    else:
        queries = np.sort(np.random.default_rng(seed).choice(n, size=int(max_queries), replace=False))
    low_idx, _ = exact_knn(low, k, rows=queries)
    h = high.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(h, axis=1, keepdims=True)
        h = h / np.where(norms > 0, norms, 1.0)
    sq = (h**2).sum(axis=1)
    penalty = 0.0
    block = max(1, (1 << 19) // n)  # ~4 MB blocks: numpy's fancy indexing below holds the GIL per block
    for start in range(0, len(queries), block):
        rows = queries[start : start + block]
        d2 = sq[rows, None] + sq[None, :] - 2.0 * (h[rows] @ h.T)
        d2[np.arange(len(rows)), rows] = np.inf
        order = np.argsort(d2, axis=1, kind="stable")
        ranks = np.empty_like(order)
        ranks[np.arange(len(rows))[:, None], order] = np.arange(1, n + 1)
        excess = np.take_along_axis(ranks, low_idx[start : start + block], axis=1) - k
        penalty += float(excess[excess > 0].sum())
    penalty *= n / len(queries)
    return float(1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


def faithfulness(
    features: FloatArray, coords: FloatArray, metric: str, seed: int, k: int = FAITHFULNESS_K
) -> tuple[float | None, FloatArray | None]:
    """Trustworthiness and per-point k-NN overlap of one panel, or (None, None) where undefined.

    ``features`` is the preprocessed layer space (n_samples, n_features), ``coords`` the
    embedding; ``metric`` the method's (cosine is measured as such, anything else as
    Euclidean). The overlap is skipped (None) above `MAX_OVERLAP_POINTS` points.
    """
    n = features.shape[0]
    k = min(k, (n - 1) // 2)
    if k < 1 or float(np.ptp(coords, axis=0).max()) == 0.0:
        return None, None
    high_metric = metric if metric in ("euclidean", "cosine") else "euclidean"
    trust = trustworthiness(features, coords, k, seed=seed, metric=high_metric)  # type: ignore[arg-type]
    overlap = None
    if n <= MAX_OVERLAP_POINTS:
        high = preprocess(features, "l2") if high_metric == "cosine" else features
        # the layer's neighbours are usually known already (t-SNE's affinities searched them)
        overlap = knn_overlap(high, coords, k, high_neighbors=neighbor_table(high, k).indices)
    else:
        logger.info("knn overlap skipped: %d points is more than %d", n, MAX_OVERLAP_POINTS)
    return trust, overlap
