"""The information plane: I(X;T) and I(T;Y) for every (epoch, layer) cell of an ActivationSet.

:func:`compute_information_plane` validates the activations once, runs the cells through
joblib (each cell one estimator fit), reports progress, checks cancellation between cells and
caches the finished plane on disk; :func:`write_infoplane_csv` writes it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import DiskCache, atomic_write_text, hash_arrays, hash_json
from ibviewer.core.information._common import MIEstimator, _check_x, _label_ids
from ibviewer.core.information.registry import (
    ESTIMATORS,
    EstimatorName,
    _saturation_message,
    describe_estimator,
    make_estimator,
)
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, IntArray
from ibviewer.errors import ActivationError, EstimatorError

__all__ = [
    "InformationPlane",
    "PlaneSetup",
    "compute_information_plane",
    "estimate_cells",
    "label_ids",
    "write_infoplane_csv",
]

logger = logging.getLogger(__name__)

# Bumped whenever a change alters cached numbers (2: per-cell outputs, x_variable, layer notes;
# 3: shuffled-label null, binning's resolved ranges).
_CACHE_VERSION = 3

#: Seeded label permutations behind the shuffled-label null of I(T;Y) in every cell.
NULL_PERMUTATIONS = 5
NULL_SEED = 0
#: A cell is near the ceiling when I(X;T) >= log2(N) - this: 2**I(X;T) > N / 2 effective states,
#: fewer than two samples per occupied state on average, where a plug-in entropy has no samples
#: left to estimate the distribution with (I(T;Y) then follows from sample identity, see the null).
NEAR_CEILING_BITS = 1.0
#: I(T;Y) of a deeper layer above an earlier one by more than this many standard deviations of the
#: two cells' shuffled-label nulls (and more than DPI_FLOOR_BITS) violates the data-processing inequality.
DPI_SIGMAS = 3.0
DPI_FLOOR_BITS = 0.01


@dataclass(frozen=True, eq=False)
class InformationPlane:
    """I(X;T) and I(T;Y) for every (epoch, layer) cell, in bits.

    Attributes
    ----------
    estimator : str
        Registry name ("binning", "adaptive", "kde", "renyi").
    params : dict
        The estimator's settings (JSON-ready; without ``device`` and ``chunk_size``).
    epochs : tuple of int
        Rows of the arrays.
    layers : tuple of str
        Columns of the arrays, in network order.
    i_xt, i_ty : ndarray of float64, (n_epochs, n_layers)
        Estimates; for kde the upper bounds.
    i_xt_lower, i_ty_lower : ndarray of float64 or None
        For kde the lower bounds, (n_epochs, n_layers); None otherwise.
    h_y : float
        Ceiling of I(T;Y): the entropy of the labels (for renyi their Rényi α-entropy).
    log2_n : float
        Ceiling of I(X;T): log2 of the number of samples.
    n_samples : int
        Samples the estimates are made from.
    warnings : tuple of str
        Actionable warnings raised while computing (e.g. layers at log2(N)).
    saturated : ndarray of bool or None
        (n_epochs, n_layers): the estimator's ``saturated_`` per cell (I(X;T) at log2(N), every
        sample resolved on its own); None only for planes cached by older versions.
    x_variable : {"sample", "input"}
        What X was: the sample itself (I(X;T) = H(T), every estimator without inputs) or the
        inputs carried by the activations (``ActivationSet.inputs``; renyi).
    cell_outputs : dict of str to ndarray
        The estimator's extra numbers per cell, (n_epochs, n_layers) each (renyi:
        ``entropy_t``, ``entropy_x``, ``kernel_width``, ``kernel_width_x``); empty for the others.
    layer_notes : dict of str to tuple of str
        The estimator's texts per layer (renyi: ``kernel``, e.g. "tensor 16x4x4").
    i_ty_null, i_ty_null_sd : ndarray of float64 or None
        (n_epochs, n_layers): mean and standard deviation of I(T;Y) over
        :data:`NULL_PERMUTATIONS` seeded permutations of the labels (the shuffled-label null:
        what the estimator reports when the labels say nothing about T); None only for old caches.
    """

    estimator: str
    params: dict[str, Any]
    epochs: tuple[int, ...]
    layers: tuple[str, ...]
    i_xt: np.ndarray
    i_ty: np.ndarray
    i_xt_lower: np.ndarray | None
    i_ty_lower: np.ndarray | None
    h_y: float
    log2_n: float
    n_samples: int
    warnings: tuple[str, ...] = ()
    saturated: np.ndarray | None = None
    x_variable: str = "sample"
    cell_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    layer_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    i_ty_null: np.ndarray | None = None
    i_ty_null_sd: np.ndarray | None = None

    @property
    def has_bounds(self) -> bool:
        return self.i_xt_lower is not None

    @property
    def has_null(self) -> bool:
        return self.i_ty_null is not None and self.i_ty_null_sd is not None

    @property
    def near_ceiling(self) -> np.ndarray:
        """(n_epochs, n_layers) bool: I(X;T) within :data:`NEAR_CEILING_BITS` of log2(N), or saturated."""
        flags = self.i_xt >= self.log2_n - NEAR_CEILING_BITS
        return flags | self.saturated if self.saturated is not None else flags

    @property
    def dpi_violation(self) -> np.ndarray:
        """(n_epochs, n_layers) bool: I(T;Y) above that of an earlier layer beyond the estimator's noise.

        A network is a Markov chain X -> T1 -> T2 -> ... -> Y^, so the true I(T_k;Y) cannot grow
        with depth (the data-processing inequality). Noise: :data:`DPI_SIGMAS` standard deviations
        of the difference of two cells, each cell's sd taken from its shuffled-label null, and at
        least :data:`DPI_FLOOR_BITS`. Layers are taken in the plane's order (network order).
        """
        flags = np.zeros(self.i_ty.shape, dtype=bool)
        sd = self.i_ty_null_sd if self.i_ty_null_sd is not None else np.zeros(self.i_ty.shape)
        for k in range(1, len(self.layers)):
            for j in range(k):
                noise = np.maximum(DPI_SIGMAS * np.hypot(sd[:, k], sd[:, j]), DPI_FLOOR_BITS)
                flags[:, k] |= self.i_ty[:, k] - self.i_ty[:, j] > noise
        return flags

    def value_ranges(self) -> dict[str, tuple[float, float]] | None:
        """Per layer, the numeric range the bins spanned (binning; None for other estimators)."""
        low, high = self.cell_outputs.get("range_low"), self.cell_outputs.get("range_high")
        if low is None or high is None:
            return None
        return {name: (float(low[-1, k]), float(high[-1, k])) for k, name in enumerate(self.layers)}

    @property
    def uses_inputs(self) -> bool:
        """True for estimators that can take the inputs as X (their CSV says which X was used)."""
        return ESTIMATORS.get(self.estimator, MIEstimator).uses_inputs

    def label(self) -> str:
        """One line naming the estimator and its settings (used in figure titles)."""
        text = describe_estimator(self.estimator, self.params)
        if self.uses_inputs:
            text += "; X = input" if self.x_variable == "input" else "; X = sample, I(X;T) = S(T)"
        return text

    def columns(self) -> list[str]:
        """The CSV columns, in order (see :func:`write_infoplane_csv`)."""
        columns = ["epoch", "layer", "estimator", "params", "i_xt", "i_ty"]
        if self.has_bounds:
            columns += ["i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"]
        if self.has_null:
            columns += ["i_ty_null", "i_ty_null_sd"]
        columns += ["near_ceiling", "dpi_violation"]
        if self.uses_inputs:
            columns.append("x_variable")
        return columns + list(self.layer_notes) + list(self.cell_outputs)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per (epoch, layer), in the column order of :func:`write_infoplane_csv`."""
        params_text = json.dumps(self.params, sort_keys=True)
        near_ceiling, dpi_violation = self.near_ceiling, self.dpi_violation
        rows = []
        for e, epoch in enumerate(self.epochs):
            for k, layer in enumerate(self.layers):
                row: dict[str, Any] = {
                    "epoch": int(epoch),
                    "layer": layer,
                    "estimator": self.estimator,
                    "params": params_text,
                    "i_xt": float(self.i_xt[e, k]),
                    "i_ty": float(self.i_ty[e, k]),
                }
                if self.i_xt_lower is not None and self.i_ty_lower is not None:
                    row.update(
                        i_xt_lower=float(self.i_xt_lower[e, k]),
                        i_xt_upper=float(self.i_xt[e, k]),
                        i_ty_lower=float(self.i_ty_lower[e, k]),
                        i_ty_upper=float(self.i_ty[e, k]),
                    )
                if self.i_ty_null is not None and self.i_ty_null_sd is not None:
                    row.update(i_ty_null=float(self.i_ty_null[e, k]), i_ty_null_sd=float(self.i_ty_null_sd[e, k]))
                row.update(near_ceiling=int(near_ceiling[e, k]), dpi_violation=int(dpi_violation[e, k]))
                if self.uses_inputs:
                    row["x_variable"] = self.x_variable
                for name, notes in self.layer_notes.items():
                    row[name] = notes[k]
                for name, values in self.cell_outputs.items():
                    row[name] = float(values[e, k])
                rows.append(row)
        return rows


def write_infoplane_csv(plane: InformationPlane, path: str | Path) -> Path:
    """Write ``plane`` as CSV, one row per (epoch, layer); return the path.

    Columns: epoch, layer, estimator, params (JSON), i_xt, i_ty; for kde also i_xt_lower,
    i_xt_upper, i_ty_lower, i_ty_upper; i_ty_null, i_ty_null_sd (the shuffled-label null);
    near_ceiling, dpi_violation (0/1 flags); for renyi also x_variable ("input" or "sample"),
    kernel (what the kernel ran over), entropy_t, entropy_x (S_α of T and X), kernel_width,
    kernel_width_x (sigma of T and X; "nan" without inputs); for binning range_low, range_high
    (the range the bins spanned) and out_of_range (fraction of values outside it). Values in
    bits, full precision.
    """
    rows = plane.to_rows()
    columns = plane.columns()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: repr(value) if isinstance(value, float) else value for key, value in row.items()})
    path = Path(path)
    atomic_write_text(path, buffer.getvalue())
    return path


def _estimate_cell(
    t: np.ndarray, y_ids: IntArray, n_classes: int, estimator: str, params: dict[str, Any], inputs: Any
) -> dict[str, Any]:
    """The results of one (epoch, layer) cell: the estimates, ceilings, flags and extra outputs."""
    # inputs were validated once for the whole ActivationSet (and prepared once, for renyi)
    fitted = make_estimator(estimator, **params)._fit_checked(t, y_ids, n_classes, inputs)
    cell = {
        "i_xt": fitted.i_xt_,
        "i_ty": fitted.i_ty_,
        "i_xt_lower": getattr(fitted, "i_xt_lower_", math.nan),
        "i_ty_lower": getattr(fitted, "i_ty_lower_", math.nan),
        "saturated": bool(fitted.saturated_),
        "h_y": fitted.h_y_,
        "x_variable": fitted.x_variable_,
    }
    cell.update({name: float(getattr(fitted, name + "_")) for name in fitted.cell_outputs})
    cell.update({name: str(getattr(fitted, name + "_")) for name in fitted.layer_notes})
    null = fitted.null_i_ty(t, _null_labelings(y_ids), n_classes)
    cell["i_ty_null"], cell["i_ty_null_sd"] = float(null.mean()), float(null.std(ddof=1))
    return cell


def _null_labelings(y_ids: IntArray) -> list[IntArray]:
    """The :data:`NULL_PERMUTATIONS` seeded permutations of the labels (the same for every cell)."""
    rng = np.random.default_rng(NULL_SEED)
    return [rng.permutation(y_ids) for _ in range(NULL_PERMUTATIONS)]


def compute_information_plane(
    acts: ActivationSet,
    estimator: EstimatorName = "binning",
    *,
    layers: Sequence[str] | None = None,
    progress: Progress = NULL_PROGRESS,
    n_jobs: int | None = 1,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    **params: Any,
) -> InformationPlane:
    """Estimate I(X;T) and I(T;Y) for every saved epoch and layer.

    Parameters
    ----------
    acts : ActivationSet
        Activations (n_epochs, n_samples, dim) per layer and the samples' labels; for renyi
        ``acts.inputs`` (the samples' model inputs, when present) are the X of I(X;T), else
        I(X;T) = S(T) (``plane.x_variable`` says which).
    estimator : {"binning", "adaptive", "kde", "renyi"}, default="binning"
        See :data:`ESTIMATORS`; ``**params`` are its settings (see :func:`mutual_information`).
        For binning, ``value_range="layer"`` takes each layer's min and max over all epochs;
        for renyi a flattened feature map's (C, H, W) comes from the layer's shape.
    layers : sequence of str, optional
        Layers to estimate, in the order to plot them (default: all of ``acts``).
    progress : Progress
        Told after every (epoch, layer) cell ("epoch 5, layer fc2 (12/700)"; callers add their
        own prefix, e.g. with SubProgress); cancellation is checked between cells.
    n_jobs : int or None, default=1
        Workers for joblib; None defers to ``joblib.parallel_config`` (so a backend such as
        Dask set there is used without code changes).
    cache_dir : path, optional
        Root of the on-disk cache (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write the ``infoplane`` cache, keyed by (acts.key, estimator, params, layers,
        and for renyi the inputs).

    Returns
    -------
    InformationPlane
        Arrays of shape (n_epochs, n_layers), in bits.

    Raises
    ------
    EstimatorError
        Unknown estimator, parameter or layer.
    ActivationError
        NaN or infinite activations, or labels that do not match the activations.
    Cancelled
        When ``progress.check_cancelled`` raises between cells.

    Warns
    -----
    UserWarning
        One per layer that sits at log2(N) in some epoch (also in ``plane.warnings``).
    """
    layer_names = _select_layers(acts, layers)
    n_epochs = len(acts.epochs)
    if n_epochs == 0:
        raise ActivationError("These activations hold no epochs; extract at least one checkpoint first.")
    n_samples = acts.n_samples
    labels = np.asarray(acts.labels).reshape(-1)
    for name in layer_names:
        shape = acts.values[name].shape
        if len(shape) != 3 or shape[:2] != (n_epochs, n_samples):
            raise ActivationError(
                f"Layer {name!r} activations have shape {shape}; expected ({n_epochs}, {n_samples}, dim). "
                "Re-extract the activations."
            )
    setup = PlaneSetup.create(acts.key, estimator, layer_names, params, inputs=acts.inputs)
    cache = DiskCache("infoplane", cache_dir, enabled=use_cache)
    plane = setup.cached(cache)
    if plane is not None:
        for message in plane.warnings:
            warnings.warn(message, UserWarning, stacklevel=2)
        progress.update(1.0, "loaded from cache")
        return plane

    y_ids, n_classes = label_ids(labels, n_samples)
    for name in layer_names:
        # one epoch at a time: a mask of the whole layer can be gigabytes
        if not all(np.isfinite(epoch_values).all() for epoch_values in acts.values[name]):
            raise ActivationError(
                f"Layer {name!r} has NaN or infinite activations; the model probably diverged at some epoch. "
                "Pick other layers or epochs."
            )

    prepared = setup.prepare_inputs(acts.inputs, n_samples)  # once for every cell (renyi's K_X)
    progress.check_cancelled()
    # e.g. binning's value_range="layer" (the layer's range over all epochs), renyi's map shape
    shapes = {layer.name: tuple(layer.shape) for layer in acts.layers}
    cell_params = {name: setup.layer_params(acts.values[name], shapes.get(name)) for name in layer_names}

    cells = [(e, k) for e in range(n_epochs) for k in range(len(layer_names))]
    results: dict[tuple[int, int], dict[str, Any]] = {}
    progress.update(0.0, f"{len(cells)} cells ({estimator})")
    progress.check_cancelled()
    from joblib import Parallel, delayed

    tasks = (
        delayed(_estimate_cell)(
            acts.values[layer_names[k]][e], y_ids, n_classes, estimator, cell_params[layer_names[k]], prepared
        )
        for e, k in cells
    )
    with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
        for done, ((e, k), cell) in enumerate(zip(cells, parallel(tasks)), start=1):
            results[e, k] = cell
            progress.update(
                done / len(cells),
                f"epoch {acts.epochs[e]}, layer {layer_names[k]} ({done}/{len(cells)})",
            )
            progress.check_cancelled()
    plane = setup.assemble(acts.epochs, results, n_samples)
    setup.store(cache, plane)
    for message in plane.warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    return plane


def label_ids(labels: np.ndarray, n_samples: int) -> tuple[IntArray, int]:
    """Labels as ids ``0..n_classes-1`` and the number of classes, checked against ``n_samples``."""
    labels = np.asarray(labels).reshape(-1)
    if labels.shape != (n_samples,) or n_samples < 2:
        raise ActivationError(
            f"Labels have shape {labels.shape} for {n_samples} samples; need one label per sample and >= 2 samples."
        )
    return _label_ids(labels)


def estimate_cells(
    values: Sequence[np.ndarray],
    labels: np.ndarray,
    estimator: str,
    cell_params: Sequence[dict[str, Any]],
    prepared_inputs: Any = None,
) -> list[dict[str, Any]]:
    """The cells of one epoch: ``values[k]`` is layer k's (n_samples, dim) block, ``cell_params[k]`` its settings.

    Returns one dict per layer (``i_xt``, ``i_ty``, bounds, ``saturated``, ``h_y``, the
    estimator's cell outputs and notes), exactly as :func:`compute_information_plane` computes
    them: a streamed analysis estimates each checkpoint where it was captured and sends only these.
    ``prepared_inputs`` is :meth:`PlaneSetup.prepare_inputs` of the samples' inputs (renyi).
    """
    y_ids, n_classes = label_ids(labels, len(labels))
    return [
        _estimate_cell(t, y_ids, n_classes, estimator, params, prepared_inputs) for t, params in zip(values, cell_params)
    ]


@dataclass(frozen=True, eq=False)
class PlaneSetup:
    """One information plane's estimator, settings, layers and cache key, before any estimate.

    :func:`compute_information_plane` and the streamed analysis (one checkpoint at a time,
    :mod:`ibviewer.core.streaming`) share it, so both give the same plane under the same key.
    """

    estimator: str
    spec: MIEstimator
    full_params: dict[str, Any]
    key_params: dict[str, Any]
    layers: tuple[str, ...]
    key: str

    @classmethod
    def create(
        cls, acts_key: str, estimator: str, layers: Sequence[str], params: dict[str, Any], inputs: np.ndarray | None = None
    ) -> PlaneSetup:
        """``inputs``: the samples' model inputs when the activations carry them (the X of renyi's I(X;T))."""
        spec = make_estimator(estimator, **params)
        full_params = spec.get_params()
        # device and chunk size change how, not what, is computed: kept out of the key and results
        key_params = {k: v for k, v in full_params.items() if k not in spec.runtime_params}
        used = inputs if spec.uses_inputs else None
        key = hash_json(
            {
                "v": _CACHE_VERSION, "acts": acts_key, "estimator": estimator, "params": key_params, "layers": list(layers),
                "inputs": None if used is None else hash_arrays([np.ascontiguousarray(used)]),
            }
        )  # fmt: skip
        return cls(estimator, spec, full_params, key_params, tuple(layers), key)

    def prepare_inputs(self, inputs: np.ndarray | None, n_samples: int) -> Any:
        """What every cell needs of the inputs (None when the estimator does not use them or there are none)."""
        if inputs is None or not self.spec.uses_inputs:
            return None
        try:
            return self.spec.prepare_inputs(_check_x(inputs, n_samples))
        except EstimatorError as exc:
            raise ActivationError(f"The activations' inputs cannot serve as X: {exc}") from exc

    def layer_params(self, values: np.ndarray, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
        """One layer's settings given its (n_epochs, n_samples, dim) values (see ``MIEstimator.layer_params``)."""
        return self.spec.layer_params(dict(self.full_params), values, shape)

    def cached(self, cache: DiskCache) -> InformationPlane | None:
        entry = cache.get(self.key)
        return _plane_from_cache(*entry) if entry is not None else None

    def store(self, cache: DiskCache, plane: InformationPlane) -> None:
        _plane_to_cache(cache, self.key, plane)

    def assemble(
        self, epochs: Sequence[int], results: dict[tuple[int, int], dict[str, Any]], n_samples: int
    ) -> InformationPlane:
        """The plane from its cells' results (``results[e, k]``, dicts of :func:`estimate_cells`)."""
        n_epochs, layer_names, spec = len(epochs), self.layers, self.spec

        def grid(name: str) -> np.ndarray:
            return np.array(
                [[results[e, k][name] for k in range(len(layer_names))] for e in range(n_epochs)], dtype=np.float64
            )

        log2_n = math.log2(n_samples)
        saturated = grid("saturated")
        messages = []
        for k, name in enumerate(layer_names):
            n_saturated = int(saturated[:, k].sum())
            if n_saturated:
                messages.append(_saturation_message(self.estimator, name, n_saturated, n_epochs, log2_n))
        if "out_of_range" in spec.cell_outputs and not isinstance(self.full_params.get("value_range"), str):
            messages += _range_messages(layer_names, grid("out_of_range"), self.full_params["value_range"])
        first = results[0, 0]
        return InformationPlane(
            estimator=self.estimator,
            params=self.key_params,
            epochs=tuple(int(e) for e in epochs),
            layers=tuple(layer_names),
            i_xt=_frozen(grid("i_xt")),
            i_ty=_frozen(grid("i_ty")),
            i_xt_lower=_frozen(grid("i_xt_lower")) if spec.has_bounds else None,
            i_ty_lower=_frozen(grid("i_ty_lower")) if spec.has_bounds else None,
            h_y=float(first["h_y"]),  # the same labels in every cell
            log2_n=log2_n,
            n_samples=n_samples,
            warnings=tuple(messages),
            saturated=_frozen_flags(saturated),
            x_variable=str(first["x_variable"]),
            cell_outputs={name: _frozen(grid(name)) for name in spec.cell_outputs},
            # the last epoch's note (the same in every epoch: it describes the layer)
            layer_notes={
                name: tuple(results[n_epochs - 1, k][name] for k in range(len(layer_names))) for name in spec.layer_notes
            },
            i_ty_null=_frozen(grid("i_ty_null")),
            i_ty_null_sd=_frozen(grid("i_ty_null_sd")),
        )


def _range_messages(layers: Sequence[str], outside: np.ndarray, value_range: Sequence[float]) -> list[str]:
    """A warning per layer with values outside a fixed range (they share the end bins)."""
    messages = []
    for k, name in enumerate(layers):
        n_epochs = int((outside[:, k] > 0).sum())
        if n_epochs:
            messages.append(
                f"Layer {name!r} has values outside the fixed range [{value_range[0]:g}, {value_range[1]:g}] in "
                f"{n_epochs} of {outside.shape[0]} epochs (up to {100 * outside[:, k].max():.1g}% of its values): "
                "they all share the end bins, which looks like compression; bin each layer over its own range "
                "(value_range='auto' or 'layer', --range-per-layer, or leave --range out)."
            )
    return messages


def _select_layers(acts: ActivationSet, layers: Sequence[str] | None) -> list[str]:
    available = list(acts.layer_names)
    if layers is None:
        chosen = available
    else:
        if isinstance(layers, str):
            layers = [layers]
        chosen = list(layers)
        unknown = [name for name in chosen if name not in acts.values]
        if unknown:
            raise EstimatorError(
                f"Unknown layer(s) {', '.join(map(repr, unknown))}; the activations hold: {', '.join(available)}."
            )
    if not chosen:
        raise EstimatorError("No layers to estimate; pick at least one layer.")
    return chosen



def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def _frozen_flags(array: np.ndarray) -> np.ndarray:
    flags = np.ascontiguousarray(array, dtype=bool)
    flags.setflags(write=False)
    return flags


def _plane_to_cache(cache: DiskCache, key: str, plane: InformationPlane) -> None:
    arrays = {"i_xt": plane.i_xt, "i_ty": plane.i_ty}
    if plane.saturated is not None:
        arrays["saturated"] = plane.saturated
    if plane.i_xt_lower is not None and plane.i_ty_lower is not None:
        arrays.update(i_xt_lower=plane.i_xt_lower, i_ty_lower=plane.i_ty_lower)
    arrays.update({f"cell_{name}": values for name, values in plane.cell_outputs.items()})
    if plane.i_ty_null is not None and plane.i_ty_null_sd is not None:
        arrays.update(i_ty_null=plane.i_ty_null, i_ty_null_sd=plane.i_ty_null_sd)
    meta = {
        "estimator": plane.estimator,
        "params": plane.params,
        "epochs": list(plane.epochs),
        "layers": list(plane.layers),
        "h_y": plane.h_y,
        "log2_n": plane.log2_n,
        "n_samples": plane.n_samples,
        "warnings": list(plane.warnings),
        "x_variable": plane.x_variable,
        "layer_notes": {name: list(notes) for name, notes in plane.layer_notes.items()},
    }
    cache.put(key, arrays, meta)


def _plane_from_cache(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> InformationPlane | None:
    try:
        return InformationPlane(
            estimator=str(meta["estimator"]),
            params=dict(meta["params"]),
            epochs=tuple(int(e) for e in meta["epochs"]),
            layers=tuple(str(name) for name in meta["layers"]),
            i_xt=_frozen(arrays["i_xt"]),
            i_ty=_frozen(arrays["i_ty"]),
            i_xt_lower=_frozen(arrays["i_xt_lower"]) if "i_xt_lower" in arrays else None,
            i_ty_lower=_frozen(arrays["i_ty_lower"]) if "i_ty_lower" in arrays else None,
            h_y=float(meta["h_y"]),
            log2_n=float(meta["log2_n"]),
            n_samples=int(meta["n_samples"]),
            warnings=tuple(str(m) for m in meta.get("warnings", ())),
            saturated=_frozen_flags(arrays["saturated"]),
            x_variable=str(meta["x_variable"]),
            cell_outputs={name[5:]: _frozen(values) for name, values in arrays.items() if name.startswith("cell_")},
            layer_notes={str(name): tuple(str(n) for n in notes) for name, notes in meta["layer_notes"].items()},
            i_ty_null=_frozen(arrays["i_ty_null"]),
            i_ty_null_sd=_frozen(arrays["i_ty_null_sd"]),
        )
    except (KeyError, TypeError, ValueError) as exc:  # an entry from another version: recompute
        logger.warning("ignoring incompatible information-plane cache entry (%s)", exc)
        return None
