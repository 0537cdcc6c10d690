"""Following an Argo Rollout through a real HTTP server on 127.0.0.1 that answers like the Kubernetes API."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.delivery.kube import (
    KubeApi,
    KubeError,
    client_from_kubeconfig,
    client_from_token,
    client_in_cluster,
    connect,
)
from qualisys_infra.delivery.rollout import (
    Outcome,
    RolloutResult,
    RolloutSnapshot,
    assess,
    exit_code,
    follow_rollout,
)
from tests.release.cluster import (
    NAME,
    NAMESPACE,
    NEW_HASH,
    NEW_TAG,
    OLD_HASH,
    OLD_TAG,
    REPOSITORY,
    TOKEN,
    FakeCluster,
    State,
    canary_weights,
    healthy_canary,
    json_response,
    not_found,
    pod,
    pods,
    rollout,
    status_body,
)

FAST: dict[str, Any] = {"interval_seconds": 0.02, "timeout_seconds": 5.0}
ABORT_MESSAGE = 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'


def _follow(cluster: FakeCluster, lines: list[str], **kwargs: Any) -> RolloutResult:
    options: dict[str, Any] = {**FAST, "expected_image": NEW_TAG, **kwargs}
    with client_from_token(cluster.url, TOKEN) as api:
        return follow_rollout(api, NAME, NAMESPACE, progress=lines.append, **options)


def _progressing(step: int, weight: int, *, ready: int = 4, **status: Any) -> dict[str, Any]:
    """The canary at ``step`` with ``weight`` % of the traffic on the new revision."""
    fields: dict[str, Any] = {
        "phase": "Progressing",
        "message": "more replicas need to be updated",
        "currentPodHash": NEW_HASH,
        "stableRS": OLD_HASH,
        "currentStepIndex": step,
        "currentStepHash": "5b4f8f6d97",
        "canary": canary_weights(weight),
        "readyReplicas": ready,
    }
    fields.update(status)
    return rollout(**fields)


def _paused_step(step: int, weight: int) -> dict[str, Any]:
    return _progressing(
        step,
        weight,
        phase="Paused",
        message="CanaryPauseStep",
        controllerPause=True,
        pauseConditions=[{"reason": "CanaryPauseStep", "startTime": "2026-05-04T10:01:00Z"}],
    )


def _mixed(new: int, old: int, *, new_ready: int | None = None) -> list[dict[str, Any]]:
    return pods(new, ready=new_ready) + pods(old, pod_hash=OLD_HASH, image_tag=OLD_TAG)


# --- the outcomes -------------------------------------------------------------------------------


def test_a_canary_that_goes_10_50_100_percent_is_healthy(api_server: HTTPServer) -> None:
    cluster = FakeCluster(
        api_server,
        [
            # The apply changed the spec; the controller has not seen it yet (status of the old release).
            State(
                healthy_canary(NEW_TAG, OLD_HASH, observedGeneration="1"), pods(4, pod_hash=OLD_HASH, image_tag=OLD_TAG)
            ),
            State(_progressing(0, 0, ready=4), _mixed(1, 4, new_ready=0)),
            State(_paused_step(1, 10), _mixed(1, 3)),
            State(_paused_step(3, 50), _mixed(2, 2)),
            State(_progressing(4, 100, message="waiting for all steps to complete"), _mixed(4, 0)),
            State(healthy_canary(NEW_TAG, NEW_HASH), pods(4)),
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines)

    assert result.outcome is Outcome.HEALTHY
    assert exit_code(result) == 0
    assert result.message == f"rollout hello in {NAMESPACE} is healthy ({REPOSITORY}:{NEW_TAG}; 4/4 pods ready)"
    assert lines == [
        "hello: Progressing, step 4/4, weight 100%, 4/4 pods ready: waiting for rollout spec update to be observed",
        "hello: Progressing, step 0/4, weight 0%, 4/5 pods ready: more replicas need to be updated",
        "hello: Paused, step 1/4, weight 10%, 4/4 pods ready: pausing 30s at step 1/4",
        "hello: Paused, step 3/4, weight 50%, 4/4 pods ready: pausing 30s at step 3/4",
        "hello: Progressing, step 4/4, weight 100%, 4/4 pods ready: waiting for all steps to complete",
        "hello: Healthy, step 4/4, weight 100%, 4/4 pods ready",
    ]
    # Steps of the new revision only: the stale status of the old one (step 4/4) is not counted.
    assert result.steps_seen == (0, 1, 3, 4)
    assert result.step_count == 4
    assert result.final_weight == 100
    assert [p.name for p in result.pods] == [f"hello-{NEW_HASH}-{i:05d}" for i in range(4)]
    # Every state was read twice, and the last one once: one line per change, not one per poll.
    assert cluster.rollout_reads == 11
    assert cluster.pod_reads == 11


def test_fails_if_the_analysis_fails_and_the_rollout_aborts(api_server: HTTPServer) -> None:
    aborted = _progressing(
        1,
        0,
        phase="Degraded",
        message=f"RolloutAborted: Rollout aborted update to revision 2: {ABORT_MESSAGE}",
        abort=True,
        abortedAt="2026-05-04T10:02:00Z",
        canary={
            **canary_weights(0),
            "currentStepAnalysisRunStatus": {
                "name": "hello-85c94d7f6-2-1",
                "status": "Failed",
                "message": ABORT_MESSAGE,
            },
        },
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "RolloutAborted", "message": ABORT_MESSAGE},
        ],
    )
    cluster = FakeCluster(
        api_server,
        [State(_progressing(0, 10), _mixed(1, 4)), State(aborted, _mixed(0, 4))],
    )
    lines: list[str] = []
    result = _follow(cluster, lines)

    assert result.outcome is Outcome.ABORTED
    assert exit_code(result) == 1
    assert result.message == (
        f"rollout hello in {NAMESPACE} was aborted and rolled back to the stable revision: "
        f"RolloutAborted: Rollout aborted update to revision 2: {ABORT_MESSAGE}; "
        f"analysis run hello-85c94d7f6-2-1 Failed: {ABORT_MESSAGE}"
    )
    assert lines == [
        "hello: Progressing, step 0/4, weight 10%, 5/5 pods ready: more replicas need to be updated",
        f"hello: Degraded, step 1/4, weight 0%, 4/4 pods ready: RolloutAborted: Rollout aborted update to revision 2: {ABORT_MESSAGE}",
    ]
    assert result.final_weight == 0
    assert result.steps_seen == (0, 1)


def test_fails_if_the_rollout_hangs_progressing_until_the_timeout(api_server: HTTPServer) -> None:
    terminating = pod(f"hello-{OLD_HASH}-zz001", pod_hash=OLD_HASH, image_tag=OLD_TAG)
    terminating["metadata"]["deletionTimestamp"] = "2026-05-04T10:01:30Z"
    evicted = pod(f"hello-{OLD_HASH}-zz002", pod_hash=OLD_HASH, image_tag=OLD_TAG, ready=False)
    evicted["status"]["phase"] = "Failed"
    # Neither a terminating nor an evicted pod counts in ready/total.
    state = State(_progressing(0, 10, ready=4), [*_mixed(1, 4, new_ready=0), terminating, evicted])
    cluster = FakeCluster(api_server, [state])
    lines: list[str] = []
    result = _follow(cluster, lines, timeout_seconds=0.3, interval_seconds=0.03)

    assert result.outcome is Outcome.TIMED_OUT
    assert exit_code(result) == 1
    assert result.message == (
        f"rollout hello in {NAMESPACE} did not finish within 0.3 s; "
        "last seen Progressing, step 0/4, weight 10%: more replicas need to be updated"
    )
    assert lines == ["hello: Progressing, step 0/4, weight 10%, 4/5 pods ready: more replicas need to be updated"]
    assert cluster.rollout_reads >= 5  # it kept polling, silently
    assert 0.3 <= result.elapsed_seconds < 2.0


def test_fails_if_paused_indefinitely_and_says_how_to_promote(api_server: HTTPServer) -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
    paused = _progressing(
        1,
        20,
        phase="Paused",
        message="CanaryPauseStep",
        controllerPause=True,
        pauseConditions=[{"reason": "CanaryPauseStep", "startTime": "2026-05-04T10:01:00Z"}],
    )
    paused["spec"]["strategy"]["canary"]["steps"] = steps
    cluster = FakeCluster(api_server, [State(paused, _mixed(1, 4))])
    lines: list[str] = []
    result = _follow(cluster, lines, timeout_seconds=0.2)

    assert result.outcome is Outcome.TIMED_OUT
    assert lines == [
        "hello: Paused, step 1/3, weight 20%, 5/5 pods ready: paused, waiting for promotion (CanaryPauseStep)"
    ]
    assert result.message == (
        f"rollout hello in {NAMESPACE} did not finish within 0.2 s; last seen Paused, step 1/3, weight 20%: "
        f"paused, waiting for promotion (CanaryPauseStep); to promote it: kubectl argo rollouts promote hello -n {NAMESPACE}"
    )
    assert result.steps_seen == (1,)
    assert result.final_weight == 20


def test_a_blue_green_rollout_waits_for_promotion_then_is_healthy(api_server: HTTPServer) -> None:
    def blue_green(**status: Any) -> dict[str, Any]:
        return rollout(strategy="blueGreen", **{"currentPodHash": NEW_HASH, "stableRS": OLD_HASH, **status})

    cluster = FakeCluster(
        api_server,
        [
            State(
                blue_green(
                    phase="Progressing",
                    message="active service cutover pending",
                    blueGreen={"activeSelector": OLD_HASH, "previewSelector": NEW_HASH},
                    readyReplicas=6,
                ),
                _mixed(4, 4, new_ready=2),
            ),
            State(
                blue_green(
                    phase="Paused",
                    message="BlueGreenPause",
                    controllerPause=True,
                    pauseConditions=[{"reason": "BlueGreenPause", "startTime": "2026-05-04T10:03:00Z"}],
                    blueGreen={"activeSelector": OLD_HASH, "previewSelector": NEW_HASH},
                ),
                _mixed(4, 4),
            ),
            # Promoted (by a person, or the pipeline's promote step): the active service is on the new pods.
            State(
                blue_green(
                    phase="Healthy",
                    stableRS=NEW_HASH,
                    blueGreen={"activeSelector": NEW_HASH, "previewSelector": NEW_HASH},
                ),
                pods(4),
            ),
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines)

    assert result.outcome is Outcome.HEALTHY
    assert lines == [
        "hello: Progressing, active: previous revision, 6/8 pods ready: active service cutover pending",
        "hello: Paused, active: previous revision, 8/8 pods ready: paused, waiting for promotion (BlueGreenPause)",
        "hello: Healthy, active: new revision, 4/4 pods ready",
    ]
    assert result.final_weight is None
    assert result.steps_seen == ()


def test_fails_if_the_rollout_still_runs_the_old_image(api_server: HTTPServer) -> None:
    """The previous release is healthy; that must not pass for the new one."""
    cluster = FakeCluster(
        api_server,
        [
            State(
                healthy_canary(OLD_TAG, OLD_HASH, observedGeneration="1", generation=1),
                pods(4, pod_hash=OLD_HASH, image_tag=OLD_TAG),
            )
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines, timeout_seconds=0.2)

    assert result.outcome is Outcome.TIMED_OUT
    waiting = f"waiting for image {NEW_TAG} (the pod template has {REPOSITORY}:{OLD_TAG})"
    assert lines == [f"hello: Progressing, step 4/4, weight 100%, 4/4 pods ready: {waiting}"]
    assert result.message == (
        f"rollout hello in {NAMESPACE} did not finish within 0.2 s; last seen Progressing, step 4/4, weight 100%: "
        f"{waiting}; was the apps stack applied with this image?"
    )
    assert result.steps_seen == ()


def test_the_old_healthy_rollout_is_not_done_until_the_new_image_appears(api_server: HTTPServer) -> None:
    cluster = FakeCluster(
        api_server,
        [
            State(
                healthy_canary(OLD_TAG, OLD_HASH, generation=1), pods(4, pod_hash=OLD_HASH, image_tag=OLD_TAG), repeat=3
            ),
            State(_progressing(2, 50), _mixed(2, 2)),
            State(healthy_canary(NEW_TAG, NEW_HASH), pods(4)),
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines, expected_image=f"{REPOSITORY}:{NEW_TAG}")

    assert result.outcome is Outcome.HEALTHY
    assert lines[0].endswith(f"waiting for image {REPOSITORY}:{NEW_TAG} (the pod template has {REPOSITORY}:{OLD_TAG})")
    assert lines[1:] == [
        "hello: Progressing, step 2/4, weight 50%, 4/4 pods ready: more replicas need to be updated",
        "hello: Healthy, step 4/4, weight 100%, 4/4 pods ready",
    ]
    assert cluster.rollout_reads == 6


def test_fails_naming_the_crash_looping_pod_when_the_progress_deadline_passes(api_server: HTTPServer) -> None:
    crashing = pod(f"hello-{NEW_HASH}-7xk2p", ready=False, waiting="CrashLoopBackOff", restarts=5)
    old = pods(4, pod_hash=OLD_HASH, image_tag=OLD_TAG)
    deadline = f'ProgressDeadlineExceeded: ReplicaSet "hello-{NEW_HASH}" has timed out progressing.'
    cluster = FakeCluster(
        api_server,
        [
            State(_progressing(0, 0, ready=4), [*old, pod(f"hello-{NEW_HASH}-7xk2p", ready=False)], repeat=1),
            State(_progressing(0, 0, ready=4), [*old, crashing]),
            State(_progressing(0, 0, ready=4, phase="Degraded", message=deadline), [*old, crashing]),
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines)

    assert result.outcome is Outcome.FAILED
    assert exit_code(result) == 1
    assert result.message == (
        f"rollout hello in {NAMESPACE} is degraded: {deadline}; pods not starting: hello-{NEW_HASH}-7xk2p CrashLoopBackOff"
    )
    assert lines == [
        "hello: Progressing, step 0/4, weight 0%, 4/5 pods ready: more replicas need to be updated",
        "hello: Progressing, step 0/4, weight 0%, 4/5 pods ready: more replicas need to be updated"
        f" (pods not starting: hello-{NEW_HASH}-7xk2p CrashLoopBackOff)",
        f"hello: Degraded, step 0/4, weight 0%, 4/5 pods ready: {deadline}"
        f" (pods not starting: hello-{NEW_HASH}-7xk2p CrashLoopBackOff)",
    ]


def test_an_image_that_cannot_be_pulled_is_named_at_the_timeout(api_server: HTTPServer) -> None:
    stuck = pod(f"hello-{NEW_HASH}-q9w8e", ready=False, waiting="ImagePullBackOff")
    cluster = FakeCluster(api_server, [State(_progressing(0, 0), [*pods(4, pod_hash=OLD_HASH), stuck])])
    result = _follow(cluster, [], timeout_seconds=0.15)
    assert result.outcome is Outcome.TIMED_OUT
    assert result.message.endswith(f"; pods not starting: hello-{NEW_HASH}-q9w8e ImagePullBackOff")


def test_a_server_error_after_the_first_read_is_retried(api_server: HTTPServer) -> None:
    def unavailable() -> Response:
        return json_response(
            status_body(503, "ServiceUnavailable", "the server is currently unable to handle the request"), 503
        )

    cluster = FakeCluster(
        api_server,
        [
            State(_progressing(2, 50), _mixed(2, 2), repeat=1),
            State(unavailable, repeat=2),
            State(healthy_canary(NEW_TAG, NEW_HASH), pods(4)),
        ],
    )
    lines: list[str] = []
    result = _follow(cluster, lines)
    assert result.outcome is Outcome.HEALTHY
    assert lines == [
        "hello: Progressing, step 2/4, weight 50%, 4/4 pods ready: more replicas need to be updated",
        f"hello: API error, retrying until the deadline: rollout hello in namespace {NAMESPACE}: "
        f"the API at {cluster.url} answered 503 SERVICE UNAVAILABLE: the server is currently unable to handle the request",
        "hello: Healthy, step 4/4, weight 100%, 4/4 pods ready",
    ]


# --- errors: one line, no token, the right exit code ---------------------------------------------


def test_fails_if_the_rollout_does_not_exist(api_server: HTTPServer) -> None:
    cluster = FakeCluster(api_server, [State(not_found)])
    with pytest.raises(UsageError) as caught:
        _follow(cluster, [])
    assert str(caught.value) == f"rollout hello in namespace {NAMESPACE}: not found at {cluster.url}"
    assert caught.value.exit_code == 2


def test_fails_if_argo_rollouts_is_not_installed(api_server: HTTPServer) -> None:
    cluster = FakeCluster(
        api_server, [State(lambda: Response("404 page not found\n", status=404, content_type="text/plain"))]
    )
    with pytest.raises(KubeError, match=r"has no rollouts\.argoproj\.io/v1alpha1 \(is Argo Rollouts installed\?\)$"):
        _follow(cluster, [])


def test_fails_if_the_token_is_refused(api_server: HTTPServer) -> None:
    cluster = FakeCluster(api_server, [State(healthy_canary(NEW_TAG, NEW_HASH))], token="the-right-token")  # noqa: S106 - a test server's token
    with pytest.raises(KubeError) as caught:
        _follow(cluster, [])
    message = str(caught.value)
    assert message == (
        f"rollout hello in namespace {NAMESPACE}: the API at {cluster.url} refused the credentials "
        "(401 Unauthorized); check the token or the kubeconfig user"
    )
    assert TOKEN not in message
    assert isinstance(caught.value, ToolkitError)
    assert caught.value.exit_code == 2
    assert caught.value.lines() == [message]


def test_fails_if_reading_the_rollout_is_forbidden(api_server: HTTPServer) -> None:
    forbidden = (
        'rollouts.argoproj.io "hello" is forbidden: User "system:serviceaccount:ci:deployer" cannot get resource '
        f'"rollouts" in API group "argoproj.io" in the namespace "{NAMESPACE}"'
    )
    cluster = FakeCluster(api_server, [State(lambda: json_response(status_body(403, "Forbidden", forbidden), 403))])
    with pytest.raises(KubeError) as caught:
        _follow(cluster, [])
    assert (
        str(caught.value)
        == f"rollout hello in namespace {NAMESPACE}: forbidden by the API at {cluster.url} (403): {forbidden}"
    )
    assert not caught.value.transient


def test_fails_if_listing_the_pods_is_forbidden_even_after_the_first_read(api_server: HTTPServer) -> None:
    """Only network errors, 429 and 5xx are retried: a 403 stops following at once."""
    forbidden = (
        'pods is forbidden: User "ci" cannot list resource "pods" in API group "" in the namespace "qualisys-dev"'
    )
    answers = iter(
        [
            json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods(4)}),
            json_response(status_body(403, "Forbidden", forbidden), 403),
        ]
    )
    # Registered before the cluster's own pod list, so it answers first.
    api_server.expect_request(f"/api/v1/namespaces/{NAMESPACE}/pods").respond_with_handler(lambda _: next(answers))
    cluster = FakeCluster(api_server, [State(_progressing(0, 10), repeat=1), State(_progressing(1, 10))])
    lines: list[str] = []
    with pytest.raises(KubeError) as caught:
        _follow(cluster, lines)
    selector = "app.kubernetes.io/name=hello,app.kubernetes.io/part-of=qualisys"
    assert (
        str(caught.value)
        == f"pods {selector} in namespace {NAMESPACE}: forbidden by the API at {cluster.url} (403): {forbidden}"
    )
    assert cluster.rollout_reads == 2
    assert len(lines) == 1


def test_fails_if_the_connection_is_refused() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(KubeError) as caught, client_from_token(f"http://127.0.0.1:{port}", TOKEN) as api:
        follow_rollout(api, NAME, NAMESPACE, **FAST)
    assert str(caught.value) == (
        f"rollout hello in namespace {NAMESPACE}: cannot reach the API at http://127.0.0.1:{port}: connection refused"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_seconds": 0}, "rollout timeout and interval must be positive, got 0 s and 0.02 s"),
        ({"interval_seconds": -1}, "rollout timeout and interval must be positive, got 5.0 s and -1 s"),
        ({"expected_image": " "}, "the expected image is empty"),
    ],
)
def test_fails_if_the_arguments_are_wrong(api_server: HTTPServer, kwargs: dict[str, Any], message: str) -> None:
    cluster = FakeCluster(api_server, [State(healthy_canary(NEW_TAG, NEW_HASH))])
    with pytest.raises(UsageError) as caught:
        _follow(cluster, [], **kwargs)
    assert str(caught.value) == message
    assert cluster.rollout_reads == 0


# --- connections ---------------------------------------------------------------------------------


def _kubeconfig(path: Path, server: str, *, ca_file: Path | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": cluster}],
                "users": [
                    {"name": "ci-deployer", "user": {"token": TOKEN}},
                    {"name": "nobody", "user": {"token": "not-the-token"}},
                ],
                "contexts": [
                    {"name": "dev", "context": {"cluster": "local", "user": "ci-deployer", "namespace": NAMESPACE}},
                    {"name": "other", "context": {"cluster": "local", "user": "nobody"}},
                ],
                "current-context": "other",
            }
        )
    )
    return path


def test_a_kubeconfig_context_reaches_the_api(api_server: HTTPServer, tmp_path: Path) -> None:
    cluster = FakeCluster(api_server, [State(healthy_canary(NEW_TAG, NEW_HASH), pods(4))])
    config = _kubeconfig(tmp_path / "config", cluster.url)
    before = config.read_text()
    lines: list[str] = []
    with connect(kubeconfig=config, context="dev") as api:
        assert api.where == f"{cluster.url} (context dev)"
        result = follow_rollout(api, NAME, NAMESPACE, expected_image=NEW_TAG, progress=lines.append, **FAST)
    assert result.outcome is Outcome.HEALTHY
    assert lines == ["hello: Healthy, step 4/4, weight 100%, 4/4 pods ready"]
    assert config.read_text() == before  # never written back
    # The current context's user has another token: the server refuses it.
    with (
        client_from_kubeconfig(config) as api,
        pytest.raises(KubeError, match=r"\(context other\) refused the credentials"),
    ):
        api.get_rollout(NAMESPACE, NAME)


def test_the_kubeconfig_environment_variable_is_the_default(api_server: HTTPServer, tmp_path: Path) -> None:
    cluster = FakeCluster(api_server, [State(healthy_canary(NEW_TAG, NEW_HASH), pods(4))])
    config = _kubeconfig(tmp_path / "config", cluster.url)
    environ = {"KUBECONFIG": f"{tmp_path / 'missing'}:{config}"}
    with client_from_kubeconfig(context="dev", environ=environ) as api:
        assert api.get_rollout(NAMESPACE, NAME)["status"]["phase"] == "Healthy"


def test_fails_if_the_kubeconfig_has_no_such_context(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", "http://127.0.0.1:1")
    with pytest.raises(UsageError) as caught:
        connect(kubeconfig=config, context="production")
    assert str(caught.value) == f"kubeconfig {config} has no context 'production' (contexts: dev, other)"


def test_fails_if_there_is_no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"^kubeconfig .*/absent does not exist$"):
        connect(kubeconfig=tmp_path / "absent")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))  # the process's: connect reads only what it is given
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UsageError) as caught:
        connect()
    assert str(caught.value) == (
        f"no kubeconfig ({tmp_path}/.kube/config does not exist and KUBECONFIG is not set); "
        "give a kubeconfig, an API URL and token, or run in-cluster"
    )
    with pytest.raises(UsageError, match=r"^KUBECONFIG=.*/nope names no existing file$"):
        connect(environ={"KUBECONFIG": str(tmp_path / "nope")})


def test_fails_if_the_kubeconfig_is_not_one(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(UsageError, match=rf"^kubeconfig {config} has no current context; name one \(contexts: none\)$"):
        connect(kubeconfig=config)


def test_a_kubeconfig_without_a_current_context_needs_one_named(api_server: HTTPServer, tmp_path: Path) -> None:
    cluster = FakeCluster(api_server, [State(healthy_canary(NEW_TAG, NEW_HASH), pods(4))])
    config = _kubeconfig(tmp_path / "config", cluster.url)
    config.write_text(config.read_text().replace("current-context: other", ""))
    with pytest.raises(UsageError) as caught:
        connect(kubeconfig=config)
    assert str(caught.value) == f"kubeconfig {config} has no current context; name one (contexts: dev, other)"
    with connect(kubeconfig=config, context="dev") as api:
        assert api.get_rollout(NAMESPACE, NAME)["metadata"]["generation"] == 2


def test_fails_if_the_kubeconfig_is_not_yaml(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("clusters: [unclosed\n")
    with pytest.raises(UsageError, match=rf"^kubeconfig {config}: cannot read it: while parsing"):
        connect(kubeconfig=config)


def test_fails_outside_a_pod_for_in_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    with pytest.raises(UsageError, match=r"^in-cluster configuration: .+ \(is this running in a pod\?\)$"):
        client_in_cluster()
    with pytest.raises(UsageError, match="in-cluster configuration"):
        connect(in_cluster=True)


def test_a_ca_file_verifies_the_api_over_tls(tls: Any, tmp_path: Path) -> None:
    tls.server.clear()
    cluster = FakeCluster(tls.server, [State(healthy_canary(NEW_TAG, NEW_HASH), pods(4))])
    assert cluster.url.startswith("https://127.0.0.1:")
    with connect(api_url=cluster.url, token=TOKEN, ca_file=tls.ca_file) as api:
        result = follow_rollout(api, NAME, NAMESPACE, expected_image=NEW_TAG, **FAST)
    assert result.outcome is Outcome.HEALTHY
    # The same through a kubeconfig naming the CA.
    with connect(kubeconfig=_kubeconfig(tmp_path / "config", cluster.url, ca_file=tls.ca_file), context="dev") as api:
        assert api.get_rollout(NAMESPACE, NAME)["metadata"]["name"] == NAME
    # Without the cluster's CA the server is not trusted, and nothing is sent.
    reads = cluster.rollout_reads
    with (
        client_from_token(cluster.url, TOKEN) as api,
        pytest.raises(
            KubeError, match=r"cannot talk to the API at https://127\.0\.0\.1:\d+: .*CERTIFICATE_VERIFY_FAILED"
        ),
    ):
        api.get_rollout(NAMESPACE, NAME)
    assert cluster.rollout_reads == reads


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"api_url": "http://10.0.0.1:8080", "token": "t"},
            "API URL 'http://10.0.0.1:8080': plain http is allowed only for a loopback host; use https",
        ),
        ({"api_url": "ftp://example.com", "token": "t"}, "API URL 'ftp://example.com': expected https://HOST[:PORT]"),
        ({"api_url": "https://k8s.example.com"}, "an API URL (https://k8s.example.com) needs a bearer token"),
        ({"api_url": "https://k8s.example.com", "token": "a\nb"}, "the bearer token is empty or spans several lines"),
        (
            {"api_url": "https://k8s.example.com", "token": "t", "ca_file": Path("/nonexistent/ca.crt")},
            "CA file /nonexistent/ca.crt does not exist",
        ),
        (
            {"api_url": "https://k8s.example.com", "token": "t", "context": "dev"},
            "give either an API URL and token, a kubeconfig (and context), or in-cluster; not several",
        ),
        ({"token": "t"}, "a token or CA file is used only with an API URL"),
        ({"in_cluster": True, "context": "dev"}, "in-cluster configuration takes no kubeconfig or context"),
    ],
)
def test_fails_if_the_connection_options_are_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        connect(**kwargs)
    assert str(caught.value) == message


def test_localhost_and_ipv6_loopback_may_use_plain_http() -> None:
    for url in ("http://localhost:8001", "http://[::1]:8001"):
        with client_from_token(url, TOKEN) as api:
            assert isinstance(api, KubeApi)
            assert api.where == url


# --- the decision on its own (the shapes older controllers and edge cases write) -------------------


def _assess(body: dict[str, Any], **kwargs: Any) -> tuple[str, str, Outcome | None, bool]:
    a = assess(RolloutSnapshot.from_json(body), **kwargs)
    return a.phase, a.message, a.outcome, a.waiting_for_promotion


def test_a_controller_without_status_phase_is_decided_client_side() -> None:
    """Controllers before v1.0 write no ``status.phase``: the calculation is done here."""
    stable: dict[str, Any] = {"currentPodHash": NEW_HASH, "stableRS": NEW_HASH, "currentStepIndex": 4}
    assert _assess(rollout(**stable)) == ("Healthy", "", Outcome.HEALTHY, False)
    assert _assess(rollout(**stable, updatedReplicas=2)) == (
        "Progressing",
        "more replicas need to be updated",
        None,
        False,
    )
    assert _assess(rollout(**stable, availableReplicas=3)) == (
        "Progressing",
        "updated replicas are still becoming available",
        None,
        False,
    )
    assert _assess(rollout(**{**stable, "stableRS": OLD_HASH})) == (
        "Progressing",
        "waiting for all steps to complete",
        None,
        False,
    )
    timed_out = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "x" has timed out progressing.',
        }
    ]
    assert _assess(rollout(**stable, conditions=timed_out)) == (
        "Degraded",
        'ProgressDeadlineExceeded: ReplicaSet "x" has timed out progressing.',
        Outcome.FAILED,
        False,
    )
    invalid = [
        {"type": "InvalidSpec", "status": "True", "reason": "InvalidSpec", "message": "The Rollout has an invalid step"}
    ]
    assert _assess(rollout(**stable, conditions=invalid))[2] is Outcome.FAILED
    aborted = [{"type": "Progressing", "status": "False", "reason": "RolloutAborted", "message": ABORT_MESSAGE}]
    assert _assess(rollout(**stable, conditions=aborted)) == (
        "Degraded",
        f"RolloutAborted: {ABORT_MESSAGE}",
        Outcome.ABORTED,
        False,
    )
    blue_green: dict[str, Any] = {
        "currentPodHash": NEW_HASH,
        "stableRS": OLD_HASH,
        "blueGreen": {"activeSelector": OLD_HASH},
    }
    assert _assess(rollout(strategy="blueGreen", **blue_green))[:2] == ("Progressing", "active service cutover pending")
    promoted = {**blue_green, "blueGreen": {"activeSelector": NEW_HASH}}
    assert _assess(rollout(strategy="blueGreen", **promoted))[:2] == (
        "Progressing",
        "waiting for post-promotion verification to complete",
    )


def test_a_healthy_phase_that_contradicts_the_hashes_is_not_believed() -> None:
    body = rollout(phase="Healthy", currentPodHash=NEW_HASH, stableRS=OLD_HASH, currentStepIndex=4)
    assert _assess(body) == ("Progressing", "waiting for the new revision to become stable", None, False)


def test_a_rollout_being_unpaused_is_progressing() -> None:
    body = _paused_step(1, 10)
    body["status"]["pauseConditions"] = []
    assert _assess(body) == ("Progressing", "waiting for rollout to unpause", None, False)


def test_a_timed_pause_with_an_inconclusive_analysis_waits_for_a_person() -> None:
    body = _paused_step(1, 10)
    body["status"]["pauseConditions"].append({"reason": "InconclusiveAnalysisRun", "startTime": "2026-05-04T10:05:00Z"})
    assert _assess(body) == (
        "Paused",
        "paused, waiting for promotion (CanaryPauseStep, InconclusiveAnalysisRun)",
        None,
        True,
    )
    manual = _paused_step(1, 10)
    manual["spec"]["paused"] = True
    assert _assess(manual)[3] is True


def test_a_stale_abort_of_the_previous_release_is_not_this_release() -> None:
    """Until the controller observes the new spec, the old ``abort`` says nothing about the new image."""
    body = _progressing(1, 0, phase="Degraded", message="RolloutAborted: old", abort=True, observedGeneration="1")
    assert _assess(body, expected_image=NEW_TAG) == (
        "Progressing",
        "waiting for rollout spec update to be observed",
        None,
        False,
    )


def test_the_expected_image_matches_a_tag_a_reference_or_a_digest() -> None:
    snapshot = RolloutSnapshot.from_json(rollout(image_tag=NEW_TAG))
    assert snapshot.runs_image(NEW_TAG)
    assert snapshot.runs_image(f"{REPOSITORY}:{NEW_TAG}")
    assert not snapshot.runs_image("5.0")  # "1.5.0" ends with "5.0" but not with ":5.0"
    assert not snapshot.runs_image(f"{REPOSITORY}:{OLD_TAG}")
    digest = "sha256:" + "ab" * 32
    pinned = rollout()
    pinned["spec"]["template"]["spec"]["containers"][0]["image"] = f"{REPOSITORY}@{digest}"
    assert RolloutSnapshot.from_json(pinned).runs_image(digest)


def test_canary_weight_without_traffic_routing_comes_from_the_steps() -> None:
    body = _progressing(3, 0)
    del body["spec"]["strategy"]["canary"]["trafficRouting"]
    body["status"]["canary"] = {}
    assert RolloutSnapshot.from_json(body).weight == 50  # the setWeight before the pause at step 3
    body["status"]["currentStepIndex"] = 0
    assert RolloutSnapshot.from_json(body).weight == 10
    body["status"]["abort"] = True
    assert RolloutSnapshot.from_json(body).weight == 0
