"""Exact neighbour tables of a representation, computed once and shared by everything that needs them.

t-SNE's affinities (3 x perplexity neighbours), UMAP's graph (``n_neighbors``) and a panel's
faithfulness (10 neighbours in the layer) all start from the k nearest neighbours of the same
points. `neighbor_table` computes them exactly (:func:`ibviewer.core.neighbors.exact_knn`) and
keeps the largest table asked for per content in a process-wide, size-bounded store, so a
second consumer slices the first one's table instead of searching again: the faithfulness of a
t-SNE panel, the 3-D embedding of a layer after the 2-D one, another seed, UMAP after t-SNE.

Tables are keyed by the bytes of the points and the metric, never by where they came from, so
sharing needs no bookkeeping and cannot mix up two layers. They are kept in memory only: a
table costs more disk than the panels it speeds up, and every panel result is cached on disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ibviewer.core.cache import hash_arrays
from ibviewer.core.types import FloatArray, IntArray

__all__ = ["EXACT_MAX_POINTS", "NeighborTable", "neighbor_table", "exact_supported", "clear_tables"]

#: Exact brute-force search costs O(n^2 * features): above this many points the methods use their
#: own approximate search (openTSNE's Annoy, UMAP's NN-descent). 50,000 x 50 features take ~5 s.
EXACT_MAX_POINTS = 50_000
#: The store keeps tables up to this many bytes in all (least recently used go first).
MAX_STORED_BYTES = 512 * 2**20

_EXACT_METRICS = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class NeighborTable:
    """The k nearest neighbours of every point, the point itself excluded.

    Attributes
    ----------
    indices : ndarray of int64
        (n_samples, k), nearest first; equal distances ordered by index.
    distances : ndarray of float64
        (n_samples, k) in the metric's units (Euclidean, or ``1 - cos``).
    metric : {"euclidean", "cosine"}
    """

    indices: IntArray
    distances: np.ndarray
    metric: str

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.distances.nbytes)

    def first(self, k: int) -> NeighborTable:
        """The k nearest of each row (a view; ``k`` at most `k`)."""
        if k > self.k:
            raise ValueError(f"this table holds {self.k} neighbours per point, not {k}")
        return NeighborTable(self.indices[:, :k], self.distances[:, :k], self.metric)


def exact_supported(metric: str, n_samples: int) -> bool:
    """Whether `neighbor_table` serves this metric and size (else a method searches on its own)."""
    return metric in _EXACT_METRICS and n_samples <= EXACT_MAX_POINTS


class _Store:
    """Tables by (content hash, metric), least recently used dropped beyond `MAX_STORED_BYTES`."""

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._tables: OrderedDict[tuple[str, str], NeighborTable] = OrderedDict()
        self.max_bytes = max_bytes

    def get(self, key: tuple[str, str], k: int) -> NeighborTable | None:
        with self._lock:
            table = self._tables.get(key)
            if table is None or table.k < k:
                return None
            self._tables.move_to_end(key)
            return table

    def put(self, key: tuple[str, str], table: NeighborTable) -> None:
        with self._lock:
            held = self._tables.get(key)
            if held is not None and held.k >= table.k:
                return  # another thread stored a table at least as large meanwhile
            self._tables[key] = table
            self._tables.move_to_end(key)
            while sum(t.nbytes for t in self._tables.values()) > self.max_bytes and len(self._tables) > 1:
                self._tables.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()


_STORE = _Store(MAX_STORED_BYTES)


def neighbor_table(points: np.ndarray, k: int, metric: str = "euclidean") -> NeighborTable:
    """The exact k nearest neighbours of every row of ``points``, shared with earlier callers.

    Parameters
    ----------
    points : ndarray
        (n_samples, n_features) float32.
    k : int
        Neighbours per point, below ``n_samples``.
    metric : {"euclidean", "cosine"}

    Returns
    -------
    NeighborTable
        Exactly k columns; a table computed earlier for the same points with a larger k is
        sliced, a smaller one is replaced by this one.
    """
    from ibviewer.core.neighbors import exact_knn

    array = np.ascontiguousarray(points, dtype=np.float32)
    key = (hash_arrays([array]), metric)
    table = _STORE.get(key, k)
    if table is None:
        indices, distances = exact_knn(array, k, metric)  # type: ignore[arg-type]
        table = NeighborTable(indices, distances, metric)
        _STORE.put(key, table)
    return table.first(k)


def clear_tables() -> None:
    """Forget every stored table (tests; or to free memory)."""
    _STORE.clear()


def as_float32(table: NeighborTable) -> tuple[IntArray, FloatArray]:
    """Indices and float32 distances, the layout UMAP's ``precomputed_knn`` wants."""
    return table.indices, table.distances.astype(np.float32)
