"""The command line's help and -v (issue 15): every option explained, the desktop app's flags in ``ibviewer --help``."""

from __future__ import annotations

import argparse

import pytest

from ibviewer import cli


def _help(capsys, argv) -> str:
    with pytest.raises(SystemExit):
        cli.main(argv)
    return capsys.readouterr().out


def test_top_level_help_lists_the_desktop_apps_own_flags(capsys):
    text = _help(capsys, ["--help"])
    for flag in ("--screenshot", "--select", "--epoch", "--session", "--method", "--estimator", "-v, --verbose"):
        assert flag in text, flag


@pytest.mark.parametrize("command", ["analyze", "gui"])
def test_every_option_has_a_help_text(command):
    parser = cli._build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    missing = [a.option_strings or [a.dest] for a in sub._actions if not a.help]
    assert missing == []
    text = sub.format_help()
    for flag in ("--method", "--dims", "--seed", "--alignment", "--preprocessing", "--metric", "--estimator"):
        assert flag in text


@pytest.mark.parametrize("argv", [["-v", "info", "RUN"], ["info", "-v", "RUN"], ["-v", "RUN"], ["RUN", "-v"], ["gui", "-v", "RUN"]])
def test_verbose_works_before_and_after_the_subcommand_and_for_the_gui(argv, monkeypatch):
    seen = {}

    def fake(args):
        seen["verbose"] = args.verbose
        return 0

    monkeypatch.setattr(cli, "_run_gui", fake)
    monkeypatch.setattr("ibviewer.commands.info.run", fake, raising=False)
    parser = cli._build_parser
    monkeypatch.setattr(cli, "_build_parser", lambda: _with_info(parser(), fake))
    assert cli.main(argv) == 0
    assert seen["verbose"] is True


def _with_info(parser, fake):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["info"].set_defaults(func=fake)
    return parser
