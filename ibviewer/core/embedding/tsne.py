"""t-SNE (openTSNE): posts the layout as it forms and stops at once when cancelled.

The callback below is the model for long optimisations: every ``callbacks_every_iters``
iterations it reports progress, posts a `PartialEmbedding` and, once a cancel was asked,
returns True so openTSNE stops and hands back the embedding so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ibviewer.core.embedding.checks import warn
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.embedding.results import PartialEmbedding
from ibviewer.core.progress import Progress
from ibviewer.core.types import FloatArray
from ibviewer.errors import Cancelled, EstimatorError

__all__ = ["DEFAULTS", "FFT_MIN_POINTS", "check", "run"]

# Parameters t-SNE accepts, with their defaults (None: openTSNE's default).
DEFAULTS: dict[str, Any] = {
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
FFT_MIN_POINTS = 10_000


def check(dims: int, params: Mapping[str, Any]) -> None:
    """Reject what openTSNE would fail on later: FFT gradients in 3-D."""
    if dims == 3 and str(params.get("negative_gradient_method", "auto")).lower() in ("fft", "interpolation"):
        raise EstimatorError(
            "openTSNE's FFT gradient works in 2-D only; for a 3-D t-SNE use negative_gradient_method='bh' "
            "(Barnes-Hut, the default in 3-D)."
        )


def _adapt_perplexity(perplexity: float, n: int, where: str) -> float:
    limit = (n - 1) / 3.0
    if perplexity > limit:
        adapted = max(1.0, float(np.floor(limit * 100) / 100))
        warn(
            f"{where}perplexity {perplexity:g} is too large for {n} points (at most (n-1)/3 = {limit:.2f}); "
            f"using {adapted:g}."
        )
        return adapted
    return float(perplexity)


def run(task: MethodInput, progress: Progress) -> FloatArray:
    """Optimise a t-SNE of the embedded rows, then place the others with openTSNE's ``transform``.

    Records the perplexity and gradient method it used in ``task.params``.

    Raises
    ------
    Cancelled
        ``progress`` asked to stop (checked at every callback, placing the rest included).
    """
    from openTSNE import TSNE
    from openTSNE.tsne import OptimizationInterrupt

    params, dims, embedded_idx = task.params, task.dims, task.embedded_idx
    x_sub = task.features[embedded_idx]
    n_sub = len(embedded_idx)
    params["perplexity"] = _adapt_perplexity(float(params["perplexity"]), n_sub, task.where)
    if str(params["negative_gradient_method"]).lower() == "auto":
        # like openTSNE's "auto" (FFT pays off from ~10,000 points), but never FFT in 3-D, where it fails
        params["negative_gradient_method"] = "fft" if dims == 2 and n_sub >= FFT_MIN_POINTS else "bh"
    ee_iter, n_iter = int(params["early_exaggeration_iter"]), int(params["n_iter"])
    total = max(1, ee_iter + n_iter)
    state = {"offset": 0, "cancelled": False, "placing": False}

    def on_iteration(iteration: int, error: float, embedding: np.ndarray) -> bool:
        # openTSNE's transform (placing the rest) calls this too: then only listen for a cancel
        if not state["placing"]:
            done = state["offset"] + iteration
            progress.update(done / total, f"iteration {done} of {total}")
            coords = np.array(embedding, dtype=np.float32)
            progress.partial(PartialEmbedding(task.layer, task.epoch, coords, done, total, embedded_idx))
        try:
            progress.check_cancelled()
        except Cancelled:
            state["cancelled"] = True
            return True  # openTSNE stops and hands back the embedding so far
        return False

    if task.init is not None:
        initialization: np.ndarray | str = task.init / task.init[:, 0].std() * 1e-4  # openTSNE's rescale
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
        random_state=task.seed,
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
    n = task.n_samples
    coords = np.zeros((n, dims), dtype=np.float32)
    if n_sub < n:
        progress.update(1.0, f"placing the other {n - n_sub} points")
        progress.check_cancelled()
        rest = np.setdiff1d(np.arange(n), embedded_idx)
        state["placing"] = True
        placed = embedding.transform(task.features[rest], perplexity=min(5.0, (n_sub - 1) / 3.0))
        if state["cancelled"]:  # transform hands back half-placed points when interrupted
            raise Cancelled()
        coords[rest] = np.asarray(placed)
    coords[embedded_idx] = np.asarray(embedding)  # after transform, which re-centres it
    return coords
