"""``qualisys-infra environments``: validate environments/*.tfvars and list the environments.

Every ``environments/<name>.tfvars`` but account.tfvars is an environment, listed in the project's
order (by hand, then by the pipeline, then behind an approval; each by name). ``--json`` is what the
workflows compute their matrices from (``.github/actions/environments``): every environment's name,
region, delivery, approval, network and file, and its settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from enum import Enum
from typing import Any

from qualisys_infra.commands.context import Context
from qualisys_infra.config.kubernetes_support import check_kubernetes_support
from qualisys_infra.core.errors import ConfigError
from qualisys_infra.core.settings import Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    envs = sub.add_parser(
        "environments",
        help="list and validate environments/*.tfvars",
        description="Validate environments/account.tfvars and every environment file (every "
        "environments/<name>.tfvars is one); print a table (or JSON with --json: each environment's name, "
        "region, delivery, approval, vpc_cidr, file and settings). Exit 2 if any file is invalid, listing "
        "every violation.",
    )
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    envs.set_defaults(func=run)


def _plain(value: Any) -> Any:
    """A settings value as JSON: dataclasses and maps as objects, tuples as lists, enums as their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.config import environment_names, read_environments

    ctx.require_project()
    problems: list[str] = []
    warnings: list[str] = []
    settings: Settings | None = None
    try:
        settings = ctx.settings(environment_names(ctx.environments_dir))
        warnings = check_kubernetes_support(
            ctx.environments_dir, settings.environments, today=ctx.today(), root=ctx.project
        )
    except ConfigError as exc:
        problems = exc.lines()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    listed: list[dict[str, Any]] = []
    rows: list[dict[str, object]] = []
    if settings is not None:
        files = {e.name: e for e in read_environments(ctx.environments_dir, lambda p: os.path.relpath(p, ctx.project))}
        for env in settings.environments:
            entry = files[env.environment]
            listed.append(
                {
                    "name": env.environment,
                    "region": env.region,
                    "delivery": env.delivery.value,
                    "approval": env.approval,
                    "vpc_cidr": env.vpc_cidr,
                    "file": entry.file,
                    "settings": _plain(env),
                }
            )
            rows.append(
                {
                    "environment": env.environment,
                    "region": env.region,
                    "delivery": env.delivery.value + (" approval" if env.approval else ""),
                    "vpc_cidr": env.vpc_cidr,
                    "az_count": env.az_count,
                    "nat_mode": env.nat_mode.value,
                    "eks": env.eks_kubernetes_version,
                    "rds": env.rds_instance_class + (" multi-az" if env.rds_multi_az else ""),
                    "redis": env.redis_node_type,
                }
            )
    if args.json:
        report = {"valid": not problems, "environments": listed, "errors": problems, "warnings": warnings}
        print(json.dumps(report, indent=2))
    elif rows:
        headers = list(rows[0])
        widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
        print("  ".join(h.upper().ljust(widths[h]) for h in headers))
        for r in rows:
            print("  ".join(str(r[h]).ljust(widths[h]) for h in headers))
        bucket = settings.account.state_bucket_name if settings else ""
        print(f"environments: {len(rows)} valid; state in s3://{bucket}")
    if problems:
        if not args.json:
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
        return 2
    return 0
