"""A real Prometheus (Debian's) on 127.0.0.1 scrapes the real producers and evaluates every dashboard
query and every alert rule the platform ships.

Scraped for real: the PostgreSQL and Redis exporters (as their least-privileged identities) and hello.
Two producers cannot run here, kube-state-metrics with cAdvisor (they need a Kubernetes API server)
and fluent-bit (not packaged for this machine); a small HTTP stand-in serves their series, one for
every name :data:`~modules.platform.metrics_contract.CLUSTER_METRICS` and the generated fluent-bit
configuration define, with the labels those producers set, so that their panels are evaluated too.
The ``service``/``namespace``/``pod`` labels of hello's series are added by the scrape, as the
service's monitor adds them in the cluster.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from modules.platform.log_pipeline import log_metric_names
from modules.platform.metrics_contract import CLUSTER_METRICS
from tests.observability.conftest import (
    REDIS_URL,
    Hello,
    Producer,
    free_port,
    http_get,
    stop,
    wait_until,
)
from tests.observability.promql import project, rendered_dashboards, rendered_rule_groups

PROMETHEUS = shutil.which("prometheus")
POD = {"namespace": "staging", "pod": "hello-7d9f-abcde", "container": "hello"}
# The labels each stand-in series carries (kube-state-metrics', cAdvisor's and fluent-bit's own).
STAND_IN_LABELS = {
    "kube_pod_container_status_restarts_total": POD,
    "kube_pod_container_resource_limits": {**POD, "resource": "cpu", "unit": "core"},
    "kube_node_status_condition": {"node": "ip-10-0-1-10", "condition": "Ready", "status": "true"},
    "container_cpu_usage_seconds_total": POD,
    "container_memory_working_set_bytes": POD,
}
FLUENT_BIT_LABELS = {
    "namespace_name": "staging",
    "pod_name": "hello-7d9f-abcde",
    "container_name": "hello",
    "docker_id": "0123abcd",
    "pod_id": "5f1e",
    "service": "hello",
}


def stand_in_exposition() -> str:
    """Every documented cluster metric and every generated log counter, each one series of value 1
    (counters that do not move: rates of 0, nothing that fires)."""
    lines = []
    for name in sorted([*CLUSTER_METRICS, *log_metric_names(project())]):
        labels = STAND_IN_LABELS.get(name, FLUENT_BIT_LABELS)
        text = ",".join(f'{key}="{value}"' for key, value in labels.items())
        lines.append(f"{name}{{{text}}} 1")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=free_port())

    def handler(_: Request) -> Response:
        return Response(stand_in_exposition(), content_type="text/plain; version=0.0.4")

    server.expect_request("/metrics").respond_with_handler(handler)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def _job(name: str, target: str, path: str = "/metrics", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "job_name": name,
        "metrics_path": path,
        "static_configs": [{"targets": [target], "labels": labels or {}}],
    }


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = json.loads(http_get(f"{self.url}/api/v1/{path}{query}"))
        assert body["status"] == "success", body
        return body["data"]


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_exporter: Producer,
    redis_exporter: Producer,
    hello: Hello,
    stand_in: HTTPServer,
) -> Iterator[Prometheus]:
    assert PROMETHEUS, "prometheus is not installed: make observability-tools"
    home = tmp_path_factory.mktemp("prometheus")
    rules = home / "qualisys.rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rendered_rule_groups()}), encoding="utf-8")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            _job("postgres-exporter", postgres_exporter.host_port),
            _job("redis-exporter", redis_exporter.host_port),
            _job(
                "hello",
                hello.producer.host_port,
                labels={"service": "hello", "namespace": "staging", "pod": "hello-local"},
            ),
            _job("kubernetes-and-fluent-bit-stand-in", f"127.0.0.1:{stand_in.port}"),
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    server = Prometheus(f"http://127.0.0.1:{port}")
    traffic = _Traffic(hello.public_url)
    try:
        wait_until(lambda: _ready(server), "prometheus", process)
        traffic.start()
        wait_until(lambda: _scraped(server, len(config["scrape_configs"])), "four scrapes of every target", process, 60)
        yield server
    finally:
        traffic.stop()
        stop(process)
        log.close()


def _ready(server: Prometheus) -> bool:
    try:
        http_get(f"{server.url}/-/ready", timeout=1)
    except OSError:
        return False
    return True


def _scraped(server: Prometheus, jobs: int) -> bool:
    """Every target up, with four samples in the last minute (enough for every rate)."""
    up = server.api("query", query="count_over_time(up[1m]) >= 4 and up == 1")["result"]
    return len(up) == jobs


class _Traffic:
    """A few requests a second to hello and to Redis while Prometheus scrapes, so rates are not empty."""

    def __init__(self, hello_url: str) -> None:
        self.hello_url = hello_url
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for i in range(600):  # bounded: at most a minute
                if self.done.wait(0.1):
                    break
                with contextlib.suppress(OSError):
                    http_get(self.hello_url + ("/" if i % 5 else "/missing"), timeout=2)
                client.set("qualisys_observability_probe", i, ex=60)
                client.get("qualisys_observability_probe")
                client.get("qualisys_observability_absent")
        finally:
            client.delete("qualisys_observability_probe")
            client.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


def test_stand_in_serves_exactly_the_producers_that_cannot_run_here() -> None:
    served = {line.split("{", 1)[0] for line in stand_in_exposition().splitlines()}
    assert served == set(CLUSTER_METRICS) | set(log_metric_names(project()))
    assert set(STAND_IN_LABELS) == set(CLUSTER_METRICS)


PANELS = [
    (dashboard, panel["title"], target["expr"])
    for dashboard, body in rendered_dashboards().items()
    for panel in body["panels"]
    for target in panel["targets"]
]


@pytest.mark.parametrize(("dashboard", "title", "expr"), PANELS, ids=[f"{d}: {t}" for d, t, _ in PANELS])
def test_every_dashboard_query_runs_with_data(prometheus: Prometheus, dashboard: str, title: str, expr: str) -> None:
    data = prometheus.api("query", query=expr)
    assert data["resultType"] == "vector", f"{dashboard} / {title}"
    assert data["result"], f"{dashboard} / {title}: no data for {expr}"


def test_every_alert_rule_evaluates_without_error(prometheus: Prometheus) -> None:
    deadline = time.monotonic() + 10
    while True:
        rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
        if all(rule.get("lastEvaluation", "").startswith("2") for rule in rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expected = {rule["alert"] for group in rendered_rule_groups() for rule in group["rules"]}
    assert {rule["name"] for rule in rules} == expected
    assert [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"] == []


def test_nothing_the_platform_runs_fires_on_a_quiet_machine(prometheus: Prometheus) -> None:
    """The producers here are healthy: no alert of the platform fires (DatabaseDown, CacheDown, ...)."""
    assert prometheus.api("alerts")["alerts"] == []
