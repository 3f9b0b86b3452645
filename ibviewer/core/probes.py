"""Layer probes: how well each layer alone predicts the label (linear and k-NN), and where that saturates.

Probes are fit on the run's training samples and scored on its held-out samples
(`ibviewer.core.probe_split`), so a layer that memorised its training set gets no credit;
each score has a bootstrap interval, and the raw inputs are probed too, as the baseline a
layer must beat. A layer whose probe accuracy is already within a tolerance of the best
layer's is the "saturation" layer; the layers after it are pruning candidates only when
what they add is within the held-out spread at the last probed epochs. Seeded, on at most
``max_samples`` samples.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ibviewer.core.cache import DiskCache, atomic_write_text, hash_arrays
from ibviewer.core.embedding import select_epochs, select_layers
from ibviewer.core.output_meta import write_sidecar
from ibviewer.core.probe_split import N_BOOTSTRAP, LEVEL, TEST_FRACTION, ProbeSplit, bootstrap_draws, interval, probe_split
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import ActivationError, EstimatorError

__all__ = ["ProbeResult", "InputBaseline", "run_probes", "join_probes", "write_probes_csv", "MAX_PROBE_SAMPLES", "PROBE_COLUMNS"]

logger = logging.getLogger(__name__)

MAX_PROBE_SAMPLES = 3000
PROBE_COLUMNS = ("epoch", "layer", "linear_acc", "linear_low", "linear_high", "knn_acc", "knn_low", "knn_high")
#: the layer name of the raw inputs' baseline row
INPUT_ROW = "input"


#: how many of the last probed epochs the pruning hint must hold at
PRUNING_EPOCHS = 3
#: arrays of a `ProbeResult` with one row per epoch (what joining results by epoch concatenates)
PER_EPOCH = ("linear_acc", "knn_acc", "linear_ci", "knn_ci", "gain", "gain_ci")


@dataclass(frozen=True)
class InputBaseline:
    """The probes on the raw inputs alone: what a layer has to beat to have added anything."""

    linear_acc: float
    knn_acc: float
    linear_ci: tuple[float, float]
    knn_ci: tuple[float, float]
    n_features: int


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Held-out accuracy of a probe per epoch and layer, with its bootstrap interval.

    Attributes
    ----------
    epochs : tuple of int
    layers : tuple of str
        In network order.
    linear_acc : ndarray of float64
        (n_epochs, n_layers) accuracy on the held-out samples of a logistic regression on
        standardised features fit on the training samples.
    knn_acc : ndarray of float64
        (n_epochs, n_layers) the same for a k-NN classifier.
    linear_ci, knn_ci : ndarray of float64
        (n_epochs, n_layers, 2) the 95% bootstrap interval of each accuracy (resampling the
        held-out samples).
    gain : ndarray of float64
        (n_epochs,) how much the best layer after the saturation layer beats it (0 when the
        saturation layer is the last).
    gain_ci : ndarray of float64
        (n_epochs, 2) its paired 95% bootstrap interval (NaN when the saturation layer is the last).
    tolerance : float
        Accuracy (a fraction) within which a layer counts as saturated.
    chance : float
        Accuracy of always predicting the most frequent class.
    n_samples : int
        Samples probed (after the ``max_samples`` cap): ``n_train + n_test``.
    n_train, n_test : int
        Samples the probes were fit on / scored on.
    split : {"run", "seeded"}
        ``"run"``: the run's held-out samples; ``"seeded"``: the run has no split (or too few
        of its held-out samples were captured), a seeded ``test_fraction`` was held out.
    test_fraction : float
    baseline : InputBaseline or None
        The same probes on the raw inputs (None when the inputs are not numbers, e.g. token ids).
    seed, knn_k, max_samples, n_bootstrap : int
        Settings, recorded for the output files.
    """

    epochs: tuple[int, ...]
    layers: tuple[str, ...]
    linear_acc: np.ndarray
    knn_acc: np.ndarray
    linear_ci: np.ndarray | None = None
    knn_ci: np.ndarray | None = None
    gain: np.ndarray | None = None
    gain_ci: np.ndarray | None = None
    tolerance: float = 0.01
    chance: float = 0.0
    n_samples: int = 0
    n_train: int = 0
    n_test: int = 0
    split: str = "seeded"
    test_fraction: float = TEST_FRACTION
    baseline: InputBaseline | None = None
    seed: int = 0
    knn_k: int = 5
    max_samples: int = MAX_PROBE_SAMPLES
    n_bootstrap: int = N_BOOTSTRAP

    def _row(self, epoch: int | None) -> int:
        if epoch is None:
            return len(self.epochs) - 1
        try:
            return self.epochs.index(int(epoch))
        except ValueError:
            raise KeyError(f"epoch {epoch} was not probed; probed epochs: {list(self.epochs)}") from None

    def saturation_layer(self, epoch: int | None = None) -> str:
        """The earliest layer whose linear probe is within ``tolerance`` of the best layer's."""
        return self.layers[_saturation_index(self.linear_acc[self._row(epoch)], self.tolerance)]

    def split_note(self) -> str:
        """Where the held-out samples come from, in words."""
        return ProbeSplit(np.zeros(self.n_train, np.int64), np.zeros(self.n_test, np.int64), self.split,  # type: ignore[arg-type]
                          self.test_fraction).describe()  # fmt: skip

    def pruning_note(self, epoch: int | None = None) -> str:
        """A plain-language sentence about which layers add little accuracy.

        A hint is given only when, at each of the last `PRUNING_EPOCHS` probed epochs up to
        ``epoch``, the layers after the saturation layer gain nothing beyond the held-out
        spread (the paired bootstrap interval of their gain reaches 0).
        """
        end = self._row(epoch) + 1
        rows = range(max(0, end - PRUNING_EPOCHS), end)
        where = _epochs_text([self.epochs[r] for r in rows])
        saturation = [_saturation_index(self.linear_acc[r], self.tolerance) for r in rows]
        last = len(self.layers) - 1
        if saturation[-1] == last:
            return f"accuracy keeps rising up to the last layer ({self.layers[last]}): no layer is a pruning candidate."
        for r, s in zip(rows, saturation):
            if s == last:
                return (f"at epoch {self.epochs[r]} accuracy still rises up to the last layer: no pruning hint "
                        f"until the layers after {self.layers[saturation[-1]]} add nothing at {where}.")  # fmt: skip
            if self.gain_ci is not None and self.gain_ci[r, 0] > 0:
                gain, (low, high) = 100 * self.gain[r], 100 * self.gain_ci[r]  # type: ignore[index]
                return (f"at epoch {self.epochs[r]} the layers after {self.layers[s]} add {gain:.1f}% "
                        f"(95% interval {low:.1f} to {high:.1f}%), more than the held-out spread: no pruning hint.")  # fmt: skip
        layer = self.layers[max(saturation)]
        tol = f"{100 * self.tolerance:g}%"
        return f"layers after {layer} add less than {tol} accuracy, within the held-out spread at {where}: candidates for pruning."

    def to_rows(self) -> list[dict[str, object]]:
        """One dict per (epoch, layer), the raw inputs' baseline first (layer ``input``, epoch empty).

        Keys: epoch, layer, linear_acc, linear_low, linear_high, knn_acc, knn_low, knn_high.
        """
        rows: list[dict[str, object]] = []
        if self.baseline is not None:
            b = self.baseline
            rows.append({"epoch": "", "layer": INPUT_ROW, "linear_acc": b.linear_acc, "linear_low": b.linear_ci[0],
                         "linear_high": b.linear_ci[1], "knn_acc": b.knn_acc, "knn_low": b.knn_ci[0],
                         "knn_high": b.knn_ci[1]})  # fmt: skip
        for i, epoch in enumerate(self.epochs):
            for j, layer in enumerate(self.layers):
                linear_ci = self.linear_ci[i, j] if self.linear_ci is not None else (np.nan, np.nan)
                knn_ci = self.knn_ci[i, j] if self.knn_ci is not None else (np.nan, np.nan)
                rows.append({
                    "epoch": epoch, "layer": layer, "linear_acc": float(self.linear_acc[i, j]),
                    "linear_low": float(linear_ci[0]), "linear_high": float(linear_ci[1]),
                    "knn_acc": float(self.knn_acc[i, j]), "knn_low": float(knn_ci[0]), "knn_high": float(knn_ci[1]),
                })  # fmt: skip
        return rows

    def metadata(self) -> dict[str, object]:
        """How these probes were made: what ``probes.json`` records beside ``probes.csv``."""
        return {
            "split": self.split, "split_note": self.split_note(), "n_samples": self.n_samples, "n_train": self.n_train,
            "n_test": self.n_test, "test_fraction": self.test_fraction, "max_samples": self.max_samples,
            "seed": self.seed, "tolerance": self.tolerance, "knn_k": self.knn_k, "chance": self.chance,
            "interval": f"{100 * LEVEL:g}% percentile bootstrap over the held-out samples",
            "n_bootstrap": self.n_bootstrap, "linear_probe": "logistic regression (max_iter 200) on standardised features",
            "knn_probe": f"k-NN (k={self.knn_k}) on standardised features",
            "baseline": None if self.baseline is None else f"the raw inputs ({self.baseline.n_features} features), row '{INPUT_ROW}'",
        }  # fmt: skip


def join_probes(parts: Sequence[ProbeResult]) -> ProbeResult:
    """One result from results of the same probes at different epochs (a later part wins an epoch both have)."""
    rows: dict[int, tuple[ProbeResult, int]] = {}
    for part in parts:
        rows.update({int(e): (part, i) for i, e in enumerate(part.epochs)})
    epochs = tuple(sorted(rows))
    arrays = {}
    for name in PER_EPOCH:
        values = [getattr(rows[e][0], name) for e in epochs]
        arrays[name] = None if any(v is None for v in values) else np.stack(
            [np.asarray(v[rows[e][1]], dtype=np.float64) for v, e in zip(values, epochs)])  # fmt: skip
    return replace(parts[-1], epochs=epochs, **arrays)


def _saturation_index(accuracy: np.ndarray, tolerance: float) -> int:
    best = float(np.nanmax(accuracy))
    return int(np.flatnonzero(accuracy >= best - tolerance - 1e-12)[0])


def _epochs_text(epochs: list[int]) -> str:
    return f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {', '.join(map(str, epochs))}"


def _stratified_cap(labels: IntArray, max_samples: int, seed: int, held_out: np.ndarray | None = None) -> IntArray:
    """A seeded subset of at most ``max_samples`` rows keeping class proportions (and the held-out share).

    With ``held_out`` (bool per row) the subset is stratified on (class, held out) together: a
    cap drawn like the run's own split (same seed, same stratification) would otherwise keep
    only training samples.
    """
    n = len(labels)
    if n <= max_samples:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    strata = np.asarray(labels)
    if held_out is not None:
        joint = strata * 2 + held_out.astype(np.int64)
        strata = joint if np.unique(joint, return_counts=True)[1].min() >= 2 else strata
    keep, _ = train_test_split(np.arange(n), train_size=max_samples, random_state=seed, stratify=strata)
    return np.sort(keep)


def _probe_layer(x: FloatArray, y: IntArray, split: ProbeSplit, knn_k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit on the training rows, predict the held-out rows: (linear, k-NN) correctness, each (n_test,) bool."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    x = x.reshape(len(x), -1)
    train, test = split.train, split.test
    scaler = StandardScaler().fit(x[train])
    x_train, x_test = scaler.transform(x[train]), scaler.transform(x[test])
    model = LogisticRegression(max_iter=200, random_state=seed)
    with warnings.catch_warnings():
        # a probe that stops at max_iter is still a fair (slightly low) estimate
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y[train])
    linear = model.predict(x_test) == y[test]
    neighbours = KNeighborsClassifier(n_neighbors=min(knn_k, len(train))).fit(x_train, y[train])
    return linear, neighbours.predict(x_test) == y[test]


def run_probes(
    acts: ActivationSet,
    *,
    epochs: Sequence[int] | str | int | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    tolerance: float = 0.01,
    knn_k: int = 5,
    max_samples: int = MAX_PROBE_SAMPLES,
    test_fraction: float = TEST_FRACTION,
    n_bootstrap: int = N_BOOTSTRAP,
    baseline: bool = True,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> ProbeResult:
    """Predict the label from each layer alone: linear and k-NN probes fit on the training samples, scored on held-out ones.

    Parameters
    ----------
    acts : ActivationSet
        Its ``test_indices`` (the run's split) say which samples are held out; with none, a
        seeded, stratified ``test_fraction`` is held out (the result says which).
    epochs : "last", "all", int or sequence of int, optional
        Default: the last saved epoch.
    layers : sequence of str, optional
        Default: every layer in network order.
    seed : int, default=0
        Seeds the sample cap, the held-out part (when drawn here), the probes and the bootstrap.
    tolerance : float, default=0.01
        A layer within this accuracy of the best is "saturated".
    knn_k : int, default=5
    max_samples : int, default=3000
        Larger sets are cut to a seeded, stratified subset of this size (a logistic
        regression on 3000 x 512 features takes about a second).
    test_fraction : float, default=0.2
        Held-out share when the run has no split.
    n_bootstrap : int, default=200
        Resamples of the held-out samples for the 95% intervals.
    baseline : bool, default=True
        Also probe the raw inputs (``acts.inputs``, when it has them): the baseline row.
    progress : Progress
        One update per (epoch, layer); cancellable between layers.
    cache_dir : path, optional
        Cache root (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write ``DiskCache("probes")``, keyed by the probed activations' bytes, the
        labels, the split and every setting: a run opened again shows its probes at once.

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
    if not 0 < test_fraction < 1 or n_bootstrap < 1:
        raise EstimatorError(f"test_fraction must lie in (0, 1) and n_bootstrap be at least 1, got {test_fraction}, {n_bootstrap}.")
    chosen_epochs = select_epochs(acts, epochs)
    chosen_layers = select_layers(acts, layers)
    held_out = None if acts.test_indices is None else np.isin(acts.sample_idx, acts.test_indices)
    rows = _stratified_cap(acts.labels, max_samples, seed, held_out)
    y = np.asarray(acts.labels)[rows]
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise EstimatorError("Probes need at least two classes; every sample has the same label.")
    if counts.min() < 2:
        raise EstimatorError(
            f"Class {classes[counts.argmin()]} has a single sample; probes need at least 2 per class "
            "(capture more samples)."
        )
    split = probe_split(y, np.asarray(acts.sample_idx)[rows], acts.test_indices, seed, test_fraction)
    inputs = acts.inputs if baseline and acts.inputs is not None and np.asarray(acts.inputs).dtype.kind in "fiub" else None
    described = dict(tolerance=tolerance, counts=counts, split=split, seed=seed, knn_k=knn_k, max_samples=max_samples,
                     n_bootstrap=n_bootstrap)  # fmt: skip
    cache = DiskCache("probes", cache_dir, enabled=use_cache)
    settings = {"v": 2, "epochs": chosen_epochs, "layers": chosen_layers, "seed": seed, "tolerance": tolerance,
                "knn_k": knn_k, "rows": len(rows), "boot": n_bootstrap, "baseline": inputs is not None}  # fmt: skip
    key = _cache_key(acts, chosen_epochs, chosen_layers, rows, split, inputs, settings) if use_cache else ""
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        progress.update(1.0, "probes loaded from cache")
        return _result(chosen_epochs, chosen_layers, hit[0], **described)
    draws = bootstrap_draws(len(split.test), seed, n_bootstrap)
    n_epochs, n_layers = len(chosen_epochs), len(chosen_layers)
    arrays = {name: np.zeros((n_epochs, n_layers)) for name in ("linear", "knn")}
    arrays |= {name: np.zeros((n_epochs, n_layers, 2)) for name in ("linear_ci", "knn_ci")}
    arrays |= {"gain": np.zeros(n_epochs), "gain_ci": np.full((n_epochs, 2), np.nan)}
    if inputs is not None:
        progress.update(0.0, "raw inputs (baseline)")
        x = np.asarray(inputs, dtype=np.float32).reshape(len(inputs), -1)[rows]
        arrays["baseline"] = np.concatenate([_scores(correct, draws) for correct in _probe_layer(x, y, split, knn_k, seed)])
        arrays["baseline_dim"] = np.array(x.shape[1])
    for i, epoch in enumerate(chosen_epochs):
        boot = np.zeros((len(draws), n_layers))
        for j, layer in enumerate(chosen_layers):
            progress.check_cancelled()
            where = f"layer {j + 1} of {n_layers} ({layer})"
            progress.update((i * n_layers + j) / (n_epochs * n_layers), where + (f", epoch {epoch}" if n_epochs > 1 else ""))
            x = np.asarray(acts.layer(layer, epoch), dtype=np.float32)[rows]
            if not np.isfinite(x).all():
                raise ActivationError(f"Layer {layer} at epoch {epoch} has NaN/inf activations; cannot probe it.")
            linear, knn = _probe_layer(x, y, split, knn_k, seed)
            for name, correct in (("linear", linear), ("knn", knn)):
                scores = _scores(correct, draws)
                arrays[name][i, j], arrays[f"{name}_ci"][i, j] = scores[0], scores[1:]
            boot[:, j] = linear[draws].mean(axis=1)
        s = _saturation_index(arrays["linear"][i], tolerance)
        if s < n_layers - 1:
            arrays["gain"][i] = arrays["linear"][i, s + 1 :].max() - arrays["linear"][i, s]
            arrays["gain_ci"][i] = interval(boot[:, s + 1 :].max(axis=1) - boot[:, s])
    progress.update(1.0, "probes done")
    cache.put(key, arrays, settings)
    return _result(chosen_epochs, chosen_layers, arrays, **described)


def _scores(correct: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Accuracy and its bootstrap interval: [acc, low, high]."""
    return np.array([correct.mean(), *interval(correct[draws].mean(axis=1))], dtype=np.float64)


def _result(
    epochs: tuple[int, ...], layers: tuple[str, ...], arrays: dict[str, np.ndarray], *, tolerance: float,
    counts: np.ndarray, split: ProbeSplit, seed: int, knn_k: int, max_samples: int, n_bootstrap: int,
) -> ProbeResult:  # fmt: skip
    base = arrays.get("baseline")
    return ProbeResult(
        epochs=epochs,
        layers=layers,
        linear_acc=np.asarray(arrays["linear"], dtype=np.float64),
        knn_acc=np.asarray(arrays["knn"], dtype=np.float64),
        linear_ci=np.asarray(arrays["linear_ci"], dtype=np.float64),
        knn_ci=np.asarray(arrays["knn_ci"], dtype=np.float64),
        gain=np.asarray(arrays["gain"], dtype=np.float64),
        gain_ci=np.asarray(arrays["gain_ci"], dtype=np.float64),
        tolerance=float(tolerance),
        chance=float(counts.max() / counts.sum()),
        n_samples=int(counts.sum()),
        n_train=len(split.train),
        n_test=len(split.test),
        split=split.kind,
        test_fraction=split.test_fraction,
        baseline=None if base is None else InputBaseline(
            float(base[0]), float(base[3]), (float(base[1]), float(base[2])), (float(base[4]), float(base[5])),
            int(np.asarray(arrays.get("baseline_dim", 0))),
        ),
        seed=seed, knn_k=knn_k, max_samples=max_samples, n_bootstrap=n_bootstrap,
    )  # fmt: skip


def _cache_key(
    acts: ActivationSet, epochs: tuple[int, ...], layers: tuple[str, ...], rows: IntArray, split: ProbeSplit,
    inputs: np.ndarray | None, settings: dict,
) -> str:  # fmt: skip
    """The probed rows of every (epoch, layer), the labels, the split, the inputs and the settings."""
    arrays = [np.asarray(acts.labels)[rows], split.train, split.test]
    arrays += [np.asarray(acts.layer(layer, epoch))[rows] for epoch in epochs for layer in layers]
    if inputs is not None:
        arrays.append(np.asarray(inputs)[rows])
    return hash_arrays(arrays, settings)


def write_probes_csv(result: ProbeResult, path: str | Path) -> Path:
    """Write ``probes.csv`` (atomically) and its ``probes.json`` sidecar of settings; returns the CSV's path.

    Columns: ``epoch,layer,linear_acc,linear_low,linear_high,knn_acc,knn_low,knn_high`` (accuracy on
    the held-out samples and its 95% bootstrap interval); the first row, layer ``input`` with an
    empty epoch, is the raw inputs' baseline when there is one.
    """
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(PROBE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in result.to_rows():
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())
    write_sidecar(path, {"file": path.name, "what": "layer probes", **result.metadata()})
    return path
