"""An information plane's numbers and flags, its CSV and metadata sidecar, its cache entry.

:class:`InformationPlane` is what :func:`~ibviewer.core.information.plane.compute_information_plane`
returns; :func:`write_infoplane_csv` writes it with ``<name>.json`` beside it (how it was made).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import DiskCache, atomic_write_text
from ibviewer.core.information._common import MIEstimator
from ibviewer.core.information.registry import ESTIMATORS, describe_estimator

__all__ = [
    "InformationPlane",
    "write_infoplane_csv",
    "metadata_path",
    "plane_metadata",
    "chain_caption",
    "NULL_PERMUTATIONS",
    "NULL_SEED",
    "NEAR_CEILING_BITS",
    "DPI_SIGMAS",
    "DPI_FLOOR_BITS",
]

logger = logging.getLogger(__name__)

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
    sample_idx : ndarray of int64 or None
        (n_samples,) the samples' indices in the dataset (a seeded subset with ``max_samples``).
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
    sample_idx: np.ndarray | None = None

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

    def chain_caption(self, labels: Mapping[str, str] | None = None) -> str:
        """The network as a Markov chain and why the lines should descend (see :func:`chain_caption`)."""
        return chain_caption(self.layers, labels)

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
    atomic_write_text(metadata_path(path), json.dumps(plane_metadata(plane, path.name), indent=1) + "\n")
    return path


def metadata_path(csv_path: str | Path) -> Path:
    """Where :func:`write_infoplane_csv` puts the CSV's metadata: ``infoplane.csv`` -> ``infoplane.json``."""
    return Path(csv_path).with_suffix(".json")


def plane_metadata(plane: InformationPlane, csv_name: str = "infoplane.csv") -> dict[str, Any]:
    """How ``plane`` was made, JSON-ready: enough to rebuild its figure from the CSV and this alone."""
    ranges = plane.value_ranges()
    return {
        "format": "ibviewer-infoplane",
        "version": 1,
        "csv": csv_name,
        "unit": "bits",
        "estimator": plane.estimator,
        "params": plane.params,
        "description": plane.label(),
        "n_samples": plane.n_samples,
        "sample_indices": None if plane.sample_idx is None else [int(i) for i in plane.sample_idx],
        "epochs": list(plane.epochs),
        "chain": ["X", *plane.layers, "Y"],
        "x_variable": plane.x_variable,
        "ceilings": {"i_xt": plane.log2_n, "i_ty": plane.h_y},
        "value_ranges": None if ranges is None else {name: list(r) for name, r in ranges.items()},
        "null": {
            "permutations": NULL_PERMUTATIONS,
            "seed": NULL_SEED,
            "what": "i_ty_null, i_ty_null_sd: mean and sample sd of I(T;Y) over seeded permutations of the labels",
        },
        "flags": {
            "near_ceiling": f"i_xt >= log2(N) - {NEAR_CEILING_BITS:g} bits, or every sample in its own bin",
            "dpi_violation": f"i_ty above that of an earlier layer by more than max({DPI_SIGMAS:g} x the two "
            f"cells' combined null sd, {DPI_FLOOR_BITS:g} bits)",
        },
        "warnings": list(plane.warnings),
    }


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def _frozen_ids(array: np.ndarray) -> np.ndarray:
    ids = np.ascontiguousarray(array, dtype=np.int64)
    ids.setflags(write=False)
    return ids


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
    if plane.sample_idx is not None:
        arrays["sample_idx"] = plane.sample_idx
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
            sample_idx=_frozen_ids(arrays["sample_idx"]) if "sample_idx" in arrays else None,
        )
    except (KeyError, TypeError, ValueError) as exc:  # an entry from another version: recompute
        logger.warning("ignoring incompatible information-plane cache entry (%s)", exc)
        return None


def chain_caption(layers: Sequence[str], labels: Mapping[str, str] | None = None) -> str:
    """The network as a Markov chain, and why the plane's lines should descend along it.

    E.g. ``"X → net.1 → net.3 → Ŷ: each layer sees only the one before, so I(T;Y) cannot grow
    along the chain (data-processing inequality)"``.
    """
    labels = labels or {}
    names = [labels.get(name, name) for name in layers]
    if len(names) > 6:
        names = [*names[:3], "…", *names[-2:]]
    return (
        f"{' → '.join(['X', *names, 'Ŷ'])}: each layer sees only the one before, so I(T;Y) cannot grow "
        "along the chain (data-processing inequality)"
    )
