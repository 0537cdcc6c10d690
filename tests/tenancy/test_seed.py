"""`tenants seed`: the tenants named, nothing created unless asked, the same data on every run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from qualisys_infra.commands.cli import main
from qualisys_infra.tenancy import factories, provision
from tests.tenancy.conftest import REDIS

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every tenant table, every column included, in a stable order."""
    with provision.connect(url) as conn:
        tables = {}
        for tenant in provision.list_tenants(conn):
            for table in ("organizations", "projects", "test_runs"):
                rows = conn.execute(f"SELECT * FROM {tenant.schema}.{table} ORDER BY id").fetchall()  # noqa: S608
                tables[f"{tenant.schema}.{table}"] = rows
        return tables


def _slugs(url: str) -> list[str]:
    with provision.connect(url) as conn:
        return [t.slug for t in provision.list_tenants(conn)]


def test_fails_if_seeding_twice_is_not_idempotent(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    db = ["--database-url", initialised]
    for slug in ("acme", "globex"):
        assert _run(capsys, "tenants", "create", slug, *db)[0] == 0
    code, out, err = _run(capsys, "tenants", "seed", "acme", "globex", *db)
    assert code == 0, err
    assert "tenants: seeded acme: 19 rows, 19 new, 0 rewritten" in out
    assert out.splitlines()[-1] == ("tenants: seeded 2 tenants with 38 rows (seed 15, 3 projects of 5 runs each)")
    first = _contents(initialised)
    assert [len(rows) for rows in first.values()] == [1, 3, 15, 1, 3, 15]
    code, out, err = _run(capsys, "tenants", "seed", "acme", "globex", *db)
    assert code == 0, err  # was: a UniqueViolation traceback
    assert "tenants: seeded globex: 19 rows, 0 new, 19 rewritten" in out
    assert _contents(initialised) == first
    code, out, err = _run(capsys, "tenants", "seed", "--all", *db)
    assert code == 0, err
    assert _contents(initialised) == first
    assert _slugs(initialised) == ["acme", "globex"]


def test_fails_if_seed_creates_tenants_it_was_not_asked_for(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    db = ["--database-url", initialised]
    assert _run(capsys, "tenants", "create", "acme", *db)[0] == 0
    code, out, err = _run(capsys, "tenants", "seed", "acme", "globex", "initech", *db)
    assert code == 2
    assert err == (
        "error: tenants seed: no such tenant: globex, initech; nothing was written."
        " Create it first (tenants create SLUG) or pass --create\n"
    )
    assert _slugs(initialised) == ["acme"]
    assert all(rows == [] for rows in _contents(initialised).values())  # acme was not seeded either
    code, out, err = _run(
        capsys, "tenants", "seed", "acme", "globex", "--create", "--projects", "1", "--runs", "2", *db
    )
    assert code == 0, err
    assert "tenants: created globex (schema tenant_globex" in out
    assert "tenants: created acme" not in out
    assert _slugs(initialised) == ["acme", "globex"]
    assert [len(rows) for rows in _contents(initialised).values()] == [1, 1, 2, 1, 1, 2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "tenants seed: name the tenants to seed (tenants seed acme globex), or pass --all"),
        (("acme", "--all"), "tenants seed: name the tenants or pass --all, not both"),
        (("--all", "--create"), "tenants seed: --create creates the tenants named; it does nothing with --all"),
        (("Acme",), "tenant slug: got 'Acme', expected 3-41 characters"),
        (("acme", "--projects", "-1"), "argument --projects: expected 0 to 1000, got -1"),
        (("acme", "--runs", "five"), "argument --runs: expected a whole number, got 'five'"),
        (("--tenants", "2"), "unrecognized arguments: --tenants"),
    ],
)
def test_fails_if_a_bad_seed_command_line_writes_anything(
    capsys: pytest.CaptureFixture[str], initialised: str, argv: tuple[str, ...], message: str
) -> None:
    try:
        code, _, err = _run(capsys, "tenants", "seed", *argv, "--database-url", initialised)
    except SystemExit as exc:  # argparse's own errors
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2
    assert message in err
    assert _slugs(initialised) == []


def test_seed_all_without_tenants_says_so(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    code, _, err = _run(capsys, "tenants", "seed", "--all", "--database-url", initialised)
    assert code == 2
    assert err == "error: tenants seed --all: no tenants registered; create one first: tenants create SLUG\n"


def test_fails_if_reseeding_deletes_other_rows_or_keeps_edited_seed_rows(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    db = ["--database-url", initialised]
    assert _run(capsys, "tenants", "seed", "acme", "--create", *db)[0] == 0
    seeded = _contents(initialised)
    with provision.connect(initialised) as conn:
        tenant = provision.find_tenant(conn, "acme")
        assert tenant is not None
        conn.execute("UPDATE tenant_acme.organizations SET name = 'Edited by hand'")
        conn.execute(
            "INSERT INTO tenant_acme.organizations (tenant_id, name) VALUES (%s, 'Not from seed')", (tenant.id,)
        )
    code, out, err = _run(capsys, "tenants", "seed", "acme", *db)
    assert code == 0, err
    assert out.splitlines() == [
        "tenants: seeded acme: 19 rows, 0 new, 19 rewritten",
        "tenants: seeded 1 tenant with 19 rows (seed 15, 3 projects of 5 runs each)",
    ]
    after = _contents(initialised)
    names = sorted(row[2] for row in after["tenant_acme.organizations"])
    assert names == sorted([seeded["tenant_acme.organizations"][0][2], "Not from seed"])
    assert after["tenant_acme.projects"] == seeded["tenant_acme.projects"]
    assert after["tenant_acme.test_runs"] == seeded["tenant_acme.test_runs"]


def test_fails_if_seeding_is_not_all_or_nothing(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    db = ["--database-url", initialised]
    for slug in ("acme", "globex"):
        assert _run(capsys, "tenants", "create", slug, *db)[0] == 0
    with provision.connect(initialised) as conn:  # globex, seeded second, cannot take test runs
        conn.execute("ALTER TABLE tenant_globex.test_runs ADD CONSTRAINT no_runs CHECK (false)")
    code, _, err = _run(capsys, "tenants", "seed", "acme", "globex", *db)
    assert code == 1
    assert err.startswith("error: database: ") and "no_runs" in err
    assert all(rows == [] for rows in _contents(initialised).values())


def test_seed_is_refused_in_production_unless_forced(capsys: pytest.CaptureFixture[str], database: str) -> None:
    db = ["--database-url", database]
    assert _run(capsys, "tenants", "init", "--environment", "production", *db)[0] == 0
    assert _run(capsys, "tenants", "create", "acme", *db)[0] == 0
    code, _, err = _run(capsys, "tenants", "seed", "acme", *db)
    assert code == 2
    assert err == "error: tenants seed: refusing to write test data in a production database without --force\n"
    assert all(rows == [] for rows in _contents(database).values())
    assert _run(capsys, "tenants", "seed", "acme", "--force", *db)[0] == 0


def test_init_again_keeps_the_environment_unless_told(capsys: pytest.CaptureFixture[str], database: str) -> None:
    db = ["--database-url", database]
    code, out, _ = _run(capsys, "tenants", "init", *db)
    assert code == 0 and out.startswith("tenants: initialised (dev);")
    assert _run(capsys, "tenants", "init", "--environment", "production", *db)[0] == 0
    code, out, _ = _run(capsys, "tenants", "init", *db)  # was: silently back to dev, unguarding drop
    assert code == 0 and out.startswith("tenants: initialised (production); migrations applied: none pending")


def test_fails_if_seed_create_skips_the_redis_user(
    capsys: pytest.CaptureFixture[str], initialised: str, redis_admin: redis.Redis, unique: str
) -> None:
    slug = f"demo{unique}"
    try:
        code, out, err = _run(
            capsys, "tenants", "seed", slug, "--create", "--database-url", initialised, "--redis-url", REDIS
        )
        assert code == 0, err
        assert f"redis: ACL user tenant_{slug} on keys tenant_{slug}:*, password " in out
        assert redis_admin.execute_command("ACL", "GETUSER", f"tenant_{slug}") is not None  # type: ignore[no-untyped-call]
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


# The data itself: Faker, seeded per tenant, the same everywhere.


def _dataset(slug: str, seed: int, projects: int = 2, runs: int = 3) -> list[Any]:
    return list(factories.Factory(slug, seed).dataset(projects, runs))


def test_fails_if_the_data_set_is_not_a_function_of_slug_and_seed() -> None:
    assert _dataset("acme", 15) == _dataset("acme", 15)
    assert _dataset("acme", 15) != _dataset("acme", 16)
    assert _dataset("acme", 15) != _dataset("globex", 15)
    assert _dataset("acme", 15, projects=1, runs=1) == _dataset("acme", 15)[:3]  # a prefix: rows keep their ids
    assert len(_dataset("acme", 15, projects=3, runs=5)) == 19


def test_fails_if_the_data_set_changes_between_machines_or_faker_versions() -> None:
    """The exact rows of acme, seed 15. Changing means the seeded data changed for everyone: a Faker
    upgrade (its word lists), the locale or the derivation of the per-tenant seed."""
    organization, project, run = _dataset("acme", 15, projects=1, runs=1)
    assert organization == factories.Organization("89bdd9be-47d5-4abf-9364-121aab243c74", "Patel, Walker and Miller")
    assert project == factories.Project(
        "fc7cc411-9c86-4f90-bdb7-2755eda6bf99", organization.id, "Universal modular matrices"
    )
    assert run == factories.TestRun(
        "0986c848-f610-4dcf-bfb6-d4ae41032aab",
        project.id,
        "queued",
        dt.datetime(2026, 2, 15, 13, 55, 55, 951520, tzinfo=dt.UTC),
        535571,
    )


def test_fails_if_the_data_set_depends_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    import faker.providers.date_time as faker_dates

    expected = _dataset("acme", 15)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Later:
            return cls(2031, 7, 1, tzinfo=tz)

    monkeypatch.setattr(faker_dates, "datetime", Later)
    assert _dataset("acme", 15) == expected
    runs = [r for r in expected if isinstance(r, factories.TestRun)]
    assert all(factories.RUNS_FROM <= r.started_at <= factories.RUNS_UNTIL for r in runs)
    assert {r.status for r in runs} <= set(factories.STATUSES)


@pytest.mark.parametrize(("hash_seed", "tz"), [("1", "Pacific/Auckland"), ("2", "America/Los_Angeles")])
def test_fails_if_the_data_set_depends_on_the_process(hash_seed: str, tz: str) -> None:
    script = (
        "import json; from qualisys_infra.tenancy.factories import Factory;"
        "print(json.dumps([repr(r) for r in Factory('acme', 15).dataset(2, 3)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "TZ": tz, "LANG": "fr_FR.UTF-8", "LC_ALL": "C"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == [repr(r) for r in _dataset("acme", 15)]
