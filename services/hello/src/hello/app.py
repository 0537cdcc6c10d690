"""The application: its four endpoints, wired to the settings, the metrics and the request middleware."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from hello import SERVICE_NAME
from hello.config import Settings
from hello.observe import Metrics, RequestObserver
from hello.readiness import Dependency, check_all, dependencies_of

log = logging.getLogger("hello.app")


def create_app(settings: Settings, *, dependencies: tuple[Dependency, ...] | None = None) -> FastAPI:
    """Build the application for ``settings``.

    ``dependencies`` defaults to the ones the settings configure (:func:`hello.readiness.dependencies_of`).
    The interactive API docs and the OpenAPI schema are off: nothing the service does needs them in
    production, and every route served is one more to defend.
    """
    checked = dependencies_of(settings) if dependencies is None else dependencies
    metrics = Metrics()
    app = FastAPI(title=SERVICE_NAME, version=settings.version, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestObserver, metrics=metrics)

    @app.get("/")
    async def greeting() -> dict[str, str]:
        """Name and version of the service (the image tag or git SHA it was built from)."""
        return {"service": SERVICE_NAME, "version": settings.version, "message": "hello from QUALISYS"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers. Touches no dependency, so an outage elsewhere never restarts it."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 when every configured dependency answers, 503 naming those that did not."""
        results = await check_all(checked, settings.readiness_timeout_seconds)
        failed = [result.name for result in results if not result.ok]
        for result in results:
            if not result.ok:
                log.warning("readiness check failed: %s: %s", result.name, result.error)
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

    return app
