"""The `ibviewer` command line: headless subcommands, and the GUI launcher.

`ibviewer [PATH] [options]` opens the desktop app; `ibviewer COMMAND ...` runs a
headless command (see ``ibviewer --help``). Each command lives in
``ibviewer/commands/<name>.py`` with ``register(subparsers, parents)`` adding its
parser and setting ``func`` to a function ``(args) -> int``; heavy imports happen
inside that function so ``--help`` stays fast. Options become the core's settings
objects in one place, ``ibviewer/commands/options.py``. This module imports
``ibviewer.gui`` only to launch the window.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import textwrap
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


def _common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes too, so ``ibviewer info -v RUN`` works like ``ibviewer -v info RUN``."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand that was not given -v keeps the top-level value instead of resetting it
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log diagnostics to stderr")
    return common


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibviewer",
        description=(
            "Look inside trained neural networks: information planes, per-layer embeddings, "
            "neighbours and layer probes. Without a command, opens the desktop app "
            "(`ibviewer [PATH] [options]`, the options of `ibviewer gui --help`)."
        ),
        formatter_class=_TopLevelHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ibviewer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log diagnostics to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [_common_options()]
    for module_name in COMMANDS.values():
        module = importlib.import_module(f"ibviewer.commands.{module_name}")
        module.register(subparsers, common)
    gui = subparsers.add_parser("gui", parents=common, help="open the desktop app (the default without a command)")
    _add_gui_arguments(gui)
    parser.epilog = _gui_epilog(gui)
    return parser


class _TopLevelHelpFormatter(argparse.HelpFormatter):
    """Wraps the description as usual but keeps the epilog (the desktop app's options, already formatted) as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(_GUI_EPILOG_HEAD):
            return text
        return super()._fill_text(text, width, indent)


_GUI_EPILOG_HEAD = "desktop app"


def _gui_epilog(gui: argparse.ArgumentParser) -> str:
    """The GUI's own options for ``ibviewer --help`` (the window group in full, the others by name)."""
    formatter = gui._get_formatter()
    others: list[str] = []
    for group in gui._action_groups:
        actions = [a for a in group._group_actions if a.option_strings and a.dest not in ("help", "verbose")]
        if group.title == "window":
            formatter.start_section(f"{_GUI_EPILOG_HEAD} (ibviewer [PATH] [options]; all of them: ibviewer gui --help)")
            formatter.add_arguments(actions)
            formatter.end_section()
        else:
            others += [a.option_strings[-1] for a in actions]
    text = formatter.format_help().rstrip()
    wrapped = textwrap.fill("also: " + ", ".join(others), width=78, initial_indent="  ", subsequent_indent="    ",
                            break_on_hyphens=False, break_long_words=False)
    return f"{text}\n{wrapped}\n"


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    from ibviewer.commands.options import (
        add_embedding_arguments,
        add_estimator_arguments,
        add_neighbor_arguments,
        add_run_arguments,
        add_scheduler_argument,
    )

    parser.add_argument("path", nargs="?", help="run folder, checkpoint, .pt2 program or activations archive")
    add_run_arguments(parser)
    add_scheduler_argument(parser)
    add_estimator_arguments(parser)
    add_embedding_arguments(parser)
    add_neighbor_arguments(parser)
    group = parser.add_argument_group("window")
    group.add_argument("--screenshot", metavar="OUT.png", help="compute, save the window as PNG and exit")
    group.add_argument("--epoch", type=int, default=None, help="saved epoch to show (default: the last)")
    group.add_argument("--select", type=int, default=None, metavar="INDEX",
                       help="dataset index of the sample to click: its neighbours are listed and highlighted")
    group.add_argument("--session", metavar="FILE", default=None, help="reopen a saved session")
    parser.set_defaults(func=_run_gui)


def _run_gui(args: argparse.Namespace) -> int:
    from ibviewer.commands.options import run_request_from_args, settings_from_args

    request = run_request_from_args(args)
    settings = settings_from_args(args)
    from ibviewer.gui.app import LaunchOptions, run_app  # imports Qt: only here

    launch = LaunchOptions(screenshot=args.screenshot, epoch=args.epoch, select=args.select, session=args.session)
    return run_app(request, settings, launch)


def gui_main(argv: Sequence[str] | None = None) -> int:
    """The ``ibviewer-gui`` entry point: the same options as ``ibviewer [PATH]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return main(["gui", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top_level = {"-h", "--help", "--version"}
    first = next((arg for arg in argv if arg not in ("-v", "--verbose")), None)
    if first is None or (first not in COMMANDS and first != "gui" and first not in top_level):
        position = argv.index(first) if first is not None else len(argv)
        argv = [*argv[:position], "gui", *argv[position:]]
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ibviewer").setLevel(level)  # also when a host (a test runner) configured logging first
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except IBViewerError as exc:
            print(f"error: {printable(exc)}", file=sys.stderr)
            return EXIT_USER_ERROR
        except MemoryError:
            print(
                "error: ran out of memory. Use --max-samples N or fewer --layers, or a machine with more memory.",
                file=sys.stderr,
            )
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
    print(f"warning: {printable(message)}", file=sys.stderr)


def printable(text: object) -> str:
    """Text from files shown on the terminal with control characters escaped (see ibviewer.core.naming)."""
    from ibviewer.core.naming import printable as escape  # numpy: imported only when there is something to say

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
