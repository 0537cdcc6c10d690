"""qualisys-infra dev: the local platform of compose.yaml (make dev, make dev-check).

  qualisys-infra dev check      does the local platform work? (make dev-check)
  qualisys-infra dev seed       migrations, tenants acme and globex with their Redis ACL users,
                                their data: what compose's seed service runs (idempotent)

dev check reads its defaults from the environment and from .env (the file compose reads, in the
project folder; the environment wins, as with compose), so that with no options it checks what
make dev started: the app on http://localhost:$HELLO_PORT (3000), PostgreSQL as postgres with
$POSTGRES_PASSWORD on 127.0.0.1:$POSTGRES_PORT (5432), app_user with $QUALISYS_APP_USER_PASSWORD,
and Redis as qualisys_admin with $REDIS_ADMIN_PASSWORD on 127.0.0.1:$REDIS_PORT (6379).
$QUALISYS_DEV_APP_URL, $QUALISYS_DEV_DATABASE_URL, $QUALISYS_DEV_APP_DATABASE_URL and
$QUALISYS_DEV_REDIS_URL replace each whole URL.

Exit codes: 0 every check passed; 1 a check failed (the platform is down or broken); 2 bad input
or a setting that cannot work (a malformed URL, an unknown host, a refused password, a database
that does not exist). Errors are one "error:" line each, with passwords in URLs masked.

python -m qualisys_infra dev seed loads only this command's module and what tenancy needs
(psycopg, redis, faker): that is how compose's seed image runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.core.argtypes import number_between, seconds
from qualisys_infra.delivery.local_env import app_database_url, app_url, database_url, redis_url, settings

if TYPE_CHECKING:  # psycopg and redis load only when a dev command runs
    from qualisys_infra.commands.context import Context
    from qualisys_infra.delivery.devcheck import Check

DEFAULT_TENANTS = ("acme", "globex")
WAIT_STEP_SECONDS = 2.0

CHECK_DESCRIPTION = """\
Check the local platform: the app's /health and /ready answer 200; PostgreSQL has the migrations
and each tenant with seeded rows; tenants verify's isolation checks pass as app_user; Redis has
its default user off (as on ElastiCache), each tenant's ACL user, and those users confined to
their own keys. Prints a table (or JSON with --json); exit 1 when a check fails. With --wait,
checks again every 2 seconds until every check passes or the time is up (what make dev does after
compose up).
"""

SEED_DESCRIPTION = """\
Apply the migrations (tenants init), create the tenants with their Redis ACL users (tenants
create) and write their deterministic data (tenants seed). Idempotent: what exists is kept, a
missing Redis ACL user is added, seeded rows are rewritten to their seeded values. Refused in a
database recorded as production. The tenants' Redis passwords are neither printed nor kept
(locally the app logs in as Redis's app_user).
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser(
        "dev",
        help="the local platform (compose.yaml): check it works, seed its tenants",
        description=__doc__,
    )
    dev.set_defaults(func=run)
    actions = dev.add_subparsers(dest="dev_command", required=True, metavar="ACTION")

    def tenants(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--tenant",
            action="append",
            dest="tenants",
            metavar="SLUG",
            help="a tenant, repeatable (default: acme and globex)",
        )

    check = actions.add_parser(
        "check", help="does the local platform work? exit 1 naming what fails", description=CHECK_DESCRIPTION
    )
    check.add_argument(
        "--app-url",
        default=None,
        metavar="URL",
        help="the app (default: $QUALISYS_DEV_APP_URL, else http://localhost:$HELLO_PORT, port 3000 by default)",
    )
    check.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="admin database URL (default: $QUALISYS_DEV_DATABASE_URL, else postgres with $POSTGRES_PASSWORD"
        " on 127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB, from the environment or .env)",
    )
    check.add_argument(
        "--app-database-url",
        default=None,
        metavar="URL",
        help="app_user's URL (default: $QUALISYS_DEV_APP_DATABASE_URL, else the database URL with app_user"
        " and $QUALISYS_APP_USER_PASSWORD)",
    )
    check.add_argument(
        "--redis-url",
        default=None,
        metavar="URL",
        help="Redis URL of a user allowed to run ACL commands (default: $QUALISYS_DEV_REDIS_URL, else"
        " qualisys_admin with $REDIS_ADMIN_PASSWORD on 127.0.0.1:$REDIS_PORT)",
    )
    check.add_argument("--no-redis", action="store_true", help="skip the Redis checks (default: check Redis)")
    tenants(check)
    check.add_argument("--json", action="store_true", help="print the result as JSON (default: a table)")
    check.add_argument(
        "--wait",
        type=number_between("--wait", 0.0, 3600.0, "a number of seconds"),
        default=0.0,
        metavar="SECONDS",
        help="check again until every check passes or SECONDS have passed (default: check once)",
    )
    check.add_argument(
        "--timeout",
        type=seconds("--timeout", 3600.0),
        default=5.0,
        metavar="SECONDS",
        help="per HTTP request (default: %(default)s)",
    )
    check.add_argument(
        "--env-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="the file of settings compose reads (default: .env in the project folder, if there is one)",
    )

    seed = actions.add_parser(
        "seed", help="migrations, tenants, Redis ACL users, data (idempotent)", description=SEED_DESCRIPTION
    )
    seed.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="admin database URL (default: $QUALISYS_DATABASE_URL)",
    )
    seed.add_argument(
        "--redis-url",
        default=None,
        metavar="URL",
        help="Redis URL of a user allowed to run ACL commands (default: $QUALISYS_REDIS_URL; none: no ACL users)",
    )
    tenants(seed)


def _print_checks(checks: Sequence[Check], *, as_json: bool) -> None:
    failed = [c for c in checks if not c.ok]
    if as_json:
        print(
            json.dumps(
                {"ok": not failed, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]},
                indent=2,
            )
        )
        return
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
    print(f"dev check: {len(checks) - len(failed)} passed, {len(failed)} failed")


def _check(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.delivery import devcheck

    values = settings(args.env_file, ctx.environ, ctx.project)
    app = args.app_url or app_url(values)
    database = args.database_url or database_url(values)
    app_database = args.app_database_url or app_database_url(values, database)
    redis = None if args.no_redis else (args.redis_url or redis_url(values))
    deadline = time.monotonic() + args.wait
    while True:
        checks = devcheck.check_local(
            app_url=app,
            database_url=database,
            redis_url=redis,
            tenants=args.tenants or DEFAULT_TENANTS,
            app_database_url=app_database,
            timeout=args.timeout,
        )
        failed = [c for c in checks if not c.ok]
        if not failed or time.monotonic() + WAIT_STEP_SECONDS > deadline:
            break
        time.sleep(WAIT_STEP_SECONDS)
    _print_checks(checks, as_json=args.json)
    for c in failed:
        print(f"error: dev check failed: {c.name}: {c.detail}", file=sys.stderr)
    return 1 if failed else 0


def _seed(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from qualisys_infra.delivery import devcheck
    from qualisys_infra.tenancy import urls

    database = urls.require_admin_url(args.database_url, environ, "dev seed")
    urls.postgres_params(database)
    redis = args.redis_url or environ.get("QUALISYS_REDIS_URL") or None
    if redis:
        urls.check_redis_url(redis)
    for line in devcheck.seed_local(
        database,
        redis,
        tenants=args.tenants or DEFAULT_TENANTS,
        app_password=environ.get("QUALISYS_APP_USER_PASSWORD") or None,
    ):
        print(f"dev seed: {line}")
    if not redis:
        print("warning: dev seed: no Redis URL, so no tenant has a Redis ACL user", file=sys.stderr)
    return 0


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.dev_command == "check":
        return _check(args, ctx)
    return _seed(args, ctx.environ)
