"""Fixtures of the hello tests: clients on real settings, a JSON log capture, ports that never answer.

The readiness tests use the real PostgreSQL and Redis of :mod:`hello_testing`.
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hello import SERVICE_NAME
from hello.app import create_app
from hello.config import Settings
from hello.logs import configure_logging
from hello_testing import LogCapture, MakeClient


@pytest.fixture
def make_client() -> MakeClient:
    """Builds a client of the app for the given settings."""

    def make(settings: Settings) -> TestClient:
        return TestClient(create_app(settings))

    return make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """A client of the app with no dependency configured and version ``test-sha``."""
    return make_client(Settings(version="test-sha"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger (and uvicorn's) back as they were: the service reconfigures them."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uvicorn_saved = {name: logging.getLogger(name).propagate for name in ("uvicorn", "uvicorn.error")}
    # The test client logs each request it sends (logger httpx2); those lines are not the service's.
    client_logger = logging.getLogger("httpx2")
    client_level = client_logger.level
    client_logger.setLevel(logging.WARNING)
    yield
    client_logger.setLevel(client_level)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, propagate in uvicorn_saved.items():
        logging.getLogger(name).propagate = propagate
    logging.captureWarnings(False)


@pytest.fixture
def logs(restore_logging: None) -> LogCapture:
    """The service's JSON logging, configured as in production but into a buffer."""
    capture = LogCapture(io.StringIO())
    configure_logging(level="INFO", service=SERVICE_NAME, version="test-sha", stream=capture.stream)
    return capture


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections (in the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]
