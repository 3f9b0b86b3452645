"""`ibviewer info PATH`: what a run holds (epochs, layers, dataset, parameters)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ibviewer.commands.options import add_run_arguments, run_request_from_args


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("info", parents=parents, help="describe a run: epochs, layers, dataset, parameter count")
    parser.add_argument("path", help="run folder, checkpoint, .pt2 program or activations archive")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    parser.set_defaults(func=run)


def _strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as None: ``--json`` prints standard JSON (null, never NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    return value


def run(args: argparse.Namespace) -> int:
    from ibviewer.core.naming import printable
    from ibviewer.core.pipeline import open_request

    opened = open_request(run_request_from_args(args))
    summary = opened.summary()
    if args.json:
        print(json.dumps(_strict_json(summary), allow_nan=False))  # json escapes control characters itself
        return 0

    def say(line: str) -> None:  # names come from files: never let them drive the terminal
        print(printable(line))

    say(f"{summary['name']}  ({summary['kind']}: {summary['path']})")
    if summary["model"]:
        say(f"model      {summary['model']} {summary['model_kwargs'] or ''}".rstrip())
    if summary["n_parameters"] is not None:
        say(f"parameters {summary['n_parameters']:,}")
    epochs = summary["epochs"]
    shown = ", ".join(map(str, epochs)) if len(epochs) <= 12 else f"{epochs[0]}, {epochs[1]}, ... {epochs[-1]}"
    say(f"epochs     {len(epochs)}: {shown}")
    data = summary["dataset"]
    if data:
        say(
            f"dataset    {data['name']}: {data['n_samples']} samples, {data['kind']}, "
            f"input {tuple(data['input_shape'])} {data['input_dtype']}, {data['n_classes']} classes"
        )
    say("layers     (* = captured by default)")
    width = max((len(layer["name"]) for layer in summary["layers"]), default=4)
    for layer in summary["layers"]:
        mark = "*" if layer["default"] else " "
        say(f"  {mark} {layer['name']:<{width}}  {layer['module']:<12} shape {tuple(layer['shape'])!s:<14} dim {layer['dim']}")
    return 0
