"""``qualisys-infra``: the command line. Only this module (and ``main.py``) reads the environment;
commands get it, with the project folder and progress, from one :class:`Context`.

Exit codes: 0 success; 2 bad input (a tfvars file, a plan file, an argument); 1 a failure of the
engine or a blocking finding; 3-7 the Terraform stage that failed (init, plan, show, apply,
state migration).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import os
import re
import signal
import sys
import textwrap
import threading
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.commands import sigterm
from qualisys_infra.commands.context import Context
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.masking import mask_text

# Every command and the module that registers it (``add_commands``, which sets ``func`` to the
# module's ``run(args, ctx) -> int``), in the order `--help` lists them. A module is imported only
# when its command runs (or for the full list in `--help`), so a command needs only its own
# packages: the seed image runs `python -m qualisys_infra dev seed` with psycopg, redis and faker.
COMMANDS: dict[str, str] = {
    "synth": "qualisys_infra.commands.synth",
    "scan": "qualisys_infra.commands.scan",
    "plan": "qualisys_infra.commands.plan",
    "review": "qualisys_infra.commands.plan",
    "deploy": "qualisys_infra.commands.plan",
    "bootstrap": "qualisys_infra.commands.plan",
    "release": "qualisys_infra.commands.release",
    "tenants": "qualisys_infra.commands.tenants",
    "testdb": "qualisys_infra.commands.testdb",
    "dev": "qualisys_infra.commands.dev",
    "check-schema": "qualisys_infra.commands.schema",
    "charts": "qualisys_infra.commands.charts",
    "outdated": "qualisys_infra.commands.outdated",
    "comment": "qualisys_infra.commands.comment",
    "report": "qualisys_infra.commands.report",
    "test-pool": "qualisys_infra.commands.testpool",
    "signoff": "qualisys_infra.commands.signoff",
    "cost": "qualisys_infra.commands.cost",
    "environments": "qualisys_infra.commands.environments",
    "reference": "qualisys_infra.commands.reference",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser: with ``command``, only that command's module is imported and registered;
    without, every command (what `--help` and the generated CLI reference show)."""
    parser = argparse.ArgumentParser(
        prog="qualisys-infra",
        description="Synthesize and check the QUALISYS AWS platform (CDK Terrain -> Terraform JSON).",
        epilog=EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the toolkit's and the pinned engine's versions")
    _global_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in wanted:
        importlib.import_module(name).add_commands(sub)
    for child in _subparsers(parser):
        child.formatter_class = HelpFormatter
        known = {option for action in child._actions for option in action.option_strings}
        if "--quiet" not in known:
            _global_options(child, defaults=False)
    return parser


def requested_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, if it names a known one before any ``-h``/``--help``; ``None``
    means build every command's parser (the full `--help`, or argparse's list of choices)."""
    takes_value = {"--project-dir"}
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in ("-h", "--help", "--version"):
            return None
        elif token in takes_value:
            skip = True
        elif not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


EXIT_CODES = (
    "Exit codes: 0 ok; 1 a blocking finding or an engine failure; 2 bad input; 3-7 Terraform failed at "
    "init, plan, show, apply or state migration; 130/143 interrupted; 141 the output's reader went away."
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, plus ``(default: X)`` after any option whose default means something and
    whose help does not say it already. Descriptions keep their shape, in their order: paragraphs
    are filled; a list item (``1.``, ``2)``, ``-`` or ``*`` at a line's start) is filled on its own
    with its continuation lines (indented deeper) under its text; other indented lines (examples)
    are kept as written; a docstring's double backticks and roles (``:mod:`x```) show as `x`."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        plain = _ROLE.sub(r"`\g<name>`", text.replace("``", "`"))  # :mod:`~a.b` -> `a.b`
        return "\n\n".join(
            "\n".join(self._fill_block(block, width, indent) for block in _blocks(paragraph))
            for paragraph in plain.strip("\n").split("\n\n")
        )

    def _fill_block(self, block: _Block, width: int, indent: str) -> str:
        if block.kind == "example":
            return indent + block.lines[0]
        words = " ".join(" ".join(line.split()) for line in block.lines)
        if block.kind == "text":  # never broken at a hyphen: --project-dir, dev-network stay whole
            return textwrap.fill(words, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)
        hanging = indent + " " * (block.indent + len(block.marker) + 1)
        first = indent + " " * block.indent + block.marker + " "
        return textwrap.fill(words, width, initial_indent=first, subsequent_indent=hanging, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = default not in (None, False, [], (), argparse.SUPPRESS) and action.option_strings
        if shown and "default" not in text and not isinstance(action, argparse._VersionAction):
            text += f" (default: {default})"
        return text


_ROLE = re.compile(r":[a-z]+:`~?(?P<name>[^`]+)`")
_ITEM = re.compile(r"(?P<indent> *)(?P<marker>[-*]|\d+[.)]) +(?P<text>\S.*)")


@dataclass
class _Block:
    """A run of a description's lines shown together: ``text`` (filled), one list ``item``
    (filled under its marker), or one ``example`` line (kept as written)."""

    kind: str
    lines: list[str]
    indent: int = 0
    marker: str = ""


def _blocks(paragraph: str) -> list[_Block]:
    blocks: list[_Block] = []
    for line in paragraph.splitlines():
        current = blocks[-1] if blocks else None
        item = _ITEM.fullmatch(line)
        if item:
            blocks.append(_Block("item", [item["text"]], len(item["indent"]), item["marker"]))
        elif current and current.kind == "item" and line.startswith(" " * (current.indent + 1)) and line.strip():
            current.lines.append(line)  # the item's continuation, indented under it
        elif line.startswith("  "):
            blocks.append(_Block("example", [line]))
        elif current and current.kind == "text":
            current.lines.append(line)
        else:
            blocks.append(_Block("text", [line]))
    return blocks


class _Version(argparse.Action):
    """``--version`` on one line (argparse's own action wraps it at the terminal width)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``qualisys-infra 0.1.0 (cdktn 0.24.0, cdktn-provider-aws 25.8.1, ...)``: the pinned engine too."""
    parts = []
    for package in ("cdktn", "cdktn-provider-aws", "cdktn-provider-kubernetes", "cdktn-provider-helm"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{package} {importlib.metadata.version(package)}")
    try:
        own = importlib.metadata.version("qualisys-infra")
    except importlib.metadata.PackageNotFoundError:
        own = "(not installed)"
    return f"qualisys-infra {own} ({', '.join(parts)})"


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``--project-dir`` and ``--quiet``, accepted before or after the command: on a command's
    parser they default to ``SUPPRESS``, so a value given earlier is not overwritten."""
    parser.add_argument(
        "--project-dir",
        type=Path,
        metavar="DIR",
        default=Path.cwd() if defaults else argparse.SUPPRESS,
        help="project folder holding environments/ (default: the current folder)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="no progress lines on stderr",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser below ``parser``, nested ones (``tenants create``) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def main(argv: Sequence[str] | None = None, environ: MutableMapping[str, str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it). The only reader of the
    process environment in qualisys_infra: commands get it from the context."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(requested_command(argv)).parse_args(argv)
    except ToolkitError as exc:  # a type= function refused a value with the toolkit's own message
        _print_error(exc)
        return exc.exit_code
    ctx = Context(
        project=args.project_dir.resolve(), environ=os.environ if environ is None else environ, quiet=args.quiet
    )
    handles_signals = threading.current_thread() is threading.main_thread()
    # SIGTERM raises Interrupted here, and ends the process anyway within a second (sigterm.py).
    wakeup = sigterm.install() if handles_signals else None
    try:
        code: int = args.func(args, ctx)
        return code
    except ToolkitError as exc:
        _print_error(exc)
        return exc.exit_code
    except BrokenPipeError:
        # `qualisys-infra environments --json | head`: the reader left; say nothing more to it.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, sigterm.Interrupted) else signal.SIGINT
        print(f"error: interrupted ({signal.Signals(signum).name}); previous output left untouched", file=sys.stderr)
        sigterm.reported()
        return 128 + signum
    finally:
        if handles_signals:  # the work is done or undone; a late SIGTERM ends the process plainly
            sigterm.uninstall(wakeup)


def _print_error(exc: ToolkitError) -> None:
    # Masking by default: a URL that reached a message unmasked still shows no password or token.
    for line in exc.lines():
        print(f"error: {mask_text(line, pairs=False)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
