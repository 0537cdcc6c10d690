"""The pipeline's plan role inside each cluster: it can refresh every Kubernetes object the in-cluster
stacks manage, reads nothing else, never Secrets; and which stacks it must plan without refresh."""

from __future__ import annotations

import pytest

from modules.platform.kinds import MANIFEST_RESOURCES, PROVIDER_RESOURCES, SCHEMA_RESOURCES, api_group
from modules.platform.plan_reader import PLAN_READER_ROLE
from qualisys_infra.core.naming import PLAN_READERS_GROUP, plan_role_name
from qualisys_infra.terraform.secret_reads import leave_out, secret_reads
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

RBAC = "rbac.authorization.k8s.io"


def _managed(synthesized: Synthesized, env: str) -> set[tuple[str, str]]:
    """(API group, resource) of every Kubernetes object the environment's stacks synthesize; an object
    of a type or kind the plan reader's tables do not know fails here, naming it."""
    managed: set[tuple[str, str]] = set()
    for stack in synthesized.stacks:
        if not stack.startswith(f"{env}-"):
            continue
        for type_, by_name in (synthesized.stacks[stack].get("resource") or {}).items():
            if type_ == "kubernetes_manifest":
                for name, body in by_name.items():
                    manifest = body["manifest"]
                    key = (api_group(manifest["apiVersion"]), manifest["kind"])
                    assert key in MANIFEST_RESOURCES, f"{stack}: kubernetes_manifest.{name}: {key} not in the table"
                    managed.add((key[0], MANIFEST_RESOURCES[key]))
            elif type_.startswith("kubernetes_"):
                assert type_ in PROVIDER_RESOURCES, f"{stack}: {type_} not in kinds.PROVIDER_RESOURCES"
                managed.add(PROVIDER_RESOURCES[type_])
    return managed


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_the_plan_reader_reads_exactly_what_the_stacks_manage(synthesized: Synthesized, env: str) -> None:
    stack = f"{env}-platform"
    (role,) = [
        r
        for r in synthesized.resources(stack, "kubernetes_cluster_role_v1").values()
        if r["metadata"]["name"] == PLAN_READER_ROLE
    ]
    granted = set()
    for rule in role["rule"]:
        assert rule["verbs"] == ["get", "list", "watch"], rule
        assert len(rule["api_groups"]) == 1, rule
        granted |= {(rule["api_groups"][0], resource) for resource in rule["resources"]}
    assert not any(resource in ("secrets", "*") or group == "*" for group, resource in granted)
    # One table for every cluster: what the stacks manage in any environment (dev has no release
    # role, so no Role of its own; the others have one).
    managed = set().union(*(_managed(synthesized, e) for e in ENVIRONMENT_NAMES))
    assert granted == managed | set(SCHEMA_RESOURCES)
    (binding,) = [
        b
        for b in synthesized.resources(stack, "kubernetes_cluster_role_binding_v1").values()
        if b["metadata"]["name"] == PLAN_READER_ROLE
    ]
    assert binding["role_ref"] == {"api_group": RBAC, "kind": "ClusterRole", "name": PLAN_READER_ROLE}
    assert binding["subject"] == [{"kind": "Group", "name": PLAN_READERS_GROUP, "api_group": RBAC}]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_the_plan_role_is_mapped_to_the_plan_readers_and_nothing_else(synthesized: Synthesized, env: str) -> None:
    stack = f"{env}-cluster"
    role = plan_role_name(synthesized.settings.account.project)
    (entry,) = [
        e
        for e in synthesized.resources(stack, "aws_eks_access_entry").values()
        if e["principal_arn"].endswith(f"/{role}")
    ]
    assert entry["kubernetes_groups"] == [PLAN_READERS_GROUP]
    associations = synthesized.resources(stack, "aws_eks_access_policy_association").values()
    assert not [a for a in associations if a["principal_arn"].endswith(f"/{role}")], "no EKS access policy"


def test_only_stacks_with_helm_releases_are_planned_without_refresh(synthesized: Synthesized) -> None:
    """What `plan --no-secret-reads` does per stack, on every stack synthesized: the platform stacks
    (Helm releases) are planned with -refresh=false; every other stack is refreshed; none reads a
    Secret through a data source (which no flag could avoid)."""
    without_refresh = []
    for stack in synthesized.stacks:
        reads = secret_reads(synthesized.stacks[stack])
        assert reads.always == (), stack
        if reads.on_refresh:
            assert {address.split(".")[0] for address in reads.on_refresh} == {"helm_release"}, stack
            without_refresh.append(stack)
            # the drift check leaves out exactly the Helm releases: nothing else refers to them
            assert leave_out(synthesized.stacks[stack], reads)[1] == reads.on_refresh, stack
    assert sorted(without_refresh) == sorted(f"{env}-platform" for env in ENVIRONMENT_NAMES)
