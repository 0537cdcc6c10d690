"""The pipeline's plan role inside the cluster: read what the in-cluster stacks manage, never Secrets.

Refreshing a Kubernetes object reads it from the API server, so the plan role (pull requests, drift,
deploy's plan jobs) must read every kind of object the platform and apps stacks manage; threat model
row 2 says CI reads no secrets. An EKS access policy cannot express that (AmazonEKSViewPolicy shows
neither RBAC objects nor custom resources such as Rollouts), so the cluster stack maps the plan role
to :data:`PLAN_READERS_GROUP` and this ClusterRole grants the group get/list/watch on exactly the
kinds in :data:`~modules.platform.kinds.PROVIDER_RESOURCES` and
:data:`~modules.platform.kinds.MANIFEST_RESOURCES`. The synth tests check that these
tables cover every object the stacks synthesize and nothing more, and that no rule names Secrets.
Helm releases are not refreshed by the plan role at all (their records are Secrets): see
:mod:`qualisys_infra.terraform.secret_reads`.
"""

from __future__ import annotations

from collections.abc import Iterable

from modules.platform.kinds import (
    MANIFEST_RESOURCES,
    PROVIDER_RESOURCES,
    RBAC_API_GROUP,
    READ_VERBS,
    SCHEMA_RESOURCES,
)
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import cluster_role_binding_v1, cluster_role_v1
from qualisys_infra.core.naming import PLAN_READERS_GROUP

PLAN_READER_ROLE = "pipeline-plan-reader"


def plan_reader_grants() -> dict[str, tuple[str, ...]]:
    """API group -> the resources the plan role reads in it (sorted; the ClusterRole's rules)."""
    pairs: Iterable[tuple[str, str]] = (
        *PROVIDER_RESOURCES.values(),
        *((group, resource) for (group, _kind), resource in MANIFEST_RESOURCES.items()),
        *SCHEMA_RESOURCES,
    )
    grants: dict[str, set[str]] = {}
    for group, resource in pairs:
        grants.setdefault(group, set()).add(resource)
    return {group: tuple(sorted(grants[group])) for group in sorted(grants)}


class PlanReader(Construct):
    """The ClusterRole :data:`PLAN_READER_ROLE` (read-only, no Secrets) bound to :data:`PLAN_READERS_GROUP`."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        cluster_role_v1.ClusterRoleV1(
            self,
            "role",
            metadata=cluster_role_v1.ClusterRoleV1Metadata(name=PLAN_READER_ROLE),
            rule=[
                cluster_role_v1.ClusterRoleV1Rule(api_groups=[group], resources=list(resources), verbs=list(READ_VERBS))
                for group, resources in plan_reader_grants().items()
            ],
        )
        cluster_role_binding_v1.ClusterRoleBindingV1(
            self,
            "binding",
            metadata=cluster_role_binding_v1.ClusterRoleBindingV1Metadata(name=PLAN_READER_ROLE),
            role_ref=cluster_role_binding_v1.ClusterRoleBindingV1RoleRef(
                api_group=RBAC_API_GROUP, kind="ClusterRole", name=PLAN_READER_ROLE
            ),
            subject=[
                cluster_role_binding_v1.ClusterRoleBindingV1Subject(
                    kind="Group", name=PLAN_READERS_GROUP, api_group=RBAC_API_GROUP
                )
            ],
        )
