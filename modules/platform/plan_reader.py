"""The pipeline's plan role inside the cluster: read what the in-cluster stacks manage, never Secrets.

Refreshing a Kubernetes object reads it from the API server, so the plan role (pull requests, drift,
deploy's plan jobs) must read every kind of object the platform and apps stacks manage; threat model
row 2 says CI reads no secrets. An EKS access policy cannot express that (AmazonEKSViewPolicy shows
neither RBAC objects nor custom resources such as Rollouts), so the cluster stack maps the plan role
to :data:`PLAN_READERS_GROUP` and this ClusterRole grants the group get/list/watch on exactly the
kinds in :data:`PROVIDER_RESOURCES` and :data:`MANIFEST_RESOURCES`. The synth tests check that these
tables cover every object the stacks synthesize and nothing more, and that no rule names Secrets.
Helm releases are not refreshed by the plan role at all (their records are Secrets): see
:mod:`qualisys_infra.terraform.secret_reads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from modules.platform.rbac import RBAC_API_GROUP, READ_VERBS
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import cluster_role_binding_v1, cluster_role_v1
from qualisys_infra.core.naming import PLAN_READERS_GROUP

PLAN_READER_ROLE = "pipeline-plan-reader"

# Each kubernetes provider resource type the stacks use: the (API group, resource) it manages.
PROVIDER_RESOURCES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "kubernetes_namespace_v1": ("", "namespaces"),
        "kubernetes_config_map_v1": ("", "configmaps"),  # fluent-bit's Lua redaction filter
        "kubernetes_limit_range_v1": ("", "limitranges"),
        "kubernetes_resource_quota_v1": ("", "resourcequotas"),
        "kubernetes_network_policy_v1": ("networking.k8s.io", "networkpolicies"),
        "kubernetes_role_v1": (RBAC_API_GROUP, "roles"),
        "kubernetes_role_binding_v1": (RBAC_API_GROUP, "rolebindings"),
        "kubernetes_cluster_role_v1": (RBAC_API_GROUP, "clusterroles"),
        "kubernetes_cluster_role_binding_v1": (RBAC_API_GROUP, "clusterrolebindings"),
        "kubernetes_storage_class_v1": ("storage.k8s.io", "storageclasses"),
        "kubernetes_service_account_v1": ("", "serviceaccounts"),  # the in-cluster runners' (runners.py)
        # The stacks annotate one kind of object they do not own: EKS's gp2 StorageClass.
        "kubernetes_annotations": ("storage.k8s.io", "storageclasses"),
    }
)
# Each (API group, kind) of the apps stack's kubernetes_manifest objects: the resource it is served as.
MANIFEST_RESOURCES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("", "Service"): "services",
        ("networking.k8s.io", "Ingress"): "ingresses",
        ("autoscaling", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
        ("policy", "PodDisruptionBudget"): "poddisruptionbudgets",
        ("argoproj.io", "Rollout"): "rollouts",
        ("argoproj.io", "AnalysisTemplate"): "analysistemplates",
        ("monitoring.coreos.com", "PodMonitor"): "podmonitors",
    }
)
# kubernetes_manifest looks a custom kind up among the CRDs to find its schema, even to plan.
SCHEMA_RESOURCES = (("apiextensions.k8s.io", "customresourcedefinitions"),)


def api_group(api_version: str) -> str:
    """The API group of an ``apiVersion`` ("" for the core group's ``v1``)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


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
