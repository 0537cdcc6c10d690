"""The <env>-platform stacks (stories 0.3 AC4/AC10, 0.13, 0.19, 0.20): namespaces, RBAC, Helm."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest
import yaml

from modules.alert_rules import alert_rules
from modules.platform.charts import EXPORTER_CHARTS, autoscaler_release, platform_charts
from qualisys_infra.core.lifecycle import kubernetes_minor
from qualisys_infra.core.naming import CI_DEPLOYERS_GROUP, PLAN_READERS_GROUP, RUNNER_NAMESPACES
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.synth.helpers import one, ref, statements


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _stack(env: EnvironmentConfig) -> str:
    return f"{env.environment}-platform"


def _namespaces(s: Synthesized, env: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """Every namespace of the platform stack by name, the runners' (tests/synth/test_runners.py) included."""
    return {
        n["metadata"][0]["name"]: n["metadata"][0] for n in s.resources(_stack(env), "kubernetes_namespace_v1").values()
    }


def _runners(key: str) -> bool:
    """Whether a namespace reference (a token naming the namespace resource) is one of the runners'."""
    return "runners_ns-" in key


def _releases(s: Synthesized, env: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """Every Helm release of the environment by its release name."""
    return {r["name"]: r for r in s.resources(_stack(env), "helm_release").values()}


def _release(s: Synthesized, env: EnvironmentConfig, chart: str) -> dict[str, Any]:
    return _releases(s, env)[chart]


def _values(s: Synthesized, env: EnvironmentConfig, chart: str) -> dict[str, Any]:
    (text,) = _release(s, env, chart)["values"]
    return dict(yaml.safe_load(text))


def test_namespaces_are_those_of_the_environment_file(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    assert sorted(_namespaces(synthesized, env)) == sorted((*env.namespaces, *RUNNER_NAMESPACES))
    assert sorted(env.namespaces) == ["dev", "monitoring", "playwright-pool", "production", "staging"]


def _psa_version(env: EnvironmentConfig) -> str:
    """The lifecycle table's Pod Security version of the environment's minor (``v1.36``)."""
    row = kubernetes_minor(env.eks_kubernetes_version)
    assert row is not None and row.pod_security_version == f"v{row.minor}"
    return row.pod_security_version


def test_every_namespace_carries_pinned_pod_security_labels(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    for name, metadata in _namespaces(synthesized, env).items():
        labels = metadata["labels"]
        level = "privileged" if name == "monitoring" else "restricted"
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == level, (name, mode)
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == _psa_version(env), (name, mode)
        if level == "privileged":
            assert "node-exporter needs hostNetwork" in metadata["annotations"]["qualisys.io/pod-security-reason"]
        else:
            assert "annotations" not in metadata


def test_every_namespace_has_its_quota_and_limits(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    quotas = {
        q["metadata"]["namespace"]: q["spec"]["hard"]
        for q in synthesized.resources(stack, "kubernetes_resource_quota_v1").values()
        if not _runners(q["metadata"]["namespace"])
    }
    limits = synthesized.resources(stack, "kubernetes_limit_range_v1")
    assert len(quotas) == len(env.namespaces) == len(limits) - len(RUNNER_NAMESPACES)
    for name, config in env.namespaces.items():
        (hard,) = [h for ns, h in quotas.items() if f"ns-{name}_namespace" in ns]
        assert hard == {
            "requests.cpu": config.cpu_requests,
            "requests.memory": config.memory_requests,
            "limits.cpu": config.cpu_limits,
            "limits.memory": config.memory_limits,
            "pods": str(config.pods),
        }


def test_every_namespace_denies_all_traffic_by_default(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    policies = synthesized.resources(_stack(env), "kubernetes_network_policy_v1").values()
    by_namespace: dict[str, dict[str, Any]] = {}
    for policy in policies:
        by_namespace.setdefault(policy["metadata"]["namespace"], {})[policy["metadata"]["name"]] = policy["spec"]
    assert len(by_namespace) == len(env.namespaces) + len(RUNNER_NAMESPACES)
    for namespace, specs in by_namespace.items():
        deny = specs["default-deny"]
        assert deny["pod_selector"] == {} and deny["policy_types"] == ["Ingress", "Egress"]
        assert "ingress" not in deny and "egress" not in deny, namespace
        dns = specs["allow-dns"]["egress"][0]
        assert dns["to"][0]["namespace_selector"]["match_labels"] == {"kubernetes.io/metadata.name": "kube-system"}
        assert sorted((p["port"], p["protocol"]) for p in dns["ports"]) == [("53", "TCP"), ("53", "UDP")]
        if "ns-staging" in namespace:
            assert specs["allow-load-balancer"]["ingress"][0]["from"][0]["ip_block"]["cidr"] == env.vpc_cidr
            assert "allow-scraping" in specs


def test_ci_deployer_role_is_exactly_the_apps_stacks_kinds_in_its_namespace(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    roles = synthesized.resources(stack, "kubernetes_role_v1")
    if not env.pipeline:
        assert roles == {}  # a manual environment (dev) has no release role: released by hand
        return
    role = one(roles)
    assert role["metadata"][0]["name"] == "ci-deployer"
    assert f"ns-{env.environment}_namespace" in role["metadata"][0]["namespace"]
    rules = {(tuple(r["api_groups"]), tuple(r["resources"])): tuple(r["verbs"]) for r in role["rule"]}
    manage = ("get", "list", "watch", "create", "update", "patch", "delete")
    read = ("get", "list", "watch")
    assert rules == {
        (("",), ("services",)): manage,
        (("argoproj.io",), ("analysistemplates", "rollouts")): manage,
        (("autoscaling",), ("horizontalpodautoscalers",)): manage,
        (("monitoring.coreos.com",), ("podmonitors",)): manage,
        (("networking.k8s.io",), ("ingresses",)): manage,
        (("policy",), ("poddisruptionbudgets",)): manage,
        (("argoproj.io",), ("rollouts/status",)): ("get", "update", "patch"),
        (("argoproj.io",), ("analysisruns",)): read,
        (("apps",), ("replicasets",)): read,
        (("",), ("events", "pods")): read,
    }
    (binding,) = [
        b
        for b in synthesized.resources(stack, "kubernetes_role_binding_v1").values()
        if b["metadata"]["name"] == "ci-deployer"
    ]
    assert binding["role_ref"] == {"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci-deployer"}
    assert binding["subject"] == [{"kind": "Group", "name": "ci-deployers", "api_group": "rbac.authorization.k8s.io"}]


def test_release_access_entry_maps_to_the_group_the_role_is_bound_to(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    entries = synthesized.resources(f"{env.environment}-cluster", "aws_eks_access_entry").values()
    groups = {g for e in entries for g in e.get("kubernetes_groups") or ()}
    releases = {CI_DEPLOYERS_GROUP} if env.pipeline else set()
    assert groups == releases | {PLAN_READERS_GROUP}


def test_people_roles_read_or_administer_without_secrets(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    roles = {
        r["metadata"]["name"]: r for r in synthesized.resources(_stack(env), "kubernetes_cluster_role_v1").values()
    }
    crd_reader = ["ci-deployer-crd-reader"] if env.pipeline else []
    assert sorted(roles) == [*crd_reader, "pipeline-plan-reader", "qualisys-namespace-admin", "qualisys-readonly"]
    for role in roles.values():
        for rule in role["rule"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
    assert set(roles["qualisys-readonly"]["rule"][0]["verbs"]) == {"get", "list", "watch"}


def test_every_chart_is_pinned_from_one_place(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    releases = _releases(synthesized, env)
    charts = platform_charts(env.eks_kubernetes_version)
    assert sorted(releases) == sorted(charts)
    for name, chart in charts.items():
        release = releases[name]
        assert (release["repository"], release["chart"], release["version"]) == (
            chart.repository,
            chart.chart,
            chart.version,
        )
        assert all(part.isdigit() for part in chart.version.split(".")), "an exact version, no range"
        # The exporters are not waited for: their pods start once an operator has made their Secrets
        # (modules/platform/exporters.py), which must not fail an apply; alerts say when they are missing.
        assert release.get("atomic") is True or (name in EXPORTER_CHARTS and release["wait"] is False)


def test_rendered_values_are_yaml_without_secrets(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    for chart in platform_charts(env.eks_kubernetes_version):
        values = _values(synthesized, env, chart)
        assert isinstance(values, dict)
        text = json.dumps(values).lower()
        assert "password" not in text or chart == "kube-prometheus-stack"
    grafana = _values(synthesized, env, "kube-prometheus-stack")["grafana"]
    # emptied, not left out: kube-prometheus-stack's default is the well-known "prom-operator";
    # empty, the Grafana chart generates one into its Secret and keeps it across upgrades
    assert grafana["adminPassword"] == "" and grafana["admin"] == {"existingSecret": ""}
    platform = synthesized.stacks[_stack(env)]
    assert "set_sensitive" not in _release(synthesized, env, "kube-prometheus-stack")
    # nothing in a plan of the platform stack reads a secret's value (the plan role may not)
    assert "aws_secretsmanager_secret_version" not in (platform.get("data") or {})
    assert "aws_secretsmanager_secret" not in (platform.get("resource") or {})


def test_prometheus_retention_and_storage_follow_the_environment_file(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    spec = _values(synthesized, env, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["retention"] == f"{env.prometheus_retention_days}d"
    assert (
        spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
        == f"{env.prometheus_storage_gib}Gi"
    )


def test_the_default_storage_class_is_encrypted_gp3_with_the_volume_key(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    """Prometheus' claim names gp3: the platform stack creates it, the cluster's only default class,
    gp3 volumes encrypted with the cluster stack's customer key, bound where the pod lands, growable."""
    (sc,) = synthesized.resources(_stack(env), "kubernetes_storage_class_v1").values()
    assert sc["metadata"]["name"] == "gp3"
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc["storage_provisioner"] == "ebs.csi.aws.com"
    assert sc["volume_binding_mode"] == "WaitForFirstConsumer" and sc["allow_volume_expansion"] is True
    params = sc["parameters"]
    assert params["type"] == "gp3" and params["encrypted"] == "true"
    # the cluster stack's volume key, across stacks (the key whose policy lets the EBS CSI role use it)
    assert "cross-stack-output-aws_kms_key-eks-volumes_key-arn" in params["kmsKeyId"]
    spec = _values(synthesized, env, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == sc["metadata"]["name"]
    (gp2,) = synthesized.resources(_stack(env), "kubernetes_annotations").values()
    assert (gp2["api_version"], gp2["kind"], gp2["metadata"]) == ("storage.k8s.io/v1", "StorageClass", {"name": "gp2"})
    assert gp2["annotations"] == {"storageclass.kubernetes.io/is-default-class": "false"} and gp2["force"] is True


def test_every_alert_rule_parses_and_has_severity_and_runbook(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    values = _values(synthesized, env, "kube-prometheus-stack")
    (group,) = values["additionalPrometheusRulesMap"]["qualisys"]["groups"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert set(rules) == {
        "PodCrashLooping",
        "ContainerCpuHigh",
        "ContainerMemoryHigh",
        "DatabaseConnectionPoolExhausted",
        "ApiLatencyP95High",
        "Http5xxRateHigh",
        "ErrorLogRateHigh",
        "DatabaseDown",
        "CacheDown",
        "DatabaseMetricsMissing",
        "CacheMetricsMissing",
        "Http5xxLogRateHigh",
    }
    for name, rule in rules.items():
        promql_parser.parse(rule["expr"])  # raises ValueError on a syntax error
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["runbook_url"].startswith("https://"), name
        assert rule["annotations"]["summary"], name
    assert "> 0.5" in rules["ApiLatencyP95High"]["expr"] and "0.95" in rules["ApiLatencyP95High"]["expr"]
    assert "> 0.8" in rules["ContainerCpuHigh"]["expr"] and "> 0.8" in rules["ContainerMemoryHigh"]["expr"]


def test_a_broken_expression_would_be_caught() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse(alert_rules("qualisys")[0].expr.replace("[15m]", "[15m"))


def test_dashboards_cover_cluster_application_database_with_valid_promql(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    dashboards = _values(synthesized, env, "kube-prometheus-stack")["grafana"]["dashboards"]["qualisys"]
    assert sorted(dashboards) == ["application", "cluster", "database"]
    for dashboard in dashboards.values():
        parsed = json.loads(dashboard["json"])
        for panel in parsed["panels"]:
            for target in panel["targets"]:
                promql_parser.parse(target["expr"])


def test_waf_limits_each_client_to_1000_requests_a_minute(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    acl = one(synthesized.resources(_stack(env), "aws_wafv2_web_acl"))
    rules = {r["name"]: r for r in acl["rule"]}
    rate = rules["rate-limit-per-client"]
    assert rate["statement"] == {
        "rate_based_statement": {"limit": 1000, "evaluation_window_sec": 60, "aggregate_key_type": "IP"}
    }
    assert rate["action"] == {"block": {}}
    assert rules["aws-known-bad-inputs"]["statement"]["managed_rule_group_statement"]["vendor_name"] == "AWS"
    logging = one(synthesized.resources(_stack(env), "aws_wafv2_web_acl_logging_configuration"))
    assert ref(logging["resource_arn"])[0] == "aws_wafv2_web_acl"


def test_container_logs_are_encrypted_and_kept_per_environment(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    groups = {g["name"]: g for g in synthesized.resources(_stack(env), "aws_cloudwatch_log_group").values()}
    logs = groups[f"/aws/eks/qualisys-{env.environment}/containers"]
    assert logs["retention_in_days"] == {"dev": 30, "staging": 30, "production": 90}[env.environment]
    assert ref(logs["kms_key_id"])[0] == "aws_kms_key"
    fluent = _values(synthesized, env, "aws-for-fluent-bit")["cloudWatchLogs"]
    assert fluent["logFormat"] == "json" and fluent["autoCreateGroup"] is False
    assert fluent["logRetentionDays"] == logs["retention_in_days"]


def test_each_add_on_has_its_own_irsa_role(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    documents = synthesized.data(stack, "aws_iam_policy_document")
    subjects = set()
    for role in synthesized.resources(stack, "aws_iam_role").values():
        trust = statements(documents[ref(role["assume_role_policy"])[1]])["TrustedServiceAccount"]
        (sub,) = [c for c in trust["condition"] if c["variable"].endswith(":sub")]
        subjects.add(sub["values"][0])
    assert subjects == {
        "system:serviceaccount:kube-system:aws-load-balancer-controller",
        "system:serviceaccount:monitoring:aws-for-fluent-bit",
        "system:serviceaccount:kube-system:cluster-autoscaler",
        "system:serviceaccount:monitoring:kps-alertmanager",  # publishes alerts to the environment's SNS topic
        "system:serviceaccount:kube-system:external-dns",  # the ingress hosts' records (route53_zone_name)
    }
    autoscaler = _values(synthesized, env, "cluster-autoscaler")
    release = autoscaler_release(env.eks_kubernetes_version)
    assert autoscaler["image"]["tag"] == release.image_tag
    assert _release(synthesized, env, "cluster-autoscaler")["version"] == release.chart.version
    assert (
        autoscaler["extraArgs"]["max-nodes-total"]
        == env.node_groups.general.max_size + env.node_groups.playwright.max_size
    )


def _policies(synthesized: Synthesized, env: EnvironmentConfig) -> dict[str, list[dict[str, Any]]]:
    """Every NetworkPolicy spec by the namespace it is in (the name, not the token)."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    names = {
        f"${{kubernetes_namespace_v1.{key}.metadata[0].name}}": ns["metadata"][0]["name"]
        for key, ns in synthesized.resources(_stack(env), "kubernetes_namespace_v1").items()
    }
    for policy in synthesized.resources(_stack(env), "kubernetes_network_policy_v1").values():
        namespace = policy["metadata"]["namespace"]
        by_namespace.setdefault(names.get(namespace, namespace), []).append(policy["spec"])
    return by_namespace


def _admits(rules: list[dict[str, Any]], key: str, peer: str, port: int) -> bool:
    for rule in rules:
        for side in rule.get(key) or []:
            ports = {int(p["port"]) for p in side.get("ports") or []}
            for who in side.get("from" if key == "ingress" else "to") or []:
                labels = (who.get("namespace_selector") or {}).get("match_labels") or {}
                if labels.get("kubernetes.io/metadata.name") == peer and (not ports or port in ports):
                    return True
    return False


def _allowed(policies: dict[str, list[dict[str, Any]]], source: str, target: str, port: int) -> bool:
    """Pod-to-pod traffic under default-deny: the target admits it, and the source (when this stack
    governs it: kube-system it does not) may send it."""
    inbound = _admits(policies.get(target, []), "ingress", source, port)
    outbound = source not in policies or _admits(policies[source], "egress", target, port)
    return inbound and outbound


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [
        ("kube-system", "staging", 8080, True),  # Argo Rollouts' /health analysis of the new pods
        ("kube-system", "monitoring", 9090, True),  # Argo Rollouts' error-rate query
        ("monitoring", "monitoring", 9090, True),  # Grafana to Prometheus
        ("monitoring", "staging", 8080, True),  # scraping
        ("staging", "monitoring", 9090, False),  # an app cannot read Prometheus
        ("playwright-pool", "staging", 8080, False),
        ("staging", "production", 8080, False),
    ],
)
def test_the_network_policies_are_enforced_and_admit_what_the_platform_needs(
    synthesized: Synthesized, env: EnvironmentConfig, source: str, target: str, port: int, allowed: bool
) -> None:
    (cni,) = [
        a
        for a in synthesized.resources(f"{env.environment}-cluster", "aws_eks_addon").values()
        if a["addon_name"] == "vpc-cni"
    ]
    assert json.loads(cni["configuration_values"]) == {"enableNetworkPolicy": "true"}, "else no policy is enforced"
    assert _allowed(_policies(synthesized, env), source, target, port) is allowed
