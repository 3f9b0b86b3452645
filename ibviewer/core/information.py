"""Mutual-information estimators for the information plane: I(X;T) and I(T;Y) per layer and epoch.

Three estimators, all reporting bits:

- ``binning`` (:class:`BinningMIEstimator`): Shwartz-Ziv & Tishby's discretisation, exact and
  vectorised (each row's bin indices become one integer code that is counted).
- ``adaptive`` (:class:`AdaptiveBinningMIEstimator`): equal-mass bins per (epoch, layer), after
  Chelombiev et al. (2019).
- ``kde`` (:class:`KDEMIEstimator`): the Kolchinsky-Tracey pairwise-distance upper bound and the
  Bhattacharyya lower bound used by Saxe et al. (2018), chunked, in torch, on CUDA when available.

:func:`mutual_information` estimates one representation; :func:`compute_information_plane`
estimates every (epoch, layer) cell of an :class:`~ibviewer.core.types.ActivationSet` in
parallel through joblib, with progress, cancellation and an on-disk cache.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ibviewer.core.cache import DiskCache, atomic_write_text, hash_json
from ibviewer.core.device import resolve_device
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import ActivationError, EstimatorError

__all__ = [
    "ESTIMATORS",
    "EstimatorName",
    "BinningMIEstimator",
    "AdaptiveBinningMIEstimator",
    "KDEMIEstimator",
    "InformationPlane",
    "make_estimator",
    "mutual_information",
    "compute_information_plane",
    "write_infoplane_csv",
    "describe_estimator",
]

logger = logging.getLogger(__name__)

EstimatorName = Literal["binning", "adaptive", "kde"]

# Bumped whenever a change alters cached numbers.
_CACHE_VERSION = 1
# A binning layer "sits at log2(N)" when every sample has its own bin: exactly, up to rounding.
_BINNING_SATURATION_TOL = 1e-9
# For kde: the mean log2 of each sample's kernel mass is below this (each sample isolated).
_KDE_SATURATION_TOL = 1e-3
# Integer codes stay below this so a further `* radix + index` cannot overflow int64.
_CODE_LIMIT = 2**62
# Elements of one (chunk, n_samples) float64 kernel block of the kde estimator: 8 MB is near
# cache on CPU with few enough blocks that threads rarely wait; on CUDA larger (128 MB).
_KDE_BLOCK_ELEMENTS = 2**20
_KDE_BLOCK_ELEMENTS_CUDA = 2**24


# --------------------------------------------------------------------------------------------
# Input checks and small helpers
# --------------------------------------------------------------------------------------------


def _check_inputs(t: Any, y: Any) -> tuple[np.ndarray, IntArray, int]:
    """Validate (t, y); return t as a float array, y as class ids 0..k-1, and k."""
    t = np.asarray(t)
    if t.ndim != 2:
        raise EstimatorError(
            f"t must be a 2-D (n_samples, n_units) array, got shape {t.shape}. "
            "Flatten each sample's representation first, e.g. t.reshape(len(t), -1)."
        )
    if t.dtype == bool or np.issubdtype(t.dtype, np.integer):
        t = t.astype(np.float64)
    elif not np.issubdtype(t.dtype, np.floating):
        raise EstimatorError(f"t must hold numbers, got dtype {t.dtype}. Pass float activations.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise EstimatorError(
            f"y must be a 1-D array of class labels, got shape {y.shape}. "
            "For one-hot labels pass y.argmax(axis=1)."
        )
    if t.shape[0] != y.shape[0]:
        raise EstimatorError(
            f"t has {t.shape[0]} samples but y has {y.shape[0]} labels: they must match one to one."
        )
    if t.shape[0] < 2:
        raise EstimatorError(f"Need at least 2 samples to estimate mutual information, got {t.shape[0]}.")
    if t.shape[1] == 0:
        raise EstimatorError("t has no units (shape (n, 0)); pass a layer with at least one unit.")
    if not np.isfinite(t).all():
        n_bad = int(np.size(t) - np.count_nonzero(np.isfinite(t)))
        raise EstimatorError(
            f"t contains {n_bad} NaN or infinite values. Check the model (diverged training?) "
            "or drop the affected samples before estimating."
        )
    y_ids, n_classes = _label_ids(y)
    return t, y_ids, n_classes


def _label_ids(y: np.ndarray) -> tuple[IntArray, int]:
    """Labels as dense class ids 0..k-1 (sorted label order), and k."""
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise EstimatorError("y contains NaN or infinite labels; labels must be finite class values.")
    try:
        _, y_ids = np.unique(y, return_inverse=True)
    except TypeError as exc:
        raise EstimatorError(f"y labels cannot be compared with each other ({exc}); pass ints or strings.") from exc
    y_ids = np.asarray(y_ids, dtype=np.int64).reshape(-1)
    return y_ids, int(y_ids.max()) + 1


def _entropy_bits(counts: np.ndarray, n: int) -> float:
    """Plug-in entropy in bits of a distribution given by integer counts summing to ``n``."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    return float(math.log2(n) - np.dot(counts, np.log2(counts)) / n)


def _run_lengths(sorted_codes: np.ndarray) -> np.ndarray:
    """Counts of each distinct value in a sorted 1-D array (what np.unique's counts are)."""
    n = sorted_codes.shape[0]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=starts[1:])
    return np.diff(np.append(np.flatnonzero(starts), n))


def _dense_ids(code: IntArray) -> tuple[IntArray, int]:
    """Rank of each code among the distinct codes (0..k-1), and k."""
    _, ids = np.unique(code, return_inverse=True)
    ids = ids.astype(np.int64, copy=False).reshape(-1)
    return ids, int(ids.max()) + 1


def _row_codes(bin_idx: np.ndarray, n_levels: int) -> tuple[IntArray, int]:
    """One int64 code per row of an (n, d) array of indices in [0, n_levels): equal rows <=> equal codes.

    When ``n_levels ** d`` fits below 2**62 the code is simply the row read as a base-n_levels
    number. Otherwise columns are combined in mixed radix (a column's radix is its number of
    used levels; constant columns are dropped) through integer matrix products over groups of
    columns whose codes fit; when the next column would overflow, the codes so far are replaced
    by their dense rank (< n) first, so any layer width works. Returns the codes and a bound
    ``size`` with ``0 <= code < size``. No loop runs over rows.
    """
    n, width = bin_idx.shape
    idx = bin_idx.astype(np.int64, copy=False)
    if n_levels**width < _CODE_LIMIT:
        weights = n_levels ** np.arange(width, dtype=np.int64)
        return idx @ weights, n_levels**width
    low = idx.min(axis=0)
    radix = idx.max(axis=0) - low + 1
    columns = np.flatnonzero(radix > 1)
    code = np.zeros(n, dtype=np.int64)
    size = 1  # Python int: exact
    position = 0
    while position < columns.size:
        group_end, product = position, 1
        while group_end < columns.size and size * product * int(radix[columns[group_end]]) < _CODE_LIMIT:
            product *= int(radix[columns[group_end]])
            group_end += 1
        if group_end == position:
            code, size = _dense_ids(code)  # size <= n, so the next column fits
            continue
        group = columns[position:group_end]
        weights = np.cumprod(np.concatenate(([1], radix[group][:-1]))).astype(np.int64)
        code = code * product + (idx[:, group] - low[group]) @ weights
        size *= product
        position = group_end
    return code, size


def _plugin_mi(
    bin_idx: np.ndarray, n_levels: int, y_ids: IntArray, n_classes: int
) -> tuple[float, float, float, int]:
    """(I(X;T), I(T;Y), H(Y), number of distinct rows) of discretised T, in bits.

    X is uniform over the samples and T a deterministic function of X, so I(X;T) = H(T);
    I(T;Y) = H(T) + H(Y) - H(T,Y), counted through the joint code ``t_code * n_classes + y``.
    """
    n = bin_idx.shape[0]
    code, size = _row_codes(bin_idx, n_levels)
    if size * n_classes >= _CODE_LIMIT:
        code, size = _dense_ids(code)
    counts_t = _run_lengths(np.sort(code))
    h_t = _entropy_bits(counts_t, n)
    h_y = _entropy_bits(np.bincount(y_ids, minlength=n_classes), n)
    h_ty = _entropy_bits(_run_lengths(np.sort(code * n_classes + y_ids)), n)
    i_ty = h_t + h_y - h_ty
    # clip: rounding can leave -1e-16 where the true value is 0
    return h_t, max(i_ty, 0.0), h_y, int(counts_t.shape[0])


def _digitize(values: np.ndarray, edges: np.ndarray) -> IntArray:
    """``np.digitize(values, edges)`` for increasing ``edges``, as int64; fast for even spacing.

    For (nearly) evenly spaced edges the bin is first computed arithmetically, then corrected
    by one step with exact comparisons against the edges, so the result equals np.digitize
    bit for bit (ties included) at a fraction of the cost of its binary search.
    """
    m = edges.shape[0]
    if m < 2:
        return np.digitize(values, edges).astype(np.int64, copy=False)
    low, high = float(edges[0]), float(edges[-1])
    step = (high - low) / (m - 1)
    ideal = low + step * np.arange(m)
    # the arithmetic guess is within one bin only if no edge strays half a bin from its place
    if not step > 0 or np.abs(edges.astype(np.float64) - ideal).max() >= 0.25 * step:
        return np.digitize(values, edges).astype(np.int64, copy=False)
    scaled = np.subtract(values, low, dtype=np.float64)
    scaled *= 1.0 / step
    np.clip(scaled, -1.0, float(m), out=scaled)
    # truncation, corrected below; int32 because float64 -> int64 has no SIMD path on AVX2
    guess = scaled.astype(np.int32)
    guess += 1
    padded = np.concatenate(([-np.inf], edges, [np.inf])).astype(edges.dtype)
    # bin g means padded[g] <= value < padded[g + 1]
    guess -= values < padded.take(guess)
    guess += values >= padded.take(guess + 1)
    return guess.astype(np.int64)


def _labels_entropy(y_ids: IntArray, n_classes: int) -> float:
    return _entropy_bits(np.bincount(y_ids, minlength=n_classes), y_ids.shape[0])


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise EstimatorError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_positive_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EstimatorError(f"{name} must be a positive number, got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise EstimatorError(f"{name} must be a positive finite number, got {value!r}.")
    return number


def _check_range(value: Any) -> tuple[float, float] | Literal["layer"]:
    if isinstance(value, str):
        if value == "layer":
            return "layer"
        raise EstimatorError(f"value_range must be (low, high) or 'layer', got {value!r}.")
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise EstimatorError(f"value_range must be (low, high) or 'layer', got {value!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise EstimatorError(f"value_range needs finite low < high, got ({low:g}, {high:g}).")
    return low, high


def _fmt(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


class _PluginEstimator:
    """Shared fit for the binning estimators: edges from the data, then exact counting."""

    name = ""

    def get_params(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _edges_for_data(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, t: np.ndarray) -> IntArray:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit(self, t: np.ndarray, y: np.ndarray) -> _PluginEstimator:
        """Estimate from activations ``t`` (n_samples, n_units) and labels ``y`` (n_samples,)."""
        self.get_params()
        return self._fit_checked(*_check_inputs(t, y))

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int) -> _PluginEstimator:
        self.edges_ = self._edges_for_data(t)
        bin_idx = self.transform(t)
        n = bin_idx.shape[0]
        # transform gives indices 0..len(edges_) for both binning flavours
        n_levels = self.edges_.shape[0] + 1
        self.i_xt_, self.i_ty_, self.h_y_, self.n_distinct_ = _plugin_mi(bin_idx, n_levels, y_ids, n_classes)
        self.log2_n_ = math.log2(n)
        self.saturated_ = self.n_distinct_ == n
        return self


class BinningMIEstimator(_PluginEstimator):
    """Estimate I(X;T) and I(T;Y) by binning activations (Shwartz-Ziv & Tishby 2017).

    Each activation is replaced by the index of its bin; a sample's row of indices (the whole
    layer's vector) is one symbol. X is uniform over the (distinct) samples and T is a
    deterministic function of X, so ``I(X;T) = H(T)``; ``I(T;Y) = H(T) - sum_y p(y) H(T|Y=y)``.

    Parameters
    ----------
    n_bins : int, optional
        Number of bin edges spread evenly over ``value_range`` (as ``num_of_bins`` in the
        original code): 30 edges give 29 half-open intervals plus the bin at/above the last
        edge. Default 30 unless ``bin_width`` is given; give one or the other.
    bin_width : float, optional
        Edges at ``low, low + w, low + 2w, ...`` up to the first edge >= ``high``.
    value_range : (float, float) or "layer", default=(-1.0, 1.0)
        Fixed edges on [low, high] (the original setting for tanh layers), or ``"layer"``:
        the layer's min and max (over all epochs in :func:`compute_information_plane`;
        over ``t`` in :meth:`fit`), needed for ReLU layers whose values leave [-1, 1].

    Attributes
    ----------
    edges_ : ndarray of float32
        The bin edges used.
    i_xt_, i_ty_ : float
        I(X;T) and I(T;Y) in bits.
    h_y_, log2_n_ : float
        The ceilings H(Y) (for I(T;Y)) and log2(N) (for I(X;T)), in bits.
    n_distinct_ : int
        Number of distinct binned rows (``2**i_xt_`` when all are equally likely).
    saturated_ : bool
        True when every sample has its own bin: I(X;T) = log2(N) and says nothing.

    Notes
    -----
    Edges are float32 (as in the original code) and bins follow ``np.digitize(value, edges)``:
    with edges ``e_0 < ... < e_{m-1}``, bin 0 holds ``value < e_0`` (underflow), bin k holds
    ``e_{k-1} <= value < e_k``, and bin m holds ``value >= e_{m-1}`` (so ``value == 1`` with
    the default edges has a bin of its own, as do all values above 1). A value exactly on an
    edge belongs to the bin that starts there. The original code maps the underflow bin onto
    the top bin (``bins[index - 1]`` with index 0 wraps to the last edge); here underflow is a
    bin of its own. The two agree whenever no value lies below the first edge (always for tanh
    with the default range).

    Plug-in entropies are biased low by roughly ``(K - 1) / (2 N ln 2)`` bits for ``K``
    occupied bins, and the estimate depends strongly on the bin size: a deterministic network
    of continuous units has infinite true I(X;T), so what binning measures is the geometry of
    the representation at that resolution (Saxe et al. 2018). Units: bits.

    References
    ----------
    .. [1] R. Shwartz-Ziv and N. Tishby, "Opening the black box of deep neural networks via
       information", arXiv:1703.00810, 2017.
    .. [2] A. M. Saxe et al., "On the information bottleneck theory of deep learning",
       ICLR 2018.
    """

    name = "binning"

    def __init__(
        self,
        n_bins: int | None = None,
        bin_width: float | None = None,
        value_range: tuple[float, float] | Literal["layer"] = (-1.0, 1.0),
    ) -> None:
        self.n_bins = n_bins
        self.bin_width = bin_width
        self.value_range = value_range

    def get_params(self) -> dict[str, Any]:
        """The validated settings as a JSON-ready dict (defaults filled in)."""
        if self.n_bins is not None and self.bin_width is not None:
            raise EstimatorError("Give either n_bins or bin_width for the binning estimator, not both.")
        bin_width = None if self.bin_width is None else _check_positive_float("bin_width", self.bin_width)
        n_bins = None if bin_width is not None else _check_int("n_bins", 30 if self.n_bins is None else self.n_bins, 2)
        value_range = _check_range(self.value_range)
        return {
            "n_bins": n_bins,
            "bin_width": bin_width,
            "value_range": value_range if value_range == "layer" else list(value_range),
        }

    def _uniform_edges(self, low: float, high: float) -> FloatArray:
        """float32 bin edges for values in [low, high] under these settings."""
        params = self.get_params()
        if params["bin_width"] is None:
            edges = np.linspace(low, high, params["n_bins"])
        else:
            n_steps = math.ceil((high - low) / params["bin_width"] - 1e-9) if high > low else 0
            if n_steps > 10_000_000:
                raise EstimatorError(
                    f"bin_width {params['bin_width']:g} gives {n_steps} bins on [{low:g}, {high:g}]; "
                    "use a larger bin width."
                )
            edges = low + params["bin_width"] * np.arange(n_steps + 1)
        # unique: a zero-width layer range would repeat one edge
        return np.unique(edges.astype(np.float32))

    def _edges_for_data(self, t: np.ndarray) -> FloatArray:
        value_range = self.get_params()["value_range"]
        if value_range == "layer":
            return self._uniform_edges(float(t.min()), float(t.max()))
        return self._uniform_edges(*value_range)

    def transform(self, t: np.ndarray) -> IntArray:
        """Bin indices, (n_samples, n_units) int64, of ``t`` under the fitted edges."""
        return _digitize(np.asarray(t), self.edges_)


class AdaptiveBinningMIEstimator(_PluginEstimator):
    """Estimate I(X;T) and I(T;Y) with adaptive bins per (epoch, layer) (Chelombiev et al. 2019).

    The edges are recomputed for every representation from its own values (all units pooled),
    so each bin holds about the same number of activation values ("mass"), or, with
    ``strategy="levels"``, about the same number of distinct activation levels (what the
    authors' code does). Then counting works as in :class:`BinningMIEstimator`.

    Parameters
    ----------
    n_bins : int, default=30
        Number of bins (at most; tied quantiles merge bins).
    strategy : {"mass", "levels"}, default="mass"
        ``"mass"``: inner edges at the quantiles ``k / n_bins`` (k = 1..n_bins-1) of the
        layer's values. ``"levels"``: inner edges at every ``(n_distinct / n_bins)``-th of the
        sorted distinct values.

    Attributes
    ----------
    edges_ : ndarray
        Inner edges; a value v goes to bin ``searchsorted(edges_, v, side="right")``, so a
        value on an edge belongs to the bin above it, as with ``np.digitize``.
    i_xt_, i_ty_, h_y_, log2_n_, n_distinct_, saturated_
        As in :class:`BinningMIEstimator`.

    Notes
    -----
    Adaptive edges follow the distribution of activations, so saturated tanh units or the
    mass of ReLU zeros no longer decide which fine distinctions survive; the estimate is still
    a plug-in entropy, biased low by about ``(K - 1) / (2 N ln 2)`` bits for ``K`` occupied
    bins. Because edges move with every epoch, numbers are comparable across epochs only as
    "information at a fixed number of bins". Ties: repeated quantiles are merged, so a layer
    with few distinct values gets fewer bins. Units: bits.

    References
    ----------
    .. [1] I. Chelombiev, C. Houghton and C. O'Donnell, "Adaptive estimators show information
       compression in deep neural networks", ICLR 2019.
    """

    name = "adaptive"

    def __init__(self, n_bins: int = 30, strategy: Literal["mass", "levels"] = "mass") -> None:
        self.n_bins = n_bins
        self.strategy = strategy

    def get_params(self) -> dict[str, Any]:
        n_bins = _check_int("n_bins", self.n_bins, 1)
        if self.strategy not in ("mass", "levels"):
            raise EstimatorError(f"strategy must be 'mass' or 'levels', got {self.strategy!r}.")
        return {"n_bins": n_bins, "strategy": self.strategy}

    def _edges_for_data(self, t: np.ndarray) -> np.ndarray:
        params = self.get_params()
        n_bins = params["n_bins"]
        values = t.reshape(-1)
        if params["strategy"] == "mass":
            inner = np.quantile(values, np.arange(1, n_bins) / n_bins)
        else:
            levels = np.unique(values)
            inner = levels[(np.arange(1, n_bins) * levels.size) // n_bins]
        return np.unique(inner)

    def transform(self, t: np.ndarray) -> IntArray:
        """Bin indices, (n_samples, n_units) int64, of ``t`` under the fitted edges."""
        return np.searchsorted(self.edges_, np.asarray(t), side="right").astype(np.int64, copy=False)


class KDEMIEstimator:
    """Bounds on I(X;T) and I(T;Y) for T plus Gaussian noise (Kolchinsky & Tracey; Saxe et al.).

    T is taken as ``h(X) + Z`` with ``Z ~ N(0, noise_var * I)``, a mixture of N Gaussians.
    Its entropy lies between the Bhattacharyya lower bound and the Kullback-Leibler upper
    bound of Kolchinsky & Tracey (2017); subtracting the noise entropy H(T|X) gives, in nats,

    ``I(X;T) <= -mean_i log(mean_j exp(-||t_i - t_j||^2 / (2 noise_var)))``,
    ``I(X;T) >= -mean_i log(mean_j exp(-||t_i - t_j||^2 / (8 noise_var)))``,

    and I(T;Y) = H(T) - sum_y p(y) H(T|Y=y) with the same bound on every entropy (means over
    samples of the same class inside the logarithm for H(T|Y=y)), as in Saxe et al. (2018).

    Parameters
    ----------
    noise_var : float, default=1e-3
        Variance of the added Gaussian noise (Saxe et al.: 1e-3 for the small tanh network,
        1e-1 at MNIST scale). Smaller values push I(X;T) towards log2(N).
    chunk_size : int, optional
        Rows of the (chunk, N) kernel blocks computed at once (two float64 blocks are held);
        default: 2**20 elements per block on CPU, 2**24 on CUDA.
    device : str, optional
        Torch device; default ``"cuda"`` when available, else ``"cpu"``.

    Attributes
    ----------
    i_xt_, i_ty_ : float
        Upper bounds, in bits.
    i_xt_lower_, i_ty_lower_ : float
        Lower bounds, in bits.
    h_y_, log2_n_ : float
        Ceilings H(Y) and log2(N), in bits.
    saturated_ : bool
        True when I(X;T) is within 1e-3 bits of log2(N): the noise is too small to merge any
        samples, so the estimate says nothing.

    Notes
    -----
    Computed in float64 with torch, one (chunk, N) block at a time, on and above the diagonal
    only (the kernel is symmetric): memory is bounded whatever N is. Each sample's own kernel
    term is 1 (the largest), so ``log(sum)`` needs no shifting, and per-class sums come from
    matrix products with the one-hot labels. The I(X;T) bounds are true bounds for the
    noisy T; the I(T;Y) "bounds" are differences of bounds (what Saxe et al. report) and are
    not guaranteed to bracket I(T;Y). Both depend on ``noise_var``, which sets the resolution
    at which samples count as different. Units: bits.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise
       distances", Entropy 19(7):361, 2017.
    .. [2] A. M. Saxe et al., "On the information bottleneck theory of deep learning",
       ICLR 2018.
    """

    name = "kde"

    def __init__(self, noise_var: float = 1e-3, chunk_size: int | None = None, device: str | None = None) -> None:
        self.noise_var = noise_var
        self.chunk_size = chunk_size
        self.device = device

    def get_params(self) -> dict[str, Any]:
        noise_var = _check_positive_float("noise_var", self.noise_var)
        chunk_size = None if self.chunk_size is None else _check_int("chunk_size", self.chunk_size, 1)
        if self.device is not None and not isinstance(self.device, str):
            raise EstimatorError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}.")
        return {"noise_var": noise_var, "chunk_size": chunk_size, "device": self.device}

    def fit(self, t: np.ndarray, y: np.ndarray) -> KDEMIEstimator:
        """Estimate from activations ``t`` (n_samples, n_units) and labels ``y`` (n_samples,)."""
        self.get_params()
        return self._fit_checked(*_check_inputs(t, y))

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int) -> KDEMIEstimator:
        params = self.get_params()
        n = t.shape[0]
        device = resolve_device(self.device, EstimatorError)
        block_elements = _KDE_BLOCK_ELEMENTS_CUDA if device.type == "cuda" else _KDE_BLOCK_ELEMENTS
        chunk = min(n, params["chunk_size"] or max(1, block_elements // n))
        upper, lower = _kde_bounds_nats(t, y_ids, n_classes, params["noise_var"], chunk, device)
        self.h_y_ = _labels_entropy(y_ids, n_classes)
        self.log2_n_ = math.log2(n)
        # clip into [0, ceiling]: the bounds cannot leave it except by rounding (I(X;T)) or, for
        # the differences of bounds that estimate I(T;Y), by falling below 0
        bits = 1.0 / math.log(2)
        self.i_xt_, self.i_xt_lower_ = (min(max(v[0] * bits, 0.0), self.log2_n_) for v in (upper, lower))
        self.i_ty_, self.i_ty_lower_ = (min(max(v[1] * bits, 0.0), self.h_y_) for v in (upper, lower))
        self.saturated_ = self.log2_n_ - self.i_xt_ <= _KDE_SATURATION_TOL
        return self


def _kde_bounds_nats(
    t: np.ndarray, y_ids: IntArray, n_classes: int, noise_var: float, chunk: int, device
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((I_xt_upper, I_ty_upper), (I_xt_lower, I_ty_lower)) in nats, chunked over rows.

    The kernel matrix is symmetric, so only blocks on and above the diagonal are computed: rows
    ``[s, e)`` against columns ``[s, N)``. Each block adds its row sums to rows ``[s, e)`` and its
    column sums (right of the diagonal block) to rows ``[e, N)``, per class, through products with
    the one-hot labels. Scaled squared distances come from one matrix product of augmented rows,
    ``[x_i, |x_i|^2, 1] . [-2 x_j, 1, |x_j|^2] * (-1 / (8 var))``, into preallocated blocks (fresh
    large buffers cost page faults on every chunk). Each sample's own kernel term is exp(0) = 1,
    the largest, so ``log(sum)`` needs no max shift.
    """
    import torch

    n = t.shape[0]
    f64 = torch.float64
    x = torch.as_tensor(np.ascontiguousarray(t), device=device).to(f64)
    sq_norms = (x * x).sum(dim=1, keepdim=True)
    ones = torch.ones_like(sq_norms)
    scale = -1.0 / (2.0 * noise_var)
    left = torch.cat([x, sq_norms, ones], dim=1)
    right_t = torch.cat([-2.0 * x, ones, sq_norms], dim=1).mul_(0.25 * scale).T.contiguous()
    labels = torch.as_tensor(y_ids, device=device)
    onehot_t = torch.zeros((n_classes, n), dtype=f64, device=device)
    onehot_t[labels, torch.arange(n, device=device)] = 1.0
    # per row and class: kernel mass, for the KL kernel (var) and the Bhattacharyya one (4 var)
    mass = {"kl": torch.zeros((n_classes, n), dtype=f64, device=device), "bd": torch.zeros((n_classes, n), dtype=f64, device=device)}
    buffers = {"kl": torch.empty(chunk * n, dtype=f64, device=device), "bd": torch.empty(chunk * n, dtype=f64, device=device)}
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            shape = (stop - start, n - start)
            kl = buffers["kl"][: shape[0] * shape[1]].view(shape)
            bd = buffers["bd"][: shape[0] * shape[1]].view(shape)
            torch.mm(left[start:stop], right_t[:, start:], out=bd)  # -d^2 / (8 var)
            bd.exp_()  # Bhattacharyya kernel exp(-d^2 / (8 var))
            # KL kernel exp(-d^2 / (2 var)) = (BD kernel)^4: two products instead of another exp;
            # terms lost to underflow are < 1e-300, invisible next to each row's self term 1
            torch.mul(bd, bd, out=kl).mul_(kl)
            for name, block in (("kl", kl), ("bd", bd)):
                mass[name][:, start:stop] += onehot_t[:, start:] @ block.T
                if stop < n:
                    mass[name][:, stop:] += onehot_t[:, start:stop] @ block[:, stop - start :]
        log_n = math.log(n)
        log_class_sizes = torch.log(onehot_t.sum(dim=1))[labels]
        means = []
        for name in ("kl", "bd"):
            log_all = torch.log(mass[name].sum(dim=0)) - log_n
            log_own = torch.log(mass[name].gather(0, labels[None, :])[0]) - log_class_sizes
            means.append((float(log_all.mean()), float((log_own - log_all).mean())))
    (kl_all, kl_gain), (bd_all, bd_gain) = means
    return (-kl_all, kl_gain), (-bd_all, bd_gain)


ESTIMATORS: dict[str, type] = {
    "binning": BinningMIEstimator,
    "adaptive": AdaptiveBinningMIEstimator,
    "kde": KDEMIEstimator,
}

# Settings that change how, not what, is computed: left out of cache keys and figure labels.
_RUNTIME_PARAMS = frozenset({"chunk_size", "device"})


def make_estimator(estimator: str, **params: Any):  # -> one of the ESTIMATORS classes
    """An estimator instance from its registry name and settings, validated.

    Raises
    ------
    EstimatorError
        Unknown name, unknown parameter or invalid value.
    """
    cls = ESTIMATORS.get(estimator) if isinstance(estimator, str) else None
    if cls is None:
        raise EstimatorError(f"Unknown estimator {estimator!r}. Choose one of: {', '.join(ESTIMATORS)}.")
    import inspect

    accepted = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise EstimatorError(
            f"The {estimator} estimator has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(accepted)}."
        )
    instance = cls(**params)
    instance.get_params()
    return instance


def describe_estimator(estimator: str, params: dict[str, Any]) -> str:
    """A one-line human description, e.g. ``"binning: 30 bins on [-1, 1]"``."""
    if estimator == "binning":
        size = f"{params['n_bins']} bins" if params.get("bin_width") is None else f"bin width {_fmt(params['bin_width'])}"
        value_range = params.get("value_range")
        where = "each layer's [min, max]" if value_range == "layer" else f"[{_fmt(value_range[0])}, {_fmt(value_range[1])}]"
        return f"binning: {size} on {where}"
    if estimator == "adaptive":
        kind = "equal-mass" if params.get("strategy", "mass") == "mass" else "equal-levels"
        return f"adaptive: {params['n_bins']} {kind} bins per epoch and layer"
    if estimator == "kde":
        return f"kde: noise variance {_fmt(params['noise_var'])}"
    return estimator


def _saturation_message(estimator: str, layer: str | None, n_cells: int, n_total: int, log2_n: float) -> str:
    where = "This representation" if layer is None else f"Layer {layer!r}"
    epochs = "" if layer is None else f" in {n_cells} of {n_total} epochs"
    fix = {
        "binning": "use fewer bins (n_bins / --bins) or a larger bin width (bin_width / --bin-width)",
        "adaptive": "use fewer bins (n_bins / --bins)",
        "kde": "use a larger noise variance (noise_var / --noise-var)",
    }.get(estimator, "use a coarser estimator")
    return (
        f"{where} sits at the ceiling I(X;T) = log2(N) = {log2_n:.2f} bits{epochs}: every sample is "
        f"resolved on its own, so the estimate says nothing about compression; {fix}."
    )


# --------------------------------------------------------------------------------------------
# One representation
# --------------------------------------------------------------------------------------------


def mutual_information(t: Any, y: Any, estimator: EstimatorName = "binning", **params: Any) -> dict[str, Any]:
    """Estimate I(X;T) and I(T;Y) of one representation, in bits.

    Parameters
    ----------
    t : array-like, (n_samples, n_units)
        Activations; each row is one input's representation (inputs taken as distinct).
    y : array-like, (n_samples,)
        Class labels (any comparable values).
    estimator : {"binning", "adaptive", "kde"}, default="binning"
        See :data:`ESTIMATORS`.
    **params
        Settings of the estimator (``n_bins``, ``bin_width``, ``value_range`` for binning;
        ``n_bins``, ``strategy`` for adaptive; ``noise_var``, ``chunk_size``, ``device`` for kde).

    Returns
    -------
    dict
        ``estimator``, ``params`` (all settings), ``i_xt``, ``i_ty``, ``h_y``, ``log2_n`` and
        ``unit`` ("bits"); for kde also ``i_xt_lower``, ``i_xt_upper``, ``i_ty_lower``,
        ``i_ty_upper`` (``i_xt`` and ``i_ty`` are then the upper bounds).

    Raises
    ------
    EstimatorError
        Unknown estimator or parameter, or bad input (shapes, NaN/inf, < 2 samples).

    Warns
    -----
    UserWarning
        When I(X;T) sits at log2(N) (every sample resolved on its own).
    """
    fitted = make_estimator(estimator, **params).fit(t, y)
    result: dict[str, Any] = {
        "estimator": estimator,
        "params": fitted.get_params(),
        "i_xt": float(fitted.i_xt_),
        "i_ty": float(fitted.i_ty_),
        "h_y": float(fitted.h_y_),
        "log2_n": float(fitted.log2_n_),
        "unit": "bits",
    }
    if estimator == "kde":
        result.update(
            i_xt_lower=float(fitted.i_xt_lower_),
            i_xt_upper=float(fitted.i_xt_),
            i_ty_lower=float(fitted.i_ty_lower_),
            i_ty_upper=float(fitted.i_ty_),
        )
    if fitted.saturated_:
        warnings.warn(_saturation_message(estimator, None, 1, 1, fitted.log2_n_), UserWarning, stacklevel=2)
    return result


# --------------------------------------------------------------------------------------------
# The information plane
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InformationPlane:
    """I(X;T) and I(T;Y) for every (epoch, layer) cell, in bits.

    Attributes
    ----------
    estimator : str
        Registry name ("binning", "adaptive", "kde").
    params : dict
        The estimator's settings (JSON-ready; without ``device`` and ``chunk_size``).
    epochs : tuple of int
        Rows of the arrays.
    layers : tuple of str
        Columns of the arrays, in network order.
    i_xt, i_ty : ndarray of float64, (n_epochs, n_layers)
        Estimates; for kde the upper bounds.
    i_xt_lower, i_ty_lower : ndarray of float64 or None
        For kde the lower bounds, (n_epochs, n_layers); None otherwise.
    h_y : float
        Ceiling of I(T;Y): the entropy of the labels.
    log2_n : float
        Ceiling of I(X;T): log2 of the number of samples.
    n_samples : int
        Samples the estimates are made from.
    warnings : tuple of str
        Actionable warnings raised while computing (e.g. layers at log2(N)).
    """

    estimator: str
    params: dict[str, Any]
    epochs: tuple[int, ...]
    layers: tuple[str, ...]
    i_xt: np.ndarray
    i_ty: np.ndarray
    i_xt_lower: np.ndarray | None
    i_ty_lower: np.ndarray | None
    h_y: float
    log2_n: float
    n_samples: int
    warnings: tuple[str, ...] = ()

    @property
    def has_bounds(self) -> bool:
        return self.i_xt_lower is not None

    def label(self) -> str:
        """One line naming the estimator and its settings (used in figure titles)."""
        return describe_estimator(self.estimator, self.params)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per (epoch, layer), in the column order of :func:`write_infoplane_csv`."""
        params_text = json.dumps(self.params, sort_keys=True)
        rows = []
        for e, epoch in enumerate(self.epochs):
            for k, layer in enumerate(self.layers):
                row: dict[str, Any] = {
                    "epoch": int(epoch),
                    "layer": layer,
                    "estimator": self.estimator,
                    "params": params_text,
                    "i_xt": float(self.i_xt[e, k]),
                    "i_ty": float(self.i_ty[e, k]),
                }
                if self.i_xt_lower is not None and self.i_ty_lower is not None:
                    row.update(
                        i_xt_lower=float(self.i_xt_lower[e, k]),
                        i_xt_upper=float(self.i_xt[e, k]),
                        i_ty_lower=float(self.i_ty_lower[e, k]),
                        i_ty_upper=float(self.i_ty[e, k]),
                    )
                rows.append(row)
        return rows


def write_infoplane_csv(plane: InformationPlane, path: str | Path) -> Path:
    """Write ``plane`` as CSV, one row per (epoch, layer); return the path.

    Columns: epoch, layer, estimator, params (JSON), i_xt, i_ty, and for kde also
    i_xt_lower, i_xt_upper, i_ty_lower, i_ty_upper. Values in bits, full precision.
    """
    rows = plane.to_rows()
    columns = ["epoch", "layer", "estimator", "params", "i_xt", "i_ty"]
    if plane.has_bounds:
        columns += ["i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: repr(value) if isinstance(value, float) else value for key, value in row.items()})
    path = Path(path)
    atomic_write_text(path, buffer.getvalue())
    return path


def _estimate_cell(
    t: np.ndarray, y_ids: IntArray, n_classes: int, estimator: str, params: dict[str, Any]
) -> tuple[float, ...]:
    """(i_xt, i_ty, i_xt_lower, i_ty_lower, saturated) of one (epoch, layer) cell."""
    # inputs were validated once for the whole ActivationSet
    fitted = make_estimator(estimator, **params)._fit_checked(t, y_ids, n_classes)
    lower_xt = getattr(fitted, "i_xt_lower_", math.nan)
    lower_ty = getattr(fitted, "i_ty_lower_", math.nan)
    return fitted.i_xt_, fitted.i_ty_, lower_xt, lower_ty, float(fitted.saturated_)


def compute_information_plane(
    acts: ActivationSet,
    estimator: EstimatorName = "binning",
    *,
    layers: Sequence[str] | None = None,
    progress: Progress = NULL_PROGRESS,
    n_jobs: int | None = 1,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    **params: Any,
) -> InformationPlane:
    """Estimate I(X;T) and I(T;Y) for every saved epoch and layer.

    Parameters
    ----------
    acts : ActivationSet
        Activations (n_epochs, n_samples, dim) per layer and the samples' labels.
    estimator : {"binning", "adaptive", "kde"}, default="binning"
        See :data:`ESTIMATORS`; ``**params`` are its settings (see :func:`mutual_information`).
        For binning, ``value_range="layer"`` takes each layer's min and max over all epochs.
    layers : sequence of str, optional
        Layers to estimate, in the order to plot them (default: all of ``acts``).
    progress : Progress
        Told after every (epoch, layer) cell ("epoch 5, layer fc2 (12/700)"; callers add their
        own prefix, e.g. with SubProgress); cancellation is checked between cells.
    n_jobs : int or None, default=1
        Workers for joblib; None defers to ``joblib.parallel_config`` (so a backend such as
        Dask set there is used without code changes).
    cache_dir : path, optional
        Root of the on-disk cache (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write the ``infoplane`` cache, keyed by (acts.key, estimator, params, layers).

    Returns
    -------
    InformationPlane
        Arrays of shape (n_epochs, n_layers), in bits.

    Raises
    ------
    EstimatorError
        Unknown estimator, parameter or layer.
    ActivationError
        NaN or infinite activations, or labels that do not match the activations.
    Cancelled
        When ``progress.check_cancelled`` raises between cells.

    Warns
    -----
    UserWarning
        One per layer that sits at log2(N) in some epoch (also in ``plane.warnings``).
    """
    spec = make_estimator(estimator, **params)
    full_params = spec.get_params()
    layer_names = _select_layers(acts, layers)
    n_epochs = len(acts.epochs)
    if n_epochs == 0:
        raise ActivationError("These activations hold no epochs; extract at least one checkpoint first.")
    n_samples = acts.n_samples
    labels = np.asarray(acts.labels).reshape(-1)
    for name in layer_names:
        shape = acts.values[name].shape
        if len(shape) != 3 or shape[:2] != (n_epochs, n_samples):
            raise ActivationError(
                f"Layer {name!r} activations have shape {shape}; expected ({n_epochs}, {n_samples}, dim). "
                "Re-extract the activations."
            )

    # device and chunk size change how, not what, is computed: kept out of the key and results
    key_params = {k: v for k, v in full_params.items() if k not in _RUNTIME_PARAMS}
    key = hash_json(
        {"v": _CACHE_VERSION, "acts": acts.key, "estimator": estimator, "params": key_params, "layers": layer_names}
    )
    cache = DiskCache("infoplane", cache_dir, enabled=use_cache)
    cached = cache.get(key)
    if cached is not None:
        plane = _plane_from_cache(*cached)
        if plane is not None:
            for message in plane.warnings:
                warnings.warn(message, UserWarning, stacklevel=2)
            progress.update(1.0, "loaded from cache")
            return plane

    if labels.shape != (n_samples,) or n_samples < 2:
        raise ActivationError(
            f"Labels have shape {labels.shape} for {n_samples} samples; need one label per sample and >= 2 samples."
        )
    y_ids, n_classes = _label_ids(labels)
    for name in layer_names:
        # one epoch at a time: a mask of the whole layer can be gigabytes
        if not all(np.isfinite(epoch_values).all() for epoch_values in acts.values[name]):
            raise ActivationError(
                f"Layer {name!r} has NaN or infinite activations; the model probably diverged at some epoch. "
                "Pick other layers or epochs."
            )

    cell_params = {name: dict(full_params) for name in layer_names}
    if estimator == "binning" and full_params["value_range"] == "layer":
        for name in layer_names:
            values = acts.values[name]
            cell_params[name]["value_range"] = _layer_range(values)

    cells = [(e, k) for e in range(n_epochs) for k in range(len(layer_names))]
    results = np.full((n_epochs, len(layer_names), 5), np.nan)
    progress.update(0.0, f"{len(cells)} cells ({estimator})")
    progress.check_cancelled()
    from joblib import Parallel, delayed

    tasks = (
        delayed(_estimate_cell)(acts.values[layer_names[k]][e], y_ids, n_classes, estimator, cell_params[layer_names[k]])
        for e, k in cells
    )
    with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
        for done, ((e, k), cell) in enumerate(zip(cells, parallel(tasks)), start=1):
            results[e, k] = cell
            progress.update(
                done / len(cells),
                f"epoch {acts.epochs[e]}, layer {layer_names[k]} ({done}/{len(cells)})",
            )
            progress.check_cancelled()

    log2_n = math.log2(n_samples)
    messages = []
    for k, name in enumerate(layer_names):
        n_saturated = int(results[:, k, 4].sum())
        if n_saturated:
            messages.append(_saturation_message(estimator, name, n_saturated, n_epochs, log2_n))
    has_bounds = estimator == "kde"
    plane = InformationPlane(
        estimator=estimator,
        params=key_params,
        epochs=tuple(int(e) for e in acts.epochs),
        layers=tuple(layer_names),
        i_xt=_frozen(results[:, :, 0]),
        i_ty=_frozen(results[:, :, 1]),
        i_xt_lower=_frozen(results[:, :, 2]) if has_bounds else None,
        i_ty_lower=_frozen(results[:, :, 3]) if has_bounds else None,
        h_y=_labels_entropy(y_ids, n_classes),
        log2_n=log2_n,
        n_samples=n_samples,
        warnings=tuple(messages),
    )
    _plane_to_cache(cache, key, plane)
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    return plane


def _select_layers(acts: ActivationSet, layers: Sequence[str] | None) -> list[str]:
    available = list(acts.layer_names)
    if layers is None:
        chosen = available
    else:
        if isinstance(layers, str):
            layers = [layers]
        chosen = list(layers)
        unknown = [name for name in chosen if name not in acts.values]
        if unknown:
            raise EstimatorError(
                f"Unknown layer(s) {', '.join(map(repr, unknown))}; the activations hold: {', '.join(available)}."
            )
    if not chosen:
        raise EstimatorError("No layers to estimate; pick at least one layer.")
    return chosen


def _layer_range(values: np.ndarray) -> list[float]:
    """[min, max] of a layer over all epochs, widened when the layer is constant."""
    low, high = float(values.min()), float(values.max())
    if not high > low:
        high = low + 1.0  # constant layer: any range puts it in one bin
    return [low, high]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def _plane_to_cache(cache: DiskCache, key: str, plane: InformationPlane) -> None:
    arrays = {"i_xt": plane.i_xt, "i_ty": plane.i_ty}
    if plane.i_xt_lower is not None and plane.i_ty_lower is not None:
        arrays.update(i_xt_lower=plane.i_xt_lower, i_ty_lower=plane.i_ty_lower)
    meta = {
        "estimator": plane.estimator,
        "params": plane.params,
        "epochs": list(plane.epochs),
        "layers": list(plane.layers),
        "h_y": plane.h_y,
        "log2_n": plane.log2_n,
        "n_samples": plane.n_samples,
        "warnings": list(plane.warnings),
    }
    cache.put(key, arrays, meta)


def _plane_from_cache(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> InformationPlane | None:
    try:
        return InformationPlane(
            estimator=str(meta["estimator"]),
            params=dict(meta["params"]),
            epochs=tuple(int(e) for e in meta["epochs"]),
            layers=tuple(str(name) for name in meta["layers"]),
            i_xt=_frozen(arrays["i_xt"]),
            i_ty=_frozen(arrays["i_ty"]),
            i_xt_lower=_frozen(arrays["i_xt_lower"]) if "i_xt_lower" in arrays else None,
            i_ty_lower=_frozen(arrays["i_ty_lower"]) if "i_ty_lower" in arrays else None,
            h_y=float(meta["h_y"]),
            log2_n=float(meta["log2_n"]),
            n_samples=int(meta["n_samples"]),
            warnings=tuple(str(m) for m in meta.get("warnings", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:  # an entry from another version: recompute
        logger.warning("ignoring incompatible information-plane cache entry (%s)", exc)
        return None
