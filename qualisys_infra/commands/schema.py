"""``qualisys-infra check-schema PATH...``: Terraform JSON against the providers' own schemas.

PATH is a Terraform JSON file (``*.tf.json``, ``cdk.tf.json``), a synth output folder (its
``stacks/*/cdk.tf.json``), a stack folder holding ``cdk.tf.json``, or a folder of ``*.tf.json``
files; any Terraform JSON works, not only this project's. Every key of every resource, data
source, provider and backend block must exist in its provider's schema, with a value of the
shape the schema allows, and required attributes must be set. The schemas come from the
installed cdktn provider bindings, extracted once per installed version into the cache folder.

Violations print one per line (``FAILED  stack: construct path (address): attribute: message``);
levels no schema describes (typed ``any`` by the binding, or providers with no binding installed)
are listed as untyped, not failed.

Exit codes: 0 everything matches; 1 a violation; 2 bad input (a path that does not exist, a file
that is not UTF-8, not JSON, not a JSON object or nested more than 100 levels deep, a folder with
no Terraform JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qualisys_infra.commands.context import Context
from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.core.files import read_json


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check-schema",
        help="check Terraform JSON files or a synth output folder against the providers' schemas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder of Terraform JSON")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where extracted schemas are cached (default: PROJECT/.cache/qualisys-schema)",
    )
    parser.set_defaults(func=run)


def _shown(path: Path) -> str:
    return os.path.relpath(path) if path.is_absolute() else str(path)


def _read(path: Path) -> dict[str, Any]:
    config = read_json(path, _shown(path))
    if not isinstance(config, dict):
        raise UsageError(f"{_shown(path)}: not a Terraform JSON object (got {type(config).__name__})")
    return config


def _files(path: Path) -> list[tuple[str, Path]]:
    """``(name, file)`` for every Terraform JSON ``path`` stands for; names are stack names where known."""
    if not path.exists():
        raise UsageError(f"{_shown(path)}: not found")
    if not path.is_dir():
        return [(_shown(path), path)]
    stacks = sorted(p for p in (path / "stacks").glob("*/cdk.tf.json") if p.is_file())
    if stacks:
        return [(p.parent.name, p) for p in stacks]
    if (path / "cdk.tf.json").is_file():
        return [(path.resolve().name, path / "cdk.tf.json")]
    found = sorted(p for p in path.glob("*.tf.json") if p.is_file())
    if not found:
        raise UsageError(f"{_shown(path)}: holds no Terraform JSON (stacks/*/cdk.tf.json, cdk.tf.json or *.tf.json)")
    return [(_shown(p), p) for p in found]


def read_inputs(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Every configuration the paths stand for, by a unique name (the stack's where there is one)."""
    configs: dict[str, dict[str, Any]] = {}
    for path in paths:
        for name, file in _files(path):
            unique = name if name not in configs else _shown(file)
            configs[unique] = _read(file)
    return configs


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Run ``check-schema``; errors of bad input print as one ``error:`` line each (exit 2)."""
    from qualisys_infra.gates.schema import check_configs

    progress = ctx.progress("check-schema")

    try:
        configs = read_inputs(args.paths)
        report = check_configs(configs, cache_dir=args.cache_dir, progress=progress)
    except ToolkitError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "configurations": list(configs),
                    "blocks_checked": report.checked,
                    "violations": [
                        {
                            "stack": v.stack,
                            "address": v.address,
                            "construct_path": v.construct_path,
                            "attribute": v.attribute,
                            "message": v.message,
                        }
                        for v in report.violations
                    ],
                    "untyped": [
                        {
                            "stack": u.stack,
                            "address": u.address,
                            "construct_path": u.construct_path,
                            "attribute": u.attribute,
                            "reason": u.reason,
                        }
                        for u in report.untyped
                    ],
                    "notes": list(report.notes),
                },
                indent=2,
            )
        )
        return 0 if report.ok else 1
    for violation in report.violations:
        print(f"FAILED  {violation}")
    groups: dict[tuple[str, str], list[str]] = {}
    for level in report.untyped:
        groups.setdefault((level.pattern, level.reason), []).append(level.stack)
    for (pattern, reason), stacks in sorted(groups.items()):
        where = f"{len(stacks)} place{'s' if len(stacks) > 1 else ''} in {len(set(stacks))} of the configurations"
        print(f"untyped {pattern}: {reason} ({where})")
    for note in report.notes:
        print(f"note    {note}")
    untyped = f"{len(groups)} untyped level{'s' if len(groups) != 1 else ''} not checked"
    scope = f"{report.checked} blocks in {len(configs)} configuration{'s' if len(configs) != 1 else ''}"
    if report.ok:
        print(f"check-schema: ok: {scope} match their providers' schemas; {untyped}")
        return 0
    count = len(report.violations)
    print(f"check-schema: FAILED: {count} violation{'s' if count > 1 else ''} in {scope}; {untyped}")
    return 1
