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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ibviewer.core.config import RESULT_STAGES, AnalysisSettings, RunRequest
from ibviewer.core.neighbors import NeighborCache, Neighborhood, find_neighbors
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet, captured_rows
from ibviewer.errors import IBViewerError

__all__ = [
    "OpenedRun",
    "StageResult",
    "AnalysisResult",
    "SensitivityResult",
    "SENSITIVITY_BINS",
    "SENSITIVITY_NOISE",
    "SENSITIVITY_WIDTH",
    "open_request",
    "extract",
    "open_and_extract",
    "run_analysis",
    "RunAnalysis",
    "analyze_runs",
    "analyze_opened_run",
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
# multiples of the renyi kernel width (of Silverman's rule, or of a fixed width)
SENSITIVITY_WIDTH = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0)


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


def open_request(request: RunRequest, *, progress: Progress = NULL_PROGRESS) -> Any:
    """Open the run a request names (no extraction yet): epochs, layers and dataset are known after this.

    Consent comes only from the request (``trust_pickle``, ``trust_factory``): a request read
    from a session names a factory but never consents to it.

    Raises
    ------
    ConsentRequired
        Opening would run code the request did not consent to; the exception says what.
    """
    from ibviewer.core.run import open_run

    return open_run(
        request.path,
        model=request.model,
        dataset=request.dataset,
        trust_pickle=request.trust_pickle,
        model_kwargs=request.model_kwargs,
        trust_factory=request.trust_factory,
        progress=progress,
    )


def extract(run: Any, request: RunRequest, *, progress: Progress = NULL_PROGRESS) -> ActivationSet:
    """Every chosen layer of ``run`` at every saved epoch (from the cache when it has them).

    The activations carry the samples' inputs (``ActivationSet.inputs``, the X of the renyi
    estimator's I(X;T)) when the dataset's inputs are numbers with a meaningful distance:
    images, features, bits, not token ids.
    """
    from ibviewer.core.checkpoint_task import extract_options

    options = extract_options(request)
    acts = run.activations(options, progress=progress, cache_dir=request.cache_dir, use_cache=request.use_cache)
    inputs = sample_inputs(run, acts.sample_idx)
    return acts if inputs is None else replace(acts, inputs=inputs)


def sample_inputs(run: Any, sample_idx: np.ndarray) -> np.ndarray | None:
    """The model inputs of the captured samples when they are numbers with a meaningful distance (not token ids).

    The X of the renyi estimator's I(X;T); None when the dataset has none such.
    """
    data = run.dataset
    if data is None or data.kind == "tokens" or data.x.ndim < 1 or data.x[:1].size == 0:
        return None
    return captured_rows(data.x, sample_idx)


def open_and_extract(request: RunRequest, *, progress: Progress = NULL_PROGRESS) -> OpenedRun:
    """Open the run and extract (or load from cache) every chosen layer at every saved epoch."""
    progress.update(0.0, f"Opening {request.path}")
    run = open_request(request, progress=SubProgress(progress, 0.0, 0.05))
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


@dataclass(frozen=True)
class RunAnalysis:
    """One run's share of `analyze_runs`: its request, the opened run, the chosen epochs and the results.

    ``activations`` holds only the chosen epochs (what the embeddings and neighbours need),
    except for activation archives, which are read whole anyway.
    """

    request: RunRequest
    run: Any  # ibviewer.core.run.Run
    epochs: tuple[int, ...]
    activations: ActivationSet | None
    result: AnalysisResult


def analyze_runs(
    runs: Sequence[tuple[RunRequest, Any]],
    settings: AnalysisSettings,
    *,
    epochs: Sequence[Sequence[int]],
    stages: frozenset[str] | set[str] = frozenset(RESULT_STAGES),
    n_jobs: int = 1,
    keep_activations: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> list[RunAnalysis]:
    """Analyse opened runs one checkpoint at a time, here or on the cluster their requests name.

    The plane covers every saved epoch, the probes and embeddings ``epochs[i]`` of run ``i``:
    the same numbers as `open_and_extract` + `run_analysis`, but no process ever holds more
    than one checkpoint's activations (plus the chosen epochs'), whatever the number of
    epochs (`ibviewer.core.streaming`). The tasks of all runs are scheduled together.

    Parameters
    ----------
    runs : sequence of (RunRequest, Run)
        Opened with `open_request`. Every request names the same ``scheduler``: None runs the
        tasks in this process (``n_jobs`` joblib processes), ``local[:N]`` on a dask LocalCluster
        started for the call, an address on that running cluster (dask imported only then).
    settings : AnalysisSettings
    epochs : sequence of sequences of int
        Per run, the saved epochs to probe and embed.
    stages : set of {"infoplane", "embeddings", "probes"}
    n_jobs : int, default=1
        Processes working through the checkpoints when no scheduler is named.
    keep_activations : bool, default=False
        Return the chosen epochs' activations even without embeddings (e.g. for neighbours).
    progress : Progress
        Progress from task completions; cancelling cancels every task not finished. Each
        run's plane and probes are posted as `StageResult` s, embeddings panel by panel.

    Returns
    -------
    list of RunAnalysis
        One per run, in order.
    """
    from ibviewer.core.streaming import StreamedRun, make_executor, stream_analysis

    unknown = set(stages) - set(RESULT_STAGES)
    if unknown:
        raise IBViewerError(f"Unknown analysis stage(s) {sorted(unknown)}; stages: {', '.join(RESULT_STAGES)}.")
    schedulers = {request.scheduler for request, _ in runs}
    if len(schedulers) > 1:
        raise IBViewerError(f"The runs name different schedulers {sorted(map(str, schedulers))}; analyse them on one.")
    scheduler = schedulers.pop() if schedulers else None
    keep = keep_activations or "embeddings" in stages
    streamed = {i: StreamedRun.prepare(request, run, epochs[i]) for i, (request, run) in enumerate(runs)
                if not run.source.holds_activations}  # fmt: skip
    compute_end = 0.3 if "embeddings" in stages else 1.0
    with make_executor(scheduler, n_jobs) as executor:
        results = stream_analysis(
            list(streamed.values()), settings, executor, stages=stages, keep=keep, cache_dir=runs[0][0].cache_dir
            if runs else None, use_cache=all(request.use_cache for request, _ in runs),
            progress=SubProgress(progress, 0.0, compute_end),
        )  # fmt: skip
    by_run = dict(zip(streamed, results))
    analyses = []
    for i, (request, run) in enumerate(runs):
        span = SubProgress(progress, compute_end + (1 - compute_end) * i / len(runs),
                           compute_end + (1 - compute_end) * (i + 1) / len(runs), prefix=f"{run.name}: ")  # fmt: skip
        chosen = tuple(e for e in run.epochs if e in set(epochs[i]))
        if i in by_run:
            part = by_run[i]
            acts, infoplane, probes = part.activations, part.infoplane, part.probes
            for stage, value in (("infoplane", infoplane), ("probes", probes)):
                if value is not None:
                    progress.partial(StageResult(stage, value))
            embeddings = None
            if "embeddings" in stages and acts is not None:
                embeddings = _embed(acts, settings, chosen, settings.method, span, True,
                                    {"cache_dir": request.cache_dir, "use_cache": request.use_cache})  # fmt: skip
            result = AnalysisResult(infoplane=infoplane, embeddings=embeddings, probes=probes)
        else:  # an activations archive: read whole on opening anyway
            acts = extract(run, request, progress=SubProgress(span, 0.0, 0.2))
            result = run_analysis(acts, settings, epochs=chosen, stages=stages, n_jobs=n_jobs,
                                  cache_dir=request.cache_dir, use_cache=request.use_cache,
                                  progress=SubProgress(span, 0.2, 1.0))  # fmt: skip
        analyses.append(RunAnalysis(request, run, chosen, acts, result))
    progress.update(1.0, "Done")
    return analyses


def analyze_opened_run(
    request: RunRequest,
    run: Any,
    activations: ActivationSet,
    settings: AnalysisSettings,
    *,
    epochs: Sequence[int],
    stages: frozenset[str] | set[str] = frozenset(RESULT_STAGES),
    preview: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> AnalysisResult:
    """`run_analysis` of an opened run, with the plane and the probes on the cluster ``request.scheduler`` names.

    Without a scheduler (or for an activations archive, read whole anyway) this is
    `run_analysis`. With one, the plane (every epoch) and the probes (``epochs``) run as
    per-checkpoint tasks there (`analyze_runs`: the same numbers, posted as `StageResult` s,
    progress from task completions, cancelling cancels the tasks), and the embeddings are
    computed here from ``activations``, which the window holds anyway. The GUI's route.
    """
    cache = {"cache_dir": request.cache_dir, "use_cache": request.use_cache}
    remote = set(stages) & {"infoplane", "probes"}
    if request.scheduler is None or run.source.holds_activations or not remote:
        return run_analysis(activations, settings, epochs=epochs, stages=stages, preview=preview, progress=progress,
                            **cache)  # fmt: skip
    local = set(stages) - remote
    split = 0.5 if local else 1.0
    [part] = analyze_runs([(request, run)], settings, epochs=[tuple(epochs)], stages=remote,
                          progress=SubProgress(progress, 0.0, split))  # fmt: skip
    result = part.result
    if local:
        embedded = run_analysis(activations, settings, epochs=epochs, stages=local, preview=preview,
                                progress=SubProgress(progress, split, 1.0), **cache)  # fmt: skip
        result = replace(result, embeddings=embedded.embeddings)
    progress.update(1.0, "Done")
    return result


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
    preview: bool = False,
    cache_dir: str | None = None,
    use_cache: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> Any:
    """Embed every layer at ``epochs`` (all saved epochs, or evenly spaced keyframes), aligned across epochs.

    What epoch playback needs: one `embed_layers` call over the epochs, so each panel is
    aligned to the same layer one chosen epoch later and points move smoothly. Every
    finished panel is posted with ``progress.partial``; panels already computed come from
    the disk cache. ``faithfulness`` (per-point k-NN overlap) costs ~0.35 s a panel of 4096
    points: more than PCA itself, little beside t-SNE/UMAP. ``preview``: first the PCA of
    the same epochs (without faithfulness; a fraction of a second for the default sample),
    posted panel by panel too, so playback can animate at once while t-SNE/UMAP keyframes follow.
    """
    from ibviewer.core.embedding import embed_layers

    n_saved = len(activations.epochs)
    chosen: Any = "all" if tuple(epochs) == tuple(activations.epochs) else tuple(epochs)
    note = f"all {n_saved} epochs" if chosen == "all" else f"{len(epochs)} of {n_saved} epochs, evenly spaced"
    cache = {"cache_dir": cache_dir, "use_cache": use_cache}
    start = 0.0
    if preview and settings.method != "pca":
        start = 0.05
        embed_layers(
            activations, epochs=chosen, layers=None, faithfulness=False,
            progress=SubProgress(progress, 0.0, start, prefix=f"Playback preview ({note}): "), **cache,
            **settings.embedding_params("pca"),
        )  # fmt: skip
    return embed_layers(
        activations, epochs=chosen, layers=None, faithfulness=faithfulness,
        progress=SubProgress(progress, start, 1.0, prefix=f"Playback ({note}): "), **cache,
        **settings.embedding_params(),
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

    ``parameter`` names what was swept: ``"n_bins"`` (binning, adaptive), ``"noise_var"``
    (kde), ``"width_factor"`` (renyi with the Silverman rule: multiples of it) or
    ``"kernel_width"`` (renyi with a fixed width: multiples of it, in the layer's units);
    ``values`` are its values. ``saturated`` flags the settings where I(X;T) sits at log2(N)
    (the estimator's own ``saturated_``).
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
    current: float | None = None  # the swept parameter's value in the plane's own settings (e.g. the rule's factor)


def estimator_sensitivity(
    activations: ActivationSet,
    layer: str,
    epoch: int,
    settings: AnalysisSettings,
    *,
    progress: Progress = NULL_PROGRESS,
) -> SensitivityResult:
    """The chosen estimator over ``SENSITIVITY_BINS`` bin counts (``SENSITIVITY_NOISE`` for kde,
    ``SENSITIVITY_WIDTH`` multiples of the kernel width for renyi).

    The information plane depends on the estimator's resolution; this shows how much, for
    one layer, with the plane's own per-layer settings (and for renyi the activations'
    inputs as X, as in the plane).
    """
    from ibviewer.core.information import ESTIMATORS, make_estimator

    if layer not in activations.layer_names:
        raise IBViewerError(f"Layer {layer!r} is not among the captured layers {list(activations.layer_names)}.")
    t = activations.layer(layer, epoch)
    labels = activations.labels
    cls = ESTIMATORS[settings.estimator]
    # the plane's own per-layer settings (binning over the layer's range uses its range over every epoch)
    base = make_estimator(settings.estimator, **settings.estimator_params()).get_params()
    shape = next(info.shape for info in activations.layers if info.name == layer)
    base = cls.layer_params(base, activations.values[layer], tuple(shape))
    sweep: Sequence[float]
    if settings.estimator == "kde":
        parameter, sweep = "noise_var", SENSITIVITY_NOISE
    elif settings.estimator == "renyi":
        # multiples of the width the plane uses: of Silverman's rule, or of the fixed width
        parameter = "width_factor" if isinstance(base["kernel_width"], str) else "kernel_width"
        sweep = [base[parameter] * factor for factor in SENSITIVITY_WIDTH]
    else:
        parameter, sweep = "n_bins", SENSITIVITY_BINS
    if "bin_width" in base:
        base["bin_width"] = None  # the sweep varies the number of bins
    x = activations.inputs if cls.uses_inputs else None
    i_xt, i_ty, saturated = [], [], []
    fitted = None
    for i, value in enumerate(sweep):
        progress.check_cancelled()
        fitted = make_estimator(settings.estimator, **{**base, parameter: value}).fit(t, labels, x)
        i_xt.append(float(fitted.i_xt_))
        i_ty.append(float(fitted.i_ty_))
        saturated.append(bool(fitted.saturated_))
        progress.update((i + 1) / len(sweep), f"sensitivity: {parameter}={value:g} ({i + 1}/{len(sweep)})")
    assert fitted is not None
    return SensitivityResult(
        layer, int(epoch), settings.estimator, parameter, np.asarray(sweep, dtype=np.float64), np.asarray(i_xt),
        np.asarray(i_ty), np.asarray(saturated), float(fitted.log2_n_), float(fitted.h_y_), float(base[parameter]),
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
