"""``python -m hello``: read the settings, log in JSON, serve with uvicorn on ``HOST``:``PORT`` (and
``HOST``:``INTERNAL_PORT`` when set: one server, two listening sockets, one graceful shutdown).

Exit status 2 and one ``error:`` line on stderr when the environment is invalid.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping

import uvicorn
from starlette.types import ASGIApp

from hello import SERVICE_NAME
from hello.app import create_app
from hello.config import ConfigError, Settings
from hello.logs import configure_logging
from hello.readiness import dependencies_of

# Kubernetes waits 30 s (terminationGracePeriodSeconds) between SIGTERM and SIGKILL; in-flight requests
# get most of it.
GRACEFUL_SHUTDOWN_SECONDS = 20


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; the exit status."""
    try:
        settings = Settings.from_env(os.environ if env is None else env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(level=settings.log_level, service=SERVICE_NAME, version=settings.version)
    dependencies = dependencies_of(settings)
    internal = "" if settings.internal_port is None else f" (internal routes on port {settings.internal_port})"
    logging.getLogger("hello").info(
        "starting %s %s on %s:%d%s",
        SERVICE_NAME,
        settings.version,
        settings.host,
        settings.port,
        internal,
        extra={"dependencies": {dependency.name: dependency.target for dependency in dependencies}},
    )
    config = server_config(settings, create_app(settings, dependencies=dependencies))
    server = uvicorn.Server(config)
    if settings.internal_port is None:
        server.run()
    else:
        server.run(sockets=listening_sockets(config, settings.internal_port))
    return 0


def server_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    """uvicorn's settings: the public port, JSON logs (configured by :func:`main`), no access log of
    its own, no ``server`` header, the graceful shutdown Kubernetes leaves time for."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON logging configured in main()
        access_log=False,  # the request middleware logs each request, with its correlation id
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def listening_sockets(config: uvicorn.Config, internal_port: int) -> list[socket.socket]:
    """The public port's socket and the internal port's, bound as uvicorn binds one (each logs the
    address it serves); a port already taken ends the process with uvicorn's startup failure."""
    internal = uvicorn.Config(config.app, host=config.host, port=internal_port, log_config=None)
    return [config.bind_socket(), internal.bind_socket()]


if __name__ == "__main__":
    raise SystemExit(main())
