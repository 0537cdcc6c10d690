"""Two ports: the public one (behind the internet-facing load balancer) serves what users need, the
internal one (Prometheus, the kubelet) serves readiness and metrics; each is a 404 on the other port."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hello.app import INTERNAL_PATHS, PUBLIC_PATHS, ByPort, create_app
from hello.config import Settings

PUBLIC, INTERNAL = 8080, 9090
SETTINGS = Settings(version="ports-test", port=PUBLIC, internal_port=INTERNAL)


def client_on(port: int) -> TestClient:
    """A client of one app for :data:`SETTINGS` whose requests arrive on ``port`` (the server's own port)."""
    return TestClient(create_app(SETTINGS), base_url=f"http://testserver:{port}")


@pytest.mark.parametrize("path", ["/", "/health"])
def test_the_public_port_serves_what_users_need(path: str) -> None:
    assert client_on(PUBLIC).get(path).status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_the_internal_port_serves_probes_and_metrics(path: str) -> None:
    assert client_on(INTERNAL).get(path).status_code == 200


# Every way of spelling an internal route that a router might still match.
INTERNAL_ONLY = ["/ready", "/metrics", "/ready/", "/metrics/", "/metrics?name=up", "/METRICS", "/metrics%2F"]


@pytest.mark.parametrize("path", INTERNAL_ONLY)
def test_fails_if_the_public_port_is_asked_for_an_internal_route(path: str) -> None:
    response = client_on(PUBLIC).get(path, follow_redirects=False)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not Found"}


def test_fails_if_the_internal_port_is_asked_for_the_greeting() -> None:
    assert client_on(INTERNAL).get("/").status_code == 404


@pytest.mark.parametrize("host", ["testserver:9090", "localhost:9090", "10.0.0.1:9090"])
def test_fails_if_a_host_header_names_the_internal_port(host: str) -> None:
    # The port a request arrived on is the listening socket's, never what the client writes.
    assert client_on(PUBLIC).get("/metrics", headers={"Host": host}).status_code == 404


def test_each_port_has_exactly_its_routes() -> None:
    app = create_app(SETTINGS)
    assert isinstance(app, ByPort)
    for served, paths in ((app.public, PUBLIC_PATHS), (app.internal, INTERNAL_PATHS)):
        assert isinstance(served, FastAPI)
        assert sorted(route.path for route in served.routes if isinstance(route, APIRoute)) == sorted(paths)


def test_without_an_internal_port_one_port_serves_every_route() -> None:
    app = create_app(Settings())
    assert isinstance(app, FastAPI)
    client = TestClient(app)
    for path in sorted({*PUBLIC_PATHS, *INTERNAL_PATHS}):
        assert client.get(path).status_code == 200, path


def test_requests_on_either_port_count_in_the_same_metrics() -> None:
    app = create_app(SETTINGS)
    public = TestClient(app, base_url=f"http://testserver:{PUBLIC}")
    internal = TestClient(app, base_url=f"http://testserver:{INTERNAL}")
    public.get("/")
    public.get("/metrics")  # a 404 on the public port, counted without its path
    text = internal.get("/metrics").text
    counts = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
    }
    assert counts[("/", "200")] == 1
    assert counts[("<unmatched>", "404")] == 1


def _answering(name: str, seen: list[str]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(name)

    return app


@pytest.mark.parametrize(
    ("scope_type", "server", "expected"),
    [
        ("http", ("10.0.0.7", INTERNAL), "internal"),
        ("http", ("10.0.0.7", PUBLIC), "public"),
        ("http", None, "public"),  # no server address (a Unix socket): the safe side
        ("websocket", ("10.0.0.7", INTERNAL), "internal"),
        ("lifespan", None, "public"),
    ],
)
def test_by_port_sends_each_request_to_the_app_of_its_port(
    scope_type: str, server: tuple[str, int] | None, expected: str
) -> None:
    seen: list[str] = []
    by_port = ByPort(
        public=_answering("public", seen),
        internal=_answering("internal", seen),
        internal_port=INTERNAL,
    )

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        return None

    asyncio.run(by_port({"type": scope_type, "server": server}, receive, send))
    assert seen == [expected]
