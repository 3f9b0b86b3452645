"""`AnalysisSettings`: everything the live controls set, and which results a change invalidates.

Pure Python (no Qt): the controls panel edits an `AnalysisSettings`, the window compares
the old and new object with `settings_diff` and recomputes only the stages named there.
The same object is what a session file stores.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ibviewer.errors import IBViewerError

__all__ = [
    "AnalysisSettings",
    "settings_diff",
    "ESTIMATOR_CHOICES",
    "RANGE_MODES",
    "METHOD_CHOICES",
    "ALIGNMENT_CHOICES",
    "PREPROCESSING_CHOICES",
    "COLOR_MODES",
    "RESULT_STAGES",
]

ESTIMATOR_CHOICES = ("binning", "adaptive", "kde")
RANGE_MODES = ("fixed", "layer")  # binning edges on [-1, 1] (tanh) or each layer's [min, max]
METHOD_CHOICES = ("tsne", "umap", "pca")
ALIGNMENT_CHOICES = ("init", "procrustes", "aligned_umap", "none")
PREPROCESSING_CHOICES = ("none", "center", "standardize", "l2")
COLOR_MODES = ("label", "predicted", "correct", "faithfulness")
#: What `settings_diff` may name: results that have to be computed again.
RESULT_STAGES = ("infoplane", "embeddings", "probes")


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings behind every picture: estimator, embedding and display choices.

    Only the parameters of the chosen estimator and method matter for the results
    (``noise_var`` is ignored by binning, ``perplexity`` by UMAP); `settings_diff`
    knows this, so editing a hidden parameter recomputes nothing.
    """

    # information plane
    estimator: str = "binning"
    n_bins: int = 30
    bin_width: float | None = None  # when set, replaces n_bins (binning only)
    range_mode: str = "fixed"
    noise_var: float = 1e-3
    kde_band: bool = True  # draw the kde lower..upper band (display only)
    # embeddings
    method: str = "tsne"
    dims: int = 2
    perplexity: float = 30.0
    n_neighbors: int = 15
    seed: int = 0
    alignment: str = "init"
    preprocessing: str = "none"
    pca_dims: int | None = None  # PCA to this many dimensions before t-SNE/UMAP
    # display
    color_by: str = "label"
    search: str = ""

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("estimator", self.estimator, ESTIMATOR_CHOICES),
            ("range_mode", self.range_mode, RANGE_MODES),
            ("method", self.method, METHOD_CHOICES),
            ("alignment", self.alignment, ALIGNMENT_CHOICES),
            ("preprocessing", self.preprocessing, PREPROCESSING_CHOICES),
            ("color_by", self.color_by, COLOR_MODES),
        ):
            if value not in choices:
                raise IBViewerError(f"Setting {name}={value!r} is not one of {', '.join(choices)}.")
        if self.dims not in (2, 3):
            raise IBViewerError(f"Setting dims={self.dims!r} must be 2 or 3.")
        if self.alignment == "aligned_umap" and self.method != "umap":
            raise IBViewerError("Alignment 'aligned_umap' works with the UMAP method only; pick UMAP or another alignment.")
        _check_number("n_bins", self.n_bins, 2, integer=True)
        _check_number("n_neighbors", self.n_neighbors, 2, integer=True)
        _check_number("perplexity", self.perplexity, 1.0)
        _check_number("noise_var", self.noise_var, 0.0, strict=True)
        if self.bin_width is not None:
            _check_number("bin_width", self.bin_width, 0.0, strict=True)
        if self.pca_dims is not None:
            _check_number("pca_dims", self.pca_dims, 2, integer=True)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise IBViewerError(f"Setting seed={self.seed!r} must be an integer.")

    # -- what the core functions take ---------------------------------------------
    def estimator_params(self) -> dict[str, Any]:
        """Keyword arguments of ``compute_information_plane`` for the chosen estimator."""
        if self.estimator == "binning":
            size: dict[str, Any] = {"n_bins": self.n_bins} if self.bin_width is None else {"bin_width": self.bin_width}
            value_range: Any = "layer" if self.range_mode == "layer" else (-1.0, 1.0)
            return {**size, "value_range": value_range}
        if self.estimator == "adaptive":
            return {"n_bins": self.n_bins}
        return {"noise_var": self.noise_var}

    def embedding_params(self) -> dict[str, Any]:
        """Keyword arguments of ``embed_layers`` besides the activations, epochs and progress."""
        params: dict[str, Any] = {
            "method": self.method,
            "dims": self.dims,
            "seed": self.seed,
            "alignment": self.alignment,
            "preprocessing": self.preprocessing,
            "pca_dims": self.pca_dims if self.method != "pca" else None,
        }
        if self.method == "tsne":
            params["perplexity"] = self.perplexity
        elif self.method == "umap":
            params["n_neighbors"] = self.n_neighbors
        return params

    def view_settings_changes(self) -> dict[str, Any]:
        """The fields of the window's ``ViewSettings`` these settings decide (``state.set_settings(**...)``)."""
        return {
            "method": self.method,
            "dims": self.dims,
            "estimator": self.estimator,
            "estimator_params": self.estimator_params(),
            "seed": self.seed,
        }

    # -- sessions ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSettings:
        """Settings from `to_dict` output; unknown keys are an error, missing keys take defaults."""
        if not isinstance(data, dict):
            raise IBViewerError(f"Analysis settings must be a JSON object, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise IBViewerError(f"Unknown analysis setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        try:
            return cls(**data)
        except TypeError as exc:
            raise IBViewerError(f"Malformed analysis settings ({exc}).") from exc

    def with_changes(self, **changes: Any) -> AnalysisSettings:
        return replace(self, **changes)


def _check_number(name: str, value: Any, minimum: float, *, integer: bool = False, strict: bool = False) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise IBViewerError(f"Setting {name}={value!r} must be {kind}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise IBViewerError(f"Setting {name}={value!r} must be {relation} {minimum:g}.")


def settings_diff(old: AnalysisSettings | None, new: AnalysisSettings) -> set[str]:
    """Which results must be recomputed when the settings change from ``old`` to ``new``.

    Returns a subset of ``{"infoplane", "embeddings", "probes"}``: the information plane
    when the estimator or its effective parameters change, the embeddings when the method,
    its effective parameters, dims, seed, alignment or preprocessing change. Display-only
    settings (colouring, search, the kde band) and parameters the chosen estimator or
    method ignores recompute nothing. ``old=None`` (nothing computed yet) needs everything.
    """
    if old is None:
        return set(RESULT_STAGES)
    stages: set[str] = set()
    if (old.estimator, old.estimator_params()) != (new.estimator, new.estimator_params()):
        stages.add("infoplane")
    if old.embedding_params() != new.embedding_params():
        stages.add("embeddings")
    # probes depend on the activations only (their own seed is fixed), not on these settings
    return stages
