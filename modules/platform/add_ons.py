"""The cluster's add-ons as Helm releases, each with the IRSA role it needs, and Grafana's admin secret.

kube-prometheus-stack (metrics, alerts, Grafana), the AWS Load Balancer Controller, aws-for-fluent-bit
(container logs to CloudWatch), the cluster-autoscaler and metrics-server. Charts and versions come
from :mod:`modules.platform.charts` (the autoscaler's by the cluster's Kubernetes minor), values
from :mod:`modules.platform.values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modules.eks import EksCluster, irsa_role
from modules.encryption_key import EncryptionKey
from modules.network import Network
from modules.platform import values
from modules.platform.charts import platform_charts
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
from qualisys_infra.core.engine.aws import (
    cloudwatch_log_group,
    data_aws_secretsmanager_secret_version,
    secretsmanager_secret,
)
from qualisys_infra.core.engine.helm import release
from qualisys_infra.core.settings import EnvironmentConfig

RELEASE_TIMEOUT_SECONDS = 900
GRAFANA_SECRET_RECOVERY_DAYS = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformAddOnsProps:
    """The cluster the add-ons run in and what they write to.

    ``environment`` gives the values their settings (region, Kubernetes version, retention and
    storage, node-group maxima). kube-prometheus-stack and fluent-bit run in the ``monitoring``
    namespace of ``namespaces``, the others in ``kube-system``. ``container_logs`` is the log
    group fluent-bit writes to (and may write to alone); ``secret_key`` encrypts Grafana's admin
    password secret.
    """

    name: str
    environment: EnvironmentConfig
    cluster: EksCluster
    network: Network
    namespaces: Mapping[str, Namespace]
    container_logs: cloudwatch_log_group.CloudwatchLogGroup
    secret_key: EncryptionKey


class PlatformAddOns(Construct):
    """One Helm release per add-on (atomic, cleaned up on failure), with one IRSA role for each
    add-on that calls AWS, trusted by exactly its service account; metrics-server has none.

    Grafana's admin password is the Secrets Manager secret ``<name>/grafana-admin-password``,
    created empty (an operator puts the value) and passed to the release with ``set_sensitive``.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PlatformAddOnsProps) -> None:
        super().__init__(scope, id_)
        env, cluster, name = props.environment, props.cluster, props.name
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
        self.grafana_secret = secretsmanager_secret.SecretsmanagerSecret(
            self,
            "grafana-admin",
            name=f"{name}/grafana-admin-password",
            description="Grafana admin password: put by an operator, read at deploy time, never in code",
            kms_key_id=props.secret_key.arn,
            recovery_window_in_days=GRAFANA_SECRET_RECOVERY_DAYS,
        )
        waive(self.grafana_secret, "CKV2_AWS_57", "rotated by an operator together with Grafana's own admin user")
        grafana_password = data_aws_secretsmanager_secret_version.DataAwsSecretsmanagerSecretVersion(
            self, "grafana-admin-value", secret_id=self.grafana_secret.id
        )
        chart_values = {
            "kube-prometheus-stack": values.kube_prometheus_stack(env),
            "aws-load-balancer-controller": values.aws_load_balancer_controller(
                env, cluster=name, vpc_id=props.network.vpc.id, role_arn=lb_role.arn
            ),
            "aws-for-fluent-bit": values.aws_for_fluent_bit(
                env, log_group=props.container_logs.name, role_arn=fluent_role.arn
            ),
            "cluster-autoscaler": values.cluster_autoscaler(env, cluster=name, role_arn=autoscaler_role.arn),
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
        sensitive = {
            "kube-prometheus-stack": [
                release.ReleaseSetSensitive(name="grafana.adminPassword", value=grafana_password.secret_string)
            ]
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
                set_sensitive=sensitive.get(release_name),
            )
            for release_name, chart in platform_charts(env.eks_kubernetes_version).items()
        }
