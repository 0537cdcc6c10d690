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

KUBE_SYSTEM = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"  # the aws-ebs-csi-driver add-on's controller
VPC_CNI_SERVICE_ACCOUNT = "aws-node"  # the vpc-cni add-on's daemon set


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


def ebs_csi_driver_role(cluster: EksCluster) -> ServiceRole:
    """The EBS CSI driver add-on's role (AWS's managed AmazonEBSCSIDriverPolicy), in the cluster: it creates
    the encrypted volumes; the volume key's own policy lets it use the key
    (:func:`modules.encryption_key.ebs_csi_driver_may_use_key`)."""
    return irsa_role(
        cluster,
        "ebs-csi",
        cluster=cluster,
        namespace=KUBE_SYSTEM,
        service_account=EBS_CSI_SERVICE_ACCOUNT,
        description=f"EBS CSI driver of {cluster.name}: creates encrypted volumes",
        managed_policies=("service-role/AmazonEBSCSIDriverPolicy",),
    )


def vpc_cni_role(cluster: EksCluster) -> ServiceRole:
    """The vpc-cni add-on's role (AWS's managed AmazonEKS_CNI_Policy), in the cluster: it manages the pods'
    network interfaces."""
    return irsa_role(
        cluster,
        "vpc-cni",
        cluster=cluster,
        namespace=KUBE_SYSTEM,
        service_account=VPC_CNI_SERVICE_ACCOUNT,
        description=f"vpc-cni of {cluster.name}: manages pod network interfaces",
        managed_policies=("AmazonEKS_CNI_Policy",),
    )
