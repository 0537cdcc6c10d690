"""The synthesized apps and platform stacks agree on who reaches which port of a service's pods:
Prometheus (from ``monitoring``) reaches the port the PodMonitor scrapes; the load balancer (the VPC)
reaches the public port and nothing else, so never readiness or metrics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ENVIRONMENT_NAMES, Synthesized


def _policies(synthesized: Synthesized, env: str, namespace: str) -> dict[str, dict[str, Any]]:
    """The network policies of one namespace of the environment's platform stack, by name."""
    found = synthesized.resources(f"{env}-platform", "kubernetes_network_policy_v1").values()
    reference = f".ns-{namespace}_namespace."  # metadata.namespace refers to the namespace resource
    return {p["metadata"]["name"]: p["spec"] for p in found if reference in str(p["metadata"]["namespace"])}


def _ports(spec: dict[str, Any], direction: str = "ingress") -> set[int]:
    return {int(port["port"]) for rule in spec.get(direction, []) for port in rule.get("ports", [])}


def _container_ports(synthesized: Synthesized, env: str) -> tuple[dict[str, int], str]:
    objects = [r["manifest"] for r in synthesized.resources(f"{env}-apps", "kubernetes_manifest").values()]
    (rollout,) = [o for o in objects if o["kind"] == "Rollout"]
    (container,) = rollout["spec"]["template"]["spec"]["containers"]
    (monitor,) = [o for o in objects if o["kind"] == "PodMonitor"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    return {p["name"]: int(p["containerPort"]) for p in container["ports"]}, endpoint["port"]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_prometheus_reaches_the_scraped_port_and_the_load_balancer_only_the_public_one(
    synthesized: Synthesized, env: str
) -> None:
    ports, scraped = _container_ports(synthesized, env)
    policies = _policies(synthesized, env, env)
    assert policies, f"no network policy found for namespace {env}"
    assert ports[scraped] in _ports(policies["allow-scraping"]), f"{env}: Prometheus may not reach {scraped}"
    monitoring = _policies(synthesized, env, "monitoring")
    assert ports[scraped] in _ports(monitoring[f"allow-scrape-{env}"], "egress"), f"{env}: Prometheus may not send"
    assert _ports(policies["allow-load-balancer"]) == {ports["http"]}
    assert ports["internal"] not in _ports(policies["allow-rollout-analysis"])
