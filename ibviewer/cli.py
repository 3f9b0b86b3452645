"""The `ibviewer` command line: headless subcommands, and the GUI launcher.

`ibviewer [PATH] [options]` opens the desktop app; `ibviewer COMMAND ...` runs a
headless command (see ``ibviewer --help``). Each command lives in
``ibviewer/commands/<name>.py`` with ``register(subparsers)`` adding its parser
and setting ``func`` to a function ``(args) -> int``; heavy imports happen inside
that function so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
import warnings
from collections.abc import Sequence

from ibviewer import __version__
from ibviewer.errors import Cancelled, IBViewerError

# command name -> module in ibviewer.commands
COMMANDS: dict[str, str] = {
    "info": "info",
    "mi": "mi",
    "analyze": "analyze",
    "train-sample": "train_sample",
}

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every command that opens a run shares (same names as the GUI launcher)."""
    group = parser.add_argument_group("opening a run")
    group.add_argument(
        "--model",
        metavar="MODULE:CALLABLE",
        help="factory returning the nn.Module for plain checkpoints; MODULE is importable or a path to a .py file",
    )
    group.add_argument(
        "--model-kwargs", metavar="JSON", default=None, help="keyword arguments for the model factory, as JSON"
    )
    group.add_argument("--dataset", metavar="SPEC", help="digits, ib12, a .npz file (x, y, ...) or MNIST idx images")
    group.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading checkpoints that need full unpickling (runs code from the file: only for files you trust)",
    )
    group.add_argument("--device", default="cpu", help="torch device for extraction: cpu, cuda, cuda:1 (default cpu)")
    group.add_argument(
        "--layers", metavar="NAMES", default=None, help="comma-separated layer names to capture (default: hidden layers)"
    )
    group.add_argument(
        "--max-samples", type=int, default=None, metavar="N", help="capture a seeded subset of N samples"
    )
    group.add_argument("--cache-dir", default=None, metavar="DIR", help="where extracted activations are cached")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the activation cache")
    group.add_argument(
        "--sequence-pool", choices=("mean", "last"), default="mean", help="how sequence outputs are pooled"
    )
    group.add_argument(
        "--feature-maps",
        choices=("flatten", "gap"),
        default="flatten",
        help="how convolutional feature maps are turned into vectors (flatten or global-average-pool)",
    )


def parse_model_kwargs(text: str | None) -> dict | None:
    """The ``--model-kwargs`` JSON object as a dict (None when not given)."""
    import json

    if not text:
        return None
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IBViewerError(f"--model-kwargs is not valid JSON ({exc}).") from exc
    if not isinstance(kwargs, dict):
        raise IBViewerError('--model-kwargs must be a JSON object, e.g. {"sizes": [64, 10]}.')
    return kwargs


def open_run_from_args(args: argparse.Namespace):  # -> ibviewer.core.run.Run
    """Open the run named by ``args.path`` with the shared run options."""
    from ibviewer.core.run import open_run

    return open_run(
        args.path,
        model=args.model,
        dataset=args.dataset,
        trust_pickle=args.trust_pickle,
        model_kwargs=parse_model_kwargs(args.model_kwargs),
    )


def extract_from_args(run, args: argparse.Namespace, progress):  # -> ActivationSet
    """Extract activations for ``run`` honouring the shared options."""
    from ibviewer.core.activations import ExtractOptions

    layers = [name.strip() for name in args.layers.split(",")] if args.layers else None
    options = ExtractOptions(
        layers=tuple(layers) if layers else None,
        device=args.device,
        max_samples=args.max_samples,
        sequence_pool=args.sequence_pool,
        feature_maps=args.feature_maps,
    )
    return run.activations(options, progress=progress, cache_dir=args.cache_dir, use_cache=not args.no_cache)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibviewer",
        description=(
            "Look inside trained neural networks: information planes, per-layer embeddings, "
            "neighbours and layer probes. Without a command, opens the desktop app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ibviewer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        if importlib.util.find_spec(f"ibviewer.commands.{module_name}") is None:
            continue  # a command whose module is not installed (partial checkouts)
        module = importlib.import_module(f"ibviewer.commands.{module_name}")
        module.register(subparsers)
    gui = subparsers.add_parser("gui", help="open the desktop app (the default without a command)")
    _add_gui_arguments(gui)
    return parser


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="run folder, checkpoint, .pt2 program or activations archive")
    add_run_arguments(parser)
    parser.add_argument("--screenshot", metavar="OUT.png", help="compute, save the window as PNG and exit")
    parser.add_argument("--epoch", type=int, default=None, help="epoch to show")
    parser.add_argument("--select", type=int, default=None, metavar="INDEX", help="sample to select")
    parser.add_argument("--dims", type=int, choices=(2, 3), default=2, help="embedding dimensions")
    parser.add_argument("--method", choices=("pca", "tsne", "umap"), default=None, help="embedding method")
    parser.add_argument("--estimator", choices=("binning", "adaptive", "kde"), default=None)
    parser.add_argument("--session", metavar="FILE", default=None, help="reopen a saved session")
    parser.set_defaults(func=_run_gui)


def _run_gui(args: argparse.Namespace) -> int:
    from ibviewer.gui.app import run_app  # imports Qt: only here

    return run_app(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top_level = {"-h", "--help", "--version"}
    if not argv or (argv[0] not in COMMANDS and argv[0] != "gui" and argv[0] not in top_level):
        argv = ["gui", *argv]
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except IBViewerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USER_ERROR
        except Cancelled:
            print("cancelled", file=sys.stderr)
            return EXIT_CANCELLED
        except BrokenPipeError:  # output piped into `head`: not an error
            sys.stderr.close()
            return 0
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_CANCELLED


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
