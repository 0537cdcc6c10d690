"""The container log pipeline's own configuration for fluent-bit (aws-for-fluent-bit), as data: pure,
no engine.

On every node fluent-bit tails the containers' logs, adds the pod's metadata (the chart's kubernetes
filter), then runs, in this order, what this module adds (:func:`fluent_bit_filters`):

1. **PII redaction** (Lua, :mod:`modules.platform.redact_lua`): e-mail addresses,
   bearer tokens, API keys and secrets, passwords in URLs and card-like numbers are replaced in the raw
   line and in every parsed field, so that none of it reaches CloudWatch or anything else off the node.
2. **Metrics from logs** (fluent-bit's ``log_to_metrics``): one counter per :data:`LOG_METRICS` entry,
   by namespace, pod, container and ``service`` (the pod's ``app.kubernetes.io/name``), served on
   :data:`LOG_METRICS_PORT` by a ``prometheus_exporter`` output that Prometheus scrapes. The log-based
   alerts of story 0.20 AC6 (:mod:`modules.alert_rules`) are evaluated on them.

Counter names follow fluent-bit's rule ``<metric_namespace>_<metric_subsystem>_<metric_name>``, the
namespace being the project's name (:func:`metric_namespace`: ``qualisys_log_error_lines_total``)
(plugins/filter_log_to_metrics/log_to_metrics.c, ``cmt_counter_create``; no ``_total`` is appended
by cmetrics' Prometheus encoder), read in fluent/fluent-bit at d55459d (2026-08-21).
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.platform.redact_lua import REDACT_LUA

REDACT_FUNCTION = "redact"
REDACT_SCRIPT = "redact.lua"
# The ConfigMap (namespace monitoring) that carries the Lua scripts, and where fluent-bit's pods mount it.
LUA_CONFIG_MAP = "fluent-bit-lua"
LUA_MOUNT_PATH = "/fluent-bit/scripts"
LOG_METRICS_PORT = 2021
LOG_METRICS_PORT_NAME = "log-metrics"
METRIC_SUBSYSTEM = "log"
# The pod label a service's name is read from (modules/apps/objects.py labels every pod with it).
SERVICE_POD_LABEL = "app.kubernetes.io/name"


def metric_namespace(project: str) -> str:
    """The counters' namespace: the project's name as a Prometheus name (``-`` is not allowed there)."""
    return project.replace("-", "_")


def metrics_tag(project: str) -> str:
    """The tag the log_to_metrics filters emit their metrics under, which the prometheus_exporter output takes."""
    return f"{metric_namespace(project)}_{METRIC_SUBSYSTEM}_metrics"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMetric:
    """A counter of the log lines whose raw text (fluent-bit's ``log`` key, the container's line as
    written, after redaction) matches ``line_regex`` (Onigmo syntax, fluent-bit's regex engine)."""

    name: str
    description: str
    line_regex: str

    def metric(self, project: str) -> str:
        """The Prometheus name fluent-bit gives the counter in ``project``'s clusters."""
        return f"{metric_namespace(project)}_{METRIC_SUBSYSTEM}_{self.name}"


# The services log JSON lines with "level" and, for each request, "status" (services/hello/logs.py,
# observe.py); the regexes read the line as written, so they need no parser of the JSON.
ERROR_LINES = LogMetric(
    name="error_lines_total",
    description="Log lines at level ERROR or CRITICAL",
    line_regex=r'"level":\s*"(ERROR|CRITICAL)"',
)
ACCESS_LINES = LogMetric(
    name="access_lines_total",
    description="Access log lines (one per request answered, any status)",
    line_regex=r'"status":\s*[1-5][0-9][0-9]\s*[,}]',
)
SERVER_ERROR_LINES = LogMetric(
    name="server_error_lines_total",
    description="Access log lines of requests answered with a 5xx status",
    line_regex=r'"status":\s*5[0-9][0-9]\s*[,}]',
)
LOG_METRICS = (ERROR_LINES, ACCESS_LINES, SERVER_ERROR_LINES)


def redact_script() -> str:
    """The redaction filter's Lua source (:data:`modules.platform.redact_lua.REDACT_LUA`)."""
    return REDACT_LUA


def _section(kind: str, settings: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in settings) + 1
    return "\n".join([f"[{kind}]", *(f"    {key.ljust(width)}{value}" for key, value in settings)])


def fluent_bit_filters(project: str, match: str = "kube.*") -> str:
    """The ``[FILTER]`` sections after the chart's kubernetes filter: redaction, then the log counters
    (named after ``project``)."""
    sections = [
        _section(
            "FILTER",
            [
                ("Name", "lua"),
                ("Match", match),
                ("script", f"{LUA_MOUNT_PATH}/{REDACT_SCRIPT}"),
                ("call", REDACT_FUNCTION),
            ],
        )
    ]
    for metric in LOG_METRICS:
        sections.append(
            _section(
                "FILTER",
                [
                    ("Name", "log_to_metrics"),
                    ("Match", match),
                    ("Tag", metrics_tag(project)),
                    ("metric_mode", "counter"),
                    ("metric_namespace", metric_namespace(project)),
                    ("metric_subsystem", METRIC_SUBSYSTEM),
                    ("metric_name", metric.name),
                    ("metric_description", metric.description),
                    ("kubernetes_mode", "on"),
                    ("add_label", f"service $kubernetes['labels']['{SERVICE_POD_LABEL}']"),
                    ("regex", f"log {metric.line_regex}"),
                ],
            )
        )
    return "\n".join(sections) + "\n"


def fluent_bit_outputs(project: str) -> str:
    """The ``[OUTPUT]`` serving the log counters to Prometheus."""
    return (
        _section(
            "OUTPUT",
            [
                ("Name", "prometheus_exporter"),
                ("Match", metrics_tag(project)),
                ("Host", "0.0.0.0"),  # noqa: S104 - the pod's address: Prometheus scrapes it from its own pod
                ("Port", str(LOG_METRICS_PORT)),
            ],
        )
        + "\n"
    )


def log_metric_names(project: str) -> dict[str, str]:
    """Every counter name the generated configuration makes fluent-bit export in ``project``'s clusters,
    by the filter that defines it: read back from :func:`fluent_bit_filters`' text, as fluent-bit names them."""
    names: dict[str, str] = {}
    for section in fluent_bit_filters(project).split("[FILTER]"):
        settings = dict(line.strip().split(None, 1) for line in section.strip().splitlines() if line.strip())
        if settings.get("Name") == "log_to_metrics":
            name = "_".join((settings["metric_namespace"], settings["metric_subsystem"], settings["metric_name"]))
            names[name] = f"fluent-bit log_to_metrics filter ({settings['regex']})"
    return names
