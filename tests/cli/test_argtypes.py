"""Every number an option takes is finite and in range: no command takes a bare ``type=float``
(``nan`` and ``inf`` parse, and NaN passes every comparison), and each number option refuses
``nan``, ``inf`` and negative values with one line and exit 2."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from qualisys_infra.commands.cli import build_parser, main
from qualisys_infra.core.errors import UsageError


def _options(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.option_strings:
            yield path, action


NUMBER_OPTIONS = [
    (path, action)
    for path, action in _options(build_parser())
    if action.type is not None and getattr(action.type, "__name__", "") in ("parse", "float")
]


def test_no_option_takes_a_bare_float() -> None:
    bare = [f"{' '.join(p)} {a.option_strings[0]}" for p, a in _options(build_parser()) if a.type is float]
    assert bare == []
    assert len(NUMBER_OPTIONS) >= 8  # timeouts, intervals and coverage minimums of several commands


@pytest.mark.parametrize(
    ("path", "action"), NUMBER_OPTIONS, ids=[f"{' '.join(p)} {a.option_strings[0]}" for p, a in NUMBER_OPTIONS]
)
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e9", "soon"])
def test_a_number_option_refuses_what_is_not_a_finite_number_in_range(
    path: tuple[str, ...], action: argparse.Action, value: str
) -> None:
    assert action.type is not None
    with pytest.raises(UsageError) as refused:
        action.type(value)  # type: ignore[operator]
    assert str(refused.value).startswith(f"{action.option_strings[0]}: got "), refused.value


def test_the_cli_says_it_in_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["release", "--env", "dev", "--service", "hello", "--image-tag", "0123abc", "--timeout", "nan"])
    assert code == 2
    assert (
        capsys.readouterr().err == "error: --timeout: got nan, expected a number of seconds more than 0 up to 86400\n"
    )
