"""Alert rules of stories 0.19 AC4 and 0.20 AC6, as data: rendered into Prometheus rules.

Each reads metrics a producer the platform runs exports (:mod:`modules.platform.metrics_contract`):
kube-state-metrics and cAdvisor for pods, the services' own ``http_*`` metrics (the application
metrics contract), the PostgreSQL and Redis exporters, and fluent-bit's counters of log lines for the
log-based alerts at the spec's numbers (more than 10 error lines a minute per service; more than 5 % of
the requests a service logs answered with a 5xx). ``tests/observability`` runs ``promtool test rules``
on every rule: each fires above its threshold and stays quiet at or below it. The log counters are
named after the project (:meth:`modules.platform.log_pipeline.LogMetric.metric`), so the rules are
built for one: :func:`alert_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.platform.log_pipeline import ACCESS_LINES, ERROR_LINES, SERVER_ERROR_LINES

# The spec's numbers (story 0.19 AC4, story 0.20 AC6).
ERROR_LINES_PER_MINUTE_LIMIT = 10
SERVER_ERROR_RATIO_LIMIT = 0.05
CONNECTION_USE_LIMIT = 0.9
LATENCY_P95_LIMIT_SECONDS = 0.5

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


def alert_rules(project: str) -> tuple[AlertRule, ...]:
    """Every alert rule of ``project``'s clusters, in the order Prometheus receives them."""
    return (
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
            "sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections)"
            f" > {CONNECTION_USE_LIMIT}",
            "5m",
            "critical",
            "PostgreSQL {{ $labels.instance }} uses over 90% of its max_connections",
        ),
        AlertRule(
            "DatabaseDown",
            "pg_up == 0",
            "2m",
            "critical",
            "The PostgreSQL exporter cannot reach {{ $labels.instance }}",
        ),
        AlertRule(
            "CacheDown",
            "redis_up == 0",
            "2m",
            "critical",
            "The Redis exporter cannot reach {{ $labels.instance }}",
        ),
        AlertRule(
            "DatabaseMetricsMissing",
            "absent(pg_up)",
            "15m",
            "warning",
            "No PostgreSQL exporter reports: is its Secret postgres-exporter missing (README)?",
        ),
        AlertRule(
            "CacheMetricsMissing",
            "absent(redis_up)",
            "15m",
            "warning",
            "No Redis exporter reports: is its Secret redis-exporter missing (README)?",
        ),
        AlertRule(
            "ApiLatencyP95High",
            "histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))"
            f" > {LATENCY_P95_LIMIT_SECONDS}",
            "10m",
            "warning",
            "{{ $labels.service }} p95 latency is over 500 ms",
        ),
        AlertRule(
            "Http5xxRateHigh",
            'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))'
            f" / sum by (service) (rate(http_requests_total[5m])) > {SERVER_ERROR_RATIO_LIMIT}",
            "5m",
            "critical",
            "Over 5% of {{ $labels.service }}'s HTTP requests fail with 5xx",
        ),
        AlertRule(
            "ErrorLogRateHigh",
            # More than 10 a minute over 5 minutes: more than 50 lines. Lines are whole, so the threshold is
            # 50.5: a rate computed in floating point (10 a minute gave 10.000000000000002) cannot fire at 50.
            f"sum by (namespace_name, service) (increase({ERROR_LINES.metric(project)}[5m]))"
            f" > {ERROR_LINES_PER_MINUTE_LIMIT * 5} + 0.5",
            "2m",
            "warning",
            "{{ $labels.service }} in {{ $labels.namespace_name }} logs more than 10 error lines a minute",
        ),
        AlertRule(
            "Http5xxLogRateHigh",
            f"sum by (namespace_name, service) (rate({SERVER_ERROR_LINES.metric(project)}[5m]))"
            f" / sum by (namespace_name, service) (rate({ACCESS_LINES.metric(project)}[5m]))"
            f" > {SERVER_ERROR_RATIO_LIMIT}",
            "5m",
            "critical",
            "Over 5% of the requests {{ $labels.service }} in {{ $labels.namespace_name }} logs are answered with 5xx",
        ),
    )
