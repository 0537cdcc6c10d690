"""Catalog checks of every path around the tenant policy that a role could take.

Row-level security only protects rows from a role that is subject to it, runs only the code the
design wrote, and cannot read the rows some other way. So each path is checked in the catalog:

- role attributes beyond the design's (SUPERUSER, BYPASSRLS, REPLICATION, CREATEROLE, CREATEDB,
  LOGIN on the owner), memberships, direct or indirect, in any role (the predefined ones named
  with what they give), and logins other than the provisioning one acting as the owner;
- role and database settings that start app_user's sessions with a tenant, a role or a library;
- code that runs inside tenant reads and writes: triggers, rules, event triggers, user-defined
  functions, operators and types called by defaults, constraints, indexes and policies;
  SECURITY DEFINER and LEAKPROOF functions;
- rights: on system objects PostgreSQL restricts at install (``pg_read_binary_file``,
  ``pg_statistic``...), grants on tenant objects to anyone but app_user, app_user's use of other
  schemas, default privileges;
- channels that carry rows out: publications, foreign servers and user mappings.

Each problem names the role or object and why it opens a path. The probes that attempt these
paths as app_user are in :mod:`qualisys_infra.tenancy.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from qualisys_infra.tenancy.checks import Check, check
from qualisys_infra.tenancy.sql import APP_ROLE, OWNER_ROLE, PLATFORM_SCHEMA

Conn = psycopg.Connection[tuple[Any, ...]]

# Objects PostgreSQL creates at initdb have smaller OIDs: anything at or above was added later
# (by a user or an extension), whatever schema it was put in, pg_catalog included.
FIRST_USER_OID = 16384


@dataclass(frozen=True, slots=True)
class RoleDesign:
    """A role of the design and whether it logs in; every other attribute must be off."""

    name: str
    login: bool
    purpose: str


DESIGN_ROLES = (
    RoleDesign(OWNER_ROLE, login=False, purpose="owns every tenant object"),
    RoleDesign(APP_ROLE, login=True, purpose="the application's login"),
)
DESIGN_NAMES = [r.name for r in DESIGN_ROLES]

# (pg_roles column, attribute, why a design role must not have it)
ATTRIBUTES = (
    ("rolsuper", "SUPERUSER", "bypasses every privilege and row-level security"),
    ("rolbypassrls", "BYPASSRLS", "row-level security does not apply to it"),
    (
        "rolreplication",
        "REPLICATION",
        "logical decoding and replication connections read every tenant's rows past row-level security",
    ),
    ("rolcreaterole", "CREATEROLE", "can create roles and grant itself pg_read_all_data or any non-superuser role"),
    ("rolcreatedb", "CREATEDB", "can create databases that it owns"),
)
LOGIN_REASON = "the owner of the tenant tables can log in, turn forced row-level security off and read every tenant"

# What membership in a predefined role gives; any other role is described by its attributes.
PREDEFINED = {
    "pg_read_all_data": "SELECT on every table and USAGE on every schema, whatever their grants",
    "pg_write_all_data": "INSERT, UPDATE and DELETE on every table, whatever their grants",
    "pg_read_server_files": "reads any file the server can, the tables' data files included",
    "pg_write_server_files": "writes any file the server can",
    "pg_execute_server_program": "runs programs on the server as its operating-system user",
    "pg_signal_backend": "cancels and ends other sessions",
    "pg_monitor": "sees every session's queries, with their values, and every statistic",
    "pg_read_all_stats": "sees every session's queries, with their values, and every statistic",
    "pg_read_all_settings": "reads every setting, file paths included",
    "pg_stat_scan_tables": "runs functions that lock and scan any table",
    "pg_database_owner": "owns the database and its public schema",
    "pg_checkpoint": "runs CHECKPOINT",
}
# Memberships of the design: on RDS, ``tenants init`` grants app_user ``rds_iam`` (sign-in with IAM
# tokens only; the role itself has no rights). Allowed only while that role has no attribute and
# owns nothing; whatever it is a member of in turn is still reported.
ALLOWED_MEMBERSHIPS = {APP_ROLE: frozenset({"rds_iam"})}
# The predefined roles whose rights read or leave the database: SET ROLE to them is probed too.
DATA_ROLES = (
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
)
# Settings that, set for app_user or the database, start its sessions somewhere else than "no
# tenant, app_user, no extra code".
SESSION_SETTINGS = r"^(app\..*|role|session_authorization|session_preload_libraries|local_preload_libraries)$"
SCHEMAS_EVERYONE_USES = ("pg_catalog", "information_schema")


def design_roles_missing(admin: Conn) -> list[str]:
    present = {
        str(r[0]) for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (DESIGN_NAMES,))
    }
    return [name for name in DESIGN_NAMES if name not in present]


def attribute_checks(admin: Conn) -> list[Check]:
    """One check per design role: no attribute beyond its design; the owner never logs in."""
    columns = ", ".join(column for column, _, _ in ATTRIBUTES)
    rows = {
        str(row[0]): row[1:]
        for row in admin.execute(
            f"SELECT rolname, rolcanlogin, {columns} FROM pg_roles WHERE rolname = ANY(%s)",  # noqa: S608 - constants
            (DESIGN_NAMES,),
        )
    }
    checks = []
    for role in DESIGN_ROLES:
        name = f"{role.name} has only the attributes of its design"
        row = rows.get(role.name)
        if row is None:
            checks.append(Check(name, False, f"role {role.name} missing: run `tenants init`"))
            continue
        problems = [
            f"{role.name} has {attribute}: {why}"
            for (_, attribute, why), on in zip(ATTRIBUTES, row[1:], strict=True)
            if on
        ]
        if row[0] and not role.login:
            problems.append(f"{role.name} has LOGIN: {LOGIN_REASON}")
        allowed = ("LOGIN" if role.login else "NOLOGIN") + "".join(f" NO{a}" for _, a, _ in ATTRIBUTES)
        checks.append(check(name, problems, allowed))
    return checks


# The roles owning a schema of the parameter %(schemas)s, or a relation or function in one.
OWNERS_SQL = (
    "SELECT nspowner FROM pg_namespace WHERE nspname = ANY(%(schemas)s)"
    " UNION SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY(%(schemas)s)"
    " UNION SELECT p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = ANY(%(schemas)s)"
)


def membership_checks(admin: Conn, schemas: list[str]) -> list[Check]:
    """One check per design role: it is a member of no role, directly, through other roles, or
    implicitly (``pg_database_owner``), with or without INHERIT (SET ROLE reaches either); each
    membership named with the path to it, whether its rights apply at once, and what it gives.
    Only :data:`ALLOWED_MEMBERSHIPS` are left out.
    """
    owned = [*schemas, PLATFORM_SCHEMA]
    found: dict[str, list[str]] = {name: [] for name in DESIGN_NAMES}
    for role, name, via, inherited, superuser, bypass, replication, owns in admin.execute(
        f"""
        WITH RECURSIVE up(member, roleid, via) AS (
            SELECT d.oid, am.roleid, ARRAY[]::text[] COLLATE "C" FROM pg_roles d
            JOIN pg_auth_members am ON am.member = d.oid WHERE d.rolname = ANY(%(design)s)
            UNION ALL
            SELECT up.member, am.roleid, up.via || pg_get_userbyid(up.roleid)::text COLLATE "C"
            FROM up JOIN pg_auth_members am ON am.member = up.roleid
        )
        SELECT DISTINCT ON (d.rolname, r.rolname) d.rolname, r.rolname, COALESCE(up.via, ARRAY[]::text[]),
               pg_has_role(d.oid, r.oid, 'USAGE'), r.rolsuper, r.rolbypassrls, r.rolreplication,
               r.oid IN ({OWNERS_SQL})
        FROM pg_roles d JOIN pg_roles r ON r.oid <> d.oid AND pg_has_role(d.oid, r.oid, 'MEMBER')
        LEFT JOIN up ON up.member = d.oid AND up.roleid = r.oid
        WHERE d.rolname = ANY(%(design)s) AND NOT d.rolsuper
        ORDER BY d.rolname, r.rolname, cardinality(up.via)
        """,  # noqa: S608 - the SQL built above is constant
        {"design": DESIGN_NAMES, "schemas": owned},
    ):
        why = [w for w, v in (("SUPERUSER", superuser), ("BYPASSRLS", bypass), ("REPLICATION", replication)) if v]
        if not why and not owns and not via and name in ALLOWED_MEMBERSHIPS.get(role, ()):
            continue
        if owns:
            why.append("owns the tenant tables" if name == OWNER_ROLE else "owns tenant objects")
        gives = PREDEFINED.get(name) or (", ".join(why) if why else "a role outside the design")
        path = f" via {' -> '.join(via)}" if via else ""
        reach = "its rights apply at once" if inherited else "reachable by SET ROLE"
        found[role].append(f"member of {name}{path} ({gives}; {reach})")
    return [
        check(f"{role} is a member of no other role", [f"{role} is a {p}" for p in found[role]], "no memberships")
        for role in DESIGN_NAMES
    ]


def owner_logins_check(admin: Conn) -> Check:
    """No login acts as the owner role but the one running verify (the provisioning login, which
    ``init`` makes a member) and superusers (which need no membership to do anything).
    """
    problems = [
        f"{name} can log in and is a member of {OWNER_ROLE}: it can turn forced row-level security off"
        " and read every tenant"
        for (name,) in admin.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolcanlogin AND NOT r.rolsuper"
            " AND r.rolname <> ALL(%(design)s) AND r.rolname <> session_user"
            " AND pg_has_role(r.oid, (SELECT oid FROM pg_roles WHERE rolname = %(owner)s), 'MEMBER') ORDER BY 1",
            {"design": DESIGN_NAMES, "owner": OWNER_ROLE},
        )
    ]
    return check(
        f"no login but the provisioning one acts as {OWNER_ROLE}",
        problems,
        f"only superusers and the session user are members of {OWNER_ROLE}",
    )


def settings_check(admin: Conn) -> Check:
    """``ALTER ROLE app_user SET app.current_tenant`` (or the database's) would start every
    session that sets no tenant as that tenant; ``role`` and preloaded libraries change who runs
    and what code runs in app_user's sessions.
    """
    problems = []
    for who, where, setting in admin.execute(
        """
        SELECT CASE WHEN s.setrole = 0 THEN 'every role' ELSE pg_get_userbyid(s.setrole)::text END,
               CASE WHEN s.setdatabase = 0 THEN 'every database' ELSE 'this database' END, c
        FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
          AND (s.setrole = 0 OR pg_has_role(%(app)s, s.setrole, 'MEMBER'))
          AND lower(split_part(c, '=', 1)) ~ %(names)s
        ORDER BY 1, 2, 3
        """,
        {"app": APP_ROLE, "names": SESSION_SETTINGS},
    ):
        name = str(setting).split("=", 1)[0].lower()
        why = (
            "a session that sets no tenant starts as this one"
            if name.startswith("app.")
            else "changes who runs, or what code runs, in app_user's sessions"
        )
        problems.append(f"{setting} is set for {who} in {where}: {why}")
    return check(
        "no role or database setting starts app_user's sessions with a tenant, a role or a library",
        problems,
        "none",
    )


def triggers_check(admin: Conn, schemas: list[str]) -> Check:
    """The design has no trigger (only the internal ones of foreign keys), no rule and no event
    trigger: any one runs code in every tenant's writes (or DDL, tenant creation included), as its
    function's owner when SECURITY DEFINER.
    """
    problems = []
    for what, function, owner, secdef, superuser, bypass, scope in admin.execute(
        """
        SELECT n.nspname || '.' || c.relname || ': trigger ' || t.tgname, t.tgfoid::regprocedure::text,
               o.rolname, p.prosecdef, o.rolsuper, o.rolbypassrls, 'every tenant''s writes to the table'
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_roles o ON o.oid = p.proowner
        WHERE NOT t.tgisinternal AND n.nspname = ANY(%(schemas)s)
        UNION ALL
        SELECT n.nspname || '.' || c.relname || ': rule ' || r.rulename || ' ON '
               || CASE r.ev_type WHEN '1' THEN 'SELECT' WHEN '2' THEN 'UPDATE' WHEN '3' THEN 'INSERT' ELSE 'DELETE' END,
               NULL, NULL, NULL, NULL, NULL, 'every tenant''s statements on the table, rewritten'
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND n.nspname = ANY(%(schemas)s)
        UNION ALL
        SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent, e.evtfoid::regprocedure::text,
               o.rolname, p.prosecdef, o.rolsuper, o.rolbypassrls, 'every DDL statement, tenant creation included'
        FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid JOIN pg_roles o ON o.oid = p.proowner
        ORDER BY 1
        """,
        {"schemas": [*schemas, PLATFORM_SCHEMA]},
    ):
        runs = ""
        if function is not None:
            flags = [f for f, v in (("SUPERUSER", superuser), ("BYPASSRLS", bypass)) if v]
            how = ["SECURITY DEFINER, as " + str(owner) if secdef else f"owned by {owner}", *flags]
            runs = f" calls {function} ({', '.join(how)})"
        problems.append(f"{what}{runs}: runs in {scope}")
    return check(
        "no trigger or rule on tenant tables, no event trigger",
        problems,
        f"no trigger or rule on the tables of {len(schemas)} tenant schemas and {PLATFORM_SCHEMA}, no event trigger",
    )


def calls_check(admin: Conn, schemas: list[str]) -> Check:
    """Defaults, constraints, index expressions, policies, triggers, rules and column types of the
    tenant tables use only what PostgreSQL has built in: a user-defined function there (a CHECK
    calling a SECURITY DEFINER function, say) runs inside every tenant's writes.
    """
    problems = [
        f"{what} uses {used}: not built in, it runs inside every tenant's reads or writes"
        for what, used in admin.execute(
            """
            WITH tables AS (
                SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            ), parts(classid, objid) AS (
                SELECT 'pg_class'::regclass, oid FROM tables
                UNION ALL SELECT 'pg_attrdef'::regclass, oid FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM tables)
                UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint
                          WHERE conrelid IN (SELECT oid FROM tables)
                UNION ALL SELECT 'pg_class'::regclass, indexrelid FROM pg_index
                          WHERE indrelid IN (SELECT oid FROM tables)
                UNION ALL SELECT 'pg_policy'::regclass, oid FROM pg_policy WHERE polrelid IN (SELECT oid FROM tables)
                UNION ALL SELECT 'pg_trigger'::regclass, oid FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM tables)
                UNION ALL SELECT 'pg_rewrite'::regclass, oid FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM tables)
            )
            SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid),
                   pg_describe_object(d.refclassid, d.refobjid, 0)
            FROM parts JOIN pg_depend d ON d.classid = parts.classid AND d.objid = parts.objid
            WHERE d.refobjid >= %(first)s
              AND d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass, 'pg_type'::regclass)
              AND NOT (d.refclassid = 'pg_type'::regclass
                       AND d.refobjid IN (SELECT reltype FROM pg_class WHERE oid IN (SELECT oid FROM tables)))
            ORDER BY 1, 2
            """,
            {"schemas": [*schemas, PLATFORM_SCHEMA], "first": FIRST_USER_OID},
        )
    ]
    return check(
        "tenant tables use only built-in functions, operators and types",
        problems,
        "defaults, constraints, indexes, policies and column types use only built-ins",
    )


def functions_check(admin: Conn) -> Check:
    """A SECURITY DEFINER function runs as its owner, wherever it is called from: callable by
    app_user (EXECUTE, granted or PUBLIC's default, and USAGE on its schema), or owned by any role
    but the owner role (a superuser, a BYPASSRLS role, anyone else: it is reachable from triggers,
    defaults, views), it reads or changes any tenant's rows. A LEAKPROOF function (only a
    superuser can mark one) runs before the tenant policy filters rows, and can reveal them.
    """
    problems = []
    for function, owner, secdef, leakproof, superuser, bypass, owner_rights, callable_ in admin.execute(
        """
        SELECT p.oid::regprocedure::text, o.rolname, p.prosecdef, p.proleakproof, o.rolsuper, o.rolbypassrls,
               NOT o.rolsuper
               AND COALESCE(pg_has_role(o.oid, (SELECT oid FROM pg_roles WHERE rolname = %(owner)s), 'USAGE'), false),
               has_schema_privilege(%(app)s, n.oid, 'USAGE') AND has_function_privilege(%(app)s, p.oid, 'EXECUTE')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles o ON o.oid = p.proowner
        WHERE p.oid >= %(first)s AND (p.prosecdef OR p.proleakproof)
        ORDER BY 1
        """,
        {"owner": OWNER_ROLE, "app": APP_ROLE, "first": FIRST_USER_OID},
    ):
        if secdef and (callable_ or owner != OWNER_ROLE):
            flags = [
                f
                for f, v in (("SUPERUSER", superuser), ("BYPASSRLS", bypass), (f"rights of {OWNER_ROLE}", owner_rights))
                if v
            ]
            problems.append(
                f"{function}: SECURITY DEFINER owned by {owner}"
                + (f" ({', '.join(flags)})" if flags else "")
                + (f", callable by {APP_ROLE}" if callable_ else "")
            )
        if leakproof:
            problems.append(
                f"{function}: LEAKPROOF, so it runs before the tenant policy filters rows and can reveal them"
            )
    return check("no SECURITY DEFINER or LEAKPROOF function outside the design", problems, "none")


def system_rights_check(admin: Conn) -> Check:
    """What PostgreSQL (or an extension) restricts when installed, as recorded in ``pg_init_privs``:
    ``pg_read_binary_file`` reads the tables' data files, ``pg_statistic`` holds sampled values of
    every column, ``pg_authid`` the password hashes. None may be usable by app_user.
    """
    problems = [
        f"{what}: {APP_ROLE} may {right} (restricted when installed)"
        for what, right in admin.execute(
            """
            SELECT CASE WHEN i.classoid = 'pg_proc'::regclass THEN i.objoid::regprocedure::text
                        ELSE i.objoid::regclass::text END,
                   CASE WHEN i.classoid = 'pg_proc'::regclass THEN 'EXECUTE it' ELSE 'SELECT from it' END
            FROM pg_init_privs i
            WHERE i.objsubid = 0 AND i.classoid IN ('pg_proc'::regclass, 'pg_class'::regclass)
              AND NOT EXISTS (SELECT 1 FROM aclexplode(i.initprivs) a WHERE a.grantee = 0)
              AND CASE WHEN i.classoid = 'pg_proc'::regclass
                       THEN EXISTS (SELECT 1 FROM pg_proc WHERE oid = i.objoid)
                            AND has_function_privilege(%(app)s, i.objoid, 'EXECUTE')
                       ELSE EXISTS (SELECT 1 FROM pg_class WHERE oid = i.objoid)
                            AND has_table_privilege(%(app)s, i.objoid, 'SELECT') END
            ORDER BY 1
            """,
            {"app": APP_ROLE},
        )
    ]
    return check(
        f"{APP_ROLE} has no right that PostgreSQL restricts at install",
        problems,
        "no restricted function or system table usable",
    )


def grants_check(admin: Conn, schemas: list[str]) -> Check:
    """Tenant schemas, their tables and columns, and the platform schema's, are granted to
    app_user only (any other role holding SELECT can set any tenant and read it); app_user may
    use no schema but those and the system ones.
    """
    owned = [*schemas, PLATFORM_SCHEMA]
    problems = [
        f"{what}: {privileges} granted to {grantee}"
        for what, grantee, privileges in admin.execute(
            """
            WITH objects(what, acl) AS (
                SELECT 'schema ' || n.nspname, n.nspacl FROM pg_namespace n WHERE n.nspname = ANY(%(schemas)s)
                UNION ALL
                SELECT n.nspname || '.' || c.relname, c.relacl FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY(%(schemas)s) AND c.relacl IS NOT NULL
                UNION ALL
                SELECT n.nspname || '.' || c.relname || '.' || a.attname, a.attacl FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY(%(schemas)s) AND a.attacl IS NOT NULL
            )
            SELECT o.what, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee)::text END,
                   string_agg(g.privilege_type, ', ' ORDER BY g.privilege_type)
            FROM objects o, aclexplode(o.acl) g
            WHERE g.grantee NOT IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%(design)s))
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            {"schemas": owned, "design": DESIGN_NAMES},
        )
    ]
    problems += [
        f"schema {name}: USAGE for {APP_ROLE}, outside the design"
        for (name,) in admin.execute(
            "SELECT n.nspname FROM pg_namespace n WHERE n.nspname <> ALL(%(allowed)s)"
            " AND n.nspname !~ '^pg_(toast_)?temp_' AND has_schema_privilege(%(app)s, n.oid, 'USAGE') ORDER BY 1",
            {"allowed": [*owned, *SCHEMAS_EVERYONE_USES], "app": APP_ROLE},
        )
    ]
    return check(
        f"tenant objects are granted to {APP_ROLE} only, and {APP_ROLE} uses no other schema",
        problems,
        f"grants to {APP_ROLE} only; schemas used: tenant schemas, {PLATFORM_SCHEMA} and the system ones",
    )


def default_privileges_check(admin: Conn, schemas: list[str]) -> Check:
    """``ALTER DEFAULT PRIVILEGES`` rules: the design grants every right explicitly, so none may give
    app_user or PUBLIC (beyond PostgreSQL's own defaults on functions and types) anything, and none
    of the owner role's, or in a tenant schema, may give anyone anything.
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
            WHERE a.grantee <> d.defaclrole AND (
                (a.grantee <> 0 AND pg_has_role(%(app)s, a.grantee, 'MEMBER'))
                OR (a.grantee = 0 AND d.defaclobjtype NOT IN ('f', 'T'))
                OR pg_get_userbyid(d.defaclrole) = %(owner)s OR n.nspname = ANY(%(schemas)s))
            ORDER BY 1, 2, 3, 4, 5
            """,
            {"app": APP_ROLE, "owner": OWNER_ROLE, "schemas": [*schemas, PLATFORM_SCHEMA]},
        )
    ]
    return check("no default privileges grant rights on future tenant objects", problems, "none")


def channels_check(admin: Conn, schemas: list[str]) -> Check:
    """Publications stream tenant rows to any login with REPLICATION; a foreign server or user
    mapping app_user can use connects it elsewhere, possibly as another role.
    """
    problems = [
        str(what)
        for (what,) in admin.execute(
            """
            SELECT 'publication ' || p.pubname || CASE WHEN p.puballtables THEN ' (FOR ALL TABLES)' ELSE '' END
                   || ' publishes tenant tables to any login with REPLICATION'
            FROM pg_publication p
            WHERE p.puballtables
               OR EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE pr.prpubid = p.oid AND n.nspname = ANY(%(schemas)s))
               OR EXISTS (SELECT 1 FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
                          WHERE pn.pnpubid = p.oid AND n.nspname = ANY(%(schemas)s))
            UNION ALL
            SELECT 'foreign server ' || s.srvname || ': USAGE for ' || %(app)s || ', which connects it elsewhere'
            FROM pg_foreign_server s WHERE has_server_privilege(%(app)s, s.oid, 'USAGE')
            UNION ALL
            SELECT 'user mapping for ' || m.usename || ' on server ' || m.srvname
                   || ': ' || %(app)s || ' connects with its credentials'
            FROM pg_user_mappings m WHERE m.umuser = 0 OR pg_has_role(%(app)s, m.umuser, 'MEMBER')
            ORDER BY 1
            """,
            {"schemas": [*schemas, PLATFORM_SCHEMA], "app": APP_ROLE},
        )
    ]
    return check("no publication, foreign server or user mapping carries tenant rows out", problems, "none")


def privileged_roles(admin: Conn, schemas: list[str]) -> list[str]:
    """Roles app_user must not become: superusers, roles with BYPASSRLS or REPLICATION, owners of
    tenant objects (the owner role among them), and the predefined roles that read or write data
    or files. The probes try ``SET ROLE`` to each.
    """
    owned = [*schemas, PLATFORM_SCHEMA]
    return [
        str(r[0])
        for r in admin.execute(
            f"""
            SELECT rolname FROM pg_roles
            WHERE rolname <> %(app)s AND (rolsuper OR rolbypassrls OR rolreplication OR rolname = ANY(%(data)s)
                  OR oid IN ({OWNERS_SQL}))
            ORDER BY rolname
            """,  # noqa: S608 - OWNERS_SQL is constant
            {"app": APP_ROLE, "data": list(DATA_ROLES), "schemas": owned},
        )
    ]


def catalog_checks(admin: Conn, schemas: list[str]) -> list[Check]:
    """Every path check above, over the tenant schemas given (the design roles must exist)."""
    return [
        *attribute_checks(admin),
        *membership_checks(admin, schemas),
        owner_logins_check(admin),
        settings_check(admin),
        triggers_check(admin, schemas),
        calls_check(admin, schemas),
        functions_check(admin),
        system_rights_check(admin),
        grants_check(admin, schemas),
        default_privileges_check(admin, schemas),
        channels_check(admin, schemas),
    ]
