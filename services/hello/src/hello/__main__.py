"""``python -m hello``: read the settings, log in JSON, serve with uvicorn on ``HOST``:``PORT``.

Exit status 2 and one ``error:`` line on stderr when the environment is invalid.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

import uvicorn

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
    logging.getLogger("hello").info(
        "starting %s %s on %s:%d",
        SERVICE_NAME,
        settings.version,
        settings.host,
        settings.port,
        extra={"dependencies": {dependency.name: dependency.target for dependency in dependencies}},
    )
    uvicorn.run(
        create_app(settings, dependencies=dependencies),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the request middleware logs each request, with its correlation id
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
