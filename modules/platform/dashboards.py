"""Grafana dashboards for the cluster, the application and the database, as data.

Every metric a panel reads has a producer the platform runs (:mod:`modules.platform.metrics_contract`
says which): kube-state-metrics and cAdvisor (cluster), the services' own ``/metrics`` and fluent-bit's
counters of log lines (application), the PostgreSQL and Redis exporters (database).
``tests/observability`` checks every name against what the producers really export, and evaluates
every panel's query in a real Prometheus that scrapes them. Their uids (``<project>-cluster``) and
titles (``QUALISYS / Cluster``) follow the project's name.
"""

from __future__ import annotations

from typing import Any

from modules.platform.log_pipeline import ERROR_LINES

_REQUESTS_BY_SERVICE = "sum by (service) (rate(http_requests_total[5m]))"
# No 5xx at all is a ratio of 0, not an empty panel.
_5XX_BY_SERVICE = 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))'


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


def dashboard_uid(project: str, dashboard: str) -> str:
    """The uid of one of :func:`dashboards` (``cluster``, ``application``, ``database``): ``<project>-<dashboard>``."""
    return f"{project}-{dashboard}"


def dashboards(project: str) -> dict[str, dict[str, Any]]:
    """The dashboards by name, each with its uid (:func:`dashboard_uid`) and a title under the project's
    name in capitals (``QUALISYS / Cluster``)."""
    title = project.upper()
    return {
        "cluster": _dashboard(
            dashboard_uid(project, "cluster"),
            f"{title} / Cluster",
            [
                (
                    "CPU by namespace",
                    'sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))',
                    "cores",
                ),
                (
                    "Memory by namespace",
                    'sum by (namespace) (container_memory_working_set_bytes{container!=""})',
                    "bytes",
                ),
                (
                    "Pod restarts (1h)",
                    "sum by (namespace) (increase(kube_pod_container_status_restarts_total[1h]))",
                    "short",
                ),
                ("Nodes ready", 'sum(kube_node_status_condition{condition="Ready", status="true"})', "short"),
            ],
        ),
        "application": _dashboard(
            dashboard_uid(project, "application"),
            f"{title} / Application",
            [
                ("Requests per second", "sum by (service) (rate(http_requests_total[5m]))", "reqps"),
                (
                    "5xx ratio",
                    f"({_5XX_BY_SERVICE} or {_REQUESTS_BY_SERVICE} * 0) / {_REQUESTS_BY_SERVICE}",
                    "percentunit",
                ),
                (
                    "p95 latency",
                    "histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
                    "s",
                ),
                (
                    "Error log lines per minute",
                    f"sum by (namespace_name, service) (rate({ERROR_LINES.metric(project)}[5m])) * 60",
                    "short",
                ),
            ],
        ),
        "database": _dashboard(
            dashboard_uid(project, "database"),
            f"{title} / Database",
            [
                (
                    "PostgreSQL connections in use (of max_connections)",
                    "sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections)",
                    "percentunit",
                ),
                ("PostgreSQL connections by state", "sum by (state) (pg_stat_activity_count)", "short"),
                (
                    "PostgreSQL transactions per second",
                    "sum by (datname) (rate(pg_stat_database_xact_commit[5m]) + rate(pg_stat_database_xact_rollback[5m]))",
                    "ops",
                ),
                ("PostgreSQL longest transaction", "max by (datname) (pg_stat_activity_max_tx_duration)", "s"),
                (
                    "PostgreSQL buffer cache hit ratio",
                    "sum(rate(pg_stat_database_blks_hit[5m])) / (sum(rate(pg_stat_database_blks_hit[5m])) + sum(rate(pg_stat_database_blks_read[5m])))",
                    "percentunit",
                ),
                ("PostgreSQL deadlocks (1h)", "sum by (datname) (increase(pg_stat_database_deadlocks[1h]))", "short"),
                (
                    "Redis cache hit ratio",
                    "sum(rate(redis_keyspace_hits_total[5m])) / (sum(rate(redis_keyspace_hits_total[5m])) + sum(rate(redis_keyspace_misses_total[5m])))",
                    "percentunit",
                ),
                ("Redis memory used", "sum by (instance) (redis_memory_used_bytes)", "bytes"),
                ("Redis evictions per second", "sum by (instance) (rate(redis_evicted_keys_total[5m]))", "ops"),
                ("Redis connected clients", "sum by (instance) (redis_connected_clients)", "short"),
            ],
        ),
    }
