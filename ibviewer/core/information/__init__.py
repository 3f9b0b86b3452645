"""Mutual-information estimators for the information plane: I(X;T) and I(T;Y) per layer and epoch.

Four estimators, all reporting bits:

- ``binning`` (:class:`BinningMIEstimator`): Shwartz-Ziv & Tishby's discretisation, exact and
  vectorised (each row's bin indices become one integer code that is counted).
- ``adaptive`` (:class:`AdaptiveBinningMIEstimator`): equal-mass bins per (epoch, layer), after
  Chelombiev et al. (2019).
- ``kde`` (:class:`KDEMIEstimator`): the Kolchinsky-Tracey pairwise-distance upper bound and the
  Bhattacharyya lower bound used by Saxe et al. (2018), chunked, in torch, on CUDA when available.
- ``renyi`` (:class:`RenyiMIEstimator`): the matrix-based Rényi α-entropy of Gaussian Gram
  matrices (Giraldo et al. 2015; Yu et al. 2020; Wickstrøm et al.), with the inputs as X when
  the activations carry them; α = 2 from sums of squared Gram entries, other α by eigenvalues.

:func:`mutual_information` estimates one representation; :func:`compute_information_plane`
estimates every (epoch, layer) cell of an :class:`~ibviewer.core.types.ActivationSet` in
parallel through joblib, with progress, cancellation and an on-disk cache.

Modules: ``_common`` (the :class:`MIEstimator` base, input and parameter checks, entropy),
``binning``, ``kde`` and ``renyi`` (one per family of estimators; ``_matrix_entropy`` the torch
arithmetic of ``renyi``), ``registry`` (:data:`ESTIMATORS`, the
only list of estimator classes; :func:`make_estimator`, :func:`describe_estimator`,
:func:`mutual_information`) and ``plane`` (:class:`InformationPlane`, the joblib cells, the
cache and the CSV). A new estimator is a module with an :class:`MIEstimator` subclass plus one
entry in :data:`ESTIMATORS` (and its title in ``ibviewer.core.config.ESTIMATORS``).
"""

from __future__ import annotations

from ibviewer.core.information._common import MIEstimator
from ibviewer.core.information.binning import AdaptiveBinningMIEstimator, BinningMIEstimator
from ibviewer.core.information.kde import KDEMIEstimator
from ibviewer.core.information.renyi import RenyiMIEstimator
from ibviewer.core.information.plane import InformationPlane, compute_information_plane, write_infoplane_csv
from ibviewer.core.information.registry import (
    ESTIMATORS,
    EstimatorName,
    describe_estimator,
    make_estimator,
    mutual_information,
)

__all__ = [
    "ESTIMATORS",
    "EstimatorName",
    "MIEstimator",
    "BinningMIEstimator",
    "AdaptiveBinningMIEstimator",
    "KDEMIEstimator",
    "RenyiMIEstimator",
    "InformationPlane",
    "make_estimator",
    "mutual_information",
    "compute_information_plane",
    "write_infoplane_csv",
    "describe_estimator",
]
