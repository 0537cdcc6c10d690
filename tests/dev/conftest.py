"""The local platform's pieces run natively, with compose.yaml's settings: a PostgreSQL database per
test on 127.0.0.1, Redis started by dev/redis/start.sh (the ACL file compose uses: the default user
off, app_user, qualisys_admin) on a free port, and the hello service (python -m hello) on a free
port with DATABASE_URL and REDIS_URL as app_user, as compose starts it.
"""

from __future__ import annotations

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

import pytest

from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.databases import fresh_database

ROOT = PROJECT_ROOT
POSTGRES = os.environ.get("QUALISYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_REDIS = ROOT / "dev" / "redis" / "start.sh"
HELLO = ROOT / "services" / "hello"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up in {seconds} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def database() -> Iterator[str]:
    """The admin URL of a fresh, empty database (compose's POSTGRES_DB), dropped afterwards (in the
    background: tests/databases.py)."""
    with fresh_database(POSTGRES) as url:
        yield url


@dataclass
class RedisServer:
    port: int
    app_password: str
    admin_password: str
    process: subprocess.Popen[bytes]
    acl_file: Path

    @property
    def admin_url(self) -> str:
        return f"redis://qualisys_admin:{self.admin_password}@127.0.0.1:{self.port}/0"

    @property
    def app_url(self) -> str:
        return f"redis://app_user:{self.app_password}@127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        _stop(self.process)


def start_redis(tmp_path: Path, app_password: str, admin_password: str) -> tuple[subprocess.Popen[bytes], int]:
    """dev/redis/start.sh as compose runs it (plus a port and no daemon), its ACL file in tmp_path."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "REDIS_APP_PASSWORD": app_password,
        "REDIS_ADMIN_PASSWORD": admin_password,
        "REDIS_ACL_FILE": str(tmp_path / "users.acl"),
    }
    return subprocess.Popen(
        ["sh", str(START_REDIS), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ), port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    app_password, admin_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    process, port = start_redis(tmp_path, app_password, admin_password)
    server = RedisServer(port, app_password, admin_password, process, tmp_path / "users.acl")

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        _wait(answers, "redis-server (dev/redis/start.sh)", process)
        yield server
    finally:
        server.stop()


@dataclass
class Hello:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        _stop(self.process)


def start_hello(database_url: str, redis_url: str) -> Hello:
    """python -m hello from services/hello, as compose runs it: PORT, DATABASE_URL, REDIS_URL."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(HELLO / "src"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hello"], cwd=HELLO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310 - our own server
                return bool(response.status == 200)
        except OSError:
            return False

    _wait(answers, "hello (python -m hello)", process)
    return Hello(url, process)
