"""What every estimator shares: the base class, input and parameter checks, label ids, entropy.

:class:`MIEstimator` is the contract the registry, :func:`mutual_information` and the
information plane rely on; an estimator module subclasses it and nothing else here knows
its name.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np

from ibviewer.core.types import IntArray
from ibviewer.errors import EstimatorError


# --------------------------------------------------------------------------------------------
# The estimator contract
# --------------------------------------------------------------------------------------------


class MIEstimator:
    """Base of the estimators in :data:`~ibviewer.core.information.ESTIMATORS`.

    A subclass stores its settings in ``__init__`` (keyword arguments, no validation),
    validates them in :meth:`get_params` and estimates in ``_fit_checked`` from inputs that
    :meth:`fit` (or the information plane, once for all cells) has already checked. Its class
    attributes and :meth:`describe` / :meth:`layer_params` are all the registry, the
    saturation warning and the plane need to know about it.

    Attributes
    ----------
    i_xt_, i_ty_ : float
        I(X;T) and I(T;Y) in bits (the upper bounds when ``has_bounds``).
    i_xt_lower_, i_ty_lower_ : float
        Lower bounds in bits, only when ``has_bounds``.
    h_y_, log2_n_ : float
        The ceilings H(Y) (for I(T;Y)) and log2(N) (for I(X;T)), in bits.
    saturated_ : bool
        True when I(X;T) sits at log2(N): every sample is resolved on its own and the estimate
        says nothing about compression.
    x_variable_ : {"sample", "input"}
        What X was: ``"sample"`` (the sample identity, every row a distinct input, so
        I(X;T) = H(T) of the deterministic network) or ``"input"`` (the inputs passed as ``x``,
        only for estimators with ``uses_inputs``).
    """

    #: Registry name ("binning", ...), also the key in ``ibviewer.core.config.ESTIMATORS``.
    name: ClassVar[str] = ""
    #: True when ``fit`` also sets ``i_xt_lower_`` and ``i_ty_lower_``.
    has_bounds: ClassVar[bool] = False
    #: Settings that change how, not what, is computed: left out of cache keys and figure labels.
    runtime_params: ClassVar[frozenset[str]] = frozenset()
    #: The end of the saturation warning: which setting to change, in the API and on the CLI.
    saturation_fix: ClassVar[str] = "use a coarser estimator"
    #: True when ``fit`` can take the inputs ``x`` as the X of I(X;T) (otherwise X is the sample).
    uses_inputs: ClassVar[bool] = False
    #: Extra numbers per fit, read from the attributes ``<name>_`` (the plane keeps one per cell).
    cell_outputs: ClassVar[tuple[str, ...]] = ()
    #: Extra texts per fit, read from the attributes ``<name>_`` (the plane keeps one per layer).
    layer_notes: ClassVar[tuple[str, ...]] = ()

    i_xt_: float
    i_ty_: float
    i_xt_lower_: float  # only when has_bounds
    i_ty_lower_: float
    h_y_: float
    log2_n_: float
    saturated_: bool
    x_variable_: str = "sample"

    def get_params(self) -> dict[str, Any]:  # pragma: no cover - overridden
        """The validated settings as a JSON-ready dict (defaults filled in)."""
        raise NotImplementedError

    def fit(self, t: np.ndarray, y: np.ndarray, x: np.ndarray | None = None) -> Self:
        """Estimate from activations ``t`` (n_samples, n_units) and labels ``y`` (n_samples,).

        ``x`` (n_samples, ...), the inputs of the same samples, is the X of I(X;T) for
        estimators with ``uses_inputs``; without it (and for the others) X is the sample itself.
        """
        self.get_params()
        t, y_ids, n_classes = _check_inputs(t, y)
        inputs = None
        if x is not None:
            if not self.uses_inputs:
                raise EstimatorError(
                    f"The {self.name} estimator takes X to be the sample itself (I(X;T) = H(T)) and does not "
                    "use inputs x; leave x out, or use the renyi estimator, which does."
                )
            inputs = self.prepare_inputs(_check_x(x, t.shape[0]))
        return self._fit_checked(t, y_ids, n_classes, inputs)

    def prepare_inputs(self, x: np.ndarray) -> Any:  # pragma: no cover - only with uses_inputs
        """What ``_fit_checked`` needs of the inputs, computed once for all cells of a plane."""
        raise NotImplementedError

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int, inputs: Any = None) -> Self:  # pragma: no cover
        raise NotImplementedError

    def null_i_ty(self, t: np.ndarray, labelings: Sequence[IntArray], n_classes: int) -> np.ndarray:
        """I(T;Y) of the fitted ``t`` under each of ``labelings`` (permuted label ids), in bits.

        The shuffled-label null: what the estimator reports when the labels carry nothing about
        T. The default fits a copy once per labeling (X left out: I(T;Y) does not depend on it);
        estimators that can reuse their fit override it.
        """
        return np.array([copy.copy(self)._fit_checked(t, ids, n_classes, None).i_ty_ for ids in labelings])

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """A one-line human description of ``params`` (from :meth:`get_params`)."""
        return cls.name

    @classmethod
    def layer_params(
        cls, params: dict[str, Any], values: np.ndarray, shape: tuple[int, ...] | None = None
    ) -> dict[str, Any]:
        """Settings for one layer of the information plane, given its values over all epochs.

        ``values`` is (n_epochs, n_samples, dim); ``shape`` the layer's per-sample output shape
        (``LayerInfo.shape``, e.g. (C, H, W) for a feature map) when known. The default uses
        ``params`` unchanged.
        """
        return params


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


def _check_x(x: Any, n_samples: int) -> np.ndarray:
    """Validate inputs ``x`` (n_samples, ...) of the samples; return them as float64 (n_samples, d)."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] != n_samples:
        raise EstimatorError(
            f"x has shape {x.shape} but t has {n_samples} samples: pass one input per row of t."
        )
    if x.dtype == bool or np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float64)
    elif not np.issubdtype(x.dtype, np.floating):
        raise EstimatorError(f"x must hold numbers, got dtype {x.dtype}. Pass the numeric model inputs.")
    x = x.reshape(n_samples, -1)
    if x.shape[1] == 0:
        raise EstimatorError("x has no values per sample; pass the inputs, or leave x out.")
    if not np.isfinite(x).all():
        raise EstimatorError("x contains NaN or infinite values; pass finite inputs.")
    return x


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


def _check_range(value: Any) -> tuple[float, float] | Literal["auto", "layer"]:
    if isinstance(value, str):
        if value in ("auto", "layer"):
            return value  # type: ignore[return-value]
        raise EstimatorError(f"value_range must be (low, high), 'auto' or 'layer', got {value!r}.")
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise EstimatorError(f"value_range must be (low, high), 'auto' or 'layer', got {value!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise EstimatorError(f"value_range needs finite low < high, got ({low:g}, {high:g}).")
    return low, high


def _fmt(value: float) -> str:
    return f"{value:g}"
