"""One way to write a command (issue 24): every command is registered by its module's
``add_commands`` with ``set_defaults(func=run)``, every ``run`` is ``run(args, ctx) -> int``, the
CLI imports only the module of the command it runs, and the process environment is read in one
module (``commands/cli.py``), handed to commands in the context."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import COMMANDS, _subparsers, build_parser, requested_command
from tests.conftest import ROOT

# Where qualisys_infra may read the process environment, and why.
ENVIRONMENT_READERS = {
    "qualisys_infra/commands/cli.py": "the CLI's entry: reads it once, into the context",
    "qualisys_infra/pytest_plugin.py": "pytest's entry, not the CLI's: its fixtures run in the test process",
    "qualisys_infra/gates/security.py": "hands the whole environment on to the checkov process unread",
}
# Packages the seed image (dev/seed.Dockerfile) does not install: `dev seed` must not import them.
NOT_IN_THE_SEED_IMAGE = ("requests", "yaml", "hcl2", "lark", "jinja2", "cdktn", "constructs", "jsii", "kubernetes")


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("module_name", sorted(set(COMMANDS.values())))
def test_every_command_module_registers_and_runs_the_same_way(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert callable(getattr(module, "add_commands", None)), f"{module_name} has no add_commands"
    assert callable(getattr(module, "run", None)), f"{module_name} has no run"
    assert list(inspect.signature(module.run).parameters) == ["args", "ctx"], module_name
    assert not hasattr(module, "main"), f"{module_name}: no module-level main() besides the CLI's"


def test_only_the_cli_is_an_entry_point_among_the_command_modules() -> None:
    """`python -m qualisys_infra ...` is the way in; a command module run on its own (the seed
    image's old `python -m qualisys_infra.commands.dev`) would skip the context and the errors'
    handling. (gates/parser.py and gates/schema/index.py keep a private entry: the subprocess
    workers the synth and the schema gate start, not commands.)"""
    entries = [
        path.name
        for path in sorted((ROOT / "qualisys_infra" / "commands").glob("*.py"))
        if '__name__ == "__main__"' in path.read_text(encoding="utf-8")
    ]
    assert entries == ["cli.py"]


def test_every_command_of_the_parser_runs_its_modules_run() -> None:
    parser = build_parser()
    commands = _commands(parser)
    assert list(commands) == list(COMMANDS), "--help lists the commands in the table's order"
    for name, command in commands.items():
        assert command.get_default("func") is importlib.import_module(COMMANDS[name]).run, name


def test_a_named_command_builds_only_its_own_parser() -> None:
    assert list(_commands(build_parser("tenants"))) == ["tenants"]
    assert list(_commands(build_parser("review"))) == ["plan", "review", "deploy", "bootstrap"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dev", "seed"], "dev"),
        (["--project-dir", "synth", "--quiet", "scan", "--json"], "scan"),  # the folder may be named like a command
        (["--project-dir=x", "tenants", "list"], "tenants"),
        (["--help"], None),
        (["-h", "synth"], None),
        ([], None),
        (["synht"], None),  # a typo: the full parser, so argparse lists every choice
    ],
)
def test_the_requested_command_is_found_before_parsing(argv: list[str], expected: str | None) -> None:
    assert requested_command(argv) == expected


def test_dev_seed_loads_none_of_the_packages_the_seed_image_lacks() -> None:
    program = (
        "import sys\n"
        "from qualisys_infra.commands.cli import build_parser, requested_command\n"
        "argv = ['dev', 'seed', '--database-url', 'postgresql://postgres@127.0.0.1/x']\n"
        "args = build_parser(requested_command(argv)).parse_args(argv)\n"
        "assert args.func.__module__ == 'qualisys_infra.commands.dev'\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(NOT_IN_THE_SEED_IMAGE)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    # and the check can fail: the full parser (every command) loads some of them
    full = program.replace("build_parser(requested_command(argv))", "build_parser()")
    done = subprocess.run([sys.executable, "-c", full], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() != "[]"


def environment_reads(root: Path) -> list[str]:
    """Every ``os.environ``/``os.getenv`` (and ``from os import environ, getenv``) under
    ``root/qualisys_infra``, as ``path:line``."""
    found = []
    for path in sorted((root / "qualisys_infra").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in {"environ", "environb", "getenv", "getenvb"} for a in node.names)
            ):
                found.append(f"{where}:{node.lineno}")
    return found


def test_the_environment_is_read_only_where_allowed() -> None:
    readers = {place.split(":")[0] for place in environment_reads(ROOT)}
    assert sorted(readers - set(ENVIRONMENT_READERS)) == []
    assert "qualisys_infra/commands/cli.py" in readers


@pytest.mark.parametrize(
    "source",
    [
        "import os\nTODAY = os.environ.get('QUALISYS_TODAY')\n",
        "import os\ndef f():\n    return os.getenv('HOME')\n",
        "from os import environ\n",
    ],
)
def test_fails_if_a_module_reads_the_environment(tmp_path: Path, source: str) -> None:
    planted = tmp_path / "qualisys_infra" / "delivery" / "x.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(source, encoding="utf-8")
    assert [p.split(":")[0] for p in environment_reads(tmp_path)] == ["qualisys_infra/delivery/x.py"]


def test_every_parser_gets_the_global_options() -> None:
    for child in _subparsers(build_parser()):
        options = {option for action in child._actions for option in action.option_strings}
        assert {"--project-dir", "--quiet"} <= options, child.prog
