"""Exact nearest neighbours in a layer's own (high-dimensional) space, and how they change across layers.

Everything here is exact brute force with matrix products: at the sizes a viewer shows
(up to a few 10,000 points) a matrix-vector product over precomputed norms answers one
click in a few milliseconds, and an index structure would only add approximation.
Candidates are picked in float32 and their distances recomputed in float64 before the
final sort, so results equal a float64 brute-force computation (ties broken by index).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import ActivationError, EstimatorError

__all__ = [
    "Metric",
    "METRICS",
    "NeighborIndex",
    "exact_knn",
    "Neighborhood",
    "NeighborCache",
    "find_neighbors",
    "most_changed_points",
    "jaccard",
    "knn_overlap",
]

logger = logging.getLogger(__name__)

Metric = Literal["euclidean", "cosine", "dot"]
METRICS: tuple[str, ...] = ("euclidean", "cosine", "dot")

MAX_K = 1000
# extra float32 candidates re-ranked in float64, so rounding never changes the k chosen
_MARGIN = 16
# rows per block in all-points searches: bounds the (block, n) distance matrix to ~4 MB and the
# time each block's fancy indexing holds the GIL (other threads, a GUI's among them, wait on it)
_BLOCK_ELEMENTS = 1 << 19


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise EstimatorError(f"Unknown neighbour metric {metric!r}; choose one of {', '.join(METRICS)}.")


def _as_matrix(x: np.ndarray, what: str = "activations") -> np.ndarray:
    array = np.asarray(x)
    if array.ndim != 2:
        raise ActivationError(f"{what} must be a 2-D (n_samples, n_features) array, got shape {array.shape}.")
    if array.shape[0] < 2:
        raise ActivationError(f"{what} hold {array.shape[0]} sample(s); neighbours need at least 2.")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        n_bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise ActivationError(
            f"{what} contain NaN or infinite values in {n_bad} sample(s); re-extract them or drop those samples."
        )
    return array


def _check_k(k: int, n_samples: int) -> int:
    k = int(k)
    if k < 1:
        raise EstimatorError(f"k must be at least 1, got {k}.")
    if k > MAX_K:
        raise EstimatorError(f"k={k} is more than the {MAX_K} neighbours supported; choose a smaller k.")
    if k > n_samples - 1:
        warnings.warn(
            f"k={k} is more than the {n_samples - 1} other samples; using k={n_samples - 1}.",
            stacklevel=3,
        )
        k = n_samples - 1
    return k


class _Prepared:
    """Data plus the per-row quantities each metric needs (norms computed once)."""

    def __init__(self, x: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.x = x
        norms64 = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
        self.norms64 = norms64
        if metric == "euclidean":
            self.sq_norms = (norms64**2).astype(np.float32)
        elif metric == "cosine":
            safe = np.where(norms64 > 0, norms64, 1.0)
            # zero vectors have no direction: similarity 0 to everything (distance 1)
            self.unit = (x / safe[:, None].astype(np.float32)).astype(np.float32)

    def approx_block(self, rows: np.ndarray) -> np.ndarray:
        """float32 distances from ``rows`` to every point, (len(rows), n)."""
        if self.metric == "euclidean":
            d2 = self.sq_norms[rows, None] + self.sq_norms[None, :] - 2.0 * (self.x[rows] @ self.x.T)
            return np.maximum(d2, 0.0, out=d2)  # squared: same order, no sqrt needed to rank
        if self.metric == "cosine":
            return 1.0 - self.unit[rows] @ self.unit.T
        return -(self.x[rows] @ self.x.T)

    def exact(self, row: int, candidates: np.ndarray) -> np.ndarray:
        """float64 distances from one row to some candidates."""
        q = self.x[row].astype(np.float64)
        c = self.x[candidates].astype(np.float64)
        if self.metric == "euclidean":
            return np.sqrt(((c - q) ** 2).sum(axis=1))
        dots = c @ q
        if self.metric == "cosine":
            denom = self.norms64[candidates] * self.norms64[row]
            sims = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
            return 1.0 - sims
        return -dots


def _select(prep: _Prepared, rows: np.ndarray, approx: np.ndarray, k: int) -> tuple[IntArray, np.ndarray]:
    """The k nearest (self excluded) for each row of a block of approximate distances."""
    n = approx.shape[1]
    approx[np.arange(len(rows)), rows] = np.inf
    n_cand = min(k + _MARGIN, n - 1)
    if n_cand < n:
        cand = np.argpartition(approx, n_cand - 1, axis=1)[:, :n_cand]
    else:
        cand = np.broadcast_to(np.arange(n), approx.shape)
    out_idx = np.empty((len(rows), k), dtype=np.int64)
    out_dist = np.empty((len(rows), k), dtype=np.float64)
    for i, row in enumerate(rows):
        c = cand[i][cand[i] != row]
        d = prep.exact(int(row), c)
        order = np.lexsort((c, d))[:k]
        out_idx[i] = c[order]
        out_dist[i] = d[order]
    return out_idx, out_dist


def exact_knn(
    x: np.ndarray,
    k: int,
    metric: Metric = "euclidean",
    rows: np.ndarray | None = None,
) -> tuple[IntArray, np.ndarray]:
    """Exact k nearest neighbours of many points, each point excluded from its own list.

    Parameters
    ----------
    x : ndarray
        (n_samples, n_features) points.
    k : int
        Neighbours per point (clipped to ``n_samples - 1`` with a warning).
    metric : {"euclidean", "cosine", "dot"}
        ``cosine`` distance is ``1 - cos``; ``dot`` distance is ``-x_i . x_j`` (larger dot is nearer).
    rows : ndarray of int, optional
        Only these points' neighbours (among all points); default all.

    Returns
    -------
    indices : ndarray of int64
        (n_rows, k), nearest first.
    distances : ndarray of float64
        (n_rows, k).

    Notes
    -----
    Cost is O(n_rows * n_samples * n_features) in blocks of about 64 MB.
    """
    _check_metric(metric)
    array = _as_matrix(x)
    n = array.shape[0]
    k = _check_k(k, n)
    prep = _Prepared(array, metric)
    rows_arr = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // n)
    all_idx = np.empty((len(rows_arr), k), dtype=np.int64)
    all_dist = np.empty((len(rows_arr), k), dtype=np.float64)
    for start in range(0, len(rows_arr), block):
        chunk = rows_arr[start : start + block]
        idx, dist = _select(prep, chunk, prep.approx_block(chunk), k)
        all_idx[start : start + len(chunk)] = idx
        all_dist[start : start + len(chunk)] = dist
    return all_idx, all_dist


class NeighborIndex:
    """Answers "the k nearest samples to sample i" exactly, in a layer's own space.

    Parameters
    ----------
    x : ndarray
        (n_samples, n_features) activations of one layer at one epoch.
    metric : {"euclidean", "cosine", "dot"}, default="euclidean"
        ``cosine`` distance is ``1 - cos`` (zero vectors are at distance 1 from all);
        ``dot`` distance is ``-x_i . x_j``.

    Notes
    -----
    Building precomputes the norms (one pass over ``x``); each query is one
    matrix-vector product, a partial sort and a float64 re-rank of ``k + 16``
    candidates: about 2-5 ms for 10,000 x 512 float32 points.
    """

    def __init__(self, x: np.ndarray, metric: Metric = "euclidean") -> None:
        _check_metric(metric)
        self.metric = metric
        self._prep = _Prepared(_as_matrix(x), metric)

    @property
    def n_samples(self) -> int:
        return int(self._prep.x.shape[0])

    def query(self, index: int, k: int = 10) -> tuple[IntArray, np.ndarray]:
        """The k nearest neighbours of sample ``index``, excluding itself.

        Parameters
        ----------
        index : int
            Row of the sample.
        k : int, default=10
            Up to 1000 (clipped to ``n_samples - 1`` with a warning).

        Returns
        -------
        indices : ndarray of int64
            (k,), nearest first; equal distances are ordered by index.
        distances : ndarray of float64
            (k,) in the metric's units.

        Raises
        ------
        EstimatorError
            ``index`` out of range or ``k`` < 1 or > 1000.
        """
        n = self.n_samples
        if not 0 <= int(index) < n:
            raise EstimatorError(f"Sample index {index} is out of range; this layer has {n} samples (0..{n - 1}).")
        k = _check_k(k, n)
        rows = np.array([int(index)])
        idx, dist = _select(self._prep, rows, self._prep.approx_block(rows), k)
        return idx[0], dist[0]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a ∪ b| of two index sets (1.0 for two empty sets)."""
    set_a, set_b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    union = set_a | set_b
    return len(set_a & set_b) / len(union) if union else 1.0


def _layer_names(acts: ActivationSet, layers: Sequence[str] | None) -> list[str]:
    names = list(acts.layer_names if layers is None else layers)
    missing = [name for name in names if name not in acts.values]
    if missing:
        raise EstimatorError(f"Unknown layer(s) {missing}; this run has {list(acts.layer_names)}.")
    if not names:
        raise EstimatorError("No layers to search; this run has none captured.")
    return names


@dataclass(frozen=True, eq=False)
class Neighborhood:
    """The k nearest neighbours of one sample in every layer's original space at one epoch.

    What the GUI's neighbour panel shows, what ``ibviewer analyze --select`` writes and
    what the API returns: one type for all three.

    Attributes
    ----------
    row : int
        Row of the sample in the activation set (its dataset index is ``sample_idx[row]``).
    layer : str
        The layer the sample was chosen in (the "focus" layer).
    epoch : int
    k : int
        Neighbours per layer (after clipping to ``n_samples - 1``).
    metric : {"euclidean", "cosine", "dot"}
    layers : tuple of str
        Every searched layer, in network order.
    indices, distances : dict of str to ndarray
        ``(k,)`` rows (int64) and distances (float64) per layer, nearest first, the sample
        itself excluded.
    """

    row: int
    layer: str
    epoch: int
    k: int
    metric: str
    layers: tuple[str, ...]
    indices: dict[str, IntArray]
    distances: dict[str, np.ndarray]

    @property
    def focus_indices(self) -> IntArray:
        return self.indices[self.layer]

    @property
    def focus_distances(self) -> np.ndarray:
        return self.distances[self.layer]

    def overlap(self, layer: str, other: str | None = None) -> int:
        """How many of ``other``'s (default: the focus layer's) k neighbours are also among ``layer``'s."""
        reference = self.indices[self.layer if other is None else other]
        return int(np.intersect1d(reference, self.indices[layer]).size)

    def jaccard(self, layer: str, other: str) -> float:
        """|A ∩ B| / |A ∪ B| of the two layers' neighbour sets."""
        return jaccard(self.indices[layer], self.indices[other])

    def consecutive_jaccard(self) -> list[tuple[str, str, float]]:
        """``(layer, next layer, jaccard)`` for each pair of consecutive layers: how much the neighbourhood changes."""
        return [(a, b, self.jaccard(a, b)) for a, b in zip(self.layers, self.layers[1:])]


class NeighborCache:
    """Exact `NeighborIndex` objects per (activations, epoch, layer, metric), shared between threads.

    Building an index is one pass over a layer; keeping the last few makes repeated clicks
    in the same epoch answer in milliseconds. Least recently built entries go first.
    """

    def __init__(self, max_items: int = 16) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[Any, ...], NeighborIndex] = {}
        self._max_items = max_items

    def get(self, acts: ActivationSet, epoch: int, layer: str, metric: Metric) -> NeighborIndex:
        key = (acts.key, int(epoch), layer, metric)
        with self._lock:
            index = self._items.get(key)
        if index is None:
            index = NeighborIndex(acts.layer(layer, epoch), metric)
            with self._lock:
                if len(self._items) >= self._max_items:
                    self._items.pop(next(iter(self._items)))
                self._items[key] = index
        return index


def find_neighbors(
    acts: ActivationSet,
    epoch: int | None,
    row: int,
    *,
    layer: str | None = None,
    k: int = 10,
    metric: Metric = "euclidean",
    layers: Sequence[str] | None = None,
    cache: NeighborCache | None = None,
    progress: Progress = NULL_PROGRESS,
) -> Neighborhood:
    """A sample's k nearest neighbours in every layer's own space, and how they change layer by layer.

    Parameters
    ----------
    acts : ActivationSet
        The run's activations.
    epoch : int or None
        Saved epoch (None: the last).
    row : int
        Row of the sample in ``acts`` (not its dataset index).
    layer : str, optional
        The layer the sample was chosen in (default: the last searched layer).
    k : int, default=10
        Neighbours per layer (1..1000; clipped to ``n_samples - 1``).
    metric : {"euclidean", "cosine", "dot"}
    layers : sequence of str, optional
        Default: every layer in network order.
    cache : NeighborCache, optional
        Indexes kept between calls (the GUI keeps one); built here when missing.
    progress : Progress
        One update per layer; cancellable between layers.

    Returns
    -------
    Neighborhood

    Raises
    ------
    EstimatorError
        Unknown layer or metric, ``row`` out of range, ``k`` out of range.
    """
    _check_metric(metric)
    names = _layer_names(acts, layers)
    focus = names[-1] if layer is None else layer
    if focus not in names:
        raise EstimatorError(f"Layer {focus!r} is not among the searched layers {names}.")
    epoch_value = acts.epochs[-1] if epoch is None else int(epoch)
    if epoch_value not in acts.epochs:
        raise EstimatorError(f"Epoch {epoch_value} is not saved in this run; saved epochs: {list(acts.epochs)}.")
    if not 0 <= int(row) < acts.n_samples:
        raise EstimatorError(f"Sample row {row} is out of range; this run has {acts.n_samples} samples (0..{acts.n_samples - 1}).")
    k = _check_k(k, acts.n_samples)
    indices: dict[str, IntArray] = {}
    distances: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        progress.check_cancelled()
        index = cache.get(acts, epoch_value, name, metric) if cache is not None else NeighborIndex(acts.layer(name, epoch_value), metric)
        idx, dist = index.query(int(row), k)
        indices[name] = np.asarray(idx, dtype=np.int64)
        distances[name] = np.asarray(dist, dtype=np.float64)
        progress.update((i + 1) / len(names), f"neighbours in {name}")
    return Neighborhood(int(row), focus, epoch_value, k, metric, tuple(names), indices, distances)


def most_changed_points(
    acts: ActivationSet,
    epoch: int | None,
    layer_a: str,
    layer_b: str,
    k: int = 10,
    metric: Metric = "euclidean",
    top: int = 20,
) -> dict[str, Any]:
    """The samples whose neighbourhoods change most between two layers.

    Parameters
    ----------
    acts : ActivationSet
    epoch : int or None
        Saved epoch (None: the last).
    layer_a, layer_b : str
        The two layers compared.
    k : int, default=10
        Neighbourhood size.
    metric : {"euclidean", "cosine", "dot"}
    top : int, default=20
        How many samples to return.

    Returns
    -------
    dict
        ``indices`` (the ``top`` rows with the lowest Jaccard overlap of their k-neighbour
        sets, lowest first, ties by index), their ``dataset_indices`` and ``jaccard``, plus
        ``jaccard_all`` ((n_samples,) list, for colouring) and the settings.

    Notes
    -----
    Computes every sample's exact neighbours in both layers: O(n^2 * dim), about a
    second for 10,000 samples.
    """
    _check_metric(metric)
    _layer_names(acts, [layer_a, layer_b])
    epoch_value = acts.epochs[-1] if epoch is None else int(epoch)
    idx_a, _ = exact_knn(acts.layer(layer_a, epoch_value), k, metric)
    idx_b, _ = exact_knn(acts.layer(layer_b, epoch_value), k, metric)
    k_used = idx_a.shape[1]
    n_shared = _shared_counts(idx_a, idx_b)
    jaccard_all = n_shared / (2 * k_used - n_shared)
    order = np.lexsort((np.arange(len(jaccard_all)), jaccard_all))[: max(0, int(top))]
    return {
        "epoch": epoch_value,
        "layer_a": layer_a,
        "layer_b": layer_b,
        "k": k_used,
        "metric": metric,
        "indices": order.tolist(),
        "dataset_indices": acts.sample_idx[order].tolist(),
        "jaccard": jaccard_all[order].tolist(),
        "jaccard_all": jaccard_all.astype(np.float32).tolist(),
    }


def _shared_counts(idx_a: IntArray, idx_b: IntArray) -> np.ndarray:
    """Per row, how many indices two (n, k) neighbour tables share (rows hold no repeats)."""
    both = np.sort(np.concatenate([idx_a, idx_b], axis=1), axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1)


def knn_overlap(x_high: np.ndarray, x_low: np.ndarray, k: int = 10, high_neighbors: IntArray | None = None) -> FloatArray:
    """Per point, the fraction of its k nearest neighbours shared by two spaces (Euclidean).

    Parameters
    ----------
    x_high, x_low : ndarray
        (n_samples, d1) and (n_samples, d2): e.g. a layer and its 2-D embedding.
    k : int, default=10
    high_neighbors : ndarray of int, optional
        (n_samples, k) the exact neighbours in ``x_high`` when already known (not searched again).

    Returns
    -------
    ndarray of float32
        (n_samples,) values in [0, 1].
    """
    idx_high = high_neighbors if high_neighbors is not None else exact_knn(x_high, k)[0]
    idx_low, _ = exact_knn(x_low, k)
    return (_shared_counts(idx_high, idx_low) / idx_high.shape[1]).astype(np.float32)
