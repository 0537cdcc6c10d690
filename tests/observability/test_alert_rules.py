"""Every alert rule evaluated by Prometheus' own ``promtool test rules`` (Debian's Prometheus): the
rules file is the one the platform stack gives kube-prometheus-stack, and each alert has a case that
fires above its threshold (with the labels and annotations Alertmanager routes by) and one that stays
quiet below it. The log-based alerts are tested at the spec's numbers exactly: 11 error lines a
minute fire, 10 do not; 6 % of 5xx fire, 5 % do not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from modules.alert_rules import AlertRule, alert_rules
from tests.observability.promql import project, rendered_rule_groups

PROMTOOL = shutil.which("promtool")
EVAL_TIME = "30m"  # past every rule's window (at most 15m) plus its `for` (at most 10m)
SAMPLES = "x40"  # one sample a minute for 40 minutes

Series = dict[str, str]  # series selector -> promtool values notation


@dataclass(frozen=True)
class Case:
    """Input series that make ``alert`` fire (labels of the alert expected), and series that do not."""

    firing: Series
    quiet: Series
    labels: dict[str, str]


def _counter(per_minute: float) -> str:
    return f"0+{per_minute}{SAMPLES}"


def _gauge(value: float) -> str:
    return f"{value}+0{SAMPLES}"


POD = 'namespace="staging",pod="hello-7d9f-abcde"'
SERVICE = 'namespace_name="staging",service="hello"'
CASES = {
    "PodCrashLooping": Case(
        firing={f'kube_pod_container_status_restarts_total{{{POD},container="hello"}}': _counter(1)},
        quiet={f'kube_pod_container_status_restarts_total{{{POD},container="hello"}}': _counter(0.1)},
        labels={"namespace": "staging", "pod": "hello-7d9f-abcde", "container": "hello"},
    ),
    "ContainerCpuHigh": Case(
        firing={
            f'container_cpu_usage_seconds_total{{{POD},container="hello"}}': _counter(54),  # 0.9 cores
            f'kube_pod_container_resource_limits{{{POD},resource="cpu"}}': _gauge(1),
        },
        quiet={
            f'container_cpu_usage_seconds_total{{{POD},container="hello"}}': _counter(42),  # 0.7 cores
            f'kube_pod_container_resource_limits{{{POD},resource="cpu"}}': _gauge(1),
        },
        labels={"namespace": "staging", "pod": "hello-7d9f-abcde"},
    ),
    "ContainerMemoryHigh": Case(
        firing={
            f'container_memory_working_set_bytes{{{POD},container="hello"}}': _gauge(230_000_000),
            f'kube_pod_container_resource_limits{{{POD},resource="memory"}}': _gauge(256_000_000),
        },
        quiet={
            f'container_memory_working_set_bytes{{{POD},container="hello"}}': _gauge(128_000_000),
            f'kube_pod_container_resource_limits{{{POD},resource="memory"}}': _gauge(256_000_000),
        },
        labels={"namespace": "staging", "pod": "hello-7d9f-abcde"},
    ),
    "DatabaseConnectionPoolExhausted": Case(
        firing={
            'pg_stat_activity_count{instance="pg:9187",datname="qualisys_master",state="active"}': _gauge(60),
            'pg_stat_activity_count{instance="pg:9187",datname="qualisys_master",state="idle"}': _gauge(35),
            'pg_settings_max_connections{instance="pg:9187"}': _gauge(100),
        },
        quiet={
            'pg_stat_activity_count{instance="pg:9187",datname="qualisys_master",state="active"}': _gauge(60),
            'pg_stat_activity_count{instance="pg:9187",datname="qualisys_master",state="idle"}': _gauge(20),
            'pg_settings_max_connections{instance="pg:9187"}': _gauge(100),
        },
        labels={"instance": "pg:9187"},
    ),
    "DatabaseDown": Case(
        firing={'pg_up{instance="pg:9187"}': _gauge(0)},
        quiet={'pg_up{instance="pg:9187"}': _gauge(1)},
        labels={"instance": "pg:9187"},
    ),
    "CacheDown": Case(
        firing={'redis_up{instance="redis:9121"}': _gauge(0)},
        quiet={'redis_up{instance="redis:9121"}': _gauge(1)},
        labels={"instance": "redis:9121"},
    ),
    "DatabaseMetricsMissing": Case(
        firing={'redis_up{instance="redis:9121"}': _gauge(1)},
        quiet={'pg_up{instance="pg:9187"}': _gauge(1)},
        labels={},
    ),
    "CacheMetricsMissing": Case(
        firing={'pg_up{instance="pg:9187"}': _gauge(1)},
        quiet={'redis_up{instance="redis:9121"}': _gauge(1)},
        labels={},
    ),
    "ApiLatencyP95High": Case(
        # every request between 0.5 s and 1 s: p95 0.975 s
        firing={
            'http_request_duration_seconds_bucket{service="hello",le="0.5"}': _counter(0),
            'http_request_duration_seconds_bucket{service="hello",le="1.0"}': _counter(10),
            'http_request_duration_seconds_bucket{service="hello",le="+Inf"}': _counter(10),
        },
        # every request under 0.5 s: p95 0.475 s
        quiet={
            'http_request_duration_seconds_bucket{service="hello",le="0.5"}': _counter(10),
            'http_request_duration_seconds_bucket{service="hello",le="1.0"}': _counter(10),
            'http_request_duration_seconds_bucket{service="hello",le="+Inf"}': _counter(10),
        },
        labels={"service": "hello"},
    ),
    "Http5xxRateHigh": Case(
        firing={
            'http_requests_total{service="hello",route="/",status="500"}': _counter(6),
            'http_requests_total{service="hello",route="/",status="200"}': _counter(94),
        },
        quiet={
            'http_requests_total{service="hello",route="/",status="500"}': _counter(4),
            'http_requests_total{service="hello",route="/",status="200"}': _counter(96),
        },
        labels={"service": "hello"},
    ),
    "ErrorLogRateHigh": Case(
        firing={f'qualisys_log_error_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(11)},
        quiet={f'qualisys_log_error_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(10)},
        labels={"namespace_name": "staging", "service": "hello"},
    ),
    "Http5xxLogRateHigh": Case(
        firing={
            f'qualisys_log_server_error_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(6),
            f'qualisys_log_access_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(100),
        },
        quiet={
            f'qualisys_log_server_error_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(5),
            f'qualisys_log_access_lines_total{{{SERVICE},pod_name="hello-1"}}': _counter(100),
        },
        labels={"namespace_name": "staging", "service": "hello"},
    ),
}
RULES = {rule.name: rule for rule in alert_rules(project())}


def _expand(template: str, labels: dict[str, str]) -> str:
    """An annotation as Prometheus expands it for an alert with ``labels`` (the templates use only
    ``{{ $labels.<name> }}``)."""
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def _unit_test(rule: AlertRule, series: Series, expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": EVAL_TIME, "alertname": rule.name, "exp_alerts": expected}],
    }


def promtool_test(rules_file: Path, tests: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool is not installed: make observability-tools"
    test_file = tmp_path / "tests.yml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": [str(rules_file)], "evaluation_interval": "1m", "tests": tests}),
        encoding="utf-8",
    )
    return subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules exactly as the platform stack's kube-prometheus-stack values carry them."""
    path = tmp_path_factory.mktemp("rules") / "qualisys.rules.yml"
    path.write_text(yaml.safe_dump({"groups": rendered_rule_groups()}), encoding="utf-8")
    return path


def test_the_rules_file_is_valid_for_prometheus(rules_file: Path) -> None:
    assert PROMTOOL, "promtool is not installed: make observability-tools"
    result = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


def test_every_alert_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(RULES)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_alert_fires_above_its_threshold_and_stays_quiet_below(alert: str, rules_file: Path, tmp_path: Path) -> None:
    rule, case = RULES[alert], CASES[alert]
    labels = {**case.labels, "severity": rule.severity}
    annotations = {"summary": _expand(rule.summary, labels), "runbook_url": rule.runbook_url}
    firing = _unit_test(rule, case.firing, [{"exp_labels": labels, "exp_annotations": annotations}])
    quiet = _unit_test(rule, case.quiet, [])
    result = promtool_test(rules_file, [firing, quiet], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("which", ["firing", "quiet"])
def test_fails_if_a_case_expects_the_wrong_outcome(which: str, rules_file: Path, tmp_path: Path) -> None:
    """The harness can fail: the error-log alert asked to stay quiet at 11 lines a minute, or to fire
    at 10, is reported by promtool."""
    rule, case = RULES["ErrorLogRateHigh"], CASES["ErrorLogRateHigh"]
    labels = {**case.labels, "severity": rule.severity}
    expected = [{"exp_labels": labels, "exp_annotations": {"summary": _expand(rule.summary, labels)}}]
    series = case.firing if which == "firing" else case.quiet
    result = promtool_test(rules_file, [_unit_test(rule, series, [] if which == "firing" else expected)], tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout + result.stderr
