"""The log lines a real service writes, read as the log pipeline reads them.

A hello whose Redis is unreachable answers ``/ready`` with 503; each such request writes an access
line at level ERROR with status 503. The log counters' patterns (fluent-bit's ``log_to_metrics``
regexes, the same in Python's ``re`` for these simple classes and groups) count exactly: every request
an access line, every 503 a server-error line and an error line. Every line carries the fields the
spec names (story 0.20 AC3): ``time``, ``level``, ``message``, ``correlation_id``, ``trace_id`` and
``tenant_id`` (null where a request has no tenant).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from modules.platform.log_pipeline import ACCESS_LINES, ERROR_LINES, SERVER_ERROR_LINES, LogMetric
from tests.observability.conftest import HELLO, POSTGRES, answers, free_port, stop, wait_until

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
FAILING, SUCCEEDING = 7, 5


def request(url: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - our own server on 127.0.0.1
    try:
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def hello_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The raw lines of a hello with an unreachable Redis, after FAILING /ready and SUCCEEDING / requests."""
    port = free_port()
    log = tmp_path_factory.mktemp("hello-log") / "stdout.log"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(HELLO / "src"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": POSTGRES,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "READINESS_TIMEOUT_SECONDS": "1",
    }
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "hello"], cwd=HELLO, env=env, stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(answers(f"{url}/health"), "hello", process)
        statuses = [request(f"{url}/ready", {"traceparent": TRACEPARENT}) for _ in range(FAILING)]
        statuses += [request(f"{url}/") for _ in range(SUCCEEDING)]
        assert statuses == [503] * FAILING + [200] * SUCCEEDING
        time.sleep(0.2)
    finally:
        stop(process)
    yield log.read_text(encoding="utf-8").splitlines()


def _count(metric: LogMetric, lines: list[str]) -> int:
    return sum(1 for line in lines if re.search(metric.line_regex, line))


def _access_lines(lines: list[str]) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    return [entry for entry in parsed if "status" in entry]


def test_log_counters_count_what_the_service_logged(hello_log: list[str]) -> None:
    assert _count(ACCESS_LINES, hello_log) == FAILING + SUCCEEDING + 1  # and the /health probe
    assert _count(SERVER_ERROR_LINES, hello_log) == FAILING
    assert _count(ERROR_LINES, hello_log) == FAILING


def test_every_line_carries_the_fields_the_spec_names(hello_log: list[str]) -> None:
    entries = [json.loads(line) for line in hello_log if line.startswith("{")]
    assert entries, hello_log
    for entry in entries:
        assert {"time", "level", "message", "correlation_id", "trace_id", "tenant_id"} <= set(entry), entry


def test_requests_log_the_trace_id_they_came_with_beside_a_correlation_id(hello_log: list[str]) -> None:
    failing = [entry for entry in _access_lines(hello_log) if entry["status"] == 503]
    assert len(failing) == FAILING
    for entry in failing:
        assert entry["trace_id"] == TRACEPARENT.split("-")[1]
        assert entry["correlation_id"]
        assert entry["tenant_id"] is None, "hello's requests belong to no tenant"
    others = [entry for entry in _access_lines(hello_log) if entry["status"] == 200]
    ids = {entry["trace_id"] for entry in others}
    assert len(ids) == len(others) and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), "a new one per request"
