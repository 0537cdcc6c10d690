"""The platform's chart pins and Helm values as pure functions: settings in, values out, no engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import promql_parser
import pytest
import yaml

from modules.alert_rules import alert_rules
from modules.platform import values
from modules.platform.charts import (
    AUTOSCALER_RELEASES,
    CHARTS,
    RUNNER_CHARTS,
    autoscaler_release,
    every_pin,
    kubernetes_minor,
    platform_charts,
)
from qualisys_infra.config import Settings
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, ROOT

# What the stack passes at synth: engine tokens, which must come through the YAML unchanged.
ROLE = "${TfToken[TOKEN.41]}"
VPC = "${TfToken[TOKEN.42]}"
LOG_GROUP = "${TfToken[TOKEN.43]}"
TOPIC = "${TfToken[TOKEN.44]}"
EDGE = {"alb.ingress.kubernetes.io/certificate-arn": "${TfToken[TOKEN.45]}"}


PROJECT = "qualisys"


def _kps(env: EnvironmentConfig, project: str = PROJECT) -> values.Values:
    return values.kube_prometheus_stack(
        project=project,
        environment=env.environment,
        region=env.region,
        grafana_domain=env.grafana_domain,
        retention_days=env.prometheus_retention_days,
        storage_gib=env.prometheus_storage_gib,
        alert_topic_arn=TOPIC,
        alertmanager_role_arn=ROLE,
        grafana_ingress_annotations=EDGE,
    )


def _fluent_bit(env: EnvironmentConfig, project: str = PROJECT) -> values.Values:
    return values.aws_for_fluent_bit(
        project=project,
        region=env.region,
        log_group=LOG_GROUP,
        log_retention_days=env.log_retention_days,
        role_arn=ROLE,
    )


def _autoscaler(env: EnvironmentConfig) -> values.Values:
    return values.cluster_autoscaler(
        region=env.region,
        kubernetes_version=env.eks_kubernetes_version,
        node_group_max_sizes=(env.node_groups.general.max_size, env.node_groups.playwright.max_size),
        cluster="qualisys-x",
        role_arn=ROLE,
    )


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, settings: Settings) -> EnvironmentConfig:
    return next(e for e in settings.environments if e.environment == request.param)


def _every_chart(env: EnvironmentConfig) -> dict[str, values.Values]:
    return {
        "kube-prometheus-stack": _kps(env),
        "aws-load-balancer-controller": values.aws_load_balancer_controller(
            region=env.region, cluster="qualisys-x", vpc_id=VPC, role_arn=ROLE
        ),
        "aws-for-fluent-bit": _fluent_bit(env),
        "cluster-autoscaler": _autoscaler(env),
        "metrics-server": values.metrics_server(),
        "argo-rollouts": values.argo_rollouts(),
        "postgres-exporter": values.postgres_exporter(),
        "redis-exporter": values.redis_exporter(address=VPC, user="qualisys-x-metrics"),
    }


def test_building_values_starts_no_engine() -> None:
    code = "import sys, modules.platform.values, qualisys_infra.commands.charts; print(sorted(m for m in sys.modules if m.startswith(('cdktn', 'constructs', 'jsii'))))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# Releases whose values are built beside their constructs (tests/synth/test_runners.py, test_dns.py).
OWN_VALUES = ("external-dns", *RUNNER_CHARTS)


def test_every_release_has_values_and_a_pin(env: EnvironmentConfig) -> None:
    charts = platform_charts(env.eks_kubernetes_version)
    assert sorted(_every_chart(env)) == sorted(name for name in charts if name not in OWN_VALUES)


def test_values_survive_yaml_and_tokens_pass_through_unchanged(env: EnvironmentConfig) -> None:
    for chart, built in _every_chart(env).items():
        text = values.to_yaml(built)
        assert yaml.safe_load(text) == built, chart
        assert text == values.to_yaml(_every_chart(env)[chart]), "same settings, same text"
        if chart not in (
            "kube-prometheus-stack",
            "metrics-server",
            "argo-rollouts",
            "postgres-exporter",
            "redis-exporter",
        ):
            assert ROLE in text, chart


def test_service_accounts_carry_their_irsa_role(env: EnvironmentConfig) -> None:
    built = _every_chart(env)
    accounts = {
        "aws-load-balancer-controller": built["aws-load-balancer-controller"]["serviceAccount"],
        "aws-for-fluent-bit": built["aws-for-fluent-bit"]["serviceAccount"],
        "cluster-autoscaler": built["cluster-autoscaler"]["rbac"]["serviceAccount"],
    }
    for chart, account in accounts.items():
        assert account["create"] is True and account["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}, chart
    assert accounts["aws-for-fluent-bit"]["name"] == values.FLUENT_BIT_SERVICE_ACCOUNT


def test_prometheus_retention_and_storage_follow_the_settings(env: EnvironmentConfig) -> None:
    spec = _kps(env)["prometheus"]["prometheusSpec"]
    assert spec["retention"] == f"{env.prometheus_retention_days}d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{env.prometheus_storage_gib}Gi"
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_grafana_gets_dashboards_but_never_a_password(env: EnvironmentConfig) -> None:
    kps = _kps(env)
    assert kps["fullnameOverride"] == "kps"  # kps-prometheus, kps-alertmanager
    # the subchart does not inherit fullnameOverride: named explicitly, the README's `svc/kps-grafana`
    assert kps["grafana"]["fullnameOverride"] == "kps-grafana"
    # the one password key is emptied (the chart then generates one); no password value anywhere
    grafana = dict(kps["grafana"])
    assert grafana.pop("adminPassword") == ""
    assert "password" not in json.dumps(grafana).lower()
    dashboards = kps["grafana"]["dashboards"]["qualisys"]
    assert sorted(dashboards) == ["application", "cluster", "database"]
    for dashboard in dashboards.values():
        for panel in json.loads(dashboard["json"])["panels"]:
            for target in panel["targets"]:
                promql_parser.parse(target["expr"])


def test_alert_rules_are_all_there_and_parse(env: EnvironmentConfig) -> None:
    (group,) = _kps(env)["additionalPrometheusRulesMap"]["qualisys"]["groups"]
    assert [r["alert"] for r in group["rules"]] == [r.name for r in alert_rules(PROJECT)]
    for rule in group["rules"]:
        promql_parser.parse(rule["expr"])
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["runbook_url"].startswith("https://runbooks.qualisys.dev/alerts/")


def test_fluent_bit_writes_json_to_the_terraform_log_group_only(env: EnvironmentConfig) -> None:
    built = _fluent_bit(env)
    logs = built["cloudWatchLogs"]
    assert (logs["logGroupName"], logs["autoCreateGroup"], logs["logFormat"]) == (LOG_GROUP, False, "json")
    assert logs["logRetentionDays"] == env.log_retention_days and logs["region"] == env.region
    assert all(built[output] == {"enabled": False} for output in ("firehose", "kinesis", "elasticsearch"))


def test_autoscaler_bounds_the_cluster_by_the_node_groups(env: EnvironmentConfig) -> None:
    built = _autoscaler(env)
    groups = env.node_groups
    assert built["extraArgs"]["max-nodes-total"] == groups.general.max_size + groups.playwright.max_size
    assert built["autoDiscovery"] == {"clusterName": "qualisys-x"} and built["awsRegion"] == env.region


def test_autoscaler_version_matches_the_cluster_kubernetes_version(env: EnvironmentConfig) -> None:
    """The autoscaler's minor must be the cluster's (kubernetes/autoscaler): image, chart line and
    the values all follow ``eks_kubernetes_version``."""
    cluster_minor = kubernetes_minor(env.eks_kubernetes_version)
    release = autoscaler_release(env.eks_kubernetes_version)
    tag = _autoscaler(env)["image"]["tag"]
    assert tag == release.image_tag
    assert kubernetes_minor(tag) == cluster_minor
    assert platform_charts(env.eks_kubernetes_version)["cluster-autoscaler"] == release.chart


def test_every_autoscaler_line_is_of_its_own_minor() -> None:
    """The image is always of the minor; the chart is of the minor's line when one is released, and
    otherwise an older line's chart that any newer chart counts as an update to (``charts``)."""
    for minor, release in AUTOSCALER_RELEASES.items():
        assert kubernetes_minor(release.image_tag) == minor, minor
        chart_minor = kubernetes_minor(release.chart.app_version)
        assert release.chart.same_app_minor == (chart_minor == minor), minor
        assert tuple(map(int, chart_minor.split("."))) <= tuple(map(int, minor.split("."))), minor


def test_fails_if_no_autoscaler_is_pinned_for_the_cluster_minor() -> None:
    with pytest.raises(
        ValueError,
        match=r"eks_kubernetes_version '1\.29': no cluster-autoscaler is pinned for Kubernetes 1\.29 .*lifecycle\.py",
    ):
        autoscaler_release("1.29")


def test_every_pin_is_an_exact_https_version() -> None:
    for name, chart in every_pin().items():
        assert chart.repository.startswith("https://"), name
        parts = chart.version.split(".")
        assert len(parts) == 3 and all(p.isdigit() for p in parts), f"{name}: {chart.version} is not exact"
    assert set(CHARTS) | {"cluster-autoscaler"} | set(RUNNER_CHARTS) == set(platform_charts("1.33"))


def test_names_in_the_values_follow_the_project(env: EnvironmentConfig) -> None:
    """Another project's dashboards, rules and log counters carry its name, never ``qualisys``; a name
    with ``-`` becomes ``_`` where Prometheus needs it (the log counters)."""
    kps, fluent_bit = _kps(env, "acme-x"), _fluent_bit(env, "acme-x")
    (provider,) = kps["grafana"]["dashboardProviders"]["dashboardproviders.yaml"]["providers"]
    assert (provider["name"], provider["folder"], provider["options"]["path"]) == (
        "acme-x",
        "ACME-X",
        "/var/lib/grafana/dashboards/acme-x",
    )
    uids = {name: json.loads(body["json"])["uid"] for name, body in kps["grafana"]["dashboards"]["acme-x"].items()}
    assert uids == {name: f"acme-x-{name}" for name in ("application", "cluster", "database")}
    (group,) = kps["additionalPrometheusRulesMap"]["acme-x"]["groups"]
    assert group["name"] == "acme-x.rules"
    expressions = " ".join(rule["expr"] for rule in group["rules"])
    assert "acme_x_log_error_lines_total" in expressions and "acme_x_log_access_lines_total" in expressions
    assert re.search(r"metric_namespace\s+acme_x\n", fluent_bit["additionalFilters"])
    assert re.search(r"Tag\s+acme_x_log_metrics\n", fluent_bit["additionalFilters"])
    assert re.search(r"Match\s+acme_x_log_metrics\n", fluent_bit["additionalOutputs"])
    # Hosts are settings (grafana_domain), the runbooks a web address: neither is a name made here.
    text = json.dumps([kps, fluent_bit]).replace(env.grafana_domain, "").replace("https://runbooks.qualisys.dev/", "")
    assert "qualisys" not in text.lower()
