"""Alert rules of stories 0.19 AC4 and 0.20 AC6, as data: rendered into Prometheus rules and
parsed with a real PromQL parser in the tests.

Application metrics follow the names the API exports (``http_requests_total``,
``http_request_duration_seconds``, ``db_pool_connections_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

RUNBOOK_BASE = "https://runbooks.qualisys.dev/alerts"


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOK_BASE}/{self.name.lower()}"


ALERT_RULES = (
    AlertRule(
        "PodCrashLooping",
        'increase(kube_pod_container_status_restarts_total{namespace!~"kube-system"}[15m]) > 3',
        "5m",
        "critical",
        "Pod {{ $labels.namespace }}/{{ $labels.pod }} restarted more than 3 times in 15 minutes",
    ),
    AlertRule(
        "ContainerCpuHigh",
        'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))'
        ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="cpu"}) > 0.8',
        "10m",
        "warning",
        "Pod {{ $labels.namespace }}/{{ $labels.pod }} uses over 80% of its CPU limit",
    ),
    AlertRule(
        "ContainerMemoryHigh",
        'sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})'
        ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="memory"}) > 0.8',
        "10m",
        "warning",
        "Pod {{ $labels.namespace }}/{{ $labels.pod }} uses over 80% of its memory limit",
    ),
    AlertRule(
        "DatabaseConnectionPoolExhausted",
        "max by (service) (db_pool_connections_in_use / db_pool_connections_max) > 0.9",
        "5m",
        "critical",
        "{{ $labels.service }} uses over 90% of its database connection pool",
    ),
    AlertRule(
        "ApiLatencyP95High",
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="api"}[5m]))) > 0.5',
        "10m",
        "warning",
        "API p95 latency is over 500 ms",
    ),
    AlertRule(
        "Http5xxRateHigh",
        'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
        "5m",
        "critical",
        "Over 5% of HTTP requests fail with 5xx",
    ),
    AlertRule(
        "ErrorLogRateHigh",
        'sum by (namespace) (rate(log_messages_total{level="error"}[5m])) > 1',
        "10m",
        "warning",
        "More than one error log line per second in {{ $labels.namespace }}",
    ),
)
