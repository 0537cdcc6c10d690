"""The multi-tenant test database fixtures as an application team uses them: the example documented
in the plugin's docstring runs as written (so it cannot rot), fails when isolation is broken, and the
session's database is dropped at the end whether tests pass or fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

import qualisys_infra.pytest_plugin as plugin
from qualisys_infra.tenancy import testdb
from qualisys_infra.tenancy.names import TenancyError

ADMIN = testdb.admin_url(os.environ)


def documented_example() -> str:
    """The code block after "An isolation test::" in the plugin's docstring."""
    doc = plugin.__doc__ or ""
    block = doc.split("An isolation test::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip() + "\n"


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A separate pytest session in ``folder``: the plugin loads from its entry point, as for any team."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def new_test_databases(before: set[str]) -> set[str]:
    return set(testdb.list_databases(ADMIN)) - before


def test_the_documented_example_is_five_lines_and_passes(tmp_path: Path) -> None:
    example = documented_example()
    body = example.splitlines()[1:]
    assert example.startswith("def test_") and len(body) == 5, example
    (tmp_path / "test_isolation.py").write_text(example, encoding="utf-8")
    before = set(testdb.list_databases(ADMIN))
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1 passed\b", result.stdout)
    assert new_test_databases(before) == set()  # dropped at the end of the session


def test_the_documented_example_fails_when_a_policy_leaks(tmp_path: Path) -> None:
    """The same five lines catch a policy that lets every tenant read globex's projects."""
    (tmp_path / "test_isolation.py").write_text(documented_example(), encoding="utf-8")
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import psycopg
            import pytest

            @pytest.fixture(scope="session", autouse=True)
            def leak(qualisys_testdb):
                with psycopg.connect(qualisys_testdb.admin_url, autocommit=True) as conn:
                    conn.execute("CREATE POLICY everyone ON tenant_globex.projects USING (true)")
            """
        ),
        encoding="utf-8",
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout
    assert "FROM tenant_globex.projects" in result.stdout  # the last line of the example is the one failing


def test_tests_are_rolled_back_commit_is_refused_and_the_database_is_dropped_after_failures(tmp_path: Path) -> None:
    (tmp_path / "test_rollback.py").write_text(
        textwrap.dedent(
            """
            import psycopg
            import pytest

            def test_1_writes(tenant_connection):
                tenant_connection.execute(
                    "INSERT INTO organizations (tenant_id, name)"
                    " VALUES (current_setting('app.current_tenant')::uuid, 'written by test 1')"
                )
                assert tenant_connection.execute("SELECT count(*) FROM organizations").fetchone() == (2,)

            def test_2_sees_nothing_of_test_1(tenant_connection):
                assert tenant_connection.execute("SELECT count(*) FROM organizations").fetchone() == (1,)

            def test_3_commit_is_refused(tenant_connection):
                with pytest.raises(psycopg.ProgrammingError):
                    tenant_connection.commit()

            @pytest.mark.parametrize("tenant_connection", ["globex"], indirect=True)
            def test_4_indirect_tenant(tenant_connection, qualisys_testdb):
                row = tenant_connection.execute("SELECT current_setting('app.current_tenant')").fetchone()
                assert row == (qualisys_testdb.tenant("globex").id,)
                assert tenant_connection.execute("SHOW search_path").fetchone() == ('"tenant_globex"',)

            def test_5_a_refused_statement_leaves_the_connection_usable(tenant_connection):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with tenant_connection.transaction():
                        tenant_connection.execute("TRUNCATE projects")
                assert tenant_connection.execute("SELECT count(*) FROM projects").fetchone() == (3,)

            def test_6_as_app_user(tenant_connection):
                assert tenant_connection.execute("SELECT current_user").fetchone() == ("app_user",)

            def test_7_unknown_tenant(connect_as_tenant):
                connect_as_tenant("initech")

            def test_8_fails_on_purpose():
                assert False, "a failing test"
            """
        ),
        encoding="utf-8",
    )
    before = set(testdb.list_databases(ADMIN))
    result = run_pytest(tmp_path)
    assert "2 failed, 6 passed" in result.stdout, result.stdout + result.stderr
    assert "no tenant 'initech'; tenants: acme, globex" in result.stdout
    assert new_test_databases(before) == set()


def test_the_fixtures_work_in_this_suite_too(connect_as_tenant: object, qualisys_testdb: testdb.TestDatabase) -> None:
    assert callable(connect_as_tenant)
    acme = connect_as_tenant("acme")
    assert isinstance(acme, psycopg.Connection)
    assert acme.execute("SELECT count(*) FROM test_runs").fetchone() == (15,)
    assert qualisys_testdb.name.startswith("qualisys_test_") and qualisys_testdb.name in testdb.list_databases(ADMIN)


@pytest.mark.parametrize("name", ["Upper", "has-dash", "x" * 64, "1starts_with_digit", ""])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(TenancyError, match="test database name"):
        testdb.validate_name(name)


def test_database_url_keeps_everything_but_the_database() -> None:
    assert (
        testdb.database_url("postgresql://u:p@ss/w?rd@db.example:6432/postgres?sslmode=require", "t1")
        == "postgresql://u:p@ss/w?rd@db.example:6432/t1?sslmode=require"
    )
    assert testdb.database_url("postgresql://postgres@127.0.0.1", "t2") == "postgresql://postgres@127.0.0.1/t2"


def test_the_readme_shows_the_documented_example_word_for_word() -> None:
    """The docs' isolation test is the docstring's, which the test above runs: neither can drift."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "local-platform.md").read_text(encoding="utf-8")
    section = readme.split("An isolation test in five lines", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == documented_example()
