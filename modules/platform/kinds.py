"""What the in-cluster stacks manage, in the API server's terms: pure tables, no engine.

The RBAC vocabulary (:data:`RBAC_API_GROUP`, :data:`READ_VERBS`) and each kind of object the platform
and apps stacks manage, as the (API group, resource) RBAC rules name it. Both role builders read
them: :mod:`modules.platform.rbac` (the CI deployer manages exactly the apps stack's kinds) and
:mod:`modules.platform.plan_reader` (the plan role reads every kind here); neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

RBAC_API_GROUP = "rbac.authorization.k8s.io"
READ_VERBS = ("get", "list", "watch")

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
