"""The application layer: every job a front end runs, as plain functions over the core.

The command line (``ibviewer analyze``) is this pipeline plus the writers in
`ibviewer.core.writers`; the GUI is this pipeline plus `AppState`. Each function takes
the one settings object (`ibviewer.core.config.AnalysisSettings`) and the
progress/cancel contract (`ibviewer.core.progress`), and long chains post each result as
soon as it exists with ``progress.partial`` (a `StageResult`, or the embedding module's
per-panel objects), so a window fills in while the rest is still being computed.

Stages of one analysis: open + extract (`open_and_extract`), then the information plane,
the embeddings (optionally an instant PCA preview first), the probes (`run_analysis`),
the neighbours of one sample (`find_neighbors`), the word experiment
(`run_word_experiment`), the estimator's sensitivity to its resolution
(`estimator_sensitivity`) and keyframe embeddings for playback (`embed_keyframes`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ibviewer.core.config import RESULT_STAGES, AnalysisSettings, RunRequest
from ibviewer.core.neighbors import NeighborCache, Neighborhood, find_neighbors
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet
from ibviewer.errors import IBViewerError

__all__ = [
    "OpenedRun",
    "StageResult",
    "AnalysisResult",
    "SensitivityResult",
    "SENSITIVITY_BINS",
    "SENSITIVITY_NOISE",
    "open_request",
    "extract",
    "open_and_extract",
    "run_analysis",
    "embed_keyframes",
    "probe_epochs",
    "run_word_experiment",
    "estimator_sensitivity",
    "find_neighbors",
    "NeighborCache",
    "Neighborhood",
    "warm_up",
]

log = logging.getLogger(__name__)

SENSITIVITY_BINS = (2, 3, 4, 6, 8, 12, 16, 20, 30, 50, 80, 120, 200)
SENSITIVITY_NOISE = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class OpenedRun:
    """An opened run and its extracted activations, with the request that made them."""

    request: RunRequest
    run: Any  # ibviewer.core.run.Run (imported lazily: it pulls in torch)
    activations: ActivationSet


@dataclass(frozen=True)
class StageResult:
    """A finished stage of `run_analysis`, posted with ``progress.partial``.

    ``stage`` is ``"infoplane"`` (an `InformationPlane`) or ``"probes"`` (a `ProbeResult`);
    embeddings are posted panel by panel as the embedding module's own objects.
    """

    stage: str
    value: Any


@dataclass(frozen=True)
class AnalysisResult:
    """What `run_analysis` computed; a stage not asked for is None."""

    infoplane: Any = None  # InformationPlane
    embeddings: Any = None  # EmbeddingSet of the chosen method
    probes: Any = None  # ProbeResult


def open_request(request: RunRequest) -> Any:
    """Open the run a request names (no extraction yet): epochs, layers and dataset are known after this."""
    from ibviewer.core.run import open_run

    return open_run(
        request.path,
        model=request.model,
        dataset=request.dataset,
        trust_pickle=request.trust_pickle,
        model_kwargs=request.model_kwargs,
    )


def extract(run: Any, request: RunRequest, *, progress: Progress = NULL_PROGRESS) -> ActivationSet:
    """Every chosen layer of ``run`` at every saved epoch (from the cache when it has them)."""
    from ibviewer.core.activations import ExtractOptions

    options = ExtractOptions(
        layers=request.layers,
        device=request.device,
        max_samples=request.max_samples,
        sequence_pool=request.sequence_pool,
        feature_maps=request.feature_maps,
    )
    return run.activations(options, progress=progress, cache_dir=request.cache_dir, use_cache=request.use_cache)


def open_and_extract(request: RunRequest, *, progress: Progress = NULL_PROGRESS) -> OpenedRun:
    """Open the run and extract (or load from cache) every chosen layer at every saved epoch."""
    progress.update(0.0, f"Opening {request.path}")
    run = open_request(request)
    progress.check_cancelled()
    activations = extract(run, request, progress=SubProgress(progress, 0.05, 1.0, prefix="Extracting activations: "))
    return OpenedRun(request, run, activations)


def run_analysis(
    activations: ActivationSet,
    settings: AnalysisSettings,
    *,
    epochs: Sequence[int],
    stages: frozenset[str] | set[str] = frozenset(RESULT_STAGES),
    preview: bool = False,
    n_jobs: int = 1,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> AnalysisResult:
    """The information plane (every epoch), and the embeddings and probes at ``epochs``.

    Parameters
    ----------
    activations : ActivationSet
    settings : AnalysisSettings
    epochs : sequence of int
        Saved epochs to embed and probe (the plane always covers every saved epoch).
    stages : set of {"infoplane", "embeddings", "probes"}
        What to compute (a recompute after a settings change names only what changed).
    preview : bool, default=False
        Embed with PCA first (instant) before t-SNE/UMAP, posting those panels too: the GUI's
        first picture. The returned embeddings are always the chosen method's.
    n_jobs : int, default=1
        Parallel workers over the plane's (epoch, layer) cells.
    cache_dir, use_cache
        The disk cache of planes and embeddings.
    progress : Progress
        Receives every result with ``partial`` as soon as it exists (see `StageResult`).

    Returns
    -------
    AnalysisResult
    """
    unknown = set(stages) - set(RESULT_STAGES)
    if unknown:
        raise IBViewerError(f"Unknown analysis stage(s) {sorted(unknown)}; stages: {', '.join(RESULT_STAGES)}.")
    epochs = tuple(int(e) for e in epochs)
    missing = [e for e in epochs if e not in activations.epochs]
    if missing or not epochs:
        raise IBViewerError(f"Epochs {missing or list(epochs)} are not saved in this run; saved: {list(activations.epochs)}.")
    want_preview = preview and "embeddings" in stages and settings.method != "pca"
    spans = _stage_spans(stages, want_preview)
    cache = {"cache_dir": cache_dir, "use_cache": use_cache}
    infoplane = embeddings = probes = None
    if want_preview:
        # the instant picture; its faithfulness is only worth computing when PCA is what was asked for
        _embed(activations, settings, epochs, "pca", SubProgress(progress, *spans["preview"]), False, cache)
    if "infoplane" in stages:
        from ibviewer.core.information import compute_information_plane

        infoplane = compute_information_plane(
            activations,
            settings.estimator,
            progress=SubProgress(progress, *spans["infoplane"], prefix="Information plane: "),
            n_jobs=n_jobs,
            **cache,
            **settings.estimator_params(),
        )
        progress.partial(StageResult("infoplane", infoplane))
    if "embeddings" in stages:
        embeddings = _embed(
            activations, settings, epochs, settings.method, SubProgress(progress, *spans["embeddings"]), True, cache
        )
    if "probes" in stages:
        probes = probe_epochs(
            activations, settings, epochs, progress=SubProgress(progress, *spans["probes"], prefix="Layer probes: "),
            **cache,
        )  # fmt: skip
        progress.partial(StageResult("probes", probes))
    progress.update(1.0, "Done")
    return AnalysisResult(infoplane=infoplane, embeddings=embeddings, probes=probes)


def _stage_spans(stages: frozenset[str] | set[str], preview: bool) -> dict[str, tuple[float, float]]:
    # rough relative costs, so the bar moves evenly and never goes backwards
    weights = {
        "preview": 0.02 if preview else 0.0,
        "infoplane": 0.15 if "infoplane" in stages else 0.0,
        "embeddings": 0.7 if "embeddings" in stages else 0.0,
        "probes": 0.13 if "probes" in stages else 0.0,
    }
    total = sum(weights.values()) or 1.0
    spans, start = {}, 0.0
    for name, weight in weights.items():
        end = start + weight / total
        spans[name] = (start, end)
        start = end
    return spans


def _embed(
    activations: ActivationSet,
    settings: AnalysisSettings,
    epochs: tuple[int, ...],
    method: str,
    progress: Progress,
    faithfulness: bool,
    cache: dict[str, Any],
) -> Any:
    from ibviewer.core.embedding import embed_layers

    # per-layer results reach the GUI through progress.partial (posted by embed_layers)
    return embed_layers(
        activations, epochs=epochs, layers=None, faithfulness=faithfulness, progress=progress, **cache,
        **settings.embedding_params(method),
    )  # fmt: skip


def embed_keyframes(
    activations: ActivationSet,
    settings: AnalysisSettings,
    epochs: Sequence[int],
    *,
    faithfulness: bool = True,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> Any:
    """Embed every layer at ``epochs`` (all saved epochs, or evenly spaced keyframes), aligned across epochs.

    What epoch playback needs: one `embed_layers` call over the epochs, so each panel is
    aligned to the same layer one chosen epoch later and points move smoothly. Every
    finished panel is posted with ``progress.partial``; panels already computed come from
    the disk cache. ``faithfulness`` (per-point k-NN overlap) costs ~0.35 s a panel of 4096
    points: more than PCA itself, little beside t-SNE/UMAP.
    """
    from ibviewer.core.embedding import embed_layers

    n_saved = len(activations.epochs)
    chosen: Any = "all" if tuple(epochs) == tuple(activations.epochs) else tuple(epochs)
    note = f"all {n_saved} epochs" if chosen == "all" else f"{len(epochs)} of {n_saved} epochs, evenly spaced"
    return embed_layers(
        activations, epochs=chosen, layers=None, faithfulness=faithfulness,
        progress=SubProgress(progress, 0.0, 1.0, prefix=f"Playback ({note}): "), cache_dir=cache_dir,
        use_cache=use_cache, **settings.embedding_params(),
    )  # fmt: skip


def probe_epochs(
    activations: ActivationSet,
    settings: AnalysisSettings,
    epochs: Sequence[int] | str = "all",
    *,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> Any:
    """Linear and k-NN probes of every layer at ``epochs``, seeded by ``settings.seed`` (CLI and GUI alike); cached."""
    from ibviewer.core.probes import run_probes

    return run_probes(
        activations, epochs=epochs, seed=settings.seed, progress=progress, cache_dir=cache_dir, use_cache=use_cache
    )


def run_word_experiment(
    activations: ActivationSet,
    words: Sequence[str],
    query_words: Sequence[str],
    settings: AnalysisSettings,
    *,
    n_neighbors: int | None = None,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> Any:
    """The word experiment (`ibviewer.core.words.word_experiment`) with the chosen method, dims and seed.

    ``n_neighbors`` synonyms per query word; default 200 in 2D and 50 in 3D.
    """
    from ibviewer.core.words import word_experiment

    params = settings.embedding_params()
    params.pop("max_points", None)  # the experiment embeds only the query words and their neighbours
    # word_experiment's own n_neighbors is the number of synonyms; UMAP keeps its default there
    params.pop("n_neighbors", None)
    method, dims, seed = params.pop("method"), params.pop("dims"), params.pop("seed")
    return word_experiment(
        activations, words, query_words, n_neighbors=n_neighbors, method=method, dims=dims, seed=seed,
        progress=progress, cache_dir=cache_dir, use_cache=use_cache, **params,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """I(X;T) and I(T;Y) of one layer at one epoch over a sweep of the estimator's resolution.

    ``values`` are bin counts (binning, adaptive) or noise variances (kde); ``saturated``
    flags the settings where I(X;T) sits at log2(N) (the estimator's own ``saturated_``).
    """

    layer: str
    epoch: int
    estimator: str
    parameter: str
    values: np.ndarray
    i_xt: np.ndarray
    i_ty: np.ndarray
    saturated: np.ndarray
    log2_n: float
    h_y: float


def estimator_sensitivity(
    activations: ActivationSet,
    layer: str,
    epoch: int,
    settings: AnalysisSettings,
    *,
    progress: Progress = NULL_PROGRESS,
) -> SensitivityResult:
    """The chosen estimator over ``SENSITIVITY_BINS`` bin counts (``SENSITIVITY_NOISE`` for kde).

    The information plane depends on the estimator's resolution; this shows how much, for
    one layer, with the plane's own per-layer settings.
    """
    from ibviewer.core.information import ESTIMATORS, make_estimator

    if layer not in activations.layer_names:
        raise IBViewerError(f"Layer {layer!r} is not among the captured layers {list(activations.layer_names)}.")
    t = activations.layer(layer, epoch)
    labels = activations.labels
    if settings.estimator == "kde":
        parameter, sweep = "noise_var", SENSITIVITY_NOISE
    else:
        parameter, sweep = "n_bins", SENSITIVITY_BINS
    # the plane's own per-layer settings (binning over the layer's range uses its range over every epoch)
    base = make_estimator(settings.estimator, **settings.estimator_params()).get_params()
    base = ESTIMATORS[settings.estimator].layer_params(base, activations.values[layer])
    if "bin_width" in base:
        base["bin_width"] = None  # the sweep varies the number of bins
    i_xt, i_ty, saturated = [], [], []
    fitted = None
    for i, value in enumerate(sweep):
        progress.check_cancelled()
        fitted = make_estimator(settings.estimator, **{**base, parameter: value}).fit(t, labels)
        i_xt.append(float(fitted.i_xt_))
        i_ty.append(float(fitted.i_ty_))
        saturated.append(bool(fitted.saturated_))
        progress.update((i + 1) / len(sweep), f"sensitivity: {parameter}={value:g} ({i + 1}/{len(sweep)})")
    assert fitted is not None
    return SensitivityResult(
        layer, int(epoch), settings.estimator, parameter, np.asarray(sweep, dtype=np.float64), np.asarray(i_xt),
        np.asarray(i_ty), np.asarray(saturated), float(fitted.log2_n_), float(fitted.h_y_),
    )  # fmt: skip


def warm_up(method: str = "tsne", *, progress: Progress = NULL_PROGRESS) -> None:
    """Import the heavy libraries and run each code path once on a few random points.

    Loading a C extension (torch, scikit-learn, numba/llvmlite under openTSNE) holds the
    GIL for up to ~0.4 s, freezing a GUI thread whichever thread imports it; the app
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
