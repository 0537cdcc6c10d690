"""The Kubernetes provider bindings (``cdktn-provider-kubernetes``) the platform and apps stacks use."""

from __future__ import annotations

from cdktn_provider_kubernetes import annotations as object_annotations  # `annotations` is __future__'s name
from cdktn_provider_kubernetes import (
    cluster_role_binding_v1,
    cluster_role_v1,
    config_map_v1,
    deployment_v1,
    ingress_v1,
    limit_range_v1,
    manifest,
    namespace_v1,
    network_policy_v1,
    provider,
    resource_quota_v1,
    role_binding_v1,
    role_v1,
    service_account_v1,
    service_v1,
    storage_class_v1,
)

__all__ = [
    "cluster_role_binding_v1",
    "cluster_role_v1",
    "config_map_v1",
    "deployment_v1",
    "ingress_v1",
    "limit_range_v1",
    "manifest",
    "namespace_v1",
    "network_policy_v1",
    "object_annotations",
    "provider",
    "resource_quota_v1",
    "role_binding_v1",
    "role_v1",
    "service_account_v1",
    "service_v1",
    "storage_class_v1",
]
