"""Embed one representation: prepare it, run the chosen method, say what was done.

`embed` is the public building block; `embed_representation` is the same for the panel code
of `layers.py`, which also needs the preprocessed features (for faithfulness) and the
effective parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ibviewer.core.embedding.checks import MIN_SAMPLES_NONLINEAR, as_activations, warn
from ibviewer.core.embedding.preprocessing import (
    Handoff,
    MethodInput,
    Preprocessing,
    effective_max_points,
    preprocess,
    reduce_dims,
    subset,
    usable_init,
)
from ibviewer.core.embedding.spec import EmbeddingSpec, Method
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import FloatArray, IntArray
from ibviewer.errors import EstimatorError

__all__ = ["Embedded", "embed", "embed_representation"]


@dataclass(frozen=True, eq=False)
class Embedded:
    """One representation embedded, with what the panel code needs besides the coordinates.

    Attributes
    ----------
    coords : ndarray of float32
        (n_samples, dims).
    embedded_idx : ndarray of int64
        The rows embedded directly (the others were placed afterwards).
    params : dict
        The method's effective parameters (defaults filled in, adaptations recorded).
    features : ndarray of float32
        (n_samples, n_features), the preprocessed layer space the faithfulness is measured in.
    constant : bool
        Every sample was identical: the coordinates are all zero.
    handoff : Handoff
        What the method left for a panel that will start from this one.
    """

    coords: FloatArray
    embedded_idx: IntArray
    params: dict[str, Any]
    features: FloatArray
    constant: bool = False
    handoff: Handoff | None = None


def embed_representation(
    x: np.ndarray,
    spec: EmbeddingSpec,
    progress: Progress = NULL_PROGRESS,
    init: np.ndarray | None = None,
    layer: str | None = None,
    epoch: int | None = None,
    *,
    warm: bool = False,
    previous: Handoff | None = None,
) -> Embedded:
    """Embed ``x`` as ``spec`` says; ``init`` seeds t-SNE/UMAP (PCA ignores it).

    ``warm``: ``init`` is these points' layout at a neighbouring epoch (optimise on from it);
    ``previous``: what the method left when it made that layout. Raises as `embed`; ``layer``
    and ``epoch`` only name the representation in warnings and partial embeddings.
    """
    array = as_activations(x)
    n = array.shape[0]
    entry = spec.method_entry
    params = spec.resolved_params()
    features = preprocess(array, spec.preprocessing)  # type: ignore[arg-type]
    if float(np.ptp(features, axis=0).max()) == 0.0:
        where = f"layer {layer}: " if layer is not None else ""
        warn(
            f"{where}all {n} samples have identical activations (a dead or saturated layer?): "
            "drawn as a single point at the origin."
        )
        return Embedded(np.zeros((n, spec.dims), np.float32), np.arange(n, dtype=np.int64), params, features, True)
    if entry.linear:
        task = MethodInput(features, np.arange(n, dtype=np.int64), spec.dims, spec.seed, params, None, layer, epoch)
    else:
        if n < MIN_SAMPLES_NONLINEAR:
            raise EstimatorError(
                f"{spec.title} needs at least {MIN_SAMPLES_NONLINEAR} samples, got {n}; "
                "use method='pca' or more samples."
            )
        reduced = reduce_dims(features, spec.pca_dims, spec.seed)
        max_points = effective_max_points(n, spec.max_points)
        if max_points != spec.max_points:
            params["max_points"] = max_points  # said in the panel's title (LayerEmbedding.subset_note)
        if spec.pca_dims == "auto":
            params["pca_dims"] = reduced.shape[1] if reduced is not features else None
        embedded_idx = subset(n, max_points, spec.seed)
        start = usable_init(init, n, spec.dims)
        if start is not None:
            start = start[embedded_idx]
        task = MethodInput(
            reduced, embedded_idx, spec.dims, spec.seed, params, start, layer, epoch, warm=warm and start is not None,
            previous=previous,
        )  # fmt: skip
    coords = entry.run(task, progress)
    return Embedded(coords, task.embedded_idx, params, features, handoff=task.handoff)


def embed(
    x: np.ndarray,
    method: Method = "tsne",
    dims: int = 2,
    seed: int = 0,
    progress: Progress = NULL_PROGRESS,
    init: np.ndarray | None = None,
    preprocessing: Preprocessing = "none",
    pca_dims: int | str | None = "auto",
    max_points: int | None = None,
    warm_start: bool = False,
    **params: Any,
) -> FloatArray:
    """Embed one representation in 2 or 3 dimensions.

    Parameters
    ----------
    x : ndarray
        (n_samples, n_features) activations.
    method : {"tsne", "umap", "pca"}, default="tsne"
        t-SNE by openTSNE (Barnes-Hut gradients; FFT in 2-D from 10,000 points), UMAP by umap-learn,
        PCA by scikit-learn.
    dims : {2, 3}, default=2
    seed : int, default=0
        The same inputs and seed give the same coordinates, bit for bit.
    progress : Progress
        t-SNE reports iterations, posts :class:`PartialEmbedding` objects every
        ``callbacks_every_iters`` iterations and stops when cancelled.
    init : ndarray, optional
        (n_samples, dims) starting layout for t-SNE/UMAP (e.g. the neighbouring layer's
        embedding); rescaled here. Ignored by PCA.
    preprocessing : {"none", "center", "standardize", "l2"}, default="none"
    pca_dims : int, "auto" or None, default="auto"
        Reduce to this many principal components before t-SNE/UMAP; ``"auto"``: 50 for layers
        wider than 100 features; None: never.
    max_points : int, optional
        Embed a seeded subset of this size and place the other points into it afterwards
        (t-SNE/UMAP ``transform``); PCA always uses every point. By default every point up to
        50,000 (`preprocessing.AUTO_MAX_POINTS`) and a subset of that size above it.
    warm_start : bool, default=False
        ``init`` is already a layout of these points (e.g. the same layer one epoch later):
        t-SNE optimises on from it without early exaggeration, far fewer iterations.
    **params
        Method parameters: t-SNE ``perplexity`` (30), ``n_iter`` ("auto": until the layout settles,
        at most 500), ``early_exaggeration_iter`` ("auto": at most 250), ``early_exaggeration``,
        ``exaggeration``, ``learning_rate``, ``negative_gradient_method``, ``theta``, ``dof``,
        ``metric``, ``neighbors``, ``n_jobs`` ("auto": every core), ``callbacks_every_iters`` (50);
        UMAP ``n_neighbors`` (15), ``min_dist`` (0.1), ``spread``, ``metric``, ``n_epochs``,
        ``learning_rate``, ``negative_sample_rate``, ``repulsion_strength``.

    Returns
    -------
    ndarray of float32
        (n_samples, dims).

    Raises
    ------
    ActivationError
        NaN/inf values, fewer than 2 samples, not a 2-D array.
    EstimatorError
        Unknown method, parameter or preprocessing; dims not 2 or 3; 3-D with FFT
        gradients; t-SNE/UMAP on fewer than 5 samples.
    Cancelled
        ``progress`` asked to stop.

    Warns
    -----
    UserWarning
        Perplexity or n_neighbors too large for the number of points (lowered);
        all samples identical (returned as zeros); PCA with fewer features than dims.
    """
    spec = EmbeddingSpec(
        method=method, dims=dims, seed=seed, params=params, preprocessing=preprocessing, pca_dims=pca_dims,
        max_points=max_points,
    )  # fmt: skip
    return embed_representation(x, spec, progress, init, warm=warm_start).coords
