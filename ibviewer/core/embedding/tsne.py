"""t-SNE (openTSNE): stops when the layout settles, posts it as it forms, stops at once when cancelled.

Where the time goes and what this module does about it:

- **Neighbours**: exact, from the shared `knn.neighbor_table` (the panel's faithfulness and a
  later 3-D or UMAP embedding of the same layer reuse them); openTSNE's own search above
  `knn.EXACT_MAX_POINTS` or for other metrics.
- **Iterations** (opt-SNE, Belkina et al. 2019): with ``early_exaggeration_iter="auto"`` early
  exaggeration ends once the KL divergence's relative improvement has peaked; with
  ``n_iter="auto"`` the run ends once the KL divergence improves by less than
  `MIN_KL_IMPROVEMENT` per iteration. The KL divergence is read every `KL_CHECK_EVERY`
  iterations from openTSNE's callback (where it costs nothing extra). Integers run exactly.
- **Threads**: ``n_jobs="auto"`` uses every core this process may run on, unless other work
  already oversubscribes them (`checks.thread_budget`); results do not depend on it.
- **Warm starts**: a panel of the same layer at a neighbouring epoch (``task.warm``) starts from
  that layout as it is, skips early exaggeration, and reuses that panel's affinities when the
  layer moved less than `AFFINITY_REUSE_TOL` (relative Frobenius change).

The callback is the model for long optimisations: every ``callbacks_every_iters`` iterations it
reports progress and posts a `PartialEmbedding`; at every check, once a cancel was asked, it
returns True so openTSNE stops and hands back the embedding so far.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ibviewer.core.embedding.checks import available_cores, thread_budget, warn
from ibviewer.core.embedding.knn import exact_supported, neighbor_table
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.embedding.results import PartialEmbedding
from ibviewer.core.progress import Progress
from ibviewer.core.types import FloatArray
from ibviewer.errors import Cancelled, EstimatorError

__all__ = ["DEFAULTS", "FFT_MIN_POINTS", "MAX_EARLY_ITER", "MAX_ITER", "check", "run"]

logger = logging.getLogger(__name__)

# Parameters t-SNE accepts, with their defaults (None: openTSNE's default).
DEFAULTS: dict[str, Any] = {
    "perplexity": 30.0,
    "n_iter": "auto",  # until the KL divergence settles, at most MAX_ITER
    "early_exaggeration_iter": "auto",  # until its improvement peaks, at most MAX_EARLY_ITER
    "early_exaggeration": 12.0,
    "exaggeration": None,
    "learning_rate": "auto",
    "negative_gradient_method": "auto",  # resolved: Barnes-Hut, or FFT in 2-D from 10,000 points
    "theta": 0.5,
    "dof": 1.0,
    "metric": "euclidean",
    "neighbors": "auto",  # exact and shared (knn.py) where possible, else openTSNE's choice
    "n_jobs": "auto",  # every available core (one on an oversubscribed machine)
    "callbacks_every_iters": 50,
}
FFT_MIN_POINTS = 10_000
MAX_EARLY_ITER = 250
MAX_ITER = 500
KL_CHECK_EVERY = 10
#: "auto" runs stop when the KL divergence improves by less than this fraction per iteration
#: (opt-SNE's 1/5000); on 10,000 x 128 clusters after ~130 iterations, trustworthiness 0.960
#: against 0.963 after 500.
MIN_KL_IMPROVEMENT = 2e-4
MIN_EARLY_ITER = 50  # early exaggeration's improvement may wobble before it really rises
MIN_ITER = 50
MIN_WARM_ITER = 20
#: a warm start reuses the previous panel's affinities when the layer moved less than this
AFFINITY_REUSE_TOL = 0.02


def check(dims: int, params: Mapping[str, Any]) -> None:
    """Reject what openTSNE would fail on later: FFT gradients in 3-D, iteration counts that are not counts."""
    if dims == 3 and str(params.get("negative_gradient_method", "auto")).lower() in ("fft", "interpolation"):
        raise EstimatorError(
            "openTSNE's FFT gradient works in 2-D only; for a 3-D t-SNE use negative_gradient_method='bh' "
            "(Barnes-Hut, the default in 3-D)."
        )
    for name in ("n_iter", "early_exaggeration_iter"):
        value = params.get(name, "auto")
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise EstimatorError(f"{name} must be 'auto' (stop when the layout settles) or a count >= 0, got {value!r}.")
    jobs = params.get("n_jobs", "auto")
    if jobs != "auto" and (isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs == 0):
        raise EstimatorError(f"n_jobs must be 'auto', a positive number of threads or -1 (all cores), got {jobs!r}.")


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


def resolve_jobs(n_jobs: Any) -> int:
    """``"auto"``: the cores free now (`checks.thread_budget`); -1: every available core."""
    if n_jobs == "auto":
        return thread_budget()
    return available_cores() if int(n_jobs) < 0 else int(n_jobs)


@dataclass
class _Phase:
    """One stretch of gradient descent: early exaggeration or the rest."""

    name: str
    n_iter: int  # exact, or at most when auto
    auto: bool
    exaggeration: float | None
    momentum: float
    min_iter: int = 0


class _KLStop:
    """opt-SNE's stopping rules on the KL divergence read at each check.

    Early exaggeration ends at the first check past ``min_iter`` whose relative improvement per
    iteration is below the best seen (the peak has passed); the run ends once that improvement
    (either sign: a settled layout wobbles) is below `MIN_KL_IMPROVEMENT`.
    """

    def __init__(self, phase: _Phase) -> None:
        self.phase = phase
        self.previous: tuple[int, float] | None = None
        self.best_rate = -np.inf

    def settled(self, iteration: int, error: float) -> bool:
        previous, self.previous = self.previous, (iteration, float(error))
        if previous is None or not np.isfinite(error) or previous[1] == 0:
            return False
        rate = (previous[1] - error) / abs(previous[1]) / max(1, iteration - previous[0])
        if self.phase.name == "early":
            past_peak = rate < self.best_rate
            self.best_rate = max(self.best_rate, rate)
            return iteration >= self.phase.min_iter and past_peak
        return iteration >= self.phase.min_iter and abs(rate) < MIN_KL_IMPROVEMENT


def _phases(params: dict[str, Any], warm: bool) -> list[_Phase]:
    ee, n_iter = params["early_exaggeration_iter"], params["n_iter"]
    main = _Phase(
        "main", MAX_ITER if n_iter == "auto" else int(n_iter), n_iter == "auto", params["exaggeration"], 0.8,
        MIN_WARM_ITER if warm else MIN_ITER,
    )  # fmt: skip
    if warm:
        return [main]  # the layout already has its clusters: exaggeration would only undo it
    early = _Phase(
        "early", MAX_EARLY_ITER if ee == "auto" else int(ee), ee == "auto", float(params["early_exaggeration"]), 0.5,
        MIN_EARLY_ITER,
    )  # fmt: skip
    return [early, main]


def _exact_index(x_sub: FloatArray, k: int, metric: str, n_jobs: int) -> Any:
    """An openTSNE neighbour index answering from the shared exact table (and exactly for new points)."""
    from openTSNE.nearest_neighbors import KNNIndex

    table = neighbor_table(x_sub, k, metric)

    class SharedExactIndex(KNNIndex):
        VALID_METRICS = ["euclidean", "cosine"]

        def build(self) -> tuple[np.ndarray, np.ndarray]:
            return table.indices, table.distances

        def query(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            from sklearn.neighbors import NearestNeighbors

            search = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=self.metric, n_jobs=self.n_jobs)
            distances, indices = search.fit(self.data).kneighbors(query)
            return indices, distances

    return SharedExactIndex(x_sub, k, metric=metric, n_jobs=n_jobs)


def _affinities(task: MethodInput, x_sub: FloatArray, n_jobs: int) -> Any:
    """The affinities of the embedded rows: the previous panel's when the layer barely moved."""
    from openTSNE.affinity import PerplexityBasedNN

    params, previous = task.params, task.previous
    if task.warm and previous is not None and previous.affinities is not None and _barely_moved(previous.points, x_sub):
        logger.info("%sreusing the previous panel's affinities", task.where)
        return previous.affinities
    n_sub = x_sub.shape[0]
    metric = str(params["metric"])
    k = min(n_sub - 1, int(3 * params["perplexity"]))
    if params["neighbors"] == "auto" and exact_supported(metric, n_sub):
        index = _exact_index(x_sub, k, metric, n_jobs)
        return PerplexityBasedNN(perplexity=params["perplexity"], knn_index=index, n_jobs=n_jobs)
    return PerplexityBasedNN(
        x_sub, perplexity=params["perplexity"], method=params["neighbors"], metric=metric, n_jobs=n_jobs,
        random_state=task.seed,
    )  # fmt: skip


def _barely_moved(before: np.ndarray | None, after: np.ndarray) -> bool:
    if before is None or before.shape != after.shape:
        return False
    scale = float(np.linalg.norm(before))
    return scale > 0 and float(np.linalg.norm(after - before)) < AFFINITY_REUSE_TOL * scale


def _start(task: MethodInput, x_sub: FloatArray) -> np.ndarray:
    """The first layout: the warm start as it is, a neighbour's layout shrunk, or PCA / random."""
    from openTSNE import initialization

    dims, init = task.dims, task.init
    if init is not None and task.warm:
        return np.array(init, dtype=np.float64)
    if init is not None:
        return init / init[:, 0].std() * 1e-4  # openTSNE's rescale: early exaggeration forms the clusters
    if x_sub.shape[1] < dims:  # PCA cannot give more axes than features
        return initialization.random(x_sub.shape[0], dims, random_state=task.seed)
    return initialization.pca(x_sub, dims, random_state=task.seed)


def run(task: MethodInput, progress: Progress) -> FloatArray:
    """Optimise a t-SNE of the embedded rows, then place the others with openTSNE's ``transform``.

    Records what it used in ``task.params``: the perplexity, gradient method, threads and the
    iterations actually run; leaves the affinities in ``task.handoff`` for the next panel.

    Raises
    ------
    Cancelled
        ``progress`` asked to stop (checked at every callback, placing the rest included).
    """
    from openTSNE import TSNEEmbedding
    from openTSNE.tsne import OptimizationInterrupt

    params, dims, embedded_idx = task.params, task.dims, task.embedded_idx
    x_sub = task.features[embedded_idx]
    n_sub = len(embedded_idx)
    params["perplexity"] = _adapt_perplexity(float(params["perplexity"]), n_sub, task.where)
    if str(params["negative_gradient_method"]).lower() == "auto":
        # like openTSNE's "auto" (FFT pays off from ~10,000 points), but never FFT in 3-D, where it fails
        params["negative_gradient_method"] = "fft" if dims == 2 and n_sub >= FFT_MIN_POINTS else "bh"
    n_jobs = params["n_jobs"] = resolve_jobs(params["n_jobs"])
    phases = _phases(params, task.warm)
    every = int(params["callbacks_every_iters"])
    check_every = min(every, KL_CHECK_EVERY) if any(p.auto for p in phases) else every
    state: dict[str, Any] = {"offset": 0, "total": sum(p.n_iter for p in phases), "cancelled": False, "placing": False}

    def on_iteration(iteration: int, error: float, embedding: np.ndarray) -> bool:
        # openTSNE's transform (placing the rest) calls this too: then only listen for a cancel
        if not state["placing"] and iteration % every == 0:
            done, total = state["offset"] + iteration, state["total"]
            bound = "at most " if state["auto"] else ""
            progress.update(done / total, f"iteration {done} of {bound}{total}")
            coords = np.array(embedding, dtype=np.float32)
            progress.partial(PartialEmbedding(task.layer, task.epoch, coords, done, total, embedded_idx))
        try:
            progress.check_cancelled()
        except Cancelled:
            state["cancelled"] = True
            return True  # openTSNE stops and hands back the embedding so far
        if state["placing"] or state["stop"] is None:
            return False
        if state["stop"].settled(iteration, error):
            state["settled_at"] = iteration
            return True
        return False

    progress.update(0.0, "nearest neighbours")
    progress.check_cancelled()
    affinities = _affinities(task, x_sub, n_jobs)
    task.handoff.points, task.handoff.affinities = x_sub, affinities
    embedding = TSNEEmbedding(
        _start(task, x_sub), affinities, dof=params["dof"], learning_rate=params["learning_rate"],
        negative_gradient_method=params["negative_gradient_method"], theta=params["theta"], n_jobs=n_jobs,
        callbacks=[on_iteration], callbacks_every_iters=check_every, random_state=task.seed,
    )  # fmt: skip
    ran = {"early": 0, "main": 0}
    for i, phase in enumerate(phases):
        state.update(stop=_KLStop(phase) if phase.auto else None, auto=any(p.auto for p in phases[i:]), settled_at=None)
        if phase.n_iter > 0:
            try:
                embedding.optimize(
                    n_iter=phase.n_iter, exaggeration=phase.exaggeration, momentum=phase.momentum, inplace=True,
                    propagate_exception=True,
                )  # fmt: skip
            except OptimizationInterrupt:
                if state["cancelled"]:
                    raise Cancelled() from None
        ran[phase.name] = state["settled_at"] or phase.n_iter
        state["offset"] += ran[phase.name]
        state["total"] = state["offset"] + sum(p.n_iter for p in phases[i + 1 :])
    params["early_exaggeration_iter"], params["n_iter"] = ran["early"], ran["main"]
    return _place(task, embedding, state, progress)


def _place(task: MethodInput, embedding: Any, state: dict[str, Any], progress: Progress) -> FloatArray:
    """Every row's coordinates: the optimised ones, and the rest placed by openTSNE's ``transform``."""
    n, n_sub, embedded_idx = task.n_samples, len(task.embedded_idx), task.embedded_idx
    coords = np.zeros((n, task.dims), dtype=np.float32)
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
