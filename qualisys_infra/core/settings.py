"""The settings types: what ``environments/*.tfvars`` hold, as frozen dataclasses.

This is the ground every construct and stack stands on: they import these types and nothing of the
loading. The schema is the dataclasses themselves: a field without a default is a required key, its
type is the expected type, and ``doc`` in its metadata says what is allowed (the README's settings
reference is generated from it). Reading and validating files is :mod:`qualisys_infra.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qualisys_infra.core.playwright_pool import MAX_RUNNERS

# No list of environments here: every ``environments/<name>.tfvars`` but account.tfvars is one
# (``qualisys_infra.config.environment_names``; every environment's delivery is ``Settings.deliveries``).
ACCOUNT_FILE = "account.tfvars"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); 0 (never expire) is
# refused on purpose: logs without retention grow the bill forever.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# The spec's caps (story 0.3, pre-mortem "$5000 cloud bill"): autoscaling can never exceed these.
NODE_GROUP_MAX_CAPS = {"general": 10, "playwright": 20}


class NatMode(StrEnum):
    """How many NAT gateways the network has."""

    SINGLE = "single"  # one NAT gateway for every private subnet: cheap, one AZ failure cuts egress
    PER_AZ = "per_az"  # one NAT gateway per AZ: each private subnet keeps egress if another AZ fails


class Delivery(StrEnum):
    """How an environment's changes reach it (``delivery`` in its tfvars)."""

    PIPELINE = "pipeline"  # planned on pull requests, applied from main by CI (deploy.yml), with a boundary
    MANUAL = "manual"  # applied from a workstation by an administrator; no CI role, no boundary


def _doc(text: str, bounds: tuple[int, int] | None = None) -> Any:
    """A field's metadata: ``doc`` says what is allowed; ``bounds`` (low, high), when given, is the one
    place a whole number's range is written: the reader checks it (``qualisys_infra.config.reader``)
    and the generated settings reference shows it."""
    return {"doc": text} if bounds is None else {"doc": text, "bounds": bounds}


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroupConfig:
    """One EKS managed node group's sizes."""

    instance_types: tuple[str, ...] = field(metadata=_doc('a list of EC2 instance types, e.g. ["t3.medium"]'))
    min_size: int = field(metadata=_doc("a whole number >= 0"))
    desired_size: int = field(metadata=_doc("a whole number between min_size and max_size"))
    max_size: int = field(metadata=_doc("a whole number >= 1, within the spec's cap"))
    disk_size_gib: int = field(default=50, metadata=_doc("a whole number of GiB", (20, 1000)))


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroupsConfig:
    """The two node groups of the spec: general workloads and the Playwright runner pool."""

    general: NodeGroupConfig = field(metadata=_doc("an object with the general node group's sizes"))
    playwright: NodeGroupConfig = field(metadata=_doc("an object with the playwright node group's sizes"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceConfig:
    """One Kubernetes namespace's quota and default container limits."""

    cpu_requests: str = field(metadata=_doc('total CPU requests, a Kubernetes quantity like "4" or "500m"'))
    memory_requests: str = field(metadata=_doc('total memory requests, like "8Gi"'))
    cpu_limits: str = field(metadata=_doc('total CPU limits, like "8"'))
    memory_limits: str = field(metadata=_doc('total memory limits, like "16Gi"'))
    pods: int = field(default=50, metadata=_doc("the most pods", (1, 1000)))
    default_cpu: str = field(default="500m", metadata=_doc("a container's CPU limit when it sets none"))
    default_memory: str = field(default="512Mi", metadata=_doc("a container's memory limit when it sets none"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaywrightPoolConfig:
    """The parallel Playwright runner pool (NFR-P2): an Indexed Job in the ``playwright-pool`` namespace
    on the playwright node group. The rules check that ``runners`` of these sizes fit the namespace's
    quota and the node group at its ``max_size``."""

    runners: int = field(
        metadata=_doc(
            "runner pods at once (the Job's parallelism); they must fit the playwright-pool "
            "quota and the playwright node group at max_size",
            (1, MAX_RUNNERS),
        )
    )
    cpu_request: str = field(default="500m", metadata=_doc('CPU each runner requests, like "500m"'))
    cpu_limit: str = field(default="1", metadata=_doc("CPU each runner may use, >= cpu_request"))
    memory_request: str = field(default="1Gi", metadata=_doc('memory each runner requests, like "1Gi"'))
    memory_limit: str = field(default="2Gi", metadata=_doc("memory each runner may use, >= memory_request"))
    runner_image_repository: str = field(
        default="qualisys-playwright-runner",
        metadata=_doc("the ECR repository of the runner image, one of account.tfvars' ecr_repositories"),
    )
    run_as_user: int = field(
        default=10001, metadata=_doc("the numeric non-root user (and group) runners run as", (1000, 65535))
    )
    backoff_limit_per_index: int = field(
        default=1, metadata=_doc("retries of a failed shard before it counts as failed", (0, 10))
    )
    timeout_minutes: int = field(
        default=60, metadata=_doc("minutes a run may take before Kubernetes stops it", (5, 1440))
    )
    ttl_seconds_after_finished: int = field(
        default=3600, metadata=_doc("seconds a finished run is kept before Kubernetes deletes it", (60, 604800))
    )
    concurrent_runners: int = field(
        default=0,
        metadata=_doc(
            "runner pods of these sizes, across every run at once, that the playwright-pool quota and the"
            " playwright node group at max_size must admit (NFR-S2: 100+ concurrent runners in staging and"
            " production); 0 (the default) means `runners`, otherwise runners to 500"
        ),
    )

    @property
    def admitted_runners(self) -> int:
        """The runners the quota and node group are checked to admit at once: ``concurrent_runners``, or
        ``runners`` when it is 0."""
        return self.concurrent_runners or self.runners


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentConfig:
    """One environment, from ``environments/<name>.tfvars``: every such file but account.tfvars is one."""

    environment: str = field(
        metadata=_doc(
            "the file's own name: a DNS label (a-z, 0-9 and -, not at either end), short enough for the names"
            " built from it (`<project>-<name>-...`), not all, account or bootstrap"
        )
    )
    region: str = field(metadata=_doc('an AWS region, e.g. "us-east-1"'))
    delivery: Delivery = field(
        default=Delivery.MANUAL,
        metadata=_doc(
            '"pipeline" (planned on pull requests, applied from main by CI through its own apply role, under'
            ' a permissions boundary) or "manual" (applied from a workstation by an administrator, like dev)'
        ),
    )
    approval: bool = field(
        default=False,
        metadata=_doc(
            "true: the pipeline's apply waits for a reviewer in the GitHub environment of the same name"
            ' (delivery "pipeline" only)'
        ),
    )
    az_count: int = field(metadata=_doc("a whole number of AZs", (2, 6)))  # the spec asks for >= 2
    vpc_cidr: str = field(metadata=_doc('an IPv4 network from /16 to /24, e.g. "10.0.0.0/16"'))
    public_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    private_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    database_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    nat_mode: NatMode = field(metadata=_doc('"single" or "per_az" (per_az where approval = true)'))
    flow_log_retention_days: int = field(metadata=_doc("a CloudWatch retention period in days"))
    log_retention_days: int = field(metadata=_doc("a CloudWatch retention period in days"))
    tags: Mapping[str, str] = field(default_factory=dict, metadata=_doc("a map of tag names to strings"))
    eks_kubernetes_version: str = field(
        metadata=_doc(
            'an EKS Kubernetes version "1.NN", e.g. "1.36"; must be a minor of the lifecycle table'
            " (`qualisys_infra/core/lifecycle.py`)"
        )
    )
    eks_public_access_cidrs: tuple[str, ...] = field(
        default=(), metadata=_doc("a list of IPv4 networks allowed to reach the public API endpoint")
    )
    node_groups: NodeGroupsConfig = field(metadata=_doc("an object with `general` and `playwright`"))
    namespaces: Mapping[str, NamespaceConfig] = field(
        metadata=_doc(
            "Kubernetes namespaces with their quotas (spec 5.1: dev, staging, production, playwright-pool, monitoring):"
            " the environment's own (its services run there), and others only the platform's (monitoring,"
            " playwright-pool) or other environments' names"
        )
    )
    ingress_domain: str = field(metadata=_doc('the HTTPS host of the environment, e.g. "staging.qualisys.dev"'))
    grafana_domain: str = field(
        metadata=_doc(
            "the HTTPS host of the environment's Grafana behind the ingress edge (its own certificate, the WAF,"
            ' Grafana\'s login), a DNS name other than ingress_domain, e.g. "grafana.staging.qualisys.dev"'
        )
    )
    alert_emails: tuple[str, ...] = field(
        metadata=_doc(
            "e-mail addresses subscribed to the environment's alert topic, where Alertmanager sends every"
            " alert (at least one; each confirms the subscription AWS mails it)"
        )
    )
    test_pool: PlaywrightPoolConfig = field(
        metadata=_doc("the parallel Playwright runner pool (NFR-P2): runners and each runner's resources")
    )
    prometheus_retention_days: int = field(default=15, metadata=_doc("days of metrics Prometheus keeps", (1, 365)))
    prometheus_storage_gib: int = field(default=50, metadata=_doc("GiB of Prometheus storage", (10, 16384)))
    route53_zone_name: str = field(
        default="",
        metadata=_doc(
            'the public Route 53 hosted zone of the environment\'s hosts, e.g. "qualisys.dev": the platform stack'
            " validates the edge certificates in it and runs ExternalDNS, which writes the Ingress hosts'"
            ' records; "" (the default): both by hand, from the platform stack\'s outputs'
        ),
    )
    rds_instance_class: str = field(metadata=_doc('an RDS instance class, e.g. "db.t3.medium"'))
    rds_engine_version: str = field(default="16", metadata=_doc('a PostgreSQL major version "15" or newer'))
    rds_multi_az: bool = field(metadata=_doc("true or false (true where approval = true)"))
    rds_allocated_storage_gib: int = field(default=20, metadata=_doc("a whole number of GiB", (20, 65536)))
    rds_max_allocated_storage_gib: int = field(
        default=100, metadata=_doc("a whole number of GiB >= rds_allocated_storage_gib")
    )
    rds_backup_retention_days: int = field(default=7, metadata=_doc("a whole number of days", (1, 35)))
    rds_deletion_protection: bool = field(
        default=True, metadata=_doc('true or false; false (and no final snapshot) only where delivery = "manual"')
    )
    redis_node_type: str = field(metadata=_doc('an ElastiCache node type, e.g. "cache.t3.micro"'))
    redis_engine_version: str = field(default="7.1", metadata=_doc('a Redis version "7.0" or newer'))
    redis_num_shards: int = field(default=1, metadata=_doc("a whole number", (1, 500)))
    redis_replicas_per_shard: int = field(
        default=0, metadata=_doc("a whole number; >= 1 (Multi-AZ failover) in a pipeline environment", (0, 5))
    )
    redis_snapshot_retention_days: int = field(default=0, metadata=_doc("a whole number of days", (0, 35)))
    monthly_cost_limit: int = field(
        default=0,
        metadata=_doc(
            "USD a month the environment's estimated cost may reach (`qualisys-infra cost`): a plan"
            " that takes the estimate over it is a blocking review finding (C001); 0 (the default): no limit",
            (0, 1_000_000),
        ),
    )
    allow_destroy: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict,
        metadata=_doc(
            "a map from a stack kind (network, cluster, data, platform, apps) to the addresses of protected"
            ' resources `deploy` may destroy or replace (guardrail G001), e.g. { data = ["aws_db_instance.postgres"] };'
            " reviewed code, so the pipeline's deploy reads it (never the plan's review record); remove an entry"
            " once it is applied"
        ),
    )

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"

    @property
    def pipeline(self) -> bool:
        """Applied by the pipeline (``delivery = "pipeline"``): it has an apply role, a permissions
        boundary on every role its stacks create, a release role and a GitHub environment."""
        return self.delivery is Delivery.PIPELINE

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """The first ``az_count`` zones of the region, in order: ``us-east-1a``, ``us-east-1b``, ..."""
        return tuple(f"{self.region}{letter}" for letter in "abcdef"[: self.az_count])


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConfig:
    """Account-wide settings shared by every stack, from ``environments/account.tfvars``.

    The bootstrap stack creates the state bucket and lock table named here, and every other stack's
    S3 backend points at the same names, so both always agree.
    """

    project: str = field(metadata=_doc('a lower-case name prefix of 2 to 21 characters, e.g. "qualisys"'))
    region: str = field(metadata=_doc('the AWS region of the state bucket, e.g. "us-east-1"'))
    state_bucket_name: str = field(metadata=_doc("an S3 bucket name: 3-63 lower-case letters, digits, - and ."))
    access_log_bucket_name: str = field(metadata=_doc("an S3 bucket name, different from state_bucket_name"))
    lock_table_name: str = field(metadata=_doc("a DynamoDB table name: 3-255 letters, digits, _ - and ."))
    admin_role_name: str = field(
        metadata=_doc("the IAM role (MFA only) that administers the EKS clusters: 1-64 of A-Z a-z 0-9 +=,.@_-")
    )
    ci_deployer_role_name: str = field(
        metadata=_doc("the IAM role GitHub Actions pushes service images to ECR with: 1-64 of A-Z a-z 0-9 +=,.@_-")
    )
    state_noncurrent_version_retention_days: int = field(default=30, metadata=_doc("a whole number of days", (1, 3650)))
    access_log_retention_days: int = field(default=90, metadata=_doc("a whole number of days", (1, 3650)))
    tags: Mapping[str, str] = field(default_factory=dict, metadata=_doc("a map of tag names to strings"))
    github_repository: str = field(metadata=_doc('the GitHub repository that deploys, "OWNER/REPO"'))
    github_deploy_branches: tuple[str, ...] = field(
        default=("main",), metadata=_doc("branches whose workflows may deploy to staging")
    )
    github_production_environment: str = field(
        default="production", metadata=_doc("the protected GitHub environment allowed to deploy to production")
    )
    github_devops_team: str = field(
        default="devops",
        metadata=_doc("slug of the GitHub team that approves production deployments (story 0.8 AC8)"),
    )
    cloudtrail_bucket_name: str = field(metadata=_doc("an S3 bucket name for the CloudTrail logs"))
    account_access_log_bucket_name: str = field(metadata=_doc("an S3 bucket name for the account stack's access logs"))
    cloudtrail_retention_days: int = field(
        default=90, metadata=_doc("a CloudWatch retention period (story 0.1 AC9: 90)")
    )
    budget_limits_usd: tuple[int, ...] = field(
        default=(500, 1000, 2000), metadata=_doc("monthly budget thresholds in USD, each alerted (story 0.1 AC8)")
    )
    budget_alert_emails: tuple[str, ...] = field(metadata=_doc("e-mail addresses for budget and anomaly alerts"))
    anomaly_threshold_percent: int = field(
        default=150,
        metadata=_doc("alert when spend reaches this percent of the forecast (story 0.1 AC10)", (101, 1000)),
    )
    ecr_repositories: tuple[str, ...] = field(
        default=("qualisys-api", "qualisys-web", "qualisys-playwright-runner"),
        metadata=_doc("ECR repository names, each starting with qualisys-"),
    )
    ecr_keep_images: int = field(default=10, metadata=_doc("images kept per repository (story 0.6)", (1, 1000)))
    github_runner_image_tag: str = field(
        metadata=_doc(
            "the cluster runners' image in ECR <project>-actions-runner: the tag"
            " .github/workflows/runner-image.yml pushes (<runner version>-<12 hex of the content hash> of"
            " dev/runner.Dockerfile) or a digest sha256:<64 hex>"
        )
    )
    third_party_secrets: tuple[str, ...] = field(
        default=(
            "openai-api-key",
            "anthropic-api-key",
            "google-oauth-client",
            "sendgrid-api-key",
            "github-app-private-key",
        ),
        metadata=_doc("Secrets Manager entries for third-party keys (story 0.22), created without values"),
    )
    secret_reader_role_names: tuple[str, ...] = field(
        default=(), metadata=_doc("IAM roles that may read the third-party secrets (the application's roles)")
    )
    secret_recovery_window_days: int = field(default=30, metadata=_doc("a whole number of days", (7, 30)))

    @property
    def state_key_alias(self) -> str:
        """The KMS alias of the state key; backends name it, so it is fixed by the project name."""
        return f"alias/{self.project}-terraform-state"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentDelivery:
    """What the account-wide stacks (account, github) and the workflows need of every environment,
    read from every ``environments/<name>.tfvars`` whichever environments a command loads."""

    name: str
    region: str
    delivery: Delivery
    approval: bool  # its apply waits for a reviewer in the GitHub environment of the same name

    @property
    def pipeline(self) -> bool:
        return self.delivery is Delivery.PIPELINE


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything read from ``environments/``: the account, the requested environments, and every
    environment's delivery (``deliveries``, all of them, in the project's order)."""

    account: AccountConfig
    environments: tuple[EnvironmentConfig, ...]
    deliveries: tuple[EnvironmentDelivery, ...] = ()

    @property
    def environment_names(self) -> tuple[str, ...]:
        """Every environment of the project, in its order (not only the loaded ones)."""
        return tuple(d.name for d in self.deliveries)

    @property
    def pipeline_environments(self) -> tuple[str, ...]:
        """The environments the pipeline applies (``delivery = "pipeline"``), in the project's order."""
        return tuple(d.name for d in self.deliveries if d.pipeline)
