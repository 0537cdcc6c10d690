"""IRSA: an IAM role only one Kubernetes service account of one cluster can assume."""

from __future__ import annotations

from modules.eks.cluster import EksCluster
from modules.policy import Statement
from modules.service_role import (
    ServiceRole,
    ServiceRoleProps,
    service_account_trust,
)
from modules.waivers import waive
from qualisys_infra.core.engine import Construct


def irsa_role(
    scope: Construct,
    id_: str,
    *,
    cluster: EksCluster,
    namespace: str,
    service_account: str,
    description: str,
    managed_policies: tuple[str, ...] = (),
    statements: tuple[Statement, ...] = (),
) -> ServiceRole:
    """An IAM role in ``scope`` (any stack) that only ``namespace/service_account`` of ``cluster``
    can assume through its OIDC provider."""
    role = ServiceRole(
        scope,
        id_,
        props=ServiceRoleProps(
            name=f"{cluster.name}-{id_}",
            description=description,
            context=cluster.context,
            trust=service_account_trust(
                provider_arn=cluster.oidc_provider_arn,
                issuer_host=cluster.issuer_host,
                namespace=namespace,
                service_account=service_account,
            ),
            managed_policies=managed_policies,
            statements=statements,
        ),
    )
    if any("*" in s.resources and s.conditions for s in statements) and role.permissions is not None:
        # Describe calls and tag-conditioned writes have no resource-level permissions in AWS.
        waive(
            role.permissions,
            "CKV_AWS_356",
            'describe calls have no resource-level permissions, and every write on "*" is narrowed by a '
            "condition on this cluster's ownership tag",
        )
    return role
