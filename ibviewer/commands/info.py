"""`ibviewer info PATH`: what a run holds (epochs, layers, dataset, parameters)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ibviewer.commands.options import add_run_arguments, run_request_from_args


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("info", parents=parents, help="describe a run: epochs, layers, dataset, parameter count")
    parser.add_argument("path", help="run folder, checkpoint, training output folder, .pt2 program or activations archive")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    parser.add_argument(
        "--survey", action="store_true",
        help="only say what PATH holds and what opening it still needs (loads no weights, needs no --model/--dataset)",
    )  # fmt: skip
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

    if args.survey:
        return _survey(args)
    opened = open_request(run_request_from_args(args))
    summary = opened.summary()
    if args.json:
        print(json.dumps(_strict_json(summary), allow_nan=False))  # json escapes control characters itself
        return 0
    for line in describe(summary):  # names come from files: never let them drive the terminal
        print(printable(line))
    return 0


def _survey(args: argparse.Namespace) -> int:
    import dataclasses

    from ibviewer.core.naming import printable
    from ibviewer.core.run import survey

    found = survey(args.path)
    if args.json:
        data = dataclasses.asdict(found)
        print(json.dumps(_strict_json(data), default=str, allow_nan=False))
    else:
        for line in found.lines():
            print(printable(line))
    return 0 if found.opens else 2


def describe(summary: dict[str, Any]) -> list[str]:
    """The lines ``ibviewer info`` prints for a run summary (`Run.summary`)."""
    lines = [f"{summary['name']}  ({summary['kind']}: {summary['path']})"]
    if summary["model"]:
        kwargs = json.dumps(summary["model_kwargs"]) if summary["model_kwargs"] else ""
        kwargs = kwargs if len(kwargs) <= 100 else kwargs[:96] + " ..."
        lines.append(f"model      {summary['model']} {kwargs}".rstrip())
    if summary["n_parameters"] is not None:
        lines.append(f"parameters {summary['n_parameters']:,}")
    epochs = summary["epochs"]
    shown = ", ".join(map(str, epochs)) if len(epochs) <= 12 else f"{epochs[0]}, {epochs[1]}, ... {epochs[-1]}"
    unit = " (numbered by training step)" if summary.get("epoch_unit") == "step" else ""
    lines.append(f"epochs     {len(epochs)}: {shown}{unit}")
    if summary.get("metrics"):
        names = sorted({name for metrics in summary["metrics"].values() for name in metrics})
        lines.append(f"metrics    {', '.join(names)}")
    if summary.get("hparams"):
        lines.append("hparams    " + ", ".join(f"{k}={v}" for k, v in summary["hparams"].items()))
    data = summary["dataset"]
    if data:
        mask = ", attention mask" if data.get("has_attention_mask") else ""
        lines.append(
            f"dataset    {data['name']}: {data['n_samples']} samples, {data['kind']}, "
            f"input {tuple(data['input_shape'])} {data['input_dtype']}, {data['n_classes']} classes{mask}"
        )
    lines.append("layers     (* = captured by default)")
    rows = [
        ("*" if layer["default"] else " ", layer["name"], layer["module"] + layer.get("output", ""),
         str(tuple(layer["shape"])), str(layer["dim"]))
        for layer in summary["layers"]
    ]  # fmt: skip
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(5)]
    for mark, name, module, shape, dim in rows:
        lines.append(
            f"  {mark} {name:<{widths[1]}}  {module:<{widths[2]}}  shape {shape:<{widths[3]}}  dim {dim:>{widths[4]}}"
        )
    return lines
