"""`qualisys-infra release` end to end: a real plan and apply by Terraform core (the apps stack's
image-tag variable, local state), the review showing the new tag, then the rollout followed through
a local API server that answers like Kubernetes, then /health."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.app import cli_plan
from qualisys_infra.app.cli import main
from qualisys_infra.app.terraform.runner import StackRunner
from tests.conftest import ROOT
from tests.release import cluster
from tests.release.cluster import TOKEN, FakeCluster, State, healthy_canary, pods, rollout
from tests.runner.terraform_double import StagedTerraform, synth_like

TAG = "0123abc"
APPS = {
    "variable": {"hello_image_tag": {"type": "string", "nullable": False}},
    "resource": {"terraform_data": {"hello": {"input": "${var.hello_image_tag}"}}},
    "output": {"image_tags": {"value": {"hello": "${var.hello_image_tag}"}}},
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The release and plan commands on Terraform core with local state; synth and the backend
    check replaced by a folder shaped like synth's."""
    outdir = tmp_path / "out"
    network = {"resource": {"terraform_data": {"vpc": {"input": "10.0.0.0/16"}}}}
    synth_like(outdir, {"dev-network": network, "dev-apps": APPS}, {"dev-apps": ["dev-network"]})
    runner = StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=StagedTerraform())
    settings = types.SimpleNamespace(
        environments=[types.SimpleNamespace(environment="dev", ingress_domain="dev.example", allow_destroy={})]
    )
    monkeypatch.setattr(cli_plan, "prepare", lambda *_, **__: (settings, runner))
    monkeypatch.setattr(cli_plan, "check_backend_against_bootstrap", lambda *_: None)
    monkeypatch.setattr(cluster, "NAMESPACE", "dev")  # the apps stack runs hello in the env's namespace
    monkeypatch.setenv("KUBE_TOKEN", TOKEN)
    return tmp_path


def _release(project: Path, api: HTTPServer, *extra: str) -> list[str]:
    # The project's own environments (release reads ingress_domain and the region from them); the
    # synth, plan folders and state are the fixture's (prepare is replaced).
    return [
        "--project-dir",
        str(ROOT),
        "release",
        "--env",
        "dev",
        "--service",
        "hello",
        "--kube-api-url",
        api.url_for("").rstrip("/"),
        "--health-url",
        api.url_for("/health"),
        "--interval",
        "0.02",
        "--timeout",
        "5",
        *extra,
    ]


def _healthy(api: HTTPServer, tag: str) -> FakeCluster:
    return FakeCluster(
        api,
        [
            State(rollout(image_tag=tag, phase="Progressing", currentPodHash="n", stableRS="o"), pods(2)),
            State(healthy_canary(tag, "n"), pods(4, pod_hash="n", image_tag=tag)),
        ],
    )


def test_a_release_is_a_reviewed_plan_then_a_healthy_rollout(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _healthy(api_server, TAG)
    api_server.expect_request("/health").respond_with_json({"status": "ok"})
    assert main(_release(project, api_server, "--image-tag", TAG)) == 0
    out, err = capsys.readouterr()
    assert "inputs: hello_image_tag = 0123abc" in out  # the review names the release
    assert "release: hello 0123abc in dev: healthy" in out
    assert "/health: passed" in out
    assert "dev-apps: applied" in err
    # A plan that is not a release keeps what runs: it reads the tag back from the stack's state.
    assert main(["--project-dir", str(project), "plan", "--env", "dev"]) == 0
    out, _ = capsys.readouterr()
    assert "inputs: hello_image_tag = 0123abc" in out and "no changes" in out


def test_an_aborted_rollout_exits_1_and_says_it_rolled_back(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    aborted: dict[str, Any] = rollout(
        image_tag=TAG,
        phase="Degraded",
        abort=True,
        message='RolloutAborted: Rollout aborted update to revision 3: Metric "error-rate" assessed Failed',
        currentPodHash="n",
        stableRS="o",
    )
    FakeCluster(api_server, [State(aborted, pods(2))])
    assert main(_release(project, api_server, "--image-tag", TAG)) == 1
    out, _ = capsys.readouterr()
    assert "release: hello 0123abc in dev: aborted" in out and "error-rate" in out


def test_a_healthy_rollout_behind_a_failing_health_check_exits_1(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _healthy(api_server, TAG)
    api_server.expect_request("/health").respond_with_data("down", status=503)
    assert main(_release(project, api_server, "--image-tag", TAG)) == 1
    assert "/health: failed: answered 503" in capsys.readouterr().out


@pytest.mark.parametrize("tag", ["latest", "0123ABC", "1.2", "0123abc\n", "v1.2.3; rm -rf /"])
def test_a_tag_that_is_not_a_commit_or_version_is_refused_before_anything_runs(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], tag: str
) -> None:
    assert main(_release(project, api_server, "--image-tag", tag)) == 2
    err = capsys.readouterr().err
    assert "--image-tag: got" in err and "expected a git commit" in err
    assert not (project / "plans").exists()


def test_plan_of_a_never_released_apps_stack_is_skipped_with_a_note(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project-dir", str(project), "plan", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    reviewed, note = out.split("not planned: ", 1)
    assert "dev-network" in reviewed and "dev-apps" not in reviewed
    assert note.startswith("dev-apps: no image of hello has been released yet; release one with")
    assert "- `dev-apps`: no image of hello" in (project / "plans" / "dev" / "review.md").read_text(encoding="utf-8")
    # deploy applies what was planned and says what was not, instead of refusing the unplanned stack
    assert main(["--project-dir", str(project), "deploy", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "deploy: applied" in out and "not planned: dev-apps: no image of hello" in out
    assert main(["--project-dir", str(project), "plan", "--env", "dev", "--stack", "dev-apps"]) == 2
    assert "no image of hello has been released yet" in capsys.readouterr().err
    assert main(["--project-dir", str(project), "plan", "--env", "dev", "--image-tag", "hello=v1.2.3"]) == 0
    assert "inputs: hello_image_tag = v1.2.3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--kube-api-url", "https://[::1"), "Invalid IPv6 URL"),
        (("--kubeconfig", "/nonexistent/kubeconfig"), "--kubeconfig: /nonexistent/kubeconfig does not exist"),
        (("--health-url", "http://example.com/health"), "plain http is allowed only for a loopback host"),
    ],
)
def test_what_could_refuse_the_release_is_checked_before_anything_is_planned(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], says: str
) -> None:
    argv = _release(project, api_server, "--image-tag", TAG)
    replaced = "--health-url" if extra[0] == "--health-url" else "--kube-api-url"  # one way to reach the API
    at = argv.index(replaced)
    del argv[at : at + 2]
    assert main([*argv, *extra]) == 2
    assert says in capsys.readouterr().err
    assert not (project / "plans").exists(), "nothing was planned"


def test_a_token_missing_for_the_api_url_is_refused_before_planning(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBE_TOKEN")
    assert main(_release(project, api_server, "--image-tag", TAG)) == 2
    assert "needs a bearer token" in capsys.readouterr().err
    assert not (project / "plans").exists()


def test_a_release_that_would_change_more_than_the_image_applies_nothing(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _healthy(api_server, TAG)
    api_server.expect_request("/health").respond_with_json({"status": "ok"})
    assert main(_release(project, api_server, "--image-tag", TAG)) == 0  # the first release creates it all
    capsys.readouterr()
    # Stack code merged but not deployed yet: another object changes; a release must not carry it.
    apps = json.loads((project / "out" / "stacks" / "dev-apps" / "cdk.tf.json").read_text(encoding="utf-8"))
    apps["resource"]["terraform_data"]["autoscaler"] = {"input": 6}
    apps["resource"]["terraform_data"]["hello_rollout"] = {"input": "${var.hello_image_tag}"}
    (project / "out" / "stacks" / "dev-apps" / "cdk.tf.json").write_text(json.dumps(apps), encoding="utf-8")
    assert main(_release(project, api_server, "--image-tag", "4567def")) == 1
    err = capsys.readouterr().err
    assert "changes more than hello's image: terraform_data.autoscaler (create)" in err
    assert "nothing applied" in err
    state = json.loads((project / "out" / "stacks" / "dev-apps" / "terraform.tfstate").read_text(encoding="utf-8"))
    assert state["outputs"]["image_tags"]["value"] == {"hello": TAG}, "the running tag is unchanged"


def test_an_apply_whose_rollout_cannot_be_read_exits_1_not_bad_input(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api_server.expect_request("/apis/argoproj.io/v1alpha1/namespaces/dev/rollouts/hello").respond_with_json(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403}, status=403
    )
    assert main(_release(project, api_server, "--image-tag", TAG)) == 1
    out = capsys.readouterr().out
    assert "release: hello 0123abc in dev: applied, rollout not confirmed:" in out
