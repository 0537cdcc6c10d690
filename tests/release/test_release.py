"""`qualisys-infra release` end to end: a real plan and apply by Terraform core (the apps stack's
image-tag variable, local state), the review showing the new tag, then the rollout followed through
a local API server that answers like Kubernetes, then the smoke suite against the same server
answering as the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.commands.cli import main
from tests.release.cluster import FakeCluster, State, healthy_canary, pods, rollout
from tests.release.releasing import make_project, release_argv
from tests.release.service import FakeService

TAG = "0123abc"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_project(tmp_path, monkeypatch)


def _release(project: Path, api: HTTPServer, *extra: str) -> list[str]:
    return release_argv(api, *extra)


def _healthy(api: HTTPServer, tag: str) -> FakeCluster:
    return FakeCluster(
        api,
        [
            State(rollout(image_tag=tag, phase="Progressing", currentPodHash="n", stableRS="o"), pods(2)),
            State(healthy_canary(tag, "n"), pods(4, pod_hash="n", image_tag=tag)),
        ],
    )


def test_a_release_is_a_reviewed_plan_then_a_healthy_rollout(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], no_server_version: None
) -> None:
    _healthy(api_server, TAG)
    FakeService(api_server, TAG)
    assert main(_release(project, api_server, "--image-tag", TAG)) == 0
    out, err = capsys.readouterr()
    assert "inputs: hello_image_tag = 0123abc" in out  # the review names the release
    assert "release: hello 0123abc in dev: healthy" in out
    assert "release: hello 0123abc in dev: smoke: GET /health: passed" in out
    assert "release: hello 0123abc in dev: smoke: GET /metrics is not public: passed" in out
    assert out.rstrip().splitlines()[-1] == "release: hello 0123abc in dev: RELEASED: healthy, 6 smoke checks passed"
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
    # the first release of the service: nothing earlier to go back to, and it says so
    assert out.rstrip().splitlines()[-1] == (
        "release: hello 0123abc in dev: FAILED: the rollout aborted; no earlier tag of hello to roll back to"
    )


def test_a_healthy_rollout_behind_a_failing_health_check_exits_1(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], no_server_version: None
) -> None:
    _healthy(api_server, TAG)
    FakeService(api_server, TAG).routes["/health"] = lambda _r: Response("down", status=503)
    assert main(_release(project, api_server, "--image-tag", TAG)) == 1
    out = capsys.readouterr().out
    assert "smoke: GET /health: failed: answered 503 SERVICE UNAVAILABLE, expected 200" in out
    assert "FAILED: the smoke suite did not pass (GET /health)" in out


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
        (("--app-url", "http://example.com"), "plain http is allowed only for a loopback host"),
    ],
)
def test_what_could_refuse_the_release_is_checked_before_anything_is_planned(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], says: str
) -> None:
    argv = _release(project, api_server, "--image-tag", TAG)
    replaced = "--app-url" if extra[0] == "--app-url" else "--kube-api-url"  # one way to reach the API
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
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], no_server_version: None
) -> None:
    _healthy(api_server, TAG)
    FakeService(api_server, TAG)
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
