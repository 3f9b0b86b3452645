"""`ibviewer mi FILE.npz`: I(X;T) and I(T;Y) of one representation stored as arrays `t` and `y`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ESTIMATOR_NAMES = ("binning", "adaptive", "kde")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mi",
        help="I(X;T) and I(T;Y) in bits of one representation (a .npz archive with t and y)",
        description=(
            "Estimate I(X;T) and I(T;Y), in bits, of one representation: FILE.npz holds 't' "
            "(n_samples x n_units activations) and 'y' (n_samples class labels); each row of t is "
            "taken as a distinct input. Save one with numpy.savez('rep.npz', t=t, y=y)."
        ),
    )
    parser.add_argument("file", metavar="FILE.npz", help="archive holding arrays 't' and 'y'")
    add_estimator_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(func=run)


def add_estimator_arguments(parser: argparse.ArgumentParser, jobs: bool = False) -> None:
    """The estimator options (shared with commands that compute a whole plane; ``jobs`` adds --jobs).

    Pair with :func:`check_estimator_options` so options that do not fit the estimator are errors.
    """
    group = parser.add_argument_group("information estimator")
    # no argparse choices: an unknown name then fails with a one-line message (exit code 2)
    group.add_argument(
        "--estimator", default="binning", metavar="{binning,adaptive,kde}", help="estimator (default binning)"
    )
    group.add_argument("--bins", type=int, default=None, metavar="N", help="number of bins (binning: edges; default 30)")
    group.add_argument("--bin-width", type=float, default=None, metavar="W", help="bin width instead of --bins (binning)")
    ranges = group.add_mutually_exclusive_group()
    ranges.add_argument("--range", type=float, nargs=2, metavar=("LO", "HI"), help="binning range (default -1 1)")
    ranges.add_argument(
        "--range-per-layer", action="store_true", help="bin each layer over its own min..max (binning; ReLU layers)"
    )
    group.add_argument("--noise-var", type=float, default=None, metavar="V", help="kde noise variance (default 1e-3)")
    if jobs:
        group.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel joblib workers over (epoch, layer) cells")


def run(args: argparse.Namespace) -> int:
    from ibviewer.commands.analyze import estimator_params
    from ibviewer.core.information import describe_estimator, mutual_information

    check_estimator_options(args)
    t, y = load_representation(Path(args.file))
    result = mutual_information(t, y, args.estimator, **estimator_params(args))
    if args.json:
        print(json.dumps(result))
        return 0
    n_classes = len(set(y.tolist()))
    print(f"{args.file}: {t.shape[0]} samples x {t.shape[1]} units, {n_classes} classes")
    print(f"estimator  {describe_estimator(result['estimator'], result['params'])}")
    if "i_xt_lower" in result:
        print(_bounds_line("I(X;T)", result["i_xt_lower"], result["i_xt_upper"], "log2(N)", result["log2_n"]))
        print(_bounds_line("I(T;Y)", result["i_ty_lower"], result["i_ty_upper"], "H(Y)", result["h_y"]))
    else:
        print(f"I(X;T) = {result['i_xt']:.6f} bits   (ceiling log2(N) = {result['log2_n']:.6f})")
        print(f"I(T;Y) = {result['i_ty']:.6f} bits   (ceiling H(Y) = {result['h_y']:.6f})")
    return 0


def _bounds_line(name: str, lower: float, upper: float, ceiling_name: str, ceiling: float) -> str:
    return (
        f"{name} = {lower:.6f} .. {upper:.6f} bits   (Bhattacharyya lower .. KL upper bound; "
        f"ceiling {ceiling_name} = {ceiling:.6f})"
    )


def check_estimator_options(args: argparse.Namespace) -> None:
    """Options that do not apply to the chosen estimator are errors, not silently ignored."""
    from ibviewer.errors import EstimatorError

    if args.estimator not in ESTIMATOR_NAMES:
        raise EstimatorError(f"Unknown estimator {args.estimator!r}. Choose one of: {', '.join(ESTIMATOR_NAMES)}.")
    applies = {
        "--bins": (args.bins is not None, ("binning", "adaptive")),
        "--bin-width": (args.bin_width is not None, ("binning",)),
        "--range": (args.range is not None, ("binning",)),
        "--range-per-layer": (args.range_per_layer, ("binning",)),
        "--noise-var": (args.noise_var is not None, ("kde",)),
    }
    for option, (given, estimators) in applies.items():
        if given and args.estimator not in estimators:
            raise EstimatorError(
                f"{option} does not apply to --estimator {args.estimator}; it is for {' or '.join(estimators)}."
            )


def load_representation(path: Path) -> tuple[Any, Any]:
    """Arrays ``t`` and ``y`` from a .npz archive (no pickles).

    Raises
    ------
    DatasetError
        Missing or unreadable file, or an archive without ``t`` and ``y``.
    """
    import zipfile

    import numpy as np

    from ibviewer.errors import DatasetError

    hint = "Save one with numpy.savez(path, t=activations, y=labels)."
    if not path.is_file():
        raise DatasetError(f"{path} does not exist or is not a file. {hint}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"Could not read {path} as a .npz archive ({exc}). {hint}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path} holds a single array, not an archive with 't' and 'y'. {hint}")
    with archive:
        missing = [key for key in ("t", "y") if key not in archive.files]
        if missing:
            raise DatasetError(
                f"{path} has no array {' or '.join(map(repr, missing))} (it holds: {', '.join(archive.files) or 'nothing'}). "
                f"{hint}"
            )
        try:
            return archive["t"], archive["y"]
        except ValueError as exc:  # object arrays need pickles, which are refused
            raise DatasetError(f"Could not read t and y from {path} ({exc}). Store plain numeric arrays. {hint}") from exc
