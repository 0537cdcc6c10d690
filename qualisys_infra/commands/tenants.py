"""qualisys-infra tenants: the multi-tenant database (a schema per tenant, forced row-level
security, a non-superuser app_user) and a Redis ACL user per tenant.

Typical use:
  qualisys-infra tenants init
  qualisys-infra tenants create acme
  qualisys-infra tenants seed acme
  qualisys-infra tenants verify

Connections: the admin database URL comes from --database-url or $QUALISYS_DATABASE_URL (a login
that may create roles and schemas: the RDS master user, or postgres locally); the Redis URL from
--redis-url or $QUALISYS_REDIS_URL (a user allowed to run ACL commands). verify probes as app_user:
--app-database-url or $QUALISYS_APP_DATABASE_URL, by default the admin URL with the user app_user
and the password $QUALISYS_APP_USER_PASSWORD.

With a Redis URL, create checks that Redis answers before writing anything, then makes the
tenant's schema and its Redis ACL user (tenant_SLUG) together: both or neither. drop removes both
the same way, and without a Redis URL it refuses unless --keep-redis-user is given. Run again,
create adds a missing Redis user and drop removes a leftover one.

Exit codes: 0 success; 2 bad input: a slug, an option, a malformed URL, or a database or Redis
that cannot be reached or logged into with the URL given, or missing rights; 1 a failure once
connected (a statement or a Redis command failed) or a failed isolation check. Errors are one
"error:" line each, with passwords in URLs masked. Each action has its own help: tenants ACTION --help.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from qualisys_infra.commands.context import Context
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.naming import ENVIRONMENT_NAME
from qualisys_infra.tenancy.names import TenancyError, redis_user, validate_slug

if TYPE_CHECKING:  # psycopg and redis load only when a tenant command runs
    import psycopg
    import redis

    from qualisys_infra.tenancy.provision import Tenant

    Connection = psycopg.Connection[tuple[Any, ...]]

MAX_COUNT = 1000

INIT_DESCRIPTION = """\
Create the roles (qualisys_owner, which owns everything, and app_user, which logs in with no
special rights), revoke PUBLIC's rights, and apply the pending migrations of the platform schema.
Idempotent: running it again applies only what is missing. $QUALISYS_APP_USER_PASSWORD, when set,
becomes app_user's password.
"""

CREATE_DESCRIPTION = """\
Create a tenant in one transaction: schema tenant_SLUG with its tables, row-level security enabled
and forced, the tenant policy, grants to app_user and the registry row. With a Redis URL, also its
Redis ACL user tenant_SLUG, limited to the keys tenant_SLUG:*; its password is printed once and
must go to Secrets Manager. Run again on a tenant that has no Redis user, create adds it.
"""

DROP_DESCRIPTION = """\
Drop a tenant: its schema with all its data and its registry row and, with a Redis URL, its Redis
ACL user tenant_SLUG, together: both or neither. Needs --yes; refused in a production database
unless --force. The tenant's Redis keys (tenant_SLUG:*) are not deleted.

Without a Redis URL (no --redis-url and no $QUALISYS_REDIS_URL), drop refuses and changes nothing,
because the tenant's Redis ACL user would be left behind, still able to log in and use the
tenant's keys. Pass --keep-redis-user to drop the database side anyway: a warning on stderr then
names the Redis user left behind and the command that removes it (exit code 0). Once the tenant
is gone, drop SLUG --yes with a Redis URL removes a leftover Redis user.
"""

SEED_DESCRIPTION = """\
Write deterministic, fictional test data into the tenants named, or into every registered tenant
with --all: per tenant, one organization, --projects projects and --runs test runs per project.

The data comes from Faker (locale en_US), seeded with a number derived from the tenant's slug and
--seed, with run dates drawn from a fixed range (January to March 2026), never from today's date:
the same slug and seed give the same rows on every run and every machine, with the same Faker
version. Nothing is real.

Idempotent: rows are written by id (insert, or rewrite the row with that id), so running seed
again with the same options leaves exactly the same data: nothing is duplicated, and a seeded row
edited since is put back to its seeded values. Nothing is ever deleted: rows seed did not write
are left alone, and another --seed, or more projects or runs, adds rows. All the tenants named
are seeded in one transaction: all of them, or none.

seed creates nothing unless asked: a tenant that does not exist is an error, and nothing is
written, unless --create is given, which first creates the missing ones as create does (with
their Redis ACL user when a Redis URL is given); they stay created if seeding then fails, and the
same command run again completes the seeding. Refused in a production database unless --force.

Examples:
  qualisys-infra tenants seed acme globex
  qualisys-infra tenants seed --all --seed 7
  qualisys-infra tenants seed demo --create --projects 10 --runs 20
"""

VERIFY_DESCRIPTION = """\
Prove the isolation, over every path a role could take to another tenant's rows. Catalog checks:
the attributes of qualisys_owner (NOLOGIN) and app_user (LOGIN), with no SUPERUSER, BYPASSRLS,
REPLICATION, CREATEROLE or CREATEDB; their memberships, direct or indirect, in any role
(pg_read_all_data, pg_read_server_files and the other predefined ones named with what they give);
other logins acting as the owner; role and database settings (a default app.current_tenant);
row-level security enabled, forced and with the exact policy on every tenant table; owners;
app_user's rights and every other grant on tenant objects; views; triggers, rules and event
triggers; functions, operators and types the tenant tables use; SECURITY DEFINER and LEAKPROOF
functions; system functions and tables restricted at install (pg_read_binary_file,
pg_statistic); default privileges; publications, foreign servers and user mappings.

Then attacks as app_user from every tenant against the others, inside transactions that are
always rolled back: reads and writes across tenants, no tenant set, row_security off, SET ROLE to
every privileged role, SET SESSION AUTHORIZATION, logical decoding and a replication connection,
turning another tenant's row-level security off, server files, the planner's statistics, and
views read with no tenant set; each must be refused for lack of rights. With a Redis URL, also
asks Redis whether each tenant's ACL user can touch another tenant's keys. Runs anywhere,
staging included; exit 1, naming each failed check (the role or object, and why) on stderr,
when isolation is broken.
"""


def _count(text: str) -> int:
    """A number of rows to write: a whole number from 0 to MAX_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected 0 to {MAX_COUNT}, got {value}")
    return value


def _environment(text: str) -> str:
    """What a database serves: an environment's name (environments/<name>.tfvars) or test, the test
    databases'. Its shape only: tenants runs where the project's files may not be (the seed image)."""
    if not ENVIRONMENT_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected an environment of environments/*.tfvars (a DNS label from a letter, like"
            " staging) or test"
        )
    return text


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = sub.add_parser(
        "tenants",
        help="provision and verify the multi-tenant PostgreSQL (schema per tenant, RLS) and Redis ACLs",
        description=__doc__,
    )
    tenants.set_defaults(func=run)
    actions = tenants.add_subparsers(dest="tenants_command", required=True, metavar="ACTION")

    def action(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=summary, description=description)

    def database(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--database-url",
            default=None,
            metavar="URL",
            help="admin database URL, postgresql://USER[:PASSWORD]@HOST:PORT/DB (default: $QUALISYS_DATABASE_URL)",
        )

    def redis_option(parser: argparse.ArgumentParser, use: str) -> None:
        parser.add_argument(
            "--redis-url",
            default=None,
            metavar="URL",
            help=f"Redis URL of a user allowed to run ACL commands: {use} (default: $QUALISYS_REDIS_URL)",
        )

    def json_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON (default: a table)")

    unused = "not used by this action, only checked to be well formed"

    init = action("init", "roles, PUBLIC rights revoked, platform schema migrations", INIT_DESCRIPTION)
    init.add_argument(
        "--environment",
        default=None,
        type=_environment,
        metavar="ENV",
        help="what the database serves, recorded in it: an environment of environments/*.tfvars, or test; drop"
        " and seed refuse to touch the tenants of a production database without --force (default: the one"
        " recorded by an earlier init, or dev)",
    )
    database(init)
    redis_option(init, unused)

    create = action("create", "a tenant: schema with RLS, grants, registry row (+ Redis ACL user)", CREATE_DESCRIPTION)
    create.add_argument("slug", metavar="SLUG", help="the tenant's name: 3-41 characters, a-z, 0-9 and _, from a-z")
    database(create)
    redis_option(create, "also create the tenant's Redis ACL user")

    listing = action("list", "registered tenants", "List the registered tenants: slug, schema, id, creation time.")
    json_option(listing)
    database(listing)
    redis_option(listing, unused)

    drop = action("drop", "drop a tenant's schema, data and Redis ACL user (needs --yes)", DROP_DESCRIPTION)
    drop.add_argument("slug", metavar="SLUG", help="the tenant to drop")
    drop.add_argument("--yes", action="store_true", help="confirm that the tenant's data is deleted (required)")
    drop.add_argument("--force", action="store_true", help="allow it in a production database (default: refused)")
    drop.add_argument(
        "--keep-redis-user",
        action="store_true",
        help="drop the database side only, leaving the tenant's Redis ACL user, with a warning"
        " (default: without a Redis URL, refuse)",
    )
    database(drop)
    redis_option(drop, "also remove the tenant's Redis ACL user")

    verify = action(
        "verify", "prove isolation: catalog checks and attacks as app_user; exit 1 on failure", VERIFY_DESCRIPTION
    )
    verify.add_argument(
        "--app-database-url",
        default=None,
        metavar="URL",
        help="URL logging in as app_user (default: $QUALISYS_APP_DATABASE_URL, else the admin URL with"
        " the user app_user and the password $QUALISYS_APP_USER_PASSWORD)",
    )
    json_option(verify)
    database(verify)
    redis_option(verify, "also ask Redis whether each tenant's ACL user is confined to its own keys")

    seed = action("seed", "deterministic fictional data for the tenants named (idempotent)", SEED_DESCRIPTION)
    seed.add_argument("slugs", nargs="*", metavar="SLUG", help="the tenants to seed (or --all)")
    seed.add_argument("--all", action="store_true", help="seed every registered tenant (default: only those named)")
    seed.add_argument(
        "--create",
        action="store_true",
        help="create the named tenants that do not exist (default: a missing tenant is an error)",
    )
    seed.add_argument(
        "--projects", type=_count, default=3, metavar="N", help="projects per tenant, 0-1000 (default: %(default)s)"
    )
    seed.add_argument(
        "--runs", type=_count, default=5, metavar="N", help="test runs per project, 0-1000 (default: %(default)s)"
    )
    seed.add_argument(
        "--seed",
        type=int,
        default=15,
        metavar="N",
        help="the data set: the same seed gives the same data (default: %(default)s)",
    )
    seed.add_argument("--force", action="store_true", help="allow it in a production database (default: refused)")
    database(seed)
    redis_option(seed, "with --create, also create the new tenants' Redis ACL users")


def _print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Columns as wide as their longest cell, under a header; no trailing spaces."""
    if not rows:
        return
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _database_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    from qualisys_infra.tenancy import urls  # psycopg loads only for tenant commands

    url = urls.require_admin_url(args.database_url, environ, "tenants")

    urls.postgres_params(url)  # a malformed URL is refused before anything else happens
    return url


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
    """Drop the tenant and, with Redis, its ACL user: both or neither; a retry removes a leftover user.

    Without Redis (--keep-redis-user), a warning on stderr names the user left behind.
    """
    from qualisys_infra.tenancy import provision, redis_acl

    if provision.find_tenant(conn, slug) is None and client is not None and redis_acl.user_exists(client, slug):
        redis_acl.drop_user(client, slug)
        print(f"tenants: {slug} was already dropped; removed its leftover Redis ACL user")
        return
    removed: list[bool] = []
    provision.drop_tenant(
        conn,
        slug,
        force=force,
        before_commit=(lambda: removed.append(redis_acl.drop_user(client, slug))) if client else None,
    )
    if client is None:
        print(f"tenants: dropped {slug} and its data")
        user = redis_user(slug)
        print(
            f"warning: tenants drop {slug}: the Redis ACL user {user}, if the tenant had one, was not removed"
            f" (--keep-redis-user) and can still log in; remove it with:"
            f" qualisys-infra tenants drop {slug} --yes --redis-url REDIS_URL",
            file=sys.stderr,
        )
    elif removed and removed[0]:
        print(f"tenants: dropped {slug} and its data and its Redis ACL user")
    else:
        print(f"tenants: dropped {slug} and its data (it had no Redis ACL user)")


def _seed(conn: Connection, args: argparse.Namespace, slugs: list[str], client: redis.Redis | None) -> None:
    """Seed the tenants named (or all); create the missing ones only with --create; one transaction."""
    from qualisys_infra.tenancy import factories, provision

    registered = {t.slug: t for t in provision.list_tenants(conn)}
    if args.all:
        slugs = list(registered)
        if not slugs:
            raise TenancyError("tenants seed --all: no tenants registered; create one first: tenants create SLUG")
    missing = [slug for slug in slugs if slug not in registered]
    if missing and not args.create:
        names = ", ".join(missing)
        raise TenancyError(
            f"tenants seed: no such tenant: {names}; nothing was written. Create it first"
            " (tenants create SLUG) or pass --create"
        )
    if provision.environment(conn) == provision.PROTECTED_ENVIRONMENT and not args.force:
        raise TenancyError("tenants seed: refusing to write test data in a production database without --force")
    for slug in missing:
        _create(conn, slug, client)
    tenants = [registered.get(slug) or provision.find_tenant(conn, slug) for slug in slugs]
    seeded = factories.seed_tenants(
        conn, [t for t in tenants if t is not None], seed=args.seed, projects=args.projects, runs=args.runs
    )
    for slug, result in seeded.items():
        print(f"tenants: seeded {slug}: {result.rows} rows, {result.inserted} new, {result.rewritten} rewritten")
    total = sum(result.rows for result in seeded.values())
    print(
        f"tenants: seeded {len(seeded)} tenant{'' if len(seeded) == 1 else 's'} with {total} rows"
        f" (seed {args.seed}, {args.projects} projects of {args.runs} runs each)"
    )


def _check_arguments(args: argparse.Namespace, redis_url: str | None) -> list[str]:
    """Refuse bad input before connecting to anything; returns the slugs named."""
    command = args.tenants_command
    if command == "drop" and not args.yes:
        raise UsageError(f"tenants drop {args.slug}: deletes the tenant's data; pass --yes to confirm")
    if command in ("create", "drop"):
        validate_slug(args.slug)
    if command == "drop" and not redis_url and not args.keep_redis_user:
        user = redis_user(args.slug)
        raise UsageError(
            f"tenants drop {args.slug}: no Redis URL, so the tenant's Redis ACL user {user} would be left"
            " behind; pass --redis-url (or set QUALISYS_REDIS_URL) to remove it too, or --keep-redis-user"
            " to drop the database side only. Nothing was dropped."
        )
    if command != "seed":
        return []
    if args.all and args.slugs:
        raise UsageError("tenants seed: name the tenants or pass --all, not both")
    if args.all and args.create:
        raise UsageError("tenants seed: --create creates the tenants named; it does nothing with --all")
    if not args.all and not args.slugs:
        raise UsageError("tenants seed: name the tenants to seed (tenants seed acme globex), or pass --all")
    return [validate_slug(slug) for slug in dict.fromkeys(args.slugs)]


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.tenancy import provision, redis_acl, urls, verify

    environ = ctx.environ
    url = _database_url(args, environ)
    redis_url = args.redis_url or environ.get("QUALISYS_REDIS_URL")
    if redis_url:
        urls.check_redis_url(redis_url)
    command = args.tenants_command
    slugs = _check_arguments(args, redis_url)
    # Redis must answer before anything is written in the database: create and drop then do both
    # or neither.
    uses_redis = (
        command == "create" or (command == "drop" and not args.keep_redis_user) or (command == "seed" and args.create)
    )
    client = redis_acl.connect(redis_url) if redis_url and uses_redis else None
    with provision.connect(url) as conn:
        if command == "init":
            applied = provision.init(
                conn, environment=args.environment, app_password=environ.get("QUALISYS_APP_USER_PASSWORD")
            )
            versions = ", ".join(str(version) for version in applied) or "none pending"
            print(f"tenants: initialised ({provision.environment(conn)}); migrations applied: {versions}")
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
                _print_table(
                    ("SLUG", "SCHEMA", "ID", "CREATED (UTC)"),
                    [(t.slug, t.schema, t.id, f"{t.created_at.astimezone(UTC):%Y-%m-%d %H:%M}") for t in tenants],
                )
                print(f"tenants: {len(tenants)}")
        elif command == "drop":
            _drop(conn, args.slug, client, force=args.force)
        elif command == "seed":
            _seed(conn, args, slugs, client)
        else:
            target = (
                args.app_database_url or environ.get("QUALISYS_APP_DATABASE_URL") or urls.app_user_url(url, environ)
            )
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
