"""``<env>-data``: RDS PostgreSQL and ElastiCache Redis, their keys, and ingress from the nodes only."""

from __future__ import annotations

from modules.cache import RedisCache, RedisCacheProps
from modules.database import PostgresDatabase, PostgresDatabaseProps, database_name, master_username
from modules.eks import EksCluster
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.network import Network
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS, apply_role_name
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack


class DataStack(EnvironmentStack):
    """The environment's database and cache in the isolated subnets, reachable from EKS nodes only."""

    KIND = "data"

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
        keys = {
            purpose: EncryptionKey(
                self,
                f"{purpose}-key",
                props=EncryptionKeyProps(
                    alias_name=f"{name}-{purpose}",
                    description=f"{name}: {description}",
                    context=ctx,
                    log_group_name_prefix=prefix,
                ),
            )
            for purpose, description, prefix in (
                ("rds", "RDS storage and Performance Insights", None),
                ("rds-secret", "RDS master password in Secrets Manager", None),
                ("redis", "ElastiCache data at rest", None),
                ("data-logs", "database and cache logs", "/aws/"),
            )
        }
        self.database = PostgresDatabase(
            self,
            "postgres",
            props=PostgresDatabaseProps(
                name=name,
                context=ctx,
                network=network,
                database_name=database_name(account.project),
                master_username=master_username(account.project),
                engine_version=env.rds_engine_version,
                instance_class=env.rds_instance_class,
                multi_az=env.rds_multi_az,
                allocated_storage_gib=env.rds_allocated_storage_gib,
                max_allocated_storage_gib=env.rds_max_allocated_storage_gib,
                backup_retention_days=env.rds_backup_retention_days,
                deletion_protection=env.rds_deletion_protection,
                storage_key=keys["rds"],
                secret_key=keys["rds-secret"],
                log_key=keys["data-logs"],
                log_retention_days=env.log_retention_days,
                # Who provisions the database (tenants init, as the master user): the MFA-only
                # administrators; and where each deploy proves isolation on this database (sign-off 6),
                # the environment's apply role that runs it. Nothing else reads the master password.
                master_secret_reader_role_arns=(
                    ctx.iam_arn(f"role/{account.admin_role_name}"),
                    *(
                        [ctx.iam_arn(f"role/{apply_role_name(account.project, env.environment)}")]
                        if env.environment in ISOLATION_VERIFIED_ENVIRONMENTS
                        else []
                    ),
                ),
            ),
        )
        self.cache = RedisCache(
            self,
            "redis",
            props=RedisCacheProps(
                name=name,
                network=network,
                engine_version=env.redis_engine_version,
                node_type=env.redis_node_type,
                num_shards=env.redis_num_shards,
                replicas_per_shard=env.redis_replicas_per_shard,
                snapshot_retention_days=env.redis_snapshot_retention_days,
                storage_key=keys["redis"],
                log_key=keys["data-logs"],
                log_retention_days=env.log_retention_days,
            ),
        )
        nodes = cluster.node_security_group
        self.database.allow_from(nodes, description="EKS nodes to PostgreSQL")
        self.cache.allow_from(nodes, description="EKS nodes to Redis")
        outputs: dict[str, tuple[object, str]] = {
            "db_instance_endpoint": (self.database.instance.endpoint, "PostgreSQL endpoint (host:port)"),
            "db_instance_identifier": (self.database.instance.identifier, "RDS instance identifier"),
            "db_master_secret_arn": (
                self.database.instance.master_user_secret.get(0).secret_arn,
                "Secrets Manager secret of the master credentials (managed by RDS; administrators read it)",
            ),
            "db_app_user_connect_policy_arn": (
                self.database.app_user_connect_policy.arn,
                "IAM policy to attach to the application's role: connect as app_user with an IAM token",
            ),
            "redis_configuration_endpoint": (
                self.cache.replication_group.configuration_endpoint_address,
                "Redis cluster-mode configuration endpoint",
            ),
            "redis_app_user_id": (self.cache.app_user_id, "RBAC user for IAM authentication"),
            "redis_exporter_user_id": (
                self.cache.exporter_user_id,
                "RBAC user of the metrics exporter (its password is set by an operator: README)",
            ),
        }
        self.outputs(outputs)
