"""``qualisys-infra tenants init|create|list|drop|verify|seed``: the multi-tenant database design.

The database URL comes from ``--database-url`` or ``$QUALISYS_DATABASE_URL`` (a login that may
create roles and schemas: the RDS master user, or postgres locally). ``verify`` probes as
``app_user``: ``--app-database-url`` / ``$QUALISYS_APP_DATABASE_URL``, by default the same URL
with the user ``app_user`` and the password ``$QUALISYS_APP_USER_PASSWORD``.

``create --redis-url`` checks that Redis answers before writing anything, and creates the Redis
ACL user inside the database transaction: both are made or neither. Run again, ``create`` adds
the Redis user of a tenant that has none; ``drop`` likewise removes a leftover Redis user.

Exit codes: 0 success; 2 bad input: a slug, a malformed URL, or a database or Redis that cannot
be reached or logged into with the URL given (unreachable, unknown database, refused password),
or missing rights; 1 a failure once connected (a statement or Redis command failed) or a failed
isolation check. Errors are one ``error:`` line each; URLs in them have the password masked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qualisys_infra.errors import UsageError
from qualisys_infra.tenancy.names import TenancyError, validate_slug

if TYPE_CHECKING:  # psycopg and redis load only when a tenant command runs
    import psycopg
    import redis

    from qualisys_infra.tenancy.provision import Tenant

    Connection = psycopg.Connection[tuple[Any, ...]]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = sub.add_parser(
        "tenants",
        help="provision and verify the multi-tenant PostgreSQL (schema per tenant, RLS) and Redis ACLs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = tenants.add_subparsers(dest="tenants_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--database-url", default=None, help="admin URL (default: $QUALISYS_DATABASE_URL)")
        parser.add_argument("--redis-url", default=None, help="Redis admin URL (default: $QUALISYS_REDIS_URL)")

    init = actions.add_parser("init", help="roles, PUBLIC rights revoked, platform schema migrations")
    init.add_argument("--environment", default="dev", choices=("dev", "staging", "production", "test"))
    common(init)
    create = actions.add_parser("create", help="a tenant: schema with RLS, grants, registry row (+ Redis ACL user)")
    create.add_argument("slug")
    common(create)
    listing = actions.add_parser("list", help="registered tenants")
    listing.add_argument("--json", action="store_true")
    common(listing)
    drop = actions.add_parser("drop", help="drop a tenant's schema and data (needs --yes; --force in production)")
    drop.add_argument("slug")
    drop.add_argument("--yes", action="store_true", help="confirm that the tenant's data is deleted")
    drop.add_argument("--force", action="store_true", help="allow it in a production database")
    common(drop)
    verify = actions.add_parser(
        "verify", help="prove isolation: catalog checks and attacks as app_user; exit 1 on failure"
    )
    verify.add_argument("--app-database-url", default=None, help="app_user URL (default: see above)")
    verify.add_argument("--json", action="store_true")
    common(verify)
    seed = actions.add_parser("seed", help="deterministic test data: N tenants with projects and runs")
    seed.add_argument("--tenants", type=int, default=2)
    seed.add_argument("--projects", type=int, default=3)
    seed.add_argument("--runs", type=int, default=5)
    seed.add_argument("--seed", type=int, default=15)
    common(seed)


def _database_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    url: str | None = args.database_url or environ.get("QUALISYS_DATABASE_URL")
    if not url:
        raise UsageError("tenants: no database: pass --database-url or set QUALISYS_DATABASE_URL")
    from qualisys_infra.tenancy import urls  # psycopg loads only for tenant commands

    urls.postgres_params(url)  # a malformed URL is refused before anything else happens
    return url


def app_url(admin_url: str, environ: Mapping[str, str]) -> str:
    """The admin URL with the user app_user and $QUALISYS_APP_USER_PASSWORD."""
    from qualisys_infra.tenancy import urls

    return urls.with_credentials(admin_url, "app_user", environ.get("QUALISYS_APP_USER_PASSWORD"))


def _create(conn: Connection, slug: str, client: redis.Redis | None) -> None:
    """Create the tenant and, with Redis, its ACL user: both or neither; a retry completes a tenant
    that has its schema but no Redis user (created without --redis-url, or before this was atomic).
    """
    from qualisys_infra.tenancy import provision, redis_acl

    existing = provision.find_tenant(conn, slug)
    if existing is not None:
        if client is None or redis_acl.user_exists(client, slug):
            raise TenancyError(f"tenant {slug!r} already exists" + (" with its Redis ACL user" if client else ""))
        _print_redis_password(existing, redis_acl.create_user(client, slug))
        print(f"tenants: {slug} already existed; created its missing Redis ACL user")
        return
    passwords: list[str] = []

    def add_redis_user(tenant: provision.Tenant) -> None:
        if client is not None:
            passwords.append(redis_acl.create_user(client, tenant.slug))

    try:
        tenant = provision.create_tenant(conn, slug, before_commit=add_redis_user)
    except BaseException:
        if client is not None and passwords:  # the commit itself failed: take the Redis user back
            redis_acl.drop_user(client, slug)
        raise
    print(f"tenants: created {tenant.slug} (schema {tenant.schema}, id {tenant.id})")
    if passwords:
        _print_redis_password(tenant, passwords[0])


def _print_redis_password(tenant: Tenant, password: str) -> None:
    print(f"redis: ACL user {tenant.schema} on keys {tenant.schema}:*, password {password}")
    print("redis: store that password in Secrets Manager now; it is not kept anywhere")


def _drop(conn: Connection, slug: str, client: redis.Redis | None, *, force: bool) -> None:
    """Drop the tenant and, with Redis, its ACL user: both or neither; a retry removes a leftover user."""
    from qualisys_infra.tenancy import provision, redis_acl

    if provision.find_tenant(conn, slug) is None and client is not None and redis_acl.user_exists(client, slug):
        redis_acl.drop_user(client, slug)
        print(f"tenants: {slug} was already dropped; removed its leftover Redis ACL user")
        return
    provision.drop_tenant(
        conn, slug, force=force, before_commit=(lambda: redis_acl.drop_user(client, slug)) if client else None
    )
    print(f"tenants: dropped {slug} and its data" + (" and its Redis ACL user" if client else ""))


def run(args: argparse.Namespace) -> int:
    from qualisys_infra.tenancy import factories, provision, redis_acl, urls, verify

    environ = os.environ
    url = _database_url(args, environ)
    redis_url = args.redis_url or environ.get("QUALISYS_REDIS_URL")
    if redis_url:
        urls.check_redis_url(redis_url)
    command = args.tenants_command
    if command == "drop" and not args.yes:
        raise UsageError(f"tenants drop {args.slug}: deletes the tenant's data; pass --yes to confirm")
    if command in ("create", "drop"):
        validate_slug(args.slug)
    # Redis must answer before anything is written in the database: create and drop then do both
    # or neither.
    client = redis_acl.connect(redis_url) if redis_url and command in ("create", "drop") else None
    with provision.connect(url) as conn:
        if command == "init":
            applied = provision.init(
                conn, environment=args.environment, app_password=environ.get("QUALISYS_APP_USER_PASSWORD")
            )
            print(f"tenants: initialised ({args.environment}); migrations applied: {applied or 'none pending'}")
        elif command == "create":
            _create(conn, args.slug, client)
        elif command == "list":
            tenants = provision.list_tenants(conn)
            if args.json:
                print(
                    json.dumps(
                        [
                            {"slug": t.slug, "schema": t.schema, "id": t.id, "created_at": t.created_at.isoformat()}
                            for t in tenants
                        ],
                        indent=2,
                    )
                )
            else:
                for t in tenants:
                    print(f"{t.slug:<42} {t.schema:<50} {t.id}  {t.created_at:%Y-%m-%d %H:%M}")
                print(f"tenants: {len(tenants)}")
        elif command == "drop":
            _drop(conn, args.slug, client, force=args.force)
        elif command == "seed":
            factory = factories.Factory(args.seed)
            existing = {t.slug: t for t in provision.list_tenants(conn)}
            rows = 0
            for i in range(args.tenants):
                slug = factory.slug(i)
                tenant = existing.get(slug) or provision.create_tenant(conn, slug)
                rows += factories.seed_tenant(conn, tenant, factory, projects=args.projects, runs=args.runs)
            print(f"tenants: seeded {args.tenants} tenants with {rows} rows (seed {args.seed})")
        else:
            target = args.app_database_url or environ.get("QUALISYS_APP_DATABASE_URL") or app_url(url, environ)
            with provision.connect(target, option="--app-database-url") as app:
                checks = verify.verify(conn, app)
            if redis_url:
                slugs = [t.slug for t in provision.list_tenants(conn)]
                checks += redis_acl.verify(redis_acl.connect(redis_url), slugs)
            failed = [c for c in checks if not c.ok]
            if args.json:
                print(
                    json.dumps(
                        {
                            "ok": not failed,
                            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
                        },
                        indent=2,
                    )
                )
            else:
                width = max(len(c.name) for c in checks)
                for c in checks:
                    print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
                print(f"tenants verify: {len(checks) - len(failed)} passed, {len(failed)} failed")
            if failed:
                for c in failed:
                    print(f"error: isolation check failed: {c.name}: {c.detail}", file=sys.stderr)
                return 1
    return 0
