"""RBAC inside the cluster: the CI deployer's Role and the people's ClusterRoles, bound to groups.

The group names are the contract with the cluster stack's access entries, which map IAM roles to
them: :data:`qualisys_infra.core.naming.CI_DEPLOYERS_GROUP` is defined once for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from modules.platform.namespace import Namespace
from modules.platform.namespaces import APP_NAMESPACES
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import cluster_role_v1, role_binding_v1, role_v1
from qualisys_infra.core.naming import CI_DEPLOYERS_GROUP

RBAC_API_GROUP = "rbac.authorization.k8s.io"
# The RBAC group the CI deployer's IAM role is mapped to (cluster stack's access entry).
CI_ROLE = "ci-deployer"
READ_VERBS = ("get", "list", "watch")
# The CI deployer's rights (story 0.3 AC4): workloads only; no secrets, no exec, no RBAC, no wildcards.
CI_RULES = (
    (("apps",), ("deployments",)),
    (("",), ("services", "configmaps")),
    (("networking.k8s.io",), ("ingresses",)),
)
CI_VERBS = (*READ_VERBS, "create", "update", "patch")


@dataclass(frozen=True, slots=True, kw_only=True)
class PeopleRole:
    """A ClusterRole for people, bound to ``group`` in every app namespace. None reads secrets."""

    name: str
    id_: str  # construct id, kept from before the roles were a table
    group: str
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]


_WORKLOADS = ("pods", "pods/log", "services", "configmaps", "deployments", "replicasets")
PEOPLE_ROLES = (
    PeopleRole(
        name="qualisys-readonly",
        id_="readonly-role",
        group="qualisys:readonly",
        api_groups=("", "apps", "batch", "networking.k8s.io", "autoscaling"),
        resources=(*_WORKLOADS, "jobs", "cronjobs", "ingresses", "horizontalpodautoscalers", "events"),
        verbs=READ_VERBS,
    ),
    PeopleRole(
        name="qualisys-namespace-admin",
        id_="namespace-admin-role",
        group="qualisys:namespace-admins",
        api_groups=("", "apps", "batch", "networking.k8s.io", "autoscaling", "policy"),
        resources=(
            *_WORKLOADS,
            "statefulsets",
            "jobs",
            "cronjobs",
            "ingresses",
            "horizontalpodautoscalers",
            "poddisruptionbudgets",
            "events",
        ),
        verbs=(*READ_VERBS, "create", "update", "patch", "delete"),
    ),
)


class RoleKind(StrEnum):
    ROLE = "Role"
    CLUSTER_ROLE = "ClusterRole"


def bind_group(
    scope: Construct, id_: str, *, role: str, kind: RoleKind, namespace: str, group: str
) -> role_binding_v1.RoleBindingV1:
    """A RoleBinding named ``role`` in ``namespace`` granting ``role`` (a Role or ClusterRole) to ``group``."""
    return role_binding_v1.RoleBindingV1(
        scope,
        id_,
        metadata=role_binding_v1.RoleBindingV1Metadata(name=role, namespace=namespace),
        role_ref=role_binding_v1.RoleBindingV1RoleRef(api_group=RBAC_API_GROUP, kind=kind.value, name=role),
        subject=[role_binding_v1.RoleBindingV1Subject(kind="Group", name=group, api_group=RBAC_API_GROUP)],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformRbacProps:
    """The namespaces to bind in, by name.

    The CI deployer's Role exists only in ``ci_namespace`` (when that namespace exists); the
    people's ClusterRoles are bound in each of ``app_namespaces`` that exists.
    """

    namespaces: Mapping[str, Namespace]
    ci_namespace: str = "staging"
    app_namespaces: tuple[str, ...] = APP_NAMESPACES


class PlatformRbac(Construct):
    """The CI deployer's Role bound to :data:`CI_DEPLOYERS_GROUP`, and the ClusterRoles
    ``qualisys-readonly`` and ``qualisys-namespace-admin`` bound to their groups per app namespace."""

    def __init__(self, scope: Construct, id_: str, *, props: PlatformRbacProps) -> None:
        super().__init__(scope, id_)
        ci = props.namespaces.get(props.ci_namespace)
        if ci is not None:
            role_v1.RoleV1(
                self,
                "ci-deployer-role",
                metadata=[role_v1.RoleV1Metadata(name=CI_ROLE, namespace=ci.token)],
                rule=[
                    role_v1.RoleV1Rule(api_groups=list(groups), resources=list(resources), verbs=list(CI_VERBS))
                    for groups, resources in CI_RULES
                ],
            )
            bind_group(
                self,
                "ci-deployer-binding",
                role=CI_ROLE,
                kind=RoleKind.ROLE,
                namespace=ci.token,
                group=CI_DEPLOYERS_GROUP,
            )
        for role in PEOPLE_ROLES:
            cluster_role_v1.ClusterRoleV1(
                self,
                role.id_,
                metadata=cluster_role_v1.ClusterRoleV1Metadata(name=role.name),
                rule=[
                    cluster_role_v1.ClusterRoleV1Rule(
                        api_groups=list(role.api_groups), resources=list(role.resources), verbs=list(role.verbs)
                    )
                ],
            )
        for name in props.app_namespaces:
            namespace = props.namespaces.get(name)
            if namespace is None:
                continue
            for role in PEOPLE_ROLES:
                bind_group(
                    self,
                    f"{role.name}-{name}",
                    role=role.name,
                    kind=RoleKind.CLUSTER_ROLE,
                    namespace=namespace.token,
                    group=role.group,
                )
