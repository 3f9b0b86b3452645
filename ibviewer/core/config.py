"""The one definition of what a user can ask for: a run request, the analysis settings and their choices.

Every front end translates its input into these objects and nothing else: the CLI from
its arguments (``ibviewer/commands/options.py``), the GUI from its controls, a session
file from JSON (`AnalysisSettings.from_dict`, `RunRequest.from_dict`). The choice lists
and their titles below are the only copies in the code base; argparse choices, combo
boxes, figure titles and validation all read them.

`settings_diff` says which results a settings change invalidates, so the GUI recomputes
only those. Pure Python: importing this module is cheap and never imports Qt or torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ibviewer.errors import IBViewerError

__all__ = [
    "AnalysisSettings",
    "RunRequest",
    "settings_diff",
    "ESTIMATORS",
    "CONV_KERNELS",
    "WIDTH_RULES",
    "RANGE_MODES",
    "METHODS",
    "ALIGNMENTS",
    "PREPROCESSINGS",
    "METRICS",
    "COLOR_MODES",
    "SEQUENCE_POOLS",
    "FEATURE_MAPS",
    "RESULT_STAGES",
    "WORD_NEIGHBORS",
    "SCHEDULER_HELP",
    "choice_help",
    "parse_scheduler",
]

# name -> title shown in menus, legends and figure titles (dicts keep the order shown)
ESTIMATORS: dict[str, str] = {
    "binning": "Binning (fixed bins)",
    "adaptive": "Adaptive binning (equal mass)",
    "kde": "KDE (Gaussian noise)",
    "renyi": "Matrix-based Rényi (kernel Gram matrix)",
}
CONV_KERNELS: dict[str, str] = {
    "tensor": "one kernel over each C×H×W feature map (tensor kernel)",
    "channels": "one kernel per channel, multiplied (multivariate)",
}
WIDTH_RULES: dict[str, str] = {
    "median": "median distance between samples (× 0.35)",
    "silverman": "Silverman's rule (× 1)",
}
#: Binning's range: "auto" keeps the published [-1, 1] for layers inside it and takes the layer's own
#: [min, max] for layers that leave it (ReLU), so no value silently shares an end bin.
RANGE_MODES: dict[str, str] = {
    "auto": "[-1, 1] where the layer stays inside it, else the layer's [min, max]",
    "fixed": "a fixed range for every layer (default [-1, 1])",
    "layer": "each layer's [min, max]",
}
METHODS: dict[str, str] = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
ALIGNMENTS: dict[str, str] = {
    "init": "initialise from the previous panel",
    "procrustes": "independent, then rotated onto the previous panel",
    "aligned_umap": "AlignedUMAP (UMAP only)",
    "none": "none",
}
PREPROCESSINGS: dict[str, str] = {
    "none": "none",
    "center": "centre each unit",
    "standardize": "standardise each unit",
    "l2": "unit length per sample",
}
METRICS: dict[str, str] = {"euclidean": "Euclidean", "cosine": "cosine", "dot": "dot product"}
COLOR_MODES: dict[str, str] = {
    "label": "Label",
    "predicted": "Predicted class",
    "correct": "Correct prediction",
    "faithfulness": "Neighbourhood faithfulness (k-NN overlap)",
}
#: How a sequence output (batch, length, dim) becomes one vector per sample, for every layer of a
#: run; with an attention mask in the dataset only real tokens count ("mean over real tokens").
SEQUENCE_POOLS: dict[str, str] = {"mean": "mean over tokens", "last": "last token", "first": "first token"}
FEATURE_MAPS: dict[str, str] = {"flatten": "flatten", "gap": "global average pool"}
#: Synonyms per query word in the word experiment, by embedding dims (2D shows more words than 3D can).
WORD_NEIGHBORS: dict[int, int] = {2: 200, 3: 50}
#: What `settings_diff` may name: results that have to be computed again.
RESULT_STAGES = ("infoplane", "embeddings", "probes")


#: What a scheduler setting may be (``RunRequest.scheduler``, ``--scheduler``).
SCHEDULER_HELP = "local (a dask LocalCluster, one worker per core), local:N (N workers) or a running scheduler's address, tcp://host:port"
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def parse_scheduler(text: str) -> tuple[str, int | str | None]:
    """``("local", n_workers or None)`` or ``("address", "tcp://host:port")`` for a scheduler setting.

    Raises
    ------
    IBViewerError
        Neither ``local``, ``local:N`` nor ``scheme://host:port``.
    """
    if not isinstance(text, str) or not text.strip():
        raise IBViewerError(f"Scheduler {text!r}: give {SCHEDULER_HELP}.")
    text = text.strip()
    if text == "local":
        return "local", None
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise IBViewerError(f"Scheduler {text!r}: local:N needs a number of workers N >= 1, e.g. local:4.")
        return "local", int(count)
    scheme, sep, rest = text.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in _SCHEDULER_SCHEMES or not colon or not host or not port.isdigit():
        raise IBViewerError(f"Scheduler {text!r}: give {SCHEDULER_HELP}.")
    return "address", text


def choice_help(choices: dict[str, str]) -> str:
    """``"a (title), b (title)"`` for help texts."""
    return ", ".join(f"{name} ({title})" if title != name else name for name, title in choices.items())


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings behind every picture and every output file.

    Only the parameters of the chosen estimator and method matter for the results
    (``noise_var`` is ignored by binning, ``alpha`` by all but renyi, ``perplexity`` by
    UMAP); `settings_diff`
    knows this, so editing a hidden parameter recomputes nothing. ``seed`` seeds the
    embeddings and the probes' folds alike.
    """

    # information plane
    estimator: str = "binning"
    n_bins: int = 30
    bin_width: float | None = None  # when set, replaces n_bins (binning only)
    range_mode: str = "auto"
    bin_range: tuple[float, float] = (-1.0, 1.0)  # the fixed range (binning, range_mode "fixed")
    noise_var: float = 1e-3
    kde_band: bool = True  # draw the kde lower..upper band (display only)
    alpha: float = 2.0  # renyi: the order of the entropy
    width_rule: str = "median"  # renyi: the kernel width per layer and epoch ...
    width_factor: float | None = None  # ... times this (None: the rule's default, 0.35 / 1)
    kernel_width: float | None = None  # renyi: a fixed kernel width instead of the rule
    conv_kernel: str = "tensor"  # renyi: how feature maps get a kernel
    # embeddings
    method: str = "tsne"
    dims: int = 2
    perplexity: float = 30.0
    n_neighbors: int = 15
    seed: int = 0
    alignment: str = "init"
    preprocessing: str = "none"
    pca_dims: int | str | None = "auto"  # PCA before t-SNE/UMAP: D dims, "auto" (50 above 100 features), None
    max_points: int | None = None  # embed a seeded subset, place the rest afterwards
    # neighbours
    k: int = 10
    metric: str = "euclidean"
    # display
    color_by: str = "label"
    search: str = ""

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("estimator", self.estimator, ESTIMATORS),
            ("conv_kernel", self.conv_kernel, CONV_KERNELS),
            ("width_rule", self.width_rule, WIDTH_RULES),
            ("range_mode", self.range_mode, RANGE_MODES),
            ("method", self.method, METHODS),
            ("alignment", self.alignment, ALIGNMENTS),
            ("preprocessing", self.preprocessing, PREPROCESSINGS),
            ("metric", self.metric, METRICS),
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
        _check_number("alpha", self.alpha, 0.0, strict=True)
        if self.width_factor is not None:
            _check_number("width_factor", self.width_factor, 0.0, strict=True)
        if self.kernel_width is not None:
            _check_number("kernel_width", self.kernel_width, 0.0, strict=True)
        _check_number("k", self.k, 1, integer=True)
        if self.bin_width is not None:
            _check_number("bin_width", self.bin_width, 0.0, strict=True)
        if self.pca_dims not in (None, "auto"):
            _check_number("pca_dims", self.pca_dims, 2, integer=True)
        if self.max_points is not None:
            _check_number("max_points", self.max_points, 5, integer=True)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise IBViewerError(f"Setting seed={self.seed!r} must be an integer.")
        low_high = tuple(self.bin_range) if isinstance(self.bin_range, (list, tuple)) else ()
        if len(low_high) != 2:
            raise IBViewerError(f"Setting bin_range={self.bin_range!r} must be two numbers [low, high].")
        for value in low_high:
            _check_number("bin_range", value, -math.inf)
        if not low_high[0] < low_high[1]:
            raise IBViewerError(f"Setting bin_range={list(low_high)}: low must be below high.")
        object.__setattr__(self, "bin_range", (float(low_high[0]), float(low_high[1])))

    # -- what the core functions take ---------------------------------------------
    def estimator_params(self) -> dict[str, Any]:
        """Keyword arguments of ``compute_information_plane`` for the chosen estimator."""
        if self.estimator == "binning":
            size: dict[str, Any] = {"n_bins": self.n_bins} if self.bin_width is None else {"bin_width": self.bin_width}
            value_range: Any = self.bin_range if self.range_mode == "fixed" else self.range_mode
            return {**size, "value_range": value_range}
        if self.estimator == "adaptive":
            return {"n_bins": self.n_bins}
        if self.estimator == "renyi":
            width: dict[str, Any] = {"kernel_width": self.width_rule, "width_factor": self.width_factor}
            if self.kernel_width is not None:  # a fixed width replaces the rule and its factor
                width = {"kernel_width": self.kernel_width}
            return {"alpha": self.alpha, **width, "conv_kernel": self.conv_kernel}
        return {"noise_var": self.noise_var}

    def embedding_params(self, method: str | None = None) -> dict[str, Any]:
        """Keyword arguments of ``embed_layers`` besides the activations, epochs and progress.

        ``method`` overrides the chosen method (the GUI's instant PCA preview): parameters of
        other methods are dropped, and an alignment PCA cannot do becomes ``init``.
        """
        method = method or self.method
        alignment = self.alignment
        if alignment == "aligned_umap" and method != "umap":
            alignment = "init"
        params: dict[str, Any] = {
            "method": method,
            "dims": self.dims,
            "seed": self.seed,
            "alignment": alignment,
            "preprocessing": self.preprocessing,
            "pca_dims": self.pca_dims if method != "pca" else None,
            "max_points": self.max_points,
        }
        if method == "tsne":
            params["perplexity"] = self.perplexity
        elif method == "umap":
            params["n_neighbors"] = self.n_neighbors
        return params

    def describe_embedding(self) -> str:
        """``"t-SNE, perplexity 30, seed 0"``: how the embeddings were made, for titles."""
        parts = [METHODS[self.method]]
        if self.method == "tsne":
            parts.append(f"perplexity {self.perplexity:g}")
        elif self.method == "umap":
            parts.append(f"n_neighbors {self.n_neighbors}")
        parts.append(f"seed {self.seed}")
        return ", ".join(parts)

    # -- sessions ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bin_range"] = list(self.bin_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSettings:
        """Settings from `to_dict` output; unknown keys are an error, missing keys take defaults."""
        return _from_dict(cls, data, "analysis setting")

    def with_changes(self, **changes: Any) -> AnalysisSettings:
        return replace(self, **changes)


@dataclass(frozen=True)
class RunRequest:
    """Everything needed to open a run and extract its activations (the CLI's run options).

    ``sequence_pool`` (one of `SEQUENCE_POOLS`) is how every sequence output of the run is
    pooled into one vector per sample (over real tokens when the dataset has an attention
    mask); it is recorded with the activations and named in panel titles.
    ``trust_pickle`` (unpickle files, which runs code in them) and ``trust_factory``
    (import and call a model factory outside ``ibviewer.models``: the one named by
    ``model``, or the one the run folder names) are the user's consent. They are never
    stored in a session or the recent-runs list: reopening asks again.
    ``scheduler`` says where the work runs (None: in this process; see `parse_scheduler`); like
    the device and the cache it is a choice of the machine, not of the run, and is not stored either.
    """

    path: str
    model: str | None = None
    model_kwargs: dict[str, Any] | None = None
    dataset: str | None = None
    trust_pickle: bool = False
    trust_factory: bool = False
    layers: tuple[str, ...] | None = None
    device: str = "cpu"
    max_samples: int | None = None
    sequence_pool: str = "mean"
    feature_maps: str = "flatten"
    cache_dir: str | None = None
    use_cache: bool = True
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.scheduler is not None:
            parse_scheduler(self.scheduler)
        if not isinstance(self.path, str):
            raise IBViewerError(f"The run path must be text, got {type(self.path).__name__}.")
        if self.model_kwargs is not None and not isinstance(self.model_kwargs, dict):
            raise IBViewerError('Model keyword arguments must be a JSON object, e.g. {"sizes": [64, 10]}.')
        if self.layers is not None:
            if isinstance(self.layers, str) or not all(isinstance(name, str) and name for name in self.layers):
                raise IBViewerError(f"Layers must be a list of layer names, got {self.layers!r}.")
            object.__setattr__(self, "layers", tuple(self.layers))
        if self.max_samples is not None:
            _check_number("max_samples", self.max_samples, 2, integer=True)
        for name, value, choices in (
            ("sequence_pool", self.sequence_pool, SEQUENCE_POOLS),
            ("feature_maps", self.feature_maps, FEATURE_MAPS),
        ):
            if value not in choices:
                raise IBViewerError(f"Option {name}={value!r} is not one of {', '.join(choices)}.")

    #: the options a session or the recent-runs list keeps to reopen a run
    REOPEN_KEYS = ("path", "model", "model_kwargs", "dataset", "layers", "max_samples", "sequence_pool", "feature_maps")

    def to_dict(self) -> dict[str, Any]:
        """The options that reopen this run (no consent, no cache or device choices); None left out."""
        data = {key: getattr(self, key) for key in self.REOPEN_KEYS}
        if data["layers"] is not None:
            data["layers"] = list(data["layers"])
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        """A request from `to_dict` output (sessions, recent runs); unknown keys are an error.

        The request carries no consent: a factory it names outside ``ibviewer.models`` is
        refused with `FactoryConsentRequired` until the user confirms it.
        """
        return _from_dict(cls, data, "run option", allowed=set(cls.REOPEN_KEYS))

    def with_changes(self, **changes: Any) -> RunRequest:
        return replace(self, **changes)


def _from_dict(cls: type, data: Any, what: str, allowed: set[str] | None = None) -> Any:
    if not isinstance(data, dict):
        raise IBViewerError(f"The {what}s must be a JSON object, got {type(data).__name__}.")
    known = allowed if allowed is not None else {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise IBViewerError(f"Unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    try:
        return cls(**data)
    except TypeError as exc:
        raise IBViewerError(f"Malformed {what}s ({exc}).") from exc


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

    Returns a subset of ``{"infoplane", "embeddings", "probes", "neighbors"}``: the information
    plane when the estimator or its effective parameters change; the embeddings when the
    method, its effective parameters, dims, seed, alignment, preprocessing or subsampling
    change; the probes when the seed changes (it seeds their folds); the neighbours when
    ``k`` or the metric change. Display-only settings (colouring, search, the kde band) and
    parameters the chosen estimator or method ignores recompute nothing. ``old=None``
    (nothing computed yet) needs everything.
    """
    if old is None:
        return {*RESULT_STAGES, "neighbors"}
    stages: set[str] = set()
    if (old.estimator, old.estimator_params()) != (new.estimator, new.estimator_params()):
        stages.add("infoplane")
    if old.embedding_params() != new.embedding_params():
        stages.add("embeddings")
    if old.seed != new.seed:
        stages.add("probes")
    if (old.k, old.metric) != (new.k, new.metric):
        stages.add("neighbors")
    return stages
