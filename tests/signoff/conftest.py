"""Local counterparts of the sign-off's endpoints.

- a test CA and a server certificate for 127.0.0.1/localhost (``cryptography``), and HTTPS servers
  using it;
- ``pytest-httpserver`` answering as the Kubernetes API, GitHub's REST API and Grafana's HTTP API
  do (the shapes of their real answers);
- PostgreSQL and Redis on 127.0.0.1, each test in a database of its own (the tenancy tests'
  fixtures, imported here).
"""

from __future__ import annotations

import argparse
import importlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.commands.context import Context
from qualisys_infra.commands.signoff import add_commands
from tests.tenancy.conftest import app_url, database, initialised, redis_admin, unique  # noqa: F401 - fixtures
from tests.tls import Certificates, make_certificates

__all__ = ["app_url"]


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA of this test session and a certificate it signed for 127.0.0.1 and localhost."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(certificates: Certificates) -> Iterator[HTTPServer]:
    """An HTTPS server on 127.0.0.1 with the test CA's certificate."""
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=certificates.server_context())
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


HELLO_SRC = Path(__file__).resolve().parents[2] / "services" / "hello" / "src"


@pytest.fixture
def hello_https(certificates: Certificates) -> Iterator[str]:
    """The hello service itself (services/hello) served by uvicorn over HTTPS on 127.0.0.1, with the
    test CA's certificate: its base URL."""
    if str(HELLO_SRC) not in sys.path:
        sys.path.insert(0, str(HELLO_SRC))
    app = importlib.import_module("hello.app")
    config_module = importlib.import_module("hello.config")
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app.create_app(config_module.Settings(version="signoff-test")),
        ssl_certfile=str(certificates.cert),
        ssl_keyfile=str(certificates.key),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the hello service did not start")
        time.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def parse(*argv: str) -> argparse.Namespace:
    """``signoff ARGV`` parsed as the CLI does."""
    parser = argparse.ArgumentParser(prog="qualisys-infra")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(["signoff", *argv])
    args.project_dir = Path(__file__).resolve().parents[2]
    args.quiet = True
    return args


def context(environ: dict[str, str]) -> Context:
    """What the CLI hands signoff's run: this project, ``environ`` as the process environment, quiet."""
    return Context(project=Path(__file__).resolve().parents[2], environ=dict(environ), quiet=True)


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, environ: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """``signoff ARGV --json`` with ``environ``: the exit code and the parsed output."""
    from qualisys_infra.commands.signoff import run

    code = run(parse(*argv, "--json"), context(environ))
    out = capsys.readouterr().out
    return code, json.loads(out)


def smoke(report: dict[str, Any], number: int) -> dict[str, Any]:
    """The JSON of smoke test ``number`` in a report."""
    found: dict[str, Any] = next(s for s in report["smoke_tests"] if s["number"] == number)
    return found
