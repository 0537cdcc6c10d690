"""100 concurrent Playwright runners (NFR-S2), computed from what the stacks deploy: the playwright-pool
ResourceQuota and LimitRange of the platform stack and the playwright node group of the cluster stack
must admit that many runner pods of test_pool's requests and limits in staging and production; dev
admits what its smaller quota allows, and this test says how many."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.core import playwright_pool
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

NFR_S2_RUNNERS = 100
# What each environment admits at once with the shipped settings (dev: its quota of 8 CPU, 16Gi).
ADMITTED = {"dev": 16, "staging": 100, "production": 100}


def _in_namespace(synthesized: Synthesized, stack: str, type_: str, namespace: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in synthesized.resources(stack, type_).values()
        if f"ns-{namespace}_namespace" in r["metadata"]["namespace"]
    ]
    return found


def admitted_runners(synthesized: Synthesized, env: EnvironmentConfig) -> tuple[int, dict[str, int]]:
    """Runner pods admitted at once, and by what: each quota dimension and the node group at max_size."""
    pool = env.test_pool
    cpu_request, cpu_limit = (
        playwright_pool.cpu_millicores(pool.cpu_request),
        playwright_pool.cpu_millicores(pool.cpu_limit),
    )
    memory_request, memory_limit = (
        playwright_pool.memory_bytes(pool.memory_request),
        playwright_pool.memory_bytes(pool.memory_limit),
    )
    platform, cluster = f"{env.environment}-platform", f"{env.environment}-cluster"
    hard = _in_namespace(synthesized, platform, "kubernetes_resource_quota_v1", playwright_pool.NAMESPACE)["spec"][
        "hard"
    ]
    by = {
        "quota pods": int(hard["pods"]),
        "quota requests.cpu": playwright_pool.cpu_millicores(hard["requests.cpu"]) // cpu_request,
        "quota requests.memory": playwright_pool.memory_bytes(hard["requests.memory"]) // memory_request,
        "quota limits.cpu": playwright_pool.cpu_millicores(hard["limits.cpu"]) // cpu_limit,
        "quota limits.memory": playwright_pool.memory_bytes(hard["limits.memory"]) // memory_limit,
    }
    (group,) = [
        g for g in synthesized.resources(cluster, "aws_eks_node_group").values() if g["node_group_name"] == "playwright"
    ]
    per_node = []
    for instance_type in group["instance_types"]:
        fit = playwright_pool.runners_per_node(instance_type, cpu_request, memory_request)
        assert fit is not None, instance_type
        per_node.append(fit.runners)
    by["node group (pods per node x max_size)"] = min(per_node) * group["scaling_config"]["max_size"]
    # A LimitRange max or min below or above a runner's would refuse every runner pod.
    limits = _in_namespace(synthesized, platform, "kubernetes_limit_range_v1", playwright_pool.NAMESPACE)["spec"][
        "limit"
    ]
    for limit in limits:
        assert not limit.get("max") and not limit.get("min"), "no LimitRange bound to check runners against"
    return min(by.values()), by


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_playwright_pool_admits_its_concurrent_runners(synthesized: Synthesized, name: str) -> None:
    env = next(e for e in synthesized.settings.environments if e.environment == name)
    admitted, by = admitted_runners(synthesized, env)
    assert admitted == ADMITTED[name], by
    assert admitted >= env.test_pool.admitted_runners >= env.test_pool.runners
    if name != "dev":
        assert admitted >= NFR_S2_RUNNERS and env.test_pool.concurrent_runners >= NFR_S2_RUNNERS, by


def test_the_spec_cap_leaves_room_for_nfr_s2(synthesized: Synthesized) -> None:
    """20 playwright nodes (the spec's cap) of c5.xlarge hold 120 runners of 500m/1Gi: 100 fit under it."""
    fit = playwright_pool.runners_per_node("c5.xlarge", 500, playwright_pool.memory_bytes("1Gi"))
    assert fit is not None and fit.runners * 20 >= NFR_S2_RUNNERS
