"""ElastiCache Redis 7 in cluster mode: encrypted at rest and in transit, RBAC with IAM auth, the
application confined to tenant keys."""

from __future__ import annotations

from dataclasses import dataclass

from modules.encryption_key import EncryptionKey
from modules.log_group import log_group
from modules.network import Network
from modules.security_group import SecurityGroup, SecurityGroupProps
from qualisys_infra.core.data_access import cloud_redis_access_string
from qualisys_infra.core.engine import Construct, TerraformResourceLifecycle
from qualisys_infra.core.engine.aws import (
    elasticache_replication_group as rg,
)
from qualisys_infra.core.engine.aws import (
    elasticache_user,
    elasticache_user_group,
)
from qualisys_infra.core.monitoring_access import cloud_redis_exporter_access_string, redis_exporter_user_id

PORT = 6379
SNAPSHOT_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisCacheProps:
    """Shape (shards, replicas, node type) and keys of the cache.

    Cluster mode is on; with replicas, every shard fails over automatically to another AZ
    (Multi-AZ). Data is encrypted at rest with ``storage_key`` and TLS is required (ElastiCache has
    no setting for the TLS version: it negotiates TLS 1.2 or newer). Clients authenticate as the
    RBAC user ``<name>-app`` with IAM (no password exists anywhere), which reaches only keys and
    channels under ``tenant_*:`` with data commands (no key listing, no administration:
    :func:`~qualisys_infra.core.data_access.cloud_redis_access_string`); the ``default`` user is
    switched off. The metrics exporter signs in as ``<name>-metrics``, which reaches no key and runs
    only what the exporter reads (:mod:`qualisys_infra.core.monitoring_access`). Slow and engine logs
    go to CloudWatch (``log_key``).
    """

    name: str
    network: Network
    engine_version: str
    node_type: str
    num_shards: int
    replicas_per_shard: int
    snapshot_retention_days: int
    storage_key: EncryptionKey
    log_key: EncryptionKey
    log_retention_days: int


class RedisCache(Construct):
    """Security group, RBAC users and user group, log groups, and the replication group."""

    def __init__(self, scope: Construct, id_: str, *, props: RedisCacheProps) -> None:
        super().__init__(scope, id_)
        self.security_group = SecurityGroup(
            self,
            "sg",
            props=SecurityGroupProps(
                name=f"{props.name}-redis",
                description=f"{props.name} Redis: ingress only from named security groups",
                vpc_id=props.network.vpc_id,
            ),
        )
        # ElastiCache requires a user named "default" in every user group: this one cannot log in.
        disabled_default = elasticache_user.ElasticacheUser(
            self,
            "default-user",
            user_id=f"{props.name}-default",
            user_name="default",
            engine="redis",
            access_string="off -@all",
            authentication_mode=elasticache_user.ElasticacheUserAuthenticationMode(type="no-password-required"),
        )
        self.app_user_id = f"{props.name}-app"
        app_user = elasticache_user.ElasticacheUser(
            self,
            "app-user",
            # IAM authentication requires the user id and name to be equal.
            user_id=self.app_user_id,
            user_name=self.app_user_id,
            engine="redis",
            access_string=cloud_redis_access_string(),
            authentication_mode=elasticache_user.ElasticacheUserAuthenticationMode(type="iam"),
        )
        # The metrics exporter's user: no key or channel, INFO and the other commands it reads the
        # server's state with (core.monitoring_access). The exporter has no IAM authentication, so it
        # needs a password; none is ever in Terraform. The user is created with IAM authentication (no
        # role may connect as it, so nobody can sign in), then an operator switches it to a password the
        # exporter reads from its Kubernetes Secret (README, "Metrics, logs and alerts"); Terraform
        # leaves the authentication mode alone from then on.
        self.exporter_user_id = redis_exporter_user_id(props.name)
        exporter_user = elasticache_user.ElasticacheUser(
            self,
            "exporter-user",
            # IAM authentication requires the user id and name to be equal.
            user_id=self.exporter_user_id,
            user_name=self.exporter_user_id,
            engine="redis",
            access_string=cloud_redis_exporter_access_string(),
            authentication_mode=elasticache_user.ElasticacheUserAuthenticationMode(type="iam"),
            lifecycle=TerraformResourceLifecycle(ignore_changes=["authentication_mode"]),
        )
        self.user_group = elasticache_user_group.ElasticacheUserGroup(
            self,
            "user-group",
            user_group_id=f"{props.name}-users",
            engine="redis",
            user_ids=[disabled_default.user_id, app_user.user_id, exporter_user.user_id],
        )
        self.log_groups = {
            kind: log_group(
                self,
                f"log-{kind}",
                name=f"/aws/elasticache/{props.name}/{kind}",
                retention_days=props.log_retention_days,
                key=props.log_key,
            )
            for kind in ("slow-log", "engine-log")
        }
        multi_az = props.replicas_per_shard > 0
        self.replication_group = rg.ElasticacheReplicationGroup(
            self,
            "replication-group",
            replication_group_id=props.name,
            description=f"{props.name} Redis (cluster mode)",
            engine="redis",
            engine_version=props.engine_version,
            node_type=props.node_type,
            port=PORT,
            cluster_mode="enabled",
            parameter_group_name="default.redis7.cluster.on",
            num_node_groups=props.num_shards,
            replicas_per_node_group=props.replicas_per_shard,
            # Cluster mode requires automatic failover; it takes effect once a shard has a replica.
            automatic_failover_enabled=True,
            multi_az_enabled=multi_az,
            subnet_group_name=props.network.cache_subnet_group.name,
            security_group_ids=[self.security_group.id],
            at_rest_encryption_enabled="true",
            kms_key_id=props.storage_key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[self.user_group.user_group_id],
            snapshot_retention_limit=props.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade="true",
            apply_immediately=False,
            log_delivery_configuration=[
                rg.ElasticacheReplicationGroupLogDeliveryConfiguration(
                    destination=group.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type=kind,
                )
                for kind, group in self.log_groups.items()
            ],
        )

    def allow_from(self, source: SecurityGroup | str, *, description: str) -> None:
        """Admit Redis connections (6379) from members of ``source``."""
        self.security_group.allow_from(source, port=PORT, description=description)
