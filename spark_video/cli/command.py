"""A command is declared once, beside its body: its name, help, arguments and the function
that runs it. The parser is built from these declarations (`build_parser` in __init__.py),
so a command's flags are read where the command is."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Arg:
    """One `add_argument` call: its flags (or positional name) and options."""

    flags: tuple[str, ...]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OneOf:
    """Arguments of which at most one may be given (a mutually exclusive group)."""

    args: tuple[Arg, ...]


def arg(*flags: str, **options) -> Arg:
    return Arg(flags, options)


def one_of(*args: Arg) -> OneOf:
    return OneOf(args)


# the episode every episode command works on: positional (episode) or options (the rest)
EPISODE = (arg("project", help="project folder name under projects/, e.g. demo"),
           arg("episode", help="episode number, e.g. 001"))
EPISODE_OPTIONS = (
    arg("--project", "-p", help="project folder name under projects/ "
        "(default: SPARK_VIDEO_PROJECT or the config's project)"),
    arg("--episode", "-e", help="episode number, e.g. 001 (default: "
        "SPARK_VIDEO_EPISODE or the config's episode)"))
VERBOSE = arg("--verbose", "-v", action="store_true",
              help="show Snakemake's own output instead of the progress view")


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    args: tuple[Arg | OneOf, ...] = ()
    description: str | None = None
    defaults: dict = field(default_factory=dict)

    def add_to(self, sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
        extra = {"description": self.description} if self.description else {}
        p = sub.add_parser(self.name, help=self.help, **extra)
        for a in self.args:
            if isinstance(a, OneOf):
                group = p.add_mutually_exclusive_group()
                for x in a.args:
                    group.add_argument(*x.flags, **x.options)
            else:
                p.add_argument(*a.flags, **a.options)
        p.set_defaults(fn=self.run, **self.defaults)
        return p


COMMANDS: list[Command] = []  # in the order the modules declare them (the help's order)


def command(name: str, *, help: str, args: tuple[Arg | OneOf, ...] = (),  # noqa: A002
            description: str | None = None, **defaults) -> Callable:
    """Declare the decorated function as the command `name` (stack it to declare several
    commands with one body, as cast/set/prop do)."""
    def declare(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS.append(Command(name, fn, help, tuple(args), description, defaults))
        return fn
    return declare
