"""An exception no handler caught: logged with its traceback and correlation id, answered with a JSON 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hello.app import create_app
from hello.config import Settings
from hello_testing import LogCapture


class Boom(RuntimeError):
    pass


@pytest.fixture
def app() -> FastAPI:
    """The app with two extra routes that fail: before the response starts, and while it streams."""
    app = create_app(Settings())
    assert isinstance(app, FastAPI)  # one port: one FastAPI app

    async def fails() -> None:
        raise Boom("kaput")

    def chunks() -> Iterator[bytes]:
        yield b"first chunk"
        raise Boom("broken stream")

    async def fails_while_streaming() -> StreamingResponse:
        return StreamingResponse(chunks())

    app.add_api_route("/fails", fails)
    app.add_api_route("/fails-while-streaming", fails_while_streaming)
    return app


def test_unhandled_error_is_a_json_500_with_the_correlation_id(app: FastAPI, logs: LogCapture) -> None:
    response = TestClient(app).get("/fails", headers={"X-Correlation-ID": "err-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert response.headers["X-Correlation-ID"] == "err-1"
    assert "kaput" not in response.text
    error, access = logs.lines()
    assert error["logger"] == "hello.error"
    assert error["level"] == "ERROR"
    assert error["correlation_id"] == "err-1"
    assert "Boom: kaput" in error["exception"]
    assert (access["status"], access["level"], access["correlation_id"]) == (500, "ERROR", "err-1")


def test_unhandled_error_is_counted_as_a_500(app: FastAPI, logs: LogCapture) -> None:
    client = TestClient(app)
    client.get("/fails")
    families = text_string_to_metric_families(client.get("/metrics").text)
    counts = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for family in families
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total"
    }
    assert counts[("/fails", "500")] == 1


def test_error_after_the_response_started_is_logged_and_reraised(app: FastAPI, logs: LogCapture) -> None:
    with pytest.raises(Boom, match="broken stream"):
        TestClient(app).get("/fails-while-streaming", headers={"X-Correlation-ID": "err-2"})
    error, access = logs.lines()
    assert (error["logger"], error["correlation_id"]) == ("hello.error", "err-2")
    assert "broken stream" in error["exception"]
    # The status line had gone out as 200 when the stream broke.
    assert (access["status"], access["correlation_id"]) == (200, "err-2")
