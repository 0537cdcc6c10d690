"""``<env>-platform``: what runs inside the cluster (stories 0.3, 0.13, 0.19, 0.20). Composes the platform
wing (:mod:`modules.platform`): the cluster's providers, the default StorageClass (gp3, the volume key),
namespaces and their guard rails, RBAC (with the plan role's read-only view), the ingress edge (WAF,
certificates of the services' host and Grafana's), the alert topic, and the add-ons' Helm releases with
their IRSA roles (Argo Rollouts; Alertmanager publishing to the topic; Grafana behind the edge)."""

from __future__ import annotations

from modules.container_registry import runner_image
from modules.eks import EksCluster
from modules.log_group import container_log_group
from modules.network import Network
from modules.platform.add_ons import PlatformAddOns, PlatformAddOnsProps
from modules.platform.alert_topic import AlertTopic, AlertTopicProps
from modules.platform.charts import platform_charts
from modules.platform.dns import IngressDns, IngressDnsProps
from modules.platform.edge import IngressEdge, IngressEdgeProps
from modules.platform.exporters import FluentBitScripts, FluentBitScriptsProps, MetricsExporters, MetricsExportersProps
from modules.platform.namespaces import MONITORING, platform_namespaces
from modules.platform.plan_reader import PlanReader
from modules.platform.providers import configure_cluster_providers
from modules.platform.rbac import PlatformRbac, PlatformRbacProps
from modules.platform.runners import RunnerScaleSets, RunnerScaleSetsProps
from modules.platform.storage import DefaultStorageClass, DefaultStorageClassProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.lifecycle import pins_of
from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack

GRAFANA_PORT = 3000  # the Grafana container's port: the load balancer targets pods by IP


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
        name, project = self.prefix, account.project
        ctx = self.account_context()
        configure_cluster_providers(self, cluster=cluster, region=env.region)
        pins = pins_of(env.eks_kubernetes_version, platform_charts(env.eks_kubernetes_version))
        self.namespaces = platform_namespaces(
            self, namespaces=env.namespaces, network=network, pod_security_version=pins.pod_security_version
        )
        # The release role deploys where the apps stack does: the environment's own namespace.
        release_ns = env.environment if env.pipeline else None
        self.rbac = PlatformRbac(
            self, "rbac", props=PlatformRbacProps(project=project, namespaces=self.namespaces, ci_namespace=release_ns)
        )
        self.plan_reader = PlanReader(self, "plan-reader")
        # GitHub Actions runners in this VPC, one scale set per duty (the cluster's API is private).
        self.runners = RunnerScaleSets(
            self,
            "runners",
            props=RunnerScaleSetsProps(
                project=project,
                environment=env.environment,
                repository=account.github_repository,
                pod_security_version=pins.pod_security_version,
                image=runner_image(ctx.account_id, account.region, project, account.github_runner_image_tag),
                isolation_verified_network=network if env.environment in ISOLATION_VERIFIED_ENVIRONMENTS else None,
            ),
        )
        self.storage = DefaultStorageClass(  # before any chart: Prometheus' volume claim names this class
            self, "storage", props=DefaultStorageClassProps(volume_key=cluster.volume_key)
        )
        self.log_key, self.container_logs = container_log_group(
            self, name=name, context=ctx, retention_days=env.log_retention_days
        )
        self.edge = IngressEdge(
            self, "edge", props=IngressEdgeProps(name=name, domain=env.ingress_domain, log_key=self.log_key)
        )
        grafana_certificate = self.edge.add_certificate("grafana-certificate", env.grafana_domain)
        if MONITORING in self.namespaces:
            # Grafana behind the edge: the ALB (in the VPC) reaches its pod on Grafana's own port.
            self.namespaces[MONITORING].allow_ingress_from_network(
                "allow-load-balancer-to-grafana", network.vpc_cidr, ports=((GRAFANA_PORT, "TCP"),)
            )
        if env.route53_zone_name:  # certificate validation and the hosts' records in the hosted zone
            self.dns = IngressDns(
                self,
                "dns",
                props=IngressDnsProps(
                    name=name,
                    zone_name=env.route53_zone_name,
                    hosts=(env.ingress_domain, env.grafana_domain),
                    region=env.region,
                    cluster=cluster,
                    certificates={"ingress": self.edge.certificate, "grafana": grafana_certificate},
                ),
            )
        self.alert_topic = AlertTopic(
            self, "alerts", props=AlertTopicProps(name=name, context=ctx, emails=env.alert_emails)
        )
        self.add_ons = PlatformAddOns(
            self,
            "add-ons",
            props=PlatformAddOnsProps(
                name=name,
                project=project,
                environment=env.environment,
                region=env.region,
                kubernetes_version=env.eks_kubernetes_version,
                node_group_max_sizes=(env.node_groups.general.max_size, env.node_groups.playwright.max_size),
                prometheus_retention_days=env.prometheus_retention_days,
                prometheus_storage_gib=env.prometheus_storage_gib,
                grafana_domain=env.grafana_domain,
                grafana_ingress_annotations=self.edge.alb_annotations(grafana_certificate),
                cluster=cluster,
                vpc_id=network.vpc_id,
                namespaces=self.namespaces,
                container_logs=self.container_logs,
                log_retention_days=env.log_retention_days,
                alert_topic=self.alert_topic,
            ),
        )
        # The data tier's metrics (exporters in monitoring, least-privilege logins) and the Lua of the
        # log pipeline (PII redaction), which fluent-bit's pods mount: the release waits for it.
        monitoring = self.namespaces[MONITORING].token if MONITORING in self.namespaces else MONITORING
        self.exporters = MetricsExporters(
            self, "exporters", props=MetricsExportersProps(name=name, namespace=monitoring, network=network)
        )
        fluent_bit = self.add_ons.releases["aws-for-fluent-bit"]
        self.fluent_bit_scripts = FluentBitScripts(
            self, "fluent-bit-scripts", props=FluentBitScriptsProps(namespace=monitoring, fluent_bit=fluent_bit)
        )
        records = self.edge.certificate.domain_validation_options, grafana_certificate.domain_validation_options
        self.outputs(
            {
                "certificate_validation_records": (records[0], "DNS records that validate the ingress certificate"),
                "web_acl_arn": (self.edge.web_acl.arn, "WAF web ACL of the ingress"),
                "grafana_url": (f"https://{env.grafana_domain}", "Grafana behind the ingress edge (sign-off test 4)"),
                "grafana_certificate_validation_records": (
                    records[1],
                    "DNS records that validate Grafana's certificate",
                ),
                "alert_topic_arn": (self.alert_topic.arn, "SNS topic Alertmanager sends every alert to"),
            }
        )
