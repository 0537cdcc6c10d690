"""The release's smoke suite (``qualisys_infra.delivery.smoke``) against a service on 127.0.0.1: every
check passes for hello's answers, and each way an answer can be wrong fails its own check."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from qualisys_infra.delivery.signoff import Verdict
from qualisys_infra.delivery.smoke import smoke_suite
from tests.release.conftest import Tls
from tests.release.service import MISSING, FakeService

VERSION = "0123abc"
CHECKS = [
    "GET /health",
    "GET /",
    "headers of GET /",
    "GET a path that does not exist",
    "GET /metrics is not public",
    "GET /ready is not public",
]


@pytest.fixture
def service(api_server: HTTPServer, no_server_version: None) -> FakeService:
    return FakeService(api_server, VERSION)


def _run(service: FakeService, **kwargs: object) -> dict[str, tuple[Verdict, str]]:
    steps = smoke_suite(service.url, service="hello", version=VERSION, timeout=5, **kwargs)  # type: ignore[arg-type]
    assert [s.name for s in steps] == CHECKS
    return {s.name: (s.verdict, s.detail) for s in steps}


def _answer(body: object, status: int = 200, content_type: str = "application/json") -> Callable[[Request], Response]:
    text = body if isinstance(body, str) else json.dumps(body)
    return lambda _request: Response(text, status=status, content_type=content_type)


def test_every_check_passes_for_the_services_answers(service: FakeService) -> None:
    results = _run(service)
    assert {name: verdict for name, (verdict, _) in results.items()} == dict.fromkeys(CHECKS, Verdict.PASSED)
    assert results["GET /"][1] == f"200: hello {VERSION}"
    missing = [p for p in service.requests if p.startswith("/qualisys-smoke-")]
    assert len(missing) == 1  # a fresh path each run, so no cache or route can be prepared for it


HEADERS = "headers of GET /"


@pytest.mark.parametrize(
    ("check", "route", "answer", "says", "also"),
    [
        ("GET /health", "/health", _answer("down", 503, "text/plain"), "answered 503 SERVICE UNAVAILABLE", ()),
        ("GET /health", "/health", _answer({"status": "starting"}), 'expected {"status": "ok"}', ()),
        ("GET /", "/", _answer("<html>hi</html>", 200, "text/html"), "expected a JSON object", (HEADERS,)),
        (
            "GET /",
            "/",
            _answer({"service": "hello", "version": "4567def"}),
            "version '4567def', expected '0123abc'",
            (),
        ),
        ("GET /", "/", _answer({"service": "other", "version": VERSION}), "service 'other', expected 'hello'", ()),
        ("GET /", "/", _answer("oops", 500, "text/plain"), "answered 500 INTERNAL SERVER ERROR", (HEADERS,)),
        (
            "GET /metrics is not public",
            "/metrics",
            _answer("up 1", 200, "text/plain"),
            "reachable from the internet",
            (),
        ),
        ("GET /ready is not public", "/ready", _answer({"status": "ready"}), "reachable from the internet", ()),
        ("GET /metrics is not public", "/metrics", _answer("oops", 502, "text/plain"), "expected 404", ()),
    ],
)
def test_fails_if_an_answer_is_wrong(
    service: FakeService,
    check: str,
    route: str,
    answer: Callable[[Request], Response],
    says: str,
    also: tuple[str, ...],
) -> None:
    service.routes[route] = answer
    results = _run(service)
    verdict, detail = results[check]
    assert verdict is Verdict.FAILED and says in detail, detail
    # each wrong answer fails its own check (a greeting that is not JSON its headers' too), no other
    assert [n for n, (v, _) in results.items() if v is not Verdict.PASSED] == [check, *also]


@pytest.mark.parametrize(("status", "says"), [(500, "an error of the service"), (200, "expected 404")])
def test_fails_if_a_path_that_does_not_exist_is_not_a_404(service: FakeService, status: int, says: str) -> None:
    service.routes[MISSING] = _answer({"detail": "boom"}, status)
    verdict, detail = _run(service)["GET a path that does not exist"]
    assert verdict is Verdict.FAILED and says in detail, detail


def test_fails_if_a_redirect_is_answered_and_names_it(service: FakeService) -> None:
    service.routes["/"] = lambda _r: Response("", status=302, headers={"Location": "https://login.example/"})
    verdict, detail = _run(service)["GET /"]
    assert verdict is Verdict.FAILED and "302 FOUND (redirect to https://login.example/)" in detail


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"echo_correlation": False}, "X-Correlation-ID missing, expected the one sent back"),
        ({"extra_headers": {"X-Powered-By": "Express 4.19"}}, "X-Powered-By: Express 4.19 names a software version"),
        ({"extra_headers": {"Server": "uvicorn/0.30"}}, "names a software version"),
    ],
)
def test_fails_if_the_headers_are_not_sane(service: FakeService, change: dict[str, object], says: str) -> None:
    for key, value in change.items():
        setattr(service, key, value)
    verdict, detail = _run(service)["headers of GET /"]
    assert verdict is Verdict.FAILED and says in detail, detail


def test_fails_if_the_greeting_is_not_json(service: FakeService) -> None:
    service.routes["/"] = _answer({"service": "hello", "version": VERSION}, content_type="text/plain")
    verdict, detail = _run(service)["headers of GET /"]
    assert verdict is Verdict.FAILED and "Content-Type text/plain" in detail


def test_an_address_that_does_not_answer_could_not_run_every_check() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    steps = smoke_suite(f"http://127.0.0.1:{port}", service="hello", version=VERSION, timeout=2)
    assert {s.verdict for s in steps} == {Verdict.NOT_RUN}
    assert "no answer" in steps[0].detail


def test_fails_if_https_does_not_verify(tls: Tls) -> None:
    server = tls.server
    server.expect_request("/health").respond_with_json({"status": "ok"})
    steps = smoke_suite(server.url_for("").rstrip("/"), service="hello", version=VERSION, timeout=5)
    assert steps[0].verdict is Verdict.FAILED and "HTTPS does not verify" in steps[0].detail
    server.clear()
