"""Answers shaped as the real APIs give them: Kubernetes (PodList, Status), GitHub's REST API (pull
requests, issue comments, errors) and Grafana's HTTP API (search, ``/api/ds/query`` data frames)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from qualisys_infra.delivery.github import sticky_marker
from qualisys_infra.delivery.report import ReportData, report_data_line

KUBE_TOKEN = "kube-t0ken-for-tests"  # noqa: S105 - a test token
GITHUB_TOKEN = "ghp_t0kenForSignoffTests"  # noqa: S105
GRAFANA_TOKEN = "glsa_t0kenForSignoffTests"  # noqa: S105
REPOSITORY = "acme/qualisys"
BOT = "github-actions[bot]"


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=dict(headers or {}))


# -- Kubernetes ---------------------------------------------------------------------------------


def pod(name: str, *, phase: str = "Running", ready: bool = True, waiting: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"waiting": {"reason": waiting, "message": f"{waiting} for tests"}}
        if waiting
        else {"running": {"startedAt": "2026-03-02T10:00:00Z"}}
    )
    conditions = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False"},
        {"type": "PodScheduled", "status": "True"},
    ]
    return {
        "metadata": {
            "name": name,
            "generateName": "hello-7d4b9c5f6-",
            "namespace": "staging",
            "uid": "0b8f2f7e-7d1c-4a53-9a55-8d1e0c6b2f10",
            "resourceVersion": "48213",
            "creationTimestamp": "2026-03-02T09:59:40Z",
            "labels": {"app.kubernetes.io/name": "hello", "pod-template-hash": "7d4b9c5f6"},
        },
        "spec": {"containers": [{"name": "hello", "image": "hashicorp/http-echo:1.0.0"}]},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "10.0.1.10",
            "podIP": "10.0.1.23",
            "startTime": "2026-03-02T09:59:41Z",
            "containerStatuses": [
                {
                    "name": "hello",
                    "ready": ready,
                    "restartCount": 0 if not waiting else 7,
                    "started": ready,
                    "state": state,
                    "image": "docker.io/hashicorp/http-echo:1.0.0",
                    "imageID": "docker.io/hashicorp/http-echo@sha256:" + "0" * 64,
                    "containerID": "containerd://" + "1" * 64,
                }
            ],
        },
    }


@dataclass
class FakeKube:
    """``GET /api/v1/namespaces/NS/pods?labelSelector=...`` with a bearer token."""

    server: HTTPServer
    pods: list[dict[str, Any]] = field(default_factory=list)
    token: str = KUBE_TOKEN
    selectors: list[str] = field(default_factory=list)

    def install(self) -> FakeKube:
        self.server.expect_request("/api/v1/namespaces/staging/pods", method="GET").respond_with_handler(self.handle)
        return self

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "Unauthorized",
                    "reason": "Unauthorized",
                    "code": 401,
                },
                401,
            )
        self.selectors.append(request.args.get("labelSelector", ""))
        return _json(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "48290"}, "items": self.pods}
        )


# -- GitHub -------------------------------------------------------------------------------------


def report_body(
    *, key: str = "tests", passed: int = 120, failed: int = 0, errors: int = 0, skipped: int = 2, coverage: float = 86.4
) -> str:
    """A report comment as ``qualisys-infra report`` writes it: sticky marker, hidden data line, Markdown."""
    data = ReportData(passed, failed, errors, skipped, coverage, 80.0)
    return (
        f"{sticky_marker(f'qualisys-report:{key}')}\n{report_data_line(data)}\n"
        f"## Tests: {passed} passed, {failed} failed\n\nCoverage: {coverage}%\n"
    )


@dataclass
class FakeGitHub:
    """Pull requests (sorted by update, newest first) and their issue comments."""

    server: HTTPServer
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # (author, body)
    token: str = GITHUB_TOKEN
    queries: list[dict[str, str]] = field(default_factory=list)

    def add_pull(self, number: int, title: str, comments: Sequence[str | tuple[str, str]] = ()) -> None:
        """A pull request, now the most recently updated; comments by the Actions bot unless (author, body)."""
        self.pulls.insert(
            0,
            {
                "url": f"https://api.github.com/repos/{REPOSITORY}/pulls/{number}",
                "id": 1000 + number,
                "node_id": "PR_kwDOAbc",
                "html_url": f"https://github.com/{REPOSITORY}/pull/{number}",
                "number": number,
                "state": "open",
                "locked": False,
                "title": title,
                "user": {"login": "dev", "id": 7, "type": "User"},
                "created_at": "2026-03-01T09:00:00Z",
                "updated_at": "2026-03-02T09:00:00Z",
                "draft": False,
                "head": {"ref": "feature", "sha": "a" * 40},
                "base": {"ref": "main", "sha": "b" * 40},
            },
        )
        self.comments[number] = [(BOT, c) if isinstance(c, str) else c for c in comments]

    def install(self) -> FakeGitHub:
        self.server.expect_request(f"/repos/{REPOSITORY}/pulls", method="GET").respond_with_handler(self.list_pulls)
        for number in self.comments:
            self.server.expect_request(
                f"/repos/{REPOSITORY}/issues/{number}/comments", method="GET"
            ).respond_with_handler(functools.partial(self.list_comments, number=number))
        return self

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"},
                401,
            )
        return None

    def list_pulls(self, request: Request) -> Response:
        self.queries.append(dict(request.args))
        return self._refused(request) or _json(self.pulls[: int(request.args.get("per_page", "30"))])

    def list_comments(self, request: Request, *, number: int) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        return _json(
            [
                {
                    "id": 500 + i,
                    "node_id": "IC_kwDOAbc",
                    "url": f"https://api.github.com/repos/{REPOSITORY}/issues/comments/{500 + i}",
                    "html_url": f"https://github.com/{REPOSITORY}/pull/{number}#issuecomment-{500 + i}",
                    "body": body,
                    "user": {"login": author, "id": 41898282, "type": "Bot" if author == BOT else "User"},
                    "created_at": "2026-03-02T09:05:00Z",
                    "updated_at": "2026-03-02T09:05:00Z",
                    "author_association": "NONE",
                }
                for i, (author, body) in enumerate(self.comments[number])
            ]
        )


# -- Grafana ------------------------------------------------------------------------------------


def search_hit(uid: str = "qualisys-cluster", title: str = "QUALISYS / Cluster") -> dict[str, Any]:
    return {
        "id": 3,
        "uid": uid,
        "orgId": 1,
        "title": title,
        "uri": f"db/{uid}",
        "url": f"/d/{uid}/{uid}",
        "slug": "",
        "type": "dash-db",
        "tags": [],
        "isStarred": False,
        "folderId": 2,
        "folderUid": "bdx3h2k0aq4u8e",
        "folderTitle": "QUALISYS",
        "folderUrl": "/dashboards/f/bdx3h2k0aq4u8e/qualisys",
        "sortMeta": 0,
    }


def frames(ref: str, pods: Sequence[str], *, age_seconds: float = 30, namespace: str = "staging") -> dict[str, Any]:
    """One ``/api/ds/query`` result of a Prometheus range query: a data frame per series."""
    newest = int((time.time() - age_seconds) * 1000) // 60000 * 60000
    times = [newest - 120000, newest - 60000, newest]
    meta = {
        "type": "timeseries-multi",
        "typeVersion": [0, 1],
        "custom": {"resultType": "matrix"},
        "executedQueryString": "Expr: ...\nStep: 1m0s",
    }
    if not pods:
        return {
            "status": 200,
            "frames": [{"schema": {"refId": ref, "meta": meta, "fields": []}, "data": {"values": []}}],
        }
    return {
        "status": 200,
        "frames": [
            {
                "schema": {
                    "name": "",
                    "refId": ref,
                    "meta": meta,
                    "fields": [
                        {
                            "name": "Time",
                            "type": "time",
                            "typeInfo": {"frame": "time.Time"},
                            "config": {"interval": 60000},
                        },
                        {
                            "name": "Value",
                            "type": "number",
                            "typeInfo": {"frame": "float64"},
                            "labels": {"namespace": namespace, "pod": name},
                            "config": {"displayNameFromDS": f'{{namespace="{namespace}", pod="{name}"}}'},
                        },
                    ],
                },
                "data": {"values": [times, [0.0021, 0.0023, 0.0022] if ref == "cpu" else [7.1e6, 7.2e6, 7.2e6]]},
            }
            for name in pods
        ],
    }


@dataclass
class FakeGrafana:
    """``GET /api/search`` and ``POST /api/ds/query`` behind a service-account token."""

    server: HTTPServer
    dashboards: list[dict[str, Any]] = field(default_factory=lambda: [search_hit()])
    results: dict[str, Any] | None = None  # refId -> result; None: live series of two hello pods
    status: int = 200
    token: str = GRAFANA_TOKEN
    queries: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, str]] = field(default_factory=list)

    def install(self) -> FakeGrafana:
        self.server.expect_request("/api/search", method="GET").respond_with_handler(self.search)
        self.server.expect_request("/api/ds/query", method="POST").respond_with_handler(self.query)
        return self

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(
                {"message": "invalid API key", "messageId": "api-key.invalid", "statusCode": 401, "traceID": ""}, 401
            )
        return None

    def search(self, request: Request) -> Response:
        self.searches.append(dict(request.args))
        uids = request.args.getlist("dashboardUIDs")
        return self._refused(request) or _json([d for d in self.dashboards if not uids or d["uid"] in uids])

    def query(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        body = json.loads(request.get_data())
        self.queries.append(body)
        pods = ["hello-7d4b9c5f6-abcde", "hello-7d4b9c5f6-fghij"]
        results = (
            self.results
            if self.results is not None
            else {q["refId"]: frames(q["refId"], pods) for q in body["queries"]}
        )
        return _json({"results": results}, self.status)
