"""A release that fails after it was applied goes back to the previous revision: Argo's undo
through the Kubernetes API (a local server answering as the API, with the rollout's ReplicaSets),
followed to healthy, then the apps stack applied again with the previous tag (Terraform core, local
state) so the state says what runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.commands.cli import main
from qualisys_infra.core.github_text import md_text
from qualisys_infra.delivery.kube import KubeApi, client_from_token
from qualisys_infra.delivery.rollout import RollbackError, undo
from tests.release import cluster
from tests.release.cluster import (
    TOKEN,
    FakeCluster,
    State,
    healthy_canary,
    json_response,
    pod_template,
    pods,
    replica_set,
    rollout,
    status_body,
)
from tests.release.releasing import as_rollout, make_project, release_argv
from tests.release.service import FakeService

OLD, NEW = "1111111", "0123abc"
OLD_HASH, NEW_HASH = "6f7d9c8b5", "85c94d7f6"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    as_rollout(monkeypatch)
    return make_project(tmp_path, monkeypatch)


def _first_release(api: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    """OLD released healthy: the state says OLD."""
    FakeCluster(api, [State(healthy_canary(OLD, OLD_HASH), pods(4, pod_hash=OLD_HASH, image_tag=OLD))])
    FakeService(api, OLD)
    assert main(release_argv(api, "--image-tag", OLD)) == 0
    capsys.readouterr()
    api.clear()


def _history() -> list[dict[str, Any]]:
    """The rollout's ReplicaSets: OLD at revision 1, NEW at 2, and another rollout's (same labels) at 5."""
    return [
        replica_set(1, OLD, OLD_HASH),
        replica_set(2, NEW, NEW_HASH, replicas=4),
        replica_set(5, OLD, "0a0a0a0a0", owner_uid="another-rollout"),
    ]


def _state(project: Path) -> Any:
    path = project / "out" / "stacks" / "dev-apps" / "terraform.tfstate"
    return json.loads(path.read_text(encoding="utf-8"))["outputs"]["image_tags"]["value"]


def _undo_patch() -> list[dict[str, Any]]:
    return [
        {"op": "test", "path": "/metadata/generation", "value": 2},
        {"op": "replace", "path": "/spec/template", "value": pod_template(OLD)},  # no pod-template-hash label
    ]


def test_fails_if_the_smoke_suite_fails_at_100_percent_and_rolls_back_to_the_previous_revision(
    project: Path,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    no_server_version: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _first_release(api_server, capsys)
    summary = project / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    fake = FakeCluster(
        api_server,
        [State(healthy_canary(NEW, NEW_HASH), pods(4, pod_hash=NEW_HASH))],
        replica_sets=_history(),
        after_patch=[
            State(rollout(image_tag=OLD, phase="Progressing", currentPodHash=OLD_HASH, stableRS=NEW_HASH), pods(2)),
            State(healthy_canary(OLD, OLD_HASH, revision=3), pods(4, pod_hash=OLD_HASH, image_tag=OLD)),
        ],
    )
    service = FakeService(api_server, NEW)
    service.routes["/"] = lambda _r: Response('{"detail": "boom"}', status=500, content_type="application/json")
    assert main(release_argv(api_server, "--image-tag", NEW)) == 1
    out = capsys.readouterr().out
    assert f"release: hello {NEW} in dev: healthy" in out  # Argo was content: the smoke suite was not
    assert "smoke: GET /: failed: answered 500 INTERNAL SERVER ERROR, expected 200" in out
    assert f"the smoke suite did not pass (GET /): rolling back to {OLD}" in out
    assert fake.patches == [_undo_patch()]  # the newest earlier revision of this rollout that ran OLD
    assert f"back on {OLD} (revision 1): rollout hello in dev is healthy" in out
    assert out.rstrip().splitlines()[-1] == (
        f"release: hello {NEW} in dev: FAILED: the smoke suite did not pass (GET /);"
        f" rolled back to {OLD} (revision 1); dev-apps applied with it"
    )
    assert _state(project) == {"hello": OLD}, "the state says what runs: a later plan will not re-release NEW"
    # The job summary: what happened, then the smoke suite's table.
    text = summary.read_text(encoding="utf-8")
    # (every text escaped by the one rule of core.github_text.md_text, as the review and report are)
    assert text.startswith(f"### release {md_text(f'hello {NEW} in dev')}\n\n- {md_text('healthy: rollout hello')}")
    assert f"| {md_text('GET /')} | failed | {md_text('answered 500 INTERNAL SERVER ERROR, expected 200')} |" in text
    assert f"| {md_text('GET /metrics is not public')} | passed | {md_text('404 on the public address')} |" in text
    assert "- " + md_text(f"FAILED: the smoke suite did not pass (GET /); rolled back to {OLD} (revision 1)") in text


def test_fails_if_argo_aborts_the_rollout_and_puts_the_spec_and_state_back(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], no_server_version: None
) -> None:
    _first_release(api_server, capsys)
    aborted = rollout(
        image_tag=NEW,
        phase="Degraded",
        abort=True,
        message='RolloutAborted: Rollout aborted update to revision 2: Metric "error-rate" assessed Failed',
        currentPodHash=NEW_HASH,
        stableRS=OLD_HASH,
    )
    fake = FakeCluster(
        api_server,
        [State(aborted, pods(4, pod_hash=OLD_HASH, image_tag=OLD))],
        replica_sets=_history(),
        after_patch=[State(healthy_canary(OLD, OLD_HASH, revision=3), pods(4, pod_hash=OLD_HASH, image_tag=OLD))],
    )
    assert main(release_argv(api_server, "--image-tag", NEW)) == 1
    out = capsys.readouterr().out
    assert f"release: hello {NEW} in dev: aborted" in out
    assert fake.patches == [_undo_patch()]
    assert (
        out.rstrip()
        .splitlines()[-1]
        .endswith(f"FAILED: the rollout aborted; rolled back to {OLD} (revision 1); dev-apps applied with it")
    )
    assert _state(project) == {"hello": OLD}


def test_fails_if_the_previous_revision_does_not_become_healthy_and_says_so(
    project: Path, api_server: HTTPServer, capsys: pytest.CaptureFixture[str], no_server_version: None
) -> None:
    _first_release(api_server, capsys)
    FakeCluster(
        api_server,
        [State(healthy_canary(NEW, NEW_HASH), pods(4, pod_hash=NEW_HASH))],
        replica_sets=_history(),
        after_patch=[State(rollout(image_tag=OLD, phase="Progressing", currentPodHash=OLD_HASH, stableRS=NEW_HASH))],
    )
    FakeService(api_server, NEW).routes["/health"] = lambda _r: Response("down", status=503)
    argv = release_argv(api_server, "--image-tag", NEW)
    argv[argv.index("--timeout") + 1] = "0.5"
    assert main(argv) == 1
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert f"ROLLBACK FAILED: revision 1 ({OLD}) is timed out: rollout hello in dev did not finish within 0.5 s" in last
    assert _state(project) == {"hello": NEW}, "no state change until the previous revision is healthy"


# -- undo itself ---------------------------------------------------------------------------------


def _api(server: HTTPServer) -> KubeApi:
    return client_from_token(server.url_for("").rstrip("/"), TOKEN)


def test_undo_goes_to_the_newest_earlier_revision_of_this_rollout_that_runs_the_image(api_server: HTTPServer) -> None:
    history = [*_history(), replica_set(0, OLD, "0b0b0b0b0"), replica_set(3, "2222222", "0c0c0c0c0")]
    fake = FakeCluster(api_server, [State(healthy_canary(NEW, NEW_HASH, revision=4))], replica_sets=history)
    with _api(api_server) as api:
        revision = undo(api, "hello", cluster.NAMESPACE, to_image=OLD)
    # revision 5 runs OLD too, but belongs to another rollout; revision 0 runs OLD but is older than 1
    assert (revision.number, revision.name) == (1, f"hello-{OLD_HASH}")
    ((test, replace),) = fake.patches
    assert test == {"op": "test", "path": "/metadata/generation", "value": 2}
    assert replace["value"]["metadata"]["labels"] == cluster.LABELS  # the hash label is Argo's to set


def test_fails_if_no_earlier_revision_runs_the_image(api_server: HTTPServer) -> None:
    fake = FakeCluster(api_server, [State(healthy_canary(NEW, NEW_HASH))], replica_sets=_history())
    with _api(api_server) as api, pytest.raises(RollbackError) as caught:
        undo(api, "hello", cluster.NAMESPACE, to_image="9999999")
    assert str(caught.value) == (
        f"rollout hello in {cluster.NAMESPACE}: no earlier revision runs 9999999 (revisions kept: 1"
        f" ({cluster.REPOSITORY}:{OLD}))"
    )
    assert caught.value.exit_code == 1 and fake.patches == []


def test_fails_if_the_rollout_changed_since_it_was_read(api_server: HTTPServer) -> None:
    # Someone released again between the read and the patch: the generation moved on.
    fake = FakeCluster(
        api_server, [State(healthy_canary(NEW, NEW_HASH))], replica_sets=_history(), generation_at_patch=3
    )
    with _api(api_server) as api, pytest.raises(RollbackError) as caught:
        undo(api, "hello", cluster.NAMESPACE, to_image=OLD)
    assert str(caught.value).startswith(f"rollout hello in {cluster.NAMESPACE}: could not go back to revision 1: ")
    assert str(caught.value).endswith("since it was read; not patched")
    assert fake.patches == []


def test_fails_if_patching_the_rollout_is_forbidden(api_server: HTTPServer) -> None:
    api_server.expect_request(
        f"/apis/argoproj.io/v1alpha1/namespaces/{cluster.NAMESPACE}/rollouts/hello", method="PATCH"
    ).respond_with_response(
        json_response(status_body(403, "Forbidden", 'rollouts.argoproj.io "hello" is forbidden: cannot patch'), 403)
    )
    FakeCluster(api_server, [State(healthy_canary(NEW, NEW_HASH))], replica_sets=_history())
    with _api(api_server) as api, pytest.raises(RollbackError) as caught:
        undo(api, "hello", cluster.NAMESPACE, to_image=OLD)
    assert "forbidden by the API at" in str(caught.value) and "cannot patch" in str(caught.value)
