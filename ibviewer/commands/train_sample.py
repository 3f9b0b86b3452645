"""`ibviewer train-sample NAME --out DIR`: retrain a bundled sample run from scratch."""

from __future__ import annotations

import argparse

from ibviewer.samples import SAMPLES


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    lines = "\n".join(f"  {info.name:12s} {info.description}" for info in SAMPLES.values())
    parser = subparsers.add_parser(
        "train-sample",
        parents=parents,
        help="retrain a bundled sample run from scratch (reproducible, seeded)",
        description=(
            "Train one of the bundled sample runs from scratch into DIR, with the settings of its model card, "
            "and write its model card with the measured results.\n\nsamples:\n" + lines
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", choices=sorted(SAMPLES), help="which sample: " + ", ".join(SAMPLES))
    parser.add_argument(
        "--out", required=True, metavar="DIR",
        help="new or empty folder for the run (an earlier run of the same sample there is replaced)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None, metavar="N", help="training epochs (default: the sample's)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ibviewer.core.progress import TextProgress
    from ibviewer.samples import train_sample

    path = train_sample(args.name, args.out, epochs=args.epochs, seed=args.seed, progress=TextProgress())
    manifest = json.loads((path / "run.json").read_text(encoding="utf-8"))
    last = manifest["epochs"][-1]
    metrics = ", ".join(f"{key} {value:.4g}" for key, value in (last.get("metrics") or {}).items())
    print(f"wrote {args.name} to {path}: {len(manifest['epochs'])} snapshots, last epoch {last['epoch']}")
    if metrics:
        print(f"  {metrics}")
    print(f"  model card: {path / 'README.md'}; open it with: ibviewer {path}")
    return 0
