"""The jobs the window runs in worker threads: open + extract, the analysis chain, neighbour look-ups.

Plain functions with a ``progress`` argument (no Qt here): `TaskRunner` runs them in a
thread. The analysis chain posts each result as soon as it exists (`StageResult` for
the information plane and probes; the embedding module's own per-layer objects for
embeddings), so the window fills in while the rest is still being computed:
PCA first (instant), then the information plane, then t-SNE/UMAP replacing PCA
layer by layer, then the layer probes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.errors import IBViewerError

__all__ = [
    "OpenRequest",
    "OpenedRun",
    "AnalysisRequest",
    "StageResult",
    "embedding_kwargs",
    "open_and_extract",
    "run_analysis",
    "embed_epochs",
    "NeighborCache",
    "find_neighbors",
    "warm_up",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenRequest:
    """Everything needed to open a run and extract its activations (the CLI's run options)."""

    path: str
    model: str | None = None
    model_kwargs: dict[str, Any] | None = None
    dataset: str | None = None
    trust_pickle: bool = False
    layers: tuple[str, ...] | None = None
    device: str = "cpu"
    max_samples: int | None = None
    sequence_pool: str = "mean"
    feature_maps: str = "flatten"
    cache_dir: str | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class OpenedRun:
    request: OpenRequest
    run: Any
    activations: Any


@dataclass(frozen=True)
class AnalysisRequest:
    """What to compute for the open activations; ``stages`` picks a subset (for recomputes)."""

    epoch: int
    method: str = "tsne"
    dims: int = 2
    estimator: str = "binning"
    estimator_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    stages: frozenset[str] = frozenset({"infoplane", "embeddings", "probes"})
    cache_dir: str | None = None
    use_cache: bool = True
    #: further ``embed_layers`` keyword arguments (``AnalysisSettings.embedding_params()``:
    #: alignment, preprocessing, pca_dims, perplexity / n_neighbors); ``method``, ``dims``
    #: and ``seed`` entries are ignored (the fields above decide them)
    embedding_params: dict[str, Any] = field(default_factory=dict)


#: embed_layers arguments that belong to one method only (dropped for the PCA preview)
_METHOD_ONLY_PARAMS = {"tsne": ("perplexity",), "umap": ("n_neighbors",)}


def embedding_kwargs(request: AnalysisRequest, method: str) -> dict[str, Any]:
    """The ``embed_layers`` keyword arguments of ``request`` for ``method`` (the PCA preview keeps
    only the preprocessing and a PCA-compatible alignment)."""
    params = {k: v for k, v in request.embedding_params.items() if k not in ("method", "dims", "seed")}
    for other, names in _METHOD_ONLY_PARAMS.items():
        if other != method:
            for name in names:
                params.pop(name, None)
    if method == "pca":
        params.pop("pca_dims", None)
        if params.get("alignment") == "aligned_umap":
            params["alignment"] = "init"  # AlignedUMAP is UMAP-only: the preview aligns by Procrustes
    return {"method": method, "dims": request.dims, "seed": request.seed, **params}


@dataclass(frozen=True)
class StageResult:
    """A finished stage of the analysis chain, posted as a partial result."""

    stage: str  # "infoplane" | "probes"
    value: Any


def open_and_extract(request: OpenRequest, *, progress: Progress = NULL_PROGRESS) -> OpenedRun:
    """Open the run and extract (or load from cache) every chosen layer at every epoch."""
    from ibviewer.core.activations import ExtractOptions
    from ibviewer.core.run import open_run

    progress.update(0.0, f"Opening {request.path}")
    run = open_run(
        request.path,
        model=request.model,
        dataset=request.dataset,
        trust_pickle=request.trust_pickle,
        model_kwargs=request.model_kwargs,
    )
    progress.check_cancelled()
    options = ExtractOptions(
        layers=request.layers,
        device=request.device,
        max_samples=request.max_samples,
        sequence_pool=request.sequence_pool,
        feature_maps=request.feature_maps,
    )
    activations = run.activations(
        options,
        progress=SubProgress(progress, 0.05, 1.0, prefix="Extracting activations: "),
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
    )
    return OpenedRun(request, run, activations)


def run_analysis(activations: Any, request: AnalysisRequest, *, progress: Progress = NULL_PROGRESS) -> None:
    """The analysis chain; every result is posted with ``progress.partial`` as soon as it exists."""
    stages = request.stages
    want_final = "embeddings" in stages and request.method != "pca"
    spans = _stage_spans(stages, want_final)
    if "embeddings" in stages:
        # the instant preview; its faithfulness is only worth computing when PCA is what was asked for
        _embed(activations, request, "pca", SubProgress(progress, *spans["pca"]), faithfulness=request.method == "pca")
    if "infoplane" in stages:
        from ibviewer.core.information import compute_information_plane

        infoplane = compute_information_plane(
            activations,
            request.estimator,
            progress=SubProgress(progress, *spans["infoplane"], prefix="Information plane: "),
            cache_dir=request.cache_dir,
            use_cache=request.use_cache,
            **request.estimator_params,
        )
        progress.partial(StageResult("infoplane", infoplane))
    if want_final:
        _embed(activations, request, request.method, SubProgress(progress, *spans["final"]))
    if "probes" in stages:
        from ibviewer.core.probes import run_probes

        probes = run_probes(
            activations,
            epochs=(request.epoch,),
            seed=request.seed,
            progress=SubProgress(progress, *spans["probes"], prefix="Layer probes: "),
        )
        progress.partial(StageResult("probes", probes))
    progress.update(1.0, "Done")


def _stage_spans(stages: frozenset[str], want_final: bool) -> dict[str, tuple[float, float]]:
    # rough relative costs, so the bar moves evenly
    weights = {
        "pca": 0.02 if "embeddings" in stages else 0.0,
        "infoplane": 0.15 if "infoplane" in stages else 0.0,
        "final": 0.7 if want_final else 0.0,
        "probes": 0.13 if "probes" in stages else 0.0,
    }
    total = sum(weights.values()) or 1.0
    spans, start = {}, 0.0
    for name, weight in weights.items():
        end = start + weight / total
        spans[name] = (start, end)
        start = end
    return spans


def _embed(activations: Any, request: AnalysisRequest, method: str, progress: Progress, faithfulness: bool = True) -> None:
    from ibviewer.core.embedding import embed_layers

    # per-layer results reach the GUI through progress.partial (posted by embed_layers)
    embed_layers(
        activations,
        epochs=(request.epoch,),
        layers=None,
        faithfulness=faithfulness,
        progress=progress,
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
        **embedding_kwargs(request, method),
    )


def embed_epochs(
    activations: Any,
    request: AnalysisRequest,
    epochs: tuple[int, ...],
    *,
    faithfulness: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> Any:
    """Embed every layer at ``epochs`` (all saved epochs, or evenly spaced keyframes), aligned across epochs.

    What epoch playback needs: one `embed_layers` call over the epochs, so each panel is
    aligned to the same layer one chosen epoch later and points move smoothly. Every
    finished panel is posted with ``progress.partial``; panels already computed come from
    the disk cache. Progress messages say how many of the saved epochs are embedded.
    ``faithfulness`` (per-point k-NN overlap) costs ~0.35 s a panel of 4096 points: more
    than PCA itself, little beside t-SNE/UMAP.
    """
    from ibviewer.core.embedding import embed_layers

    n_saved = len(activations.epochs)
    chosen: Any = "all" if tuple(epochs) == tuple(activations.epochs) else tuple(epochs)
    note = f"all {n_saved} epochs" if chosen == "all" else f"{len(epochs)} of {n_saved} epochs, evenly spaced"
    return embed_layers(
        activations,
        epochs=chosen,
        layers=None,
        faithfulness=faithfulness,
        progress=SubProgress(progress, 0.0, 1.0, prefix=f"Playback ({note}): "),
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
        **embedding_kwargs(request, request.method),
    )


def warm_up(method: str = "tsne", *, progress: Progress = NULL_PROGRESS) -> None:
    """Import the heavy libraries and run each code path once on a few random points.

    Loading a C extension (torch, scikit-learn, numba/llvmlite under openTSNE) holds the
    GIL for up to ~0.4 s, freezing the GUI thread whichever thread imports it; the app
    runs this once at start so that the analysis itself never pays it. UMAP (numba
    compilation, ~10 s in every new process) is warmed only when it is the chosen method.
    """
    import torch  # noqa: F401
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression  # noqa: F401
    from sklearn.model_selection import StratifiedKFold  # noqa: F401
    from sklearn.neighbors import KNeighborsClassifier  # noqa: F401

    import ibviewer.core.embedding
    import ibviewer.core.information
    import ibviewer.core.neighbors
    import ibviewer.core.probes
    import ibviewer.core.run  # noqa: F401

    progress.check_cancelled()
    x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    PCA(n_components=2).fit_transform(x)
    if method in ("tsne", "umap"):
        from openTSNE import TSNE

        progress.check_cancelled()
        TSNE(n_jobs=1, random_state=0, perplexity=10).prepare_initial(x)  # pulls in pynndescent, numba, llvmlite
    if method == "umap":
        from ibviewer.core.embedding import embed

        progress.check_cancelled()
        embed(x, method="umap", dims=2, seed=0)


class NeighborCache:
    """One exact `NeighborIndex` per (activations, epoch, layer, metric), shared with worker threads."""

    def __init__(self, max_items: int = 16) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple, Any] = {}
        self._max_items = max_items

    def get(self, activations: Any, epoch: int, layer: str, metric: str) -> Any:
        from ibviewer.core.neighbors import NeighborIndex

        key = (activations.key, epoch, layer, metric)
        with self._lock:
            index = self._items.get(key)
        if index is None:
            index = NeighborIndex(activations.layer(layer, epoch), metric)
            with self._lock:
                if len(self._items) >= self._max_items:
                    self._items.pop(next(iter(self._items)))
                self._items[key] = index
        return index


def find_neighbors(
    activations: Any,
    epoch: int,
    row: int,
    layer: str,
    k: int,
    metric: str,
    cache: NeighborCache,
    *,
    progress: Progress = NULL_PROGRESS,
):  # -> Neighborhood
    """The k nearest neighbours of ``row`` in every layer's original space at ``epoch``."""
    from ibviewer.gui.state import Neighborhood

    if layer not in activations.layer_names:
        raise IBViewerError(f"Layer {layer!r} is not among the captured layers {list(activations.layer_names)}.")
    k = int(min(k, activations.n_samples - 1))
    indices: dict[str, np.ndarray] = {}
    distances: dict[str, np.ndarray] = {}
    names = activations.layer_names
    for i, name in enumerate(names):
        progress.check_cancelled()
        idx, dist = cache.get(activations, epoch, name, metric).query(int(row), k)
        indices[name] = np.asarray(idx, dtype=np.int64)
        distances[name] = np.asarray(dist, dtype=np.float64)
        progress.update((i + 1) / len(names), f"neighbours in {name}")
    return Neighborhood(int(row), layer, int(epoch), k, metric, indices, distances)
