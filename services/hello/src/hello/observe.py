"""What happens to every request: its correlation id, its access log line and its metrics.

One pure ASGI middleware (not ``BaseHTTPMiddleware``: no extra task per request, and the correlation
id set here is visible to the endpoint and to everything it logs):

- the correlation id is the request's ``X-Correlation-ID`` header when that is a sane value (1 to 128
  characters of letters, digits, ``.``, ``_``, ``:`` and ``-``), otherwise a new UUID4; it is returned
  in the ``X-Correlation-ID`` response header and set in :data:`hello.logs.correlation_id`; the trace id
  of its W3C ``traceparent`` header (or a new one) is set in :data:`hello.logs.trace_id`;
- one access line per request (``method``, ``path`` without the query string, ``status``,
  ``duration_ms``);
- ``http_requests_total{method,route,status}`` and ``http_request_duration_seconds{method,route}``,
  the names the platform's dashboards and alert rules query. ``route`` is the route template
  (``/items/{id}``, never the raw path) so that label values stay few; requests that match no route
  count as ``<unmatched>``. Prometheus adds the ``service`` label when it scrapes.

An exception no handler caught becomes a logged error (with the traceback and the correlation id)
and a JSON 500 that still carries the correlation id header.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hello.logs import correlation_id, trace_id

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_HEADER_RAW = CORRELATION_HEADER.lower().encode("latin-1")
_SANE_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# W3C Trace Context `traceparent`: version-traceid-parentid-flags; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"^(?!ff)[0-9a-f]{2}-(?!0{32})([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACEPARENT_HEADER_RAW = b"traceparent"
UNMATCHED_ROUTE = "<unmatched>"
# Any other method token counts as OTHER: a client must not be able to mint label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_log = logging.getLogger("hello.access")
error_log = logging.getLogger("hello.error")


class Metrics:
    """The service's Prometheus registry: the HTTP metrics plus the process, platform and GC collectors.

    One registry per application (not the global default one), so that each app built in a test starts
    from zero and two apps never collide on a metric name.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route template.",
            ("method", "route"),
            registry=self.registry,
        )

    def observe(self, *, method: str, route: str, status: int, duration_seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.duration.labels(method=method, route=route).observe(duration_seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def correlation_id_from(scope: Scope) -> str:
    """The request's ``X-Correlation-ID`` when it is sane (the first one, if sent twice), else a new UUID4."""
    for name, value in scope["headers"]:
        if name == _CORRELATION_HEADER_RAW:
            candidate: str = value.decode("latin-1")
            if _SANE_CORRELATION_ID.match(candidate):
                return candidate
            break
    return str(uuid.uuid4())


def trace_id_from(scope: Scope) -> str:
    """The trace id of the request's W3C ``traceparent`` header when it is valid, else a new random one."""
    for name, value in scope["headers"]:
        if name == _TRACEPARENT_HEADER_RAW:
            match = _TRACEPARENT.match(value.decode("latin-1"))
            if match:
                return match.group(1)
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (set in the scope by the router), if any."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestObserver:
    """ASGI middleware: correlation id, access log line and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id_from(scope)
        token = correlation_id.set(request_id)
        trace_token = trace_id.set(trace_id_from(scope))
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_correlation_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append(CORRELATION_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_correlation_id)
        except Exception:
            error_log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if response_started:
                raise  # too late for a 500: the server closes the connection
            status = 500
            response = JSONResponse({"detail": "Internal Server Error"}, status_code=500)
            await response(scope, receive, send_with_correlation_id)
        finally:
            duration = time.perf_counter() - started
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            self.metrics.observe(method=method, route=route_template(scope), status=status, duration_seconds=duration)
            access_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                },
            )
            correlation_id.reset(token)
            trace_id.reset(trace_token)
