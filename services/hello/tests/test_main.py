"""``python -m hello``: invalid settings exit 2; valid ones serve JSON-logged HTTP on PORT and INTERNAL_PORT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from hello.__main__ import GRACEFUL_SHUTDOWN_SECONDS, main

SERVICE_ROOT = Path(__file__).resolve().parents[1]


def test_invalid_settings_exit_2_with_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"PORT": "eighty", "DATABASE_URL": "mysql://u:hunter2@h/db"}) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: PORT must be an integer from 1 to 65535, got 'eighty'; DATABASE_URL")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    assert "hunter2" not in captured.err


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``uvicorn.Server.run`` was asked to serve (it is not run): its config and sockets."""
    calls: list[dict[str, Any]] = []

    def fake_run(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        calls.append({"config": server.config, "sockets": sockets})

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    return calls


def test_main_runs_uvicorn_with_the_settings(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    env = {"PORT": "3000", "HELLO_VERSION": "abc123", "DATABASE_URL": "postgresql://app:hunter2@db:5432/app"}
    assert main(env) == 0
    [call] = served
    config = call["config"]
    assert (config.host, config.port) == ("0.0.0.0", 3000)
    assert call["sockets"] is None  # uvicorn binds the one port itself
    assert config.log_config is None
    assert config.access_log is False
    assert config.server_header is False
    assert config.timeout_graceful_shutdown == GRACEFUL_SHUTDOWN_SECONDS
    [startup] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert startup["message"] == "starting hello abc123 on 0.0.0.0:3000"
    assert startup["dependencies"] == {"postgres": "postgresql://app:***@db:5432/app"}


def test_main_listens_on_both_ports_when_the_internal_port_is_set(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    public, internal = free_port(), free_port()
    assert main({"HOST": "127.0.0.1", "PORT": str(public), "INTERNAL_PORT": str(internal)}) == 0
    [call] = served
    try:
        assert [sock.getsockname() for sock in call["sockets"]] == [("127.0.0.1", public), ("127.0.0.1", internal)]
    finally:
        for sock in call["sockets"]:
            sock.close()
    messages = [json.loads(line)["message"] for line in capsys.readouterr().out.splitlines()]
    assert messages[0] == f"starting hello dev on 127.0.0.1:{public} (internal routes on port {internal})"
    assert f"Uvicorn running on http://127.0.0.1:{internal} (Press CTRL+C to quit)" in messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_python_m_hello_serves_both_ports_and_shuts_down_gracefully_on_sigterm() -> None:
    port, internal_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVICE_ROOT / "src"),
        "PORT": str(port),
        "INTERNAL_PORT": str(internal_port),
        "HOST": "127.0.0.1",
        "HELLO_VERSION": "e2e-sha",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "hello"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    public, internal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx2.get(f"{public}/health", timeout=1)
                break
            except httpx2.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the service did not answer within 20 s"
                time.sleep(0.1)
        greeting = httpx2.get(f"{public}/", headers={"X-Correlation-ID": "e2e-1"}, timeout=5)
        answers = {
            (where, path): httpx2.get(f"{base}{path}", timeout=5).status_code
            for where, base in (("public", public), ("internal", internal))
            for path in ("/", "/health", "/ready", "/metrics")
        }
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
    assert health.status_code == 200
    assert greeting.json()["version"] == "e2e-sha"
    assert "server" not in greeting.headers
    # real sockets: the public port serves users' routes only, the internal one probes and metrics
    assert answers == {
        ("public", "/"): 200,
        ("public", "/health"): 200,
        ("public", "/ready"): 404,
        ("public", "/metrics"): 404,
        ("internal", "/"): 404,
        ("internal", "/health"): 200,
        ("internal", "/ready"): 200,
        ("internal", "/metrics"): 200,
    }
    # uvicorn shuts down gracefully, then re-raises the signal: the process ends "killed by SIGTERM".
    assert process.returncode == -signal.SIGTERM, err
    assert err == ""
    lines = [json.loads(line) for line in out.splitlines()]  # every stdout line is one JSON object
    access = [line for line in lines if line["logger"] == "hello.access" and line["correlation_id"] == "e2e-1"]
    assert [(line["path"], line["status"]) for line in access] == [("/", 200)]
    messages = [line["message"] for line in lines]
    for listening in (port, internal_port):
        assert f"Uvicorn running on http://127.0.0.1:{listening} (Press CTRL+C to quit)" in messages
    assert messages[-2:] == ["Application shutdown complete.", f"Finished server process [{process.pid}]"]
