"""The CLI is declared from its commands: every command and flag the README shows is one a
command declares, each command is declared once, and the terminal is handed back as it was
found on every way out of a command."""

from __future__ import annotations

import argparse
import re
import signal

import pytest
from conftest import REPO

from spark_video.cli import build_parser, main
from spark_video.cli.command import COMMANDS
from spark_video.cli.terminal import terminal_kept


def subparsers(ap: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_each_command_is_declared_once_and_the_parser_has_them_all():
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names)), names
    assert list(subparsers(build_parser())) == names
    assert names[:2] == ["episode", "gate"] and {"import", "cast", "set", "prop"} <= set(names)


def test_every_command_and_flag_the_readme_shows_is_declared():
    parsers = subparsers(build_parser())
    text = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"spark-video ([a-z]+)((?: +(?:\[?--?[a-z][\w-]*|[^\s`|#]+))*)", text)
    checked = 0
    for name, rest in shown:
        if name not in parsers:
            continue  # prose ("spark-video writes the script")
        flags = {o for a in parsers[name]._actions for o in a.option_strings}
        for flag in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rest):
            assert flag in flags, f"README shows `spark-video {name} ... {flag}`, not declared"
            checked += 1
    assert checked >= 20  # the README shows many flags; a broken pattern would check none


def test_a_usage_error_is_exit_2_and_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["status", "-p", "demo", "-e", "001"]) == 2
    assert "run spark-video from your spark-video folder" in capsys.readouterr().err


def test_the_terminal_and_the_signals_are_handed_back_on_every_exit():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    with pytest.raises(KeyboardInterrupt), terminal_kept():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
        signal.raise_signal(signal.SIGTERM)  # stops the command the way Ctrl-C does
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
