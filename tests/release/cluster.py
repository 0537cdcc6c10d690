"""A scripted Kubernetes API for one Argo Rollout, its pods and ReplicaSets, served by pytest-httpserver.

:class:`FakeCluster` answers ``GET /apis/argoproj.io/v1alpha1/namespaces/NS/rollouts/NAME`` with the
next state of a script (each state is answered ``repeat`` times, the last one for ever),
``GET /api/v1/namespaces/NS/pods?labelSelector=...`` with the pods of the state last answered and
``GET /apis/apps/v1/namespaces/NS/replicasets?labelSelector=...`` with its ``replica_sets``. A
``PATCH`` of the rollout (a JSON patch, as ``kubectl argo rollouts undo`` sends) is recorded in
``patches``; its ``test`` operations are checked against the rollout last answered (422 when one
fails, as the API server answers), and the script goes on with ``after_patch``. It checks the bearer
token and the label selector like the API server would (401 / 400), and answers errors as
``Status`` objects. The builders make Rollout, ReplicaSet, Pod and Status bodies in the API's
shapes (Argo Rollouts v1.x status fields).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

NAMESPACE = "qualisys-dev"
NAME = "hello"
UID = "aeddde25-f8bd-4a68-a4a1-523a559bdb83"
TOKEN = "test-token-5d1c"  # noqa: S105 - a test server's token
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello"
OLD_TAG = "1.4.0"
NEW_TAG = "1.5.0"
OLD_HASH = "6f7d9c8b5"
NEW_HASH = "85c94d7f6"
LABELS = {"app.kubernetes.io/name": "hello", "app.kubernetes.io/part-of": "qualisys"}
SELECTOR = "app.kubernetes.io/name=hello,app.kubernetes.io/part-of=qualisys"
CANARY_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"pause": {"duration": "30s"}},
    {"setWeight": 50},
    {"pause": {"duration": "30s"}},
]

Json = dict[str, Any]


def rollout(
    *,
    image_tag: str = NEW_TAG,
    generation: int = 2,
    observed_generation: int | None = None,
    strategy: str = "canary",
    steps: Sequence[Mapping[str, Any]] = CANARY_STEPS,
    replicas: int = 4,
    revision: int = 2,
    **status: Any,
) -> Json:
    """A Rollout object; ``status`` keys are ``status`` fields (``phase``, ``currentStepIndex``, ...)."""
    if strategy == "canary":
        strategy_spec: Json = {
            "canary": {
                "stableService": "hello-stable",
                "canaryService": "hello-canary",
                "trafficRouting": {"alb": {"ingress": "hello", "servicePort": 80, "rootService": "hello"}},
                "steps": [dict(s) for s in steps],
            }
        }
    else:
        strategy_spec = {
            "blueGreen": {
                "activeService": "hello-active",
                "previewService": "hello-preview",
                "autoPromotionEnabled": False,
            }
        }
    body: Json = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "generation": generation,
            "resourceVersion": "877993",
            "uid": UID,
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 3,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": dict(LABELS)},
            "strategy": strategy_spec,
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "containers": [
                        {"name": "hello", "image": f"{REPOSITORY}:{image_tag}", "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
        "status": {
            "observedGeneration": str(generation if observed_generation is None else observed_generation),
            "HPAReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "selector": SELECTOR,
            "blueGreen": {},
            "canary": {},
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "AvailableReason",
                    "message": "Rollout has minimum availability",
                }
            ],
        },
    }
    body["status"].update(copy.deepcopy(status))
    return body


def canary_weights(canary: int, *, canary_hash: str = NEW_HASH, stable_hash: str = OLD_HASH) -> Json:
    """``status.canary`` with the weights the ALB traffic router reports."""
    return {
        "weights": {
            "canary": {"weight": canary, "serviceName": "hello-canary", "podTemplateHash": canary_hash},
            "stable": {"weight": 100 - canary, "serviceName": "hello-stable", "podTemplateHash": stable_hash},
            "verified": True,
        }
    }


def healthy_canary(image_tag: str, pod_hash: str, **overrides: Any) -> Json:
    """A canary rollout done with every step: ``pod_hash`` is current and stable."""
    fields: Json = {
        "phase": "Healthy",
        "currentPodHash": pod_hash,
        "stableRS": pod_hash,
        "currentStepIndex": len(CANARY_STEPS),
        "currentStepHash": "5b4f8f6d97",
        "canary": canary_weights(0, canary_hash=pod_hash, stable_hash=pod_hash),
    }
    fields.update(overrides)
    return rollout(image_tag=image_tag, **fields)


def pod_template(image_tag: str, pod_hash: str | None = None) -> Json:
    """A rollout's pod template, as a ReplicaSet carries it (with its pod-template-hash label)."""
    labels = dict(LABELS) | ({"rollouts-pod-template-hash": pod_hash} if pod_hash else {})
    return {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "hello", "image": f"{REPOSITORY}:{image_tag}", "ports": [{"containerPort": 8080}]}]
        },
    }


def replica_set(revision: int, image_tag: str, pod_hash: str, *, owner_uid: str = UID, replicas: int = 0) -> Json:
    """A ReplicaSet of the rollout (controlled by the rollout of ``owner_uid``) at ``revision``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{NAME}-{pod_hash}",
            "namespace": NAMESPACE,
            "labels": {**LABELS, "rollouts-pod-template-hash": pod_hash},
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Rollout",
                    "name": NAME,
                    "uid": owner_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(LABELS)},
            "template": pod_template(image_tag, pod_hash),
        },
        "status": {"replicas": replicas},
    }


def pod(
    name: str,
    *,
    pod_hash: str = NEW_HASH,
    ready: bool = True,
    waiting: str | None = None,
    image_tag: str = NEW_TAG,
    restarts: int = 0,
) -> Json:
    """A Pod of the rollout; ``waiting`` is a container's waiting reason (``CrashLoopBackOff``, ...)."""
    state: Json = {"running": {"startedAt": "2026-05-04T10:00:00Z"}}
    if waiting is not None:
        state = {"waiting": {"reason": waiting, "message": f"back-off restarting failed container hello in {name}"}}
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {**LABELS, "rollouts-pod-template-hash": pod_hash},
        },
        "spec": {"containers": [{"name": "hello", "image": f"{REPOSITORY}:{image_tag}"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
                {"type": "ContainersReady", "status": "True" if ready else "False"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {
                    "name": "hello",
                    "ready": ready,
                    "restartCount": restarts,
                    "image": f"{REPOSITORY}:{image_tag}",
                    "state": state,
                }
            ],
        },
    }


def pods(count: int, *, pod_hash: str = NEW_HASH, ready: int | None = None, image_tag: str = NEW_TAG) -> list[Json]:
    """``count`` pods of one revision, the first ``ready`` of them ready (all by default)."""
    ready = count if ready is None else ready
    return [
        pod(f"hello-{pod_hash}-{i:05d}", pod_hash=pod_hash, ready=i < ready, image_tag=image_tag) for i in range(count)
    ]


def status_body(code: int, reason: str, message: str, *, details: Json | None = None) -> Json:
    """A ``Status`` object, as the API server answers a failed request."""
    body: Json = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def json_response(body: Json, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def not_found() -> Response:
    return json_response(
        status_body(
            404,
            "NotFound",
            f'rollouts.argoproj.io "{NAME}" not found',
            details={"name": NAME, "group": "argoproj.io", "kind": "rollouts"},
        ),
        404,
    )


@dataclass
class State:
    """One answer of the script: the rollout (or an error response) and the pods listed with it."""

    rollout: Json | Callable[[], Response]
    pods: list[Json] = field(default_factory=list)
    repeat: int = 2


class FakeCluster:
    """The Kubernetes API of one cluster with one Rollout, answering from a script of states."""

    def __init__(
        self,
        server: HTTPServer,
        states: Sequence[State],
        *,
        token: str = TOKEN,
        replica_sets: Sequence[Json] = (),
        after_patch: Sequence[State] = (),
        generation_at_patch: int | None = None,
    ) -> None:
        self.server = server
        self.token = token
        self.answers: list[State] = [s for s in states for _ in range(s.repeat)]
        self.after_patch = [s for s in after_patch for _ in range(s.repeat)]
        self.replica_sets = list(replica_sets)
        self.patches: list[list[Json]] = []
        # The rollout's generation on the server when a patch arrives: another, when someone
        # changed the rollout between a read and the patch.
        self.generation_at_patch = generation_at_patch
        self.rollout_reads = 0
        self.pod_reads = 0
        self._current: State | None = None
        server.expect_request(
            f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts/{NAME}"
        ).respond_with_handler(self._rollout)
        server.expect_request(f"/api/v1/namespaces/{NAMESPACE}/pods").respond_with_handler(self._pods)
        server.expect_request(f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets").respond_with_handler(
            self._replica_sets
        )

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_response(status_body(401, "Unauthorized", "Unauthorized"), 401)
        return None

    def _rollout(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        if request.method == "PATCH":
            return self._patch(request)
        index = min(self.rollout_reads, len(self.answers) - 1)
        self.rollout_reads += 1
        state = self.answers[index]
        if callable(state.rollout):
            return state.rollout()
        self._current = state
        return json_response(state.rollout)

    def _patch(self, request: Request) -> Response:
        if request.content_type != "application/json-patch+json":
            message = f"unsupported patch type {request.content_type!r}"
            return json_response(status_body(415, "UnsupportedMediaType", message), 415)
        operations = json.loads(request.get_data())
        current = copy.deepcopy(self._current.rollout) if self._current is not None else None
        if isinstance(current, dict) and self.generation_at_patch is not None:
            current["metadata"]["generation"] = self.generation_at_patch
        for op in operations:
            if op.get("op") == "test" and isinstance(current, dict):
                node: Any = current
                for part in op["path"].strip("/").split("/"):
                    node = node.get(part) if isinstance(node, dict) else None
                if node != op.get("value"):
                    message = f"the server rejected our request due to an error in our request: testing value {op['path']} failed"
                    return json_response(status_body(422, "Invalid", message), 422)
        self.patches.append(operations)
        if self.after_patch:
            self.answers = self.after_patch
            self.rollout_reads = 0
        return json_response(current if isinstance(current, dict) else {})

    def _pods(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        if request.args.get("labelSelector") != SELECTOR:
            message = f"unexpected labelSelector {request.args.get('labelSelector')!r}"
            return json_response(status_body(400, "BadRequest", message), 400)
        self.pod_reads += 1
        items = self._current.pods if self._current is not None else []
        return json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9001"}, "items": items}
        )

    def _replica_sets(self, request: Request) -> Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        if request.args.get("labelSelector") != SELECTOR:
            message = f"unexpected labelSelector {request.args.get('labelSelector')!r}"
            return json_response(status_body(400, "BadRequest", message), 400)
        return json_response(
            {"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {}, "items": self.replica_sets}
        )
