"""``<env>-platform``: what runs inside the cluster (stories 0.3, 0.13, 0.19, 0.20).

Composes the platform wing (:mod:`modules.platform`): the kubernetes and helm providers for the
cluster stack's cluster, the default StorageClass (gp3, encrypted with the cluster stack's volume
key), the namespaces and their guard rails, RBAC (with the pipeline's plan role's
read-only view), the add-ons' Helm releases with their IRSA roles (Argo Rollouts among them) and the
ingress edge (WAF, certificate); the services themselves are the apps stack's.
"""

from __future__ import annotations

from modules.eks import EksCluster
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.log_group import log_group
from modules.network import Network
from modules.platform.add_ons import PlatformAddOns, PlatformAddOnsProps
from modules.platform.charts import platform_charts
from modules.platform.edge import IngressEdge, IngressEdgeProps
from modules.platform.namespaces import platform_namespaces
from modules.platform.plan_reader import PlanReader
from modules.platform.providers import configure_cluster_providers
from modules.platform.rbac import PlatformRbac, PlatformRbacProps
from modules.platform.storage import DefaultStorageClass, DefaultStorageClassProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.lifecycle import pins_of
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack


class ClusterPlatformStack(EnvironmentStack):
    """Namespaces, RBAC, Helm releases and the ingress edge of one cluster."""

    KIND = "platform"

    def __init__(
        self,
        scope: Construct,
        *,
        account: AccountConfig,
        env: EnvironmentConfig,
        network: Network,
        cluster: EksCluster,
    ) -> None:
        super().__init__(scope, account=account, env=env)
        name = self.prefix
        ctx = self.account_context()
        configure_cluster_providers(self, cluster=cluster, region=env.region)
        pins = pins_of(env.eks_kubernetes_version, platform_charts(env.eks_kubernetes_version))
        self.namespaces = platform_namespaces(
            self, namespaces=env.namespaces, network=network, pod_security_version=pins.pod_security_version
        )
        self.rbac = PlatformRbac(self, "rbac", props=PlatformRbacProps(namespaces=self.namespaces))
        self.plan_reader = PlanReader(self, "plan-reader")
        # Before any chart: Prometheus' volume claim names this class.
        self.storage = DefaultStorageClass(
            self, "storage", props=DefaultStorageClassProps(volume_key=cluster.volume_key)
        )
        self.log_key = EncryptionKey(
            self,
            "logs-key",
            props=EncryptionKeyProps(
                alias_name=f"{name}-platform-logs",
                description=f"{name}: container logs and WAF logs",
                context=ctx,
                log_group_name_prefix="",
            ),
        )
        self.container_logs = log_group(
            self,
            "container-logs",
            name=f"/aws/eks/{name}/containers",
            retention_days=env.log_retention_days,
            key=self.log_key,
        )
        self.add_ons = PlatformAddOns(
            self,
            "add-ons",
            props=PlatformAddOnsProps(
                name=name,
                environment=env,
                cluster=cluster,
                network=network,
                namespaces=self.namespaces,
                container_logs=self.container_logs,
            ),
        )
        self.edge = IngressEdge(
            self, "edge", props=IngressEdgeProps(name=name, domain=env.ingress_domain, log_key=self.log_key)
        )
        self.outputs(
            {
                "certificate_validation_records": (
                    self.edge.certificate.domain_validation_options,
                    "DNS records that validate the ingress certificate",
                ),
                "web_acl_arn": (self.edge.web_acl.arn, "WAF web ACL of the ingress"),
            }
        )
