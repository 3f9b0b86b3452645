"""`AppState`: the single place the window's data lives; views read it and redraw from its signals.

It holds the open run, the one `AnalysisSettings` of the window and every typed result
computed from them: the information plane, the probes (kept per epoch), the embeddings
per (epoch, layer), the focused sample's neighbours, the estimator sensitivity sweep and
the word experiment, plus which job slots run. Views never call each other or start
work: a click in one panel calls ``state.set_focus(...)`` and every view redraws from
``focus_changed``/``selection_changed``; a view that wants something computed emits a
request signal, which the window's controller turns into a job whose result lands here.

Samples are identified by their *row* in the activation set (0..n_samples-1); the
dataset index of a row is ``activations.sample_idx[row]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ibviewer.core.config import AnalysisSettings
from ibviewer.core.naming import SampleNames
from ibviewer.core.neighbors import Neighborhood
from ibviewer.core.types import ActivationSet, Dataset
from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    from ibviewer.core.advice import Advice
    from ibviewer.core.information import InformationPlane
    from ibviewer.core.pipeline import SensitivityResult
    from ibviewer.core.probes import ProbeResult
    from ibviewer.core.words import WordExperiment

__all__ = ["AppState", "Focus"]


@dataclass(frozen=True)
class Focus:
    """The sample the user clicked, and in which layer's panel."""

    row: int
    layer: str


class AppState(QObject):
    """Holds the open run and everything computed from it; emits a signal on every change.

    Signals
    -------
    run_changed()
        A new run (and its activations) replaced the previous one; all results were cleared.
    result_changed(str)
        ``"infoplane"``, ``"embeddings"`` (all layers replaced/cleared), ``"probes"``,
        ``"sensitivity"`` or ``"words"`` (the word experiment).
    embedding_changed(str)
        One layer's embedding at the current epoch was added or refined (layer name).
    epoch_changed(int)
    selection_changed()
        The group selection (rectangle/lasso) changed.
    focus_changed()
        The clicked sample changed (or was cleared).
    neighbors_changed()
    hover_changed(int)
        The hovered row, -1 for none.
    settings_changed()
    running_changed()
        The set of running job slots (`running`) changed.
    advice_changed()
        The advice about the shown results (`advice`) changed.
    """

    run_changed = Signal()
    result_changed = Signal(str)
    embedding_changed = Signal(str)
    epoch_changed = Signal(int)
    selection_changed = Signal()
    focus_changed = Signal()
    neighbors_changed = Signal()
    hover_changed = Signal(int)
    settings_changed = Signal()
    running_changed = Signal()
    advice_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run: Any = None  # ibviewer.core.run.Run (or anything with name, dataset, metrics, extra)
        self.activations: ActivationSet | None = None
        self.infoplane: InformationPlane | None = None
        self.probes: ProbeResult | None = None  # every probed epoch so far, merged (see `set_probes`)
        self.sensitivity: SensitivityResult | None = None
        self.word_experiment: WordExperiment | None = None
        self.settings = AnalysisSettings()  # the one settings object of the window
        self.epoch: int | None = None
        # (epoch, layer) -> the newest embedding object (LayerEmbedding or a partial snapshot)
        self._embeddings: dict[tuple[int, str], Any] = {}
        self.selection = np.zeros(0, dtype=np.int64)
        self.focus: Focus | None = None
        self.neighbors: Neighborhood | None = None
        self.hover = -1
        self.running: frozenset[str] = frozenset()  # job slots running now ("analysis", "words", ...)
        self.advice: tuple[Advice, ...] = ()  # what the shown results advise (ibviewer.core.advice), with fixes

    # -- run -----------------------------------------------------------------------
    @property
    def dataset(self) -> Dataset | None:
        return getattr(self.run, "dataset", None)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.activations.layer_names if self.activations is not None else ()

    @property
    def n_samples(self) -> int:
        return self.activations.n_samples if self.activations is not None else 0

    @property
    def labels(self) -> np.ndarray:
        if self.activations is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self.activations.labels)

    def sample_names(self) -> SampleNames:
        """How the open run's samples and classes are named (the same names the CLI writes)."""
        return SampleNames(self.activations, self.dataset)

    def class_names(self) -> list[str]:
        """Names of the classes present in the labels (index = label)."""
        if self.activations is None:
            return []
        return self.sample_names().class_names()

    def sample_name(self, row: int) -> str:
        """The word of a text sample, else ``#<dataset index>``."""
        return self.sample_names().sample_name(row)

    def sample_image(self, row: int) -> np.ndarray | None:
        """(H, W) or (H, W, 3) image in [0, 1] for a thumbnail, when the data are images."""
        dataset = self.dataset
        if dataset is None or dataset.images is None:
            return None
        return dataset.images[int(self.activations.sample_idx[row])]

    def layer_dim(self, layer: str) -> int:
        for info in self.activations.layers:
            if info.name == layer:
                return int(info.dim)
        raise KeyError(layer)

    def rows_matching(self, pattern: str) -> np.ndarray:
        """Rows whose word / sample name or class name matches ``pattern`` (a case-insensitive regex).

        Raises
        ------
        IBViewerError
            The pattern is not a valid regular expression.
        """
        if not pattern:
            return np.zeros(0, dtype=np.int64)
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise IBViewerError(f"Invalid search pattern {pattern!r}: {exc}. Use a regular expression such as ^qu.*k$.") from exc
        names = self.class_names()
        class_match = np.array([bool(regex.search(name)) for name in names], dtype=bool)
        matches = class_match[self.labels] if len(names) else np.zeros(self.n_samples, dtype=bool)
        sample_names = [self.sample_name(row) for row in range(self.n_samples)]
        matches |= np.array([bool(regex.search(name)) for name in sample_names], dtype=bool)
        return np.flatnonzero(matches).astype(np.int64)

    def query_words(self) -> tuple[str, ...]:
        """The run's query words for the word experiment (``run.extra["query_words"]``), or ()."""
        extra = getattr(self.run, "extra", None) or {}
        return tuple(str(w) for w in extra.get("query_words") or ())

    def has_words(self) -> bool:
        """Whether the open run has words and query words (what the word experiment needs)."""
        dataset = self.dataset
        return self.activations is not None and dataset is not None and dataset.words is not None and bool(self.query_words())

    def set_run(self, run: Any, activations: ActivationSet | None, epoch: int | None = None) -> None:
        """Replace the run, showing ``epoch`` (default: the last saved one); clears every result and the selection."""
        self.run = run
        self.activations = activations
        self.infoplane = None
        self.probes = None
        self.sensitivity = None
        self.word_experiment = None
        self._embeddings.clear()
        self.selection = np.zeros(0, dtype=np.int64)
        self.focus = None
        self.neighbors = None
        self.hover = -1
        self.advice = ()
        epochs = tuple(activations.epochs) if activations is not None else ()
        self.epoch = int(epoch) if epoch in epochs else (epochs[-1] if epochs else None)
        self.run_changed.emit()

    # -- results -------------------------------------------------------------------
    def set_infoplane(self, infoplane: InformationPlane | None) -> None:
        self.infoplane = infoplane
        self.result_changed.emit("infoplane")

    def set_advice(self, advice: list[Advice] | tuple[Advice, ...]) -> None:
        """The advice about the shown results (the controller derives it when a result lands)."""
        advice = tuple(advice)
        if advice != self.advice:
            self.advice = advice
            self.advice_changed.emit()

    def set_probes(self, probes: ProbeResult) -> None:
        """Add probes of some epochs: they join (or replace) the rows of epochs probed before."""
        self.probes = probes if self.probes is None else _merge_probes(self.probes, probes)
        self.result_changed.emit("probes")

    def clear_probes(self) -> None:
        """Forget every probed epoch (the probes' settings changed)."""
        self.probes = None
        self.result_changed.emit("probes")

    def has_probes(self, epoch: int | None = None) -> bool:
        """Whether ``epoch`` (default: the current one) has been probed."""
        epoch = self.epoch if epoch is None else epoch
        return self.probes is not None and epoch in tuple(self.probes.epochs)

    def set_sensitivity(self, sensitivity: SensitivityResult | None) -> None:
        self.sensitivity = sensitivity
        self.result_changed.emit("sensitivity")

    def set_word_experiment(self, experiment: WordExperiment | None) -> None:
        self.word_experiment = experiment
        self.result_changed.emit("words")

    def set_embedding(self, epoch: int, layer: str, embedding: Any) -> None:
        """Store one layer's embedding (final or a snapshot of a running optimisation)."""
        self._embeddings[(int(epoch), layer)] = embedding
        if epoch == self.epoch:
            self.embedding_changed.emit(layer)

    def clear_embeddings(self) -> None:
        self._embeddings.clear()
        self.result_changed.emit("embeddings")

    def embedding(self, layer: str, epoch: int | None = None) -> Any:
        """The newest embedding object of a layer at ``epoch`` (default: the current one), or None."""
        epoch = self.epoch if epoch is None else epoch
        return self._embeddings.get((epoch, layer)) if epoch is not None else None

    def coords(self, layer: str, epoch: int | None = None) -> np.ndarray | None:
        """(n_samples, dims) coordinates of a layer's embedding, or None when not computed yet."""
        embedding = self.embedding(layer, epoch)
        return None if embedding is None else np.asarray(embedding.coords)

    def has_final_embeddings(self, epoch: int | None = None) -> bool:
        """Whether every layer at ``epoch`` has the chosen method's embedding of every sample."""
        method = self.settings.method
        return all(
            getattr(self.embedding(layer, epoch), "method", None) == method
            and getattr(self.coords(layer, epoch), "shape", (0,))[0] == self.n_samples
            for layer in self.layer_names
        )

    def probe_accuracy(self, layer: str, epoch: int | None = None) -> float | None:
        """Held-out linear-probe accuracy of a layer at an epoch, when known."""
        probes = self.probes
        if probes is None:
            return None
        epoch = self.epoch if epoch is None else epoch
        try:
            layer_idx = list(probes.layers).index(layer)
            epoch_idx = list(probes.epochs).index(epoch)
        except ValueError:
            return None
        return float(np.asarray(probes.linear_acc)[epoch_idx, layer_idx])

    def probe_note(self) -> str | None:
        """The probes' plain-language pruning note for the current epoch, when known."""
        if self.probes is None or self.epoch not in tuple(self.probes.epochs):
            return None
        return str(self.probes.pruning_note(self.epoch))

    def missing_results(self) -> list[str]:
        """What the window shows but is not computed yet (empty when every view can draw in full)."""
        if self.activations is None:
            return ["the run"]
        missing = []
        if self.infoplane is None:
            missing.append("the information plane")
        if not self.has_final_embeddings():
            missing.append(f"the embeddings at epoch {self.epoch}")
        if not self.has_probes():
            missing.append(f"the probes at epoch {self.epoch}")
        if self.focus is not None and self.neighbors is None:
            missing.append("the neighbours of the clicked sample")
        if self.has_words() and self.word_experiment is None:
            missing.append("the word experiment")
        return missing

    # -- jobs --------------------------------------------------------------------------
    def set_running(self, slot: str, running: bool) -> None:
        """Record that a job slot started or stopped running (views show "computing…" from it)."""
        new = self.running | {slot} if running else self.running - {slot}
        if new != self.running:
            self.running = new
            self.running_changed.emit()

    # -- navigation and selection --------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        if self.activations is None or epoch not in self.activations.epochs or epoch == self.epoch:
            return
        self.epoch = int(epoch)
        self.neighbors = None
        self.epoch_changed.emit(self.epoch)

    def set_settings(self, settings: AnalysisSettings | None = None, **changes: Any) -> None:
        """Replace the settings (or change some fields); emits ``settings_changed`` when they differ."""
        new = (settings or self.settings).with_changes(**changes) if changes else (settings or self.settings)
        if new != self.settings:
            self.settings = new
            self.settings_changed.emit()

    def set_selection(self, rows: np.ndarray | list[int]) -> None:
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if rows.size == self.selection.size and np.array_equal(rows, self.selection):
            return
        self.selection = rows
        self.selection_changed.emit()

    def clear_selection(self) -> None:
        self.set_selection([])
        self.set_focus(None)

    def set_focus(self, row: int | None, layer: str | None = None) -> None:
        """Focus the sample ``row`` as seen in ``layer`` (None clears the focus)."""
        if row is None:
            focus = None
        else:
            if layer is None:
                layer = self.focus.layer if self.focus is not None else self.layer_names[-1]
            focus = Focus(int(row), layer)
        if focus == self.focus:
            return
        self.focus = focus
        self.neighbors = None
        self.focus_changed.emit()
        self.neighbors_changed.emit()

    def set_neighbors(self, neighbors: Neighborhood | None) -> None:
        self.neighbors = neighbors
        self.neighbors_changed.emit()

    def set_hover(self, row: int) -> None:
        if row != self.hover:
            self.hover = int(row)
            self.hover_changed.emit(self.hover)

    def highlighted_rows(self) -> np.ndarray:
        """Rows drawn highlighted in every panel: the group selection, or the focus and its neighbours."""
        if self.selection.size:
            return self.selection
        if self.neighbors is not None:
            return np.concatenate([[self.neighbors.row], self.neighbors.focus_indices]).astype(np.int64)
        if self.focus is not None:
            return np.array([self.focus.row], dtype=np.int64)
        return np.zeros(0, dtype=np.int64)


def _merge_probes(old: ProbeResult, new: ProbeResult) -> ProbeResult:
    """``old`` with the epochs of ``new`` added (``new`` wins where both have an epoch)."""
    from ibviewer.core.probes import join_probes

    if tuple(old.layers) != tuple(new.layers):
        return new
    return join_probes([old, new])
