"""Grafana dashboards for the cluster, the application and the database, as data."""

from __future__ import annotations

from typing import Any


def _panel(i: int, title: str, expr: str, unit: str) -> dict[str, Any]:
    return {
        "id": i,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "fieldConfig": {"defaults": {"unit": unit}},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
        "targets": [{"expr": expr, "refId": "A"}],
    }


def _dashboard(uid: str, title: str, panels: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel(i, *p) for i, p in enumerate(panels)],
    }


DASHBOARDS: dict[str, dict[str, Any]] = {
    "cluster": _dashboard(
        "qualisys-cluster",
        "QUALISYS / Cluster",
        [
            (
                "CPU by namespace",
                'sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))',
                "cores",
            ),
            ("Memory by namespace", 'sum by (namespace) (container_memory_working_set_bytes{container!=""})', "bytes"),
            (
                "Pod restarts (1h)",
                "sum by (namespace) (increase(kube_pod_container_status_restarts_total[1h]))",
                "short",
            ),
            ("Nodes ready", 'sum(kube_node_status_condition{condition="Ready", status="true"})', "short"),
        ],
    ),
    "application": _dashboard(
        "qualisys-application",
        "QUALISYS / Application",
        [
            ("Requests per second", "sum by (service) (rate(http_requests_total[5m]))", "reqps"),
            (
                "5xx ratio",
                'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
                "percentunit",
            ),
            (
                "p95 latency",
                "histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
                "s",
            ),
            ("Error log lines per second", 'sum by (namespace) (rate(log_messages_total{level="error"}[5m]))', "short"),
        ],
    ),
    "database": _dashboard(
        "qualisys-database",
        "QUALISYS / Database",
        [
            (
                "Connection pool use",
                "max by (service) (db_pool_connections_in_use / db_pool_connections_max)",
                "percentunit",
            ),
            ("Connections in use", "sum by (service) (db_pool_connections_in_use)", "short"),
            ("Query p95", "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket[5m])))", "s"),
            ("Cache hit ratio", "sum(rate(cache_hits_total[5m])) / sum(rate(cache_requests_total[5m]))", "percentunit"),
        ],
    ),
}
