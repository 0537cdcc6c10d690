"""Multi-tenant test databases: a real PostgreSQL database with the migrations applied and seeded
tenants, made for a test session (the pytest fixtures) or for a CI job (``qualisys-infra testdb``).

A test database is created from an admin URL (a login that may create databases and roles:
``postgres`` locally), under a unique name by default, and marked with a comment on the database;
:func:`drop` drops only databases carrying that mark, so a typo cannot drop a real database.

Connections as ``app_user`` come from :func:`tenant_connection`: one transaction, the tenant set
with ``set_config('app.current_tenant', ...)`` and ``search_path`` on the tenant's schema, always
rolled back at the end. Roles are cluster-wide, as on a real server: ``app_user``'s password is
set only when one is given (``$QUALISYS_APP_USER_PASSWORD`` for the fixtures and the CLI).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from qualisys_infra.tenancy import factories, provision, urls
from qualisys_infra.tenancy.names import TenancyError, validate_slug
from qualisys_infra.tenancy.sql import APP_ROLE

ADMIN_URL_VARIABLE = "QUALISYS_TEST_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_PASSWORD_VARIABLE = "QUALISYS_APP_USER_PASSWORD"  # noqa: S105 - the name of a variable
DEFAULT_TENANTS = ("acme", "globex")
NAME_PREFIX = "qualisys_test_"
MARK = "qualisys-infra testdb"  # COMMENT ON DATABASE: what drop() requires before dropping
# PostgreSQL identifiers are at most 63 bytes; lower case so that no quoting is ever needed.
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
SEED = 15
PROJECTS = 3
RUNS = 5


Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class TestDatabase:
    """A created test database: its name, URLs (with whatever password was given) and tenants."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    admin_url: str
    app_url: str
    tenants: Mapping[str, provision.Tenant] = field(default_factory=dict)

    def tenant(self, slug: str) -> provision.Tenant:
        """The tenant ``slug``; an unknown slug fails naming the tenants there are."""
        try:
            return self.tenants[slug]
        except KeyError:
            known = ", ".join(self.tenants) or "none"
            raise TenancyError(f"test database {self.name}: no tenant {slug!r}; tenants: {known}") from None


def admin_url(environ: Mapping[str, str]) -> str:
    """``$QUALISYS_TEST_POSTGRES_URL``, else the local server as postgres."""
    return environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


def unique_name(prefix: str = NAME_PREFIX) -> str:
    """``qualisys_test_`` and 12 random hex digits: unique across sessions, machines and CI jobs."""
    return validate_name(f"{prefix}{uuid.uuid4().hex[:12]}")


def validate_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise TenancyError(f"test database name: got {name!r}, expected 1-63 characters matching ^[a-z][a-z0-9_]*$")
    return name


def database_url(url: str, name: str, *, option: str = "--admin-url") -> str:
    """``url`` (a PostgreSQL URL) pointing at database ``name``, everything else kept."""
    urls.postgres_params(url, option=option)  # malformed: one line, exit 2
    scheme, _, rest = url.partition("://")
    at = rest.rfind("@")  # credentials end at the last '@', as urls.py reads them
    credentials, hostpart = rest[: at + 1], rest[at + 1 :]
    hostpart, question, query = hostpart.partition("?")
    authority = hostpart.partition("/")[0]
    return f"{scheme}://{credentials}{authority}/{name}" + (f"?{query}" if question else "")


def app_url_for(url: str, app_password: str | None) -> str:
    """``url`` with the user ``app_user`` and ``app_password`` (none: no password, as with trust auth)."""
    return urls.with_credentials(url, APP_ROLE, app_password)


def create(
    admin: str,
    *,
    name: str | None = None,
    tenants: Sequence[str] = DEFAULT_TENANTS,
    app_password: str | None = None,
    seed: int = SEED,
    projects: int = PROJECTS,
    runs: int = RUNS,
) -> TestDatabase:
    """Create database ``name`` (default: a unique one), apply the migrations, create and seed
    ``tenants``; on any failure the new database is dropped again and the error raised.

    An existing database of that name is an error: nothing is dropped or reused.
    """
    name = validate_name(name) if name is not None else unique_name()
    slugs = [validate_slug(slug) for slug in dict.fromkeys(tenants)]
    with provision.connect(admin, option="--admin-url") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            raise TenancyError(f"test database {name}: already exists; pick another --name or drop it first")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(MARK)))
    url = database_url(admin, name)
    try:
        with provision.connect(url, option="--admin-url") as conn:
            provision.init(conn, environment=provision.TEST_ENVIRONMENT, app_password=app_password)
            made = [provision.create_tenant(conn, slug) for slug in slugs]
            factories.seed_tenants(conn, made, seed=seed, projects=projects, runs=runs)
    except BaseException:
        drop(admin, name)
        raise
    app_url = app_url_for(url, app_password)
    return TestDatabase(name, url, app_url, {t.slug: t for t in made})


def drop(admin: str, name: str) -> bool:
    """Drop test database ``name`` (connections to it are ended); False if there was none.

    Refuses a database that :func:`create` did not make (no mark), whatever its name.
    """
    validate_name(name)
    with provision.connect(admin, option="--admin-url") as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row is None:
            return False
        if row[0] != MARK:
            raise TenancyError(
                f"test database {name}: not made by `qualisys-infra testdb create` (no {MARK!r} comment); not dropped"
            )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return True


def list_databases(admin: str) -> list[str]:
    """The test databases on the server of ``admin`` (the ones :func:`drop` would drop)."""
    with provision.connect(admin, option="--admin-url") as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') = %s ORDER BY 1", (MARK,)
        ).fetchall()
    return [str(r[0]) for r in rows]


@contextmanager
def tenant_connection(database: TestDatabase, slug: str) -> Iterator[Connection]:
    """A connection as ``app_user`` scoped to tenant ``slug``, inside one transaction that is
    always rolled back: ``app.current_tenant`` is the tenant's id and ``search_path`` its schema,
    so ``SELECT * FROM projects`` reads the tenant's own rows through row-level security.

    ``conn.commit()`` inside it is refused by psycopg; a statement expected to fail goes in a
    nested ``with conn.transaction():`` (a savepoint), so the connection stays usable.
    """
    tenant = database.tenant(slug)
    with (
        provision.connect(database.app_url, autocommit=False, option="app_user URL") as conn,
        conn.transaction(force_rollback=True),
    ):
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant.id,))
        conn.execute("SELECT set_config('search_path', %s, true)", (sql.Identifier(tenant.schema).as_string(conn),))
        yield conn
