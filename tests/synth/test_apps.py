"""The `<env>-apps` stacks as synthesized: every Kubernetes object valid against the real schemas,
the image tag a plan input, the strategy per environment, the objects every workload needs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modules.apps.objects import CANARY_WEIGHTS
from modules.platform.edge import TLS_POLICY
from qualisys_infra.core.naming import SERVICES, image_tag_variable
from tests.apps.schemas import validate
from tests.conftest import Synthesized

ENVIRONMENTS = ("dev", "staging", "production")


def _objects(synthesized: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    return {name: r["manifest"] for name, r in synthesized.resources(f"{env}-apps", "kubernetes_manifest").items()}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_object_of_every_workload_is_valid(synthesized: Synthesized, env: str) -> None:
    objects = _objects(synthesized, env)
    version = next(e for e in synthesized.settings.environments if e.environment == env).eks_kubernetes_version
    kinds = [o["kind"] for o in objects.values()]
    for service in SERVICES:
        assert sum(1 for o in objects.values() if o["kind"] == "Rollout" and o["metadata"]["name"] == service) == 1
    for kind in ("Rollout", "AnalysisTemplate", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"):
        assert kinds.count(kind) == len(SERVICES), kind
    for obj in objects.values():
        validate(obj, version)
        assert obj["metadata"]["namespace"] == env


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_image_tag_is_a_validated_plan_input_and_an_output(synthesized: Synthesized, env: str) -> None:
    stack = synthesized.stacks[f"{env}-apps"]
    for service in SERVICES:
        name = image_tag_variable(service)
        variable = stack["variable"][name]
        assert variable["type"] == "string" and variable["nullable"] is False and "default" not in variable
        (rule,) = variable["validation"]
        assert f"var.{name}" in rule["condition"] and "\\." not in rule["condition"]
        (rollout,) = [o for o in _objects(synthesized, env).values() if o["kind"] == "Rollout"]
        (container,) = rollout["spec"]["template"]["spec"]["containers"]
        assert container["image"].endswith(f"/qualisys-{service}:${{var.{name}}}")
        # the account stack's repositories, in the account's region whatever the environment's
        registry = container["image"].split("/", 1)[0]
        assert registry.endswith(f".dkr.ecr.{synthesized.settings.account.region}.amazonaws.com"), registry
        assert stack["output"]["image_tags"]["value"] == {service: f"${{var.{name}}}"}


def _rollout_path(objects: dict[str, dict[str, Any]], host: str) -> dict[str, Any]:
    """What decides how a release reaches users: the Rollout's strategy and rollback window, the
    analysis' metrics and conditions, the ingress's routing (its host aside), the services."""
    by_kind: dict[str, Any] = {}
    for name, obj in sorted(objects.items()):
        spec = obj["spec"]
        if obj["kind"] == "Rollout":
            by_kind[name] = {"strategy": spec["strategy"], "rollbackWindow": spec.get("rollbackWindow")}
        elif obj["kind"] == "AnalysisTemplate":
            by_kind[name] = [
                {k: v for k, v in m.items() if k != "provider"} | {"provider": sorted(m["provider"])}
                for m in spec["metrics"]
            ]
        elif obj["kind"] in ("Ingress", "Service"):
            by_kind[name] = json.loads(json.dumps(spec).replace(host, "HOST"))
        else:
            by_kind[name] = obj["kind"]
    return by_kind


def test_staging_rehearses_the_production_rollout(synthesized: Synthesized) -> None:
    """Story 0.12 AC4: staging (and dev) roll out exactly as production does: the same canary steps
    with ALB traffic weights and analysis, the same objects at the same addresses."""
    paths = {}
    for env in ENVIRONMENTS:
        host = next(e for e in synthesized.settings.environments if e.environment == env).ingress_domain
        paths[env] = _rollout_path(_objects(synthesized, env), host)
    (rollout,) = [o for o in _objects(synthesized, "production").values() if o["kind"] == "Rollout"]
    canary = rollout["spec"]["strategy"]["canary"]
    assert [s["setWeight"] for s in canary["steps"] if "setWeight" in s] == list(CANARY_WEIGHTS)
    assert sum(1 for s in canary["steps"] if "analysis" in s) == len(CANARY_WEIGHTS) - 1
    assert canary["trafficRouting"] == {"alb": {"ingress": "hello", "servicePort": 80}}
    assert paths["staging"] == paths["production"]  # the same objects at the same addresses, the same path
    assert paths["dev"] == paths["production"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_ingress_goes_through_the_platform_edge_on_the_environment_host(synthesized: Synthesized, env: str) -> None:
    (ingress,) = [o for o in _objects(synthesized, env).values() if o["kind"] == "Ingress"]
    config = next(e for e in synthesized.settings.environments if e.environment == env)
    assert ingress["spec"]["rules"][0]["host"] == config.ingress_domain
    annotations = ingress["metadata"]["annotations"]
    # the certificate and web ACL are the platform stack's, read through its outputs
    for key in ("alb.ingress.kubernetes.io/certificate-arn", "alb.ingress.kubernetes.io/wafv2-acl-arn"):
        assert "terraform_remote_state" in annotations[key] and f"{env}-platform" in annotations[key], key
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/health"
    assert annotations["alb.ingress.kubernetes.io/ssl-policy"] == TLS_POLICY
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"


def test_the_platform_installs_argo_rollouts_and_no_workload(synthesized: Synthesized) -> None:
    for env in ENVIRONMENTS:
        releases = synthesized.resources(f"{env}-platform", "helm_release")
        (argo,) = [r for r in releases.values() if r["chart"] == "argo-rollouts"]
        assert argo["namespace"] == "kube-system" and argo["version"]
        platform = json.dumps(synthesized.stacks[f"{env}-platform"])
        assert "kubernetes_deployment_v1" not in platform and '"hello"' not in platform


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_what_argo_changes_after_apply_is_not_put_back_by_every_plan(synthesized: Synthesized, env: str) -> None:
    """Argo Rollouts adds the pod-template hash to the services' selectors and the weighted action to
    the ingress's annotations: those fields are computed, or every plan would show an update."""
    for name, resource in synthesized.resources(f"{env}-apps", "kubernetes_manifest").items():
        kind = resource["manifest"]["kind"]
        computed = resource.get("computed_fields")
        if kind == "Service":
            assert computed == ["metadata.labels", "metadata.annotations", "spec.selector"], name
        else:
            assert computed is None, name  # the provider's default: labels and annotations
        assert "replicas" not in resource["manifest"].get("spec", {}) or kind != "Rollout", name
