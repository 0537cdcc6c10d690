"""An EKS cluster with a private API, encrypted secrets, full control-plane logs, access entries,
IRSA and managed add-ons; and its managed node groups with IMDSv2-only, encrypted launch templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    service_account_trust,
    service_trust,
)
from modules.waivers import waive
from qualisys_infra.engine import Construct, Fn, TerraformResource, TerraformResourceLifecycle
from qualisys_infra.engine.aws import (
    eks_access_entry,
    eks_addon,
    eks_cluster,
    eks_node_group,
    iam_openid_connect_provider,
    launch_template,
)
from qualisys_infra.engine.aws import (
    eks_access_policy_association as access_policy,
)
from qualisys_infra.naming import id_part
from qualisys_infra.networks import exposure

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ANYWHERE = "0.0.0.0/0"


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
    policy: str  # e.g. "AmazonEKSClusterAdminPolicy"
    namespaces: tuple[str, ...] = ()  # empty: cluster scope
    kubernetes_groups: tuple[str, ...] = ()


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
        vpc_id = props.network.vpc.id
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
                subnet_ids=[s.id for s in props.network.private_subnets],
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
        if public:
            waive(
                self.cluster,
                "CKV_AWS_39",
                "public endpoint is on only because tfvars lists eks_public_access_cidrs, and only for those",
            )
        issuer = self.cluster.identity.get(0).oidc.get(0).issuer
        self.oidc_provider = iam_openid_connect_provider.IamOpenidConnectProvider(
            self, "oidc-provider", url=issuer, client_id_list=["sts.amazonaws.com"]
        )
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
        self._access()

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
                cluster_name=self.cluster.name,
                principal_arn=grant.role_arn,
                type="STANDARD",
                kubernetes_groups=list(grant.kubernetes_groups) or None,
            )
            scope = (
                access_policy.EksAccessPolicyAssociationAccessScope(type="namespace", namespaces=list(grant.namespaces))
                if grant.namespaces
                else access_policy.EksAccessPolicyAssociationAccessScope(type="cluster")
            )
            access_policy.EksAccessPolicyAssociation(
                self,
                f"access-{id_part(grant.name)}-policy",
                cluster_name=self.cluster.name,
                principal_arn=grant.role_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{grant.policy}",
                access_scope=scope,
                depends_on=[entry],
            )

    def service_account_role(
        self,
        id_: str,
        *,
        namespace: str,
        service_account: str,
        description: str,
        managed_policies: tuple[str, ...] = (),
        statements: tuple[Statement, ...] = (),
    ) -> ServiceRole:
        """An IAM role only ``namespace/service_account`` of this cluster can assume (IRSA)."""
        return irsa_role(
            self,
            id_,
            cluster=self,
            namespace=namespace,
            service_account=service_account,
            description=description,
            managed_policies=managed_policies,
            statements=statements,
        )

    def addon(self, name: str, *, role: ServiceRole | None = None, after: Sequence[TerraformResource] = ()) -> None:
        """A managed add-on at the version AWS pairs with the cluster's Kubernetes version."""
        eks_addon.EksAddon(
            self,
            f"addon-{name}",
            cluster_name=self.cluster.name,
            addon_name=name,
            service_account_role_arn=role.arn if role else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            depends_on=list(after) or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroupProps:
    """One managed node group: sizes, instance types, disk, scheduling labels and taints.

    Instances require IMDSv2 with a hop limit of 1 (pods cannot reach the node's credentials),
    their gp3 root volumes are encrypted with ``volume_key``, and the group carries the
    cluster-autoscaler discovery tags. The autoscaler owns ``desired_size`` after creation.
    """

    cluster: EksCluster
    name: str
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    volume_key: EncryptionKey
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) e.g. NO_SCHEDULE


class NodeGroup(Construct):
    """``aws_launch_template`` plus ``aws_eks_node_group`` over the cluster's private subnets."""

    def __init__(self, scope: Construct, id_: str, *, props: NodeGroupProps) -> None:
        super().__init__(scope, id_)
        cluster = props.cluster
        full_name = f"{cluster.name}-{props.name}"
        self.launch_template = launch_template.LaunchTemplate(
            self,
            "launch-template",
            name=full_name,
            description=f"{full_name} nodes: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            ebs_optimized="true",
            vpc_security_group_ids=[cluster.node_security_group.id],
            metadata_options=launch_template.LaunchTemplateMetadataOptions(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                launch_template.LaunchTemplateBlockDeviceMappings(
                    device_name="/dev/xvda",
                    ebs=launch_template.LaunchTemplateBlockDeviceMappingsEbs(
                        volume_size=props.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=props.volume_key.arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                launch_template.LaunchTemplateTagSpecifications(resource_type=kind, tags={"Name": full_name})
                for kind in ("instance", "volume")
            ],
        )
        self.node_group = eks_node_group.EksNodeGroup(
            self,
            "node-group",
            cluster_name=cluster.cluster.name,
            node_group_name=props.name,
            node_role_arn=cluster.node_role.arn,
            subnet_ids=[s.id for s in cluster.network.private_subnets],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=list(props.instance_types),
            scaling_config=eks_node_group.EksNodeGroupScalingConfig(
                min_size=props.min_size, desired_size=props.desired_size, max_size=props.max_size
            ),
            update_config=eks_node_group.EksNodeGroupUpdateConfig(max_unavailable=1),
            launch_template=eks_node_group.EksNodeGroupLaunchTemplate(
                id=self.launch_template.id, version=Fn.tostring(self.launch_template.latest_version)
            ),
            labels=dict(props.labels) or None,
            taint=[
                eks_node_group.EksNodeGroupTaint(key=key, value=value, effect=effect)
                for key, value, effect in props.taints
            ]
            or None,
            tags={
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{cluster.name}": "owned",
            },
            lifecycle=TerraformResourceLifecycle(ignore_changes=["scaling_config[0].desired_size"]),
            depends_on=cluster.node_role.attachments,
        )


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
                provider_arn=cluster.oidc_provider.arn,
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
