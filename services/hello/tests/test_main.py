"""``python -m hello``: invalid settings exit 2; valid ones serve JSON-logged HTTP on PORT until SIGTERM."""

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


def test_main_runs_uvicorn_with_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run(app: object, **options: Any) -> None:
        calls.append({"app": app, **options})

    monkeypatch.setattr("uvicorn.run", fake_run)
    env = {"PORT": "3000", "HELLO_VERSION": "abc123", "DATABASE_URL": "postgresql://app:hunter2@db:5432/app"}
    assert main(env) == 0
    [call] = calls
    assert (call["host"], call["port"]) == ("0.0.0.0", 3000)
    assert call["log_config"] is None
    assert call["access_log"] is False
    assert call["server_header"] is False
    assert call["timeout_graceful_shutdown"] == GRACEFUL_SHUTDOWN_SECONDS
    [startup] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert startup["message"] == "starting hello abc123 on 0.0.0.0:3000"
    assert startup["dependencies"] == {"postgres": "postgresql://app:***@db:5432/app"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_python_m_hello_serves_on_port_and_shuts_down_gracefully_on_sigterm() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVICE_ROOT / "src"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "HELLO_VERSION": "e2e-sha",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "hello"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx2.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the service did not answer within 20 s"
                time.sleep(0.1)
        greeting = httpx2.get(f"http://127.0.0.1:{port}/", headers={"X-Correlation-ID": "e2e-1"}, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
    assert health.status_code == 200
    assert greeting.json()["version"] == "e2e-sha"
    assert "server" not in greeting.headers
    # uvicorn shuts down gracefully, then re-raises the signal: the process ends "killed by SIGTERM".
    assert process.returncode == -signal.SIGTERM, err
    assert err == ""
    lines = [json.loads(line) for line in out.splitlines()]  # every stdout line is one JSON object
    access = [line for line in lines if line["logger"] == "hello.access" and line["correlation_id"] == "e2e-1"]
    assert [(line["path"], line["status"]) for line in access] == [("/", 200)]
    messages = [line["message"] for line in lines]
    assert f"Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)" in messages
    assert messages[-2:] == ["Application shutdown complete.", f"Finished server process [{process.pid}]"]
