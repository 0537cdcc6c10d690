"""``qualisys-infra environments``: validate environments/*.tfvars and list the environments."""

from __future__ import annotations

import argparse
import json
import sys

from qualisys_infra.commands.context import Context
from qualisys_infra.config.kubernetes_support import check_kubernetes_support
from qualisys_infra.core.errors import ConfigError
from qualisys_infra.core.settings import ENVIRONMENT_NAMES, Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    envs = sub.add_parser(
        "environments",
        help="list and validate environments/*.tfvars",
        description="Validate environments/account.tfvars and every environment file; print a table "
        "(or JSON with --json). Exit 2 if any file is invalid, listing every violation.",
    )
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    envs.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    warnings: list[str] = []
    settings: Settings | None = None
    try:
        settings = ctx.settings(ENVIRONMENT_NAMES)
        warnings = check_kubernetes_support(
            ctx.environments_dir, settings.environments, today=ctx.today(), root=ctx.project
        )
    except ConfigError as exc:
        problems = exc.lines()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if settings is not None:
        for env in settings.environments:
            rows.append(
                {
                    "environment": env.environment,
                    "region": env.region,
                    "vpc_cidr": env.vpc_cidr,
                    "az_count": env.az_count,
                    "nat_mode": env.nat_mode.value,
                    "eks": env.eks_kubernetes_version,
                    "rds": env.rds_instance_class + (" multi-az" if env.rds_multi_az else ""),
                    "redis": env.redis_node_type,
                }
            )
    if args.json:
        print(
            json.dumps(
                {"valid": not problems, "environments": rows, "errors": problems, "warnings": warnings}, indent=2
            )
        )
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
