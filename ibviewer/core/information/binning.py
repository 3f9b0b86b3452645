"""The binning estimators: fixed bins (``binning``) and equal-mass bins per cell (``adaptive``).

Both discretise every activation, read a sample's row of bin indices as one symbol and count
symbols exactly (plug-in entropies): each row becomes one int64 code, so counting is a sort,
vectorised, with no loop over rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np

from ibviewer.core.information._common import (
    MIEstimator,
    _check_int,
    _check_positive_float,
    _check_range,
    _entropy_bits,
    _fmt,
)
from ibviewer.core.types import FloatArray, IntArray
from ibviewer.errors import EstimatorError

__all__ = ["BinningMIEstimator", "AdaptiveBinningMIEstimator"]

# Integer codes stay below this so a further `* radix + index` cannot overflow int64.
_CODE_LIMIT = 2**62


# --------------------------------------------------------------------------------------------
# Exact counting of binned rows
# --------------------------------------------------------------------------------------------


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
) -> tuple[float, float, float, int, IntArray]:
    """(I(X;T), I(T;Y), H(Y), number of distinct rows, row codes) of discretised T, in bits.

    X is uniform over the samples and T a deterministic function of X, so I(X;T) = H(T);
    I(T;Y) = H(T) + H(Y) - H(T,Y), counted through the joint code ``t_code * n_classes + y``.
    The codes (``code * n_classes`` fits int64) serve :func:`_plugin_i_ty` for other labelings.
    """
    n = bin_idx.shape[0]
    code, size = _row_codes(bin_idx, n_levels)
    if size * n_classes >= _CODE_LIMIT:
        code, size = _dense_ids(code)
    counts_t = _run_lengths(np.sort(code))
    h_t = _entropy_bits(counts_t, n)
    h_y = _entropy_bits(np.bincount(y_ids, minlength=n_classes), n)
    return h_t, _plugin_i_ty(code, h_t, y_ids, n_classes, h_y), h_y, int(counts_t.shape[0]), code


def _plugin_i_ty(code: IntArray, h_t: float, y_ids: IntArray, n_classes: int, h_y: float) -> float:
    """I(T;Y) = H(T) + H(Y) - H(T,Y) of row codes ``code`` (entropy ``h_t``) and labels ``y_ids``."""
    h_ty = _entropy_bits(_run_lengths(np.sort(code * n_classes + y_ids)), code.shape[0])
    # clip: rounding can leave -1e-16 where the true value is 0
    return max(h_t + h_y - h_ty, 0.0)


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



# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


class _PluginEstimator(MIEstimator):
    """Shared fit for the binning estimators: edges from the data, then exact counting."""

    def _edges_for_data(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, t: np.ndarray) -> IntArray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int, inputs: Any = None) -> Self:
        self.edges_ = self._edges_for_data(t)
        bin_idx = self.transform(t)
        n = bin_idx.shape[0]
        # transform gives indices 0..len(edges_) for both binning flavours
        n_levels = self.edges_.shape[0] + 1
        self.i_xt_, self.i_ty_, self.h_y_, self.n_distinct_, self._codes = _plugin_mi(bin_idx, n_levels, y_ids, n_classes)
        self.log2_n_ = math.log2(n)
        self.saturated_ = self.n_distinct_ == n
        return self

    def null_i_ty(self, t: np.ndarray, labelings: Sequence[IntArray], n_classes: int) -> np.ndarray:
        """I(T;Y) under each labeling, counted from the fitted bins (no second binning)."""
        n = self._codes.shape[0]
        return np.array([
            _plugin_i_ty(self._codes, self.i_xt_, ids, n_classes, _entropy_bits(np.bincount(ids, minlength=n_classes), n))
            for ids in labelings
        ])  # fmt: skip


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
    value_range : (float, float), "auto" or "layer", default="auto"
        Fixed edges on [low, high]; ``"layer"``: the layer's min and max (over all epochs in
        :func:`compute_information_plane`; over ``t`` in :meth:`fit`); ``"auto"``: the
        published [-1, 1] (Shwartz-Ziv & Tishby's setting for tanh layers) when every value
        of the layer lies inside it, the layer's own min and max otherwise (ReLU layers, whose
        values above 1 would all share the top bin of a fixed [-1, 1]).

    Attributes
    ----------
    edges_ : ndarray of float32
        The bin edges used.
    range_low_, range_high_ : float
        The numeric range the edges span (what ``value_range`` resolved to).
    out_of_range_ : float
        Fraction of the activation values outside [range_low_, range_high_] (0 unless a fixed
        range is too narrow: those values share the end bins).
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
    saturation_fix = "use fewer bins (n_bins / --bins) or a larger bin width (bin_width / --bin-width)"
    cell_outputs = ("range_low", "range_high", "out_of_range")

    def __init__(
        self,
        n_bins: int | None = None,
        bin_width: float | None = None,
        value_range: tuple[float, float] | Literal["auto", "layer"] = "auto",
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
            "value_range": value_range if isinstance(value_range, str) else list(value_range),
        }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """E.g. ``"binning: 30 bins on [-1, 1]"``."""
        size = f"{params['n_bins']} bins" if params.get("bin_width") is None else f"bin width {_fmt(params['bin_width'])}"
        value_range = params.get("value_range")
        if value_range == "layer":
            where = "each layer's [min, max]"
        elif value_range == "auto":
            where = "[-1, 1] or the layer's range"
        else:
            where = f"[{_fmt(value_range[0])}, {_fmt(value_range[1])}]"
        return f"binning: {size} on {where}"

    @classmethod
    def layer_params(
        cls, params: dict[str, Any], values: np.ndarray, shape: tuple[int, ...] | None = None
    ) -> dict[str, Any]:
        """With ``value_range`` "layer" or "auto": the range resolved from the layer's values over all epochs."""
        if not isinstance(params["value_range"], str):
            return params
        return {**params, "value_range": _resolved_range(params["value_range"], values)}

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
        low, high = _resolved_range(value_range, t) if isinstance(value_range, str) else value_range
        self.range_low_, self.range_high_ = float(low), float(high)
        outside = np.count_nonzero(t < low) + np.count_nonzero(t > high)
        self.out_of_range_ = outside / t.size
        return self._uniform_edges(low, high)

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
    "information at a fixed number of bins". A layer with no more distinct values than
    ``n_bins`` (all units pooled) gets one bin per distinct value, so nothing is merged;
    otherwise repeated quantiles are merged. Units: bits.

    References
    ----------
    .. [1] I. Chelombiev, C. Houghton and C. O'Donnell, "Adaptive estimators show information
       compression in deep neural networks", ICLR 2019.
    """

    name = "adaptive"
    saturation_fix = "use fewer bins (n_bins / --bins)"

    def __init__(self, n_bins: int = 30, strategy: Literal["mass", "levels"] = "mass") -> None:
        self.n_bins = n_bins
        self.strategy = strategy

    def get_params(self) -> dict[str, Any]:
        n_bins = _check_int("n_bins", self.n_bins, 1)
        if self.strategy not in ("mass", "levels"):
            raise EstimatorError(f"strategy must be 'mass' or 'levels', got {self.strategy!r}.")
        return {"n_bins": n_bins, "strategy": self.strategy}

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """E.g. ``"adaptive: 30 equal-mass bins per epoch and layer"``."""
        kind = "equal-mass" if params.get("strategy", "mass") == "mass" else "equal-levels"
        return f"adaptive: {params['n_bins']} {kind} bins per epoch and layer"

    def _edges_for_data(self, t: np.ndarray) -> np.ndarray:
        params = self.get_params()
        n_bins = params["n_bins"]
        values = t.reshape(-1)
        levels = np.unique(values)
        if levels.size <= n_bins:
            # no more distinct values than bins: each value its own bin (quantiles would merge rare ones)
            return levels[1:]
        if params["strategy"] == "mass":
            inner = np.quantile(values, np.arange(1, n_bins) / n_bins)
        else:
            inner = levels[(np.arange(1, n_bins) * levels.size) // n_bins]
        return np.unique(inner)

    def transform(self, t: np.ndarray) -> IntArray:
        """Bin indices, (n_samples, n_units) int64, of ``t`` under the fitted edges."""
        return np.searchsorted(self.edges_, np.asarray(t), side="right").astype(np.int64, copy=False)


#: The range "auto" keeps for layers that stay inside it (the published setting for tanh layers).
PUBLISHED_RANGE = (-1.0, 1.0)


def _resolved_range(mode: str, values: np.ndarray) -> list[float]:
    """The numeric range of ``value_range`` "layer" or "auto" for a layer's values (any shape).

    "layer": [min, max], widened when the layer is constant; "auto": :data:`PUBLISHED_RANGE`
    when min and max lie inside it, else as "layer".
    """
    low, high = float(values.min()), float(values.max())
    if mode == "auto" and PUBLISHED_RANGE[0] <= low and high <= PUBLISHED_RANGE[1]:
        return list(PUBLISHED_RANGE)
    if not high > low:
        high = low + 1.0  # constant layer: any range puts it in one bin
    return [low, high]

