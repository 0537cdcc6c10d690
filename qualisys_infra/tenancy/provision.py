"""Provisioning: roles, versioned migrations, tenant create/drop/list (seed data: factories.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from qualisys_infra.core.data_access import RDS_IAM_ROLE
from qualisys_infra.core.naming import ENVIRONMENT_NAME
from qualisys_infra.tenancy import urls
from qualisys_infra.tenancy.names import TenancyError, schema_name, validate_slug
from qualisys_infra.tenancy.sql import (
    APP_ROLE,
    MIGRATIONS,
    OWNER_ROLE,
    PLATFORM_SCHEMA,
    create_tenant_statements,
)

LOCK_KEY = 0x51A11515  # pg_advisory_xact_lock key serializing DDL of the tenancy schema
# What the database serves, recorded in it by `init`: an environment's name (environments/<name>.tfvars,
# checked as naming.ENVIRONMENT_NAME; tenancy reads no settings, so any such name is accepted) or
# TEST_ENVIRONMENT, the test databases' (testdb.py). Dropping the tenants of PROTECTED_ENVIRONMENT
# takes --force.
DEFAULT_ENVIRONMENT = "dev"
TEST_ENVIRONMENT = "test"
PROTECTED_ENVIRONMENT = "production"


def check_environment(name: str) -> str:
    """``name`` when it can name what a database serves: an environment's name (or ``test``)."""
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise TenancyError(
            f"--environment: got {name!r}, expected an environment of environments/*.tfvars (a DNS label "
            f"from a letter, like staging) or {TEST_ENVIRONMENT}"
        )
    return name


class DatabaseError(TenancyError):
    """The database refused or failed a statement (not a bad input): exit code 1."""

    exit_code = 1


@contextmanager
def connect(
    url: str, *, autocommit: bool = True, option: str = "--database-url"
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection; every driver error becomes a one-line :class:`TenancyError`, the URL masked.

    The URL is parsed by :func:`urls.postgres_params` and passed as keywords. Failing to connect
    (malformed URL, unreachable server, unknown database, refused login) is exit 2, a problem
    with the URL given; a statement failing once connected is a :class:`DatabaseError`, exit 1.

    Autocommit by default: every unit of work is an explicit ``conn.transaction()`` block, which
    then commits on its own (in a non-autocommit connection it would be a savepoint of an
    implicit transaction that is never committed).
    """
    params = urls.postgres_params(url, option=option)
    params.setdefault("connect_timeout", "10")
    try:
        conn = psycopg.connect(autocommit=autocommit, **params)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise TenancyError(f"database: cannot connect to {urls.mask(url)}: {_reason(exc, url)}") from None
    try:
        yield conn
    except psycopg.errors.InsufficientPrivilege as exc:
        raise TenancyError(f"database: missing rights on {urls.mask(url)}: {_reason(exc, url)}") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"database: {urls.mask(url)}: {_reason(exc, url)}") from None
    finally:
        conn.close()


def _reason(exc: psycopg.Error, url: str) -> str:
    """The driver's message on one line, the password scrubbed out of it."""
    text = (exc.diag.message_primary if exc.diag.message_primary else str(exc)) or type(exc).__name__
    return urls.scrub(text, url)


def init(
    conn: psycopg.Connection[tuple[object, ...]], *, environment: str | None, app_password: str | None
) -> list[int]:
    """Create the roles, lock down PUBLIC, apply pending migrations; returns the versions applied.

    ``environment`` is recorded in ``platform.settings``; None keeps the one recorded, or records
    ``dev`` on a first init (so that running init again never turns production into dev).
    """
    if environment is not None:
        check_environment(environment)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        for role, login in ((OWNER_ROLE, "NOLOGIN"), (APP_ROLE, "LOGIN")):
            current = conn.execute(
                "SELECT rolcanlogin, rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR rolreplication"
                " FROM pg_roles WHERE rolname = %s",
                (role,),
            ).fetchone()
            flags = sql.SQL(login + " NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION")
            if current is None:
                conn.execute(sql.SQL("CREATE ROLE {} WITH {}").format(sql.Identifier(role), flags))
            elif current != (login == "LOGIN", False):
                # Roles are cluster-wide: altering only when needed keeps concurrent `init`s of
                # different databases from colliding ("tuple concurrently updated").
                conn.execute(sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(role), flags))
        # On RDS (the only server with rds_iam) app_user signs in with IAM tokens and has no password
        # (qualisys_infra.core.data_access says why); elsewhere it keeps the password it is given.
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RDS_IAM_ROLE,)).fetchone():
            if app_password:
                raise TenancyError(
                    f"{APP_ROLE}: this server has {RDS_IAM_ROLE} (RDS), where {APP_ROLE} signs in with IAM tokens"
                    " and has no password; unset QUALISYS_APP_USER_PASSWORD"
                )
            member = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (APP_ROLE, RDS_IAM_ROLE)).fetchone()
            if not (member and member[0]):
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RDS_IAM_ROLE), sql.Identifier(APP_ROLE)))
                conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD NULL").format(sql.Identifier(APP_ROLE)))
        if app_password:
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(app_password))
            )
        # The provisioning login becomes a member of the owner role so it can create objects as it.
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(OWNER_ROLE)))
        database = conn.execute("SELECT current_database()").fetchone()
        db = sql.Identifier(str(database[0])) if database else sql.SQL("CURRENT_DATABASE")
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(APP_ROLE)))
        conn.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(db, sql.Identifier(OWNER_ROLE)))
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(PLATFORM_SCHEMA), sql.Identifier(OWNER_ROLE)
            )
        )
        # Everything from here on is created by, and owned by, the owner role.
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations (version integer PRIMARY KEY,"
                " description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(PLATFORM_SCHEMA))
        )
        done = {
            int(row[0])  # type: ignore[call-overload]
            for row in conn.execute(
                sql.SQL("SELECT version FROM {}.schema_migrations").format(sql.Identifier(PLATFORM_SCHEMA))
            )
        }
        applied = []
        for version, description, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version, description) VALUES (%s, %s)").format(
                    sql.Identifier(PLATFORM_SCHEMA)
                ),
                (version, description),
            )
            applied.append(version)
        conn.execute(
            sql.SQL("INSERT INTO {}.settings (key, value) VALUES ('environment', %s) ON CONFLICT (key) DO {}").format(
                sql.Identifier(PLATFORM_SCHEMA),
                sql.SQL("NOTHING" if environment is None else "UPDATE SET value = EXCLUDED.value"),
            ),
            (environment or DEFAULT_ENVIRONMENT,),
        )
    return applied


@dataclass(frozen=True, slots=True)
class Tenant:
    slug: str
    schema: str
    id: str
    created_at: datetime


def _require_init(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    row = conn.execute("SELECT to_regclass('platform.tenants')").fetchone()
    if row is None or row[0] is None:
        raise TenancyError("database: not initialised for tenants; run `qualisys-infra tenants init` first")


def list_tenants(conn: psycopg.Connection[tuple[object, ...]]) -> list[Tenant]:
    _require_init(conn)
    rows = conn.execute("SELECT slug, schema_name, id::text, created_at FROM platform.tenants ORDER BY slug").fetchall()
    return [Tenant(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]  # type: ignore[arg-type]


def find_tenant(conn: psycopg.Connection[tuple[object, ...]], slug: str) -> Tenant | None:
    """The registered tenant ``slug``, or None."""
    validate_slug(slug)
    return next((t for t in list_tenants(conn) if t.slug == slug), None)


def create_tenant(
    conn: psycopg.Connection[tuple[object, ...]],
    slug: str,
    *,
    before_commit: Callable[[Tenant], object] | None = None,
) -> Tenant:
    """One transaction: the schema with RLS, its grants, and the registry row; all or nothing.

    ``before_commit`` runs inside the transaction once everything is written (the Redis ACL user,
    say): if it raises, nothing is committed.
    """
    schema = schema_name(slug)
    tenant_id = str(uuid.uuid4())
    _require_init(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if conn.execute("SELECT 1 FROM platform.tenants WHERE slug = %s", (slug,)).fetchone():
            raise TenancyError(f"tenant {slug!r} already exists")
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            raise TenancyError(f"schema {schema!r} already exists but is not a registered tenant; drop it first")
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        for statement in create_tenant_statements(schema, tenant_id):
            conn.execute(statement)
        row = conn.execute(
            "INSERT INTO platform.tenants (id, slug, schema_name) VALUES (%s, %s, %s) RETURNING created_at",
            (tenant_id, slug, schema),
        ).fetchone()
        assert row is not None  # noqa: S101 - INSERT ... RETURNING always returns the row
        tenant = Tenant(slug, schema, tenant_id, row[0])  # type: ignore[arg-type]
        if before_commit is not None:
            before_commit(tenant)
    return tenant


def environment(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("SELECT value FROM platform.settings WHERE key = 'environment'").fetchone()
    return str(row[0]) if row else "unknown"


def drop_tenant(
    conn: psycopg.Connection[tuple[object, ...]],
    slug: str,
    *,
    force: bool = False,
    before_commit: Callable[[], object] | None = None,
) -> None:
    """Drop the tenant's schema and registry row; refused in production unless ``force``.

    ``before_commit`` runs inside the transaction after the drop (removing the Redis ACL user,
    say): if it raises, nothing is dropped.
    """
    validate_slug(slug)
    _require_init(conn)
    if environment(conn) == PROTECTED_ENVIRONMENT and not force:
        raise TenancyError(f"tenant {slug!r}: refusing to drop a tenant in production without --force")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        row = conn.execute("SELECT schema_name FROM platform.tenants WHERE slug = %s", (slug,)).fetchone()
        if row is None:
            raise TenancyError(f"tenant {slug!r} does not exist")
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(str(row[0]))))
        conn.execute("DELETE FROM platform.tenants WHERE slug = %s", (slug,))
        if before_commit is not None:
            before_commit()
