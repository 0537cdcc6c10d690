"""Smoke test 5: the local environment check (devcheck.check_local) against an app on 127.0.0.1 and
the local PostgreSQL (a database of the test's own, seeded as compose's seed service does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.delivery.devcheck import seed_local
from tests.signoff.conftest import app_url, closed_port, run_json, smoke


@pytest.fixture
def seeded(database: str) -> str:
    seed_local(database, None, tenants=("acme", "globex"), projects=1, runs=1)
    return database


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env of the developer's in the way: the tests say every setting."""
    monkeypatch.chdir(tmp_path)


def local_args(app: str, database: str, *extra: str) -> list[str]:
    return [
        "--env",
        "staging",
        "--only",
        "5",
        "--local-app-url",
        app,
        "--local-database-url",
        database,
        "--local-app-database-url",
        app_url(database),
        "--local-no-redis",
        *extra,
    ]


def test_onboarding_passes_on_a_running_local_environment(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, seeded: str
) -> None:
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/ready").respond_with_json({"status": "ready"})
    code, report = run_json(capsys, *local_args(httpserver.url_for("").rstrip("/"), seeded), environ={})
    result = smoke(report, 5)
    assert (code, result["verdict"]) == (0, "passed"), result
    names = [s["name"] for s in result["steps"]]
    assert "app answers /ready with 200" in names
    assert "tenant acme exists with seeded rows" in names


def test_onboarding_fails_if_the_app_is_not_ready(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, seeded: str
) -> None:
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/ready").respond_with_json({"status": "redis down"}, status=503)
    code, report = run_json(capsys, *local_args(httpserver.url_for("").rstrip("/"), seeded), environ={})
    result = smoke(report, 5)
    assert (code, result["verdict"]) == (1, "failed")
    assert "app answers /ready with 200:" in result["detail"]
    assert "503" in result["detail"]


def test_onboarding_fails_if_the_app_is_down(capsys: pytest.CaptureFixture[str], seeded: str) -> None:
    """The local environment is what this test checks: an app that does not answer is a failure."""
    _, report = run_json(capsys, *local_args(f"http://127.0.0.1:{closed_port()}", seeded), environ={})
    result = smoke(report, 5)
    assert result["verdict"] == "failed"
    assert "app answers /health with 200" in result["detail"]


def test_onboarding_fails_if_the_data_was_not_seeded(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, initialised: str
) -> None:
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/ready").respond_with_json({"status": "ready"})
    _, report = run_json(capsys, *local_args(httpserver.url_for("").rstrip("/"), initialised), environ={})
    result = smoke(report, 5)
    assert result["verdict"] == "failed"
    assert "tenant acme exists with seeded rows: no tenant acme" in result["detail"]


def test_onboarding_could_not_run_without_the_local_passwords(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "--env", "staging", "--only", "5", environ={})
    result = smoke(report, 5)
    assert (code, result["verdict"]) == (1, "could not run")
    assert "no database password: set POSTGRES_PASSWORD in .env" in result["detail"]
    assert "--local-database-url" in result["detail"]


def test_onboarding_reads_the_local_settings_as_dev_check_does(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, seeded: str
) -> None:
    """$QUALISYS_DEV_* URLs, as `dev check` takes them; a password in them never shows."""
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/ready").respond_with_json({"status": "ready"})
    database = seeded.replace("postgres@", "postgres:l0cal-secret@")
    env = {
        "QUALISYS_DEV_APP_URL": httpserver.url_for("").rstrip("/"),
        "QUALISYS_DEV_DATABASE_URL": database,
        "QUALISYS_DEV_APP_DATABASE_URL": app_url(seeded),
    }
    code, report = run_json(capsys, "--env", "staging", "--only", "5", "--local-no-redis", environ=env)
    assert (code, smoke(report, 5)["verdict"]) == (0, "passed")
    assert "l0cal-secret" not in str(report)


def test_onboarding_could_not_run_if_the_database_does_not_exist(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, database: str
) -> None:
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/ready").respond_with_json({"status": "ready"})
    missing = database.rsplit("/", 1)[0] + "/no_such_database_here"
    _, report = run_json(capsys, *local_args(httpserver.url_for("").rstrip("/"), missing), environ={})
    result = smoke(report, 5)
    assert result["verdict"] == "could not run"
    assert "no_such_database_here" in result["detail"]
