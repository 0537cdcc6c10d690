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
from qualisys_infra.tenancy.sql import APP_ROLE, CURRENT_TENANT, OWNER_ROLE, PLATFORM_SCHEMA, TENANT_TABLES

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


SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence", "f": "foreign table"}
# What app_user may do, and nowhere else: read/write the tenant tables, read the tenant registry.
TENANT_TABLE_RIGHTS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
REGISTRY_RIGHTS = {(PLATFORM_SCHEMA, "tenants"): frozenset({"SELECT"})}
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_LISTED = 8  # problems named in one detail before "and N more"


def _summary(problems: list[str], ok: str) -> str:
    if not problems:
        return ok
    more = len(problems) - _LISTED
    return "; ".join(problems[:_LISTED]) + (f"; and {more} more" if more > 0 else "")


def _role_checks(admin: Conn) -> list[Check]:
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
    # Membership, direct or through other roles, with or without INHERIT: what app_user can SET ROLE
    # to, or whose rights (ownership included, which lifts non-forced RLS) it already has.
    problems = []
    for name, superuser, bypass, owner in admin.execute(
        "SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolname = %s FROM pg_roles r"
        " WHERE r.rolname <> %s AND pg_has_role(%s, r.oid, 'MEMBER') ORDER BY 1",
        (OWNER_ROLE, APP_ROLE, APP_ROLE),
    ):
        why = [w for w, v in (("SUPERUSER", superuser), ("BYPASSRLS", bypass), ("owns the tenant tables", owner)) if v]
        problems.append(f"member of {name}" + (f" ({', '.join(why)})" if why else ""))
    checks.append(Check(f"{APP_ROLE} is a member of no other role", not problems, _summary(problems, "no memberships")))
    return checks


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


def _views_check(admin: Conn, schemas: list[str]) -> Check:
    """Views run as their owner (unless security_invoker): one readable by app_user over tenant
    tables, or owned by a role that bypasses RLS, reads past the policies. Materialized views hold
    a copy made by their owner, with no RLS at all. Followed through views of views.
    """
    problems = []
    for view, kind, owner, superuser, bypass, reads in admin.execute(
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
        SELECT n.nspname || '.' || v.relname, v.relkind::text, o.rolname, o.rolsuper, o.rolbypassrls,
               ARRAY(SELECT DISTINCT tn.nspname || '.' || t.relname FROM reads
                     JOIN pg_class t ON t.oid = reads.rel_oid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                     WHERE reads.view_oid = v.oid AND t.relkind IN ('r', 'p') AND tn.nspname = ANY(%(schemas)s)
                     ORDER BY 1)
        FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace JOIN pg_roles o ON o.oid = v.relowner
        WHERE v.relkind IN ('v', 'm') AND n.nspname <> ALL(%(system)s)
          AND has_schema_privilege(%(app)s, n.oid, 'USAGE')
          AND (has_table_privilege(%(app)s, v.oid, 'SELECT') OR has_any_column_privilege(%(app)s, v.oid, 'SELECT'))
        ORDER BY 1
        """,
        {"schemas": schemas, "system": list(SYSTEM_SCHEMAS), "app": APP_ROLE},
    ):
        flags = [f for f, v in (("SUPERUSER", superuser), ("BYPASSRLS", bypass)) if v]
        label = f"{view} ({RELKINDS[kind]})" if kind == "m" else view
        if flags or reads or kind == "m":
            why = f"owned by {owner}" + (f" ({', '.join(flags)})" if flags else "")
            problems.append(f"{label}: {why}" + (f", reads {', '.join(reads)}" if reads else ""))
    return Check(
        "no view readable by app_user reads tenant tables or bypasses RLS",
        not problems,
        _summary(problems, "none"),
    )


def _functions_check(admin: Conn) -> Check:
    """A SECURITY DEFINER function runs as its owner: callable by app_user (EXECUTE, granted or
    PUBLIC's default, and USAGE on its schema) and owned by a superuser, a BYPASSRLS role or the
    tables' owner, it reads or changes any tenant's rows.
    """
    problems = [
        f"{function}: SECURITY DEFINER owned by {owner}" + (f" ({', '.join(flags)})" if flags else "")
        for function, owner, flags in admin.execute(
            """
            SELECT p.oid::regprocedure::text, o.rolname, ARRAY_REMOVE(ARRAY[
                CASE WHEN o.rolsuper THEN 'SUPERUSER' END, CASE WHEN o.rolbypassrls THEN 'BYPASSRLS' END,
                CASE WHEN pg_has_role(o.oid, %(owner)s, 'USAGE') THEN 'rights of ' || %(owner)s END], NULL)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles o ON o.oid = p.proowner
            WHERE p.prosecdef AND n.nspname <> ALL(%(system)s)
              AND has_schema_privilege(%(app)s, n.oid, 'USAGE') AND has_function_privilege(%(app)s, p.oid, 'EXECUTE')
              AND (o.rolsuper OR o.rolbypassrls OR pg_has_role(o.oid, %(owner)s, 'USAGE'))
            ORDER BY 1
            """,
            {"system": list(SYSTEM_SCHEMAS), "app": APP_ROLE, "owner": OWNER_ROLE},
        )
    ]
    return Check(
        "no SECURITY DEFINER function callable by app_user runs as a privileged role",
        not problems,
        _summary(problems, "none"),
    )


def _default_privileges_check(admin: Conn) -> Check:
    """``ALTER DEFAULT PRIVILEGES`` rules: the design grants every right explicitly, so none may give
    app_user (or PUBLIC, beyond PostgreSQL's own defaults on functions and types) anything.
    """
    kinds = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}
    problems = [
        f"{owner}: {kinds.get(kind, kind)}{' in schema ' + schema if schema else ''} -> {grantee} {privilege}"
        for owner, schema, kind, grantee, privilege in admin.execute(
            """
            SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type
            FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                 aclexplode(d.defaclacl) a
            WHERE (a.grantee <> 0 AND pg_has_role(%s, a.grantee, 'MEMBER'))
               OR (a.grantee = 0 AND d.defaclobjtype NOT IN ('f', 'T'))
            ORDER BY 1, 2, 3, 4, 5
            """,
            (APP_ROLE,),
        )
    ]
    return Check(
        "no default privileges grant app_user or PUBLIC rights on future objects",
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


def catalog_checks(admin: Conn) -> list[Check]:
    """What the catalog must say, over every tenant: role flags and memberships, RLS and the exact
    policy on every table, ownership, app_user's rights, views, SECURITY DEFINER functions,
    default privileges, no CREATE or TEMP.
    """
    schemas = [t.schema for t in list_tenants(admin)]
    return [
        *_role_checks(admin),
        _rls_check(admin, schemas),
        _ownership_check(admin, schemas),
        _rights_check(admin, schemas),
        _views_check(admin, schemas),
        _functions_check(admin),
        _default_privileges_check(admin),
        _create_check(admin),
    ]


def _pairs(tenants: list[Tenant]) -> list[tuple[Tenant, Tenant]]:
    """Each tenant against the next (a ring): every tenant attacks and is attacked, in O(N)."""
    return [(tenants[i], tenants[(i + 1) % len(tenants)]) for i in range(len(tenants))]


def probe_checks(app: Conn, tenants: list[Tenant]) -> list[Check]:
    """Attacks by app_user over every tenant, rolled back whatever happens.

    Reads are checked for every pair: as each tenant in turn, one statement counts the rows of
    every other tenant's tables it can see (after a probe row was written into each table as its
    own tenant). Writes go from each tenant to the next. Session tricks use the first two.
    """
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

    def rejected(statement: sql.Composed, params: tuple[Any, ...] = ()) -> str:
        try:
            with _attempt(app):
                app.execute(statement, params)
        except _Rejected as exc:
            return f"rejected: {exc}"
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
            return [Check("app_user can write probe rows as each tenant", False, f"unexpected error: {exc}")]

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


def _attempted(conn: Conn, probe: Callable[[], str]) -> str:
    """``probe`` in a savepoint: a database error fails the check with its message."""
    with _attempt(conn):
        return probe()


def verify(admin: Conn, app: Conn) -> list[Check]:
    return [*catalog_checks(admin), *probe_checks(app, list_tenants(admin))]


__all__ = ["TENANT_TABLES", "Check", "verify"]
