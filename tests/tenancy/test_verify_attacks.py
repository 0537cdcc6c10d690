"""Planted isolation breaks, one per test: each must make ``verify`` fail, naming the check and the object.

Every attack here was shown to let tenant A read tenant B's rows (or able to) while an earlier
``verify`` passed. Roles are cluster-wide, so tests that create or change roles undo it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qualisys_infra.tenancy import provision, verify
from tests.tenancy.conftest import app_url

RLS = "every tenant table has RLS enabled, forced, and only the tenant policy"
OWNERS = "tenant schemas and their objects are owned by qualisys_owner, app_user owns nothing"
RIGHTS = "app_user has only the intended rights on tables and sequences"
VIEWS = "no view readable by app_user reads tenant tables or bypasses RLS"
FUNCTIONS = "no SECURITY DEFINER or LEAKPROOF function outside the design"
DEFAULTS = "no default privileges grant rights on future tenant objects"
MEMBERSHIP = "app_user is a member of no other role"
READ = "A cannot read B's rows"
TENANTS = ("acme", "globex", "initech")


def _checks(admin_url: str) -> dict[str, verify.Check]:
    with provision.connect(admin_url) as admin, provision.connect(app_url(admin_url)) as app:
        return {c.name: c for c in verify.verify(admin, app)}


def _failed(admin_url: str) -> dict[str, str]:
    return {c.name: c.detail for c in _checks(admin_url).values() if not c.ok}


@pytest.fixture
def three(initialised: str) -> Iterator[str]:
    """Three tenants with data, verified clean first; yields the admin URL."""
    from qualisys_infra.tenancy import factories

    with provision.connect(initialised) as conn:
        for i, slug in enumerate(TENANTS):
            factories.seed_tenant(conn, provision.create_tenant(conn, slug), seed=i, projects=1, runs=1)
    assert _failed(initialised) == {}
    yield initialised


def _admin(url: str, *statements: str) -> None:
    with provision.connect(url) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_clean_design_with_three_tenants_passes(three: str) -> None:
    checks = _checks(three)
    assert [c.name for c in checks.values() if not c.ok] == []
    assert "as each of 3 tenants" in checks[READ].detail


def test_fails_if_a_superuser_view_over_a_tenant_table_is_granted_to_app_user(three: str) -> None:
    _admin(
        three,
        "CREATE VIEW tenant_acme.peek AS SELECT * FROM tenant_globex.organizations",
        "GRANT SELECT ON tenant_acme.peek TO app_user",
    )
    failed = _failed(three)
    assert "tenant_acme.peek" in failed[VIEWS] and "postgres" in failed[VIEWS]
    assert "tenant_acme.peek: owned by postgres" in failed[OWNERS]
    assert "tenant_acme.peek" in failed[RIGHTS]


def test_fails_if_a_view_elsewhere_reads_tenant_tables_through_another_view(three: str) -> None:
    _admin(
        three,
        "CREATE SCHEMA reports",
        "CREATE VIEW reports.inner_v AS SELECT * FROM tenant_globex.projects",
        "CREATE VIEW reports.outer_v AS SELECT * FROM reports.inner_v",
        "GRANT USAGE ON SCHEMA reports TO app_user",
        "GRANT SELECT ON reports.outer_v TO app_user",
    )
    failed = _failed(three)
    assert "reports.outer_v" in failed[VIEWS] and "tenant_globex.projects" in failed[VIEWS]
    assert "reports.outer_v: SELECT" in failed[RIGHTS]


def test_fails_if_a_materialized_view_of_a_tenant_table_is_readable(three: str) -> None:
    _admin(
        three,
        "SET ROLE qualisys_owner",
        "CREATE MATERIALIZED VIEW tenant_acme.snapshot AS SELECT * FROM tenant_globex.test_runs",
        "GRANT SELECT ON tenant_acme.snapshot TO app_user",
    )
    failed = _failed(three)
    assert "tenant_acme.snapshot (materialized view)" in failed[VIEWS]


def test_fails_if_a_tenant_table_is_owned_by_app_user(three: str) -> None:
    _admin(three, "ALTER TABLE tenant_globex.organizations OWNER TO app_user")
    failed = _failed(three)
    assert "tenant_globex.organizations: owned by app_user" in failed[OWNERS]


def test_fails_if_a_tenant_schema_is_owned_by_app_user(three: str) -> None:
    _admin(three, "ALTER SCHEMA tenant_initech OWNER TO app_user")
    failed = _failed(three)
    assert "schema tenant_initech: owned by app_user" in failed[OWNERS]


def test_fails_if_a_policy_has_an_extra_or_branch(three: str) -> None:
    _admin(
        three,
        "ALTER POLICY tenant_isolation ON tenant_initech.projects USING ("
        "tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid"
        " OR current_setting('app.support_mode', true) = 'on')",
    )
    failed = _failed(three)
    assert "tenant_initech.projects: policy tenant_isolation USING is" in failed[RLS]
    assert "app.support_mode" in failed[RLS]


def test_fails_if_a_policy_leaks_only_on_the_third_tenant(three: str) -> None:
    _admin(
        three,
        "ALTER POLICY tenant_isolation ON tenant_initech.organizations USING ("
        "tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid"
        " OR current_setting('app.current_tenant', true) <> '')",
    )
    failed = _failed(three)
    assert "tenant_initech.organizations: policy tenant_isolation USING is" in failed[RLS]
    assert "tenant_initech.organizations" in failed[READ] and failed[READ].startswith("LEAK")


def test_fails_if_an_extra_permissive_policy_mentions_the_tenant_setting(three: str) -> None:
    _admin(
        three,
        "CREATE POLICY tenant_isolation_read ON tenant_globex.test_runs FOR SELECT TO app_user"
        " USING (current_setting('app.current_tenant', true) IS NOT NULL)",
    )
    failed = _failed(three)
    assert "tenant_globex.test_runs: 1 other policy(ies) widen access (tenant_isolation_read)" in failed[RLS]
    assert "tenant_globex.test_runs" in failed[READ]


def test_fails_if_the_policy_applies_to_select_only(three: str) -> None:
    _admin(
        three,
        "DROP POLICY tenant_isolation ON tenant_acme.organizations",
        "CREATE POLICY tenant_isolation ON tenant_acme.organizations FOR SELECT"
        " USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid)",
    )
    assert "tenant_acme.organizations: policy tenant_isolation" in _failed(three)[RLS]


def test_fails_if_a_security_definer_function_reads_another_tenant(three: str) -> None:
    _admin(
        three,
        "CREATE FUNCTION tenant_acme.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
        " AS 'SELECT count(*) FROM tenant_globex.organizations'",
    )
    failed = _failed(three)
    assert "tenant_acme.peek(): SECURITY DEFINER owned by postgres (SUPERUSER" in failed[FUNCTIONS]
    assert "tenant_acme.peek(): owned by postgres" in failed[OWNERS]


def test_fails_if_a_security_definer_function_of_the_owner_role_is_callable_elsewhere(three: str) -> None:
    _admin(
        three,
        "CREATE SCHEMA helpers AUTHORIZATION qualisys_owner",
        "GRANT USAGE ON SCHEMA helpers TO app_user",
        "SET ROLE qualisys_owner",
        "CREATE FUNCTION helpers.unlock(t regclass) RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
        " AS 'BEGIN EXECUTE format(''ALTER TABLE %s NO FORCE ROW LEVEL SECURITY'', t); END'",
    )
    failed = _failed(three)
    assert (
        "helpers.unlock(regclass): SECURITY DEFINER owned by qualisys_owner (rights of qualisys_owner)"
        in (failed[FUNCTIONS])
    )


def test_fails_if_default_privileges_grant_app_user_future_tables(three: str) -> None:
    _admin(three, "ALTER DEFAULT PRIVILEGES FOR ROLE qualisys_owner GRANT SELECT, TRUNCATE ON TABLES TO app_user")
    failed = _failed(three)
    assert "qualisys_owner: tables" in failed[DEFAULTS] and "app_user" in failed[DEFAULTS]


def test_fails_if_app_user_may_truncate_a_tenant_table(three: str) -> None:
    _admin(three, "GRANT TRUNCATE ON tenant_initech.test_runs TO app_user")
    assert "tenant_initech.test_runs: TRUNCATE" in _failed(three)[RIGHTS]


@pytest.mark.parametrize(("flags", "why"), [("BYPASSRLS", "BYPASSRLS"), ("SUPERUSER", "SUPERUSER"), ("", "")])
def test_fails_if_app_user_is_a_member_of_a_role(three: str, unique: str, flags: str, why: str) -> None:
    role = f"helper_{unique}"
    _admin(three, f"CREATE ROLE {role} NOLOGIN {flags}", f"GRANT {role} TO app_user")
    try:
        failed = _failed(three)
        assert f"member of {role}" in failed[MEMBERSHIP] and why in failed[MEMBERSHIP]
    finally:
        _admin(three, f"DROP ROLE {role}")


def test_fails_if_app_user_is_a_member_of_the_owner_role(three: str) -> None:
    _admin(three, "GRANT qualisys_owner TO app_user")
    try:
        failed = _failed(three)
        assert (
            "app_user is a member of qualisys_owner (owns the tenant tables; its rights apply at once)"
            in (failed[MEMBERSHIP])
        )
    finally:
        _admin(three, "REVOKE qualisys_owner FROM app_user")
