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
import datetime
import importlib
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from qualisys_infra.app.cli_signoff import add_commands
from tests.tenancy.conftest import app_url, database, initialised, redis_admin, unique  # noqa: F401 - fixtures

__all__ = ["app_url"]


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the test CA's certificate: what --ca-file trusts
    cert: Path  # the server's chain (leaf, then CA)
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA of this test session and a certificate it signed for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("qualisys signoff test CA"))
        .issuer_name(_name("qualisys signoff test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "server-key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificates(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")


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


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, environ: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """``signoff ARGV --json`` with ``environ``: the exit code and the parsed output."""
    from qualisys_infra.app.cli_signoff import run

    code = run(parse(*argv, "--json"), environ)
    out = capsys.readouterr().out
    return code, json.loads(out)


def smoke(report: dict[str, Any], number: int) -> dict[str, Any]:
    """The JSON of smoke test ``number`` in a report."""
    found: dict[str, Any] = next(s for s in report["smoke_tests"] if s["number"] == number)
    return found
