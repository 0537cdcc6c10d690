"""Isolation verification: catalog checks and attack-style probes, run against any database.

Probes run as ``app_user`` inside one transaction that is always rolled back, so ``verify`` can
run against staging (story 0.18 AC7) without leaving data behind. Each check has a name, a
result and a detail; any failure makes the command exit 1.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from qualisys_infra.tenancy import bypass
from qualisys_infra.tenancy.checks import Check
from qualisys_infra.tenancy.checks import summary as _summary
from qualisys_infra.tenancy.provision import Tenant, list_tenants
from qualisys_infra.tenancy.sql import APP_ROLE, CURRENT_TENANT, OWNER_ROLE, PLATFORM_SCHEMA, TENANT_TABLES

Conn = psycopg.Connection[tuple[Any, ...]]
INSUFFICIENT_PRIVILEGE = "42501"


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


SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence", "f": "foreign table"}
# What app_user may do, and nowhere else: read/write the tenant tables, read the tenant registry.
TENANT_TABLE_RIGHTS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
REGISTRY_RIGHTS = {(PLATFORM_SCHEMA, "tenants"): frozenset({"SELECT"})}
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _expected_policy(admin: Conn) -> str:
    """The tenant predicate as this server deparses it, from a policy built the way ``create`` does."""
    with admin.transaction(force_rollback=True):
        admin.execute("CREATE TEMP TABLE qualisys_policy_probe (tenant_id uuid)")
        admin.execute(
            sql.SQL("CREATE POLICY tenant_isolation ON qualisys_policy_probe USING (tenant_id = {})").format(
                sql.SQL(CURRENT_TENANT)
            )
        )
        row = admin.execute(
            "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'qualisys_policy_probe'::regclass"
        ).fetchone()
    assert row is not None  # noqa: S101 - the policy was created just above
    return str(row[0])


def _rls_check(admin: Conn, schemas: list[str]) -> Check:
    expected = _expected_policy(admin)
    tables = admin.execute(
        "SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)"
        " ORDER BY 1, 2",
        (schemas,),
    ).fetchall()
    # One read of the policies, grouped here: a query per table is slow at 500 tenants.
    policies: dict[tuple[str, str], list[tuple[str, bool, str, list[str], str | None, str | None]]] = {}
    for schema, table, name, permissive, cmd, roles, qual, check in admin.execute(
        "SELECT n.nspname, c.relname, p.polname, p.polpermissive, p.polcmd::text,"
        " ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END FROM unnest(p.polroles) r),"
        " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
        " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s)",
        (schemas,),
    ):
        policies.setdefault((schema, table), []).append((name, permissive, cmd, roles, qual, check))
    problems = []
    for schema, table, enabled, forced in tables:
        where = f"{schema}.{table}"
        if not enabled:
            problems.append(f"{where}: RLS disabled")
        if not forced:
            problems.append(f"{where}: RLS not forced")
        own = [p for p in policies.get((schema, table), []) if p[0] == "tenant_isolation"]
        others = [p for p in policies.get((schema, table), []) if p[0] != "tenant_isolation"]
        if not own:
            problems.append(f"{where}: tenant_isolation policy missing")
        for name, permissive, cmd, roles, qual, check in own:
            if not permissive or cmd != "*" or roles != ["PUBLIC"]:
                kind = "PERMISSIVE" if permissive else "RESTRICTIVE"
                problems.append(
                    f"{where}: policy {name} is {kind} FOR {cmd} TO {','.join(roles)}, expected PERMISSIVE FOR ALL"
                    " TO PUBLIC"
                )
            for clause, text in (("USING", qual), ("WITH CHECK", check)):
                if text != expected:
                    problems.append(f"{where}: policy {name} {clause} is {text!r}, expected {expected!r}")
        widening = [p[0] for p in others if p[1]]
        narrowing = [p[0] for p in others if not p[1]]
        if widening:
            problems.append(f"{where}: {len(widening)} other policy(ies) widen access ({', '.join(widening)})")
        if narrowing:
            problems.append(f"{where}: unexpected restrictive policy(ies) ({', '.join(narrowing)})")
    for schema in schemas:
        present = {t for s, t, _, _ in tables if s == schema}
        missing = [t for t in TENANT_TABLES if t not in present]
        if len(missing) == len(TENANT_TABLES):
            problems.append(f"{schema}: no tables")
        elif missing:
            problems.append(f"{schema}: missing {', '.join(missing)}")
    return Check(
        "every tenant table has RLS enabled, forced, and only the tenant policy",
        not problems,
        _summary(problems, f"{len(tables)} tables in {len(schemas)} tenant schemas"),
    )


def _ownership_check(admin: Conn, schemas: list[str]) -> Check:
    """The owner role owns every tenant schema and what is in it (and the platform schema's);
    app_user owns nothing in the database (an owner can turn RLS off, and bypasses it unless forced).
    """
    owned = [*schemas, PLATFORM_SCHEMA]
    problems = [
        f"{what}: owned by {owner}"
        for what, owner in admin.execute(
            """
            SELECT 'schema ' || n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n
            WHERE n.nspname = ANY(%(schemas)s) AND pg_get_userbyid(n.nspowner) <> %(owner)s
            UNION ALL
            SELECT n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(%(schemas)s) AND pg_get_userbyid(c.relowner) <> %(owner)s
            UNION ALL
            SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY(%(schemas)s) AND pg_get_userbyid(p.proowner) <> %(owner)s
            ORDER BY 1
            """,
            {"schemas": owned, "owner": OWNER_ROLE},
        )
    ]
    problems += [
        f"{APP_ROLE} owns {what}"
        for (what,) in admin.execute(
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_shdepend d"
            " WHERE d.deptype = 'o' AND d.refclassid = 'pg_authid'::regclass AND d.refobjid = %s::regrole"
            " AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1",
            (APP_ROLE,),
        )
    ]
    return Check(
        f"tenant schemas and their objects are owned by {OWNER_ROLE}, {APP_ROLE} owns nothing",
        not problems,
        _summary(problems, f"{len(schemas)} tenant schemas owned by {OWNER_ROLE}"),
    )


def _rights_check(admin: Conn, schemas: list[str]) -> Check:
    """Every relation app_user can reach (USAGE on its schema and a privilege on it, granted to it,
    to PUBLIC or to a role it belongs to: ``has_*_privilege`` resolves all three) against the plan.
    """
    problems = []
    for schema, name, kind, rights in admin.execute(
        """
            SELECT n.nspname, c.relname, c.relkind::text, ARRAY(
                SELECT p FROM unnest(%(privileges)s::text[]) p
                WHERE CASE WHEN c.relkind = 'S' THEN p IN ('SELECT', 'UPDATE')
                           AND has_sequence_privilege(%(app)s, c.oid, p)
                      ELSE has_table_privilege(%(app)s, c.oid, p)
                           OR (p IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                               AND has_any_column_privilege(%(app)s, c.oid, p)) END
                UNION ALL
                SELECT 'USAGE' WHERE c.relkind = 'S' AND has_sequence_privilege(%(app)s, c.oid, 'USAGE'))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> ALL(%(system)s)
              AND n.nspname !~ '^pg_(toast_)?temp_' AND has_schema_privilege(%(app)s, n.oid, 'USAGE')
            ORDER BY 1, 2
            """,
        {"privileges": list(TABLE_PRIVILEGES), "app": APP_ROLE, "system": list(SYSTEM_SCHEMAS)},
    ):
        granted = frozenset(rights)
        if not granted:
            continue
        if schema in schemas and name in TENANT_TABLES and kind in ("r", "p"):
            allowed = TENANT_TABLE_RIGHTS
        else:
            allowed = REGISTRY_RIGHTS.get((schema, name), frozenset())
        extra = sorted(granted - allowed)
        if extra:
            problems.append(f"{schema}.{name}: {', '.join(extra)}")
    return Check(
        f"{APP_ROLE} has only the intended rights on tables and sequences",
        not problems,
        _summary(problems, "tenant tables: SELECT, INSERT, UPDATE, DELETE; platform.tenants: SELECT; nothing else"),
    )


@dataclass(frozen=True, slots=True)
class _View:
    schema: str
    name: str
    kind: str
    owner: str
    flags: tuple[str, ...]
    reads: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}" + (f" ({RELKINDS[self.kind]})" if self.kind == "m" else "")


def _readable_views(admin: Conn, schemas: list[str]) -> list[_View]:
    """Every view and materialized view app_user can read, with the tenant tables it reads
    (followed through views of views) and its owner's flags."""
    return [
        _View(str(schema), str(name), str(kind), str(owner), tuple(flags), tuple(reads))
        for schema, name, kind, owner, flags, reads in admin.execute(
            """
        WITH RECURSIVE reads(view_oid, rel_oid) AS (
            SELECT r.ev_class, d.refobjid FROM pg_rewrite r
            JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
            UNION
            SELECT reads.view_oid, d.refobjid FROM reads
            JOIN pg_rewrite r ON r.ev_class = reads.rel_oid
            JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
        )
        SELECT n.nspname, v.relname, v.relkind::text, o.rolname,
               ARRAY_REMOVE(ARRAY[CASE WHEN o.rolsuper THEN 'SUPERUSER' END,
                                  CASE WHEN o.rolbypassrls THEN 'BYPASSRLS' END], NULL),
               ARRAY(SELECT DISTINCT tn.nspname || '.' || t.relname FROM reads
                     JOIN pg_class t ON t.oid = reads.rel_oid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                     WHERE reads.view_oid = v.oid AND t.relkind IN ('r', 'p') AND tn.nspname = ANY(%(schemas)s)
                     ORDER BY 1)
        FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace JOIN pg_roles o ON o.oid = v.relowner
        WHERE v.relkind IN ('v', 'm') AND n.nspname <> ALL(%(system)s)
          AND has_schema_privilege(%(app)s, n.oid, 'USAGE')
          AND (has_table_privilege(%(app)s, v.oid, 'SELECT') OR has_any_column_privilege(%(app)s, v.oid, 'SELECT'))
        ORDER BY 1, 2
        """,
            {"schemas": schemas, "system": list(SYSTEM_SCHEMAS), "app": APP_ROLE},
        )
    ]


def _views_check(views: list[_View]) -> Check:
    """Views run as their owner (unless security_invoker): one readable by app_user over tenant
    tables, or owned by a role that bypasses RLS, reads past the policies. Materialized views hold
    a copy made by their owner, with no RLS at all. Followed through views of views.
    """
    problems = []
    for view in views:
        if view.flags or view.reads or view.kind == "m":
            why = f"owned by {view.owner}" + (f" ({', '.join(view.flags)})" if view.flags else "")
            problems.append(f"{view.label}: {why}" + (f", reads {', '.join(view.reads)}" if view.reads else ""))
    return Check(
        "no view readable by app_user reads tenant tables or bypasses RLS",
        not problems,
        _summary(problems, "none"),
    )


def _create_check(admin: Conn) -> Check:
    rights = admin.execute(
        "SELECT 'CREATE on schema ' || n.nspname FROM pg_namespace n"
        " WHERE n.nspname !~ '^pg_(toast_)?temp_'"
        " AND has_schema_privilege(%s, n.oid, 'CREATE') ORDER BY 1",
        (APP_ROLE,),
    ).fetchall()
    database = admin.execute(
        "SELECT has_database_privilege(%s, current_database(), 'TEMP'),"
        " has_database_privilege(%s, current_database(), 'CREATE')",
        (APP_ROLE, APP_ROLE),
    ).fetchone()
    granted = [str(r[0]) for r in rights]
    if database and database[0]:
        granted.append("TEMP on the database")
    if database and database[1]:
        granted.append("CREATE on the database")
    return Check(
        "app_user cannot create objects (schemas, temp tables)",
        not granted,
        ", ".join(granted) or "no CREATE, no TEMP",
    )


@dataclass(frozen=True, slots=True)
class Targets:
    """What the catalog found for the probes to attempt: roles app_user must not become, and the
    views it can read that read tenant tables."""

    roles: tuple[str, ...] = ()
    views: tuple[tuple[str, str], ...] = field(default=())


def _catalog(admin: Conn) -> tuple[list[Check], Targets]:
    """Every catalog check, read in one transaction with only pg_catalog on the search path, so
    that every object outside it is named with its schema."""
    with admin.transaction(force_rollback=True):
        admin.execute("SET LOCAL search_path = pg_catalog")
        return _catalog_read(admin)


def _catalog_read(admin: Conn) -> tuple[list[Check], Targets]:
    tenants = list_tenants(admin)
    schemas = [t.schema for t in tenants]
    if bypass.design_roles_missing(admin):
        return bypass.attribute_checks(admin), Targets()  # they name the missing roles
    views = _readable_views(admin, schemas)
    checks = [
        *bypass.attribute_checks(admin),
        *bypass.membership_checks(admin, schemas),
        bypass.owner_logins_check(admin),
        bypass.settings_check(admin),
        _rls_check(admin, schemas),
        _ownership_check(admin, schemas),
        _rights_check(admin, schemas),
        bypass.grants_check(admin, schemas),
        _views_check(views),
        bypass.triggers_check(admin, schemas),
        bypass.calls_check(admin, schemas),
        bypass.functions_check(admin),
        bypass.system_rights_check(admin),
        bypass.default_privileges_check(admin, schemas),
        bypass.channels_check(admin, schemas),
        _create_check(admin),
    ]
    targets = Targets(
        roles=tuple(r for r in bypass.privileged_roles(admin, schemas) if r != OWNER_ROLE),
        views=tuple((v.schema, v.name) for v in views if v.reads or v.kind == "m" or v.flags),
    )
    return checks, targets


def catalog_checks(admin: Conn) -> list[Check]:
    """What the catalog must say, over every tenant: role attributes, memberships and who acts as
    the owner, session settings, RLS and the exact policy on every table, ownership, app_user's
    rights and every other grant on tenant objects, views, triggers, rules and event triggers,
    the functions tenant tables call, SECURITY DEFINER and LEAKPROOF functions, restricted
    system objects, default privileges, publications and foreign servers, no CREATE or TEMP.
    """
    return _catalog(admin)[0]


def _pairs(tenants: list[Tenant]) -> list[tuple[Tenant, Tenant]]:
    """Each tenant against the next (a ring): every tenant attacks and is attacked, in O(N)."""
    return [(tenants[i], tenants[(i + 1) % len(tenants)]) for i in range(len(tenants))]


def probe_checks(app: Conn, tenants: list[Tenant], targets: Targets | None = None) -> list[Check]:
    """Attacks by app_user over every tenant, rolled back whatever happens.

    Reads are checked for every pair: as each tenant in turn, one statement counts the rows of
    every other tenant's tables it can see (after a probe row was written into each table as its
    own tenant). Writes go from each tenant to the next. Session tricks use the first two. Then
    each path around the policy is attempted and must be refused for lack of rights: logical
    decoding and replication connections, SET ROLE to every privileged role of ``targets``, SET
    SESSION AUTHORIZATION, turning B's row-level security off, server files, the planner's
    statistics, and reading, with no tenant set, each view of ``targets``.
    """
    targets = targets or Targets()
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

    # Rows of every tenant table whose tenant_id is not the given one (all visible rows, with none):
    # a cheap total first (one scalar subquery per table plans far faster than a UNION), and the
    # breakdown by table only when the total is not zero. Both are prepared once by psycopg.
    tables = {f"{t.schema}.{table}": sql.Identifier(t.schema, table) for t in tenants for table in TENANT_TABLES}
    other = sql.SQL("tenant_id IS DISTINCT FROM %(t)s::uuid")
    foreign_total = sql.SQL("SELECT {}").format(
        sql.SQL(" + ").join(
            sql.SQL("(SELECT count(*) FROM {} WHERE {})").format(name, other) for name in tables.values()
        )
    )
    foreign_rows = sql.SQL("SELECT rel, count(*) FROM ({}) AS seen WHERE {} GROUP BY rel ORDER BY rel").format(
        sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} AS rel, tenant_id FROM {}").format(sql.Literal(label), name)
            for label, name in tables.items()
        ),
        other,
    )

    def foreign(t: Tenant | None) -> list[str]:
        """What tenant ``t`` (or no tenant) sees of others: ``schema.table: N row(s)``."""
        as_tenant(t)
        params = {"t": None if t is None else t.id}
        total = app.execute(foreign_total, params).fetchone()
        if total is not None and total[0] == 0:
            return []
        return [f"{rel}: {n} row(s)" for rel, n in app.execute(foreign_rows, params).fetchall()]

    def rejected(statement: sql.Composed | sql.SQL, params: tuple[Any, ...] = (), *, for_rights: bool = False) -> str:
        """``statement`` in a savepoint that is always undone; it must fail (``for_rights``: with
        insufficient_privilege, so that it was refused, not merely failed for another reason)."""
        try:
            with app.transaction(force_rollback=True):
                app.execute(statement, params)
        except psycopg.Error as exc:
            message = exc.diag.message_primary or type(exc).__name__
            if for_rights and exc.sqlstate != INSUFFICIENT_PRIVILEGE:
                return f"LEAK: not refused for lack of rights: {message}"
            return f"rejected: {message}"
        return "LEAK: accepted"

    def each_pair(attack: Callable[[Tenant, Tenant], str]) -> Callable[[], str]:
        def run() -> str:
            leaks, details = [], set()
            for x, y in _pairs(tenants):
                detail = attack(x, y)
                details.add(detail.split(":", 1)[0])
                if detail.startswith("LEAK"):
                    leaks.append(f"{x.slug} -> {y.slug}: {detail.removeprefix('LEAK: ')}")
            if leaks:
                return "LEAK: " + _summary(leaks, "")
            return f"{', '.join(sorted(details))}, for each of {len(tenants)} tenants against the next"

        return run

    user = app.execute("SELECT session_user, current_user").fetchone()
    if not user or user[0] != APP_ROLE:
        return [
            Check(
                "verify connects as app_user",
                False,
                f"connected as {user[0] if user else '?'}; pass --app-database-url",
            )
        ]
    check("a new app_user session has no tenant and no other role", lambda: _session_start(app))
    check("app_user cannot open a replication connection", lambda: _replication_connection(app))
    if len(tenants) < 2:
        return [*checks, Check("two tenants to probe", False, f"found {len(tenants)}; create at least two tenants")]
    a, b = tenants[0], tenants[1]
    with app.transaction(force_rollback=True):
        try:
            with _attempt(app):
                for t in tenants:  # one probe row in every table, written as its own tenant
                    as_tenant(t)
                    app.execute(
                        sql.SQL(
                            "WITH o AS (INSERT INTO {} (tenant_id, name) VALUES (%(t)s, 'probe') RETURNING id),"
                            " p AS (INSERT INTO {} (tenant_id, organization_id, name)"
                            " SELECT %(t)s, id, 'probe' FROM o RETURNING id)"
                            " INSERT INTO {} (tenant_id, project_id, status) SELECT %(t)s, id, 'queued' FROM p"
                        ).format(org(t), sql.Identifier(t.schema, "projects"), sql.Identifier(t.schema, "test_runs")),
                        {"t": t.id},
                    )
        except _Rejected as exc:
            return [*checks, Check("app_user can write probe rows as each tenant", False, f"unexpected error: {exc}")]

        def read_all() -> str:
            leaks = [f"as {t.schema}: {seen}" for t in tenants for seen in foreign(t)]
            if leaks:
                return "LEAK: " + _summary(leaks, "")
            return f"as each of {len(tenants)} tenants, no row of the {len(tenants) - 1} others visible"

        check("A cannot read B's rows", lambda: _attempted(app, read_all))

        def insert_carrying(x: Tenant, y: Tenant) -> str:
            as_tenant(x)
            return rejected(sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'x')").format(org(x)), (y.id,))

        def move_rows(x: Tenant, y: Tenant) -> str:
            as_tenant(x)
            if not count(x):
                return "LEAK: its own rows not visible"
            return rejected(sql.SQL("UPDATE {} SET tenant_id = %s").format(org(x)), (y.id,))

        def write_into(x: Tenant, y: Tenant) -> str:
            as_tenant(x)
            return rejected(sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, 'x')").format(org(y)), (x.id,))

        check("A cannot insert rows carrying B's tenant_id", each_pair(insert_carrying))
        check("A cannot move its rows to B", each_pair(move_rows))
        check("A cannot write into B's schema", each_pair(write_into))
        as_tenant(a)

        def no_tenant() -> str:
            seen = foreign(None)
            as_tenant(a)
            return "LEAK: rows visible with no tenant: " + _summary(seen, "") if seen else "no rows, no error"

        check("no tenant set: no rows", lambda: _attempted(app, no_tenant))

        def row_security_off(local: bool) -> Callable[[], str]:
            def probe() -> str:
                try:
                    with _attempt(app):
                        app.execute("SET LOCAL row_security = off" if local else "SET row_security = off")
                        seen = foreign(a)
                except _Rejected as exc:
                    return f"rejected: {exc}"
                finally:
                    app.execute("RESET row_security") if not local else None
                return "LEAK: other tenants' rows visible: " + _summary(seen, "") if seen else "no rows of others"

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
                seen = foreign(a)
            if who and who[0] != APP_ROLE:
                return f"LEAK: RESET ROLE became {who[0]}"
            return (
                "LEAK: other tenants' rows visible: " + _summary(seen, "")
                if seen
                else "still app_user, no rows of others"
            )

        check("RESET ROLE gains nothing", reset_role)

        def set_role(role: str) -> Callable[[], str]:
            return lambda: rejected(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

        check(f"SET ROLE {OWNER_ROLE} is refused", set_role(OWNER_ROLE))

        def each_refused(statements: list[tuple[str, sql.Composed]]) -> Callable[[], str]:
            def run() -> str:
                results = [(what, rejected(statement, for_rights=True)) for what, statement in statements]
                leaks = [f"{what}: {r.removeprefix('LEAK: ')}" for what, r in results if r.startswith("LEAK")]
                if leaks:
                    return "LEAK: " + _summary(leaks, "")
                reasons = sorted({r.removeprefix("rejected: ") for _, r in results})
                return f"rejected for {', '.join(what for what, _ in results) or 'none'}: " + _summary(reasons, "")

            return run

        check(
            "SET ROLE to a privileged role is refused",
            each_refused([(role, sql.SQL("SET ROLE {}").format(sql.Identifier(role))) for role in targets.roles]),
        )
        check(
            "SET SESSION AUTHORIZATION is refused",
            each_refused(
                [
                    (role, sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(role)))
                    for role in (*targets.roles, OWNER_ROLE)
                ]
            ),
        )
        slot = f"qualisys_verify_{uuid.uuid4().hex[:12]}"
        check("A cannot start logical decoding", lambda: _logical_decoding(app, slot))
        check(
            "A cannot turn B's row-level security off",
            each_refused(
                [
                    (text.format(f"{b.schema}.organizations"), sql.SQL(text).format(org(b)))
                    for text in (
                        "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY",
                        "ALTER TABLE {} DISABLE ROW LEVEL SECURITY",
                        "DROP POLICY tenant_isolation ON {}",
                    )
                ]
            ),
        )
        nowhere = f"/nonexistent-qualisys-verify-{uuid.uuid4().hex[:12]}/probe"
        check(
            "A cannot read or write the server's files",
            each_refused(
                [
                    (
                        "read B's data file",
                        sql.SQL("SELECT pg_read_binary_file(pg_relation_filepath({}))").format(
                            sql.Literal(org(b).as_string(app))
                        ),
                    ),
                    ("COPY from a file", sql.SQL("COPY {} (name) FROM {}").format(org(a), sql.Literal(nowhere))),
                    ("COPY to a file", sql.SQL("COPY (SELECT 1 WHERE false) TO {}").format(sql.Literal(nowhere))),
                ]
            ),
        )
        check(
            "A cannot read the planner's statistics of B's columns",
            lambda: rejected(sql.SQL("SELECT 1 FROM pg_catalog.pg_statistic LIMIT 1"), for_rights=True),
        )

        def views_without_tenant() -> str:
            as_tenant(None)
            leaks: list[str] = []
            seen: list[str] = []
            for schema, name in targets.views:
                label = f"{schema}.{name}"
                try:
                    with app.transaction(force_rollback=True):
                        row = app.execute(
                            sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS v").format(
                                sql.Identifier(schema, name)
                            )
                        ).fetchone()
                except psycopg.Error as exc:
                    seen.append(f"{label}: rejected: {exc.diag.message_primary}")
                    continue
                (leaks if row and row[0] else seen).append(label)
            as_tenant(a)
            if leaks:
                return "LEAK: rows visible with no tenant set through " + _summary(leaks, "")
            return f"no rows through {_summary(seen, '')}" if seen else "no readable view reads tenant tables"

        check("views show no rows with no tenant set", views_without_tenant)
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


def _session_start(app: Conn) -> str:
    """A session that sets no tenant starts with none (no ``ALTER ROLE/DATABASE ... SET
    app.current_tenant``) and as app_user itself (no ``SET role``)."""
    row = app.execute("SELECT current_user, current_setting('app.current_tenant', true)").fetchone()
    user, tenant = (str(row[0]), row[1]) if row else ("?", None)
    problems = []
    if user != APP_ROLE:
        problems.append(f"sessions run as {user}")
    if tenant:
        problems.append(f"sessions start as tenant {tenant}")
    return "LEAK: " + "; ".join(problems) if problems else "no tenant, current_user app_user"


def _replication_connection(app: Conn) -> str:
    """A logical replication connection (``replication=database``) as app_user is refused: one
    would stream every tenant's changes past row-level security."""
    params: dict[str, Any] = dict(app.info.get_parameters())
    if app.info.password:
        params["password"] = app.info.password
    params.setdefault("connect_timeout", "10")
    try:
        replication = psycopg.connect(replication="database", autocommit=True, **params)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"rejected: {message.rpartition('FATAL:')[2].strip()}"
    replication.close()
    return "LEAK: app_user opened a replication connection (replication=database)"


def _logical_decoding(app: Conn, slot: str) -> str:
    """``pg_create_logical_replication_slot`` is refused for lack of rights (a temporary slot, and
    dropped at once if it was made; any other error means the rights check passed)."""
    try:
        with app.transaction(force_rollback=True):
            app.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput', true)", (slot,))
    except psycopg.Error as exc:
        message = exc.diag.message_primary or type(exc).__name__
        if exc.sqlstate == INSUFFICIENT_PRIVILEGE:
            return f"rejected: {message}"
        return f"LEAK: not refused for lack of rights: {message}"
    with contextlib.suppress(psycopg.Error), app.transaction(force_rollback=True):
        app.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    return f"LEAK: created replication slot {slot}"


def _attempted(conn: Conn, probe: Callable[[], str]) -> str:
    """``probe`` in a savepoint: a database error fails the check with its message."""
    with _attempt(conn):
        return probe()


def verify(admin: Conn, app: Conn) -> list[Check]:
    checks, targets = _catalog(admin)
    return [*checks, *probe_checks(app, list_tenants(admin), targets)]


__all__ = ["TENANT_TABLES", "Check", "verify"]
