"""``<env>-cluster``: EKS with its keys, access entries, IRSA add-ons and the two node groups."""

from __future__ import annotations

from modules.eks import (
    EksCluster,
    EksClusterProps,
    NodeGroup,
    NodeGroupProps,
    cluster_admin,
    ebs_csi_driver_role,
    rbac_groups_only,
    vpc_cni_role,
)
from modules.encryption_key import (
    EncryptionKey,
    EncryptionKeyProps,
    auto_scaling_may_use_key,
    ebs_csi_driver_may_use_key,
)
from modules.network import Network
from modules.platform.charts import platform_charts
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.lifecycle import pins_of
from qualisys_infra.core.naming import (
    CI_DEPLOYERS_GROUP,
    PLAN_READERS_GROUP,
    apply_role_name,
    plan_role_name,
    release_role_name,
)
from qualisys_infra.core.playwright_pool import NODE_GROUP, NODE_GROUP_TAINT, NODE_POOL_LABEL
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack


class ClusterStack(EnvironmentStack):
    """The environment's EKS cluster in the network stack's private subnets."""

    KIND = "cluster"

    def __init__(self, scope: Construct, *, account: AccountConfig, env: EnvironmentConfig, network: Network) -> None:
        super().__init__(scope, account=account, env=env)
        name = self.prefix
        ctx = self.account_context()
        # Everything pinned per Kubernetes minor (AMI type, add-on versions), from one table.
        pins = pins_of(env.eks_kubernetes_version, platform_charts(env.eks_kubernetes_version))

        secrets_key = EncryptionKey(
            self,
            "eks-secrets",
            props=EncryptionKeyProps(
                alias_name=f"{name}-eks-secrets",
                description=f"{name}: EKS secrets envelope encryption",
                context=ctx,
            ),
        )
        log_key = EncryptionKey(
            self,
            "eks-logs",
            props=EncryptionKeyProps(
                alias_name=f"{name}-eks-logs",
                description=f"{name}: EKS control-plane logs",
                context=ctx,
                log_group_name_prefix=f"/aws/eks/{name}/",
            ),
        )
        access = [
            cluster_admin(ctx, account.admin_role_name),
            # The pipeline's plan role refreshes the platform and apps stacks' Kubernetes objects: no
            # access policy, only the group the platform stack's read-only ClusterRole is bound to
            # (exactly the kinds those stacks manage, never Secrets; pull requests assume this role).
            rbac_groups_only(ctx, plan_role_name(account.project), (PLAN_READERS_GROUP,)),
        ]
        if env.pipeline:
            # The environment's apply role (deploy.yml's jobs in its GitHub environment only) applies
            # the platform and apps stacks into this cluster, and no other.
            access.append(cluster_admin(ctx, apply_role_name(account.project, env.environment)))
            # The release role (service-release.yml's job in the same environment): no access policy
            # (even a namespace-scoped AmazonEKSEditPolicy reads Secrets and execs into pods), only the
            # group the platform stack's ci-deployer Role binds in this environment's namespace.
            access.append(
                rbac_groups_only(ctx, release_role_name(account.project, env.environment), (CI_DEPLOYERS_GROUP,))
            )
        self.eks = EksCluster(
            self,
            "eks",
            props=EksClusterProps(
                name=name,
                context=ctx,
                kubernetes_version=env.eks_kubernetes_version,
                network=network,
                secrets_key=secrets_key,
                log_key=log_key,
                log_retention_days=env.log_retention_days,
                access=tuple(access),
                public_access_cidrs=env.eks_public_access_cidrs,
                deletion_protection=not env.is_dev,
            ),
        )
        # The EBS CSI driver creates the persistent volumes of the platform stack's default StorageClass
        # (encrypted with the volume key): its role needs the key, which the key's own policy grants
        # (no IAM statement), so the role is made first and the key names it.
        ebs = ebs_csi_driver_role(self.eks)
        volume_key = EncryptionKey(
            self,
            "eks-volumes",
            props=EncryptionKeyProps(
                alias_name=f"{name}-eks-volumes",
                description=f"{name}: EBS volumes of EKS nodes and persistent volumes",
                context=ctx,
                # Managed node groups launch through Auto Scaling, whose service-linked role must be
                # able to use the key for the encrypted root volumes; the EBS CSI driver for its volumes.
                extra_statements=(*auto_scaling_may_use_key(ctx), *ebs_csi_driver_may_use_key(ebs.arn)),
            ),
        )
        self.eks.use_volume_key(volume_key)
        groups = env.node_groups
        self.node_groups = [
            NodeGroup(
                self,
                f"nodes-{group}",
                props=NodeGroupProps(
                    cluster=self.eks,
                    name=group,
                    instance_types=cfg.instance_types,
                    min_size=cfg.min_size,
                    desired_size=cfg.desired_size,
                    max_size=cfg.max_size,
                    disk_size_gib=cfg.disk_size_gib,
                    volume_key=volume_key,
                    ami_type=pins.node_ami_type,
                    labels={NODE_POOL_LABEL: group},
                    taints=(NODE_GROUP_TAINT,) if group == NODE_GROUP else (),
                ),
            )
            for group, cfg in (("general", groups.general), (NODE_GROUP, groups.playwright))
        ]
        cni = vpc_cni_role(self.eks)
        nodes = [g.node_group for g in self.node_groups]
        # The network policy agent: without it every NetworkPolicy of the platform stack is ignored.
        versions = pins.eks_addons
        self.eks.addon("vpc-cni", role=cni, configuration={"enableNetworkPolicy": "true"}, version=versions["vpc-cni"])
        self.eks.addon("kube-proxy", version=versions["kube-proxy"])
        self.eks.addon("eks-pod-identity-agent", version=versions["eks-pod-identity-agent"])
        self.eks.addon("coredns", after=nodes, version=versions["coredns"])  # needs nodes to schedule on
        self.eks.addon("aws-ebs-csi-driver", role=ebs, after=nodes, version=versions["aws-ebs-csi-driver"])
        self.secrets_key = secrets_key
        outputs: dict[str, tuple[object, str]] = {
            "cluster_name": (self.eks.cluster_name, "EKS cluster name"),
            "cluster_endpoint": (self.eks.cluster.endpoint, "Kubernetes API endpoint (private)"),
            "cluster_certificate_authority": (
                self.eks.cluster.certificate_authority.get(0).data,
                "Cluster CA (base64)",
            ),
            "oidc_provider_arn": (self.eks.oidc_provider_arn, "OIDC provider for IRSA roles"),
            "node_security_group_id": (self.eks.node_security_group.id, "Security group of the worker nodes"),
            "node_role_arn": (self.eks.node_role.arn, "IAM role of the worker nodes"),
        }
        self.outputs(outputs)
