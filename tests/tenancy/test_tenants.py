"""Schema per tenant with row-level security, provisioned and attacked on a real PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

import psycopg
import pytest

from qualisys_infra.tenancy import factories, provision, verify
from qualisys_infra.tenancy.names import TenancyError, validate_slug
from tests.tenancy.conftest import app_url


def _checks(admin_url: str) -> dict[str, verify.Check]:
    with provision.connect(admin_url) as admin, provision.connect(app_url(admin_url)) as app:
        return {c.name: c for c in verify.verify(admin, app)}


def _two_tenants(url: str) -> tuple[provision.Tenant, provision.Tenant]:
    with provision.connect(url) as conn:
        return provision.create_tenant(conn, "acme"), provision.create_tenant(conn, "globex")


def test_init_creates_least_privilege_roles_and_is_idempotent(database: str) -> None:
    with provision.connect(database) as conn:
        assert provision.init(conn, environment="test", app_password=None) == [1]
        assert provision.init(conn, environment="test", app_password=None) == []
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = 'app_user'"
        ).fetchone()
        assert row == (False, False, False, False, True)
        public = conn.execute(
            "SELECT has_database_privilege('public', current_database(), 'CONNECT'),"
            " has_schema_privilege('public', 'public', 'CREATE')"
        ).fetchone()
        assert public == (False, False)


def test_create_tenant_builds_rls_tables_and_registers_them(initialised: str) -> None:
    with provision.connect(initialised) as conn:
        tenant = provision.create_tenant(conn, "acme")
        assert tenant.schema == "tenant_acme"
        tables = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, r.rolname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE n.nspname = 'tenant_acme' AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
        assert tables == [
            ("organizations", True, True, "qualisys_owner"),
            ("projects", True, True, "qualisys_owner"),
            ("test_runs", True, True, "qualisys_owner"),
        ]
        policies = conn.execute(
            "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = 'tenant_acme' ORDER BY 1"
        ).fetchall()
        assert len(policies) == 3
        for _, qual, check in policies:
            assert "current_setting('app.current_tenant'::text, true)" in str(qual) and qual == check
        assert [t.slug for t in provision.list_tenants(conn)] == ["acme"]
        with pytest.raises(TenancyError, match="tenant 'acme' already exists"):
            provision.create_tenant(conn, "acme")


@pytest.mark.parametrize(
    "slug",
    [
        "ab",
        "Acme",
        "1acme",
        "acme-corp",
        "acme; DROP TABLE platform.tenants; --",
        "a'b",
        'x"); DROP SCHEMA public; --',
        "public",
        "tenant_x",
        "pg_catalog",
        "a" * 42,
        "acme\n",
        "acme\r\n",
    ],
)
def test_fails_if_the_slug_is_invalid_or_an_injection(initialised: str, slug: str) -> None:
    with pytest.raises(TenancyError, match="tenant slug"):
        validate_slug(slug)
    with provision.connect(initialised) as conn:
        with pytest.raises(TenancyError, match="tenant slug"):
            provision.create_tenant(conn, slug)
        assert provision.list_tenants(conn) == []
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant%'").fetchone() == (0,)


def test_verify_passes_on_a_fresh_design(initialised: str) -> None:
    _two_tenants(initialised)
    checks = _checks(initialised)
    failed = [asdict(c) for c in checks.values() if not c.ok]
    assert failed == []
    assert len(checks) >= 17
    assert "rejected" in checks["SET LOCAL row_security = off exposes nothing"].detail
    assert "permission denied to set role" in checks["SET ROLE to a privileged role is refused"].detail
    assert "postgres" in checks["SET ROLE to a privileged role is refused"].detail


def test_verify_fails_loudly_when_rls_is_disabled_on_one_table(initialised: str) -> None:
    _two_tenants(initialised)
    with provision.connect(initialised) as conn:
        conn.execute("ALTER TABLE tenant_globex.test_runs DISABLE ROW LEVEL SECURITY")
    checks = _checks(initialised)
    rls = checks["every tenant table has RLS enabled, forced, and only the tenant policy"]
    assert not rls.ok and rls.detail == "tenant_globex.test_runs: RLS disabled"


def test_verify_fails_when_app_user_can_bypass_rls(initialised: str) -> None:
    _two_tenants(initialised)
    with provision.connect(initialised) as conn:
        conn.execute("ALTER ROLE app_user BYPASSRLS")
    try:
        checks = _checks(initialised)
        attributes = checks["app_user has only the attributes of its design"]
        assert not attributes.ok
        assert attributes.detail == "app_user has BYPASSRLS: row-level security does not apply to it"
        assert not checks["A cannot read B's rows"].ok, "the probe itself sees B's rows"
    finally:
        with provision.connect(initialised) as conn:
            conn.execute("ALTER ROLE app_user NOBYPASSRLS")


def test_verify_fails_when_a_policy_widens_access(initialised: str) -> None:
    _two_tenants(initialised)
    with provision.connect(initialised) as conn:
        conn.execute("CREATE POLICY open_door ON tenant_globex.organizations USING (true)")
    checks = _checks(initialised)
    assert (
        "1 other policy(ies) widen access"
        in checks["every tenant table has RLS enabled, forced, and only the tenant policy"].detail
    )
    assert not checks["A cannot read B's rows"].ok


def test_a_tenant_cannot_reach_another_through_objects_it_creates(initialised: str) -> None:
    a, _ = _two_tenants(initialised)
    with provision.connect(app_url(initialised)) as app:
        app.execute("SELECT set_config('app.current_tenant', %s, false)", (a.id,))
        for statement in (
            "CREATE VIEW tenant_acme.peek AS SELECT * FROM tenant_globex.projects",
            "CREATE FUNCTION tenant_acme.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM tenant_globex.projects'",
            "CREATE TABLE public.stash AS SELECT * FROM tenant_globex.projects",
            "CREATE SCHEMA mine",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)


def test_rows_written_as_one_tenant_stay_with_it(initialised: str) -> None:
    a, b = _two_tenants(initialised)
    with provision.connect(initialised) as conn:
        factories.seed_tenant(conn, a, seed=1, projects=2, runs=2)
        factories.seed_tenant(conn, b, seed=2, projects=3, runs=1)
    with provision.connect(app_url(initialised)) as app:

        def visible(tenant: provision.Tenant) -> dict[str, Any]:
            app.execute("SELECT set_config('app.current_tenant', %s, false)", (tenant.id,))
            return {
                schema: app.execute(f"SELECT count(*) FROM {schema}.projects").fetchone()[0]  # type: ignore[index]  # noqa: S608
                for schema in ("tenant_acme", "tenant_globex")
            }

        assert visible(a) == {"tenant_acme": 2, "tenant_globex": 0}
        assert visible(b) == {"tenant_acme": 0, "tenant_globex": 3}
        app.execute("RESET app.current_tenant")
        assert app.execute("SELECT count(*) FROM tenant_acme.projects").fetchone() == (0,)


def test_concurrent_tenant_creation(initialised: str) -> None:
    errors: list[str] = []
    created: list[str] = []

    def create(slug: str) -> None:
        try:
            with provision.connect(initialised) as conn:
                created.append(provision.create_tenant(conn, slug).slug)
        except TenancyError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=create, args=(f"tenant{i:02d}x",)) for i in range(6)]
    threads += [threading.Thread(target=create, args=("samename",)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(created) == sorted([f"tenant{i:02d}x" for i in range(6)] + ["samename"])
    assert errors == ["tenant 'samename' already exists"] * 2
    with provision.connect(initialised) as conn:
        assert len(provision.list_tenants(conn)) == 7


def test_drop_is_refused_in_production_unless_forced(database: str) -> None:
    with provision.connect(database) as conn:
        provision.init(conn, environment="production", app_password=None)
        provision.create_tenant(conn, "acme")
        with pytest.raises(TenancyError, match="refusing to drop a tenant in production without --force"):
            provision.drop_tenant(conn, "acme")
        provision.drop_tenant(conn, "acme", force=True)
        assert provision.list_tenants(conn) == []
        assert conn.execute("SELECT to_regnamespace('tenant_acme')").fetchone() == (None,)
