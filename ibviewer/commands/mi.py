"""`ibviewer mi FILE.npz`: I(X;T) and I(T;Y) of one representation stored as arrays `t` and `y`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ibviewer.commands.options import add_estimator_arguments, settings_from_args


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mi",
        parents=parents,
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


def run(args: argparse.Namespace) -> int:
    from ibviewer.core.information import describe_estimator, mutual_information

    settings = settings_from_args(args)
    t, y = load_representation(Path(args.file))
    result = mutual_information(t, y, settings.estimator, **settings.estimator_params())
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


def load_representation(path: Path) -> tuple[Any, Any]:
    """Arrays ``t`` and ``y`` from a .npz archive (no pickles).

    Raises
    ------
    DatasetError
        Missing or unreadable file, or an archive without ``t`` and ``y``.
    """
    from ibviewer.core.safe_read import load_npz, open_regular
    from ibviewer.errors import DatasetError

    hint = "Save one with numpy.savez(path, t=activations, y=labels)."
    if not path.exists():
        raise DatasetError(f"{path} does not exist. {hint}")
    with open_regular(path, DatasetError, "activations file") as handle:
        if handle.read(6) == b"\x93NUMPY":
            raise DatasetError(f"{path} holds a single array, not an archive with 't' and 'y'. {hint}")
    try:
        arrays = load_npz(path, DatasetError, what="activations file")
    except DatasetError as exc:
        raise DatasetError(f"Could not read {path} as a .npz archive ({exc}) {hint}") from exc
    missing = [key for key in ("t", "y") if key not in arrays]
    if missing:
        raise DatasetError(
            f"{path} has no array {' or '.join(map(repr, missing))} (it holds: {', '.join(arrays) or 'nothing'}). {hint}"
        )
    return arrays["t"], arrays["y"]
