"""A synth output folder as the later steps read it: the engine's ``manifest.json`` and each
stack's ``cdk.tf.json``. The one reader of the manifest (scan, plan, deploy and the runner use it)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import UsageError


@dataclass(frozen=True, slots=True)
class Manifest:
    """The stacks of an output folder, sorted, and the stacks each depends on."""

    stacks: tuple[str, ...]
    dependencies: dict[str, tuple[str, ...]]


def read_manifest(outdir: Path) -> Manifest:
    """The manifest of ``outdir``; every stack's ``cdk.tf.json`` must be there and hold a JSON
    object. Anything else is a :class:`UsageError` (exit 2) saying how to get a whole output."""
    manifest = outdir / "manifest.json"
    shown = os.path.relpath(manifest)
    again = "run `qualisys-infra synth --force`"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{shown}: not found; run `qualisys-infra synth` first") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise UsageError(f"{shown}: unreadable ({exc}); {again}") from None
    stacks = data.get("stacks") if isinstance(data, dict) else None
    if not isinstance(stacks, dict) or not stacks or not all(isinstance(v, dict) for v in stacks.values()):
        raise UsageError(f"{shown}: lists no stacks (expected an object of stacks); {again}")
    dependencies: dict[str, tuple[str, ...]] = {}
    for stack, entry in stacks.items():
        read_stack(outdir, stack)
        depends = entry.get("dependencies") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise UsageError(f"{shown}: stacks.{stack}.dependencies: expected a list of stack names; {again}")
        dependencies[stack] = tuple(depends)
    return Manifest(stacks=tuple(sorted(stacks)), dependencies=dependencies)


def read_stack(outdir: Path, stack: str) -> dict[str, Any]:
    """The synthesized configuration of ``stack`` (its ``cdk.tf.json``, a JSON object); anything else
    is a :class:`UsageError` (exit 2) naming the file and how to get a whole output."""
    config = outdir / "stacks" / stack / "cdk.tf.json"
    again = "run `qualisys-infra synth --force`"
    try:
        body = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else f"unreadable ({exc})"
        raise UsageError(f"{os.path.relpath(config)}: {reason}; {again}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{os.path.relpath(config)}: not a Terraform JSON object; {again}")
    return body
