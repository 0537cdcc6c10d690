"""Secrets in URLs never reach a message, whichever command prints it (issue: `sslpassword=` was shown).

Each test runs the CLI's own entry point with a URL carrying secrets in every place a URL can
hold one, and asserts that none of them is printed, on either stream.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.dev.conftest import POSTGRES, free_port

SECRETS = ("PwS3cretA", "SslPwS3cretB", "KeyS3cretC", "PassfileS3cretD", "TokS3cretE")
QUERY = f"sslpassword={SECRETS[1]}&sslkey=/k/{SECRETS[2]}&passfile=/p/{SECRETS[3]}&sslmode=disable"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


def test_fails_if_a_refused_connection_shows_the_url_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://app:{SECRETS[0]}@127.0.0.1:{free_port()}/x?{QUERY}"
    code, out, err = _run(capsys, "tenants", "verify", "--database-url", url)
    assert code == 2
    _assert_no_secret(out, err)
    assert err.count("\n") == 1 and err.startswith("error: database: cannot connect to postgresql://app:***@127.0.0.1:")
    assert "?sslpassword=***&sslkey=***&passfile=***&sslmode=disable: " in err


def test_fails_if_the_database_server_s_answer_shows_the_url_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """A real PostgreSQL refusing the database: libpq's message is scrubbed too."""
    base = POSTGRES.rsplit("/", 1)[0]
    code, out, err = _run(capsys, "tenants", "verify", "--database-url", f"{base}/no_such_db?{QUERY}")
    assert code == 2
    _assert_no_secret(out, err)
    assert err.count("\n") == 1
    assert "/no_such_db?sslpassword=***&sslkey=***&passfile=***&sslmode=disable: " in err
    assert 'database "no_such_db" does not exist' in err


def test_fails_if_dev_check_shows_the_url_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    app = ["--app-url", f"http://127.0.0.1:{free_port()}"]
    database = ["--database-url", f"postgresql://app:{SECRETS[0]}@127.0.0.1:{port}/x?{QUERY}"]
    code, out, err = _run(capsys, "dev", "check", *app, *database, "--no-redis", "--json")
    assert code == 1
    _assert_no_secret(out, err)
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "PostgreSQL answers"]
    assert check["detail"].startswith(f"database: cannot connect to postgresql://app:***@127.0.0.1:{port}/x?ssl")


def test_fails_if_dev_check_s_app_url_shows_its_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://u:{SECRETS[0]}@127.0.0.1:{free_port()}/?token={SECRETS[4]}"
    database = ["--database-url", f"postgresql://app:{SECRETS[0]}@127.0.0.1:{free_port()}/x?{QUERY}"]
    code, out, err = _run(capsys, "dev", "check", "--app-url", url, *database, "--no-redis")
    assert code == 2
    _assert_no_secret(out, err)
    assert err.startswith("error: --app-url: got 'http://u:***@127.0.0.1:") and err.endswith(
        "/?token=***', expected http://HOST:PORT\n"
    )


def test_fails_if_a_kubernetes_api_url_shows_its_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBE_TOKEN", "t")
    url = f"ftp://u:{SECRETS[0]}@h/?token={SECRETS[4]}"
    code, out, err = _run(capsys, "signoff", "--env", "dev", "--only", "1", "--kube-api-url", url)
    assert code == 1
    _assert_no_secret(out, err)
    assert "API URL 'ftp://u:***@h/?token=***': expected https://HOST[:PORT]" in out


def test_fails_if_a_grafana_url_shows_its_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://u:{SECRETS[0]}@example.com/?api_key={SECRETS[4]}"
    code, out, err = _run(capsys, "signoff", "--env", "dev", "--only", "4", "--grafana-url", url)
    assert code == 2
    _assert_no_secret(out, err)
    assert "error: --grafana-url: got 'http://u:***@example.com/?api_key=***': plain http" in err


def test_fails_if_an_error_line_quoting_a_raw_url_shows_its_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Masking by default: the CLI masks every URL of every error line, even one a message built raw."""
    plan = PROJECT_ROOT / "tests" / "fixtures" / "plans"
    fixture = next(p for p in sorted(plan.glob("*.json")))
    monkeypatch.setenv("GITHUB_API_URL", f"ftp://{SECRETS[4]}@h/x?token={SECRETS[4]}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "comment", "--env", "dev", "--pr", "1", str(fixture))
    assert code == 2
    _assert_no_secret(out, err)
    assert err == "error: GITHUB_API_URL: 'ftp://***@h/x?token=***' is not an http(s) URL\n"
    assert os.listdir(tmp_path) == []
