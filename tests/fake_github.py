"""A local fake of the part of GitHub's REST API the sticky comments use (issue comments and labels of one
pull request, with GitHub's status codes, pagination and limits), served by pytest-httpserver on 127.0.0.1.

Shared by the tests of ``qualisys-infra comment`` and ``qualisys-infra report``: each declares a fixture
that calls :func:`serve`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

REPO, PR, TOKEN, BOT = "acme/infra", 7, "t0ken-for-tests", "qualisys-bot"


@dataclass
class FakeGitHub:
    """Issue comments and labels of one pull request, with GitHub's status codes and pagination."""

    server: HTTPServer
    viewer: str | None = BOT  # None: GET /user is refused, as for Actions' GITHUB_TOKEN
    page_size: int = 2  # GitHub's is 100; smaller here so that a few comments span several pages
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    failure: tuple[int, dict[str, str], dict[str, Any]] | None = None
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    next_id: int = 100

    def seed(self, author: str, body: str) -> int:
        self.next_id += 1
        self.comments[self.next_id] = {"id": self.next_id, "body": body, "user": {"login": author, "type": "User"}}
        return self.next_id

    def ours(self, env: str = "dev") -> list[dict[str, Any]]:
        """The plan review comments of ``env`` that the token's user posted."""
        return self.marked(f"<!-- qualisys-infra:review env={env}")

    def marked(self, prefix: str) -> list[dict[str, Any]]:
        """The comments of the token's user whose body starts with ``prefix``, oldest first."""
        me = self.viewer or "github-actions[bot]"
        return [c for c in self.comments.values() if c["user"]["login"] == me and c["body"].startswith(prefix)]

    def calls(self, method: str) -> list[str]:
        return [path for m, path, _ in self.log if m == method]

    def handle(self, request: Request) -> Response:
        self.log.append((request.method, request.path, dict(request.args)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json(401, {"message": "Bad credentials"})
        assert request.headers.get("User-Agent", "").startswith("qualisys-infra/")
        if self.failure is not None:
            status, headers, body = self.failure
            return _json(status, body, headers)
        path, method = request.path, request.method
        issue = f"/repos/{REPO}/issues/{PR}"
        if path == "/user" and method == "GET":
            if self.viewer is None:
                return _json(403, {"message": "Resource not accessible by integration"})
            return _json(200, {"login": self.viewer})
        if path == f"{issue}/comments" and method == "GET":
            return self._page(request, list(self.comments.values()))
        if path == f"{issue}/comments" and method == "POST":
            body = request.get_json()["body"]
            if len(body) > 65_536:
                return _json(422, {"message": "Validation Failed: body is too long (maximum is 65536 characters)"})
            self.next_id += 1
            me = self.viewer or "github-actions[bot]"
            self.comments[self.next_id] = {"id": self.next_id, "body": body, "user": {"login": me, "type": "Bot"}}
            return _json(201, self.comments[self.next_id])
        found = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path)
        if found:
            comment = self.comments.get(int(found[1]))
            if comment is None:
                return _json(404, {"message": "Not Found"})
            if comment["user"]["login"] != (self.viewer or "github-actions[bot]"):
                return _json(403, {"message": "Must have admin rights to Repository."})
            if method == "PATCH":
                assert len(request.get_json()["body"]) <= 65_536
                comment["body"] = request.get_json()["body"]
                return _json(200, comment)
            if method == "DELETE":
                del self.comments[comment["id"]]
                return Response(status=204)
        if path == f"{issue}/labels" and method == "GET":
            return self._page(request, [{"name": name} for name in self.labels])
        if path == f"{issue}/labels" and method == "POST":
            self.labels += [name for name in request.get_json()["labels"] if name not in self.labels]
            return _json(200, [{"name": name} for name in self.labels])
        if path.startswith(f"{issue}/labels/") and method == "DELETE":
            name = unquote(path.removeprefix(f"{issue}/labels/"))
            if name not in self.labels:
                return _json(404, {"message": "Label does not exist"})
            self.labels.remove(name)
            return _json(200, [{"name": n} for n in self.labels])
        return _json(404, {"message": "Not Found"})

    def _page(self, request: Request, items: list[Any]) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), self.page_size)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = self.server.url_for(request.path) + f"?per_page={request.args.get('per_page', 30)}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
        return _json(200, chunk, headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def serve(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    """A :class:`FakeGitHub` answering every request to ``httpserver``, and GitHub Actions' environment
    pointing at it (repository, token, API URL; no event, step summary or run)."""
    fake = FakeGitHub(httpserver)
    httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(fake.handle)
    for name in ("GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_SERVER_URL", "GITHUB_RUN_ID", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    return fake
