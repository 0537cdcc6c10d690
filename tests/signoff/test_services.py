"""Smoke tests 3 (the pull request's test report, GitHub's REST API) and 4 (Grafana's HTTP API),
against servers on 127.0.0.1 answering as those APIs do."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from tests.signoff.conftest import closed_port, run_json, smoke
from tests.signoff.fakes import (
    GITHUB_TOKEN,
    GRAFANA_TOKEN,
    REPOSITORY,
    FakeGitHub,
    FakeGrafana,
    frames,
    report_body,
)

# -- 3. test infrastructure -----------------------------------------------------------------------


def github_args(server: HTTPServer, *extra: str) -> list[str]:
    return [
        "--env",
        "staging",
        "--only",
        "3",
        "--github-repository",
        REPOSITORY,
        "--github-api-url",
        server.url_for("").rstrip("/"),
        *extra,
    ]


GITHUB_ENV = {"GITHUB_TOKEN": GITHUB_TOKEN}


def test_report_passes_on_the_latest_pull_request(capsys: pytest.CaptureFixture[str], httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(11, "Older work", [report_body(failed=4)])
    github.add_pull(12, "Add login page", ["LGTM", report_body(), report_body(key="lint")])
    github.install()
    code, report = run_json(capsys, *github_args(httpserver), environ=GITHUB_ENV)
    result = smoke(report, 3)
    assert (code, result["verdict"]) == (0, "passed"), result
    assert result["steps"][0]["name"] == "test report on pull request #12 (Add login page)"
    assert "120 passed, 0 failed, 0 errors, 2 skipped" in result["detail"]
    assert "86.4% (at least 80%)" in result["detail"]
    assert github.queries[0] == {"state": "all", "sort": "updated", "direction": "desc", "per_page": "1"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (report_body(coverage=72.5), "coverage: 72.5% is below 80%"),
        (report_body(failed=3), "tests passed: 120 passed, 3 failed, 0 errors, 2 skipped"),
        (report_body(passed=0, skipped=0), "tests passed: no test ran"),
        ("<!-- qualisys-report:tests -->\nno data line here", "the comment has no qualisys-report-data line"),
    ],
    ids=["coverage-below-80", "tests-failed", "no-tests", "no-data-line"],
)
def test_report_fails_if_the_report_says_so(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, body: str, message: str
) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(12, "Add login page", [body])
    github.install()
    code, report = run_json(capsys, *github_args(httpserver), environ=GITHUB_ENV)
    result = smoke(report, 3)
    assert (code, result["verdict"]) == (1, "failed")
    assert message in result["detail"]


def test_report_fails_if_no_report_comment_was_posted(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(12, "Add login page", ["LGTM", report_body(key="lint")])
    github.install()
    _, report = run_json(capsys, *github_args(httpserver), environ=GITHUB_ENV)
    result = smoke(report, 3)
    assert result["verdict"] == "failed"
    assert "no comment marked <!-- qualisys-report:tests --> among its 2 comments" in result["detail"]


def test_report_fails_if_the_report_was_pasted_by_someone_else(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(12, "Add login page", [("mallory", report_body())])
    github.install()
    _, report = run_json(capsys, *github_args(httpserver), environ=GITHUB_ENV)
    result = smoke(report, 3)
    assert result["verdict"] == "failed"
    assert "was posted by mallory, not github-actions[bot] (--report-author)" in result["detail"]


def test_report_reads_the_pull_request_named(capsys: pytest.CaptureFixture[str], httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(11, "Older work", [report_body(coverage=91)])
    github.add_pull(12, "Add login page", [])
    github.install()
    _, report = run_json(capsys, *github_args(httpserver, "--pr", "11"), environ=GITHUB_ENV)
    assert smoke(report, 3)["verdict"] == "passed"
    assert github.queries == []  # no need to look for the latest


def test_report_could_not_run_without_a_token(capsys: pytest.CaptureFixture[str], httpserver: HTTPServer) -> None:
    code, report = run_json(capsys, *github_args(httpserver), environ={})
    result = smoke(report, 3)
    assert (code, result["verdict"]) == (1, "could not run")
    assert "no GitHub token: set GITHUB_TOKEN" in result["detail"]


def test_report_could_not_run_without_a_repository(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = run_json(capsys, "--env", "staging", "--only", "3", environ=GITHUB_ENV)
    assert "pass --github-repository OWNER/NAME or set GITHUB_REPOSITORY" in smoke(report, 3)["detail"]


def test_report_could_not_run_if_github_refuses_the_token(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    github = FakeGitHub(httpserver)
    github.add_pull(12, "Add login page", [report_body()])
    github.install()
    _, report = run_json(capsys, *github_args(httpserver), environ={"GITHUB_TOKEN": "ghp_revokedTokenValue"})
    result = smoke(report, 3)
    assert result["verdict"] == "could not run"
    assert "401 Unauthorized: the token in GITHUB_TOKEN was refused" in result["detail"]
    assert "ghp_revokedTokenValue" not in str(report)


def test_report_could_not_run_without_any_pull_request(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver).install()
    _, report = run_json(capsys, *github_args(httpserver), environ=GITHUB_ENV)
    result = smoke(report, 3)
    assert result["verdict"] == "could not run"
    assert f"{REPOSITORY} has no pull request yet" in result["detail"]


# -- 4. monitoring --------------------------------------------------------------------------------


def grafana_args(server: HTTPServer, *extra: str) -> list[str]:
    return ["--env", "staging", "--only", "4", "--grafana-url", server.url_for("").rstrip("/"), *extra]


GRAFANA_ENV = {"GRAFANA_TOKEN": GRAFANA_TOKEN}


def test_monitoring_passes_with_the_dashboard_and_live_series(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    grafana = FakeGrafana(httpserver).install()
    code, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert (code, result["verdict"]) == (0, "passed"), result
    assert "QUALISYS / Cluster in folder QUALISYS" in result["detail"]
    assert "CPU series of pods in staging" in [s["name"] for s in result["steps"]]
    assert "2 pods, newest sample" in result["detail"]
    assert grafana.searches == [{"type": "dash-db", "dashboardUIDs": "qualisys-cluster"}]
    queries = grafana.queries[0]["queries"]
    assert [q["refId"] for q in queries] == ["cpu", "memory"]
    assert all(q["datasource"] == {"type": "prometheus", "uid": "prometheus"} for q in queries)
    assert 'namespace="staging"' in queries[0]["expr"]
    assert "container_cpu_usage_seconds_total" in queries[0]["expr"]
    assert "container_memory_working_set_bytes" in queries[1]["expr"]


def test_monitoring_fails_if_the_dashboard_is_missing(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeGrafana(httpserver, dashboards=[]).install()
    code, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert (code, result["verdict"]) == (1, "failed")
    assert "dashboard qualisys-cluster: no dashboard with uid qualisys-cluster" in result["detail"]


def test_monitoring_fails_if_prometheus_has_no_series(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeGrafana(httpserver, results={"cpu": frames("cpu", []), "memory": frames("memory", ["hello-1"])}).install()
    _, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert result["verdict"] == "failed"
    assert "CPU series of pods in staging: no series in the last 10 minutes" in result["detail"]
    assert "memory series" not in result["detail"]


def test_monitoring_fails_if_the_series_are_not_live(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    stale = {"cpu": frames("cpu", ["hello-1"], age_seconds=3600), "memory": frames("memory", ["hello-1"])}
    FakeGrafana(httpserver, results=stale).install()
    _, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert result["verdict"] == "failed"
    assert "not live: the newest sample is 6" in result["detail"]  # 60 or 61 minutes


def test_monitoring_fails_if_the_series_are_of_another_namespace(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    other = {q: frames(q, ["hello-1"], namespace="production") for q in ("cpu", "memory")}
    FakeGrafana(httpserver, results=other).install()
    _, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    assert smoke(report, 4)["verdict"] == "failed"


def test_monitoring_fails_if_the_query_fails(capsys: pytest.CaptureFixture[str], httpserver: HTTPServer) -> None:
    error = {
        "error": 'bad_data: invalid parameter "query": 1:1: parse error',
        "errorSource": "downstream",
        "status": 400,
    }
    FakeGrafana(httpserver, results={"cpu": error, "memory": error}, status=400).install()
    _, report = run_json(capsys, *grafana_args(httpserver), environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert result["verdict"] == "failed"
    assert "the query failed: bad_data: invalid parameter" in result["detail"]


def test_monitoring_could_not_run_without_a_token(capsys: pytest.CaptureFixture[str], httpserver: HTTPServer) -> None:
    code, report = run_json(capsys, *grafana_args(httpserver), environ={})
    result = smoke(report, 4)
    assert (code, result["verdict"]) == (1, "could not run")
    assert "no Grafana token: set GRAFANA_TOKEN" in result["detail"]


def test_monitoring_could_not_run_without_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = run_json(capsys, "--env", "staging", "--only", "4", environ=GRAFANA_ENV)
    assert "no Grafana: pass --grafana-url or set GRAFANA_URL" in smoke(report, 4)["detail"]


def test_monitoring_could_not_run_if_grafana_refuses_the_token(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeGrafana(httpserver).install()
    _, report = run_json(capsys, *grafana_args(httpserver), environ={"GRAFANA_TOKEN": "glsa_expiredTokenValue"})
    result = smoke(report, 4)
    assert result["verdict"] == "could not run"
    assert "401 Unauthorized: the token in $GRAFANA_TOKEN was refused" in result["detail"]
    assert "glsa_expiredTokenValue" not in str(report)


def test_monitoring_could_not_run_if_grafana_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    _, report = run_json(capsys, "--env", "staging", "--only", "4", "--grafana-url", url, environ=GRAFANA_ENV)
    result = smoke(report, 4)
    assert result["verdict"] == "could not run"
    assert f"cannot reach {url}" in result["detail"]
