"""An EKS cluster with a private API, encrypted secrets, full control-plane logs, access entries,
an OIDC provider for IRSA and managed add-ons."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey
from modules.log_group import log_group
from modules.network import Network
from modules.policy import Statement
from modules.security_group import SecurityGroup, SecurityGroupProps
from modules.service_role import (
    ServiceRole,
    ServiceRoleProps,
    ec2_trust,
    service_trust,
)
from modules.waivers import waive
from qualisys_infra.core.engine import Construct, Fn, TerraformResource
from qualisys_infra.core.engine.aws import (
    eks_access_entry,
    eks_addon,
    eks_cluster,
    iam_openid_connect_provider,
)
from qualisys_infra.core.engine.aws import (
    eks_access_policy_association as access_policy,
)
from qualisys_infra.core.naming import id_part
from qualisys_infra.core.networks import exposure

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ANYWHERE = "0.0.0.0/0"


# The minors checkov 3.3.30 (requirements-checkov.txt) knows for CKV_AWS_339
# (checkov/terraform/checks/resource/aws/EKSPlatformVersion.py, read 2026-12-06). A newer minor is
# waived with a reason: whether it is supported is the lifecycle table's decision, checked at synth.
CHECKOV_KNOWN_MINORS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")


def check_public_access(path: str, cidrs: Sequence[str]) -> None:
    """Refuse a public API endpoint for networks that together reach the internet: the endpoint's
    checkov waiver (CKV_AWS_39) is justified for office and VPN ranges only."""
    reach = exposure(cidrs)
    if reach.internet_wide:
        raise ValueError(f"{path}: public API access from {reach.describe()} is open to the internet")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessGrant:
    """An IAM role's access to the cluster: an EKS access policy, cluster-wide or in namespaces.

    ``kubernetes_groups`` are the RBAC groups the role is mapped to (bound by the platform stack).
    """

    name: str  # names the access entry's address (the role's name): stable whatever the order
    role_arn: str
    policy: str | None = None  # e.g. "AmazonEKSClusterAdminPolicy"; None: its RBAC groups only
    namespaces: tuple[str, ...] = ()  # empty: cluster scope
    kubernetes_groups: tuple[str, ...] = ()


CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


def cluster_admin(context: AccountContext, role_name: str) -> AccessGrant:
    """The role ``role_name`` of this account administers the whole cluster (AmazonEKSClusterAdminPolicy)."""
    return AccessGrant(name=role_name, role_arn=context.iam_arn(f"role/{role_name}"), policy=CLUSTER_ADMIN_POLICY)


def rbac_groups_only(context: AccountContext, role_name: str, groups: tuple[str, ...]) -> AccessGrant:
    """The role ``role_name`` of this account is mapped to the RBAC ``groups`` and has no access policy:
    it may do exactly what the platform stack's Roles bound to those groups allow."""
    return AccessGrant(name=role_name, role_arn=context.iam_arn(f"role/{role_name}"), kubernetes_groups=groups)


@dataclass(frozen=True, slots=True, kw_only=True)
class EksClusterProps:
    """The cluster's version, network, keys and who may use it.

    The API endpoint is private; it is also public only when ``public_access_cidrs`` lists networks
    (never 0.0.0.0/0). Kubernetes secrets are envelope-encrypted with ``secrets_key``; every
    control-plane log type goes to a log group encrypted with ``log_key`` and kept
    ``log_retention_days``. Authentication is by access entries only (``API`` mode; the creator
    gets no implicit admin). ``deletion_protection`` makes AWS refuse to delete the cluster.
    """

    name: str
    context: AccountContext
    kubernetes_version: str
    network: Network
    secrets_key: EncryptionKey
    log_key: EncryptionKey
    log_retention_days: int
    access: tuple[AccessGrant, ...]
    public_access_cidrs: tuple[str, ...] = ()
    deletion_protection: bool = True


class EksCluster(Construct):
    """Cluster role, cluster and node security groups, log group, cluster, OIDC provider, access."""

    def __init__(self, scope: Construct, id_: str, *, props: EksClusterProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        self.name: str = props.name
        self.context: AccountContext = props.context
        self.network: Network = props.network
        ctx = props.context
        vpc_id = props.network.vpc_id
        self.cluster_security_group = SecurityGroup(
            self,
            "cluster-sg",
            props=SecurityGroupProps(
                name=f"{props.name}-control-plane",
                description=f"{props.name} EKS control plane ENIs",
                vpc_id=vpc_id,
            ),
        )
        self.node_security_group = SecurityGroup(
            self,
            "node-sg",
            props=SecurityGroupProps(
                name=f"{props.name}-nodes", description=f"{props.name} EKS worker nodes", vpc_id=vpc_id
            ),
        )
        self._wire_security_groups()
        self.cluster_role = ServiceRole(
            self,
            "cluster-role",
            props=ServiceRoleProps(
                name=f"{props.name}-cluster",
                description=f"EKS control plane of {props.name}",
                context=ctx,
                trust=service_trust(ctx, "eks.amazonaws.com"),
                managed_policies=("AmazonEKSClusterPolicy",),
                statements=(
                    Statement(
                        sid="EnvelopeEncryptionOfSecrets",
                        actions=("kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"),
                        resources=(props.secrets_key.arn,),
                    ),
                ),
            ),
        )
        # EKS writes to exactly this name; creating it first sets retention and encryption.
        self.log_group = log_group(
            self,
            "log-group",
            name=f"/aws/eks/{props.name}/cluster",
            retention_days=props.log_retention_days,
            key=props.log_key,
        )
        public = bool(props.public_access_cidrs)
        check_public_access(self.node.path, props.public_access_cidrs)
        self.cluster = eks_cluster.EksCluster(
            self,
            "cluster",
            name=props.name,
            version=props.kubernetes_version,
            role_arn=self.cluster_role.arn,
            vpc_config=eks_cluster.EksClusterVpcConfig(
                subnet_ids=props.network.private_subnet_ids,
                security_group_ids=[self.cluster_security_group.id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(props.public_access_cidrs) if public else None,
            ),
            encryption_config=eks_cluster.EksClusterEncryptionConfig(
                resources=["secrets"],
                provider=eks_cluster.EksClusterEncryptionConfigProvider(key_arn=props.secrets_key.arn),
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=eks_cluster.EksClusterAccessConfig(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            upgrade_policy=eks_cluster.EksClusterUpgradePolicy(support_type="STANDARD"),
            deletion_protection=props.deletion_protection,
            depends_on=[self.log_group, *self.cluster_role.attachments],
        )
        if props.kubernetes_version not in CHECKOV_KNOWN_MINORS:
            waive(
                self.cluster,
                "CKV_AWS_339",
                f"Kubernetes {props.kubernetes_version} is newer than the list of checkov 3.3.30 (it ends at "
                f"{CHECKOV_KNOWN_MINORS[-1]}); synth refuses a minor the lifecycle table "
                "(qualisys_infra/core/lifecycle.py, AWS's calendar) does not list as supported",
            )
        if public:
            waive(
                self.cluster,
                "CKV_AWS_39",
                "public endpoint is on only because tfvars lists eks_public_access_cidrs, and only for those",
            )
        # Read once: every read of a resource's attribute is a round trip to the engine.
        self.cluster_name: str = self.cluster.name
        issuer = self.cluster.identity.get(0).oidc.get(0).issuer
        self.oidc_provider = iam_openid_connect_provider.IamOpenidConnectProvider(
            self, "oidc-provider", url=issuer, client_id_list=["sts.amazonaws.com"]
        )
        self.oidc_provider_arn: str = self.oidc_provider.arn
        self.issuer_host: str = Fn.replace(issuer, "https://", "")
        self.node_role = ServiceRole(
            self,
            "node-role",
            props=ServiceRoleProps(
                name=f"{props.name}-nodes",
                description=f"EC2 worker nodes of {props.name}",
                context=ctx,
                trust=ec2_trust(),
                # The CNI policy is not here: vpc-cni gets it through its own IRSA role.
                managed_policies=("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"),
            ),
        )
        self._volume_key: EncryptionKey | None = None
        self._access()

    def use_volume_key(self, key: EncryptionKey) -> None:
        """Record the key of the cluster's EBS volumes (node root volumes and persistent volumes).

        The cluster stack makes that key after the cluster: its policy names the EBS CSI driver's IRSA
        role, which trusts this cluster's OIDC provider. The platform stack's default StorageClass
        reads it from :attr:`volume_key`.
        """
        self._volume_key = key

    @property
    def volume_key(self) -> EncryptionKey:
        """The key of the cluster's EBS volumes; refused until :meth:`use_volume_key` gave one."""
        if self._volume_key is None:
            raise ValueError(f"{self.node.path}: no volume key: the cluster stack calls use_volume_key")
        return self._volume_key

    def _wire_security_groups(self) -> None:
        cluster, nodes = self.cluster_security_group, self.node_security_group
        cluster.allow_from(nodes, port=443, description="Nodes and pods to the Kubernetes API")
        cluster.allow_to(nodes, port=10250, description="API server to kubelets")
        cluster.allow_to(nodes, port=443, description="API server to webhooks on 443")
        cluster.allow_to(nodes, port=1025, to_port=65535, description="API server to webhooks and extension APIs")
        nodes.allow_from(cluster, port=10250, description="API server to kubelets")
        nodes.allow_from(cluster, port=443, description="API server to webhooks on 443")
        nodes.allow_from(cluster, port=1025, to_port=65535, description="API server to webhooks and extension APIs")
        nodes.allow_all_from_self(description="Node to node and pod to pod")
        nodes.allow_egress_to_network(
            self._props.network.vpc_cidr,
            protocol="-1",
            description="Anything inside the VPC (DNS, data tier)",
        )
        nodes.allow_egress_to_network(
            ANYWHERE, port=443, description="HTTPS to AWS APIs and image registries through NAT"
        )

    def _access(self) -> None:
        partition = self._props.context.partition
        for grant in self._props.access:
            entry = eks_access_entry.EksAccessEntry(
                self,
                f"access-{id_part(grant.name)}",
                cluster_name=self.cluster_name,
                principal_arn=grant.role_arn,
                type="STANDARD",
                kubernetes_groups=list(grant.kubernetes_groups) or None,
            )
            if grant.policy is None:
                continue
            scope = (
                access_policy.EksAccessPolicyAssociationAccessScope(type="namespace", namespaces=list(grant.namespaces))
                if grant.namespaces
                else access_policy.EksAccessPolicyAssociationAccessScope(type="cluster")
            )
            access_policy.EksAccessPolicyAssociation(
                self,
                f"access-{id_part(grant.name)}-policy",
                cluster_name=self.cluster_name,
                principal_arn=grant.role_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{grant.policy}",
                access_scope=scope,
                depends_on=[entry],
            )

    def addon(
        self,
        name: str,
        *,
        role: ServiceRole | None = None,
        after: Sequence[TerraformResource] = (),
        configuration: Mapping[str, object] | None = None,
        version: str | None = None,
    ) -> None:
        """A managed add-on at ``version``, or, when none is given, at the version EKS pairs with the
        cluster's Kubernetes version when the add-on is created (EKS does not move an existing add-on
        when the cluster is upgraded: the upgrade runbook does); ``configuration`` is its
        configuration values (the add-on's own JSON schema)."""
        eks_addon.EksAddon(
            self,
            f"addon-{name}",
            cluster_name=self.cluster_name,
            addon_name=name,
            addon_version=version or None,
            configuration_values=json.dumps(configuration, sort_keys=True) if configuration else None,
            service_account_role_arn=role.arn if role else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            depends_on=list(after) or None,
        )
