"""Smoke tests 2 (database: temporary tenants, RLS round trip) and 6 (tenants verify), against the
PostgreSQL and Redis on 127.0.0.1, each test in a database of its own."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import redis

from qualisys_infra.tenancy import provision, redis_acl
from tests.signoff.conftest import app_url, closed_port, run_json, smoke
from tests.tenancy.conftest import REDIS

# An event trigger, local to the test's database, that turns RLS off on every table whose policy
# is created: what a careless migration or a tampered database would do.
RLS_SABOTAGE = """
CREATE FUNCTION public.disable_rls() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE command record;
BEGIN
  FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE POLICY' LOOP
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY',
                   (SELECT polrelid::regclass FROM pg_policy WHERE oid = command.objid));
  END LOOP;
END $$;
CREATE EVENT TRIGGER disable_rls ON ddl_command_end WHEN TAG IN ('CREATE POLICY') EXECUTE FUNCTION public.disable_rls();
"""

# The same way in, taking app_user's INSERT on new tables: the smoke test's write fails midway.
REVOKE_INSERT = """
CREATE FUNCTION public.revoke_insert() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE target regclass;
BEGIN
  FOR target IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname LIKE 'tenant_smoke%' AND c.relkind = 'r' LOOP
    EXECUTE format('REVOKE INSERT ON %s FROM app_user', target);
  END LOOP;
END $$;
CREATE EVENT TRIGGER revoke_insert ON ddl_command_end WHEN TAG IN ('GRANT') EXECUTE FUNCTION public.revoke_insert();
"""


def leftovers(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_smoke%' ORDER BY 1")
        found = [str(r[0]) for r in schemas]
        found += [str(r[0]) for r in conn.execute("SELECT slug FROM platform.tenants WHERE slug LIKE 'smoke%'")]
    return found


def plant(url: str, statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statements)


def db_args(url: str, number: int, *extra: str) -> list[str]:
    return [
        "--env",
        "staging",
        "--only",
        str(number),
        "--database-url",
        url,
        "--app-database-url",
        app_url(url),
        *extra,
    ]


# -- 2. database ----------------------------------------------------------------------------------


def test_database_passes_and_leaves_no_tenant_behind(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    code, report = run_json(capsys, *db_args(initialised, 2), environ={})
    result = smoke(report, 2)
    assert (code, result["verdict"]) == (0, "passed"), result
    names = [s["name"] for s in result["steps"]]
    assert names[0] == "temporary tenants" and names[-1] == "clean-up"
    assert any(n.startswith("tenant smoke_") and n.endswith("row (RLS)") for n in names)
    assert any(n.startswith("no tenant set cannot see") for n in names)
    assert leftovers(initialised) == []


def test_database_fails_if_rls_does_not_isolate(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    plant(initialised, RLS_SABOTAGE)
    code, report = run_json(capsys, *db_args(initialised, 2), environ={})
    result = smoke(report, 2)
    assert (code, result["verdict"]) == (1, "failed")
    assert "sees 1 row(s) of tenant_smoke_" in result["detail"]
    assert "RLS does not isolate" in result["detail"]
    assert leftovers(initialised) == []


def test_database_cleans_up_when_a_step_breaks_midway(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    plant(initialised, REVOKE_INSERT)
    _, report = run_json(capsys, *db_args(initialised, 2), environ={})
    result = smoke(report, 2)
    assert result["verdict"] == "failed"
    assert "as app_user: permission denied for table organizations" in result["detail"]
    assert result["steps"][-1]["verdict"] == "passed"  # clean-up
    assert leftovers(initialised) == []


def test_database_fails_if_the_database_is_not_initialised(capsys: pytest.CaptureFixture[str], database: str) -> None:
    _, report = run_json(capsys, *db_args(database, 2), environ={})
    result = smoke(report, 2)
    assert result["verdict"] == "failed"
    assert "not initialised for tenants; run `qualisys-infra tenants init` first" in result["detail"]


def test_database_could_not_run_without_a_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "--env", "staging", "--only", "2", environ={})
    result = smoke(report, 2)
    assert (code, result["verdict"]) == (1, "could not run")
    assert "no database: pass --database-url or set QUALISYS_DATABASE_URL" in result["detail"]


def test_database_could_not_run_if_the_server_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{closed_port()}/qualisys"
    _, report = run_json(capsys, *db_args(url, 2), environ={})
    result = smoke(report, 2)
    assert result["verdict"] == "could not run"
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:" in result["detail"]
    assert "s3cret-pw" not in str(report)


def test_database_could_not_run_if_app_user_cannot_log_in(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    wrong = initialised.replace("postgres@", "nobody_here:pw-x1y2@")
    _, report = run_json(
        capsys,
        "--env",
        "staging",
        "--only",
        "2",
        "--database-url",
        initialised,
        "--app-database-url",
        wrong,
        environ={},
    )
    result = smoke(report, 2)
    assert result["verdict"] == "could not run"
    assert "--app-database-url" in result["detail"]
    assert "pw-x1y2" not in str(report)
    assert leftovers(initialised) == []


def test_app_user_url_defaults_to_the_admin_url_with_the_password_variable(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    """As tenants verify: $QUALISYS_APP_USER_PASSWORD on the admin URL (trust auth ignores it here)."""
    env = {"QUALISYS_DATABASE_URL": initialised, "QUALISYS_APP_USER_PASSWORD": "app-pw-9876"}
    code, report = run_json(capsys, "--env", "staging", "--only", "2", environ=env)
    assert (code, smoke(report, 2)["verdict"]) == (0, "passed")


# -- 6. multi-tenant isolation --------------------------------------------------------------------


@pytest.fixture
def two_tenants(initialised: str, unique: str) -> Iterator[tuple[str, list[str]]]:
    slugs = [f"iso_{unique}_a", f"iso_{unique}_b"]
    with provision.connect(initialised) as conn:
        for slug in slugs:
            provision.create_tenant(conn, slug)
    yield initialised, slugs


def test_isolation_passes_on_a_sound_database(
    capsys: pytest.CaptureFixture[str], two_tenants: tuple[str, list[str]]
) -> None:
    url, _ = two_tenants
    code, report = run_json(capsys, *db_args(url, 6), environ={})
    result = smoke(report, 6)
    assert (code, result["verdict"]) == (0, "passed"), result
    assert result["detail"].startswith("all ") and result["detail"].endswith(" checks passed")
    assert len(result["steps"]) > 10
    assert not {"temporary tenants", "clean-up"} & {s["name"] for s in result["steps"]}  # its own two sufficed


def test_isolation_passes_with_redis_acls(
    capsys: pytest.CaptureFixture[str], two_tenants: tuple[str, list[str]], redis_admin: redis.Redis
) -> None:
    url, slugs = two_tenants
    for slug in slugs:
        redis_acl.create_user(redis_admin, slug)
    try:
        code, report = run_json(capsys, *db_args(url, 6, "--redis-url", REDIS), environ={})
    finally:
        for slug in slugs:
            redis_acl.drop_user(redis_admin, slug)
    result = smoke(report, 6)
    assert (code, result["verdict"]) == (0, "passed"), result
    assert any(s["name"].startswith("redis: ") for s in result["steps"])


@pytest.mark.parametrize("tenants", [0, 1])
def test_isolation_on_a_database_with_fewer_than_two_tenants_uses_temporary_ones(
    capsys: pytest.CaptureFixture[str], initialised: str, unique: str, tenants: int
) -> None:
    """A fresh staging has no tenants yet: the attacks still run, between temporary tenants that
    are dropped afterwards (a tenant of the database's own stays)."""
    own = [f"own_{unique}"][:tenants]
    with provision.connect(initialised) as conn:
        for slug in own:
            provision.create_tenant(conn, slug)
    code, report = run_json(capsys, *db_args(initialised, 6), environ={})
    result = smoke(report, 6)
    assert (code, result["verdict"]) == (0, "passed"), result["detail"]
    first, last = result["steps"][0], result["steps"][-1]
    assert first["name"] == "temporary tenants" and first["detail"].count("smoke_") == 2 - tenants
    assert last["name"] == "clean-up" and last["verdict"] == "passed"
    assert len(result["steps"]) > 12  # every catalog check and attack ran between the two
    assert leftovers(initialised) == []
    with provision.connect(initialised) as conn:
        assert [t.slug for t in provision.list_tenants(conn)] == own


def test_isolation_fails_if_app_user_may_truncate(
    capsys: pytest.CaptureFixture[str], two_tenants: tuple[str, list[str]]
) -> None:
    url, slugs = two_tenants
    plant(url, f"GRANT TRUNCATE ON tenant_{slugs[1]}.projects TO app_user")
    code, report = run_json(capsys, *db_args(url, 6), environ={})
    result = smoke(report, 6)
    assert (code, result["verdict"]) == (1, "failed")
    assert (
        f"app_user has only the intended rights on tables and sequences: tenant_{slugs[1]}.projects: TRUNCATE"
        in (result["detail"])
    )


def test_isolation_fails_if_redis_users_are_missing(
    capsys: pytest.CaptureFixture[str], two_tenants: tuple[str, list[str]]
) -> None:
    url, _ = two_tenants
    _, report = run_json(capsys, *db_args(url, 6, "--redis-url", REDIS), environ={})
    result = smoke(report, 6)
    assert result["verdict"] == "failed"
    assert "redis: two tenants with ACL users to probe" in result["detail"]


def test_isolation_could_not_run_without_a_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = run_json(capsys, "--env", "staging", "--only", "6", environ={})
    result = smoke(report, 6)
    assert result["verdict"] == "could not run"
    assert "pass --database-url or set QUALISYS_DATABASE_URL" in result["detail"]


def test_isolation_could_not_run_if_redis_does_not_answer(
    capsys: pytest.CaptureFixture[str], two_tenants: tuple[str, list[str]]
) -> None:
    url, _ = two_tenants
    redis_url = f"redis://default:r3dis-pw@127.0.0.1:{closed_port()}/0"
    _, report = run_json(capsys, *db_args(url, 6, "--redis-url", redis_url), environ={})
    result = smoke(report, 6)
    assert result["verdict"] == "could not run"
    assert "redis: redis: cannot connect to redis://default:***@127.0.0.1:" in result["detail"]
    assert "r3dis-pw" not in str(report)
