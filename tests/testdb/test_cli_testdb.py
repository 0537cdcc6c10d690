"""`qualisys-infra testdb create|drop|list` for CI, on the machine's PostgreSQL, through the CLI's
main (the parser testdb's add_commands registers, its run(args, ctx), errors as cli.py prints them)."""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.tenancy import factories, testdb

ADMIN = testdb.admin_url(os.environ)
# trust authentication on the local server accepts any password: the masking is still real.
WITH_PASSWORD = ADMIN.replace("postgres@", "postgres:pa55-w0rd-in-url@", 1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_prints_name_and_masked_urls_then_drop(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "testdb", "create", "--json", "--admin-url", WITH_PASSWORD)
    assert code == 0, err
    result = json.loads(out)
    name = result["name"]
    try:
        assert name.startswith("qualisys_test_") and len(name) == len("qualisys_test_") + 12
        assert result["admin_url"] == f"postgresql://postgres:***@127.0.0.1:5432/{name}"
        assert result["app_url"] == f"postgresql://app_user@127.0.0.1:5432/{name}"
        assert "pa55-w0rd-in-url" not in out
        assert sorted(result["tenants"]) == ["acme", "globex"]
        with psycopg.connect(testdb.database_url(ADMIN, name)) as conn:
            migrations = conn.execute("SELECT max(version) FROM platform.schema_migrations").fetchone()
            runs = conn.execute("SELECT count(*) FROM tenant_globex.test_runs").fetchone()
        assert migrations == (1,) and runs == (15,)  # seeded: 3 projects of 5 runs
        assert name in run(capsys, "testdb", "list", "--json")[1]
    finally:
        code, out, _ = run(capsys, "testdb", "drop", name)
    assert code == 0 and out == f"testdb: dropped {name}\n"
    assert name not in testdb.list_databases(ADMIN)
    code, out, _ = run(capsys, "testdb", "drop", name)
    assert code == 0 and out == f"testdb: {name} does not exist; nothing to drop\n"


def test_create_with_a_name_tenants_and_passwords_shown(capsys: pytest.CaptureFixture[str]) -> None:
    name = testdb.unique_name("ci_job_")
    code, out, err = run(
        capsys,
        "testdb",
        "create",
        "--name",
        name,
        "--tenant",
        "initech",
        "--show-passwords",
        "--admin-url",
        WITH_PASSWORD,
    )
    try:
        assert code == 0, err
        assert out.splitlines()[:2] == [
            f"testdb: created {name}",
            f"admin_url  postgresql://postgres:pa55-w0rd-in-url@127.0.0.1:5432/{name}",
        ]
        assert out.splitlines()[3].startswith("tenant     initech (schema tenant_initech, id ")
        code, _, err = run(capsys, "testdb", "create", "--name", name)
        assert (
            code == 2 and err == f"error: test database {name}: already exists; pick another --name or drop it first\n"
        )
        assert name in testdb.list_databases(ADMIN)  # the existing one is left alone
    finally:
        testdb.drop(ADMIN, name)


def test_drop_refuses_a_database_testdb_did_not_make(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "testdb", "drop", "postgres")
    assert code == 2 and out == ""
    assert err == (
        "error: test database postgres: not made by `qualisys-infra testdb create`"
        " (no 'qualisys-infra testdb' comment); not dropped\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "--name", "Bad-Name"], "error: test database name: got 'Bad-Name', expected 1-63 characters"),
        (["drop", "x;drop"], "error: test database name: got 'x;drop'"),
        (["create", "--tenant", "Acme"], "error: tenant slug: got 'Acme'"),
        (["create", "--admin-url", "mysql://x"], "error: --admin-url: got 'mysql://x', expected postgresql://"),
        (["list", "--admin-url", "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/postgres"], "cannot connect to"),
    ],
)
def test_bad_input_exits_2_on_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "testdb", *argv)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1
    assert "s3cr3t-pw" not in err


def test_a_failed_create_leaves_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    before = set(testdb.list_databases(ADMIN))
    with pytest.raises(ToolkitError, match="reserved"):
        testdb.create(ADMIN, tenants=["acme", "platform"])  # refused before anything is made

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(factories, "seed_tenants", interrupted)  # Ctrl-C while seeding
    name = testdb.unique_name()
    with pytest.raises(KeyboardInterrupt):
        testdb.create(ADMIN, name=name)
    assert set(testdb.list_databases(ADMIN)) == before
