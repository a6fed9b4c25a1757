"""The command registry: every package's commands, found by name and loaded only when run.

Each package lists its commands in a module that imports nothing but strings
(`releases.commandline`, ...) and registers them through `add_command`; pipeline
lists those modules and dispatches. Listing the commands must cost nothing:
`--help` and every command's start-up would otherwise import every package's
implementation. Errors and exit codes are pipeline's (`pipeline.exit_code`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from releases.errors import UsageRefused

Handler = Callable[[Any, argparse.Namespace], int | None]  # the app: each package's own Protocol
Setup = Callable[[argparse.ArgumentParser], None]


@dataclass(eq=False)
class Command:
    """A subcommand. Handler and setup may be "module:function" references, imported only when run.

    Listing the commands must cost nothing: `--help` and every command's start-up would
    otherwise import every package's implementation (issue 8, start-up at most 2x
    `import rich`). Commands are found by name, never compared, so no __eq__ is generated
    (dataclass() compiles each method it writes, on every start).
    """

    name: str
    help: str
    handler: Handler | str | None  # None: a group, which shows its subcommands
    setup: Setup | str | None = None
    json: bool = False  # takes --json: JSON on stdout for scripts, and nothing else
    children: list[Command] = field(default_factory=list)


def resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    import importlib

    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _run_handler(app: Any, args: argparse.Namespace) -> int | None:
    handler: Handler = resolve(args.handler_ref)
    return handler(app, args)


COMMANDS: list[Command] = []


def add_command(name: str, help: str, handler: Handler | str | None = None, setup: Setup | str | None = None,
                parent: str | None = None, *, json: bool = False) -> None:
    """Register a subcommand; `parent` nests it (`config check`, `notes show`); without a handler it
    is a group (`orgs`, `notice`) that shows its subcommands; `json` gives it the --json option."""
    cmd = Command(name, help, handler, setup, json)
    if parent is None:
        COMMANDS.append(cmd)
    else:
        next(c for c in COMMANDS if c.name == parent).children.append(cmd)


def command(name: str, help: str, setup: Setup | None = None,
            parent: str | None = None, *, json: bool = False) -> Callable[[Handler], Handler]:
    """Decorator form of add_command for the commands that live here."""

    def register(handler: Handler) -> Handler:
        add_command(name, help, handler, setup, parent, json=json)
        return handler

    return register


_REGISTERED: list[str] = []  # the command modules whose commands are in COMMANDS, a prefix of them


def _package_commands(modules: Sequence[str], wanted: str | None = None) -> None:
    """Let each package add its commands after pipeline's own, in `modules` order, once each.

    Given the command named on the command line, stop at the package that lists it: `status`
    then imports neither the notify, channels and notes packages nor their lists, and starts
    as fast as a release manager glancing at it expects (issue 8). A later call loads the rest
    after it, so COMMANDS ends in the same order whichever command came first.
    """
    import importlib

    for module in modules[len(_REGISTERED):]:
        if wanted is not None and any(c.name == wanted for c in COMMANDS):
            return
        importlib.import_module(module).register(add_command)
        _REGISTERED.append(module)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageRefused(f"{self.prog}: {message}", hint=f"see {self.prog} --help")


class _Version(argparse.Action):
    """--version, read from the installed distribution only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        from importlib.metadata import version

        print(f"quarterdeck {version('quarterdeck')}")
        parser.exit()


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (None: none, so only the list is needed)."""
    tokens = iter(argv)
    for token in tokens:
        if token == "--config":
            next(tokens, None)
        elif token == "--":
            return next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def build_parser(modules: Sequence[str], group_help: Handler,
                 argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of pipeline's commands and then each of `modules`' (a package's list of commands,
    a module that imports nothing but strings); given the command line, only the chosen command's
    arguments are set up. A group run without its subcommand is answered by `group_help`."""
    chosen = _chosen(argv) if argv is not None else None
    _package_commands(modules, chosen)
    parser = _Parser(prog="quarterdeck",
                     description="Release pipeline: immutable builds, tiered promotion, "
                                 "release notes and install notices.")
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (default: $QUARTERDECK_CONFIG, else ./quarterdeck.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # A known command needs no sibling: the list of commands is shown only without one (--help) or
    # after a misspelt one. Building every sibling's parser would make each command pay at
    # start-up for argparse looking up translations of help it never shows (BENCHMARKS.md).
    alone = argv is not None and any(cmd.name == chosen for cmd in COMMANDS)
    for cmd in COMMANDS:
        if alone and cmd.name != chosen:
            continue
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        if argv is not None and cmd.name != chosen:
            continue  # argparse only ever parses the chosen command's arguments
        _set_up(p, cmd, group_help)
        if cmd.children:
            children = p.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
            for child in cmd.children:
                _set_up(children.add_parser(child.name, help=child.help, description=child.help), child,
                        group_help)
        p.set_defaults(parser=p)
    return parser


def _set_up(p: argparse.ArgumentParser, cmd: Command, group_help: Handler) -> None:
    if cmd.setup is not None:
        resolve(cmd.setup)(p)
    if cmd.json:
        p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")
    p.set_defaults(handler=_run_handler, handler_ref=cmd.handler or group_help)
