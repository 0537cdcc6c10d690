"""Argument types shared by the commands: numbers that are finite and in range, or the toolkit's
one-line error naming the option (``error: --timeout: got nan, expected ...``, exit 2; the CLI
catches it around argument parsing). ``float("nan")`` and ``float("inf")`` parse, and NaN compares
false with everything, so a bare ``type=float`` would let ``--min-coverage nan`` pass every check
and ``--timeout inf`` wait for ever."""

from __future__ import annotations

import math
from collections.abc import Callable

from qualisys_infra.core.errors import UsageError


def number_between(
    option: str, low: float, high: float, what: str, *, low_open: bool = False
) -> Callable[[str], float]:
    """A ``type=`` for ``option``: a finite number in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    bound = f"{'more than' if low_open else 'from'} {low:g} {'up ' if low_open else ''}to {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{option}: got {text!r}, expected {what}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            raise UsageError(f"{option}: got {text}, expected {what} {bound}")
        return value

    return parse


def seconds(option: str, high: float = 86_400.0) -> Callable[[str], float]:
    """A positive number of seconds, at most ``high``."""
    return number_between(option, 0.0, high, "a number of seconds", low_open=True)


def percent(option: str) -> Callable[[str], float]:
    return number_between(option, 0.0, 100.0, "a percentage")
