"""EKS: the cluster (:mod:`.cluster`), its node groups (:mod:`.node_group`) and IRSA roles (:mod:`.irsa`)."""

from modules.eks.cluster import (
    AccessGrant,
    EksCluster,
    EksClusterProps,
    check_public_access,
    cluster_admin,
    rbac_groups_only,
)
from modules.eks.irsa import ebs_csi_driver_role, irsa_role, vpc_cni_role
from modules.eks.node_group import NodeGroup, NodeGroupProps

__all__ = [
    "AccessGrant",
    "EksCluster",
    "EksClusterProps",
    "NodeGroup",
    "NodeGroupProps",
    "check_public_access",
    "cluster_admin",
    "ebs_csi_driver_role",
    "irsa_role",
    "rbac_groups_only",
    "vpc_cni_role",
]
