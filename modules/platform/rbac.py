"""RBAC inside the cluster: the CI deployer's Role and the people's ClusterRoles, bound to groups.

The group names are the contract with the cluster stack's access entries, which map IAM roles to
them: :data:`qualisys_infra.core.naming.CI_DEPLOYERS_GROUP` is defined once for both.

The CI deployer is the service-release role of the environment (``qualisys-infra release`` in
service-release.yml): its Role ``ci-deployer`` exists only in the namespace the environment's apps
stack deploys to, and lets it manage exactly the kinds of object the apps stack manages
(:data:`~modules.platform.kinds.MANIFEST_RESOURCES`: Rollouts, AnalysisTemplates, Services,
Ingresses, HorizontalPodAutoscalers, PodDisruptionBudgets, PodMonitors), abort or promote a Rollout
(its status), and read what following a rollout reads (AnalysisRuns, ReplicaSets, Pods, Events).
No Secrets, no ConfigMaps (the apps stack has none), no ``pods/exec``, ``pods/attach`` or
``pods/portforward``, no RBAC, no wildcard. Cluster-wide it reads only CustomResourceDefinitions,
which the kubernetes provider looks a custom kind's schema up in to plan a ``kubernetes_manifest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from modules.platform.kinds import MANIFEST_RESOURCES, RBAC_API_GROUP, READ_VERBS
from modules.platform.namespace import Namespace
from modules.platform.namespaces import app_namespaces
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import (
    cluster_role_binding_v1,
    cluster_role_v1,
    role_binding_v1,
    role_v1,
)
from qualisys_infra.core.naming import CI_DEPLOYERS_GROUP

# The Role (in the release namespace) and ClusterRole (CRDs, read) bound to CI_DEPLOYERS_GROUP.
CI_ROLE = "ci-deployer"
CI_CRD_READER_ROLE = "ci-deployer-crd-reader"
# What Terraform does to the objects it manages: read, create, change (server-side apply patches) and
# delete what leaves the configuration.
MANAGE_VERBS = (*READ_VERBS, "create", "update", "patch", "delete")
# Abort or promote a Rollout (Argo Rollouts writes both through the status subresource).
ROLLOUT_STATUS = ("argoproj.io", ("rollouts/status",), ("get", "update", "patch"))
# What following a rollout reads besides the managed objects: the analysis runs Argo starts, the
# revisions (ReplicaSets) and their Pods, and the namespace's Events.
FOLLOW_READS = (
    ("argoproj.io", ("analysisruns",)),
    ("apps", ("replicasets",)),
    ("", ("events", "pods")),
)
CRD_READS = ("apiextensions.k8s.io", ("customresourcedefinitions",))

Rule = tuple[str, tuple[str, ...], tuple[str, ...]]  # (API group, resources, verbs)


def ci_rules() -> tuple[Rule, ...]:
    """The ci-deployer Role's rules: manage each kind the apps stack manages, abort or promote a
    Rollout, read what following a rollout reads. Sorted by API group, one rule per group and verbs."""
    managed: dict[str, set[str]] = {}
    for (group, _kind), resource in MANIFEST_RESOURCES.items():
        managed.setdefault(group, set()).add(resource)
    rules: list[Rule] = [(group, tuple(sorted(managed[group])), MANAGE_VERBS) for group in sorted(managed)]
    rules.append(ROLLOUT_STATUS)
    rules += [(group, resources, READ_VERBS) for group, resources in FOLLOW_READS]
    return tuple(rules)


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


def people_roles(project: str) -> tuple[PeopleRole, ...]:
    """The people's ClusterRoles, named after the project: ``<project>-readonly`` bound to the group
    ``<project>:readonly`` and ``<project>-namespace-admin`` bound to ``<project>:namespace-admins``."""
    return (
        PeopleRole(
            name=f"{project}-readonly",
            id_="readonly-role",
            group=f"{project}:readonly",
            api_groups=("", "apps", "batch", "networking.k8s.io", "autoscaling"),
            resources=(*_WORKLOADS, "jobs", "cronjobs", "ingresses", "horizontalpodautoscalers", "events"),
            verbs=READ_VERBS,
        ),
        PeopleRole(
            name=f"{project}-namespace-admin",
            id_="namespace-admin-role",
            group=f"{project}:namespace-admins",
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
    """The namespaces to bind in, by name, and the project the people's roles are named after.

    The CI deployer's Role exists only in ``ci_namespace``, the namespace the environment's apps stack
    deploys to (None: the environment has no release role, and no Role is made); the people's
    ClusterRoles are bound in each of ``app_namespaces`` that exists.
    """

    project: str
    namespaces: Mapping[str, Namespace]
    ci_namespace: str | None = None
    app_namespaces: tuple[str, ...] | None = None  # None: the environments' namespaces of `namespaces`


class PlatformRbac(Construct):
    """The CI deployer's Role and CRD-reading ClusterRole bound to :data:`CI_DEPLOYERS_GROUP`, and the
    people's ClusterRoles (:func:`people_roles`: ``<project>-readonly``, ``<project>-namespace-admin``)
    bound to their groups per app namespace."""

    def __init__(self, scope: Construct, id_: str, *, props: PlatformRbacProps) -> None:
        super().__init__(scope, id_)
        if props.ci_namespace is not None:
            ci = props.namespaces.get(props.ci_namespace)
            if ci is None:
                raise ValueError(f"the release namespace {props.ci_namespace!r} is not among the namespaces")
            role_v1.RoleV1(
                self,
                "ci-deployer-role",
                metadata=[role_v1.RoleV1Metadata(name=CI_ROLE, namespace=ci.token)],
                rule=[
                    role_v1.RoleV1Rule(api_groups=[group], resources=list(resources), verbs=list(verbs))
                    for group, resources, verbs in ci_rules()
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
            group, resources = CRD_READS
            cluster_role_v1.ClusterRoleV1(
                self,
                "ci-deployer-crd-reader",
                metadata=cluster_role_v1.ClusterRoleV1Metadata(name=CI_CRD_READER_ROLE),
                rule=[
                    cluster_role_v1.ClusterRoleV1Rule(
                        api_groups=[group], resources=list(resources), verbs=list(READ_VERBS)
                    )
                ],
            )
            cluster_role_binding_v1.ClusterRoleBindingV1(
                self,
                "ci-deployer-crd-reader-binding",
                metadata=cluster_role_binding_v1.ClusterRoleBindingV1Metadata(name=CI_CRD_READER_ROLE),
                role_ref=cluster_role_binding_v1.ClusterRoleBindingV1RoleRef(
                    api_group=RBAC_API_GROUP, kind=RoleKind.CLUSTER_ROLE.value, name=CI_CRD_READER_ROLE
                ),
                subject=[
                    cluster_role_binding_v1.ClusterRoleBindingV1Subject(
                        kind="Group", name=CI_DEPLOYERS_GROUP, api_group=RBAC_API_GROUP
                    )
                ],
            )
        roles = people_roles(props.project)
        for role in roles:
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
        for name in props.app_namespaces if props.app_namespaces is not None else app_namespaces(props.namespaces):
            namespace = props.namespaces.get(name)
            if namespace is None:
                continue
            for role in roles:
                bind_group(
                    self,
                    f"{role.name}-{name}",
                    role=role.name,
                    kind=RoleKind.CLUSTER_ROLE,
                    namespace=namespace.token,
                    group=role.group,
                )
