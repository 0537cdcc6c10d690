"""A service's public address as the smoke suite sees it, served by pytest-httpserver: hello's
answers (``/health``, ``/`` with service and version, the correlation id echoed, 404 for anything
else, ``/metrics`` and ``/ready`` not public), each of which a test can break on its own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

NOT_FOUND = json.dumps({"detail": "Not Found"})
MISSING = "<a path that does not exist>"  # the key in ``routes`` of the suite's random path


@dataclass
class FakeService:
    """hello at ``server``'s address; change a field (or ``routes``) to break one answer."""

    server: HTTPServer
    version: str
    service: str = "hello"
    echo_correlation: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)
    routes: dict[str, Callable[[Request], Response]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for path in ("/health", "/", "/metrics", "/ready"):
            self.server.expect_request(path).respond_with_handler(self._answer)
        self.server.expect_request(re.compile(r"^/qualisys-smoke-[0-9a-f]+$")).respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _answer(self, request: Request) -> Response:
        self.requests.append(request.path)
        route = MISSING if request.path.startswith("/qualisys-smoke-") else request.path
        if route in self.routes:
            response = self.routes[route](request)
        elif request.path == "/health":
            response = _json({"status": "ok"})
        elif request.path == "/":
            response = _json({"service": self.service, "version": self.version, "message": "hello from QUALISYS"})
        else:
            response = Response(NOT_FOUND, status=404, content_type="application/json")
        correlation = request.headers.get("X-Correlation-ID")
        if self.echo_correlation and correlation:
            response.headers["X-Correlation-ID"] = correlation
        response.headers.update(self.extra_headers)
        return response


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
