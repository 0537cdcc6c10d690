"""What produces the database dashboard's metrics, and the Lua the log pipeline runs: the PostgreSQL and
Redis exporters (prometheus-community charts, pinned in :mod:`modules.platform.charts`) in
``monitoring``, each scraped by its chart's ServiceMonitor (:class:`MetricsExporters`), and the
ConfigMap of fluent-bit's Lua (:class:`FluentBitScripts`).

Why exporters and not CloudWatch: RDS and ElastiCache publish to CloudWatch too, but bringing those
metrics into Prometheus takes another exporter polling the CloudWatch API (paid per metric
requested, minutes behind, and nothing this project could run in a test); the exporters read the
servers directly every 30 s, with the same names on a laptop, in a test and in the cloud, and
``tests/observability`` runs them for real against PostgreSQL and Redis.

Least privilege: the PostgreSQL exporter signs in as the ``pg_monitor``-only login and the Redis
exporter as the cache's ``<name>-metrics`` ElastiCache user (no key, the exporter's commands only:
:mod:`qualisys_infra.core.monitoring_access`); their credentials are in the Kubernetes Secrets
``postgres-exporter`` (the connection URL) and ``redis-exporter``, which an operator creates (README,
"Metrics, logs and alerts"): a password Terraform writes is kept in the state every plan can read. The exporters' pods
may reach the database subnets on PostgreSQL's and Redis' ports and nothing else outside the
namespace (:data:`EXPORTER_EGRESS`); Prometheus reaches them inside ``monitoring``.

The cache's configuration endpoint is looked up by its identifier (the stack's name prefix), which
the data stack gives it: the data stack is applied before this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.network import Network
from modules.platform import values
from modules.platform.charts import EXPORTER_CHARTS
from modules.platform.log_pipeline import LUA_CONFIG_MAP, REDACT_SCRIPT, redact_script
from qualisys_infra.core.engine import Construct, TerraformResource
from qualisys_infra.core.engine.aws import data_aws_elasticache_replication_group
from qualisys_infra.core.engine.helm import release
from qualisys_infra.core.engine.kubernetes import config_map_v1, network_policy_v1
from qualisys_infra.core.monitoring_access import redis_exporter_user_id

POSTGRES_PORT = 5432
REDIS_PORT = 6379
# The pods of each exporter release carry the chart's name label (the charts' selectorLabels).
EXPORTER_POD_NAMES = {
    values.POSTGRES_EXPORTER: "prometheus-postgres-exporter",
    values.REDIS_EXPORTER: "prometheus-redis-exporter",
}
EXPORTER_EGRESS = {values.POSTGRES_EXPORTER: POSTGRES_PORT, values.REDIS_EXPORTER: REDIS_PORT}
RELEASE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsExportersProps:
    """``name`` is the environment's prefix: the replication group's identifier.
    ``namespace`` is ``monitoring`` (its token, so that the releases wait for it); ``network`` gives the
    database subnets the exporters may reach."""

    name: str
    namespace: str
    network: Network


class MetricsExporters(Construct):
    """The two exporter releases and their egress policies."""

    def __init__(self, scope: Construct, id_: str, *, props: MetricsExportersProps) -> None:
        super().__init__(scope, id_)
        ns = props.namespace
        cache = data_aws_elasticache_replication_group.DataAwsElasticacheReplicationGroup(
            self, "cache", replication_group_id=props.name
        )
        chart_values = {
            values.POSTGRES_EXPORTER: values.postgres_exporter(),
            values.REDIS_EXPORTER: values.redis_exporter(
                address=cache.configuration_endpoint_address, user=redis_exporter_user_id(props.name)
            ),
        }
        self.releases = {
            name: release.Release(
                self,
                name,
                name=name,
                repository=chart.repository,
                chart=chart.chart,
                version=chart.version,
                namespace=ns,
                values=[values.to_yaml(chart_values[name])],
                # Not waited for: the exporters' pods start only once an operator has created their
                # Secrets, which must not fail the platform's apply; until then DatabaseMetricsMissing
                # and CacheMetricsMissing fire (modules/alert_rules.py).
                wait=False,
                timeout=RELEASE_TIMEOUT_SECONDS,
            )
            for name, chart in EXPORTER_CHARTS.items()
        }
        subnets = props.network.database_subnets
        for name, port in EXPORTER_EGRESS.items():
            network_policy_v1.NetworkPolicyV1(
                self,
                f"{name}-egress",
                metadata=network_policy_v1.NetworkPolicyV1Metadata(name=f"allow-{name}-to-data-tier", namespace=ns),
                spec=network_policy_v1.NetworkPolicyV1Spec(
                    pod_selector=network_policy_v1.NetworkPolicyV1SpecPodSelector(
                        match_labels={"app.kubernetes.io/name": EXPORTER_POD_NAMES[name]}
                    ),
                    policy_types=["Egress"],
                    egress=[
                        network_policy_v1.NetworkPolicyV1SpecEgress(
                            to=[
                                network_policy_v1.NetworkPolicyV1SpecEgressTo(
                                    ip_block=network_policy_v1.NetworkPolicyV1SpecEgressToIpBlock(
                                        cidr=subnet.cidr_block
                                    )
                                )
                                for subnet in subnets
                            ],
                            ports=[network_policy_v1.NetworkPolicyV1SpecEgressPorts(port=str(port), protocol="TCP")],
                        )
                    ],
                ),
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class FluentBitScriptsProps:
    """Where the scripts go (``namespace``, fluent-bit's) and the Helm release of fluent-bit that mounts them."""

    namespace: str
    fluent_bit: TerraformResource


class FluentBitScripts(Construct):
    """The ConfigMap ``fluent-bit-lua`` in ``namespace``: the PII redaction filter fluent-bit runs
    (mounted by :func:`modules.platform.values.aws_for_fluent_bit`)."""

    def __init__(self, scope: Construct, id_: str, *, props: FluentBitScriptsProps) -> None:
        super().__init__(scope, id_)
        namespace, fluent_bit = props.namespace, props.fluent_bit
        self.config_map = config_map_v1.ConfigMapV1(
            self,
            "config-map",
            metadata=config_map_v1.ConfigMapV1Metadata(name=LUA_CONFIG_MAP, namespace=namespace),
            data={REDACT_SCRIPT: redact_script()},
        )
        # fluent-bit's pods mount it: the release waits for it.
        fluent_bit.depends_on = [
            *(fluent_bit.depends_on or []),
            f"{self.config_map.terraform_resource_type}.{self.config_map.friendly_unique_id}",
        ]
