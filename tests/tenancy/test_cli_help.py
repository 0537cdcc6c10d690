"""`tenants --help` and `tenants ACTION --help`: every option explained, with its default, in plain words."""

from __future__ import annotations

import argparse

import pytest

from qualisys_infra.commands.cli import build_parser, main

ACTIONS = ("init", "create", "list", "drop", "verify", "seed")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _actions() -> dict[str, argparse.ArgumentParser]:
    tenants = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["tenants"]
    sub = next(a for a in tenants._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_fails_if_help_shows_raw_double_backticks(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("tenants",), *(("tenants", action) for action in ACTIONS)):
        text = _help(capsys, *argv)
        assert "``" not in text, argv
        assert ":func:" not in text and ":class:" not in text, argv


def test_tenants_help_keeps_its_paragraphs_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "tenants")
    assert "Typical use:\n  qualisys-infra tenants init\n  qualisys-infra tenants create acme\n" in text
    assert "\n\nExit codes: 0 success;" in text
    seed = _help(capsys, "tenants", "seed")
    assert "Examples:\n  qualisys-infra tenants seed acme globex\n" in seed


def test_fails_if_an_option_is_undocumented_or_hides_its_default() -> None:
    parsers = _actions()
    assert sorted(parsers) == sorted(ACTIONS)
    for name, parser in parsers.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"tenants {name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{where}: no help"
            text = formatter._expand_help(action)
            if action.option_strings and action.nargs != 0:  # an option taking a value
                assert "(default: " in text, f"{where}: no default in {text!r}"
                if action.default not in (None, argparse.SUPPRESS):
                    assert f"(default: {action.default})" in text, f"{where}: {text!r}"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            "init",
            [
                "--environment ENV",
                "an environment of environments/*.tfvars, or test",
                "(default: the one recorded by an earlier init, or dev)",
            ],
        ),
        ("seed", ["--projects N", "(default: 3)", "--runs N", "(default: 5)", "--seed N", "(default: 15)"]),
        ("drop", ["--keep-redis-user", "--redis-url URL", "$QUALISYS_REDIS_URL"]),
    ],
)
def test_the_options_the_issue_named_are_documented(
    capsys: pytest.CaptureFixture[str], action: str, expected: list[str]
) -> None:
    text = " ".join(_help(capsys, "tenants", action).split())
    for words in expected:
        assert " ".join(words.split()) in text, words
