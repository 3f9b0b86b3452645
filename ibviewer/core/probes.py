"""Layer probes: how well each layer alone predicts the label (linear and k-NN), and where that saturates.

A layer whose probe accuracy is already within a tolerance of the best layer's is the
"saturation" layer; the layers after it add little for this task and are candidates for
pruning. Probes are cross-validated and seeded, on at most ``max_samples`` samples.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibviewer.core.cache import DiskCache, atomic_write_text, hash_arrays
from ibviewer.core.embedding import select_epochs, select_layers
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import ActivationError, EstimatorError

__all__ = ["ProbeResult", "run_probes", "write_probes_csv", "MAX_PROBE_SAMPLES"]

logger = logging.getLogger(__name__)

MAX_PROBE_SAMPLES = 3000


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Held-out accuracy of a probe per epoch and layer.

    Attributes
    ----------
    epochs : tuple of int
    layers : tuple of str
        In network order.
    linear_acc : ndarray of float64
        (n_epochs, n_layers) mean cross-validated accuracy of a logistic regression
        on standardised features.
    knn_acc : ndarray of float64
        (n_epochs, n_layers) the same for a k-NN classifier.
    tolerance : float
        Accuracy (a fraction) within which a layer counts as saturated.
    chance : float
        Accuracy of always predicting the most frequent class.
    n_samples : int
        Samples the probes were trained on (after the ``max_samples`` cap).
    cv : int
        Cross-validation folds used.
    """

    epochs: tuple[int, ...]
    layers: tuple[str, ...]
    linear_acc: np.ndarray
    knn_acc: np.ndarray
    tolerance: float = 0.01
    chance: float = 0.0
    n_samples: int = 0
    cv: int = 5

    def _row(self, epoch: int | None) -> int:
        if epoch is None:
            return len(self.epochs) - 1
        try:
            return self.epochs.index(int(epoch))
        except ValueError:
            raise KeyError(f"epoch {epoch} was not probed; probed epochs: {list(self.epochs)}") from None

    def saturation_layer(self, epoch: int | None = None) -> str:
        """The earliest layer whose linear probe is within ``tolerance`` of the best layer's."""
        accuracy = self.linear_acc[self._row(epoch)]
        best = float(np.nanmax(accuracy))
        first = int(np.flatnonzero(accuracy >= best - self.tolerance - 1e-12)[0])
        return self.layers[first]

    def pruning_note(self, epoch: int | None = None) -> str:
        """A plain-language sentence about which layers add little accuracy."""
        layer = self.saturation_layer(epoch)
        tol = f"{100 * self.tolerance:g}%"
        if layer == self.layers[-1]:
            return f"accuracy keeps rising up to the last layer ({layer}): no layer is a pruning candidate."
        return f"layers after {layer} add less than {tol} accuracy: candidates for pruning."

    def to_rows(self) -> list[dict[str, object]]:
        """One dict per (epoch, layer): epoch, layer, linear_acc, knn_acc."""
        return [
            {
                "epoch": epoch,
                "layer": layer,
                "linear_acc": float(self.linear_acc[i, j]),
                "knn_acc": float(self.knn_acc[i, j]),
            }
            for i, epoch in enumerate(self.epochs)
            for j, layer in enumerate(self.layers)
        ]


def _stratified_cap(labels: IntArray, max_samples: int, seed: int) -> IntArray:
    """A seeded subset of at most ``max_samples`` rows keeping class proportions."""
    n = len(labels)
    if n <= max_samples:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(n), train_size=max_samples, random_state=seed, stratify=labels)
    return np.sort(keep)


def _probe_layer(
    x: FloatArray, y: IntArray, splits: list[tuple[np.ndarray, np.ndarray]], knn_k: int, seed: int
) -> tuple[float, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    linear, knn = [], []
    for train, test in splits:
        scaler = StandardScaler().fit(x[train])
        x_train, x_test = scaler.transform(x[train]), scaler.transform(x[test])
        model = LogisticRegression(max_iter=200, random_state=seed)
        with warnings.catch_warnings():
            # a probe that stops at max_iter is still a fair (slightly low) estimate
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y[train])
        linear.append(float((model.predict(x_test) == y[test]).mean()))
        neighbours = KNeighborsClassifier(n_neighbors=min(knn_k, len(train))).fit(x_train, y[train])
        knn.append(float((neighbours.predict(x_test) == y[test]).mean()))
    return float(np.mean(linear)), float(np.mean(knn))


def run_probes(
    acts: ActivationSet,
    *,
    epochs: Sequence[int] | str | int | None = None,
    layers: Sequence[str] | None = None,
    cv: int = 5,
    seed: int = 0,
    tolerance: float = 0.01,
    knn_k: int = 5,
    max_samples: int = MAX_PROBE_SAMPLES,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> ProbeResult:
    """Predict the label from each layer alone: cross-validated linear and k-NN probes.

    Parameters
    ----------
    acts : ActivationSet
    epochs : "last", "all", int or sequence of int, optional
        Default: the last saved epoch.
    layers : sequence of str, optional
        Default: every layer in network order.
    cv : int, default=5
        Stratified folds (shuffled with ``seed``); lowered, with a warning, when the
        rarest class has fewer members.
    seed : int, default=0
    tolerance : float, default=0.01
        A layer within this accuracy of the best is "saturated".
    knn_k : int, default=5
    max_samples : int, default=3000
        Larger sets are cut to a seeded, stratified subset of this size (a logistic
        regression on 3000 x 512 features takes about a second per fold).
    progress : Progress
        One update per (epoch, layer); cancellable between layers.
    cache_dir : path, optional
        Cache root (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write ``DiskCache("probes")``, keyed by the probed activations' bytes, the
        labels and every setting: a run opened again shows its probes at once.

    Returns
    -------
    ProbeResult

    Raises
    ------
    EstimatorError
        Fewer than two classes, fewer than 2 samples per class, bad settings, unknown layers/epochs.
    ActivationError
        NaN or infinite activations.
    """
    if not 0 <= tolerance < 1:
        raise EstimatorError(f"tolerance is a fraction of accuracy in [0, 1), got {tolerance}.")
    if knn_k < 1:
        raise EstimatorError(f"knn_k must be at least 1, got {knn_k}.")
    if cv < 2:
        raise EstimatorError(f"cv must be at least 2 folds, got {cv}.")
    chosen_epochs = select_epochs(acts, epochs)
    chosen_layers = select_layers(acts, layers)
    rows = _stratified_cap(acts.labels, max_samples, seed)
    y = np.asarray(acts.labels)[rows]
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise EstimatorError("Probes need at least two classes; every sample has the same label.")
    if counts.min() < 2:
        raise EstimatorError(
            f"Class {classes[counts.argmin()]} has a single sample; probes need at least 2 per class "
            "(capture more samples)."
        )
    folds = min(cv, int(counts.min()))
    if folds < cv:
        warnings.warn(
            f"the rarest class has {counts.min()} samples: using {folds}-fold instead of {cv}-fold cross-validation.",
            stacklevel=2,
        )
    cache = DiskCache("probes", cache_dir, enabled=use_cache)
    settings = {"v": 1, "epochs": chosen_epochs, "layers": chosen_layers, "cv": folds, "seed": seed,
                "tolerance": tolerance, "knn_k": knn_k, "rows": len(rows)}  # fmt: skip
    key = _cache_key(acts, chosen_epochs, chosen_layers, rows, settings) if use_cache else ""
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        progress.update(1.0, "probes loaded from cache")
        return _result(chosen_epochs, chosen_layers, hit[0]["linear"], hit[0]["knn"], tolerance, counts, folds)
    from sklearn.model_selection import StratifiedKFold

    from ibviewer.core.embedding.checks import lean_blas

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(y)), y))
    linear = np.zeros((len(chosen_epochs), len(chosen_layers)))
    knn = np.zeros_like(linear)
    total = linear.size
    for i, epoch in enumerate(chosen_epochs):
        for j, layer in enumerate(chosen_layers):
            progress.check_cancelled()
            done = i * len(chosen_layers) + j
            where = f"layer {j + 1} of {len(chosen_layers)} ({layer})"
            progress.update(done / total, where + (f", epoch {epoch}" if len(chosen_epochs) > 1 else ""))
            x = np.asarray(acts.layer(layer, epoch), dtype=np.float32)[rows]
            if not np.isfinite(x).all():
                raise ActivationError(f"Layer {layer} at epoch {epoch} has NaN/inf activations; cannot probe it.")
            with lean_blas(x.size):  # small fits: a second BLAS thread only spins (see lean_blas)
                linear[i, j], knn[i, j] = _probe_layer(x, y, splits, knn_k, seed)
    progress.update(1.0, "probes done")
    cache.put(key, {"linear": linear, "knn": knn}, settings)
    return _result(chosen_epochs, chosen_layers, linear, knn, tolerance, counts, folds)


def _result(
    epochs: tuple[int, ...], layers: tuple[str, ...], linear: np.ndarray, knn: np.ndarray, tolerance: float,
    counts: np.ndarray, folds: int,
) -> ProbeResult:  # fmt: skip
    return ProbeResult(
        epochs=epochs,
        layers=layers,
        linear_acc=np.asarray(linear, dtype=np.float64),
        knn_acc=np.asarray(knn, dtype=np.float64),
        tolerance=float(tolerance),
        chance=float(counts.max() / counts.sum()),
        n_samples=int(counts.sum()),
        cv=folds,
    )


def _cache_key(
    acts: ActivationSet, epochs: tuple[int, ...], layers: tuple[str, ...], rows: IntArray, settings: dict
) -> str:
    """The probed rows of every (epoch, layer), the labels, and the settings: what a result depends on."""
    arrays = [np.asarray(acts.labels)[rows]]
    arrays += [np.asarray(acts.layer(layer, epoch))[rows] for epoch in epochs for layer in layers]
    return hash_arrays(arrays, settings)


def write_probes_csv(result: ProbeResult, path: str | Path) -> Path:
    """Write ``epoch,layer,linear_acc,knn_acc`` rows (atomically); returns the path."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", "layer", "linear_acc", "knn_acc"], lineterminator="\n")
    writer.writeheader()
    for row in result.to_rows():
        writer.writerow({**row, "linear_acc": f"{row['linear_acc']:.6f}", "knn_acc": f"{row['knn_acc']:.6f}"})
    atomic_write_text(path, buffer.getvalue())
    return path
