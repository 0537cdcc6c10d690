"""The toolkit's exceptions: one root, one subclass per kind of failure.

The CLI catches only :class:`ToolkitError`, prints ``error: ...`` lines and exits with the error's
``exit_code``; library code raises and never catches its own errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


class ToolkitError(Exception):
    """Root of every error the toolkit raises on purpose. Exit code 2: bad input."""

    exit_code = 2

    def lines(self) -> list[str]:
        """The one-line messages the CLI prints, each prefixed with ``error: ``."""
        return str(self).splitlines() or [type(self).__name__]


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong in one input file, located as precisely as the file allows."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        # A key read from a file may hold a newline; the message stays one line whatever it holds.
        field = self.field if self.field.isprintable() else json.dumps(self.field, ensure_ascii=False)[1:-1]
        return f"{self.file}:{self.line}: {field}: {self.message}"


class ConfigError(ToolkitError):
    """An input file (an environment's tfvars) is missing, unparsable or invalid.

    Carries every violation found in the file, not only the first.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("\n".join(str(v) for v in self.violations))

    def lines(self) -> list[str]:
        return [str(v) for v in self.violations]


class UsageError(ToolkitError):
    """The command line asks for something that does not exist (an unknown environment, say)."""


class WrongFolder(UsageError):
    """A command that reads the project was run outside it: the one message for it, whatever the
    command was looking for (its ``environments/`` folder, its synth output)."""

    def __init__(self, project: object) -> None:
        super().__init__(
            f"{project}: no environments/ folder here; run from the qualisys-infra project folder or pass "
            "--project-dir PATH"
        )


class SynthError(ToolkitError):
    """The engine failed to synthesize, or its output is not what Terraform can load."""

    exit_code = 1


class TerraformError(ToolkitError):
    """Terraform reported errors for a stack."""

    exit_code = 1


class PolicyError(ToolkitError):
    """A blocking policy finding (a guardrail or the security gate)."""

    exit_code = 1
