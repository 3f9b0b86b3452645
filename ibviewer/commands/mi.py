"""`ibviewer mi FILE.npz`: I(X;T) and I(T;Y) of one representation stored as arrays `t` and `y`
(and optionally the inputs `x`, the X of the renyi estimator's I(X;T))."""

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
        help="I(X;T) and I(T;Y) in bits of one representation (a .npz archive with t and y, optionally x)",
        description=(
            "Estimate I(X;T) and I(T;Y), in bits, of one representation: FILE.npz holds 't' "
            "(n_samples x n_units activations) and 'y' (n_samples class labels); each row of t is "
            "taken as a distinct input. With --estimator renyi an array 'x' (the inputs, one row per "
            "sample) is the X of I(X;T); without it I(X;T) is S(T), and the output says which. "
            "Save one with numpy.savez('rep.npz', t=t, y=y) or numpy.savez('rep.npz', t=t, y=y, x=x)."
        ),
    )
    parser.add_argument("file", metavar="FILE.npz", help="archive holding arrays 't' and 'y' (and optionally 'x')")
    add_estimator_arguments(parser)
    parser.add_argument(
        "--device", default=None,
        help="torch device of the kde and renyi estimators: cpu, cuda, cuda:1 (default: cuda when available)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ibviewer.core.information import ESTIMATORS, describe_estimator, mutual_information
    from ibviewer.errors import EstimatorError

    settings = settings_from_args(args)
    cls = ESTIMATORS[settings.estimator]
    params = settings.estimator_params()
    if args.device is not None:
        if "device" not in cls.runtime_params:
            raise EstimatorError(f"--device does not apply to --estimator {settings.estimator}; it is for kde or renyi.")
        params["device"] = args.device
    t, y, x = load_representation(Path(args.file))
    result = mutual_information(t, y, settings.estimator, x=x if cls.uses_inputs else None, **params)
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
    if cls.uses_inputs:
        if result["x_variable"] == "input":
            print(f"X          the inputs 'x' of the file (S(X) = {result['entropy_x']:.6f} bits)")
        else:
            print("X          the sample itself (no 'x' in the file): I(X;T) = S(T)")
        if "kernel" in result:
            print(f"kernel     {result['kernel']}, width {result['kernel_width']:.6g}")
    return 0


def _bounds_line(name: str, lower: float, upper: float, ceiling_name: str, ceiling: float) -> str:
    return (
        f"{name} = {lower:.6f} .. {upper:.6f} bits   (Bhattacharyya lower .. KL upper bound; "
        f"ceiling {ceiling_name} = {ceiling:.6f})"
    )


def load_representation(path: Path) -> tuple[Any, Any, Any]:
    """Arrays ``t``, ``y`` and ``x`` (None when the archive has none) from a .npz archive (no pickles).

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
    return arrays["t"], arrays["y"], arrays.get("x")
