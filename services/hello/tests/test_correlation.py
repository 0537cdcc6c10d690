"""Correlation ids (story 0.20 AC3): taken from the request when sane, else generated; returned; in every log line."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx2
import pytest
from fastapi.testclient import TestClient

from hello.app import create_app
from hello.config import Settings
from hello_testing import LogCapture, MakeClient


@pytest.mark.parametrize(
    "given",
    [
        "3f2b8c1e-7d4a-4f0e-9b6a-2c1d0e9f8a7b",
        "req-42",
        "Root=1-5759e988-bd862e3fe1be46a994272793".replace("=", ":"),
        "a" * 128,
        "x",
    ],
)
def test_a_sane_correlation_id_is_kept_and_returned(client: TestClient, given: str) -> None:
    response = client.get("/health", headers={"X-Correlation-ID": given})
    assert response.headers["X-Correlation-ID"] == given


@pytest.mark.parametrize(
    "given",
    [
        "",
        "a" * 129,
        "has space",
        'quote"injection',
        "line\tbreak",
        "semi;colon",
        "ünïcode",
        "{json}",
    ],
)
def test_an_insane_correlation_id_is_replaced_by_a_new_uuid4(client: TestClient, logs: LogCapture, given: str) -> None:
    response = client.get("/health", headers={b"X-Correlation-ID": given.encode("utf-8")})
    returned = response.headers["X-Correlation-ID"]
    assert returned != given
    assert uuid.UUID(returned).version == 4
    assert [line["correlation_id"] for line in logs.lines()] == [returned]


def test_a_correlation_id_is_generated_when_none_is_given(client: TestClient) -> None:
    first = client.get("/").headers["X-Correlation-ID"]
    second = client.get("/").headers["X-Correlation-ID"]
    assert uuid.UUID(first).version == 4
    assert uuid.UUID(second).version == 4
    assert first != second


def test_only_the_first_of_two_correlation_headers_counts(client: TestClient) -> None:
    response = client.get("/health", headers=[("X-Correlation-ID", "first-id"), ("X-Correlation-ID", "second-id")])
    assert response.headers.get_list("X-Correlation-ID") == ["first-id"]


def test_every_line_logged_while_handling_a_request_carries_its_correlation_id(
    make_client: MakeClient, logs: LogCapture, closed_port: int
) -> None:
    # A failing readiness check logs from the endpoint (hello.app) as well as the access line (hello.access).
    client = make_client(Settings(redis_url=f"redis://127.0.0.1:{closed_port}/0"))
    logs.clear()
    client.get("/ready", headers={"X-Correlation-ID": "trace-me-123"})
    lines = logs.lines()
    assert {line["logger"] for line in lines} >= {"hello.app", "hello.access"}
    assert all(line["correlation_id"] == "trace-me-123" for line in lines), lines


def test_access_line_has_the_fields_of_the_log_schema(client: TestClient, logs: LogCapture) -> None:
    client.get("/health?token=secret-in-query", headers={"X-Correlation-ID": "abc-1"})
    [line] = logs.lines()
    assert set(line) >= {
        "time",
        "level",
        "message",
        "logger",
        "correlation_id",
        "method",
        "path",
        "status",
        "duration_ms",
    }
    assert line["level"] == "INFO"
    assert line["logger"] == "hello.access"
    assert line["message"] == "GET /health 200"
    assert (line["method"], line["path"], line["status"], line["correlation_id"]) == ("GET", "/health", 200, "abc-1")
    assert isinstance(line["duration_ms"], float)
    assert "secret-in-query" not in logs.stream.getvalue()


def test_lines_outside_a_request_have_no_correlation_id(client: TestClient, logs: LogCapture) -> None:
    client.get("/health", headers={"X-Correlation-ID": "inside"})
    logging.getLogger("hello.test").info("after the request")
    assert [line["correlation_id"] for line in logs.lines()] == ["inside", None]


def test_concurrent_requests_keep_their_own_correlation_ids(logs: LogCapture, closed_port: int) -> None:
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/postgres"))

    async def many() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://hello") as client:
            return list(
                await asyncio.gather(
                    *(client.get("/ready", headers={"X-Correlation-ID": f"req-{n}"}) for n in range(8))
                )
            )

    responses = asyncio.run(many())
    assert [response.headers["X-Correlation-ID"] for response in responses] == [f"req-{n}" for n in range(8)]
    by_id: dict[str, list[str]] = {}
    for line in logs.lines():
        by_id.setdefault(line["correlation_id"], []).append(line["logger"])
    assert by_id == {f"req-{n}": ["hello.app", "hello.access"] for n in range(8)}
