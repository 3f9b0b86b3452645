"""`ibviewer info PATH`: what a run holds (epochs, layers, dataset, parameters)."""

from __future__ import annotations

import argparse
import json


from ibviewer.commands.options import add_run_arguments, run_request_from_args


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("info", parents=parents, help="describe a run: epochs, layers, dataset, parameter count")
    parser.add_argument("path", help="run folder, checkpoint, .pt2 program or activations archive")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ibviewer.core.pipeline import open_request

    opened = open_request(run_request_from_args(args))
    summary = opened.summary()
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{summary['name']}  ({summary['kind']}: {summary['path']})")
    if summary["model"]:
        print(f"model      {summary['model']} {summary['model_kwargs'] or ''}".rstrip())
    if summary["n_parameters"] is not None:
        print(f"parameters {summary['n_parameters']:,}")
    epochs = summary["epochs"]
    shown = ", ".join(map(str, epochs)) if len(epochs) <= 12 else f"{epochs[0]}, {epochs[1]}, ... {epochs[-1]}"
    print(f"epochs     {len(epochs)}: {shown}")
    data = summary["dataset"]
    if data:
        print(
            f"dataset    {data['name']}: {data['n_samples']} samples, {data['kind']}, "
            f"input {tuple(data['input_shape'])} {data['input_dtype']}, {data['n_classes']} classes"
        )
    print("layers     (* = captured by default)")
    width = max((len(layer["name"]) for layer in summary["layers"]), default=4)
    for layer in summary["layers"]:
        mark = "*" if layer["default"] else " "
        print(f"  {mark} {layer['name']:<{width}}  {layer['module']:<12} shape {tuple(layer['shape'])!s:<14} dim {layer['dim']}")
    return 0
