"""The application: its endpoints, wired to the settings, the metrics and the request middleware.

Two audiences, two ports. Users reach the public port through the internet-facing load balancer:
it serves ``/`` and ``/health`` (the load balancer's own health check). The platform reaches the
internal port from inside the cluster: ``/health`` (liveness), ``/ready`` (readiness: a connection to
every dependency per request) and ``/metrics`` (Prometheus). A path of the other port is a plain 404
there, as if it did not exist. Which port a request came in on is the listening socket's own port
(``scope["server"]``), never anything the client sends. Without an internal port (local runs), the
one port serves every route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hello import SERVICE_NAME
from hello.config import Settings
from hello.observe import Metrics, RequestObserver
from hello.readiness import Dependency, check_all, dependencies_of

log = logging.getLogger("hello.app")

PUBLIC_PATHS = ("/", "/health")
INTERNAL_PATHS = ("/health", "/ready", "/metrics")


def create_app(settings: Settings, *, dependencies: tuple[Dependency, ...] | None = None) -> ASGIApp:
    """The application for ``settings``: one FastAPI app, or one per port when ``settings.internal_port``
    is set (both counting into the same metrics).

    ``dependencies`` defaults to the ones the settings configure (:func:`hello.readiness.dependencies_of`).
    The interactive API docs and the OpenAPI schema are off: nothing the service does needs them in
    production, and every route served is one more to defend.
    """
    checked = dependencies_of(settings) if dependencies is None else dependencies
    metrics = Metrics()

    def greeting(app: FastAPI) -> None:
        _add_greeting(app, settings)

    def operations(app: FastAPI) -> None:
        _add_operations(app, settings, checked, metrics)

    if settings.internal_port is None:
        return _fastapi(settings, metrics, greeting, _add_health, operations)
    return ByPort(
        public=_fastapi(settings, metrics, greeting, _add_health),
        internal=_fastapi(settings, metrics, _add_health, operations),
        internal_port=settings.internal_port,
    )


class ByPort:
    """ASGI: each request goes to the app of the port it arrived on, ``internal`` for ``internal_port``
    and ``public`` for any other (or an unknown one); lifespan events go to ``public``."""

    def __init__(self, *, public: ASGIApp, internal: ASGIApp, internal_port: int) -> None:
        self.public = public
        self.internal = internal
        self.internal_port = internal_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") if scope["type"] in ("http", "websocket") else None
        arrived_on = server[1] if server else None
        app = self.internal if arrived_on == self.internal_port else self.public
        await app(scope, receive, send)


def _fastapi(settings: Settings, metrics: Metrics, *add_routes: Callable[[FastAPI], None]) -> FastAPI:
    app = FastAPI(title=SERVICE_NAME, version=settings.version, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestObserver, metrics=metrics)
    for add in add_routes:
        add(app)
    return app


def _add_greeting(app: FastAPI, settings: Settings) -> None:
    @app.get("/")
    async def greeting() -> dict[str, str]:
        """Name and version of the service (the image tag or git SHA it was built from)."""
        return {"service": SERVICE_NAME, "version": settings.version, "message": "hello from QUALISYS"}


def _add_health(app: FastAPI) -> None:
    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers. Touches no dependency, so an outage elsewhere never restarts it."""
        return {"status": "ok"}


def _add_operations(app: FastAPI, settings: Settings, checked: tuple[Dependency, ...], metrics: Metrics) -> None:
    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 when every configured dependency answers, 503 naming those that did not (with
        the kind of failure; the log line has the detail)."""
        results = await check_all(checked, settings.readiness_timeout_seconds)
        failed = [result.name for result in results if not result.ok]
        for dependency, result in zip(checked, results, strict=True):
            if not result.ok:
                # The log keeps where the dependency is (its URL, password masked) and what it said.
                log.warning(
                    "readiness check failed: %s at %s: %s",
                    result.name,
                    dependency.target,
                    result.detail,
                    extra={"dependency": result.name, "target": dependency.target},
                )
        body: dict[str, object] = {
            "status": "not ready" if failed else "ready",
            "checks": {result.name: result.as_json() for result in results},
        }
        if failed:
            body["failed"] = failed
        return JSONResponse(body, status_code=503 if failed else 200)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition of the service's registry."""
        payload, content_type = metrics.exposition()
        return Response(content=payload, media_type=content_type)
