"""``qualisys-infra signoff``: all six against local counterparts, the table, the JSON, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.commands.signoff import parse_only, render_table, run
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.delivery.devcheck import seed_local
from qualisys_infra.delivery.signoff import SMOKES, Scrubber, Step, Verdict, failed, not_run, passed, run_smoke
from tests.signoff.conftest import app_url, closed_port, context, parse, run_json
from tests.signoff.fakes import (
    GITHUB_TOKEN,
    GRAFANA_TOKEN,
    KUBE_TOKEN,
    REPOSITORY,
    FakeGitHub,
    FakeGrafana,
    FakeKube,
    pod,
    report_body,
)
from tests.tls import Certificates


@pytest.fixture
def platform(
    httpserver: HTTPServer,
    hello_https: str,
    certificates: Certificates,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[list[str], dict[str, str]]:
    """Every endpoint of the six, healthy: the arguments and environment that reach them."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    seed_local(database, None, tenants=("acme", "globex"), projects=1, runs=1)
    FakeKube(httpserver, pods=[pod("hello-7d4b9c5f6-abcde"), pod("hello-7d4b9c5f6-fghij")]).install()
    github = FakeGitHub(httpserver)
    github.add_pull(12, "Add login page", [report_body()])
    github.install()
    FakeGrafana(httpserver).install()
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})  # the local app
    httpserver.expect_request("/ready").respond_with_json({"status": "ready"})
    api = httpserver.url_for("").rstrip("/")
    argv = [
        "--env", "staging",
        "--kube-api-url", api, "--health-url", f"{hello_https}/health", "--ca-file", str(certificates.ca),
        "--database-url", database, "--app-database-url", app_url(database),
        "--github-repository", REPOSITORY, "--github-api-url", api,
        "--grafana-url", api,
        "--local-app-url", api, "--local-database-url", database, "--local-app-database-url", app_url(database),
        "--local-no-redis",
    ]  # fmt: skip
    environ = {"KUBE_TOKEN": KUBE_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN, "GRAFANA_TOKEN": GRAFANA_TOKEN}
    return argv, environ


def test_all_six_pass_exit_0_and_sign_off(
    capsys: pytest.CaptureFixture[str], platform: tuple[list[str], dict[str, str]]
) -> None:
    argv, environ = platform
    assert run(parse(*argv), context(environ)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["#", "SMOKE", "TEST", "VERDICT", "DETAIL"]
    rows = out[1:7]
    assert [row.split()[:3] for row in rows] == [[str(n), s.name, "passed"] for n, s in SMOKES.items()]
    assert out[-1] == "signoff staging: 6 passed, 0 failed, 0 could not run (all six run): signed off"


def test_json_lists_every_smoke_test_with_its_steps(
    capsys: pytest.CaptureFixture[str], platform: tuple[list[str], dict[str, str]]
) -> None:
    argv, environ = platform
    code, report = run_json(capsys, *argv, environ=environ)
    assert code == 0
    assert report["environment"] == "staging"
    assert (report["ok"], report["signed_off"]) == (True, True)
    assert report["summary"] == {"passed": 6, "failed": 0, "could_not_run": 0}
    assert [s["title"] for s in report["smoke_tests"]] == [s.title for s in SMOKES.values()]
    for item in report["smoke_tests"]:
        assert set(item) == {"number", "name", "title", "verdict", "detail", "seconds", "steps"}
        assert item["steps"] and all(set(s) == {"name", "verdict", "detail"} for s in item["steps"])


def test_one_failure_makes_exit_1_and_the_table_shows_its_steps(
    capsys: pytest.CaptureFixture[str], platform: tuple[list[str], dict[str, str]]
) -> None:
    argv, environ = platform
    environ = {**environ, "GRAFANA_TOKEN": "glsa_expiredTokenValue"}
    assert run(parse(*argv, "--only", "3,4"), context(environ)) == 1
    out = capsys.readouterr().out
    assert "3  test-infrastructure  passed" in out
    assert "4  monitoring           could not run  Grafana API: GET /api/search: 401 Unauthorized" in out
    assert out.splitlines()[-1] == (
        "signoff staging: 1 passed, 0 failed, 1 could not run (2 of 6 run (--only)): NOT signed off"
    )
    assert "glsa_expiredTokenValue" not in out


def test_some_passing_with_only_is_exit_0_but_not_a_sign_off(
    capsys: pytest.CaptureFixture[str], platform: tuple[list[str], dict[str, str]]
) -> None:
    argv, environ = platform
    code, report = run_json(capsys, *argv, "--only", "6,2,2", environ=environ)
    assert code == 0
    assert [s["number"] for s in report["smoke_tests"]] == [2, 6]
    assert (report["ok"], report["signed_off"]) == (True, False)


def test_nothing_configured_is_six_could_not_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    argv = ["--env", "staging", "--health-url", f"https://127.0.0.1:{closed_port()}/health"]
    code, report = run_json(capsys, *argv, environ={})
    assert code == 1
    assert [s["verdict"] for s in report["smoke_tests"]] == ["could not run"] * 6
    assert report["summary"] == {"passed": 0, "failed": 0, "could_not_run": 6}


def test_the_table_lists_the_steps_that_did_not_pass() -> None:
    results = [
        run_smoke(SMOKES[1], lambda: [passed("pods", "2 Ready"), failed("health", "answered 503")], Scrubber()),
        run_smoke(
            SMOKES[6],
            lambda: [failed("rls", "off on a.t"), passed("roles", "fine"), not_run("redis", "no answer")],
            Scrubber(),
        ),
        run_smoke(SMOKES[2], lambda: [passed("a", "fine")], Scrubber()),
    ]
    table = render_table("staging", results).splitlines()
    assert table[1].split(None, 3) == ["1", "infrastructure", "failed", "health: answered 503"]
    assert table[2].split(None, 3) == [
        "6",
        "tenant-isolation",
        "failed",
        "3 checks: 1 failed, 1 could not run, 1 passed",
    ]
    assert table[3].strip() == "FAIL rls: off on a.t"
    assert table[4].strip() == "--   redis: no answer"
    assert table[5].split(None, 3) == ["2", "database", "passed", "fine"]
    assert table[6].startswith("signoff staging: 1 passed, 2 failed, 0 could not run (3 of 6 run (--only))")


def test_a_crashing_smoke_test_fails_and_the_others_still_run() -> None:
    def crash() -> list[Step]:
        raise RuntimeError("boom at postgresql://u:hunter22@db/x")

    result = run_smoke(SMOKES[4], crash, Scrubber(urls=["postgresql://u:hunter22@db/x"]))
    assert result.verdict is Verdict.FAILED
    assert result.detail == "unexpected error: RuntimeError: boom at postgresql://u:***@db/x"


def test_verdicts_a_failure_outweighs_could_not_run() -> None:
    scrub = Scrubber(tokens=["s3cr3t-token"])
    both = run_smoke(SMOKES[1], lambda: [not_run("a", "no token"), failed("b", "bad s3cr3t-token")], scrub)
    assert (both.verdict, both.detail) == (Verdict.FAILED, "b: bad ***; not checked: a")
    missing = run_smoke(SMOKES[1], lambda: [not_run("a", "no URL"), passed("b", "ok")], scrub)
    assert (missing.verdict, missing.detail) == (Verdict.NOT_RUN, "a: no URL")


# -- bad input: exit 2, before anything runs ------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--env", "qa"],
            "--env: got 'qa', expected an environment of environments/*.tfvars (dev, staging, production)",
        ),
        (["--env", "all"], "--env: got 'all'"),
        (["--env", "staging", "--only", "7"], "--only: got '7' in '7', expected numbers from 1 to 6"),
        (["--env", "staging", "--only", "1,x"], "--only: got 'x'"),
        (["--env", "staging", "--health-url", "http://staging.qualisys.dev/health"], "the smoke test checks TLS"),
        (["--env", "staging", "--ca-file", "/no/such/ca.pem"], "--ca-file: /no/such/ca.pem does not exist"),
        (["--env", "staging", "--kube-api-url", "https://k8s", "--in-cluster"], "choose one way to reach"),
        (["--env", "staging", "--database-url", "mysql://root:pw@db/x"], "expected postgresql://"),
        (["--env", "staging", "--redis-url", "http://cache"], "expected redis://"),
        (["--env", "staging", "--github-repository", "not a repo"], "is not OWNER/NAME"),
        (
            ["--env", "staging", "--grafana-url", "http://grafana.example.com"],
            "plain http is allowed only for a loopback",
        ),
        (["--env", "staging", "--pr", "0"], "--pr: 0 is not a pull request number"),
        (["--env", "staging", "--local-no-redis", "--local-redis-url", "redis://x"], "choose one"),
    ],
)
def test_bad_input_is_exit_2(argv: list[str], message: str) -> None:
    with pytest.raises(ToolkitError) as caught:
        run(parse(*argv), context({}))
    assert caught.value.exit_code == 2
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "staging", "--min-coverage", "120"], "--min-coverage: got 120, expected a percentage"),
        (["--env", "staging", "--timeout", "0"], "--timeout: got 0, expected a number of seconds"),
    ],
)
def test_numbers_out_of_range_are_refused_while_parsing(argv: list[str], message: str) -> None:
    with pytest.raises(ToolkitError) as caught:
        parse(*argv)
    assert caught.value.exit_code == 2
    assert message in str(caught.value)


def test_bad_input_never_shows_a_password() -> None:
    with pytest.raises(ToolkitError) as caught:
        run(parse("--env", "staging", "--database-url", "postgresql://u:hunter22@db:99999/x"), context({}))
    assert "hunter22" not in str(caught.value)


def test_only_parses_numbers_in_order_without_repeats() -> None:
    assert parse_only(None) == [1, 2, 3, 4, 5, 6]
    assert parse_only("6, 2,2") == [2, 6]


def test_the_default_dashboard_is_the_one_the_platform_installs() -> None:
    from modules.platform.dashboards import dashboards
    from qualisys_infra.delivery.signoff import DEFAULT_DASHBOARD_UID, DEFAULT_DATASOURCE_UID

    cluster = dashboards("qualisys")["cluster"]  # the repository's project (environments/account.tfvars)
    assert cluster["uid"] == DEFAULT_DASHBOARD_UID
    assert {p["datasource"]["uid"] for p in cluster["panels"]} == {DEFAULT_DATASOURCE_UID}
