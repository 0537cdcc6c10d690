"""The real producers of the platform's metrics, run on 127.0.0.1 for the session:

- Debian's ``prometheus-postgres-exporter`` against the local PostgreSQL, signed in as a monitoring
  login made by :func:`~qualisys_infra.core.monitoring_access.monitor_role_statements` (``pg_monitor``
  and nothing else) in a database of its own whose table it cannot read;
- Debian's ``prometheus-redis-exporter`` against the local Redis, as an ACL user with exactly
  :data:`~qualisys_infra.core.monitoring_access.REDIS_EXPORTER_RULES`;
- the hello service (``python -m hello`` from services/hello), its metrics on its internal port.

Each gets a free port, a fresh login and is stopped (its login dropped) at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from qualisys_infra.core.monitoring_access import monitor_role_statements, redis_exporter_acl
from tests.conftest import ROOT

POSTGRES = os.environ.get("QUALISYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("QUALISYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HELLO = ROOT / "services" / "hello"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own servers on 127.0.0.1
        return str(response.read().decode("utf-8"))


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(f"{what} exited with {process.returncode}: {output[-2000:]}")
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up in {seconds} s")


def answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            http_get(url, timeout=1)
        except OSError:
            return False
        return True

    return check


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Producer:
    """A running producer: where Prometheus scrapes it, and the process."""

    name: str
    host_port: str
    path: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host_port}{self.path}"

    def scrape(self) -> str:
        return http_get(self.url)


def start(name: str, command: list[str], env: dict[str, str], port: int, path: str) -> Producer:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    producer = Producer(name, f"127.0.0.1:{port}", path, process)
    wait_until(answers(producer.url), name, process)
    return producer


@dataclass(frozen=True)
class MonitoredDatabase:
    """A database of its own with one tenant table, and the monitoring login's name and password."""

    name: str
    user: str
    password: str
    admin_url: str

    def url(self, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:5432/{self.name}?sslmode=disable"


@pytest.fixture(scope="session")
def monitored_database() -> Iterator[MonitoredDatabase]:
    suffix = secrets.token_hex(4)
    name, user, password = f"qualisys_obs_{suffix}", f"qualisys_monitor_{suffix}", secrets.token_urlsafe(18)
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
        for statement in monitor_role_statements(database=name, password=password, user=user):
            admin.execute(statement)
    admin_url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute("CREATE SCHEMA tenant_acme")
        db.execute("CREATE TABLE tenant_acme.customers (id int PRIMARY KEY, email text)")
        db.execute("INSERT INTO tenant_acme.customers VALUES (1, 'jane@example.com')")
    try:
        yield MonitoredDatabase(name, user, password, admin_url)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s OR usename = %s",
                (name, user),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


@pytest.fixture(scope="session")
def postgres_exporter(monitored_database: MonitoredDatabase) -> Iterator[Producer]:
    db = monitored_database
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATA_SOURCE_NAME": db.url(db.user, db.password),
    }
    producer = start(
        "prometheus-postgres-exporter",
        ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        env,
        port,
        "/metrics",
    )
    try:
        yield producer
    finally:
        stop(producer.process)


@dataclass(frozen=True)
class RedisUser:
    name: str
    password: str


@pytest.fixture(scope="session")
def redis_exporter_user() -> Iterator[RedisUser]:
    user = RedisUser(f"qualisys_metrics_{secrets.token_hex(4)}", secrets.token_urlsafe(18))
    client = redis.Redis.from_url(REDIS_URL)
    client.execute_command("ACL", "SETUSER", *redis_exporter_acl(user.name, user.password))  # type: ignore[no-untyped-call]
    try:
        yield user
    finally:
        client.execute_command("ACL", "DELUSER", user.name)  # type: ignore[no-untyped-call]
        client.close()


@pytest.fixture(scope="session")
def redis_exporter(redis_exporter_user: RedisUser) -> Iterator[Producer]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "REDIS_ADDR": REDIS_URL.rsplit("/", 1)[0],
        "REDIS_USER": redis_exporter_user.name,
        "REDIS_PASSWORD": redis_exporter_user.password,
    }
    producer = start(
        "prometheus-redis-exporter",
        ["prometheus-redis-exporter", "-web.listen-address", f"127.0.0.1:{port}"],
        env,
        port,
        "/metrics",
    )
    try:
        yield producer
    finally:
        stop(producer.process)


@dataclass(frozen=True)
class Hello:
    producer: Producer
    public_url: str
    log: Path


@pytest.fixture(scope="session")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hello]:
    """``python -m hello`` as the apps stack runs it: users' routes on PORT, metrics on INTERNAL_PORT."""
    port, internal = free_port(), free_port()
    log = tmp_path_factory.mktemp("hello") / "hello.log"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(HELLO / "src"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "INTERNAL_PORT": str(internal),
        "DATABASE_URL": POSTGRES,
        "REDIS_URL": REDIS_URL,
        "HELLO_VERSION": "observability-test",
    }
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "hello"], cwd=HELLO, env=env, stdout=out, stderr=out)
    producer = Producer("hello", f"127.0.0.1:{internal}", "/metrics", process)
    try:
        wait_until(answers(producer.url), "hello (python -m hello)", process)
        public = f"http://127.0.0.1:{port}"
        for path in ("/", "/health", "/no-such-route"):
            with contextlib.suppress(OSError):  # the 404 is the point: it is counted too
                http_get(public + path)
        yield Hello(producer, public, log)
    finally:
        stop(process)
