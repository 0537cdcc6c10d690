"""The service's endpoints: greeting, liveness, what is not served."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hello.config import Settings
from hello_testing import MakeClient


def test_greeting_names_the_service_and_its_version(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"service": "hello", "version": "test-sha", "message": "hello from QUALISYS"}


def test_greeting_reports_the_default_version_dev(make_client: MakeClient) -> None:
    assert make_client(Settings()).get("/").json()["version"] == "dev"


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_does_not_touch_dependencies_even_when_they_are_down(make_client: MakeClient, closed_port: int) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/postgres",
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
    )
    client = make_client(settings)
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 503


def test_unknown_path_is_404(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404


def test_api_docs_and_openapi_schema_are_not_served(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path


def test_wrong_method_is_405(client: TestClient) -> None:
    assert client.post("/health").status_code == 405


def test_lifespan_events_pass_through_the_middleware(client: TestClient) -> None:
    with client:  # entering the client runs the app's startup and, on leaving, its shutdown
        assert client.get("/health").status_code == 200
