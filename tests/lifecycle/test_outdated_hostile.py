"""`qualisys-infra outdated --refresh` reads GitHub's API and action.yml files through the toolkit's one
HTTP client: a trickling server is bounded by --timeout, a remote action.yml with YAML aliases is
refused; each one line and exit 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.commands.cli import main
from tests.lifecycle import test_outdated
from tests.lifecycle.test_outdated import WORKFLOW, _serve_charts
from tests.trickle import TrickleServer
from tests.unit.test_safe_yaml import ALIAS_BOMB


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The small project of test_outdated (its fixture, called as a function)."""
    return test_outdated.project.__wrapped__(tmp_path)  # type: ignore[attr-defined, no-any-return]


def _refresh(project: Path, capsys: pytest.CaptureFixture[str], mirror: str, api: str, raw: str) -> tuple[int, str]:
    argv = ["--project-dir", str(project), "outdated", "--refresh", "--timeout", "1"]
    code = main([*argv, "--mirror", mirror, "--github-api", api, "--github-raw", raw])
    return code, capsys.readouterr().err


def test_fails_if_github_trickles_past_the_timeout(
    project: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_charts(httpserver, {})
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    with TrickleServer(head=head) as server:
        start = time.monotonic()
        code, err = _refresh(project, capsys, httpserver.url_for("/"), server.url, server.url)
        took = time.monotonic() - start
    assert code == 2
    assert (
        err == f"error: {server.url}/repos/actions/checkout/releases/latest: the answer was not complete within 1 s\n"
    )
    assert took < 4


def test_fails_if_an_action_yml_uses_yaml_aliases(
    project: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = "c" * 40
    workflow = project / ".github" / "workflows" / "ci.yml"
    workflow.write_text(WORKFLOW + f"      - uses: example/bomb@{sha} # v1.0.0\n", encoding="utf-8")
    _serve_charts(httpserver, {})
    for repo in ("actions/checkout", "example/bomb"):
        httpserver.expect_request(f"/api/repos/{repo}/releases/latest").respond_with_json({"tag_name": "v1.0.0"})
    httpserver.expect_request(f"/raw/example/bomb/{sha}/action.yml").respond_with_data(ALIAS_BOMB)
    code, err = _refresh(
        project, capsys, httpserver.url_for("/"), httpserver.url_for("/api"), httpserver.url_for("/raw")
    )
    assert code == 2
    assert err == (
        f"error: {httpserver.url_for('/raw')}/example/bomb/{sha}/action.yml: refused: "
        "line 2, column 8: uses the YAML alias *a (aliases are refused)\n"
    )
