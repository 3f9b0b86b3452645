"""The glue between settings, jobs and state: what the window computes, when, and where results go.

`AnalysisController` turns what happens (a run to open, a settings change in `AppState`, an
epoch change, a clicked sample, a view's request, playback asking for keyframes) into jobs
on the `JobHub`, and stores every result in `AppState`, from which the views draw. It knows
no widget: the window connects the views' request signals to its methods and shows its
``status_changed`` messages; failures of its jobs reach the window through the hub.

Settings have one owner, `AppState`: whoever changes them calls ``state.set_settings`` (or
`apply_settings`), and this controller recomputes what `settings_diff` names.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ibviewer.core.advice import Advice, plane_advice
from ibviewer.core.config import METHODS, AnalysisSettings, RunRequest, settings_diff
from ibviewer.core.pipeline import (
    NeighborCache,
    Neighborhood,
    OpenedRun,
    StageResult,
    analyze_opened_run,
    embed_keyframes,
    estimator_sensitivity,
    find_neighbors,
    open_and_extract,
    probe_epochs,
    run_analysis,
    run_word_experiment,
    warm_up,
)
from ibviewer.core.types import ActivationSet
from ibviewer.errors import IBViewerError
from ibviewer.gui.jobs import JobHub
from ibviewer.gui.playback import EpochPlayback
from ibviewer.gui.settings import add_recent_run, save_scheduler, saved_scheduler
from ibviewer.gui.state import AppState
from ibviewer.gui.workers import reserve_gui_core

__all__ = [
    "AnalysisController", "OPEN", "ANALYSIS", "NEIGHBORS", "PLAYBACK", "SENSITIVITY", "PROBES", "WORDS", "PRECOMPUTE_3D",
]  # fmt: skip

log = logging.getLogger(__name__)

# job slots: a new job in a slot replaces the one running there
OPEN, ANALYSIS, NEIGHBORS, PLAYBACK = "open", "analysis", "neighbors", "playback"
SENSITIVITY, PROBES, WORDS, WARM_UP = "sensitivity", "probes", "words", "warm-up"
PRECOMPUTE_3D = "precompute-3d"  # a background job: the 3-D embeddings of the shown epoch, into the disk cache
#: slots computing from the open run: a new run cancels them
RUN_SLOTS = (ANALYSIS, NEIGHBORS, PLAYBACK, SENSITIVITY, PROBES, WORDS)
ALL_STAGES = frozenset({"infoplane", "embeddings", "probes"})
NEIGHBOR_DEBOUNCE_MS = 150


class AnalysisController(QObject):
    """Runs the window's jobs and keeps `AppState` up to date.

    Signals
    -------
    status_changed(str)
        A message for the status bar ("Analysis done in 2.1 s").
    run_opened(object)
        The `OpenedRun` now in the state (its analysis has started).
    problem_found(object)
        An `IBViewerError` found outside a job (an epoch the run does not have).
    """

    status_changed = Signal(str)
    run_opened = Signal(object)
    problem_found = Signal(object)

    def __init__(
        self,
        state: AppState,
        jobs: JobHub,
        playback: EpochPlayback,
        open_defaults: RunRequest | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.playback = playback
        self.open_defaults = open_defaults or RunRequest(path="")
        if self.open_defaults.scheduler is None:  # a launch option wins over the saved setting
            self.open_defaults = replace(self.open_defaults, scheduler=saved_scheduler())
        self.opening: RunRequest | None = None
        self.request: RunRequest | None = None  # the open run's request
        self.pending_epoch: int | None = None  # the epoch to show when the next run opens
        self.pending_settings: AnalysisSettings | None = None  # the settings to use once it opened (sessions)
        self.last_stages: set[str] = set()  # what the last settings change recomputed
        self._settings = state.settings  # the settings the state's results were asked with
        self._neighbor_cache = NeighborCache()
        self._resume_playback = False
        self._closing = False
        self._warm_up_waits = False
        #: once every job has ended, embed the shown epoch in 3-D into the disk cache (a background job,
        #: stopped by any user job), so that View > 3D is final at once; `run_app` turns it on
        self.precompute_3d = False
        self._precomputed: tuple | None = None  # what the last 3-D precompute was asked for
        self._neighbor_timer = QTimer(self)  # debounces k / metric edits
        self._neighbor_timer.setSingleShot(True)
        self._neighbor_timer.setInterval(NEIGHBOR_DEBOUNCE_MS)
        self._neighbor_timer.timeout.connect(self.query_neighbors)

        # play starts at once: preview (PCA) frames first, the chosen method's keyframes as they finish
        playback.hold_for_embeddings = False
        state.settings_changed.connect(self._on_state_settings_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        state.focus_changed.connect(self._on_state_focus_changed)
        playback.embeddings_needed.connect(self._on_playback_embeddings_needed)
        playback.playing_changed.connect(self._on_playback_playing_changed)
        jobs.running_changed.connect(self._on_jobs_running_changed)
        jobs.job_failed.connect(self._on_jobs_job_stopped)
        jobs.job_cancelled.connect(self._on_jobs_job_stopped)
        jobs.job_started.connect(self._on_jobs_job_started)
        jobs.idle.connect(self._maybe_precompute_3d)

    def cache_options(self) -> dict[str, Any]:
        """The disk-cache keyword arguments of the pipeline's functions, from the launch options."""
        return {"cache_dir": self.open_defaults.cache_dir, "use_cache": self.open_defaults.use_cache}

    # -- opening -------------------------------------------------------------------------
    def open_path(self, path: str | Path, **options: Any) -> None:
        """Open a run in the background; ``options`` override the launch defaults (model, dataset, ...).

        Consent given on the command line (``--trust-pickle``, ``--trust-factory``, ``--model``)
        holds for the run it was given with only: any other path opens without it unless
        ``options`` give it (the user's answer in a dialog).
        """
        defaults = self.open_defaults
        if str(Path(path)) != str(Path(defaults.path)) or not defaults.path:
            defaults = replace(defaults, trust_pickle=False, trust_factory=False)
        self.open_request(replace(defaults, path=str(path), **options))

    def open_request(self, request: RunRequest) -> None:
        """Open exactly ``request`` in the background (a retry with the user's consent, ...)."""
        self.opening = request
        self.status_changed.emit(f"Opening {Path(request.path).name}…")
        self.jobs.submit(OPEN, open_and_extract, request, on_finished=self._on_open_finished)

    def forget_pending(self) -> None:
        """The run did not open: the epoch and settings waiting for it are dropped, nothing was applied."""
        self.pending_epoch = None
        self.pending_settings = None

    def _on_open_finished(self, opened: OpenedRun) -> None:
        for slot in RUN_SLOTS:
            self.jobs.cancel(slot)
        settings, self.pending_settings = self.pending_settings, None
        if settings is not None and settings != self.state.settings:
            self._settings = settings  # the new run's analysis below uses them: nothing to recompute first
            self.state.set_settings(settings)
        self._resume_playback = False
        request = self.request = opened.request
        add_recent_run(
            {"path": request.path, "model": request.model, "model_kwargs": request.model_kwargs,
             "dataset": request.dataset, "max_samples": request.max_samples}  # fmt: skip
        )
        epochs = list(opened.activations.epochs)
        epoch, self.pending_epoch = self.pending_epoch, None
        problem = None
        if epoch is not None and epoch not in epochs:
            problem = IBViewerError(f"Epoch {epoch} is not in this run; saved epochs: {epochs}.")
            epoch = None
        self.jobs.clear_warnings()
        self.state.set_run(opened.run, opened.activations, epoch=epoch)
        if problem is not None:
            self.problem_found.emit(problem)
        self.start_analysis()
        self.run_opened.emit(opened)

    def show_grown_run(self, activations: ActivationSet) -> None:
        """The open run grew (a live run): show ``activations``, keeping the epoch and the selection."""
        for slot in RUN_SLOTS:
            self.jobs.cancel(slot)
        state = self.state
        selection = state.selection
        state.set_run(state.run, activations, epoch=state.epoch)
        if len(selection):
            state.set_selection(selection)
        self.start_analysis()

    # -- analysis ------------------------------------------------------------------------
    @property
    def scheduler(self) -> str | None:
        """Where the plane and probes run: None (this process), ``local[:N]`` or a dask scheduler's address."""
        return self.open_defaults.scheduler

    def set_scheduler(self, scheduler: str | None) -> None:
        """Run later analyses there (kept for the next start); results do not change, so nothing is recomputed."""
        self.open_defaults = replace(self.open_defaults, scheduler=scheduler or None)
        save_scheduler(self.open_defaults.scheduler)
        where = self.open_defaults.scheduler or "this computer"
        self.status_changed.emit(f"Analyses run on {where} from the next one on")

    def start_analysis(self, stages: frozenset[str] | set[str] = ALL_STAGES) -> None:
        """(Re)compute the given stages for the open run and the current epoch (plane and probes where `scheduler` says)."""
        state = self.state
        if state.activations is None or state.epoch is None:
            return
        request = replace(self.request or self.open_defaults, scheduler=self.scheduler, **self.cache_options())
        self.jobs.submit(
            ANALYSIS, analyze_opened_run, request, state.run, state.activations, state.settings, epochs=(state.epoch,),
            stages=frozenset(stages), preview=True, on_partial=self._on_analysis_partial,
            on_finished=self._on_analysis_finished,
        )  # fmt: skip

    def analyse_epoch(self) -> None:
        """What the current epoch still lacks (embeddings, probes; the plane if a cancel lost it), and its neighbours."""
        state = self.state
        stages = set()
        if state.infoplane is None:
            stages.add("infoplane")
        if not state.has_final_embeddings():
            stages.add("embeddings")
        if not state.has_probes():
            stages.add("probes")  # an epoch probed before (e.g. "Probe every epoch") is not probed again
        if stages:
            self.start_analysis(stages)
        if state.focus is not None:
            self.query_neighbors()

    def recompute(self) -> None:
        """Compute everything again (embeddings from scratch, other stages from the cache)."""
        self.state.clear_embeddings()
        self.start_analysis()

    def apply_settings(self, settings: AnalysisSettings) -> set[str]:
        """Use ``settings``: the state takes them and what they change is recomputed; returns those stages."""
        if settings == self.state.settings:
            return set()
        self.state.set_settings(settings)
        return set(self.last_stages)

    def apply_advice(self, advice: Advice) -> set[str]:
        """Apply an advice's settings change (the warnings panel's button) through the normal settings path."""
        return self.apply_settings(advice.apply(self.state.settings))

    def set_method(self, method: str) -> None:
        """Switch the embedding method (AlignedUMAP falls back to "init" for the other methods)."""
        changes: dict[str, Any] = {"method": method}
        if method != "umap" and self.state.settings.alignment == "aligned_umap":
            changes["alignment"] = "init"
        self.apply_settings(self.state.settings.with_changes(**changes))

    def _on_state_settings_changed(self) -> None:
        old, new = self._settings, self.state.settings
        self._settings = new
        stages = settings_diff(old, new)
        if "neighbors" in stages:
            self._neighbor_timer.start()
        stages.discard("neighbors")
        if new.color_by == "faithfulness" and old.color_by != "faithfulness" and self._lacks_faithfulness():
            stages.add("embeddings")  # from the cache: the same embeddings with their k-NN overlap
        self.last_stages = stages
        state = self.state
        if state.activations is None or not stages:
            return
        if "probes" in stages:
            self.jobs.cancel(PROBES)
            state.clear_probes()
        if "embeddings" in stages:
            self._stop_playback_embedding()
            self.playback.clear_frames()
            state.clear_embeddings()
        self.start_analysis(frozenset(stages))

    def _lacks_faithfulness(self) -> bool:
        state = self.state
        return any(
            state.embedding(layer) is not None and getattr(state.embedding(layer), "knn_overlap", None) is None
            for layer in state.layer_names
        )

    def _on_analysis_partial(self, result: object) -> None:
        state = self.state
        if isinstance(result, StageResult):
            if result.stage == "infoplane":
                state.set_infoplane(result.value)
                # advice from the plane's flags and the settings it was computed with (one click in the warnings panel)
                state.set_advice(plane_advice(result.value, state.settings))
            elif result.stage == "probes":
                state.set_probes(result.value)
            return
        coords = getattr(result, "coords", None)
        layer = getattr(result, "layer", None)
        epoch = getattr(result, "epoch", None)
        if coords is None or layer is None or epoch is None or len(coords) != state.n_samples:
            return  # a snapshot of a subsample cannot be drawn over all samples: wait for the final one
        current = state.embedding(layer, epoch)
        final_method = getattr(current, "method", None)
        if final_method not in (None, "pca") and getattr(result, "method", None) == "pca":
            return  # never replace a finished t-SNE/UMAP panel by the PCA preview
        state.set_embedding(epoch, layer, result)

    def _on_analysis_finished(self, _result: object) -> None:
        elapsed = time.monotonic() - self.jobs.runner(ANALYSIS).started_at
        self.status_changed.emit(f"Analysis done in {elapsed:.1f} s")

    def _on_state_epoch_changed(self, epoch: int) -> None:
        if self.playback.is_playing():
            return  # playback shows embedded epochs; the stopped epoch is analysed on pause
        self.analyse_epoch()

    # -- neighbours ----------------------------------------------------------------------
    def query_neighbors(self) -> None:
        """Look up the focused sample's neighbours in every layer (in the background)."""
        self._neighbor_timer.stop()
        state = self.state
        if state.focus is None or state.activations is None:
            self.jobs.cancel(NEIGHBORS)
            return
        settings = state.settings
        self.jobs.submit(
            NEIGHBORS, find_neighbors, state.activations, state.epoch, state.focus.row, layer=state.focus.layer,
            k=settings.k, metric=settings.metric, cache=self._neighbor_cache, on_finished=self._on_neighbors_finished,
        )  # fmt: skip

    def _on_state_focus_changed(self) -> None:
        self.query_neighbors()

    def _on_neighbors_finished(self, neighbors: Neighborhood) -> None:
        state = self.state
        focus = state.focus
        if focus is None or (neighbors.row, neighbors.layer, neighbors.epoch) != (focus.row, focus.layer, state.epoch):
            return  # answers a question nobody asks any more
        state.set_neighbors(neighbors)
        # the look-up's own progress messages name the last layer it visited: name the clicked one
        name = state.sample_name(focus.row) if state.activations is not None else f"row {focus.row}"
        self.status_changed.emit(f"{len(neighbors.focus_indices)} nearest neighbours of {name} in {focus.layer}")

    # -- what views ask for ----------------------------------------------------------------
    def compute_sensitivity(self, layer: str, settings: AnalysisSettings | None = None) -> None:
        """Sweep the estimator's resolution for ``layer`` at the current epoch (result: ``state.sensitivity``)."""
        state = self.state
        if state.activations is None or state.epoch is None or layer not in state.layer_names:
            return
        settings = settings or state.settings
        self.jobs.submit(
            SENSITIVITY, estimator_sensitivity, state.activations, layer, state.epoch, settings,
            on_finished=state.set_sensitivity,
        )  # fmt: skip

    def probe_all_epochs(self) -> None:
        """Probe every saved epoch (the result joins ``state.probes``)."""
        state = self.state
        if state.activations is None:
            return
        self.jobs.submit(PROBES, probe_epochs, state.activations, state.settings, "all", on_finished=state.set_probes)

    def compute_word_experiment(self, dims: int, method: str, n_neighbors: int | None = None) -> None:
        """The word experiment in ``dims`` with ``method`` (result: ``state.word_experiment``)."""
        state = self.state
        if not state.has_words():
            return
        changes: dict[str, Any] = {"dims": int(dims), "method": method}
        if method != "umap" and state.settings.alignment == "aligned_umap":
            changes["alignment"] = "init"  # AlignedUMAP is UMAP-only
        settings = state.settings.with_changes(**changes)
        self.jobs.submit(
            WORDS, run_word_experiment, state.activations, state.dataset.words, state.query_words(), settings,
            n_neighbors=n_neighbors, on_finished=state.set_word_experiment, **self.cache_options(),
        )  # fmt: skip

    # -- playback --------------------------------------------------------------------------
    def playback_note(self) -> str:
        """Which saved epochs playback animates through, e.g. "25 of 300 saved epochs (evenly spaced)"."""
        playback = self.playback
        n_saved, n_keys = len(playback.epochs), len(playback.keyframes)
        if playback.subsampled():
            return f"{n_keys} of {n_saved} saved epochs (evenly spaced)"
        return f"all {n_saved} saved epochs"

    def embed_playback_epochs(self) -> None:
        """Embed every layer at the playback keyframes in the background (aligned across epochs)."""
        state = self.state
        if state.activations is None or state.epoch is None:
            return
        settings = state.settings
        # t-SNE/UMAP: the same cache entries as the analysis chain (faithfulness is cheap beside them);
        # PCA: faithfulness would cost more than the embeddings, so only when it is what colours the points
        faithfulness = settings.method != "pca" or settings.color_by == "faithfulness"
        self.jobs.submit(
            PLAYBACK, embed_keyframes, state.activations, settings, self.playback.keyframes, faithfulness=faithfulness,
            preview=not self.playback.frames, on_partial=self._on_playback_partial,
            on_finished=self._on_playback_finished, **self.cache_options(),
        )  # fmt: skip
        self.status_changed.emit(f"Embedding {self.playback_note()} for playback…")

    def _on_playback_partial(self, result: object) -> None:
        """Preview (PCA) keyframes go to playback's frames, the chosen method's to the state; say how many are ready."""
        state, playback = self.state, self.playback
        method = getattr(result, "method", None)
        coords = getattr(result, "coords", None)
        if method == "pca" and state.settings.method != "pca" and not hasattr(result, "iteration"):
            if coords is not None and len(coords) == state.n_samples:
                playback.add_frame(result.epoch, result.layer, coords)  # type: ignore[attr-defined]
            return
        self._on_analysis_partial(result)
        if hasattr(result, "iteration"):
            return  # a snapshot of a running optimisation
        total = len(playback.keyframes) * len(state.layer_names)
        ready = playback.ready_keyframes()
        title = METHODS.get(state.settings.method, state.settings.method)
        if playback.frames and ready < total:
            self.status_changed.emit(f"Playing PCA frames; {title} keyframes: {ready} of {total} panels ready")
        else:
            self.status_changed.emit(f"{title} keyframes for playback: {ready} of {total} panels ready")

    def _stop_playback_embedding(self) -> None:
        self._resume_playback = False
        self.jobs.cancel(PLAYBACK)

    def _on_playback_embeddings_needed(self, epochs: tuple[int, ...]) -> None:
        log.info("playback: embedding epochs %s while it plays", list(epochs))
        self._resume_playback = self.playback.hold_for_embeddings  # otherwise it plays already
        if not self.jobs.is_running(PLAYBACK):
            self.embed_playback_epochs()

    def _on_playback_finished(self, _result: object) -> None:
        resume, self._resume_playback = self._resume_playback, False
        self.status_changed.emit(f"Playback animates {self.playback_note()}")
        if resume and not self.playback.missing_epochs():
            self.playback.play()

    def _on_playback_playing_changed(self, playing: bool) -> None:
        if not playing and self.state.activations is not None and not self._closing:
            self.analyse_epoch()  # probes (and embeddings when missing) where playback stopped

    # -- jobs ----------------------------------------------------------------------------
    def start_warm_up(self, when_idle: bool = False) -> None:
        """Load the heavy libraries in the background (see `ibviewer.core.pipeline.warm_up`); never "busy".

        ``when_idle``: once no user job runs (after the first view is complete), so that the
        warm-up's imports and test fits never compete with opening and analysing the first run
        (on 2 cores they cost a cached launch seconds); the analysis imports what it needs itself.
        """
        if when_idle and self.jobs.is_busy():
            if not self._warm_up_waits:
                self._warm_up_waits = True
                self.jobs.idle.connect(self._on_jobs_idle)
            return
        self.jobs.submit(WARM_UP, warm_up, self.state.settings.method, background=True, on_finished=self._on_warm_up_finished)

    def _on_jobs_idle(self) -> None:
        if self._warm_up_waits:
            self._warm_up_waits = False
            self.jobs.idle.disconnect(self._on_jobs_idle)
            if not self._closing:
                self.start_warm_up()

    def _on_warm_up_finished(self, _result: object) -> None:
        reserve_gui_core()  # the libraries are loaded now: cap their thread pools
        self._maybe_precompute_3d()

    def _maybe_precompute_3d(self) -> None:
        """When nothing else runs: the shown epoch's 3-D t-SNE/UMAP into the cache (View > 3D then reads it)."""
        state, settings = self.state, self.state.settings
        if not self.precompute_3d or self._closing or self.jobs.is_busy() or self.jobs.is_running(WARM_UP):
            return
        if state.activations is None or state.epoch is None or settings.dims != 2 or settings.method == "pca":
            return
        if not state.has_final_embeddings():
            return
        wanted = settings.with_changes(dims=3)
        key = (state.activations.key, state.epoch, wanted)
        if key == self._precomputed or self.jobs.is_running(PRECOMPUTE_3D):
            return
        self._precomputed = key
        log.info("precomputing the 3-D embeddings of epoch %s in the background", state.epoch)
        self.jobs.submit(
            PRECOMPUTE_3D, run_analysis, state.activations, wanted, epochs=(state.epoch,), stages=frozenset({"embeddings"}),
            background=True, **self.cache_options(),
        )  # fmt: skip

    def _on_jobs_job_started(self, slot: str) -> None:
        if slot not in (PRECOMPUTE_3D, WARM_UP) and self.jobs.is_running(PRECOMPUTE_3D):
            self.jobs.cancel(PRECOMPUTE_3D)  # the user's job gets the cores; finished panels stay cached

    def _on_jobs_running_changed(self, slot: str, running: bool) -> None:
        self.state.set_running(slot, running)

    def _on_jobs_job_stopped(self, slot: str, *_args: object) -> None:
        if slot == PRECOMPUTE_3D:
            self._precomputed = None  # stopped early: may start again (from its cached panels) when idle
        if slot == PLAYBACK:
            self._resume_playback = False  # failed or cancelled: do not start playing later
            self.playback.pause()  # nor go on animating what was left unfinished

    def shutdown(self) -> None:
        """Stop playback and pending timers (the window is closing; it shuts the jobs down)."""
        self._closing = True
        self._neighbor_timer.stop()
        self.playback.pause()
