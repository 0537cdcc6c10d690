"""EKS: the cluster (:mod:`.cluster`), its node groups (:mod:`.node_group`) and IRSA roles (:mod:`.irsa`)."""

from modules.eks.cluster import AccessGrant, EksCluster, EksClusterProps, check_public_access
from modules.eks.irsa import irsa_role
from modules.eks.node_group import NodeGroup, NodeGroupProps

__all__ = [
    "AccessGrant",
    "EksCluster",
    "EksClusterProps",
    "NodeGroup",
    "NodeGroupProps",
    "check_public_access",
    "irsa_role",
]
