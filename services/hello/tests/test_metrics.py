"""Prometheus metrics at /metrics: request counts by method, route template and status, and latency."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from hello.config import Settings
from hello_testing import MakeClient


def samples(client: TestClient) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(all_samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in all_samples:
        if sample.name == name and sample.labels == labels:
            return sample.value
    return None


def test_metrics_content_type_is_the_prometheus_text_format(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")


def test_requests_are_counted_by_method_route_template_and_status(client: TestClient) -> None:
    client.get("/")
    client.get("/")
    client.get("/health")
    client.get("/nope/123")
    client.post("/health")
    client.request("PURGE", "/")
    found = samples(client)
    assert value(found, "http_requests_total", method="GET", route="/", status="200") == 2
    assert value(found, "http_requests_total", method="GET", route="/health", status="200") == 1
    assert value(found, "http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert value(found, "http_requests_total", method="POST", route="/health", status="405") == 1
    assert value(found, "http_requests_total", method="OTHER", route="/", status="405") == 1
    # The raw path of an unmatched request never becomes a label value.
    assert not any("/nope/123" in sample.labels.values() for sample in found)


def test_latency_histogram_per_method_and_route(client: TestClient) -> None:
    client.get("/health")
    client.get("/health")
    found = samples(client)
    assert value(found, "http_request_duration_seconds_count", method="GET", route="/health") == 2
    total = value(found, "http_request_duration_seconds_sum", method="GET", route="/health")
    assert total is not None and total > 0
    infinity_bucket = value(found, "http_request_duration_seconds_bucket", method="GET", route="/health", le="+Inf")
    assert infinity_bucket == 2


def test_process_metrics_are_exported(client: TestClient) -> None:
    names = {sample.name for sample in samples(client)}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total", "python_info"} <= names


def test_each_app_counts_from_zero(client: TestClient, make_client: MakeClient) -> None:
    client.get("/")
    fresh = make_client(Settings())
    assert value(samples(fresh), "http_requests_total", method="GET", route="/", status="200") is None
