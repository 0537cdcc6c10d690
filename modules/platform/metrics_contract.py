"""Who produces each metric the dashboards and alert rules read, written down once: pure data.

- **The services** (hello today, the API later) follow :data:`APPLICATION_METRICS`: the names, types
  and labels each service's ``/metrics`` exposes on its internal port. The ``service``, ``namespace``
  and ``pod`` labels are not the service's to set: the service's monitor adds them when it scrapes
  (:data:`SCRAPE_LABELS`). ``tests/observability`` scrapes the real hello and checks it against this.
- **PostgreSQL and Redis**: the prometheus-community exporters in ``monitoring``
  (:mod:`modules.platform.exporters`), names prefixed ``pg_`` and ``redis_``; the tests run the real
  exporters (Debian's builds) against a real PostgreSQL and Redis and scrape them.
- **Logs**: fluent-bit's ``log_to_metrics`` counters (:mod:`modules.platform.log_pipeline`), named by
  the configuration that defines them.
- **The cluster**: kube-state-metrics and the kubelet's cAdvisor, both run by kube-prometheus-stack.
  Neither can run without a Kubernetes API server, so their names are listed in :data:`CLUSTER_METRICS`
  with the documentation that defines each, at the version the pinned chart runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """One metric a service must expose: ``name`` (a counter's with its ``_total``), type, and the
    labels the service sets on it (a histogram's ``le`` aside)."""

    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str

    @property
    def series_names(self) -> tuple[str, ...]:
        """The names of the series Prometheus stores for it (a histogram's buckets, sum and count)."""
        if self.type is MetricType.HISTOGRAM:
            return tuple(f"{self.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        return (self.name,)


# The application metrics contract. `route` is the route template (`/items/{id}`), never the raw path;
# `status` the response's status code as digits; `method` one of GET, HEAD, POST, PUT, PATCH, DELETE,
# OPTIONS or OTHER, so that no client can mint label values.
APPLICATION_METRICS = (
    MetricSpec(
        name="http_requests_total",
        type=MetricType.COUNTER,
        labels=("method", "route", "status"),
        help="HTTP requests handled, by method, route template and status code",
    ),
    MetricSpec(
        name="http_request_duration_seconds",
        type=MetricType.HISTOGRAM,
        labels=("method", "route"),
        help="Time from a request's arrival to the end of its response",
    ),
)
# Added by the monitor at scrape time: `service` from the pod's app.kubernetes.io/name label.
SERVICE_LABEL = "service"
SCRAPE_LABELS = (SERVICE_LABEL, "namespace", "pod")
# The name prefixes of the producers the tests run for real: a name with one of them must be scraped,
# never listed in CLUSTER_METRICS.
SCRAPED_PREFIXES = ("pg_", "redis_", "http_")

_KSM = "kube-state-metrics v2.20.0 (kube-prometheus-stack 88.5.3's chart 8.4.0), docs/metrics/"
_CADVISOR = "google/cadvisor docs/storage/prometheus.md (6a0c4f2, 2026-07-20), scraped from the kubelet"
CLUSTER_METRICS = {
    "kube_pod_container_status_restarts_total": f"{_KSM}workload/pod-metrics.md",
    "kube_pod_container_resource_limits": f"{_KSM}workload/pod-metrics.md",
    "kube_node_status_condition": f"{_KSM}cluster/node-metrics.md",
    "container_cpu_usage_seconds_total": _CADVISOR,
    "container_memory_working_set_bytes": _CADVISOR,
}
