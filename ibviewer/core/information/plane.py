"""The information plane: I(X;T) and I(T;Y) for every (epoch, layer) cell of an ActivationSet.

:func:`compute_information_plane` validates the activations once, runs the cells through
joblib (each cell one estimator fit), reports progress, checks cancellation between cells and
caches the finished plane on disk; :func:`write_infoplane_csv` writes it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import DiskCache, hash_arrays, hash_json
from ibviewer.core.information._common import MIEstimator, _check_x, _label_ids
from ibviewer.core.information.plane_data import (
    NULL_PERMUTATIONS,
    NULL_SEED,
    InformationPlane,
    _frozen,
    _frozen_flags,
    _frozen_ids,
    _plane_from_cache,
    _plane_to_cache,
    write_infoplane_csv,
)
from ibviewer.core.information.registry import EstimatorName, _saturation_message, make_estimator
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

# Bumped whenever a change alters cached numbers (2: per-cell outputs, x_variable, layer notes;
# 3: shuffled-label null, binning's resolved ranges).
_CACHE_VERSION = 3

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
    plane = setup.assemble(acts.epochs, results, n_samples, acts.sample_idx)
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
        self,
        epochs: Sequence[int],
        results: dict[tuple[int, int], dict[str, Any]],
        n_samples: int,
        sample_idx: np.ndarray | None = None,
    ) -> InformationPlane:
        """The plane from its cells' results (``results[e, k]``, dicts of :func:`estimate_cells`).

        ``sample_idx``: the samples' indices in the dataset (recorded with the plane).
        """
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
            sample_idx=None if sample_idx is None else _frozen_ids(sample_idx),
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



