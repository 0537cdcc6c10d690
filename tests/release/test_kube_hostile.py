"""The Kubernetes API client (``qualisys_infra.delivery.kube``) against hostile API servers on 127.0.0.1:
each ends in one :class:`KubeError` line, within the request deadline, never a traceback."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.delivery import kube
from qualisys_infra.delivery.kube import KubeError, PodRef, client_from_token
from tests.release.cluster import NAME, NAMESPACE, TOKEN, json_response, rollout
from tests.trickle import TrickleServer

ROLLOUT_PATH = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts/{NAME}"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"
WHAT = f"rollout {NAME} in namespace {NAMESPACE}"
PODS = PodRef(NAMESPACE, {"app.kubernetes.io/name": "hello"})


def _rollout_error(url: str, **kwargs: Any) -> KubeError:
    with pytest.raises(KubeError) as caught, client_from_token(url, TOKEN, **kwargs) as api:
        api.get_rollout(NAMESPACE, NAME)
    assert len(caught.value.lines()) == 1 and caught.value.exit_code == 2
    assert TOKEN not in str(caught.value)
    return caught.value


def _pods_error(server: HTTPServer, answer: Response) -> KubeError:
    server.expect_request(PODS_PATH).respond_with_response(answer)
    url = server.url_for("").rstrip("/")
    with pytest.raises(KubeError) as caught, client_from_token(url, TOKEN) as api:
        api.list_pods(PODS)
    return caught.value


def test_fails_if_the_api_trickles_past_the_request_timeout() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    with (
        TrickleServer(head=head, drip=b"{" + b" " * 99_999) as server,
        client_from_token(server.url, TOKEN, request_timeout_seconds=0.5) as api,
        pytest.raises(KubeError) as caught,
    ):
        start = time.monotonic()
        try:
            api.get_rollout(NAMESPACE, NAME)
        finally:
            took = time.monotonic() - start
    error = caught.value
    assert str(error) == (
        f"{WHAT}: the API at {server.url} did not answer in time (the answer was not complete within 0.5 s)"
    )
    assert error.transient  # a release following the rollout retries it until its own deadline
    assert took < 1.2


def test_fails_if_the_api_redirects_to_another_origin(api_server: HTTPServer) -> None:
    away = "http://127.0.0.2:9/steal"
    api_server.expect_request(ROLLOUT_PATH).respond_with_data("", status=307, headers={"Location": away})
    error = _rollout_error(api_server.url_for("").rstrip("/"))
    assert str(error).startswith(f"{WHAT}: the API at http://127.0.0.1:{api_server.port}: redirected to {away}, ")
    assert not error.transient


def test_fails_if_the_api_redirects_from_https_to_http(tls: Any, api_server: HTTPServer) -> None:
    tls.server.clear()
    target = api_server.url_for(ROLLOUT_PATH)
    tls.server.expect_request(ROLLOUT_PATH).respond_with_data("", status=302, headers={"Location": target})
    error = _rollout_error(tls.server.url_for("").rstrip("/"), ca_file=tls.ca_file)
    assert str(error).endswith(f"redirected to {target}, which leaves HTTPS (not followed)")
    assert api_server.log == []  # the token was not sent in clear


def test_fails_if_the_answer_is_larger_than_the_cap(api_server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "MAX_ANSWER_BYTES", 4096)
    api_server.expect_request(ROLLOUT_PATH).respond_with_response(json_response(rollout(padding="x" * 5000)))
    error = _rollout_error(api_server.url_for("").rstrip("/"))
    assert str(error).endswith(": the answer is larger than 4,096 bytes (not read)")


def test_fails_if_the_answer_is_not_json(api_server: HTTPServer) -> None:
    api_server.expect_request(ROLLOUT_PATH).respond_with_data("<html>proxy login</html>", content_type="text/html")
    error = _rollout_error(api_server.url_for("").rstrip("/"))
    assert (
        str(error) == f"{WHAT}: the API at {api_server.url_for('').rstrip('/')} answered badly: the answer is not JSON"
    )


def test_fails_if_the_rollout_is_a_list(api_server: HTTPServer) -> None:
    api_server.expect_request(ROLLOUT_PATH).respond_with_response(json_response([rollout()]))  # type: ignore[arg-type]
    error = _rollout_error(api_server.url_for("").rstrip("/"))
    assert str(error).endswith("answered badly: the answer is a list, expected an object")


def test_fails_if_the_pod_list_has_no_items(api_server: HTTPServer) -> None:
    error = _pods_error(api_server, json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}}))
    assert str(error).endswith("answered a PodList without an items list")


def test_fails_if_a_pod_is_not_an_object(api_server: HTTPServer) -> None:
    error = _pods_error(api_server, json_response({"kind": "PodList", "items": [{"metadata": {}}, "pod"]}))
    assert str(error).endswith("answered a PodList whose item 2 is a string, expected an object")


def test_an_items_list_written_as_null_is_empty(api_server: HTTPServer) -> None:
    api_server.expect_request(PODS_PATH).respond_with_response(json_response({"kind": "PodList", "items": None}))
    with client_from_token(api_server.url_for("").rstrip("/"), TOKEN) as api:
        assert api.list_pods(PODS) == []


REPLICA_SETS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "ReplicaSetList", "metadata": {}}, "answered a ReplicaSetList without an items list"),
        ({"kind": "ReplicaSetList", "items": {"a": 1}}, "answered a ReplicaSetList without an items list"),
        (
            {"kind": "ReplicaSetList", "items": [{}, 7]},
            "answered a ReplicaSetList whose item 2 is an integer, expected an object",
        ),
    ],
)
def test_fails_if_the_replica_set_list_is_malformed(api_server: HTTPServer, body: dict[str, Any], says: str) -> None:
    api_server.expect_request(REPLICA_SETS_PATH).respond_with_response(json_response(body))
    with pytest.raises(KubeError) as caught, client_from_token(api_server.url_for("").rstrip("/"), TOKEN) as api:
        api.list_replica_sets(PODS)
    assert str(caught.value).endswith(says) and len(caught.value.lines()) == 1


def test_fails_if_the_rollout_to_patch_is_gone(api_server: HTTPServer) -> None:
    api_server.expect_request(ROLLOUT_PATH, method="PATCH").respond_with_response(
        json_response({"kind": "Status", "code": 404, "message": "not found"}, 404)
    )
    with pytest.raises(KubeError) as caught, client_from_token(api_server.url_for("").rstrip("/"), TOKEN) as api:
        api.patch_rollout(NAMESPACE, NAME, [{"op": "replace", "path": "/spec/paused", "value": False}])
    assert str(caught.value) == f"{WHAT}: not found at {api_server.url_for('').rstrip('/')}"
    assert api_server.log[0][0].headers["Content-Type"] == "application/json-patch+json"
