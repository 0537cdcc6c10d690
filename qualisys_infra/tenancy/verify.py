"""Isolation verification: catalog checks and attack-style probes, run against any database.

Probes run as ``app_user`` inside one transaction that is always rolled back, so ``verify`` can
run against staging (story 0.18 AC7) without leaving data behind. Each check has a name, a
result and a detail; any failure makes the command exit 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from qualisys_infra.tenancy.provision import Tenant, list_tenants
from qualisys_infra.tenancy.sql import APP_ROLE, OWNER_ROLE, TENANT_TABLES

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class _Rejected(Exception):
    """The probe statement failed, as it should (the database refused it)."""


@contextlib.contextmanager
def _attempt(conn: Conn) -> Iterator[None]:
    """Run a probe in a savepoint; a database error becomes :class:`_Rejected` and is undone."""
    try:
        with conn.transaction():
            yield
    except psycopg.Error as exc:
        raise _Rejected(exc.diag.message_primary or type(exc).__name__) from None


def catalog_checks(admin: Conn) -> list[Check]:
    """What the catalog must say: role flags, RLS on every tenant table, no stray policies or rights."""
    checks: list[Check] = []
    for role in (APP_ROLE, OWNER_ROLE):
        row = admin.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
        if row is None:
            checks.append(Check(f"{role} exists", False, "role missing: run `tenants init`"))
            continue
        bad = [
            flag for flag, value in zip(("SUPERUSER", "BYPASSRLS", "CREATEROLE", "CREATEDB"), row, strict=True) if value
        ]
        checks.append(
            Check(
                f"{role} is not superuser and cannot bypass RLS",
                not bad,
                ", ".join(bad) or "none of SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB",
            )
        )
    tenants = list_tenants(admin)
    schemas = [t.schema for t in tenants]
    rows = admin.execute(
        "SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)"
        " ORDER BY 1, 2",
        (schemas,),
    ).fetchall()
    # One read of the policies, grouped here: a query per table is slow at 500 tenants.
    isolation: dict[tuple[str, str], int] = {}
    others: dict[tuple[str, str], int] = {}
    for schema, table, name, permissive, qual, check in admin.execute(
        "SELECT schemaname, tablename, policyname, permissive, qual, with_check FROM pg_policies"
        " WHERE schemaname = ANY(%s)",
        (schemas,),
    ):
        key = (str(schema), str(table))
        good = permissive == "PERMISSIVE" and "app.current_tenant" in str(qual) and "app.current_tenant" in str(check)
        if name == "tenant_isolation" and good:
            isolation[key] = isolation.get(key, 0) + 1
        else:
            others[key] = others.get(key, 0) + 1
    problems = []
    for schema, table, enabled, forced in rows:
        where = f"{schema}.{table}"
        policy, extra = isolation.get((schema, table), 0), others.get((schema, table), 0)
        if not enabled:
            problems.append(f"{where}: RLS disabled")
        if not forced:
            problems.append(f"{where}: RLS not forced")
        if policy != 1:
            problems.append(f"{where}: tenant_isolation policy missing or changed")
        if extra:
            problems.append(f"{where}: {extra} other policy(ies) widen access")
    missing = {t.schema for t in tenants} - {r[0] for r in rows}
    problems += [f"{schema}: no tables" for schema in sorted(missing)]
    checks.append(
        Check(
            "every tenant table has RLS enabled, forced, and only the tenant policy",
            not problems,
            "; ".join(problems) or f"{len(rows)} tables in {len(tenants)} tenant schemas",
        )
    )
    rights = admin.execute(
        """
        SELECT n.nspname FROM pg_namespace n
        WHERE (n.nspname = 'public' OR n.nspname LIKE 'tenant\\_%%' OR n.nspname = 'platform')
          AND has_schema_privilege(%s, n.oid, 'CREATE')
        """,
        (APP_ROLE,),
    ).fetchall()
    database = admin.execute("SELECT has_database_privilege(%s, current_database(), 'TEMP')", (APP_ROLE,)).fetchone()
    granted = [r[0] for r in rights] + (["TEMP on the database"] if database and database[0] else [])
    checks.append(
        Check(
            "app_user cannot create objects (schemas, temp tables)",
            not granted,
            ", ".join(granted) or "no CREATE, no TEMP",
        )
    )
    return checks


def probe_checks(app: Conn, tenants: list[Tenant]) -> list[Check]:
    """Attacks by app_user, as tenant A, on tenant B; rolled back whatever happens."""
    if len(tenants) < 2:
        return [Check("two tenants to probe", False, f"found {len(tenants)}; create at least two tenants")]
    a, b = tenants[0], tenants[1]
    checks: list[Check] = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
            checks.append(Check(name, not detail.startswith("LEAK"), detail))
        except _Rejected as exc:
            checks.append(Check(name, False, f"unexpected error: {exc}"))

    def org(t: Tenant) -> sql.Composable:
        return sql.Identifier(t.schema, "organizations")

    def as_tenant(t: Tenant | None) -> None:
        app.execute("SELECT set_config('app.current_tenant', %s, true)", ("" if t is None else t.id,))

    def count(t: Tenant) -> int:
        row = app.execute(sql.SQL("SELECT count(*) FROM {}").format(org(t))).fetchone()
        return int(row[0]) if row else -1

    def rejected(statement: sql.Composed, params: tuple[Any, ...] = ()) -> str:
        try:
            with _attempt(app):
                app.execute(statement, params)
        except _Rejected as exc:
            return f"rejected: {exc}"
        return "LEAK: accepted"

    user = app.execute("SELECT session_user, current_user").fetchone()
    if not user or user[0] != APP_ROLE:
        return [
            Check(
                "verify connects as app_user",
                False,
                f"connected as {user[0] if user else '?'}; pass --app-database-url",
            )
        ]
    with app.transaction(force_rollback=True):
        as_tenant(b)
        app.execute(sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'probe B')").format(org(b)), (b.id,))
        b_rows = count(b)
        as_tenant(a)
        app.execute(
            sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'probe A') RETURNING id").format(org(a)), (a.id,)
        )

        check(
            "A cannot read B's rows",
            lambda: "LEAK: B's rows visible" if count(b) else f"0 of B's {b_rows} probe rows visible",
        )
        check(
            "A cannot insert rows carrying B's tenant_id",
            lambda: rejected(sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'x')").format(org(a)), (b.id,)),
        )
        check(
            "A cannot move its rows to B",
            lambda: (
                rejected(sql.SQL("UPDATE {} SET tenant_id = %s").format(org(a)), (b.id,))
                if count(a)
                else "LEAK: A's own row not visible"
            ),
        )
        check(
            "A cannot write into B's schema",
            lambda: rejected(sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'x')").format(org(b)), (a.id,)),
        )

        def no_tenant() -> str:
            as_tenant(None)
            seen = count(a) + count(b)
            as_tenant(a)
            return "LEAK: rows visible with no tenant" if seen else "no rows, no error"

        check("no tenant set: no rows", no_tenant)

        def row_security_off(local: bool) -> Callable[[], str]:
            def probe() -> str:
                try:
                    with _attempt(app):
                        app.execute("SET LOCAL row_security = off" if local else "SET row_security = off")
                        seen = count(b)
                except _Rejected as exc:
                    return f"rejected: {exc}"
                finally:
                    app.execute("RESET row_security") if not local else None
                return "LEAK: B's rows visible" if seen else "no rows of B"

            return probe

        check("SET row_security = off exposes nothing", row_security_off(False))
        check("SET LOCAL row_security = off exposes nothing", row_security_off(True))

        def search_path() -> str:
            with _attempt(app):
                app.execute(sql.SQL("SET LOCAL search_path = {}, public").format(sql.Identifier(b.schema)))
                row = app.execute("SELECT count(*) FROM organizations").fetchone()
            return "LEAK: B's rows visible via search_path" if row and row[0] else "no rows of B"

        check("search_path tricks expose nothing", search_path)

        def reset_role() -> str:
            with _attempt(app):
                app.execute("RESET ROLE")
                who = app.execute("SELECT current_user").fetchone()
                seen = count(b)
            if who and who[0] != APP_ROLE:
                return f"LEAK: RESET ROLE became {who[0]}"
            return "LEAK: B's rows visible" if seen else "still app_user, no rows of B"

        check("RESET ROLE gains nothing", reset_role)

        def set_role(role: str) -> Callable[[], str]:
            return lambda: rejected(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

        for role in (OWNER_ROLE, "postgres"):
            check(f"SET ROLE {role} is refused", set_role(role))
        check(
            "A cannot create a view over B's table",
            lambda: rejected(
                sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(sql.Identifier(a.schema, "peek"), org(b))
            ),
        )
        check(
            "A cannot create a function to read B",
            lambda: rejected(
                sql.SQL("CREATE FUNCTION public.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS {}").format(
                    sql.Literal(sql.SQL("SELECT count(*) FROM {}").format(org(b)).as_string(app))
                )
            ),
        )
        check(
            "A cannot create a temporary view",
            lambda: rejected(sql.SQL("CREATE TEMP VIEW peek AS SELECT * FROM {}").format(org(b))),
        )
    return checks


def verify(admin: Conn, app: Conn) -> list[Check]:
    return [*catalog_checks(admin), *probe_checks(app, list_tenants(admin))]


__all__ = ["TENANT_TABLES", "Check", "verify"]
