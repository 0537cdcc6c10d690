"""Everything the charts and objects reference exists (issue 23, item 1): every StorageClass,
ServiceAccount, Secret, ConfigMap, Service, Namespace, PriorityClass, IngressClass, CSI driver, API
service and custom kind that an environment's Helm values or Kubernetes objects name is created by
some stack, chart, EKS add-on, EKS or Kubernetes (tests/synth/references.py says how each is found;
modules/platform/cluster_objects.py lists what each chart creates, with its source)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from modules.platform.cluster_objects import (
    DEFAULT_STORAGE_CLASS,
    Kind,
    ObjectRef,
    api_kind,
    chart_objects,
)
from qualisys_infra.core.settings import EnvironmentConfig
from qualisys_infra.delivery import testpool
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.synth.references import Environment, missing

RUNNER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/qualisys-playwright-runner:1.4.0"


def _env(synthesized: Synthesized, name: str) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == name)


def _check(stacks: dict[str, Any], env: EnvironmentConfig) -> tuple[list[str], Environment]:
    environment = Environment(stacks, env.environment, env.eks_kubernetes_version)
    job = ("qualisys-infra testpool job (test_pool)", testpool.render_job(env, image=RUNNER_IMAGE))
    return missing(environment.references([job]), environment.created()), environment


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_referenced_cluster_object_is_created(synthesized: Synthesized, name: str) -> None:
    problems, _ = _check(synthesized.stacks, _env(synthesized, name))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_references_found_include_what_the_platform_depends_on(synthesized: Synthesized, name: str) -> None:
    """The check reads values, manifests, provider resources, IRSA trusts and the test pool's Job:
    a reader that found nothing would pass the test above vacuously."""
    env = _env(synthesized, name)
    environment = Environment(synthesized.stacks, name, env.eks_kubernetes_version)
    job = ("testpool job", testpool.render_job(env, image=RUNNER_IMAGE))
    found = {r.target for r in environment.references([job])}
    expected = {
        ObjectRef(Kind.STORAGE_CLASS, DEFAULT_STORAGE_CLASS),  # Prometheus' volume claim (values)
        ObjectRef(Kind.CSI_DRIVER, "ebs.csi.aws.com"),  # the StorageClass's provisioner
        ObjectRef(Kind.INGRESS_CLASS, "alb"),  # the apps' Ingress
        ObjectRef(Kind.SERVICE, "kps-prometheus", "monitoring"),  # the rollout analysis' query URL
        ObjectRef(Kind.SERVICE, "hello-stable", name),  # the app namespace is named after the environment
        ObjectRef(Kind.ANALYSIS_TEMPLATE, "hello-health", name),
        ObjectRef(Kind.SERVICE_ACCOUNT, "ebs-csi-controller-sa", "kube-system"),  # IRSA trust
        ObjectRef(Kind.SERVICE_ACCOUNT, "kps-alertmanager", "monitoring"),  # IRSA trust of the SNS publisher
        ObjectRef(Kind.API_SERVICE, "v1beta1.metrics.k8s.io"),  # the HPA's CPU metric
        ObjectRef(Kind.NAMESPACE, "playwright-pool"),  # the test pool's Job
        api_kind("argoproj.io/v1alpha1", "Rollout"),
        api_kind("monitoring.coreos.com/v1", "ServiceMonitor"),  # Argo Rollouts' values turn one on
    }
    assert expected <= found, sorted(str(r) for r in expected - found)


# One planted object per kind of reference: each names something nothing creates.
_POD = {"containers": [{"name": "c", "image": "busybox"}]}
PLANTS: dict[str, tuple[dict[str, Any], str]] = {
    "StorageClass": (
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "p", "namespace": "staging"},
            "spec": {"storageClassName": "gp9", "accessModes": ["ReadWriteOnce"]},
        },
        "StorageClass gp9",
    ),
    "ServiceAccount": (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "staging"},
            "spec": {**_POD, "serviceAccountName": "ghost"},
        },
        "ServiceAccount ghost in namespace staging",
    ),
    "Secret": (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "staging"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "ghost", "key": "k"}}}],
                    }
                ]
            },
        },
        "Secret ghost in namespace staging",
    ),
    "ConfigMap": (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "staging"},
            "spec": {**_POD, "volumes": [{"name": "v", "configMap": {"name": "ghost"}}]},
        },
        "ConfigMap ghost in namespace staging",
    ),
    "CRD": (
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "staging"}},
        "APIKind example.com/v1/Widget",
    ),
    "PriorityClass": (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "staging"},
            "spec": {**_POD, "priorityClassName": "urgent"},
        },
        "PriorityClass urgent",
    ),
    "IngressClass": (
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "staging"},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "hello-stable", "port": {"number": 80}}},
            },
        },
        "IngressClass nginx",
    ),
    "Namespace": (
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "qa"}},
        "Namespace qa",
    ),
    "Service": (
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "a", "namespace": "staging"},
            "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://ghost.monitoring.svc:80/x"}}}]},
        },
        "Service ghost in namespace monitoring",
    ),
}


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_fails_if_a_reference_names_a_missing_object(synthesized: Synthesized, kind: str) -> None:
    env = _env(synthesized, "staging")
    stacks = copy.deepcopy(synthesized.stacks)
    manifest, expected = PLANTS[kind]
    stacks["staging-apps"]["resource"]["kubernetes_manifest"]["planted"] = {"manifest": manifest}
    problems, _ = _check(stacks, env)
    assert len(problems) == 1, problems
    assert problems[0].startswith("staging-apps: kubernetes_manifest.planted")
    assert f"names {expected}, which no stack, chart, add-on, EKS or Kubernetes creates" in problems[0]


def test_fails_if_chart_values_name_a_missing_storage_class(synthesized: Synthesized) -> None:
    """The issue's own case: Prometheus' claim named a class no stack created."""
    env = _env(synthesized, "staging")
    stacks = copy.deepcopy(synthesized.stacks)
    releases = stacks["staging-platform"]["resource"]["helm_release"]
    (release,) = [r for r in releases.values() if r["name"] == "kube-prometheus-stack"]
    values = yaml.safe_load(release["values"][0])
    values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] = "gp9"
    release["values"] = [yaml.safe_dump(values)]
    problems, _ = _check(stacks, env)
    assert problems == [
        "staging-platform: helm_release.add-ons_kube-prometheus-stack.values[0] "
        "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName: names StorageClass gp9, "
        "which no stack, chart, add-on, EKS or Kubernetes creates"
    ]


def test_fails_if_an_irsa_role_trusts_a_service_account_nothing_creates(synthesized: Synthesized) -> None:
    env = _env(synthesized, "staging")
    stacks = copy.deepcopy(synthesized.stacks)
    documents = stacks["staging-platform"]["data"]["aws_iam_policy_document"]
    trust = next(d for name, d in documents.items() if name.endswith("fluent-bit-role_trust"))
    (sub,) = [c for c in trust["statement"][0]["condition"] if c["variable"].endswith(":sub")]
    sub["values"] = ["system:serviceaccount:monitoring:fluent-bit"]
    problems, _ = _check(stacks, env)
    assert len(problems) == 1 and "names ServiceAccount fluent-bit in namespace monitoring" in problems[0], problems


def test_the_chart_table_follows_the_values_names() -> None:
    """Names come from the values (fullnameOverride, serviceAccount.name), as the charts' helpers do."""
    created = {
        c.ref
        for c in chart_objects(
            "kube-prometheus-stack",
            release="kube-prometheus-stack",
            values={"fullnameOverride": "kps", "grafana": {}},
            namespace="monitoring",
        )
    }
    # without its own fullnameOverride, Grafana is named after the release, not after "kps"
    assert ObjectRef(Kind.SERVICE, "kube-prometheus-stack-grafana", "monitoring") in created
    assert ObjectRef(Kind.SERVICE, "kps-grafana", "monitoring") not in created
    assert ObjectRef(Kind.SERVICE_ACCOUNT, "kps-alertmanager", "monitoring") in created
    with pytest.raises(ValueError, match=r"chart 'nginx': not in modules/platform/cluster_objects\.py"):
        chart_objects("nginx", release="x", values={}, namespace="y")
