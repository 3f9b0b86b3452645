"""Per-layer 2-D/3-D embeddings (PCA, t-SNE, UMAP), aligned across layers and epochs, with faithfulness.

:func:`embed` is the building block (one representation in, ``(n_samples, dims)`` out);
:func:`embed_layers` embeds a run's layers and epochs so that panels are comparable, posts
each finished panel through ``progress.partial`` and caches every panel on disk.

openTSNE, umap-learn and scikit-learn are imported inside functions so importing this
module (and ``ibviewer --help``) stays fast. See ``docs/embeddings.md`` for the choices.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ibviewer.core.cache import DiskCache, hash_arrays, hash_json
from ibviewer.core.neighbors import exact_knn, knn_overlap
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import ActivationError, Cancelled, EstimatorError

__all__ = [
    "Method",
    "Alignment",
    "Preprocessing",
    "METHODS",
    "ALIGNMENTS",
    "PREPROCESSINGS",
    "DEFAULT_ALIGNMENT",
    "PartialEmbedding",
    "LayerEmbedding",
    "EmbeddingSet",
    "embed",
    "embed_layers",
    "preprocess",
    "procrustes_align",
    "trustworthiness",
    "knn_overlap",
    "warm_up_umap",
    "configure_numba_cache",
]

logger = logging.getLogger(__name__)

Method = Literal["tsne", "umap", "pca"]
Alignment = Literal["init", "procrustes", "aligned_umap", "none"]
Preprocessing = Literal["none", "center", "standardize", "l2"]

METHODS: tuple[str, ...] = ("tsne", "umap", "pca")
ALIGNMENTS: tuple[str, ...] = ("init", "procrustes", "aligned_umap", "none")
PREPROCESSINGS: tuple[str, ...] = ("none", "center", "standardize", "l2")
DEFAULT_ALIGNMENT: Alignment = "init"
METHOD_LABELS = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}

# Parameters each method accepts, with their defaults (None: the library's default).
TSNE_DEFAULTS: dict[str, Any] = {
    "perplexity": 30.0,
    "n_iter": 500,
    "early_exaggeration_iter": 250,
    "early_exaggeration": 12.0,
    "exaggeration": None,
    "learning_rate": "auto",
    "negative_gradient_method": "auto",  # resolved: Barnes-Hut, or FFT in 2-D from 10,000 points
    "theta": 0.5,
    "dof": 1.0,
    "metric": "euclidean",
    "neighbors": "auto",
    "n_jobs": 1,
    "callbacks_every_iters": 50,
}
UMAP_DEFAULTS: dict[str, Any] = {
    "n_neighbors": 15,
    "min_dist": 0.1,
    "spread": 1.0,
    "metric": "euclidean",
    "n_epochs": None,
    "learning_rate": 1.0,
    "negative_sample_rate": 5,
    "repulsion_strength": 1.0,
    "alignment_regularisation": 1.0e-2,  # AlignedUMAP only
    "alignment_window_size": 3,  # AlignedUMAP only
}
PCA_DEFAULTS: dict[str, Any] = {}
_DEFAULTS = {"tsne": TSNE_DEFAULTS, "umap": UMAP_DEFAULTS, "pca": PCA_DEFAULTS}

MIN_SAMPLES_NONLINEAR = 5
FFT_MIN_POINTS = 10_000
FAITHFULNESS_K = 10
MAX_TRUST_QUERIES = 1000
MAX_OVERLAP_POINTS = 20_000
_CACHE_VERSION = 1


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
        label = METHOD_LABELS.get(self.method, self.method)
        return f"{label} {self.dims}D ({text}{', ' if text else ''}alignment={self.alignment}, seed={self.seed})"


# ----------------------------------------------------------------------------- validation


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise EstimatorError(f"Unknown {name} {value!r}; choose one of {', '.join(choices)}.")


def _check_settings(method: str, dims: int, preprocessing: str, pca_dims: int | None, params: Mapping[str, Any]) -> None:
    _check_choice("embedding method", method, METHODS)
    _check_choice("preprocessing", preprocessing, PREPROCESSINGS)
    if dims not in (2, 3) or isinstance(dims, bool):
        raise EstimatorError(f"Embeddings are drawn in 2 or 3 dimensions; dims={dims!r} is not supported.")
    if pca_dims is not None and (int(pca_dims) < 2 or int(pca_dims) != pca_dims):
        raise EstimatorError(f"pca_dims must be an integer >= 2 (e.g. 50) or None, got {pca_dims!r}.")
    unknown = sorted(set(params) - set(_DEFAULTS[method]))
    if unknown:
        allowed = ", ".join(sorted(_DEFAULTS[method])) or "none"
        raise EstimatorError(f"{METHOD_LABELS[method]} does not take {', '.join(unknown)}; its parameters: {allowed}.")
    if method == "tsne" and dims == 3 and str(params.get("negative_gradient_method", "auto")).lower() in (
        "fft",
        "interpolation",
    ):
        raise EstimatorError(
            "openTSNE's FFT gradient works in 2-D only; for a 3-D t-SNE use negative_gradient_method='bh' "
            "(Barnes-Hut, the default in 3-D)."
        )


def _as_activations(x: np.ndarray) -> FloatArray:
    array = np.asarray(x)
    if array.ndim == 1:
        raise ActivationError(
            f"Expected (n_samples, n_features) activations, got a 1-D array of {array.shape[0]} values; "
            "reshape it to (n, 1) for one feature."
        )
    if array.ndim != 2:
        raise ActivationError(f"Expected (n_samples, n_features) activations, got shape {array.shape}.")
    if array.shape[0] < 2:
        raise ActivationError(f"Cannot embed {array.shape[0]} sample(s); an embedding needs at least 2.")
    if array.shape[1] < 1:
        raise ActivationError("The activations have no features (shape (n, 0)).")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        n_bad = int(bad.any(axis=1).sum())
        raise ActivationError(
            f"The activations contain NaN or infinite values in {n_bad} of {array.shape[0]} samples "
            "(a diverged model?); re-extract them from a healthy checkpoint or drop those samples."
        )
    return array


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
    _check_choice("preprocessing", preprocessing, PREPROCESSINGS)
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


#: Above this many points t-SNE and UMAP embed a seeded subset of this size and place the rest
#: (``max_points`` chooses otherwise): 10^6 points would otherwise run for hours with no end in sight.
AUTO_MAX_POINTS = 50_000


def _subset(n_samples: int, max_points: int | None, seed: int) -> IntArray:
    """The rows embedded directly: all, or a seeded random subset (same for every layer).

    Without ``max_points``, more than :data:`AUTO_MAX_POINTS` samples are subsampled to that
    size, with a warning saying so.
    """
    if max_points is None and n_samples > AUTO_MAX_POINTS:
        warnings.warn(
            f"embedding a seeded subset of {AUTO_MAX_POINTS:,} of the {n_samples:,} points and placing the rest "
            "into it (above that size t-SNE and UMAP take hours); set max_points (--max-points) to choose.",
            stacklevel=4,
        )
        max_points = AUTO_MAX_POINTS
    if max_points is None or n_samples <= max_points:
        return np.arange(n_samples, dtype=np.int64)
    if max_points < MIN_SAMPLES_NONLINEAR:
        raise EstimatorError(f"max_points={max_points} is too small; use at least {MIN_SAMPLES_NONLINEAR}.")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, size=int(max_points), replace=False)).astype(np.int64)


def _reduce(features: FloatArray, pca_dims: int | None, seed: int) -> FloatArray:
    if pca_dims is None or features.shape[1] <= pca_dims or features.shape[0] <= pca_dims:
        return features
    from sklearn.decomposition import PCA

    return PCA(n_components=int(pca_dims), random_state=seed).fit_transform(features).astype(np.float32)


def _usable_init(init: np.ndarray | None, n_samples: int, dims: int) -> np.ndarray | None:
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


# ----------------------------------------------------------------------------- the methods


@dataclass
class _Embedded:
    coords: FloatArray
    embedded_idx: IntArray
    params: dict[str, Any]
    features: FloatArray  # the preprocessed layer space (for faithfulness)
    constant: bool = False


def _resolved_params(method: str, dims: int, params: Mapping[str, Any]) -> dict[str, Any]:
    resolved = dict(_DEFAULTS[method])
    resolved.update(params)
    if method == "umap":
        for name in ("alignment_regularisation", "alignment_window_size"):
            resolved.pop(name)
    return resolved


def _embed(
    x: np.ndarray,
    *,
    method: str,
    dims: int,
    seed: int,
    progress: Progress,
    init: np.ndarray | None,
    preprocessing: str,
    pca_dims: int | None,
    max_points: int | None,
    params: Mapping[str, Any],
    layer: str | None = None,
    epoch: int | None = None,
) -> _Embedded:
    _check_settings(method, dims, preprocessing, pca_dims, params)
    array = _as_activations(x)
    n = array.shape[0]
    resolved = _resolved_params(method, dims, params)
    features = preprocess(array, preprocessing)  # type: ignore[arg-type]
    where = f"layer {layer}: " if layer is not None else ""
    if float(np.ptp(features, axis=0).max()) == 0.0:
        warnings.warn(
            f"{where}all {n} samples have identical activations (a dead or saturated layer?): "
            "drawn as a single point at the origin.",
            stacklevel=3,
        )
        return _Embedded(np.zeros((n, dims), np.float32), np.arange(n, dtype=np.int64), resolved, features, True)
    if method == "pca":
        coords = _pca(features, dims, seed, where)
        return _Embedded(coords, np.arange(n, dtype=np.int64), resolved, features)
    if n < MIN_SAMPLES_NONLINEAR:
        raise EstimatorError(
            f"{METHOD_LABELS[method]} needs at least {MIN_SAMPLES_NONLINEAR} samples, got {n}; "
            "use method='pca' or more samples."
        )
    reduced = _reduce(features, pca_dims, seed)
    embedded_idx = _subset(n, max_points, seed)
    init_sub = _usable_init(init, n, dims)
    if init_sub is not None:
        init_sub = init_sub[embedded_idx]
    if method == "tsne":
        coords = _tsne(reduced, embedded_idx, dims, seed, init_sub, resolved, progress, layer, epoch, where)
    else:
        coords = _umap(reduced, embedded_idx, dims, seed, init_sub, resolved, progress, where)
    return _Embedded(coords, embedded_idx, resolved, features)


def _pca(features: FloatArray, dims: int, seed: int, where: str) -> FloatArray:
    from sklearn.decomposition import PCA

    n, d = features.shape
    n_components = min(dims, d, n)
    coords = np.zeros((n, dims), dtype=np.float32)
    coords[:, :n_components] = PCA(n_components=n_components, random_state=seed).fit_transform(features)
    if n_components < dims:
        warnings.warn(
            f"{where}PCA can give only {n_components} axes for {n} samples of {d} features: "
            f"the remaining {dims - n_components} axis/axes are zero.",
            stacklevel=4,
        )
    return coords


def _adapt_perplexity(perplexity: float, n: int, where: str) -> float:
    limit = (n - 1) / 3.0
    if perplexity > limit:
        adapted = max(1.0, float(np.floor(limit * 100) / 100))
        warnings.warn(
            f"{where}perplexity {perplexity:g} is too large for {n} points (at most (n-1)/3 = {limit:.2f}); "
            f"using {adapted:g}.",
            stacklevel=5,
        )
        return adapted
    return float(perplexity)


def _tsne(
    reduced: FloatArray,
    embedded_idx: IntArray,
    dims: int,
    seed: int,
    init: np.ndarray | None,
    params: dict[str, Any],
    progress: Progress,
    layer: str | None,
    epoch: int | None,
    where: str,
) -> FloatArray:
    from openTSNE import TSNE
    from openTSNE.tsne import OptimizationInterrupt

    x_sub = reduced[embedded_idx]
    n_sub = len(embedded_idx)
    params["perplexity"] = _adapt_perplexity(float(params["perplexity"]), n_sub, where)
    if str(params["negative_gradient_method"]).lower() == "auto":
        # like openTSNE's "auto" (FFT pays off from ~10,000 points), but never FFT in 3-D, where it fails
        params["negative_gradient_method"] = "fft" if dims == 2 and n_sub >= FFT_MIN_POINTS else "bh"
    ee_iter, n_iter = int(params["early_exaggeration_iter"]), int(params["n_iter"])
    total = max(1, ee_iter + n_iter)
    state = {"offset": 0, "cancelled": False}

    def on_iteration(iteration: int, error: float, embedding: np.ndarray) -> bool:
        done = state["offset"] + iteration
        progress.update(done / total, f"iteration {done} of {total}")
        progress.partial(PartialEmbedding(layer, epoch, np.array(embedding, dtype=np.float32), done, total, embedded_idx))
        try:
            progress.check_cancelled()
        except Cancelled:
            state["cancelled"] = True
            return True  # openTSNE stops and hands back the embedding so far
        return False

    if init is not None:
        initialization: np.ndarray | str = init / init[:, 0].std() * 1e-4  # openTSNE's rescale
    elif x_sub.shape[1] < dims:
        initialization = "random"  # PCA cannot give more axes than features
    else:
        initialization = "pca"
    early = float(params["early_exaggeration"])
    tsne = TSNE(
        n_components=dims,
        perplexity=params["perplexity"],
        learning_rate=params["learning_rate"],
        early_exaggeration_iter=ee_iter,
        early_exaggeration=early,
        n_iter=n_iter,
        exaggeration=params["exaggeration"],
        dof=params["dof"],
        theta=params["theta"],
        metric=params["metric"],
        neighbors=params["neighbors"],
        n_jobs=params["n_jobs"],
        negative_gradient_method=params["negative_gradient_method"],
        callbacks=[on_iteration],
        callbacks_every_iters=int(params["callbacks_every_iters"]),
        random_state=seed,
    )
    progress.update(0.0, "nearest neighbours")
    progress.check_cancelled()
    embedding = tsne.prepare_initial(x_sub, initialization=initialization)
    try:
        embedding.optimize(
            n_iter=ee_iter, exaggeration=early, momentum=tsne.initial_momentum, inplace=True, propagate_exception=True
        )
        state["offset"] = ee_iter
        embedding.optimize(
            n_iter=n_iter,
            exaggeration=params["exaggeration"],
            momentum=tsne.final_momentum,
            inplace=True,
            propagate_exception=True,
        )
    except OptimizationInterrupt:
        pass
    if state["cancelled"]:
        raise Cancelled()
    n = reduced.shape[0]
    coords = np.zeros((n, dims), dtype=np.float32)
    if n_sub < n:
        progress.update(1.0, f"placing the other {n - n_sub} points")
        progress.check_cancelled()
        rest = np.setdiff1d(np.arange(n), embedded_idx)
        placed = embedding.transform(reduced[rest], perplexity=min(5.0, (n_sub - 1) / 3.0))
        coords[rest] = np.asarray(placed)
    coords[embedded_idx] = np.asarray(embedding)  # after transform, which re-centres it
    return coords


def _import_umap() -> Any:
    """umap-learn, imported quietly (it warns that the optional TensorFlow is missing)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*", category=ImportWarning)
        import umap
    return umap


def _umap_kwargs(params: Mapping[str, Any], n_sub: int, dims: int, seed: int, where: str) -> dict[str, Any]:
    n_neighbors = int(params["n_neighbors"])
    if n_neighbors > n_sub - 1:
        warnings.warn(
            f"{where}n_neighbors={n_neighbors} is too large for {n_sub} points; using {n_sub - 1}.", stacklevel=5
        )
        n_neighbors = n_sub - 1
    return {
        "n_components": dims,
        "n_neighbors": max(2, n_neighbors),
        "min_dist": params["min_dist"],
        "spread": params["spread"],
        "metric": params["metric"],
        "n_epochs": params["n_epochs"],
        "learning_rate": params["learning_rate"],
        "negative_sample_rate": params["negative_sample_rate"],
        "repulsion_strength": params["repulsion_strength"],
        "random_state": seed,
    }


def _umap(
    reduced: FloatArray,
    embedded_idx: IntArray,
    dims: int,
    seed: int,
    init: np.ndarray | None,
    params: dict[str, Any],
    progress: Progress,
    where: str,
) -> FloatArray:
    umap = _import_umap()
    x_sub = reduced[embedded_idx]
    n_sub, n = len(embedded_idx), reduced.shape[0]
    kwargs = _umap_kwargs(params, n_sub, dims, seed, where)
    params["n_neighbors"] = kwargs["n_neighbors"]
    if init is not None:
        # UMAP lays out in a box of about +-10: bring the neighbour's layout there
        kwargs["init"] = (init / np.abs(init).max() * 10.0).astype(np.float32)
    elif n_sub <= dims + 10:
        kwargs["init"] = "random"  # the spectral layout needs more points than this
    progress.update(0.0, "UMAP fit (the first in a process also compiles, ~10-30 s)")
    progress.check_cancelled()
    # random_state makes UMAP single-threaded (reproducible); n_jobs=1 says so and avoids its warning
    reducer = umap.UMAP(n_jobs=1, **kwargs)
    coords = np.zeros((n, dims), dtype=np.float32)
    coords[embedded_idx] = reducer.fit_transform(x_sub)
    progress.check_cancelled()
    if n_sub < n:
        progress.update(0.9, f"placing the other {n - n_sub} points")
        rest = np.setdiff1d(np.arange(n), embedded_idx)
        coords[rest] = reducer.transform(reduced[rest])
    progress.update(1.0, "UMAP done")
    return coords


def _place_by_neighbors(reduced: FloatArray, embedded_idx: IntArray, coords: FloatArray, k: int = 10) -> None:
    """Put the rows not in ``embedded_idx`` at the median position of their k nearest embedded rows."""
    from sklearn.neighbors import NearestNeighbors

    n = reduced.shape[0]
    if len(embedded_idx) == n:
        return
    rest = np.setdiff1d(np.arange(n), embedded_idx)
    nn = NearestNeighbors(n_neighbors=min(k, len(embedded_idx))).fit(reduced[embedded_idx])
    _, idx = nn.kneighbors(reduced[rest])
    coords[rest] = np.median(coords[embedded_idx][idx], axis=1)


def embed(
    x: np.ndarray,
    method: Method = "tsne",
    dims: int = 2,
    seed: int = 0,
    progress: Progress = NULL_PROGRESS,
    init: np.ndarray | None = None,
    preprocessing: Preprocessing = "none",
    pca_dims: int | None = None,
    max_points: int | None = None,
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
    pca_dims : int, optional
        Reduce to this many principal components before t-SNE/UMAP (50 is usual for wide layers).
    max_points : int, optional
        Embed a seeded subset of this size and place the other points into it afterwards
        (t-SNE/UMAP ``transform``); PCA always uses every point.
    **params
        Method parameters: t-SNE ``perplexity`` (30), ``n_iter`` (500), ``early_exaggeration_iter``
        (250), ``early_exaggeration``, ``exaggeration``, ``learning_rate``, ``negative_gradient_method``,
        ``theta``, ``dof``, ``metric``, ``neighbors``, ``n_jobs`` (1), ``callbacks_every_iters`` (50);
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
    result = _embed(
        x,
        method=method,
        dims=dims,
        seed=seed,
        progress=progress,
        init=init,
        preprocessing=preprocessing,
        pca_dims=pca_dims,
        max_points=max_points,
        params=params,
    )
    return result.coords


# ----------------------------------------------------------------------------- alignment


def procrustes_align(coords: np.ndarray, reference: np.ndarray) -> FloatArray:
    """Rotate/reflect ``coords`` onto ``reference`` (orthogonal Procrustes, no scaling).

    Parameters
    ----------
    coords, reference : ndarray
        (n_samples, dims) layouts of the same samples.

    Returns
    -------
    ndarray of float32
        ``coords`` centred, rotated (flips allowed) to best match the centred reference,
        then moved to the reference's centre. Unchanged when either layout is collapsed.
    """
    a = np.asarray(coords, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - mean_a, b - mean_b
    if not (np.abs(a0).max() > 0 and np.abs(b0).max() > 0):
        return np.asarray(coords, dtype=np.float32)
    u, _, vt = np.linalg.svd(a0.T @ b0)
    return (a0 @ (u @ vt) + mean_b).astype(np.float32)


# ----------------------------------------------------------------------------- faithfulness


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
    high = _as_activations(x_high)
    low = _as_activations(x_low)
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


def _faithfulness(
    features: FloatArray, coords: FloatArray, metric: str, seed: int, k: int = FAITHFULNESS_K
) -> tuple[float | None, FloatArray | None]:
    n = features.shape[0]
    k = min(k, (n - 1) // 2)
    if k < 1 or float(np.ptp(coords, axis=0).max()) == 0.0:
        return None, None
    high_metric = metric if metric in ("euclidean", "cosine") else "euclidean"
    trust = trustworthiness(features, coords, k, seed=seed, metric=high_metric)  # type: ignore[arg-type]
    overlap = None
    if n <= MAX_OVERLAP_POINTS:
        high = preprocess(features, "l2") if high_metric == "cosine" else features
        overlap = knn_overlap(high, coords, k)
    else:
        logger.info("knn overlap skipped: %d points is more than %d", n, MAX_OVERLAP_POINTS)
    return trust, overlap


# ----------------------------------------------------------------------------- many layers


def select_epochs(acts: ActivationSet, epochs: Sequence[int] | str | int | None) -> tuple[int, ...]:
    """Saved epochs named by None/"last" (the last), "all", an int or a list, in training order."""
    if not acts.epochs:
        raise ActivationError("The activation set holds no epochs.")
    if epochs is None or epochs == "last":
        return (acts.epochs[-1],)
    if epochs == "all":
        return tuple(acts.epochs)
    if isinstance(epochs, str):
        raise EstimatorError(f"epochs must be 'last', 'all' or a list of saved epochs, got {epochs!r}.")
    chosen = [int(epochs)] if isinstance(epochs, (int, np.integer)) else [int(e) for e in epochs]
    missing = [e for e in chosen if e not in acts.epochs]
    if missing:
        raise EstimatorError(f"Epoch(s) {missing} were not saved; saved epochs: {list(acts.epochs)}.")
    if not chosen:
        raise EstimatorError("No epochs chosen to embed.")
    return tuple(sorted(set(chosen), key=acts.epochs.index))


def select_layers(acts: ActivationSet, layers: Sequence[str] | str | None) -> tuple[str, ...]:
    """Layer names (None: all, in network order), checked against the activation set."""
    if layers is None:
        chosen = list(acts.layer_names)
    elif isinstance(layers, str):
        chosen = [layers]
    else:
        chosen = list(layers)
    missing = [name for name in chosen if name not in acts.values]
    if missing:
        raise EstimatorError(f"Unknown layer(s) {missing}; this run has {list(acts.layer_names)}.")
    if not chosen:
        raise EstimatorError("No layers to embed.")
    return tuple(chosen)


def _plan(
    epochs: tuple[int, ...], layers: tuple[str, ...], alignment: str
) -> list[tuple[tuple[int, str], tuple[int, str] | None]]:
    """Panels in computing order, each with the panel it is aligned to.

    The last epoch comes first, its layers in network order, each aligned to the layer
    before; every earlier epoch then aligns each layer to the same layer one chosen
    epoch later, so panels stay in place along both the layer and the epoch axes.
    For AlignedUMAP the order is a snake (epochs ascending, layer direction alternating)
    so consecutive panels are always grid neighbours.
    """
    if alignment == "aligned_umap":
        order: list[tuple[int, str]] = []
        for i, epoch in enumerate(epochs):
            for layer in layers if i % 2 == 0 else tuple(reversed(layers)):
                order.append((epoch, layer))
        return [(panel, order[j - 1] if j else None) for j, panel in enumerate(order)]
    plan: list[tuple[tuple[int, str], tuple[int, str] | None]] = []
    later: int | None = None
    for epoch in reversed(epochs):
        for j, layer in enumerate(layers):
            if later is not None:
                ref: tuple[int, str] | None = (later, layer)
            else:
                ref = (epoch, layers[j - 1]) if j else None
            plan.append(((epoch, layer), ref if alignment != "none" else None))
        later = epoch
    return plan


def _where(panel: tuple[int, str], epochs: tuple[int, ...], layers: tuple[str, ...]) -> str:
    epoch, layer = panel
    text = f"layer {layers.index(layer) + 1} of {len(layers)} ({layer})"
    if len(epochs) > 1:
        text += f", epoch {epoch} ({epochs.index(epoch) + 1} of {len(epochs)})"
    return text


def _from_cache(entry: tuple[dict[str, np.ndarray], dict[str, Any]], panel: tuple[int, str]) -> LayerEmbedding:
    arrays, meta = entry
    return LayerEmbedding(
        layer=panel[1],
        epoch=panel[0],
        coords=arrays["coords"].astype(np.float32),
        method=meta["method"],
        dims=int(meta["dims"]),
        params=dict(meta["params"]),
        seed=int(meta["seed"]),
        embedded_idx=arrays["embedded_idx"].astype(np.int64),
        trustworthiness=meta.get("trustworthiness"),
        knn_overlap=arrays["knn_overlap"].astype(np.float32) if "knn_overlap" in arrays else None,
        n_features=int(meta.get("n_features", 0)),
        cached=True,
    )


def _to_cache(cache: DiskCache, key: str, result: LayerEmbedding) -> None:
    arrays = {"coords": result.coords, "embedded_idx": result.embedded_idx}
    if result.knn_overlap is not None:
        arrays["knn_overlap"] = result.knn_overlap
    meta = {
        "method": result.method,
        "dims": result.dims,
        "params": result.params,
        "seed": result.seed,
        "trustworthiness": result.trustworthiness,
        "n_features": result.n_features,
    }
    cache.put(key, arrays, meta)


def embed_layers(
    acts: ActivationSet,
    *,
    epochs: Sequence[int] | str | int | None = None,
    layers: Sequence[str] | str | None = None,
    method: Method = "pca",
    dims: int = 2,
    seed: int = 0,
    alignment: Alignment = DEFAULT_ALIGNMENT,
    preprocessing: Preprocessing = "none",
    pca_dims: int | None = None,
    max_points: int | None = None,
    faithfulness: bool = True,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
    **params: Any,
) -> EmbeddingSet:
    """Embed every chosen layer at every chosen epoch, aligned so panels are comparable.

    Parameters
    ----------
    acts : ActivationSet
    epochs : "last", "all", int or sequence of int, optional
        Default: the last saved epoch only.
    layers : sequence of str, optional
        Default: every layer, in network order.
    method : {"pca", "tsne", "umap"}, default="pca"
    dims : {2, 3}, default=2
    seed : int, default=0
    alignment : {"init", "procrustes", "aligned_umap", "none"}, default="init"
        ``init``: each t-SNE/UMAP starts from the neighbouring panel's layout (the previous
        layer; for earlier epochs the same layer one epoch later), then a Procrustes
        rotation/flip onto it; for PCA only the Procrustes step. Keeps points in place far
        better than ``procrustes`` (no extra step, but t-SNE measured ~25% slower).
        ``procrustes``: independent embeddings, then rotated/flipped onto the neighbour.
        ``aligned_umap``: one umap-learn AlignedUMAP over the sequence (UMAP only, slower).
        ``none``: independent embeddings.
    preprocessing : {"none", "center", "standardize", "l2"}, default="none"
    pca_dims : int, optional
        PCA to this many dimensions before t-SNE/UMAP.
    max_points : int, optional
        Embed the same seeded subset of this size in every panel and place the rest afterwards.
    faithfulness : bool, default=True
        Compute trustworthiness and per-point k-NN overlap (k=10).
    progress : Progress
        Messages like "t-SNE: layer 3 of 5 (fc3)"; ``partial`` receives each finished
        :class:`LayerEmbedding` (and t-SNE's :class:`PartialEmbedding` while it runs).
    cache_dir : path, optional
        Cache root (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write ``DiskCache("embeddings")``: one entry per panel keyed by the panel's
        activation bytes, method, parameters, dims, seed, alignment and the key of the
        panel it is aligned to.
    **params
        Method parameters, as for :func:`embed`.

    Returns
    -------
    EmbeddingSet

    Raises
    ------
    EstimatorError, ActivationError
        As :func:`embed`; unknown epochs/layers; ``aligned_umap`` with another method.
    Cancelled
        ``progress`` asked to stop (finished panels stay cached).
    """
    _check_settings(method, dims, preprocessing, pca_dims, params)
    _check_choice("alignment", alignment, ALIGNMENTS)
    if alignment == "aligned_umap" and method != "umap":
        raise EstimatorError(f"alignment='aligned_umap' works with method='umap' only, not {method!r}.")
    if alignment != "aligned_umap":
        for name in ("alignment_regularisation", "alignment_window_size"):
            if name in params:
                raise EstimatorError(f"{name} applies to alignment='aligned_umap' only.")
    chosen_epochs = select_epochs(acts, epochs)
    chosen_layers = select_layers(acts, layers)
    plan = _plan(chosen_epochs, chosen_layers, alignment)
    settings = {
        "v": _CACHE_VERSION,
        "method": method,
        "dims": dims,
        "seed": seed,
        "params": params,
        "preprocessing": preprocessing,
        "pca_dims": pca_dims,
        "alignment": alignment,
        "max_points": max_points,
        "faithfulness": faithfulness,
    }
    panel_hash = {panel: hash_arrays([acts.layer(panel[1], panel[0])]) for panel, _ in plan}
    keys: dict[tuple[int, str], str] = {}
    for panel, ref in plan:
        if alignment == "aligned_umap":
            sequence = [panel_hash[p] for p, _ in plan]
            keys[panel] = hash_json({**settings, "x": sequence, "position": [p for p, _ in plan].index(panel)})
        else:
            keys[panel] = hash_json({**settings, "x": panel_hash[panel], "ref": keys[ref] if ref else None})
    cache = DiskCache("embeddings", cache_dir, enabled=use_cache)
    extra = {"preprocessing": preprocessing, "pca_dims": pca_dims, "alignment": alignment, "max_points": max_points}
    label = METHOD_LABELS[method]
    results: dict[tuple[int, str], LayerEmbedding] = {}
    if alignment == "aligned_umap":
        results = _embed_aligned_umap(
            acts, plan, keys, cache, dims, seed, preprocessing, pca_dims, max_points, faithfulness, params, extra, progress
        )
    else:
        n_panels = len(plan)
        for i, (panel, ref) in enumerate(plan):
            progress.check_cancelled()
            where = _where(panel, chosen_epochs, chosen_layers)
            progress.update(i / n_panels, f"{label}: {where}")
            entry = cache.get(keys[panel])
            if entry is not None:
                result = _from_cache(entry, panel)
            else:
                sub = SubProgress(progress, i / n_panels, (i + 1) / n_panels, prefix=f"{label}: {where}: ")
                reference = results.get(ref) if ref else None
                result = _embed_panel(
                    acts, panel, reference, method, dims, seed, alignment, preprocessing, pca_dims, max_points,
                    faithfulness, params, extra, sub,
                )  # fmt: skip
                _to_cache(cache, keys[panel], result)
            results[panel] = result
            progress.partial(result)
        progress.update(1.0, f"{label}: {n_panels} panel(s) done")
    ordered = {(e, layer): results[(e, layer)] for e in chosen_epochs for layer in chosen_layers}
    return EmbeddingSet(
        method=method,
        dims=dims,
        seed=seed,
        params={**params, "preprocessing": preprocessing, "pca_dims": pca_dims, "max_points": max_points},
        alignment=alignment,
        epochs=chosen_epochs,
        layers=chosen_layers,
        embeddings=ordered,
    )


def _embed_panel(
    acts: ActivationSet,
    panel: tuple[int, str],
    reference: LayerEmbedding | None,
    method: str,
    dims: int,
    seed: int,
    alignment: str,
    preprocessing: str,
    pca_dims: int | None,
    max_points: int | None,
    faithfulness: bool,
    params: Mapping[str, Any],
    extra: dict[str, Any],
    progress: Progress,
) -> LayerEmbedding:
    epoch, layer = panel
    x = acts.layer(layer, epoch)
    init = reference.coords if (reference is not None and alignment == "init" and method != "pca") else None
    out = _embed(
        x,
        method=method,
        dims=dims,
        seed=seed,
        progress=SubProgress(progress, 0.0, 0.9),
        init=init,
        preprocessing=preprocessing,
        pca_dims=pca_dims,
        max_points=max_points,
        params=params,
        layer=layer,
        epoch=epoch,
    )
    coords = out.coords
    if reference is not None and not out.constant:
        coords = procrustes_align(coords, reference.coords)
    trust, overlap = (None, None)
    if faithfulness and not out.constant:
        progress.update(0.9, "faithfulness")
        trust, overlap = _faithfulness(out.features, coords, str(out.params.get("metric", "euclidean")), seed)
    progress.update(1.0, "done")
    return LayerEmbedding(
        layer=layer,
        epoch=epoch,
        coords=coords,
        method=method,
        dims=dims,
        params={**out.params, **extra},
        seed=seed,
        embedded_idx=out.embedded_idx,
        trustworthiness=trust,
        knn_overlap=overlap,
        n_features=int(x.shape[1]),
    )


def _embed_aligned_umap(
    acts: ActivationSet,
    plan: list[tuple[tuple[int, str], tuple[int, str] | None]],
    keys: dict[tuple[int, str], str],
    cache: DiskCache,
    dims: int,
    seed: int,
    preprocessing: str,
    pca_dims: int | None,
    max_points: int | None,
    faithfulness: bool,
    params: Mapping[str, Any],
    extra: dict[str, Any],
    progress: Progress,
) -> dict[tuple[int, str], LayerEmbedding]:
    panels = [panel for panel, _ in plan]
    entries = {panel: cache.get(keys[panel]) for panel in panels}
    if all(entry is not None for entry in entries.values()):
        results = {panel: _from_cache(entry, panel) for panel, entry in entries.items() if entry is not None}
        for panel in panels:
            progress.partial(results[panel])
        return results
    umap = _import_umap()
    progress.update(0.0, f"AlignedUMAP: preparing {len(panels)} panels")
    features, reduced = [], []
    for epoch, layer in panels:
        array = _as_activations(acts.layer(layer, epoch))
        features.append(preprocess(array, preprocessing))  # type: ignore[arg-type]
        reduced.append(_reduce(features[-1], pca_dims, seed))
    n = features[0].shape[0]
    if n < MIN_SAMPLES_NONLINEAR:
        raise EstimatorError(f"UMAP needs at least {MIN_SAMPLES_NONLINEAR} samples, got {n}; use method='pca'.")
    embedded_idx = _subset(n, max_points, seed)
    resolved = dict(UMAP_DEFAULTS)
    resolved.update(params)
    kwargs = _umap_kwargs(resolved, len(embedded_idx), dims, seed, "")
    resolved["n_neighbors"] = kwargs["n_neighbors"]
    kwargs.pop("n_components")
    relations = [{i: i for i in range(len(embedded_idx))} for _ in range(len(panels) - 1)]
    mapper = umap.AlignedUMAP(
        n_components=dims,
        alignment_regularisation=resolved["alignment_regularisation"],
        alignment_window_size=resolved["alignment_window_size"],
        **kwargs,
    )
    progress.update(0.05, f"AlignedUMAP: fitting {len(panels)} panels (no progress until done)")
    progress.check_cancelled()
    with warnings.catch_warnings():
        # AlignedUMAP builds UMAPs with n_jobs=-1 and our random_state; they warn and run single-threaded
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        mapper.fit([r[embedded_idx] for r in reduced], relations=relations)
    progress.check_cancelled()
    results: dict[tuple[int, str], LayerEmbedding] = {}
    for i, panel in enumerate(panels):
        coords = np.zeros((n, dims), dtype=np.float32)
        sub = np.asarray(mapper.embeddings_[i], dtype=np.float32)
        lost = ~np.isfinite(sub).all(axis=1)
        if lost.any():  # AlignedUMAP sets points disconnected from the graph to NaN
            warnings.warn(
                f"layer {panel[1]}: {int(lost.sum())} points were disconnected from UMAP's graph; drawn at the centre.",
                stacklevel=3,
            )
            sub[lost] = np.nanmean(sub[~lost], axis=0) if (~lost).any() else 0.0
        coords[embedded_idx] = sub
        _place_by_neighbors(reduced[i], embedded_idx, coords)
        trust, overlap = (None, None)
        if faithfulness:
            progress.update(0.9 + 0.1 * i / len(panels), f"AlignedUMAP: faithfulness of {panel[1]}")
            trust, overlap = _faithfulness(features[i], coords, str(resolved["metric"]), seed)
        result = LayerEmbedding(
            layer=panel[1],
            epoch=panel[0],
            coords=coords,
            method="umap",
            dims=dims,
            params={**resolved, **extra},
            seed=seed,
            embedded_idx=embedded_idx,
            trustworthiness=trust,
            knn_overlap=overlap,
            n_features=int(features[i].shape[1]),
        )
        _to_cache(cache, keys[panel], result)
        results[panel] = result
        progress.partial(result)
    progress.update(1.0, f"AlignedUMAP: {len(panels)} panel(s) done")
    return results


# ----------------------------------------------------------------------------- UMAP start-up


def configure_numba_cache(cache_dir: str | None = None) -> str | None:
    """Point numba's on-disk cache at a writable folder when none is set.

    umap-learn and pynndescent mark part of their functions ``cache=True``; numba writes
    those next to the package or, when that is read-only, into ``NUMBA_CACHE_DIR``. It
    only helps ``import umap`` (see docs/performance.md); a fit still compiles.
    Must run before numba is first imported to take effect. Returns the folder used.
    """
    import os

    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    from ibviewer.core.cache import cache_root

    folder = str(cache_root(cache_dir) / "numba")
    os.environ["NUMBA_CACHE_DIR"] = folder
    return folder


def warm_up_umap(*, background: bool = True, large: bool = False) -> threading.Thread | float:
    """Compile UMAP's numba code with a tiny fit, so the user's first UMAP is fast.

    Parameters
    ----------
    background : bool, default=True
        Run in a daemon thread and return it at once (call at app start); otherwise
        run here and return the seconds it took.
    large : bool, default=False
        Also compile the approximate-neighbour path (pynndescent) that UMAP uses
        from 4,096 points on; costs about as much again.

    Notes
    -----
    A fresh process pays ~10 s (more with ``large``) of numba compilation on its first
    UMAP fit; this moves that cost to start-up. See docs/performance.md.
    """

    def work() -> float:
        start = time.perf_counter()
        try:
            umap = _import_umap()
            rng = np.random.default_rng(0)
            x = rng.normal(size=(200, 8)).astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for approximate in (False, True) if large else (False,):
                    reducer = umap.UMAP(
                        n_neighbors=10, n_epochs=20, random_state=0, n_jobs=1, force_approximation_algorithm=approximate
                    )
                    reducer.fit(x)
                    reducer.transform(x[:10])
        except Exception as exc:  # a failed warm-up only loses the speed-up
            logger.warning("UMAP warm-up failed: %s", exc)
        elapsed = time.perf_counter() - start
        logger.info("UMAP warm-up took %.1f s", elapsed)
        return elapsed

    if not background:
        return work()
    thread = threading.Thread(target=work, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
