"""`qualisys-infra tenants ...` end to end on a real PostgreSQL and Redis, as the README shows it."""

from __future__ import annotations

import json

import pytest
import redis

from qualisys_infra.cli import main
from qualisys_infra.tenancy import provision
from tests.tenancy.conftest import REDIS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_flow_init_create_seed_verify(
    capsys: pytest.CaptureFixture[str], database: str, redis_admin: redis.Redis, unique: str
) -> None:
    db = ["--database-url", database]
    assert _run(capsys, "tenants", "init", *db)[0] == 0
    slugs = [f"acme{unique}", f"globex{unique}"]
    try:
        for slug in slugs:
            code, out, _ = _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)
            assert code == 0 and f"redis: ACL user tenant_{slug} on keys tenant_{slug}:*" in out
        code, out, _ = _run(capsys, "tenants", "seed", "--tenants", "2", "--projects", "2", "--runs", "3", *db)
        assert code == 0 and "seeded 2 tenants with 18 rows" in out
        code, out, _ = _run(capsys, "tenants", "list", "--json", *db)
        assert len(json.loads(out)) == 4
        code, out, err = _run(capsys, "tenants", "verify", *db, "--redis-url", REDIS)
        assert code == 0, out + err
        assert out.splitlines()[-1].startswith("tenants verify: ") and out.splitlines()[-1].endswith(
            " passed, 0 failed"
        )
    finally:
        for slug in slugs:
            redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_verify_exits_1_and_names_the_failing_check(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    db = ["--database-url", initialised]
    for slug in ("acme", "globex"):
        _run(capsys, "tenants", "create", slug, *db)
    with provision.connect(initialised) as conn:
        conn.execute("ALTER TABLE tenant_acme.projects NO FORCE ROW LEVEL SECURITY")
    code, out, err = _run(capsys, "tenants", "verify", "--json", *db)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert err.strip() == (
        "error: isolation check failed: every tenant table has RLS enabled, forced, and only the tenant policy: "
        "tenant_acme.projects: RLS not forced"
    )


def test_drop_needs_yes(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    _run(capsys, "tenants", "create", "acme", "--database-url", initialised)
    code, _, err = _run(capsys, "tenants", "drop", "acme", "--database-url", initialised)
    assert code == 2 and "pass --yes to confirm" in err
    code, out, _ = _run(capsys, "tenants", "drop", "acme", "--yes", "--database-url", initialised)
    assert code == 0 and "dropped acme" in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/x", "expected postgresql://USER[:PASSWORD]@HOST:PORT/DB"),
        (
            "postgresql://postgres:secret@127.0.0.1:1/postgres",
            "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/no_such_database_here",
            'database "no_such_database_here" does not exist',
        ),
    ],
)
def test_bad_urls_and_unreachable_servers_are_one_line(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, _, err = _run(capsys, "tenants", "list", "--database-url", url)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line
    assert "secret" not in err


def test_missing_rights_are_reported_as_such(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    as_app = initialised.replace("postgresql://postgres@", "postgresql://app_user@")
    code, _, err = _run(capsys, "tenants", "create", "acme", "--database-url", as_app)
    assert code == 2
    assert err.startswith("error: database: missing rights on postgresql://app_user@")


def test_no_database_configured(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALISYS_DATABASE_URL", raising=False)
    code, _, err = _run(capsys, "tenants", "list")
    assert code == 2 and "pass --database-url or set QUALISYS_DATABASE_URL" in err


@pytest.mark.parametrize("slug", ["acme\n", "acme\r\n", "\nacme", "acme\x00"])
def test_fails_if_the_slug_has_a_trailing_newline_or_control_character(
    capsys: pytest.CaptureFixture[str], initialised: str, slug: str
) -> None:
    code, _, err = _run(capsys, "tenants", "create", slug, "--database-url", initialised)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: tenant slug: got ") and "expected 3-41 characters" in line
    with provision.connect(initialised) as conn:
        assert provision.list_tenants(conn) == []
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant%'").fetchone() == (0,)
