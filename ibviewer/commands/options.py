"""The command line's options and the ONE mapping from them to `RunRequest` and `AnalysisSettings`.

Every subcommand (and the GUI launcher in ``ibviewer.cli``) adds the groups it needs and
turns the parsed arguments into the core's settings objects with `run_request_from_args`
and `settings_from_args`; no command reads an analysis option any other way. Choices and
their titles come from `ibviewer.core.config`. Options left out take the settings'
defaults, so the command line, the GUI and the Python API default to the same values.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from ibviewer.core.config import (
    ALIGNMENTS,
    CONV_KERNELS,
    WIDTH_RULES,
    ESTIMATORS,
    FEATURE_MAPS,
    METHODS,
    METRICS,
    PREPROCESSINGS,
    SCHEDULER_HELP,
    SEQUENCE_POOLS,
    AnalysisSettings,
    RunRequest,
    choice_help,
)
from ibviewer.errors import EstimatorError, IBViewerError

__all__ = [
    "add_run_arguments",
    "options_for_settings",
    "add_estimator_arguments",
    "add_embedding_arguments",
    "add_neighbor_arguments",
    "add_output_arguments",
    "add_scheduler_argument",
    "run_request_from_args",
    "settings_from_args",
    "parse_model_kwargs",
]

_DEFAULTS = AnalysisSettings()


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of every command that opens a run (the GUI launcher takes the same)."""
    group = parser.add_argument_group("opening a run")
    group.add_argument(
        "--model",
        metavar="MODULE:CALLABLE",
        help="factory returning the nn.Module for plain checkpoints; MODULE is importable or a path to a .py file",
    )
    group.add_argument("--model-kwargs", metavar="JSON", default=None, help="keyword arguments for the model factory, as JSON")
    group.add_argument("--dataset", metavar="SPEC", help="digits, ib12, a .npz file (x, y, ...) or MNIST idx images")
    group.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading checkpoints and .pt2 programs that need full unpickling (runs code from the file: only for files you trust)",
    )
    group.add_argument(
        "--trust-factory",
        action="store_true",
        help="allow the model factory a run folder names to be imported and called when it is not one of "
        "ibviewer.models (runs code from the folder: only for runs you trust; --model counts as consent to its factory)",
    )
    group.add_argument("--device", default="cpu", help="torch device for extraction: cpu, cuda, cuda:1 (default cpu)")
    group.add_argument("--layers", metavar="NAMES", default=None, help="comma-separated layer names to capture (default: hidden layers)")
    group.add_argument("--max-samples", type=int, default=None, metavar="N", help="capture a seeded subset of N samples")
    group.add_argument("--cache-dir", default=None, metavar="DIR", help="where extracted activations are cached")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the activation cache")
    group.add_argument(
        "--sequence-pool", choices=tuple(SEQUENCE_POOLS), default="mean",
        help=f"how sequence outputs become one vector per sample: {choice_help(SEQUENCE_POOLS)}; "
        "over real tokens only when the dataset has an attention_mask (default mean)",
    )  # fmt: skip
    group.add_argument(
        "--feature-maps", choices=tuple(FEATURE_MAPS), default="flatten",
        help="how convolutional feature maps are turned into vectors (flatten or global-average-pool)",
    )  # fmt: skip


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a command writes its files: ``--out DIR`` and ``--overwrite``."""
    group = parser.add_argument_group("output")
    group.add_argument(
        "--out", required=True, metavar="DIR",
        help="output folder (created); outputs of an earlier analysis there are replaced, stale ones removed",
    )  # fmt: skip
    group.add_argument(
        "--overwrite", action="store_true", help="replace files in --out that ibviewer did not write (refused otherwise)"
    )
def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """``--scheduler``: where the per-checkpoint tasks run (``RunRequest.scheduler``; default this process)."""
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help=f"run the work as dask tasks: {SCHEDULER_HELP} (needs pip install 'ibviewer[dask]'; docs/scale.md)",
    )  # fmt: skip


def add_estimator_arguments(parser: argparse.ArgumentParser, jobs: bool = False) -> None:
    """The information estimator's options (``jobs`` adds --jobs for commands computing a whole plane)."""
    group = parser.add_argument_group("information estimator")
    # no argparse choices: an unknown name then fails with a one-line message (exit code 2)
    group.add_argument(
        "--estimator", default=None, metavar="{" + ",".join(ESTIMATORS) + "}",
        help=f"estimator: {choice_help(ESTIMATORS)} (default {_DEFAULTS.estimator})",
    )  # fmt: skip
    group.add_argument("--bins", type=int, default=None, metavar="N", help=f"number of bins (binning, adaptive; default {_DEFAULTS.n_bins})")
    group.add_argument("--bin-width", type=float, default=None, metavar="W", help="bin width instead of --bins (binning)")
    ranges = group.add_mutually_exclusive_group()
    low, high = _DEFAULTS.bin_range
    ranges.add_argument(
        "--range", type=float, nargs=2, metavar=("LO", "HI"),
        help=f"binning: one fixed range for every layer (default: {low:g} {high:g} for layers inside it, "
        "each layer's own min..max for layers that leave it)",
    )  # fmt: skip
    ranges.add_argument("--range-per-layer", action="store_true", help="bin each layer over its own min..max (binning)")
    group.add_argument("--noise-var", type=float, default=None, metavar="V", help=f"kde noise variance (default {_DEFAULTS.noise_var:g})")
    group.add_argument("--alpha", type=float, default=None, metavar="A", help=f"renyi: order of the entropy (default {_DEFAULTS.alpha:g}; 2 needs no eigendecomposition)")
    group.add_argument(
        "--width-rule", choices=tuple(WIDTH_RULES), default=None,
        help=f"renyi: kernel width per layer and epoch: {choice_help(WIDTH_RULES)} (default {_DEFAULTS.width_rule})",
    )  # fmt: skip
    group.add_argument("--width-factor", type=float, default=None, metavar="G", help="renyi: the multiple of the width rule (default 0.35 for median, 1 for silverman)")
    group.add_argument(
        "--kernel-width", type=float, default=None, metavar="W",
        help="renyi: a fixed kernel width for every layer and the inputs, in their units (instead of a rule)",
    )  # fmt: skip
    group.add_argument(
        "--conv-kernel", choices=tuple(CONV_KERNELS), default=None,
        help=f"renyi, feature maps: {choice_help(CONV_KERNELS)} (default {_DEFAULTS.conv_kernel})",
    )  # fmt: skip
    if jobs:
        group.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel joblib workers over (epoch, layer) cells")


def add_embedding_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-layer embedding options."""
    group = parser.add_argument_group("embeddings")
    group.add_argument("--method", choices=tuple(METHODS), default=None, help=f"{choice_help(METHODS)} (default {_DEFAULTS.method})")
    group.add_argument("--dims", type=int, choices=(2, 3), default=None, help="2D or 3D embeddings (default 2)")
    group.add_argument("--seed", type=int, default=None, help="seed of the embeddings and of the probes' folds (default 0)")
    group.add_argument("--perplexity", type=float, default=None, help=f"t-SNE perplexity (default {_DEFAULTS.perplexity:g})")
    group.add_argument("--n-neighbors", type=int, default=None, help=f"UMAP n_neighbors (default {_DEFAULTS.n_neighbors})")
    group.add_argument(
        "--alignment", choices=tuple(ALIGNMENTS), default=None,
        help=f"how panels are aligned across layers and epochs: {choice_help(ALIGNMENTS)} (default {_DEFAULTS.alignment})",
    )  # fmt: skip
    group.add_argument(
        "--preprocessing", choices=tuple(PREPROCESSINGS), default=None,
        help=f"applied to each layer before embedding: {choice_help(PREPROCESSINGS)} (default none)",
    )  # fmt: skip
    group.add_argument(
        "--pca-dims", type=_pca_dims, default=None, metavar="D",
        help="PCA to D dimensions before t-SNE/UMAP; auto (the default: 50 for layers wider than 100) or none",
    )  # fmt: skip
    group.add_argument("--max-points", type=int, default=None, help="embed a seeded subset, place the rest afterwards")


def _pca_dims(text: str) -> int | str | None:
    """``--pca-dims``: a number, ``auto`` or ``none``."""
    if text.lower() in ("auto", "none"):
        return "auto" if text.lower() == "auto" else "none"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of dimensions, auto or none") from None


def add_neighbor_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the neighbour look-up."""
    group = parser.add_argument_group("neighbours")
    group.add_argument("--k", type=int, default=None, help=f"neighbours per layer (default {_DEFAULTS.k})")
    group.add_argument("--metric", choices=tuple(METRICS), default=None, help=f"{choice_help(METRICS)} (default euclidean)")


def parse_model_kwargs(text: str | None) -> dict | None:
    """The ``--model-kwargs`` JSON object as a dict (None when not given)."""
    if not text:
        return None
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IBViewerError(f"--model-kwargs is not valid JSON ({exc}).") from exc
    if not isinstance(kwargs, dict):
        raise IBViewerError('--model-kwargs must be a JSON object, e.g. {"sizes": [64, 10]}.')
    return kwargs


def run_request_from_args(args: argparse.Namespace, path: str | None = None) -> RunRequest:
    """The run request of the parsed run options (`add_run_arguments`, `add_scheduler_argument`).

    ``path`` replaces ``args.path`` (a command taking several runs makes one request each);
    ``args.path`` may be empty for the GUI.
    """
    layers = tuple(name.strip() for name in args.layers.split(",") if name.strip()) if args.layers else None
    return RunRequest(
        path=path if path is not None else (args.path or ""),
        model=args.model,
        model_kwargs=parse_model_kwargs(args.model_kwargs),
        dataset=args.dataset,
        trust_pickle=bool(args.trust_pickle),
        trust_factory=bool(args.trust_factory or args.model),  # naming a factory is consenting to it
        layers=layers,
        device=args.device,
        max_samples=args.max_samples,
        sequence_pool=args.sequence_pool,
        feature_maps=args.feature_maps,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        scheduler=getattr(args, "scheduler", None),
    )


# option -> (settings field, estimators it applies to)
_ESTIMATOR_OPTIONS = {
    "bins": ("--bins", "n_bins", ("binning", "adaptive")),
    "bin_width": ("--bin-width", "bin_width", ("binning",)),
    "range": ("--range", "bin_range", ("binning",)),
    "noise_var": ("--noise-var", "noise_var", ("kde",)),
    "alpha": ("--alpha", "alpha", ("renyi",)),
    "width_rule": ("--width-rule", "width_rule", ("renyi",)),
    "width_factor": ("--width-factor", "width_factor", ("renyi",)),
    "kernel_width": ("--kernel-width", "kernel_width", ("renyi",)),
    "conv_kernel": ("--conv-kernel", "conv_kernel", ("renyi",)),
}
_PLAIN_OPTIONS = {
    "method": "method", "dims": "dims", "seed": "seed", "perplexity": "perplexity", "n_neighbors": "n_neighbors",
    "alignment": "alignment", "preprocessing": "preprocessing", "pca_dims": "pca_dims", "max_points": "max_points",
    "k": "k", "metric": "metric",
}  # fmt: skip


def settings_from_args(args: argparse.Namespace) -> AnalysisSettings:
    """The analysis settings of the parsed options; options not given keep the defaults.

    Raises
    ------
    EstimatorError
        An unknown estimator, or an option that does not apply to the chosen estimator
        (``--bins`` with kde, ...): refused rather than silently ignored.
    IBViewerError
        A value the settings refuse (``--perplexity 0``, ``--k 0``, ...), named in the message.
    """
    changes: dict[str, Any] = {}
    estimator = getattr(args, "estimator", None)
    if estimator is not None:
        if estimator not in ESTIMATORS:
            raise EstimatorError(f"Unknown estimator {estimator!r}. Choose one of: {', '.join(ESTIMATORS)}.")
        changes["estimator"] = estimator
    chosen = changes.get("estimator", _DEFAULTS.estimator)
    if getattr(args, "bins", None) is not None and getattr(args, "bin_width", None) is not None:
        raise EstimatorError("Give either --bins or --bin-width, not both: a bin width fixes the number of bins.")
    rule_given = getattr(args, "width_rule", None) is not None or getattr(args, "width_factor", None) is not None
    if getattr(args, "kernel_width", None) is not None and rule_given:
        raise EstimatorError("Give either --kernel-width or --width-rule/--width-factor, not both: a fixed width replaces the rule.")
    for attr, (option, field, estimators) in _ESTIMATOR_OPTIONS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if chosen not in estimators:
            raise EstimatorError(f"{option} does not apply to --estimator {chosen}; it is for {' or '.join(estimators)}.")
        changes[field] = tuple(value) if attr == "range" else value
        if attr == "range":
            changes["range_mode"] = "fixed"
    if getattr(args, "range_per_layer", False):
        if chosen != "binning":
            raise EstimatorError(f"--range-per-layer does not apply to --estimator {chosen}; it is for binning.")
        changes["range_mode"] = "layer"
    for attr, field in _PLAIN_OPTIONS.items():
        value = getattr(args, attr, None)
        if value is not None:
            changes[field] = None if value == "none" else value  # "none" is the only way to say None
    try:
        return AnalysisSettings(**changes)
    except IBViewerError as exc:
        raise IBViewerError(_in_option_words(str(exc))) from exc


_FIELD_OPTIONS = {
    **{field: option for option, field, _ in _ESTIMATOR_OPTIONS.values()},
    **{field: "--" + attr.replace("_", "-") for attr, field in _PLAIN_OPTIONS.items()},
}


def _in_option_words(message: str) -> str:
    """``"Setting perplexity=0 must be >= 1."`` -> ``"--perplexity 0 must be >= 1."``."""
    prefix = "Setting "
    if message.startswith(prefix):
        field, sep, rest = message[len(prefix):].partition("=")
        if sep and field in _FIELD_OPTIONS:
            return f"{_FIELD_OPTIONS[field]} {rest}"
    return message


def options_for_settings(changes: Mapping[str, Any]) -> list[str]:
    """The command-line options that make a settings change (for advice printed by the CLI).

    ``{"estimator": "renyi"}`` -> ``["--estimator renyi"]``; the bin range mode has its own words.
    """
    words = {"layer": "--range-per-layer", "auto": "leave out --range", "fixed": "--range LO HI"}
    return [
        words.get(str(value), str(value)) if name == "range_mode" else f"--{name.replace('_', '-')} {value}"
        for name, value in changes.items()
    ]
