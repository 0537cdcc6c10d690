"""Smoke test 1: hello's pods through a Kubernetes API on 127.0.0.1, /health over HTTPS with a test CA."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.signoff.conftest import closed_port, run_json, smoke
from tests.signoff.fakes import KUBE_TOKEN, FakeKube, pod
from tests.tls import Certificates

ENV = {"KUBE_TOKEN": KUBE_TOKEN}
HEALTHY = [pod("hello-7d4b9c5f6-abcde"), pod("hello-7d4b9c5f6-fghij")]


def args(kube: HTTPServer, health: str, *extra: str) -> list[str]:
    return [
        "--env",
        "staging",
        "--only",
        "1",
        "--kube-api-url",
        kube.url_for("").rstrip("/"),
        "--health-url",
        health,
        *extra,
    ]


def test_passes_when_pods_are_ready_and_hello_answers_over_verified_https(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, hello_https: str, certificates: Certificates
) -> None:
    """The hello service itself (services/hello) behind the test certificate answers /health."""
    kube = FakeKube(httpserver, pods=HEALTHY).install()
    code, report = run_json(
        capsys, *args(httpserver, f"{hello_https}/health", "--ca-file", str(certificates.ca)), environ=ENV
    )
    result = smoke(report, 1)
    assert (code, result["verdict"]) == (0, "passed"), result
    assert "2 hello pods Running and Ready in staging" in result["detail"]
    assert "200 over verified HTTPS" in result["detail"]
    assert kube.selectors == ["app.kubernetes.io/name=hello"]


def test_fails_if_a_pod_is_not_ready(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer, certificates: Certificates
) -> None:
    FakeKube(
        httpserver, pods=[HEALTHY[0], pod("hello-7d4b9c5f6-zzzzz", ready=False, waiting="CrashLoopBackOff")]
    ).install()
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    code, report = run_json(
        capsys, *args(httpserver, https_server.url_for("/health"), "--ca-file", str(certificates.ca)), environ=ENV
    )
    result = smoke(report, 1)
    assert (code, result["verdict"]) == (1, "failed")
    assert "1 of 2 not Running and Ready: hello-7d4b9c5f6-zzzzz: not Ready (CrashLoopBackOff)" in result["detail"]


def test_fails_if_no_hello_pod_exists(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer, certificates: Certificates
) -> None:
    FakeKube(httpserver, pods=[]).install()
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    _, report = run_json(
        capsys, *args(httpserver, https_server.url_for("/health"), "--ca-file", str(certificates.ca)), environ=ENV
    )
    assert smoke(report, 1)["verdict"] == "failed"
    assert "no pods labelled app.kubernetes.io/name=hello in namespace staging" in smoke(report, 1)["detail"]


def test_fails_if_health_answers_503(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer, certificates: Certificates
) -> None:
    FakeKube(httpserver, pods=HEALTHY).install()
    https_server.expect_request("/health").respond_with_data("down", status=503)
    code, report = run_json(
        capsys, *args(httpserver, https_server.url_for("/health"), "--ca-file", str(certificates.ca)), environ=ENV
    )
    result = smoke(report, 1)
    assert (code, result["verdict"]) == (1, "failed")
    assert "answered 503 SERVICE UNAVAILABLE, expected 200" in result["detail"]


def test_fails_if_the_certificate_does_not_verify(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer
) -> None:
    """Without --ca-file the test CA is not trusted: HTTPS that does not verify is a failure."""
    FakeKube(httpserver, pods=HEALTHY).install()
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    _, report = run_json(capsys, *args(httpserver, https_server.url_for("/health")), environ=ENV)
    result = smoke(report, 1)
    assert result["verdict"] == "failed"
    assert "HTTPS does not verify" in result["detail"]
    assert "CERTIFICATE_VERIFY_FAILED" in result["detail"]


def test_could_not_run_if_the_kubernetes_api_refuses_the_token(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer, certificates: Certificates
) -> None:
    FakeKube(httpserver, pods=HEALTHY).install()
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    code, report = run_json(
        capsys,
        *args(httpserver, https_server.url_for("/health"), "--ca-file", str(certificates.ca)),
        environ={"KUBE_TOKEN": "not-the-token"},
    )
    result = smoke(report, 1)
    assert (code, result["verdict"]) == (1, "could not run")
    assert "refused the credentials (401 Unauthorized)" in result["detail"]
    assert "not-the-token" not in str(report)


def test_could_not_run_without_any_kubernetes_access(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    https_server: HTTPServer,
    certificates: Certificates,
) -> None:
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    _, report = run_json(
        capsys,
        "--env",
        "staging",
        "--only",
        "1",
        "--health-url",
        https_server.url_for("/health"),
        "--ca-file",
        str(certificates.ca),
        environ={"KUBECONFIG": str(tmp_path / "missing")},  # the environment comes in through the context
    )
    result = smoke(report, 1)
    assert result["verdict"] == "could not run"
    assert "names no existing file" in result["detail"]
    assert [s["verdict"] for s in result["steps"]] == ["could not run", "passed"]


def test_could_not_run_if_the_health_endpoint_does_not_answer(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeKube(httpserver, pods=HEALTHY).install()
    url = f"https://127.0.0.1:{closed_port()}/health"
    _, report = run_json(capsys, *args(httpserver, url), environ=ENV)
    result = smoke(report, 1)
    assert result["verdict"] == "could not run"
    assert f"GET {url}: cannot reach it" in result["detail"]


def test_a_failure_outweighs_a_part_that_could_not_run(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    FakeKube(httpserver, pods=[pod("hello-1", phase="Pending", ready=False, waiting="ImagePullBackOff")]).install()
    _, report = run_json(capsys, *args(httpserver, f"https://127.0.0.1:{closed_port()}/health"), environ=ENV)
    result = smoke(report, 1)
    assert result["verdict"] == "failed"
    assert "hello-1: Pending, not Ready (ImagePullBackOff)" in result["detail"]
    assert "not checked: GET https://127.0.0.1:" in result["detail"]


def test_the_health_url_comes_from_the_environments_ingress_domain(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without --health-url: https://<ingress_domain of staging.tfvars>/health (not reachable here)."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    _, report = run_json(capsys, "--env", "staging", "--only", "1", "--timeout", "2", environ={})
    steps = smoke(report, 1)["steps"]
    assert steps[1]["name"] == "GET https://staging.qualisys.dev/health"


def test_pods_on_their_way_out_are_not_counted(
    capsys: pytest.CaptureFixture[str], httpserver: HTTPServer, https_server: HTTPServer, certificates: Certificates
) -> None:
    """A rolling update leaves terminating (and evicted) pods behind: they neither pass nor fail it."""
    terminating = pod("hello-old-aaaaa", ready=False)
    terminating["metadata"]["deletionTimestamp"] = "2026-03-02T10:05:00Z"
    evicted = pod("hello-old-bbbbb", phase="Failed", ready=False)
    evicted["status"]["reason"] = "Evicted"
    FakeKube(httpserver, pods=[*HEALTHY, terminating, evicted]).install()
    https_server.expect_request("/health").respond_with_json({"status": "ok"})
    _, report = run_json(
        capsys, *args(httpserver, https_server.url_for("/health"), "--ca-file", str(certificates.ca)), environ=ENV
    )
    result = smoke(report, 1)
    assert result["verdict"] == "passed"
    assert "2 hello pods Running and Ready in staging (2 terminating or evicted, not counted)" in result["detail"]
