"""RDS PostgreSQL in the isolated subnets: encrypted, TLS-only, IAM auth, managed master secret.

The application's login ``app_user`` has no password on RDS: it holds ``rds_iam`` (granted by
``qualisys-infra tenants init``) and connects with IAM tokens signed for ``rds-db:connect``, which
:attr:`PostgresDatabase.app_user_connect_policy` allows. Why IAM rather than a rotated password in
Secrets Manager: no application password exists at all (nothing to store, leak or rotate; a token
lives 15 minutes, far inside the spec's 90 days), it is the same mechanism as the cache's (IAM to
ElastiCache), and it needs no rotation function inside the VPC with a route to Secrets Manager.
Its limit: AWS advises IAM authentication below about 200 new connections per second per instance
(IAM database authentication, Amazon RDS User Guide, read 2026-12-06), which pooled connections
stay far below. The master password is the one database password; RDS keeps and rotates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey
from modules.log_group import log_group
from modules.network import Network
from modules.policy import Condition, Effect, Statement, policy_document
from modules.security_group import SecurityGroup, SecurityGroupProps
from modules.service_role import ServiceRole, ServiceRoleProps, service_trust
from modules.waivers import waive
from qualisys_infra.core.data_access import APP_DB_USER
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import (
    db_instance,
    db_parameter_group,
    iam_policy,
    secretsmanager_secret_policy,
    secretsmanager_secret_rotation,
)

PORT = 5432
BACKUP_WINDOW = "03:00-04:00"  # UTC, story 0.4
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"  # after the backup window, never overlapping it
SLOW_STATEMENT_MS = 500
LOG_EXPORTS = ("postgresql", "upgrade")
# RDS for PostgreSQL 16 and later accept TLS 1.3 (the spec: TLS 1.3 for RDS connections); older
# majors stop at TLS 1.2 ("Using SSL with a PostgreSQL DB instance", Amazon RDS User Guide, read
# 2026-12-06).
TLS13_FIRST_MAJOR = 16


def min_tls_version(engine_version: str) -> str:
    """The ``ssl_min_protocol_version`` of an RDS PostgreSQL ``engine_version``: the newest it offers."""
    return "TLSv1.3" if int(engine_version.split(".")[0]) >= TLS13_FIRST_MAJOR else "TLSv1.2"


def _identifier(project: str) -> str:
    """The project's name as a PostgreSQL identifier: a letter first (as every project name), no ``-``."""
    return project.replace("-", "_")


def database_name(project: str) -> str:
    """The database RDS creates: ``<project>_master`` (RDS: 1-63 letters, digits or ``_``, a letter first)."""
    return f"{_identifier(project)}_master"


def master_username(project: str) -> str:
    """The master user: ``<project>_admin``, the project's name cut to 10 characters (and of a trailing
    ``_``) so that it stays within RDS's 16 for PostgreSQL (a letter first, then letters, digits or ``_``)."""
    return f"{_identifier(project)[:10].rstrip('_')}_admin"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresDatabaseProps:
    """Size, availability and protection of the database; keys for storage, secret and logs.

    Never publicly accessible; storage is gp3, encrypted with ``storage_key``, and grows up to
    ``max_allocated_storage_gib``. The master password is generated and kept by RDS in Secrets
    Manager (encrypted with ``secret_key``) and rotated every ``master_password_rotation_days``:
    it never appears in Terraform. TLS is forced (``rds.force_ssl``) at the newest version the engine
    offers (:func:`min_tls_version`: TLS 1.3 from PostgreSQL 16), statements slower than
    500 ms are logged, logs go to CloudWatch (``log_key``, ``log_retention_days``). With
    ``deletion_protection`` AWS refuses deletion and a final snapshot is taken on destroy.

    The master secret's resource policy refuses ``GetSecretValue`` to every principal but
    ``master_secret_reader_role_arns`` (the roles that provision the database, e.g. the MFA-only
    administrators), AWS services and service-linked roles (RDS rotates it): an identity policy
    that allows ``secretsmanager:*`` (PowerUserAccess, say) still cannot read it.
    """

    name: str
    context: AccountContext
    network: Network
    engine_version: str
    instance_class: str
    multi_az: bool
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    backup_retention_days: int
    deletion_protection: bool
    storage_key: EncryptionKey
    secret_key: EncryptionKey
    log_key: EncryptionKey
    log_retention_days: int
    master_secret_reader_role_arns: tuple[str, ...]
    database_name: str  # :func:`database_name`
    master_username: str  # :func:`master_username`
    master_password_rotation_days: int = 90  # story 0.7 AC4


class PostgresDatabase(Construct):
    """Security group (no rules until ``allow_from``), parameter group, log groups, monitoring role,
    the instance, the rotation schedule and resource policy of its managed master secret, and the
    IAM policy that lets a role connect as ``app_user``."""

    def __init__(self, scope: Construct, id_: str, *, props: PostgresDatabaseProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        self.security_group = SecurityGroup(
            self,
            "sg",
            props=SecurityGroupProps(
                name=f"{props.name}-postgres",
                description=f"{props.name} PostgreSQL: ingress only from named security groups",
                vpc_id=props.network.vpc_id,
            ),
        )
        major = props.engine_version.split(".")[0]
        self.parameter_group = db_parameter_group.DbParameterGroup(
            self,
            "parameters",
            name=f"{props.name}-postgres{major}",
            family=f"postgres{major}",
            # The description forces a new group when changed (and the group in use cannot be deleted).
            description=f"{props.name}: TLS only, slow statements logged",
            parameter=[
                db_parameter_group.DbParameterGroupParameter(name=name, value=value, apply_method=method)
                for name, value, method in (
                    ("rds.force_ssl", "1", "immediate"),
                    ("ssl_min_protocol_version", min_tls_version(props.engine_version), "immediate"),
                    ("log_min_duration_statement", str(SLOW_STATEMENT_MS), "immediate"),
                    ("log_statement", "ddl", "immediate"),
                    ("log_connections", "1", "immediate"),
                    ("log_disconnections", "1", "immediate"),
                    ("shared_preload_libraries", "pg_stat_statements", "pending-reboot"),
                )
            ],
        )
        # RDS exports to exactly these names; creating them first sets retention and key.
        self.log_groups = [
            log_group(
                self,
                f"log-{kind}",
                name=f"/aws/rds/instance/{props.name}/{kind}",
                retention_days=props.log_retention_days,
                key=props.log_key,
            )
            for kind in LOG_EXPORTS
        ]
        self.monitoring_role = ServiceRole(
            self,
            "monitoring-role",
            props=ServiceRoleProps(
                name=f"{props.name}-rds-monitoring",
                description=f"Enhanced Monitoring of {props.name}",
                context=ctx,
                trust=service_trust(ctx, "monitoring.rds.amazonaws.com"),
                managed_policies=("service-role/AmazonRDSEnhancedMonitoringRole",),
            ),
        )
        self.instance = db_instance.DbInstance(
            self,
            "instance",
            identifier=props.name,
            engine="postgres",
            engine_version=props.engine_version,
            instance_class=props.instance_class,
            db_name=props.database_name,
            username=props.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=props.secret_key.arn,
            iam_database_authentication_enabled=True,
            port=PORT,
            db_subnet_group_name=props.network.db_subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=False,
            multi_az=props.multi_az,
            storage_type="gp3",
            allocated_storage=props.allocated_storage_gib,
            max_allocated_storage=props.max_allocated_storage_gib,
            storage_encrypted=True,
            kms_key_id=props.storage_key.arn,
            parameter_group_name=self.parameter_group.name,
            backup_retention_period=props.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=props.deletion_protection,
            skip_final_snapshot=not props.deletion_protection,
            final_snapshot_identifier=f"{props.name}-final" if props.deletion_protection else None,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=props.storage_key.arn,
            performance_insights_retention_period=7,
            monitoring_interval=60,
            monitoring_role_arn=self.monitoring_role.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=False,
            depends_on=[*self.log_groups, *self.monitoring_role.attachments],
        )
        if not props.multi_az:
            waive(
                self.instance,
                "CKV_AWS_157",
                "single-AZ by this environment's tfvars (rds_multi_az = false, dev)",
            )
        if not props.deletion_protection:
            waive(
                self.instance,
                "CKV_AWS_293",
                "deletion protection off by this environment's tfvars (rds_deletion_protection = false, dev only)",
            )
        master_secret_arn = self.instance.master_user_secret.get(0).secret_arn
        secretsmanager_secret_rotation.SecretsmanagerSecretRotation(
            self,
            "master-secret-rotation",
            secret_id=master_secret_arn,
            rotation_rules=secretsmanager_secret_rotation.SecretsmanagerSecretRotationRotationRules(
                automatically_after_days=props.master_password_rotation_days
            ),
        )
        # RDS-managed secrets take resource policies (RDS keeps the value, rotation and deletion).
        readers = (*props.master_secret_reader_role_arns, ctx.iam_arn("role/aws-service-role/*"))
        master_policy = policy_document(
            self,
            "master-secret-policy-document",
            [
                Statement(
                    sid="OnlyProvisionersRead",
                    effect=Effect.DENY,
                    actions=("secretsmanager:GetSecretValue",),
                    resources=("*",),
                    principals={"*": ["*"]},
                    conditions=(
                        Condition(test="ArnNotLike", variable="aws:PrincipalArn", values=readers),
                        Condition(test="Bool", variable="aws:PrincipalIsAWSService", values=("false",)),
                    ),
                )
            ],
        )
        self.master_secret_policy = secretsmanager_secret_policy.SecretsmanagerSecretPolicy(
            self,
            "master-secret-policy",
            secret_arn=master_secret_arn,
            policy=master_policy.json,
            block_public_policy=True,
        )
        connect = policy_document(
            self,
            "app-user-connect-document",
            [
                Statement(
                    sid="ConnectAsAppUser",
                    actions=("rds-db:connect",),
                    resources=(ctx.arn("rds-db", f"dbuser:{self.instance.resource_id}/{APP_DB_USER}"),),
                )
            ],
        )
        self.app_user_connect_policy = iam_policy.IamPolicy(
            self,
            "app-user-connect",
            name=f"{props.name}-db-connect-{APP_DB_USER.replace('_', '-')}",
            description=f"Connect to {props.name} PostgreSQL as {APP_DB_USER} with an IAM token (no password exists)",
            policy=connect.json,
        )

    def allow_from(self, source: SecurityGroup | str, *, description: str) -> None:
        """Admit PostgreSQL connections (5432) from members of ``source``."""
        self.security_group.allow_from(source, port=PORT, description=description)
