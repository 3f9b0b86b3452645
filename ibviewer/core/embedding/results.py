"""What embedding produces: a t-SNE layout still moving, one embedded panel, and a run's set of panels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ibviewer.core.config import METHODS
from ibviewer.core.types import FloatArray, IntArray

__all__ = ["PartialEmbedding", "LayerEmbedding", "EmbeddingSet"]


@dataclass(frozen=True, eq=False)
class PartialEmbedding:
    """A t-SNE embedding still being optimised (for the GUI to animate).

    Attributes
    ----------
    layer : str or None
    epoch : int or None
    coords : ndarray of float32
        (n_embedded, dims) positions of the points in ``embedded_idx`` so far.
    iteration : int
        Iterations done, counting early exaggeration.
    n_iter : int
        Iterations planned in total.
    embedded_idx : ndarray of int64
        Rows the coordinates belong to.
    """

    layer: str | None
    epoch: int | None
    coords: FloatArray
    iteration: int
    n_iter: int = 0
    embedded_idx: IntArray | None = None


@dataclass(frozen=True, eq=False)
class LayerEmbedding:
    """One layer at one epoch, embedded.

    Attributes
    ----------
    layer : str
    epoch : int
    coords : ndarray of float32
        (n_samples, dims), every sample of the activation set.
    method : {"tsne", "umap", "pca"}
    dims : {2, 3}
    params : dict
        Effective parameters (after any adaptation, e.g. a lowered perplexity),
        plus ``preprocessing``, ``pca_dims``, ``alignment`` and ``max_points``.
    seed : int
    embedded_idx : ndarray of int64
        Rows embedded directly; the others were placed into that embedding afterwards
        (openTSNE ``transform``, UMAP ``transform``, or the median of the nearest embedded
        neighbours for AlignedUMAP). Equals ``arange(n_samples)`` without subsampling.
    trustworthiness : float or None
        Trustworthiness at k=10 (estimated from up to 1000 query points), None when undefined.
    knn_overlap : ndarray of float32 or None
        (n_samples,) per point, the fraction of its 10 nearest neighbours in the layer's
        (preprocessed) space that are also among its 10 nearest in the embedding.
    n_features : int
        The layer's dimension.
    cached : bool
        True when this came from the disk cache.
    """

    layer: str
    epoch: int
    coords: FloatArray
    method: str
    dims: int
    params: dict[str, Any]
    seed: int
    embedded_idx: IntArray
    trustworthiness: float | None = None
    knn_overlap: FloatArray | None = None
    n_features: int = 0
    cached: bool = False

    @property
    def n_samples(self) -> int:
        return int(self.coords.shape[0])

    @property
    def subsampled(self) -> bool:
        return len(self.embedded_idx) < self.n_samples


@dataclass(frozen=True, eq=False)
class EmbeddingSet:
    """Every (epoch, layer) embedding of one run with the same settings.

    Attributes
    ----------
    method, dims, seed, params, alignment
        The settings (``params`` holds the user's parameters, preprocessing and pca_dims).
    epochs : tuple of int
        In training order.
    layers : tuple of str
        In network order.
    embeddings : dict of (int, str) to LayerEmbedding
    """

    method: str
    dims: int
    seed: int
    params: dict[str, Any]
    alignment: str
    epochs: tuple[int, ...]
    layers: tuple[str, ...]
    embeddings: dict[tuple[int, str], LayerEmbedding] = field(default_factory=dict)

    def get(self, epoch: int, layer: str) -> LayerEmbedding:
        """The embedding of ``layer`` at ``epoch``."""
        try:
            return self.embeddings[(int(epoch), layer)]
        except KeyError:
            raise KeyError(
                f"No embedding for layer {layer!r} at epoch {epoch}; "
                f"embedded epochs {list(self.epochs)}, layers {list(self.layers)}."
            ) from None

    def describe(self) -> str:
        """One line for figure titles: method, dims, parameters, alignment, seed."""
        shown = {k: v for k, v in self.params.items() if v is not None and v != "none"}
        text = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
        label = METHODS.get(self.method, self.method)
        return f"{label} {self.dims}D ({text}{', ' if text else ''}alignment={self.alignment}, seed={self.seed})"
