"""What the stacks deploy for observability, read from the synthesized Terraform JSON of every
environment: the exporters (pinned charts, least-privilege identities, no password in any value,
ServiceMonitors), the network policies that let them reach exactly the data tier, the ElastiCache
user of the Redis exporter, and fluent-bit's filters (redaction before any counter or output) with
the ConfigMap that carries the very script the redaction tests run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from modules.platform.charts import EXPORTER_CHARTS
from modules.platform.exporters import EXPORTER_EGRESS, EXPORTER_POD_NAMES
from modules.platform.log_pipeline import (
    LOG_METRICS,
    LOG_METRICS_PORT,
    LUA_CONFIG_MAP,
    LUA_MOUNT_PATH,
    REDACT_SCRIPT,
    redact_script,
)
from qualisys_infra.core.monitoring_access import (
    POSTGRES_EXPORTER_KEY,
    POSTGRES_EXPORTER_SECRET,
    REDIS_EXPORTER_KEY,
    REDIS_EXPORTER_SECRET,
    cloud_redis_exporter_access_string,
)
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

pytestmark = pytest.mark.synth


def _releases(s: Synthesized, environment: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in s.resources(f"{environment}-platform", "helm_release").values()}


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return dict(meta[0] if isinstance(meta, list) else meta)


def _values(release: dict[str, Any]) -> dict[str, Any]:
    (text,) = release["values"]
    return dict(yaml.safe_load(text))


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_exporters_run_pinned_charts_in_monitoring_with_a_service_monitor(
    synthesized: Synthesized, environment: str
) -> None:
    releases = _releases(synthesized, environment)
    for name, chart in EXPORTER_CHARTS.items():
        release = releases[name]
        assert (release["repository"], release["chart"], release["version"]) == (
            chart.repository,
            chart.chart,
            chart.version,
        )
        assert "ns-monitoring" in release["namespace"], "in monitoring, after its namespace exists"
        values = _values(release)
        assert values["serviceMonitor"]["enabled"] is True
        assert "password" not in json.dumps(values).lower(), "no password, nor a key naming one, in any value"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_exporters_sign_in_as_their_least_privileged_identities(synthesized: Synthesized, environment: str) -> None:
    releases = _releases(synthesized, environment)
    postgres = _values(releases["postgres-exporter"])["config"]
    assert postgres == {"datasourceSecret": {"name": POSTGRES_EXPORTER_SECRET, "key": POSTGRES_EXPORTER_KEY}}
    redis = _values(releases["redis-exporter"])
    assert redis["auth"] == {
        "enabled": True,
        "secret": {"name": REDIS_EXPORTER_SECRET, "key": REDIS_EXPORTER_KEY},
        "redisUser": f"qualisys-{environment}-metrics",
    }
    assert redis["redisAddress"].startswith("rediss://"), "TLS: ElastiCache requires it"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_redis_exporters_user_reaches_no_key_and_belongs_to_the_cache(
    synthesized: Synthesized, environment: str
) -> None:
    stack = f"{environment}-data"
    users = {u["user_id"]: u for u in synthesized.resources(stack, "aws_elasticache_user").values()}
    user = users[f"qualisys-{environment}-metrics"]
    assert user["access_string"] == cloud_redis_exporter_access_string()
    assert "~" not in user["access_string"] and "&" not in user["access_string"], "no key or channel pattern"
    # created with IAM authentication that no role may use; an operator gives it its password
    assert user["authentication_mode"] == {"type": "iam"}
    assert user["lifecycle"]["ignore_changes"] == ["authentication_mode"]
    assert "passwords" not in user
    (group,) = synthesized.resources(stack, "aws_elasticache_user_group").values()
    assert any("exporter-user" in member for member in group["user_ids"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_exporters_reach_the_database_subnets_on_their_port_only(synthesized: Synthesized, environment: str) -> None:
    stack = f"{environment}-platform"
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in synthesized.resources(stack, "kubernetes_network_policy_v1").values()
        if isinstance(p["metadata"], dict)
        and p["metadata"]["name"].startswith("allow-")
        and "exporter" in p["metadata"]["name"]
    }
    assert sorted(policies) == sorted(f"allow-{name}-to-data-tier" for name in EXPORTER_EGRESS)
    subnets = synthesized.resources(f"{environment}-network", "aws_subnet")
    database_cidrs = sorted(s["cidr_block"] for s in subnets.values() if "database" in s["tags"]["Name"])
    for name, port in EXPORTER_EGRESS.items():
        spec = policies[f"allow-{name}-to-data-tier"]
        assert spec["pod_selector"] == {"match_labels": {"app.kubernetes.io/name": EXPORTER_POD_NAMES[name]}}
        assert spec["policy_types"] == ["Egress"]
        (rule,) = spec["egress"]
        assert rule["ports"] == [{"port": str(port), "protocol": "TCP"}]
        assert len(rule["to"]) == len(database_cidrs) and all("aws_subnet" in str(peer) for peer in rule["to"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_fluent_bit_redacts_before_counting_and_shipping(synthesized: Synthesized, environment: str) -> None:
    release = _releases(synthesized, environment)["aws-for-fluent-bit"]
    values = _values(release)
    filters = values["additionalFilters"]
    order = [line.split()[1] for line in filters.splitlines() if line.strip().startswith("Name")]
    assert order == ["lua"] + ["log_to_metrics"] * len(LOG_METRICS), "redaction comes first"
    assert f"script {LUA_MOUNT_PATH}/{REDACT_SCRIPT}" in " ".join(filters.split())
    assert f"Port {LOG_METRICS_PORT}" in " ".join(values["additionalOutputs"].split())
    mounts = {m["name"]: m for m in values["volumeMounts"]}
    assert mounts["lua-scripts"] == {"name": "lua-scripts", "mountPath": LUA_MOUNT_PATH, "readOnly": True}
    assert {"varlog", "varlibdockercontainers"} <= set(mounts), "the chart's own mounts are kept"
    volumes = {v["name"]: v for v in values["volumes"]}
    assert volumes["lua-scripts"]["configMap"] == {"name": LUA_CONFIG_MAP}
    maps = {
        _metadata(m)["name"]: (address, m)
        for address, m in synthesized.resources(f"{environment}-platform", "kubernetes_config_map_v1").items()
    }
    address, config_map = maps[LUA_CONFIG_MAP]
    assert config_map["data"] == {REDACT_SCRIPT: redact_script()}, "the script the redaction tests run"
    assert f"kubernetes_config_map_v1.{address}" in release["depends_on"]
    assert values["serviceMonitor"]["enabled"] is True
    assert values["serviceMonitor"]["extraEndpoints"][0]["port"] == "log-metrics"
