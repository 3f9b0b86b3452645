"""The estimator registry and the one-representation entry point.

:data:`ESTIMATORS` is the only list of estimator classes; its names are exactly those of
``ibviewer.core.config.ESTIMATORS`` (which holds the titles shown to users; a test checks that
the two agree). :func:`make_estimator` builds one by name, :func:`describe_estimator` names its
settings in one line, :func:`mutual_information` estimates one representation.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Literal

from ibviewer.core.information._common import MIEstimator
from ibviewer.core.information.binning import AdaptiveBinningMIEstimator, BinningMIEstimator
from ibviewer.core.information.kde import KDEMIEstimator
from ibviewer.core.information.renyi import RenyiMIEstimator
from ibviewer.errors import EstimatorError

__all__ = [
    "ESTIMATORS",
    "EstimatorName",
    "WIDE_LAYER_ESTIMATOR",
    "make_estimator",
    "describe_estimator",
    "mutual_information",
]

#: Registry name -> estimator class, in the order users see them.
ESTIMATORS: dict[str, type[MIEstimator]] = {
    "binning": BinningMIEstimator,
    "adaptive": AdaptiveBinningMIEstimator,
    "kde": KDEMIEstimator,
    "renyi": RenyiMIEstimator,
}
# the same names, for type checkers (a test checks it matches ESTIMATORS)
EstimatorName = Literal["binning", "adaptive", "kde", "renyi"]


def make_estimator(estimator: str, **params: Any) -> MIEstimator:
    """An estimator instance from its registry name and settings, validated.

    ``make_estimator(name, **params).fit(t, y)`` gives the fitted estimator with all its
    ``*_`` attributes (``i_xt_``, ``i_ty_``, ``saturated_``, ...).

    Raises
    ------
    EstimatorError
        Unknown name, unknown parameter or invalid value.
    """
    cls = ESTIMATORS.get(estimator) if isinstance(estimator, str) else None
    if cls is None:
        raise EstimatorError(f"Unknown estimator {estimator!r}. Choose one of: {', '.join(ESTIMATORS)}.")
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
    cls = ESTIMATORS.get(estimator) if isinstance(estimator, str) else None
    return estimator if cls is None else cls.describe(params)


#: The estimator the ceiling warning of the others offers: it stays below log2(N) on wide layers.
WIDE_LAYER_ESTIMATOR = "renyi"


def _saturation_message(estimator: str, layer: str | None, n_cells: int, n_total: int, log2_n: float) -> str:
    where = "This representation" if layer is None else f"Layer {layer!r}"
    epochs = "" if layer is None else f" in {n_cells} of {n_total} epochs"
    cls = ESTIMATORS.get(estimator, MIEstimator)
    offer = ""
    if estimator != WIDE_LAYER_ESTIMATOR:
        offer = f", or use the {WIDE_LAYER_ESTIMATOR} estimator, made for wide layers (--estimator {WIDE_LAYER_ESTIMATOR})"
    return (
        f"{where} sits at the ceiling I(X;T) = log2(N) = {log2_n:.2f} bits{epochs}: every sample is "
        f"resolved on its own, so the estimate says nothing about compression; {cls.saturation_fix}{offer}."
    )


def mutual_information(
    t: Any, y: Any, estimator: EstimatorName = "binning", *, x: Any = None, **params: Any
) -> dict[str, Any]:
    """Estimate I(X;T) and I(T;Y) of one representation, in bits.

    Parameters
    ----------
    t : array-like, (n_samples, n_units)
        Activations; each row is one input's representation (inputs taken as distinct).
    y : array-like, (n_samples,)
        Class labels (any comparable values).
    estimator : {"binning", "adaptive", "kde", "renyi"}, default="binning"
        See :data:`ESTIMATORS`.
    x : array-like, (n_samples, ...), optional
        The inputs of the same samples, as the X of I(X;T) (renyi only; the others, and
        renyi without ``x``, take X to be the sample itself, so I(X;T) = H(T)).
    **params
        Settings of the estimator (``n_bins``, ``bin_width``, ``value_range`` for binning;
        ``n_bins``, ``strategy`` for adaptive; ``noise_var``, ``chunk_size``, ``device`` for kde;
        ``alpha``, ``kernel_width``, ``width_factor``, ``conv_kernel``, ``map_shape``,
        ``chunk_size``, ``device`` for renyi).

    Returns
    -------
    dict
        ``estimator``, ``params`` (all settings), ``i_xt``, ``i_ty``, ``h_y``, ``log2_n``,
        ``saturated`` (bool: the estimator's ``saturated_``, True when I(X;T) sits at log2(N)
        and the warning below is raised), ``x_variable`` (``"sample"``: X is the sample
        itself, I(X;T) = H(T); ``"input"``: X is ``x``) and ``unit`` ("bits"); for kde also
        ``i_xt_lower``, ``i_xt_upper``, ``i_ty_lower``, ``i_ty_upper`` (``i_xt`` and ``i_ty``
        are then the upper bounds); for renyi also ``entropy_t``, ``entropy_x``,
        ``kernel_width``, ``kernel_width_x`` (None without ``x``) and ``kernel``.

    Raises
    ------
    EstimatorError
        Unknown estimator or parameter, or bad input (shapes, NaN/inf, < 2 samples).

    Warns
    -----
    UserWarning
        When I(X;T) sits at log2(N) (every sample resolved on its own).
    """
    fitted = make_estimator(estimator, **params).fit(t, y, x)
    result: dict[str, Any] = {
        "estimator": estimator,
        "params": fitted.get_params(),
        "i_xt": float(fitted.i_xt_),
        "i_ty": float(fitted.i_ty_),
        "h_y": float(fitted.h_y_),
        "log2_n": float(fitted.log2_n_),
        "saturated": bool(fitted.saturated_),
        "x_variable": fitted.x_variable_,
        "unit": "bits",
    }
    for output in fitted.cell_outputs:
        value = float(getattr(fitted, output + "_"))
        result[output] = None if math.isnan(value) else value  # None: JSON has no NaN
    for note in fitted.layer_notes:
        result[note] = str(getattr(fitted, note + "_"))
    if fitted.has_bounds:
        result.update(
            i_xt_lower=float(fitted.i_xt_lower_),
            i_xt_upper=float(fitted.i_xt_),
            i_ty_lower=float(fitted.i_ty_lower_),
            i_ty_upper=float(fitted.i_ty_),
        )
    if fitted.saturated_:
        warnings.warn(_saturation_message(estimator, None, 1, 1, fitted.log2_n_), UserWarning, stacklevel=2)
    return result
