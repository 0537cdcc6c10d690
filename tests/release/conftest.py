"""Fixtures: an HTTP server on 127.0.0.1 acting as the Kubernetes API, and one over TLS with its own CA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.tls import make_certificates


@pytest.fixture(scope="module")
def _api_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_server(_api_server: HTTPServer) -> Iterator[HTTPServer]:
    """A plain-HTTP server on 127.0.0.1 with no expectations left over from another test."""
    _api_server.clear()
    yield _api_server
    _api_server.clear()


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    server: HTTPServer


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    """An HTTPS server on 127.0.0.1 whose certificate a fresh CA (``ca_file``) signed, like an EKS endpoint."""
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    context = certificates.server_context()
    ca_file = certificates.ca
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield Tls(ca_file=ca_file, server=server)
    server.stop()


@pytest.fixture
def no_server_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-httpserver's server (werkzeug's) signs every answer ``Server: Werkzeug/X Python/Y``,
    which the smoke suite rightly refuses; a real service behind the ALB sends none. Here it says
    ``fake-service`` instead, so a test sees only the headers the fake service itself sends."""
    from werkzeug.serving import WSGIRequestHandler

    monkeypatch.setattr(WSGIRequestHandler, "version_string", lambda _self: "fake-service")
