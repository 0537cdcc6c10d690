"""The cluster's add-ons as Helm releases, each with the IRSA role it needs.

kube-prometheus-stack (metrics, alerts, Grafana), the AWS Load Balancer Controller, aws-for-fluent-bit
(container logs to CloudWatch), the cluster-autoscaler, metrics-server and Argo Rollouts. Charts and versions come
from :mod:`modules.platform.charts` (the autoscaler's by the cluster's Kubernetes minor), values
from :mod:`modules.platform.values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modules.eks import EksCluster, irsa_role
from modules.platform import values
from modules.platform.alert_topic import AlertTopic
from modules.platform.charts import platform_charts
from modules.platform.cluster_objects import ALERTMANAGER_SERVICE_ACCOUNT
from modules.platform.namespace import Namespace
from modules.platform.namespaces import KUBE_SYSTEM, MONITORING
from modules.platform.permissions import (
    LOAD_BALANCER_CONTROLLER_WAIVED_CHECKS,
    LOAD_BALANCER_CONTROLLER_WAIVER,
    cluster_autoscaler_statements,
    fluent_bit_statements,
    load_balancer_controller_statements,
)
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import cloudwatch_log_group
from qualisys_infra.core.engine.helm import release

RELEASE_TIMEOUT_SECONDS = 900


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformAddOnsProps:
    """The cluster the add-ons run in, the settings their values read, and what they write to.

    ``name`` is the cluster's (and the prefix of the add-ons' roles); ``project`` names the dashboards,
    alert rules and log counters; ``environment`` and ``region`` label and address Alertmanager's
    notifications; ``kubernetes_version`` picks the charts (the autoscaler's by its minor) and
    ``node_group_max_sizes`` bound the autoscaler (their sum); Prometheus keeps
    ``prometheus_retention_days`` of metrics on ``prometheus_storage_gib``; Grafana answers at
    ``grafana_domain``, its Ingress carrying ``grafana_ingress_annotations`` (the edge's, with Grafana's
    certificate). kube-prometheus-stack and fluent-bit run in the ``monitoring`` namespace of
    ``namespaces``, the others in ``kube-system``; the load balancer controller serves the VPC
    ``vpc_id``. ``container_logs`` is the log group fluent-bit writes to (and may write to alone),
    its records kept ``log_retention_days``. Alertmanager publishes every alert to ``alert_topic``
    (and may publish there alone).
    """

    name: str
    project: str
    environment: str
    region: str
    kubernetes_version: str
    node_group_max_sizes: tuple[int, ...]
    prometheus_retention_days: int
    prometheus_storage_gib: int
    grafana_domain: str
    grafana_ingress_annotations: Mapping[str, str]
    cluster: EksCluster
    vpc_id: str
    namespaces: Mapping[str, Namespace]
    container_logs: cloudwatch_log_group.CloudwatchLogGroup
    log_retention_days: int
    alert_topic: AlertTopic


class PlatformAddOns(Construct):
    """One Helm release per add-on (atomic, cleaned up on failure), with one IRSA role for each
    add-on that calls AWS, trusted by exactly its service account; metrics-server has none.

    Grafana's admin password never passes through Terraform (no plan, state or data source holds
    it): the Grafana chart generates it into its own Kubernetes Secret at install and keeps it on
    every upgrade (``kps-grafana``, key ``admin-password``), readable by cluster admins only.
    Alertmanager's role may publish to the alert topic and use its key, nothing else.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PlatformAddOnsProps) -> None:
        super().__init__(scope, id_)
        cluster, name = props.cluster, props.name
        monitoring_ns = props.namespaces.get(MONITORING)
        monitoring = monitoring_ns.token if monitoring_ns is not None else MONITORING
        lb_role = irsa_role(
            self,
            "lb-controller-role",
            cluster=cluster,
            namespace=KUBE_SYSTEM,
            service_account=values.LB_CONTROLLER_SERVICE_ACCOUNT,
            description=f"AWS Load Balancer Controller of {name}",
            statements=load_balancer_controller_statements(name),
        )
        if lb_role.permissions is not None:
            waive(lb_role.permissions, LOAD_BALANCER_CONTROLLER_WAIVED_CHECKS, LOAD_BALANCER_CONTROLLER_WAIVER)
        fluent_role = irsa_role(
            self,
            "fluent-bit-role",
            cluster=cluster,
            namespace=MONITORING,
            service_account=values.FLUENT_BIT_SERVICE_ACCOUNT,
            description=f"Fluent Bit of {name}: writes its container log group only",
            statements=fluent_bit_statements(props.container_logs.arn),
        )
        autoscaler_role = irsa_role(
            self,
            "autoscaler-role",
            cluster=cluster,
            namespace=KUBE_SYSTEM,
            service_account=values.AUTOSCALER_SERVICE_ACCOUNT,
            description=f"Cluster Autoscaler of {name}: resizes this cluster's node groups only",
            statements=cluster_autoscaler_statements(name),
        )
        alertmanager_role = irsa_role(
            self,
            "alertmanager-role",
            cluster=cluster,
            namespace=MONITORING,
            service_account=ALERTMANAGER_SERVICE_ACCOUNT,
            description=f"Alertmanager of {name}: publishes to its alert topic only",
            statements=props.alert_topic.publisher_statements(),
        )
        props.alert_topic.allow_publisher(alertmanager_role.arn)
        chart_values = {
            "kube-prometheus-stack": values.kube_prometheus_stack(
                project=props.project,
                environment=props.environment,
                region=props.region,
                grafana_domain=props.grafana_domain,
                retention_days=props.prometheus_retention_days,
                storage_gib=props.prometheus_storage_gib,
                alert_topic_arn=props.alert_topic.arn,
                alertmanager_role_arn=alertmanager_role.arn,
                grafana_ingress_annotations=props.grafana_ingress_annotations,
            ),
            "aws-load-balancer-controller": values.aws_load_balancer_controller(
                region=props.region, cluster=name, vpc_id=props.vpc_id, role_arn=lb_role.arn
            ),
            "aws-for-fluent-bit": values.aws_for_fluent_bit(
                project=props.project,
                region=props.region,
                log_group=props.container_logs.name,
                log_retention_days=props.log_retention_days,
                role_arn=fluent_role.arn,
            ),
            "cluster-autoscaler": values.cluster_autoscaler(
                region=props.region,
                kubernetes_version=props.kubernetes_version,
                node_group_max_sizes=props.node_group_max_sizes,
                cluster=name,
                role_arn=autoscaler_role.arn,
            ),
            "metrics-server": values.metrics_server(),
            "argo-rollouts": values.argo_rollouts(),
        }
        namespaces = {
            "kube-prometheus-stack": monitoring,
            "aws-load-balancer-controller": KUBE_SYSTEM,
            "aws-for-fluent-bit": monitoring,
            "cluster-autoscaler": KUBE_SYSTEM,
            "metrics-server": KUBE_SYSTEM,
            # The analysis of a rollout asks the service's pods from here: the app namespaces admit
            # kube-system on the app port (modules.platform.namespaces).
            "argo-rollouts": KUBE_SYSTEM,
        }
        self.releases: dict[str, release.Release] = {
            release_name: release.Release(
                self,
                release_name,
                name=release_name,
                repository=chart.repository,
                chart=chart.chart,
                version=chart.version,
                namespace=namespaces[release_name],
                values=[values.to_yaml(chart_values[release_name])],
                atomic=True,
                cleanup_on_fail=True,
                timeout=RELEASE_TIMEOUT_SECONDS,
            )
            for release_name, chart in platform_charts(props.kubernetes_version).items()
            # The runners' and external-dns's releases are modules.platform.runners' and .dns'.
            if release_name in chart_values
        }
