"""Help for people: every option documented, the CLI reference page equal to --help, global
options anywhere, a version, and a hint when run from the wrong folder."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import _subparsers, build_parser, main, version_text
from qualisys_infra.commands.reference import render_cli
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


@pytest.mark.parametrize("argv", [["--quiet", "environments"], ["environments", "--quiet"]])
def test_global_options_are_accepted_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    assert main(["--project-dir", str(ROOT), *argv]) == 0
    assert main([*argv, "--project-dir", str(ROOT)]) == 0
    out, _ = capsys.readouterr()
    assert "environments: 3 valid" in out


def test_a_command_run_from_the_wrong_folder_says_where_to_run_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--project-dir", str(tmp_path), "environments"]) == 2
    _, err = capsys.readouterr()
    assert err == (
        f"error: {tmp_path}: no environments/ folder here; run from the qualisys-infra project folder "
        "or pass --project-dir PATH\n"
    )


def test_version_names_the_toolkit_and_the_pinned_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert out.strip() == version_text()
    assert re.fullmatch(r"qualisys-infra \S+ \(cdktn 0\.24\.0, cdktn-provider-aws 25\.8\.1, .*\)", version_text())
