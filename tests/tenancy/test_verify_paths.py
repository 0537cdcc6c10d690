"""Every path a role could take around the tenant policy: each sabotage, applied as a superuser to
a provisioned database, must make ``verify`` fail, naming the role or object and why.

The database (three seeded tenants) is made once for the module; each test applies its sabotage
with the statements that undo it, and the ``sabotage`` fixture undoes it afterwards, puts the
design roles back (roles are cluster-wide: another database's tests must not inherit a
sabotage) and requires ``verify`` to pass again, so that no test depends on another's leftovers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import psycopg
import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.tenancy import bypass, factories, provision, verify
from qualisys_infra.tenancy.sql import APP_ROLE, OWNER_ROLE
from tests.tenancy.conftest import POSTGRES, app_url

TENANTS = ("acme", "globex", "initech")
ATTRIBUTES_OF = {role: f"{role} has only the attributes of its design" for role in (APP_ROLE, OWNER_ROLE)}
MEMBERSHIP_OF = {role: f"{role} is a member of no other role" for role in (APP_ROLE, OWNER_ROLE)}
OWNER_LOGINS = "no login but the provisioning one acts as qualisys_owner"
SETTINGS = "no role or database setting starts app_user's sessions with a tenant, a role or a library"
TRIGGERS = "no trigger or rule on tenant tables, no event trigger"
CALLS = "tenant tables use only built-in functions, operators and types"
FUNCTIONS = "no SECURITY DEFINER or LEAKPROOF function outside the design"
SYSTEM = "app_user has no right that PostgreSQL restricts at install"
GRANTS = "tenant objects are granted to app_user only, and app_user uses no other schema"
DEFAULTS = "no default privileges grant rights on future tenant objects"
CHANNELS = "no publication, foreign server or user mapping carries tenant rows out"
SESSION = "a new app_user session has no tenant and no other role"
REPLICATION_CONNECTION = "app_user cannot open a replication connection"
DECODING = "A cannot start logical decoding"
SET_ROLE = "SET ROLE to a privileged role is refused"
SESSION_AUTHORIZATION = "SET SESSION AUTHORIZATION is refused"
RLS_OFF = "A cannot turn B's row-level security off"
FILES = "A cannot read or write the server's files"
STATISTICS = "A cannot read the planner's statistics of B's columns"
VIEWS_PROBE = "views show no rows with no tenant set"
READ = "A cannot read B's rows"

PATH_CHECKS = (
    *ATTRIBUTES_OF.values(),
    *MEMBERSHIP_OF.values(),
    OWNER_LOGINS,
    SETTINGS,
    TRIGGERS,
    CALLS,
    FUNCTIONS,
    SYSTEM,
    GRANTS,
    DEFAULTS,
    CHANNELS,
    SESSION,
    REPLICATION_CONNECTION,
    DECODING,
    SET_ROLE,
    SESSION_AUTHORIZATION,
    RLS_OFF,
    FILES,
    STATISTICS,
    VIEWS_PROBE,
)
PLAIN = " NOSUPERUSER NOBYPASSRLS NOREPLICATION NOCREATEROLE NOCREATEDB INHERIT"


def _checks(url: str) -> dict[str, verify.Check]:
    with provision.connect(url) as admin, provision.connect(app_url(url)) as app:
        return {c.name: c for c in verify.verify(admin, app)}


def _failed(url: str) -> dict[str, str]:
    return {c.name: c.detail for c in _checks(url).values() if not c.ok}


def _admin(url: str, *statements: str) -> None:
    with provision.connect(url) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    """A database with the design and three seeded tenants, for the whole module."""
    name = f"qualisys_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rpartition('/')[0]}/{name}"
    try:
        with provision.connect(url) as conn:
            provision.init(conn, environment="test", app_password=None)
            for i, slug in enumerate(TENANTS):
                factories.seed_tenant(conn, provision.create_tenant(conn, slug), seed=i, projects=1, runs=1)
        yield url
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Sabotage:
    """Applies statements as the superuser; remembers how to undo them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = url.rsplit("/", 1)[1]
        self.undo: list[str] = []
        self.roles: list[str] = []

    def __call__(self, *statements: str, undo: Sequence[str] = ()) -> None:
        self.undo[:0] = undo  # registered first: a statement that fails half way is undone too
        _admin(self.url, *statements)

    def role(self, attributes: str = "NOLOGIN") -> str:
        """A new role, dropped (with what it owns and was granted in this database) afterwards."""
        name = f"sabotage_{uuid.uuid4().hex[:10]}"
        self.roles.append(name)
        _admin(self.url, f"CREATE ROLE {name} {attributes}")
        return name

    def restore(self) -> None:
        with provision.connect(self.url) as conn:
            for statement in self.undo:
                conn.execute(statement)
            for name in self.roles:
                conn.execute(f"DROP OWNED BY {name}")
                conn.execute(f"DROP ROLE {name}")
            # Altered only when changed: roles are cluster-wide, and two sessions altering the same
            # role at once fail with "tuple concurrently updated" (tests of other databases run init).
            for role, login in ((APP_ROLE, True), (OWNER_ROLE, False)):
                row = conn.execute(
                    "SELECT rolcanlogin, rolsuper OR rolbypassrls OR rolreplication OR rolcreaterole OR rolcreatedb,"
                    " rolinherit FROM pg_roles WHERE rolname = %s",
                    (role,),
                ).fetchone()
                if row != (login, False, True):
                    conn.execute(f"ALTER ROLE {role} {'LOGIN' if login else 'NOLOGIN'} {PLAIN}")
            for granted, member in conn.execute(
                "SELECT pg_get_userbyid(roleid), pg_get_userbyid(member) FROM pg_auth_members"
                " WHERE member IN (SELECT oid FROM pg_roles WHERE rolname IN (%s, %s))",
                (APP_ROLE, OWNER_ROLE),
            ).fetchall():
                conn.execute(f'REVOKE "{granted}" FROM "{member}"')


@pytest.fixture
def sabotage(db: str) -> Iterator[Sabotage]:
    """Yields the sabotage tool, undoes everything, and requires ``verify`` to pass again (the
    module's database starts clean: test_a_clean_design_passes_every_path_check)."""
    tool = Sabotage(db)
    try:
        yield tool
    finally:
        tool.restore()
    assert _failed(db) == {}, "the sabotage was not undone"


def test_a_clean_design_passes_every_path_check(db: str) -> None:
    checks = _checks(db)
    assert [name for name in PATH_CHECKS if name not in checks] == []
    assert {name: c.detail for name, c in checks.items() if not c.ok} == {}
    assert checks[DECODING].detail == "rejected: must be superuser or replication role to use replication slots"
    assert "must be superuser or replication role to start walsender" in checks[REPLICATION_CONNECTION].detail
    for role in ("postgres", "pg_read_all_data", "pg_read_server_files", "pg_execute_server_program"):
        assert role in checks[SET_ROLE].detail
    assert "permission denied for function pg_read_binary_file" in checks[FILES].detail
    assert checks[STATISTICS].detail == "rejected: permission denied for table pg_statistic"
    assert checks[SESSION].detail == "no tenant, current_user app_user"
    assert checks[ATTRIBUTES_OF[OWNER_ROLE]].detail.startswith("NOLOGIN NOSUPERUSER NOBYPASSRLS NOREPLICATION")


# The three reproductions of issue 21.


def test_fails_if_app_user_has_replication(sabotage: Sabotage) -> None:
    sabotage(f"ALTER ROLE {APP_ROLE} REPLICATION")
    failed = _failed(sabotage.url)
    assert failed[ATTRIBUTES_OF[APP_ROLE]] == (
        "app_user has REPLICATION: logical decoding and replication connections read every tenant's rows"
        " past row-level security"
    )
    assert failed[REPLICATION_CONNECTION] == "LEAK: app_user opened a replication connection (replication=database)"
    # wal_level is replica here: the slot is refused for that, after the rights check passed.
    assert failed[DECODING].startswith("LEAK: not refused for lack of rights: ")


def test_fails_if_the_owner_role_can_log_in(sabotage: Sabotage) -> None:
    sabotage(f"ALTER ROLE {OWNER_ROLE} LOGIN")
    # The path is real: the owner logs in, turns forced RLS off and reads every tenant.
    owner_url = sabotage.url.replace("://postgres@", f"://{OWNER_ROLE}@")
    with psycopg.connect(owner_url) as owner, owner.transaction(force_rollback=True):
        owner.execute("ALTER TABLE tenant_globex.organizations NO FORCE ROW LEVEL SECURITY")
        assert owner.execute("SELECT count(*) FROM tenant_globex.organizations").fetchone() == (1,)
    failed = _failed(sabotage.url)
    assert failed[ATTRIBUTES_OF[OWNER_ROLE]] == (
        "qualisys_owner has LOGIN: the owner of the tenant tables can log in, turn forced row-level security off"
        " and read every tenant"
    )


def test_fails_if_the_owner_role_can_log_in_and_the_cli_says_which_role(
    sabotage: Sabotage, capsys: pytest.CaptureFixture[str]
) -> None:
    sabotage(f"ALTER ROLE {OWNER_ROLE} LOGIN")
    code = main(["tenants", "verify", "--database-url", sabotage.url])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [
        "error: isolation check failed: qualisys_owner has only the attributes of its design: qualisys_owner has"
        " LOGIN: the owner of the tenant tables can log in, turn forced row-level security off and read every tenant"
    ]
    assert "FAIL  qualisys_owner has only the attributes of its design" in out


def test_fails_if_a_superuser_security_definer_trigger_copies_other_tenants_rows(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE FUNCTION public.copy_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$BEGIN"
        " INSERT INTO tenant_acme.projects (tenant_id, name) SELECT NEW.tenant_id, 'copied: ' || name"
        " FROM tenant_globex.organizations; RETURN NEW; END$$",
        "CREATE TRIGGER copy_rows AFTER INSERT ON tenant_acme.organizations FOR EACH ROW"
        " EXECUTE FUNCTION public.copy_rows()",
        undo=[
            "DROP TRIGGER IF EXISTS copy_rows ON tenant_acme.organizations",
            "DROP FUNCTION IF EXISTS public.copy_rows()",
        ],
    )
    with provision.connect(sabotage.url) as admin:
        acme = provision.find_tenant(admin, "acme")
    assert acme is not None
    # The path is real: acme inserts one row of its own and then reads globex's names.
    with psycopg.connect(app_url(sabotage.url)) as app, app.transaction(force_rollback=True):
        app.execute("SELECT set_config('app.current_tenant', %s, true)", (acme.id,))
        app.execute("INSERT INTO tenant_acme.organizations (tenant_id, name) VALUES (%s, 'mine')", (acme.id,))
        copied = app.execute("SELECT count(*) FROM tenant_acme.projects WHERE name LIKE 'copied: %'").fetchone()
        assert copied == (1,)
    failed = _failed(sabotage.url)
    assert failed[TRIGGERS] == (
        "tenant_acme.organizations: trigger copy_rows calls public.copy_rows() (SECURITY DEFINER, as postgres,"
        " SUPERUSER, BYPASSRLS): runs in every tenant's writes to the table"
    )
    assert "uses function public.copy_rows()" in failed[CALLS]
    assert "public.copy_rows(): SECURITY DEFINER owned by postgres (SUPERUSER, BYPASSRLS)" in failed[FUNCTIONS]


# Role attributes beyond the design.


@pytest.mark.parametrize(
    ("role", "attribute"),
    [
        (APP_ROLE, "SUPERUSER"),
        (APP_ROLE, "BYPASSRLS"),
        (APP_ROLE, "CREATEROLE"),
        (APP_ROLE, "CREATEDB"),
        (OWNER_ROLE, "SUPERUSER"),
        (OWNER_ROLE, "BYPASSRLS"),
        (OWNER_ROLE, "REPLICATION"),
        (OWNER_ROLE, "CREATEROLE"),
        (OWNER_ROLE, "CREATEDB"),
    ],
)
def test_fails_if_a_design_role_has_an_attribute_beyond_its_design(
    sabotage: Sabotage, role: str, attribute: str
) -> None:
    sabotage(f"ALTER ROLE {role} {attribute}")
    failed = _failed(sabotage.url)
    why = next(w for _, a, w in bypass.ATTRIBUTES if a == attribute)
    assert failed[ATTRIBUTES_OF[role]] == f"{role} has {attribute}: {why}"
    if (role, attribute) == (APP_ROLE, "SUPERUSER"):
        assert failed[SESSION_AUTHORIZATION].startswith("LEAK: ")
        assert failed[READ].startswith("LEAK: ")


# Memberships: predefined roles, indirect, without INHERIT, implicit, and logins acting as the owner.

PROBED = {
    "pg_read_all_data": {SET_ROLE: "pg_read_all_data: accepted", STATISTICS: "LEAK: accepted"},
    "pg_write_all_data": {SET_ROLE: "pg_write_all_data: accepted"},
    "pg_read_server_files": {SET_ROLE: "pg_read_server_files: accepted", FILES: "COPY from a file: not refused"},
    "pg_write_server_files": {SET_ROLE: "pg_write_server_files: accepted", FILES: "COPY to a file: not refused"},
    "pg_execute_server_program": {SET_ROLE: "pg_execute_server_program: accepted"},
}


@pytest.mark.parametrize("predefined", sorted(set(bypass.PREDEFINED) - {"pg_database_owner"}))
def test_fails_if_app_user_is_a_member_of_a_predefined_role(sabotage: Sabotage, predefined: str) -> None:
    sabotage(f"GRANT {predefined} TO {APP_ROLE}")
    failed = _failed(sabotage.url)
    assert (
        f"app_user is a member of {predefined} ({bypass.PREDEFINED[predefined]}; its rights apply at once)"
        in failed[MEMBERSHIP_OF[APP_ROLE]]
    )
    for name, expected in PROBED.get(predefined, {}).items():
        assert expected in failed[name]


@pytest.mark.parametrize("predefined", bypass.DATA_ROLES)
def test_fails_if_the_owner_role_is_a_member_of_a_predefined_role(sabotage: Sabotage, predefined: str) -> None:
    sabotage(f"GRANT {predefined} TO {OWNER_ROLE}")
    assert (
        f"qualisys_owner is a member of {predefined} ({bypass.PREDEFINED[predefined]}"
        in (_failed(sabotage.url)[MEMBERSHIP_OF[OWNER_ROLE]])
    )


def test_fails_if_app_user_is_a_member_of_pg_read_all_data_through_another_role(sabotage: Sabotage) -> None:
    middle = sabotage.role()
    sabotage(f"GRANT pg_read_all_data TO {middle}", f"GRANT {middle} TO {APP_ROLE}")
    detail = _failed(sabotage.url)[MEMBERSHIP_OF[APP_ROLE]]
    assert f"app_user is a member of pg_read_all_data via {middle} (SELECT on every table" in detail
    assert f"app_user is a member of {middle} (a role outside the design; its rights apply at once)" in detail


def test_fails_if_app_user_can_set_role_to_a_predefined_role_without_inheriting_it(sabotage: Sabotage) -> None:
    sabotage(f"ALTER ROLE {APP_ROLE} NOINHERIT", f"GRANT pg_read_server_files TO {APP_ROLE}")
    failed = _failed(sabotage.url)
    assert (
        "app_user is a member of pg_read_server_files (reads any file the server can, the tables' data files"
        " included; reachable by SET ROLE)" in failed[MEMBERSHIP_OF[APP_ROLE]]
    )
    assert "pg_read_server_files: accepted" in failed[SET_ROLE]
    assert FILES not in failed, "without INHERIT the files are out of reach until SET ROLE"


def test_fails_if_app_user_owns_the_database(sabotage: Sabotage) -> None:
    sabotage(
        f'ALTER DATABASE "{sabotage.database}" OWNER TO {APP_ROLE}',
        # The owner's grants go with the ownership: init's grants on the database are made again.
        undo=[
            f'ALTER DATABASE "{sabotage.database}" OWNER TO postgres',
            f'REVOKE ALL ON DATABASE "{sabotage.database}" FROM PUBLIC, {APP_ROLE}',
            f'GRANT CONNECT ON DATABASE "{sabotage.database}" TO {APP_ROLE}',
        ],
    )
    assert (
        "app_user is a member of pg_database_owner (owns the database and its public schema"
        in (_failed(sabotage.url)[MEMBERSHIP_OF[APP_ROLE]])
    )


def test_fails_if_app_user_can_turn_row_level_security_off_as_the_owner(sabotage: Sabotage) -> None:
    sabotage(f"GRANT {OWNER_ROLE} TO {APP_ROLE}")
    failed = _failed(sabotage.url)
    assert "app_user is a member of qualisys_owner (owns the tenant tables" in failed[MEMBERSHIP_OF[APP_ROLE]]
    assert "ALTER TABLE tenant_globex.organizations NO FORCE ROW LEVEL SECURITY: accepted" in failed[RLS_OFF]


def test_fails_if_another_login_is_a_member_of_the_owner_role(sabotage: Sabotage) -> None:
    login = sabotage.role("LOGIN")
    sabotage(f"GRANT {OWNER_ROLE} TO {login}")
    assert _failed(sabotage.url)[OWNER_LOGINS] == (
        f"{login} can log in and is a member of qualisys_owner: it can turn forced row-level security off and read"
        " every tenant"
    )


# Settings that start app_user's sessions somewhere else.


def test_fails_if_app_user_sessions_start_with_a_default_tenant(sabotage: Sabotage) -> None:
    with provision.connect(sabotage.url) as admin:
        globex = provision.find_tenant(admin, "globex")
    assert globex is not None
    sabotage(
        f"ALTER ROLE {APP_ROLE} IN DATABASE \"{sabotage.database}\" SET app.current_tenant = '{globex.id}'",
        undo=[f'ALTER ROLE {APP_ROLE} IN DATABASE "{sabotage.database}" RESET app.current_tenant'],
    )
    failed = _failed(sabotage.url)
    assert failed[SETTINGS] == (
        f"app.current_tenant={globex.id} is set for app_user in this database: a session that sets no tenant"
        " starts as this one"
    )
    assert failed[SESSION] == f"LEAK: sessions start as tenant {globex.id}"


def test_fails_if_the_database_sets_a_default_tenant(sabotage: Sabotage) -> None:
    sabotage(
        f"ALTER DATABASE \"{sabotage.database}\" SET app.current_tenant = '00000000-0000-4000-8000-000000000000'",
        undo=[f'ALTER DATABASE "{sabotage.database}" RESET app.current_tenant'],
    )
    failed = _failed(sabotage.url)
    assert (
        "is set for every role in this database: a session that sets no tenant starts as this one" in (failed[SETTINGS])
    )
    assert failed[SESSION].startswith("LEAK: sessions start as tenant 00000000-")


def test_fails_if_app_user_sessions_start_as_another_role(sabotage: Sabotage) -> None:
    other = sabotage.role()
    sabotage(
        f"GRANT {other} TO {APP_ROLE}",
        f"ALTER ROLE {APP_ROLE} IN DATABASE \"{sabotage.database}\" SET role = '{other}'",
        undo=[f'ALTER ROLE {APP_ROLE} IN DATABASE "{sabotage.database}" RESET role'],
    )
    failed = _failed(sabotage.url)
    assert f"role={other} is set for app_user in this database: changes who runs" in failed[SETTINGS]
    assert failed[SESSION] == f"LEAK: sessions run as {other}"


# Code that runs inside tenant reads and writes.


def test_fails_if_a_tenant_table_has_any_trigger(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE FUNCTION tenant_acme.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
        "ALTER FUNCTION tenant_acme.touch() OWNER TO qualisys_owner",
        "CREATE TRIGGER touch BEFORE UPDATE ON tenant_acme.test_runs FOR EACH ROW EXECUTE FUNCTION tenant_acme.touch()",
        undo=["DROP FUNCTION IF EXISTS tenant_acme.touch() CASCADE"],
    )
    assert _failed(sabotage.url)[TRIGGERS] == (
        "tenant_acme.test_runs: trigger touch calls tenant_acme.touch() (owned by qualisys_owner): runs in every"
        " tenant's writes to the table"
    )


def test_fails_if_a_tenant_table_has_a_rule(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE RULE copy_out AS ON UPDATE TO tenant_globex.projects DO ALSO NOTIFY copy_out",
        undo=["DROP RULE IF EXISTS copy_out ON tenant_globex.projects"],
    )
    assert _failed(sabotage.url)[TRIGGERS] == (
        "tenant_globex.projects: rule copy_out ON UPDATE: runs in every tenant's statements on the table, rewritten"
    )


def test_fails_if_an_event_trigger_exists(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END'",
        "CREATE EVENT TRIGGER on_ddl ON ddl_command_end EXECUTE FUNCTION public.on_ddl()",
        undo=["DROP EVENT TRIGGER IF EXISTS on_ddl", "DROP FUNCTION IF EXISTS public.on_ddl()"],
    )
    assert _failed(sabotage.url)[TRIGGERS] == (
        "event trigger on_ddl on ddl_command_end calls public.on_ddl() (owned by postgres, SUPERUSER, BYPASSRLS):"
        " runs in every DDL statement, tenant creation included"
    )


@pytest.mark.parametrize(
    ("statements", "undo", "expected"),
    [
        (
            [
                "CREATE FUNCTION public.peek_default() RETURNS text LANGUAGE sql AS 'SELECT ''x'''",
                "ALTER TABLE tenant_acme.organizations ALTER COLUMN name SET DEFAULT public.peek_default()",
            ],
            [
                "ALTER TABLE tenant_acme.organizations ALTER COLUMN name DROP DEFAULT",
                "DROP FUNCTION IF EXISTS public.peek_default()",
            ],
            "default value for column name of table tenant_acme.organizations uses function public.peek_default()",
        ),
        (
            [
                "CREATE FUNCTION public.peek_check(uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
                "ALTER TABLE tenant_globex.projects ADD CONSTRAINT peek CHECK (public.peek_check(tenant_id))",
            ],
            [
                "ALTER TABLE tenant_globex.projects DROP CONSTRAINT IF EXISTS peek",
                "DROP FUNCTION IF EXISTS public.peek_check(uuid)",
            ],
            "constraint peek on table tenant_globex.projects uses function public.peek_check(uuid)",
        ),
        (
            [
                "CREATE FUNCTION public.peek_key(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1'",
                "CREATE INDEX peek ON tenant_initech.organizations (public.peek_key(name))",
            ],
            ["DROP INDEX IF EXISTS tenant_initech.peek", "DROP FUNCTION IF EXISTS public.peek_key(text)"],
            "index tenant_initech.peek uses function public.peek_key(text)",
        ),
        (
            [
                "CREATE FUNCTION public.peek_value(text) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
                "CREATE DOMAIN public.peek_name AS text CHECK (public.peek_value(VALUE))",
                "ALTER TABLE tenant_acme.projects ALTER COLUMN name TYPE public.peek_name",
            ],
            [
                "ALTER TABLE tenant_acme.projects ALTER COLUMN name TYPE text",
                "DROP DOMAIN IF EXISTS public.peek_name",
                "DROP FUNCTION IF EXISTS public.peek_value(text)",
            ],
            "column name of table tenant_acme.projects uses type public.peek_name",
        ),
    ],
    ids=["column-default", "check-constraint", "index-expression", "column-domain"],
)
def test_fails_if_a_tenant_table_uses_a_user_defined_function_or_type(
    sabotage: Sabotage, statements: list[str], undo: list[str], expected: str
) -> None:
    sabotage(*statements, undo=undo)
    assert f"{expected}: not built in, it runs inside every tenant's reads or writes" in (_failed(sabotage.url)[CALLS])


def test_fails_if_a_superuser_security_definer_function_exists_where_app_user_cannot_call_it(
    sabotage: Sabotage,
) -> None:
    sabotage(
        "CREATE SCHEMA hidden",
        "CREATE FUNCTION hidden.count_globex() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
        " AS 'SELECT count(*) FROM tenant_globex.organizations'",
        undo=["DROP SCHEMA IF EXISTS hidden CASCADE"],
    )
    assert _failed(sabotage.url)[FUNCTIONS] == (
        "hidden.count_globex(): SECURITY DEFINER owned by postgres (SUPERUSER, BYPASSRLS)"
    )


def test_fails_if_a_security_definer_function_is_owned_by_a_role_outside_the_design(sabotage: Sabotage) -> None:
    other = sabotage.role()
    sabotage(
        "CREATE SCHEMA hidden",
        "CREATE FUNCTION hidden.as_other() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT 1::bigint'",
        f"ALTER FUNCTION hidden.as_other() OWNER TO {other}",
        undo=["DROP SCHEMA IF EXISTS hidden CASCADE"],
    )
    assert _failed(sabotage.url)[FUNCTIONS] == f"hidden.as_other(): SECURITY DEFINER owned by {other}"


def test_fails_if_a_user_function_is_leakproof(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE FUNCTION public.tell(uuid) RETURNS boolean LANGUAGE sql IMMUTABLE LEAKPROOF AS 'SELECT true'",
        undo=["DROP FUNCTION IF EXISTS public.tell(uuid)"],
    )
    assert _failed(sabotage.url)[FUNCTIONS] == (
        "public.tell(uuid): LEAKPROOF, so it runs before the tenant policy filters rows and can reveal them"
    )


# Rights on system objects restricted at install, grants, default privileges.


@pytest.mark.parametrize(
    ("grant", "expected", "probe"),
    [
        (
            "EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text)",
            "pg_read_binary_file(text): app_user may EXECUTE it",
            (FILES, "read B's data file: accepted"),
        ),
        ("SELECT ON pg_catalog.pg_statistic", "pg_statistic: app_user may SELECT from it", (STATISTICS, "LEAK")),
        ("EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text)", "pg_ls_dir(text): app_user may EXECUTE it", None),
        ("SELECT ON pg_catalog.pg_authid", "pg_authid: app_user may SELECT from it", None),
    ],
    ids=["pg_read_binary_file", "pg_statistic", "pg_ls_dir", "pg_authid"],
)
def test_fails_if_app_user_may_use_a_system_object_restricted_at_install(
    sabotage: Sabotage, grant: str, expected: str, probe: tuple[str, str] | None
) -> None:
    sabotage(f"GRANT {grant} TO {APP_ROLE}", undo=[f"REVOKE {grant} FROM {APP_ROLE}"])
    failed = _failed(sabotage.url)
    assert failed[SYSTEM] == f"{expected} (restricted when installed)"
    if probe is not None:
        assert probe[1] in failed[probe[0]]


def test_fails_if_a_tenant_table_is_granted_to_another_role(sabotage: Sabotage) -> None:
    reader = sabotage.role("LOGIN")
    sabotage(f"GRANT SELECT ON tenant_initech.test_runs TO {reader}")
    assert _failed(sabotage.url)[GRANTS] == f"tenant_initech.test_runs: SELECT granted to {reader}"


def test_fails_if_a_tenant_column_is_granted_to_another_role(sabotage: Sabotage) -> None:
    reader = sabotage.role("LOGIN")
    sabotage(f"GRANT SELECT (name) ON tenant_acme.organizations TO {reader}")
    assert _failed(sabotage.url)[GRANTS] == f"tenant_acme.organizations.name: SELECT granted to {reader}"


def test_fails_if_a_tenant_schema_is_granted_to_public(sabotage: Sabotage) -> None:
    sabotage("GRANT USAGE ON SCHEMA tenant_globex TO PUBLIC", undo=["REVOKE USAGE ON SCHEMA tenant_globex FROM PUBLIC"])
    assert _failed(sabotage.url)[GRANTS] == "schema tenant_globex: USAGE granted to PUBLIC"


def test_fails_if_app_user_may_use_another_schema(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE SCHEMA reports",
        f"GRANT USAGE ON SCHEMA reports TO {APP_ROLE}",
        undo=["DROP SCHEMA IF EXISTS reports CASCADE"],
    )
    assert _failed(sabotage.url)[GRANTS] == "schema reports: USAGE for app_user, outside the design"


def test_fails_if_default_privileges_grant_future_tenant_tables_to_another_role(sabotage: Sabotage) -> None:
    reader = sabotage.role()
    sabotage(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} GRANT SELECT ON TABLES TO {reader}",
        undo=[f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} REVOKE SELECT ON TABLES FROM {reader}"],  # noqa: S608
    )
    assert _failed(sabotage.url)[DEFAULTS] == f"qualisys_owner: tables -> {reader} SELECT"


def test_fails_if_default_privileges_in_a_tenant_schema_grant_anything(sabotage: Sabotage) -> None:
    reader = sabotage.role()
    sabotage(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA tenant_acme GRANT SELECT ON TABLES TO {reader}",
        undo=[f"ALTER DEFAULT PRIVILEGES IN SCHEMA tenant_acme REVOKE SELECT ON TABLES FROM {reader}"],  # noqa: S608
    )
    assert _failed(sabotage.url)[DEFAULTS] == f"postgres: tables in schema tenant_acme -> {reader} SELECT"


# Channels that carry rows out.


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("ALL TABLES", "publication leak (FOR ALL TABLES) publishes"),
        ("TABLE tenant_acme.organizations", "publication leak publishes"),
        ("TABLES IN SCHEMA tenant_globex", "publication leak publishes"),
    ],
    ids=["all-tables", "one-table", "a-tenant-schema"],
)
def test_fails_if_a_publication_includes_tenant_tables(sabotage: Sabotage, target: str, expected: str) -> None:
    sabotage(f"CREATE PUBLICATION leak FOR {target}", undo=["DROP PUBLICATION IF EXISTS leak"])
    assert _failed(sabotage.url)[CHANNELS] == f"{expected} tenant tables to any login with REPLICATION"


def test_fails_if_app_user_may_use_a_foreign_server(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE EXTENSION postgres_fdw",
        "CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1')",
        f"GRANT USAGE ON FOREIGN SERVER loopback TO {APP_ROLE}",
        "CREATE USER MAPPING FOR PUBLIC SERVER loopback OPTIONS (user 'postgres')",
        undo=["DROP EXTENSION IF EXISTS postgres_fdw CASCADE"],
    )
    assert _failed(sabotage.url)[CHANNELS] == (
        "foreign server loopback: USAGE for app_user, which connects it elsewhere;"
        " user mapping for public on server loopback: app_user connects with its credentials"
    )


# Views owned by another role, read by app_user with no tenant set.


def test_fails_if_app_user_can_read_through_a_view_owned_by_another_role(sabotage: Sabotage) -> None:
    sabotage(
        "CREATE SCHEMA reports",
        f"GRANT USAGE ON SCHEMA reports TO {APP_ROLE}",
        "CREATE VIEW reports.all_runs AS SELECT * FROM tenant_initech.test_runs",
        f"GRANT SELECT ON reports.all_runs TO {APP_ROLE}",
        undo=["DROP SCHEMA IF EXISTS reports CASCADE"],
    )
    failed = _failed(sabotage.url)
    assert failed[VIEWS_PROBE] == "LEAK: rows visible with no tenant set through reports.all_runs"
