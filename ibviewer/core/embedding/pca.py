"""PCA (scikit-learn): a linear projection of every point; the quick, faithful-to-distances view."""

from __future__ import annotations

from typing import Any

import numpy as np

from ibviewer.core.embedding.checks import lean_blas, warn
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.progress import Progress
from ibviewer.core.types import FloatArray

__all__ = ["DEFAULTS", "run"]

DEFAULTS: dict[str, Any] = {}


def run(task: MethodInput, progress: Progress) -> FloatArray:
    """The first ``dims`` principal components of every row; missing axes (too few features) are zero."""
    from sklearn.decomposition import PCA

    n, d = task.features.shape
    n_components = min(task.dims, d, n)
    coords = np.zeros((n, task.dims), dtype=np.float32)
    with lean_blas(n * d):
        coords[:, :n_components] = PCA(n_components=n_components, random_state=task.seed).fit_transform(task.features)
    if n_components < task.dims:
        warn(
            f"{task.where}PCA can give only {n_components} axes for {n} samples of {d} features: "
            f"the remaining {task.dims - n_components} axis/axes are zero."
        )
    return coords
