"""Progress of long work: what every step reports through, and the one way the CLI shows it.

Library code takes a :data:`Progress` (a callable taking one line) and never prints; the command
line passes :class:`ProgressLines`, which writes ``<command>: <step>`` to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str], None]


def silent(_: str) -> None:
    """A :data:`Progress` that reports nothing."""


class ProgressLines:
    """Progress lines on a stream: ``synth: <step>``, with elapsed seconds on a terminal."""

    def __init__(self, command: str, stream: TextIO, *, quiet: bool = False) -> None:
        self.command = command
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        elapsed = f" [{time.perf_counter() - self.started:4.1f}s]" if self.tty else ""
        print(f"{self.command}: {message}{elapsed}", file=self.stream, flush=True)
