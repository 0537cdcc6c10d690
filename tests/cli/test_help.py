"""Help for people: every option documented, the CLI reference page equal to --help, global
options anywhere, a version, and a hint when run from the wrong folder."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import HelpFormatter, _subparsers, build_parser, main, version_text
from qualisys_infra.commands.options import environment_choices
from qualisys_infra.commands.reference import render_cli
from qualisys_infra.config import resolve_environment_names
from tests.conftest import ROOT


def test_the_cli_reference_page_is_the_help_of_every_command() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert page == render_cli(build_parser()), "docs/reference/cli.md is out of date: run `make docs`"


def _all_parsers() -> list[argparse.ArgumentParser]:
    top = build_parser()
    return [top, *_subparsers(top)]


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{parser.prog} {action.option_strings or action.dest}"
        for parser in _all_parsers()
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not (action.help or "").strip()
    ]
    assert missing == []


def test_help_texts_are_plain_words() -> None:
    for parser in _all_parsers():
        text = parser.format_help()
        assert "``" not in text, f"{parser.prog}: raw reStructuredText in --help"
        assert "see above" not in text, f"{parser.prog}: --help points at nothing"
        assert not re.search(r"\(default: (None|False|\[\])\)", text), parser.prog


def _shape_problems(description: str, shown: str) -> list[str]:
    """What a description lost in ``shown``: its words out of order, or a list item that does not
    start a line under its marker."""
    plain = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", description.replace("``", "`"))
    problems = [] if plain.split() == shown.split() else ["the words are not all there, in order"]
    starts = {line.strip() for line in shown.splitlines()}
    for line in plain.splitlines():
        item = re.fullmatch(r" *((?:[-*]|\d+[.)]) +\S+).*", line)
        if item and not any(start.startswith(item[1]) for start in starts):
            problems.append(f"the item {item[1]!r} does not start a line")
    return problems


def test_descriptions_keep_their_paragraphs_lists_and_order() -> None:
    """`release --help` ran the continuation lines of steps 1-7 together after step 5: every
    command's description keeps its words in order and each list item on its own line."""
    checked = 0
    for parser in _all_parsers():
        if parser.description:
            shown = HelpFormatter(parser.prog, width=100)._fill_text(parser.description, 80, "")
            assert _shape_problems(parser.description, shown) == [], parser.prog
            checked += 1
    assert checked > 20
    release = next(p for p in _all_parsers() if p.prog.endswith(" release")).format_help()
    steps = [line[:2] for line in release.splitlines() if re.match(r"\d\. ", line)]
    assert steps == ["1.", "2.", "3.", "4.", "5.", "6.", "7."]
    lines = release.splitlines()
    after_one = lines[lines.index(next(line for line in lines if line.startswith("1. "))) + 1]
    assert after_one.startswith("   ") and after_one.strip(), "step 1 goes on under its own text"


def test_fails_if_a_formatter_moves_indented_lines_to_the_end_of_their_paragraph() -> None:
    """The check above on the formatter this replaced: it put every indented line last."""
    description = "1. first step, whose text\n   goes on here;\n2. second step."
    head = [line for line in description.splitlines() if not line.startswith("  ")]
    moved = "\n".join([" ".join(head), *[line for line in description.splitlines() if line.startswith("  ")]])
    assert _shape_problems(description, moved) == [
        "the words are not all there, in order",
        "the item '2. second' does not start a line",
    ]
    assert _shape_problems(description, HelpFormatter("x")._fill_text(description, 80, "")) == []


def _env_help_problems(parser: argparse.ArgumentParser) -> list[str]:
    """A repeatable --env (resolved with `all`) whose help does not say what it accepts in the words
    of options.environment_choices, or a single --env whose help offers `all`."""
    problems = []
    for action in parser._actions:
        if "--env" in action.option_strings:
            repeatable = isinstance(action, argparse._AppendAction)
            if (environment_choices() in (action.help or "")) != repeatable:
                problems.append(f"{parser.prog} --env: {action.help}")
    return problems


def test_env_options_say_what_their_parser_accepts() -> None:
    """`plan --help` said "dev, staging or production" while plan accepts all too."""
    assert [p for parser in _all_parsers() for p in _env_help_problems(parser)] == []
    assert len(resolve_environment_names(["all"], ROOT / "environments")) >= 3  # what "or all" promises


def test_fails_if_an_env_option_lists_its_choices_by_hand() -> None:
    parser = argparse.ArgumentParser(prog="plan")
    parser.add_argument("--env", action="append", help="environment: dev, staging or production (repeatable)")
    assert _env_help_problems(parser) == ["plan --env: environment: dev, staging or production (repeatable)"]


@pytest.mark.parametrize("argv", [["--quiet", "environments"], ["environments", "--quiet"]])
def test_global_options_are_accepted_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    assert main(["--project-dir", str(ROOT), *argv]) == 0
    assert main([*argv, "--project-dir", str(ROOT)]) == 0
    out, _ = capsys.readouterr()
    assert "environments: 3 valid" in out


# Every command that reads the project folder (its environments/, its synth output), as a reader
# would first run it; `scan` used to say "run synth first" from a subfolder.
NEEDS_THE_PROJECT = [
    ["environments"],
    ["synth"],
    ["scan"],
    ["plan", "--env", "dev"],
    ["deploy", "--env", "dev"],
    ["bootstrap"],
    ["release", "--env", "dev", "--service", "hello", "--image-tag", "v1.0.0"],
    ["cost"],
    ["outdated"],
    ["test-pool", "capacity"],
    ["signoff", "--env", "dev"],
]


@pytest.mark.parametrize("argv", NEEDS_THE_PROJECT, ids=lambda argv: argv[0])
def test_a_command_run_from_the_wrong_folder_says_where_to_run_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    subfolder = tmp_path / "stacks"  # a folder of the project, say
    subfolder.mkdir()
    assert main(["--project-dir", str(subfolder), *argv]) == 2
    _, err = capsys.readouterr()
    assert err == (
        f"error: {subfolder}: no environments/ folder here; run from the qualisys-infra project folder "
        "or pass --project-dir PATH\n"
    )


def test_version_names_the_toolkit_and_the_pinned_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert out.strip() == version_text()
    assert re.fullmatch(r"qualisys-infra \S+ \(cdktn 0\.24\.0, cdktn-provider-aws 25\.8\.1, .*\)", version_text())
