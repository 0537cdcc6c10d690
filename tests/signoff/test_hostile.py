"""Sign-off's network clients (Grafana, GitHub, the health check) against hostile servers on
127.0.0.1: a slow, redirecting or wrongly shaped answer makes a step fail or not run with one line
saying why, within ``--timeout``; never a traceback."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.signoff.conftest import run_json, smoke
from tests.signoff.fakes import GITHUB_TOKEN, GRAFANA_TOKEN, KUBE_TOKEN, REPOSITORY, FakeKube, pod
from tests.tls import Certificates
from tests.trickle import TrickleServer

SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _grafana(capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> dict[str, Any]:
    argv = ["--env", "staging", "--only", "4", "--grafana-url", url, *extra]
    _, report = run_json(capsys, *argv, environ={"GRAFANA_TOKEN": GRAFANA_TOKEN})
    return smoke(report, 4)


def _github(capsys: pytest.CaptureFixture[str], server: HTTPServer) -> dict[str, Any]:
    argv = ["--env", "staging", "--only", "3", "--github-repository", REPOSITORY]
    argv += ["--github-api-url", server.url_for("").rstrip("/")]
    _, report = run_json(capsys, *argv, environ={"GITHUB_TOKEN": GITHUB_TOKEN})
    return smoke(report, 3)


def test_monitoring_could_not_run_if_grafana_trickles_past_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with TrickleServer(head=SLOW_HEAD) as server:
        start = time.monotonic()
        result = _grafana(capsys, server.url, "--timeout", "1")
        took = time.monotonic() - start
    assert result["verdict"] == "could not run"
    assert "Grafana API: GET /api/search: the answer was not complete within 1 s" in result["detail"]
    assert took < 3


def test_monitoring_fails_if_the_search_answers_something_else_than_a_list(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/search").respond_with_response(_json(42))
    httpserver.expect_request("/api/ds/query", method="POST").respond_with_response(_json({"results": {}}))
    result = _grafana(capsys, httpserver.url_for("").rstrip("/"))
    assert result["verdict"] == "failed"
    assert "dashboard qualisys-cluster: the search API answered an integer, expected a list" in result["detail"]


def test_monitoring_could_not_run_if_grafana_answers_something_that_is_not_json(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/search").respond_with_data("<html>SSO</html>", content_type="text/html")
    result = _grafana(capsys, httpserver.url_for("").rstrip("/"))
    assert result["verdict"] == "could not run"
    assert "GET /api/search: HTTP 200, an answer that is not JSON (is --grafana-url Grafana?)" in result["detail"]


def test_monitoring_could_not_run_if_grafana_redirects(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    away = "https://sso.example.test/login?token=abc"
    httpserver.expect_request("/api/search").respond_with_data("", status=302, headers={"Location": away})
    result = _grafana(capsys, httpserver.url_for("").rstrip("/"))
    assert result["verdict"] == "could not run"
    assert "redirected to https://sso.example.test/login?token=*** (is --grafana-url" in result["detail"]


def test_monitoring_could_not_run_if_grafana_answers_too_much(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualisys_infra.delivery import grafana

    monkeypatch.setattr(grafana, "MAX_ANSWER_BYTES", 4096)
    httpserver.expect_request("/api/search").respond_with_response(_json([{"uid": "x" * 5000}]))
    result = _grafana(capsys, httpserver.url_for("").rstrip("/"))
    assert "GET /api/search: the answer is larger than 4,096 bytes (not read)" in result["detail"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"message": "Moved"}, "the answer is an object, expected a list"),  # was read as "no pull request yet"
        ([{"title": "x"}], "pull request 1 has no `number`"),
        ([{"number": "12"}], "`number` of pull request 1 is a string, expected an integer"),
        (["12"], "pull request 1 is a string, expected an object"),
    ],
    ids=["object", "missing-number", "number-a-string", "item-a-string"],
)
def test_report_could_not_run_if_github_lists_pull_requests_wrongly(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, answer: Any, message: str
) -> None:
    httpserver.expect_request(f"/repos/{REPOSITORY}/pulls").respond_with_response(_json(answer))
    result = _github(capsys, httpserver)
    assert result["verdict"] == "could not run"
    assert f"GitHub: GET /repos/{REPOSITORY}/pulls: {message}" in result["detail"]


def test_infrastructure_could_not_run_if_health_trickles_past_the_timeout(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, certificates: Certificates
) -> None:
    FakeKube(httpserver, pods=[pod("hello-7d4b9c5f6-abcde")]).install()
    with TrickleServer(head=SLOW_HEAD, tls=certificates.server_context()) as server:
        argv = ["--env", "staging", "--only", "1", "--kube-api-url", httpserver.url_for("").rstrip("/")]
        argv += ["--health-url", server.url + "/health", "--ca-file", str(certificates.ca), "--timeout", "1"]
        start = time.monotonic()
        _, report = run_json(capsys, *argv, environ={"KUBE_TOKEN": KUBE_TOKEN})
        took = time.monotonic() - start
    result = smoke(report, 1)
    assert result["verdict"] == "could not run"
    assert f"GET {server.url}/health: the answer was not complete within 1 s" in result["detail"]
    assert took < 4
