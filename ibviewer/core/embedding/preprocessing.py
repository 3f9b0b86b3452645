"""From activations to what a method embeds: preprocessing, PCA-before, the subset, the start layout.

`MethodInput` is what every method's ``run`` receives, so a method never sees the user's
settings, only the prepared arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ibviewer.core.config import PREPROCESSINGS
from ibviewer.core.embedding.checks import MIN_SAMPLES_NONLINEAR, check_choice
from ibviewer.core.types import FloatArray, IntArray
from ibviewer.errors import EstimatorError

__all__ = [
    "AUTO_MAX_POINTS",
    "AUTO_PCA_DIMS",
    "AUTO_PCA_ABOVE",
    "Preprocessing",
    "Handoff",
    "MethodInput",
    "preprocess",
    "effective_pca_dims",
    "effective_max_points",
    "reduce_dims",
    "subset",
    "usable_init",
]

logger = logging.getLogger(__name__)

Preprocessing = Literal["none", "center", "standardize", "l2"]  # the keys of config.PREPROCESSINGS

#: ``max_points=None`` embeds at most this many points with t-SNE/UMAP (a seeded subset; the rest are
#: placed into it afterwards), so a million samples never mean an hour-long optimisation.
AUTO_MAX_POINTS = 50_000
#: ``pca_dims="auto"`` reduces layers wider than `AUTO_PCA_ABOVE` features to `AUTO_PCA_DIMS`
#: principal components before t-SNE/UMAP: the neighbour search costs in proportion to the width,
#: and the components beyond 50 of a layer carry mostly noise for a 2-D picture.
AUTO_PCA_DIMS = 50
AUTO_PCA_ABOVE = 100


@dataclass(eq=False)
class Handoff:
    """What a method leaves for the panel aligned to its panel (in this process only).

    Attributes
    ----------
    points : ndarray or None
        The embedded rows as the method saw them (after preprocessing and PCA).
    affinities : object or None
        t-SNE's openTSNE affinities of those rows, reused when the next panel barely moved.
    """

    points: FloatArray | None = None
    affinities: object | None = None


@dataclass(frozen=True, eq=False)
class MethodInput:
    """One representation, prepared for a method's ``run(task, progress)``.

    Attributes
    ----------
    features : ndarray of float32
        (n_samples, n_features): preprocessed, and for t-SNE/UMAP reduced to ``pca_dims``.
    embedded_idx : ndarray of int64
        The rows to embed directly; a method places the others into that embedding afterwards.
    dims : {2, 3}
    seed : int
    params : dict
        Every parameter of the method (defaults filled in). A method writes what it had to
        adapt (a lowered perplexity) back here: these end up in `LayerEmbedding.params`.
    init : ndarray or None
        (len(embedded_idx), dims) centred start layout, or None for the method's own start.
    layer, epoch : str or None, int or None
        Where the representation comes from (for messages and `PartialEmbedding`).
    warm : bool
        ``init`` is the layout of these same points at a neighbouring epoch: optimise from it
        as it is (no early exaggeration) rather than only borrowing its arrangement.
    previous : Handoff or None
        What the method left when it embedded the panel ``init`` comes from.
    handoff : Handoff
        Filled by the method for the panel that will follow this one.
    """

    features: FloatArray
    embedded_idx: IntArray
    dims: int
    seed: int
    params: dict[str, Any]
    init: np.ndarray | None = None
    layer: str | None = None
    epoch: int | None = None
    warm: bool = False
    previous: Handoff | None = None
    handoff: Handoff = field(default_factory=Handoff)

    @property
    def where(self) -> str:
        """``"layer fc1: "`` to start a warning, or nothing for a bare array."""
        return f"layer {self.layer}: " if self.layer is not None else ""

    @property
    def n_samples(self) -> int:
        return int(self.features.shape[0])


def preprocess(x: np.ndarray, preprocessing: Preprocessing = "none") -> FloatArray:
    """Centre, standardise or L2-normalise activations before embedding.

    Parameters
    ----------
    x : ndarray
        (n_samples, n_features).
    preprocessing : {"none", "center", "standardize", "l2"}
        ``standardize`` leaves constant features at 0 (never divides by zero);
        ``l2`` leaves all-zero rows at 0.

    Returns
    -------
    ndarray of float32
        (n_samples, n_features).
    """
    check_choice("preprocessing", preprocessing, PREPROCESSINGS)
    array = np.asarray(x, dtype=np.float32)
    if preprocessing == "none":
        return array
    if preprocessing == "center":
        return (array - array.mean(axis=0, dtype=np.float64)).astype(np.float32)
    if preprocessing == "standardize":
        mean = array.mean(axis=0, dtype=np.float64)
        std = array.std(axis=0, dtype=np.float64)
        return ((array - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    norms = np.linalg.norm(array.astype(np.float64), axis=1, keepdims=True)
    return (array / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def effective_max_points(n_samples: int, max_points: int | None) -> int | None:
    """How many points are embedded directly: ``max_points``, or `AUTO_MAX_POINTS` above it when None."""
    if max_points is None and n_samples > AUTO_MAX_POINTS:
        return AUTO_MAX_POINTS
    return max_points


def effective_pca_dims(pca_dims: int | str | None, n_features: int) -> int | None:
    """The PCA dimension before t-SNE/UMAP: ``"auto"`` is `AUTO_PCA_DIMS` for layers wider than `AUTO_PCA_ABOVE`."""
    if pca_dims == "auto":
        return AUTO_PCA_DIMS if n_features > AUTO_PCA_ABOVE else None
    return None if pca_dims is None else int(pca_dims)


def subset(n_samples: int, max_points: int | None, seed: int) -> IntArray:
    """The rows embedded directly: all, or a seeded random subset (the same for every layer)."""
    if max_points is None or n_samples <= max_points:
        return np.arange(n_samples, dtype=np.int64)
    if max_points < MIN_SAMPLES_NONLINEAR:
        raise EstimatorError(f"max_points={max_points} is too small; use at least {MIN_SAMPLES_NONLINEAR}.")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, size=int(max_points), replace=False)).astype(np.int64)


def reduce_dims(features: FloatArray, pca_dims: int | str | None, seed: int) -> FloatArray:
    """PCA to ``pca_dims`` components before t-SNE/UMAP; unchanged when there are not more than that."""
    pca_dims = effective_pca_dims(pca_dims, features.shape[1])
    if pca_dims is None or features.shape[1] <= pca_dims or features.shape[0] <= pca_dims:
        return features
    from sklearn.decomposition import PCA

    return PCA(n_components=int(pca_dims), random_state=seed).fit_transform(features).astype(np.float32)


def usable_init(init: np.ndarray | None, n_samples: int, dims: int) -> np.ndarray | None:
    """The init array centred, or None when it cannot seed an embedding (wrong shape, collapsed)."""
    if init is None:
        return None
    array = np.asarray(init, dtype=np.float64)
    if array.shape != (n_samples, dims):
        raise EstimatorError(f"init must have shape ({n_samples}, {dims}), got {array.shape}.")
    if not np.isfinite(array).all():
        logger.info("init contains NaN/inf: ignored")
        return None
    array = array - array.mean(axis=0)
    if array.std(axis=0).min() <= 1e-12:
        logger.info("init is collapsed along an axis: ignored")
        return None
    return array
