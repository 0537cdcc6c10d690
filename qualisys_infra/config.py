"""Typed, validated settings: ``environments/<env>.tfvars`` and ``environments/account.tfvars``.

One loader turns each HCL file into a frozen dataclass. The schema is the dataclasses themselves:
a field without a default is a required key, its type is the expected type, and ``doc`` in its
metadata says what is allowed. Structural checks (unknown keys, missing keys, types) are generic;
the rules that relate values to each other (subnets inside the VPC, node-group sizes, ...) follow.
Every violation in a file is collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import ipaddress
import json
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from qualisys_infra.errors import ConfigError, UsageError, Violation
from qualisys_infra.hclfile import HclDocument, KeyPath, read_hcl
from qualisys_infra.networks import MAX_PUBLIC_IPV4, exposure

ENVIRONMENT_NAMES = ("dev", "staging", "production")
ACCOUNT_FILE = "account.tfvars"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); 0 (never expire) is
# refused on purpose: logs without retention grow the bill forever.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# The spec's caps (story 0.3, pre-mortem "$5000 cloud bill"): autoscaling can never exceed these.
NODE_GROUP_MAX_CAPS = {"general": 10, "playwright": 20}

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
_K8S_VERSION = re.compile(r"^1\.(\d{2})$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
_REDIS_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_ECR_REPO = re.compile(r"^qualisys-[a-z0-9][a-z0-9._/-]{0,200}$")
_SECRET = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CPU = re.compile(r"^\d+(\.\d+)?m?$")
_MEMORY = re.compile(r"^\d+(Ki|Mi|Gi|Ti)?$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")


class NatMode(StrEnum):
    """How many NAT gateways the network has."""

    SINGLE = "single"  # one NAT gateway for every private subnet: cheap, one AZ failure cuts egress
    PER_AZ = "per_az"  # one NAT gateway per AZ: each private subnet keeps egress if another AZ fails


def _doc(text: str) -> Any:
    return {"doc": text}


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroupConfig:
    """One EKS managed node group's sizes."""

    instance_types: tuple[str, ...] = field(metadata=_doc('a list of EC2 instance types, e.g. ["t3.medium"]'))
    min_size: int = field(metadata=_doc("a whole number >= 0"))
    desired_size: int = field(metadata=_doc("a whole number between min_size and max_size"))
    max_size: int = field(metadata=_doc("a whole number >= 1, within the spec's cap"))
    disk_size_gib: int = field(default=50, metadata=_doc("a whole number of GiB from 20 to 1000"))


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
    pods: int = field(default=50, metadata=_doc("the most pods, 1 to 1000"))
    default_cpu: str = field(default="500m", metadata=_doc("a container's CPU limit when it sets none"))
    default_memory: str = field(default="512Mi", metadata=_doc("a container's memory limit when it sets none"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentConfig:
    """One environment (dev, staging, production), from ``environments/<env>.tfvars``."""

    environment: str = field(metadata=_doc("the file's own name: dev, staging or production"))
    region: str = field(metadata=_doc('an AWS region, e.g. "us-east-1"'))
    az_count: int = field(metadata=_doc("a whole number from 2 to 6 (the spec asks for >= 2 AZs)"))
    vpc_cidr: str = field(metadata=_doc('an IPv4 network from /16 to /24, e.g. "10.0.0.0/16"'))
    public_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    private_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    database_subnet_cidrs: tuple[str, ...] = field(metadata=_doc("one IPv4 network per AZ inside vpc_cidr"))
    nat_mode: NatMode = field(metadata=_doc('"single" or "per_az"'))
    flow_log_retention_days: int = field(metadata=_doc("a CloudWatch retention period in days"))
    log_retention_days: int = field(metadata=_doc("a CloudWatch retention period in days"))
    tags: Mapping[str, str] = field(default_factory=dict, metadata=_doc("a map of tag names to strings"))
    eks_kubernetes_version: str = field(metadata=_doc('an EKS Kubernetes version "1.NN", e.g. "1.33"'))
    eks_public_access_cidrs: tuple[str, ...] = field(
        default=(), metadata=_doc("a list of IPv4 networks allowed to reach the public API endpoint")
    )
    eks_ci_namespaces: tuple[str, ...] = field(
        default=(),
        metadata=_doc("Kubernetes namespaces the CI deployer role may deploy to in this cluster (story 0.3 AC4)"),
    )
    node_groups: NodeGroupsConfig = field(metadata=_doc("an object with `general` and `playwright`"))
    namespaces: Mapping[str, NamespaceConfig] = field(
        metadata=_doc(
            "Kubernetes namespaces with their quotas (spec 5.1: dev, staging, production, playwright-pool, monitoring)"
        )
    )
    ingress_domain: str = field(metadata=_doc('the HTTPS host of the environment, e.g. "staging.qualisys.dev"'))
    prometheus_retention_days: int = field(default=15, metadata=_doc("days of metrics Prometheus keeps, 1 to 365"))
    prometheus_storage_gib: int = field(default=50, metadata=_doc("GiB of Prometheus storage, 10 to 16384"))
    rds_instance_class: str = field(metadata=_doc('an RDS instance class, e.g. "db.t3.medium"'))
    rds_engine_version: str = field(default="16", metadata=_doc('a PostgreSQL major version "15" or newer'))
    rds_multi_az: bool = field(metadata=_doc("true or false"))
    rds_allocated_storage_gib: int = field(default=20, metadata=_doc("a whole number of GiB from 20 to 65536"))
    rds_max_allocated_storage_gib: int = field(
        default=100, metadata=_doc("a whole number of GiB >= rds_allocated_storage_gib")
    )
    rds_backup_retention_days: int = field(default=7, metadata=_doc("a whole number of days from 1 to 35"))
    rds_deletion_protection: bool = field(
        default=True, metadata=_doc("true or false; false (and no final snapshot) is allowed only in dev")
    )
    redis_node_type: str = field(metadata=_doc('an ElastiCache node type, e.g. "cache.t3.micro"'))
    redis_engine_version: str = field(default="7.1", metadata=_doc('a Redis version "7.0" or newer'))
    redis_num_shards: int = field(default=1, metadata=_doc("a whole number from 1 to 500"))
    redis_replicas_per_shard: int = field(
        default=0, metadata=_doc("a whole number from 0 to 5; >= 1 (Multi-AZ failover) outside dev")
    )
    redis_snapshot_retention_days: int = field(default=0, metadata=_doc("a whole number of days from 0 to 35"))

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"

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
        metadata=_doc("the IAM role GitHub Actions deploys to staging with: 1-64 of A-Z a-z 0-9 +=,.@_-")
    )
    state_noncurrent_version_retention_days: int = field(
        default=30, metadata=_doc("a whole number of days from 1 to 3650")
    )
    access_log_retention_days: int = field(default=90, metadata=_doc("a whole number of days from 1 to 3650"))
    tags: Mapping[str, str] = field(default_factory=dict, metadata=_doc("a map of tag names to strings"))
    github_repository: str = field(metadata=_doc('the GitHub repository that deploys, "OWNER/REPO"'))
    github_deploy_branches: tuple[str, ...] = field(
        default=("main",), metadata=_doc("branches whose workflows may deploy to staging")
    )
    github_production_environment: str = field(
        default="production", metadata=_doc("the protected GitHub environment allowed to deploy to production")
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
        default=150, metadata=_doc("alert when spend reaches this percent of the forecast (story 0.1 AC10), > 100")
    )
    ecr_repositories: tuple[str, ...] = field(
        default=("qualisys-api", "qualisys-web", "qualisys-playwright-runner"),
        metadata=_doc("ECR repository names, each starting with qualisys-"),
    )
    ecr_keep_images: int = field(default=10, metadata=_doc("images kept per repository (story 0.6), 1 to 1000"))
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
    secret_recovery_window_days: int = field(default=30, metadata=_doc("a whole number of days from 7 to 30"))

    @property
    def state_key_alias(self) -> str:
        """The KMS alias of the state key; backends name it, so it is fixed by the project name."""
        return f"alias/{self.project}-terraform-state"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything read from ``environments/``: the account and the requested environments."""

    account: AccountConfig
    environments: tuple[EnvironmentConfig, ...]


T = TypeVar("T")
_MISSING: Any = object()


class _Reader:
    """Converts one document's raw values to a dataclass, collecting violations as it goes."""

    def __init__(self, doc: HclDocument) -> None:
        self.doc = doc
        self.violations: list[Violation] = []

    def fail(self, path: KeyPath, message: str) -> None:
        name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        self.violations.append(Violation(self.doc.display_name, self.doc.line_of(path), name, message))

    def read(self, cls: type[T], raw: Any, path: KeyPath) -> T | Any:
        """Build ``cls`` from ``raw``; returns a dict of what converted when something did not."""
        if not isinstance(raw, dict):
            self.fail(path, f"got {_show(raw)}, expected an object {{ key = value, ... }}")
            return _MISSING
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        suggested: set[str] = set()
        for key, value in raw.items():
            if key not in fields:
                missing = [name for name in fields if name not in raw]
                close = difflib.get_close_matches(key, missing, n=1, cutoff=0.6)
                if close:
                    suggested.add(close[0])
                    self.fail((*path, key), f"unknown key, did you mean `{close[0]}`?")
                else:
                    self.fail((*path, key), f"unknown key, expected one of: {', '.join(fields)}")
                continue
            values[key] = self.convert(value, hints[key], (*path, key), fields[key].metadata.get("doc", ""))
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if name not in raw and required and name not in suggested:
                self.fail((*path, name), f"missing required key, expected {f.metadata.get('doc', 'a value')}")
        if self.violations or any(v is _MISSING for v in values.values()):
            return values
        return cls(**values)

    def convert(self, value: Any, tp: Any, path: KeyPath, doc: str) -> Any:
        origin = typing.get_origin(tp)
        if isinstance(value, str) and not self._printable(path, value):
            return _MISSING
        if isinstance(value, str) and "${" in value:
            self.fail(path, f"got {_show(value)}, expected a literal value (tfvars take no expressions)")
            return _MISSING
        if dataclasses.is_dataclass(tp):
            return self.read(tp, value, path)  # type: ignore[arg-type]
        if isinstance(tp, type) and issubclass(tp, StrEnum):
            allowed = [m.value for m in tp]
            if isinstance(value, str) and value in allowed:
                return tp(value)
            close = difflib.get_close_matches(str(value), allowed, n=1) if isinstance(value, str) else []
            hint = f" (did you mean {_show(close[0])}?)" if close else ""
            self.fail(path, f"got {_show(value)}, expected one of {', '.join(_show(a) for a in allowed)}{hint}")
            return _MISSING
        if tp is bool:
            if isinstance(value, bool):
                return value
            return self._type_error(path, value, "true or false")
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            return self._type_error(path, value, doc or "a whole number")
        if tp is str:
            if isinstance(value, str):
                return value
            return self._type_error(path, value, doc or "a string")
        if origin is tuple:
            if not isinstance(value, list):
                return self._type_error(path, value, doc or "a list")
            (item_tp, _) = typing.get_args(tp)
            items = [self.convert(v, item_tp, (*path, i), "") for i, v in enumerate(value)]
            return _MISSING if any(i is _MISSING for i in items) else tuple(items)
        if origin in (Mapping, dict):
            if not isinstance(value, dict):
                return self._type_error(path, value, doc or "a map")
            (_, value_tp) = typing.get_args(tp)
            if not all(self._printable((*path, k), k) for k in value):
                return _MISSING
            converted = {k: self.convert(v, value_tp, (*path, k), "") for k, v in value.items()}
            if any(v is _MISSING for v in converted.values()):
                return _MISSING
            return types.MappingProxyType(converted)
        raise TypeError(f"unsupported config type {tp!r}")  # pragma: no cover - a schema bug

    def _printable(self, path: KeyPath, value: str) -> bool:
        """No control characters (a newline, a tab, an escape) in any string: they would reach the
        synthesized JSON, names and tags, where AWS rejects them or a reader cannot see them."""
        bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
        if bad is None:
            return True
        self.fail(path, f"got {_show(value)}, expected printable text (it contains {_char_name(bad)})")
        return False

    def _type_error(self, path: KeyPath, value: Any, expected: str) -> Any:
        self.fail(path, f"got {_show(value)} ({_kind(value)}), expected {expected}")
        return _MISSING


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _char_name(char: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x1b": "an escape character"}
    return names.get(char, f"the control character U+{ord(char):04X}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        # JSON quoting keeps a message on one line whatever the value holds (newlines, escapes).
        return json.dumps(value if len(value) <= 200 else value[:197] + "...", ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _network(r: _Reader, path: KeyPath, value: Any) -> ipaddress.IPv4Network | None:
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" (did you mean {_show(str(ipaddress.ip_network(value, strict=False)))}?)"
        r.fail(path, f"got {_show(value)}, expected an IPv4 network in CIDR notation{hint}: {exc}")
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        r.fail(path, f"got {_show(value)}, expected an IPv4 network (IPv6 is not used by this platform)")
        return None
    return net


def _check_range(r: _Reader, v: Mapping[str, Any], key: str, low: int, high: int, path: KeyPath = ()) -> None:
    value = v.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
        r.fail((*path, key), f"got {value}, expected a whole number from {low} to {high}")


def _check_retention(r: _Reader, v: Mapping[str, Any], key: str) -> None:
    value = v.get(key)
    if isinstance(value, int) and value not in LOG_RETENTION_DAYS:
        allowed = [d for d in LOG_RETENTION_DAYS if d <= 400]
        nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - value))
        r.fail(
            (key,),
            f"got {value}, expected a CloudWatch retention period "
            f"({', '.join(map(str, allowed))}, ... days; nearest is {nearest})",
        )


def _check_tags(r: _Reader, tags: Any, path: KeyPath) -> None:
    if not isinstance(tags, Mapping):
        return
    for key, value in tags.items():
        if not _TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            r.fail((*path, key), f"got tag name {_show(key)}, expected 1-128 characters, not starting with aws:")
        if isinstance(value, str) and len(value) > 256:
            r.fail((*path, key), f"got a value of {len(value)} characters, expected at most 256")


def _as_values(obj: Any) -> Mapping[str, Any]:
    """The field values of a converted dataclass, or the partial dict when conversion failed."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in obj.items() if v is not _MISSING} if isinstance(obj, dict) else {}


def _check_namespaces(r: _Reader, namespaces: Any) -> None:
    if not isinstance(namespaces, Mapping):
        return
    if not namespaces:
        r.fail(("namespaces",), "got {}, expected at least one namespace")
    for name, config in namespaces.items():
        if not _DNS_LABEL.fullmatch(name) or name.startswith("kube-"):
            r.fail(("namespaces", name), f"got namespace {_show(name)}, expected a DNS label not starting with kube-")
        values = _as_values(config)
        for key in ("cpu_requests", "cpu_limits", "default_cpu"):
            if isinstance(values.get(key), str) and not _CPU.fullmatch(values[key]):
                r.fail(
                    ("namespaces", name, key), f'got {_show(values[key])}, expected a CPU quantity like "2" or "500m"'
                )
        for key in ("memory_requests", "memory_limits", "default_memory"):
            if isinstance(values.get(key), str) and not _MEMORY.fullmatch(values[key]):
                r.fail(("namespaces", name, key), f'got {_show(values[key])}, expected a memory quantity like "8Gi"')
        _check_range(r, values, "pods", 1, 1000, ("namespaces", name))


def _validate_environment(r: _Reader, v: Mapping[str, Any], expected_name: str) -> None:
    env = v.get("environment")
    if isinstance(env, str) and env != expected_name:
        r.fail(("environment",), f"got {_show(env)}, expected {_show(expected_name)} (the file's own name)")
    region = v.get("region")
    if isinstance(region, str) and not _REGION.fullmatch(region):
        r.fail(("region",), f'got {_show(region)}, expected an AWS region such as "us-east-1"')
    _check_range(r, v, "az_count", 2, 6)
    _check_retention(r, v, "flow_log_retention_days")
    _check_retention(r, v, "log_retention_days")
    _check_tags(r, v.get("tags"), ("tags",))

    vpc = _network(r, ("vpc_cidr",), v.get("vpc_cidr"))
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        r.fail(("vpc_cidr",), f"got {_show(str(vpc))}, expected a prefix from /16 to /24 (AWS VPC limits)")
        vpc = None
    if vpc is not None and not vpc.is_private:
        r.fail(("vpc_cidr",), f"got {_show(str(vpc))}, expected a private range (10/8, 172.16/12, 192.168/16)")
    az_count = v.get("az_count")
    seen: list[tuple[ipaddress.IPv4Network, KeyPath]] = []
    for key in ("public_subnet_cidrs", "private_subnet_cidrs", "database_subnet_cidrs"):
        cidrs = v.get(key)
        if not isinstance(cidrs, tuple):
            continue
        if isinstance(az_count, int) and len(cidrs) != az_count:
            r.fail((key,), f"got {len(cidrs)} networks, expected one per AZ (az_count = {az_count})")
        for i, cidr in enumerate(cidrs):
            net = _network(r, (key, i), cidr)
            if net is None:
                continue
            if net.prefixlen > 28:
                r.fail((key, i), f"got {_show(cidr)}, expected a prefix of /28 or larger (AWS subnet minimum)")
            if vpc is not None and not net.subnet_of(vpc):
                r.fail((key, i), f"got {_show(cidr)}, expected a network inside vpc_cidr {_show(str(vpc))}")
            for other, other_path in seen:
                if net.overlaps(other):
                    where = ".".join(str(p) for p in other_path[:-1]) + f"[{other_path[-1]}]"
                    r.fail((key, i), f"got {_show(cidr)}, which overlaps {where} {_show(str(other))}")
                    break
            seen.append((net, (key, i)))

    version = v.get("eks_kubernetes_version")
    if isinstance(version, str):
        m = _K8S_VERSION.fullmatch(version)
        if not m or int(m.group(1)) < 30:
            r.fail(("eks_kubernetes_version",), f'got {_show(version)}, expected a version "1.30" or newer')
    public_nets = [
        _network(r, ("eks_public_access_cidrs", i), c) for i, c in enumerate(v.get("eks_public_access_cidrs") or ())
    ]
    reach = exposure(n for n in public_nets if n is not None)
    if reach.internet_wide:
        r.fail(
            ("eks_public_access_cidrs",),
            f"got networks reaching {reach.describe()}, expected office or VPN ranges "
            f"(at most {MAX_PUBLIC_IPV4:,} public addresses together)",
        )

    for i, namespace in enumerate(v.get("eks_ci_namespaces") or ()):
        if not _DNS_LABEL.fullmatch(namespace):
            r.fail(("eks_ci_namespaces", i), f"got {_show(namespace)}, expected a Kubernetes namespace name")
        elif env == "production":
            r.fail(
                ("eks_ci_namespaces", i),
                "got a namespace in production, expected none (CI deploys to staging only)",
            )
    _check_namespaces(r, v.get("namespaces"))
    domain = v.get("ingress_domain")
    if isinstance(domain, str) and not _DOMAIN.fullmatch(domain):
        r.fail(("ingress_domain",), f'got {_show(domain)}, expected a DNS name like "staging.qualisys.dev"')
    _check_range(r, v, "prometheus_retention_days", 1, 365)
    _check_range(r, v, "prometheus_storage_gib", 10, 16384)
    groups = _as_values(v.get("node_groups"))
    for name, cap in NODE_GROUP_MAX_CAPS.items():
        g = _as_values(groups.get(name))
        path: KeyPath = ("node_groups", name)
        for i, itype in enumerate(g.get("instance_types") or ()):
            if not _INSTANCE_TYPE.fullmatch(itype):
                r.fail(
                    (*path, "instance_types", i),
                    f'got {_show(itype)}, expected an EC2 instance type like "t3.medium"',
                )
        if g.get("instance_types") == ():
            r.fail((*path, "instance_types"), "got [], expected at least one instance type")
        lo, want, hi = g.get("min_size"), g.get("desired_size"), g.get("max_size")
        if isinstance(lo, int) and lo < 0:
            r.fail((*path, "min_size"), f"got {lo}, expected a whole number >= 0")
        if isinstance(hi, int) and not 1 <= hi <= cap:
            r.fail(
                (*path, "max_size"),
                f"got {hi}, expected a whole number from 1 to {cap} (the spec's cap for {name})",
            )
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            r.fail((*path, "max_size"), f"got {hi}, expected >= min_size ({lo})")
        if isinstance(want, int) and isinstance(lo, int) and want < lo:
            r.fail((*path, "desired_size"), f"got {want}, expected >= min_size ({lo})")
        if isinstance(want, int) and isinstance(hi, int) and want > hi:
            r.fail((*path, "desired_size"), f"got {want}, expected <= max_size ({hi})")
        _check_range(r, g, "disk_size_gib", 20, 1000, path)

    rds_class = v.get("rds_instance_class")
    if isinstance(rds_class, str) and not rds_class.startswith("db."):
        r.fail(("rds_instance_class",), f'got {_show(rds_class)}, expected an RDS class like "db.t3.medium"')
    engine = v.get("rds_engine_version")
    if isinstance(engine, str) and not (engine.isdigit() and int(engine) >= 15):
        r.fail(("rds_engine_version",), f'got {_show(engine)}, expected a PostgreSQL major version "15" or newer')
    _check_range(r, v, "rds_allocated_storage_gib", 20, 65536)
    _check_range(r, v, "rds_backup_retention_days", 1, 35)
    low, high = v.get("rds_allocated_storage_gib"), v.get("rds_max_allocated_storage_gib")
    if isinstance(low, int) and isinstance(high, int) and high < low:
        r.fail(("rds_max_allocated_storage_gib",), f"got {high}, expected >= rds_allocated_storage_gib ({low})")
    node_type = v.get("redis_node_type")
    if isinstance(node_type, str) and not node_type.startswith("cache."):
        r.fail(("redis_node_type",), f'got {_show(node_type)}, expected a node type like "cache.t3.micro"')
    redis = v.get("redis_engine_version")
    if isinstance(redis, str):
        m = _REDIS_VERSION.fullmatch(redis)
        if not m or int(m.group(1)) < 7:
            r.fail(("redis_engine_version",), f'got {_show(redis)}, expected a Redis version "7.0" or newer')
    _check_range(r, v, "redis_num_shards", 1, 500)
    _check_range(r, v, "redis_replicas_per_shard", 0, 5)
    _check_range(r, v, "redis_snapshot_retention_days", 0, 35)
    if isinstance(env, str) and env != "dev":
        if v.get("rds_deletion_protection") is False:
            r.fail(("rds_deletion_protection",), f"got false, expected true in {env} (only dev may drop it)")
        replicas = v.get("redis_replicas_per_shard")
        if isinstance(replicas, int) and replicas < 1:
            r.fail(("redis_replicas_per_shard",), f"got {replicas}, expected >= 1 in {env} (Multi-AZ failover)")
    if env == "production":
        if v.get("rds_multi_az") is False:
            r.fail(("rds_multi_az",), "got false, expected true in production (NFR availability: Multi-AZ)")
        if v.get("nat_mode") == NatMode.SINGLE:
            r.fail(("nat_mode",), 'got "single", expected "per_az" in production (no single AZ point of failure)')


def _validate_account(r: _Reader, v: Mapping[str, Any]) -> None:
    project = v.get("project")
    if isinstance(project, str) and not _PROJECT.fullmatch(project):
        r.fail(("project",), f"got {_show(project)}, expected 2-21 lower-case letters, digits and -")
    region = v.get("region")
    if isinstance(region, str) and not _REGION.fullmatch(region):
        r.fail(("region",), f'got {_show(region)}, expected an AWS region such as "us-east-1"')
    for key in ("state_bucket_name", "access_log_bucket_name"):
        name = v.get(key)
        if isinstance(name, str) and (not _BUCKET.fullmatch(name) or ".." in name or name.startswith("xn--")):
            r.fail(
                (key,),
                f"got {_show(name)}, expected an S3 bucket name: 3-63 lower-case letters, digits, - and .",
            )
    if v.get("state_bucket_name") is not None and v.get("state_bucket_name") == v.get("access_log_bucket_name"):
        r.fail(
            ("access_log_bucket_name",),
            "got the state bucket's name, expected a separate bucket for access logs",
        )
    for key in ("admin_role_name", "ci_deployer_role_name"):
        role = v.get(key)
        if isinstance(role, str) and not _ROLE.fullmatch(role):
            r.fail((key,), f"got {_show(role)}, expected an IAM role name: 1-64 of A-Z a-z 0-9 +=,.@_-")
    table = v.get("lock_table_name")
    if isinstance(table, str) and not _TABLE.fullmatch(table):
        r.fail(
            ("lock_table_name",),
            f"got {_show(table)}, expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)",
        )
    repo = v.get("github_repository")
    if isinstance(repo, str) and not _GITHUB_REPO.fullmatch(repo):
        r.fail(("github_repository",), f'got {_show(repo)}, expected "OWNER/REPO"')
    for i, branch in enumerate(v.get("github_deploy_branches") or ()):
        if not _BRANCH.fullmatch(branch):
            r.fail(("github_deploy_branches", i), f"got {_show(branch)}, expected a branch name without wildcards")
    for key in ("cloudtrail_bucket_name", "account_access_log_bucket_name"):
        name = v.get(key)
        if isinstance(name, str) and (not _BUCKET.fullmatch(name) or ".." in name):
            r.fail((key,), f"got {_show(name)}, expected an S3 bucket name: 3-63 lower-case letters, digits, - and .")
    _check_retention(r, v, "cloudtrail_retention_days")
    limits = v.get("budget_limits_usd")
    if isinstance(limits, tuple) and (not limits or any(x <= 0 for x in limits) or list(limits) != sorted(set(limits))):
        r.fail(
            ("budget_limits_usd",),
            f"got {list(limits)}, expected increasing positive amounts, e.g. [500, 1000, 2000]",
        )
    for i, email in enumerate(v.get("budget_alert_emails") or ()):
        if not _EMAIL.fullmatch(email):
            r.fail(("budget_alert_emails", i), f"got {_show(email)}, expected an e-mail address")
    if v.get("budget_alert_emails") == ():
        r.fail(("budget_alert_emails",), "got [], expected at least one e-mail address")
    _check_range(r, v, "anomaly_threshold_percent", 101, 1000)
    for i, repo_name in enumerate(v.get("ecr_repositories") or ()):
        if not _ECR_REPO.fullmatch(repo_name):
            r.fail(("ecr_repositories", i), f"got {_show(repo_name)}, expected a lower-case name like qualisys-api")
    _check_range(r, v, "ecr_keep_images", 1, 1000)
    for i, secret in enumerate(v.get("third_party_secrets") or ()):
        if not _SECRET.fullmatch(secret):
            r.fail(("third_party_secrets", i), f"got {_show(secret)}, expected 1-64 of a-z 0-9 -")
    for i, role in enumerate(v.get("secret_reader_role_names") or ()):
        if not _ROLE.fullmatch(role):
            r.fail(("secret_reader_role_names", i), f"got {_show(role)}, expected an IAM role name")
    _check_range(r, v, "secret_recovery_window_days", 7, 30)
    _check_range(r, v, "state_noncurrent_version_retention_days", 1, 3650)
    _check_range(r, v, "access_log_retention_days", 1, 3650)
    _check_tags(r, v.get("tags"), ("tags",))


def _load(
    cls: type[T],
    path: Path,
    display_name: str,
    validate: Callable[[_Reader, Mapping[str, Any]], None],
) -> T:
    doc = read_hcl(path, display_name)
    reader = _Reader(doc)
    result = reader.read(cls, doc.values, ())
    validate(reader, _as_values(result))
    if reader.violations:
        unique = dict.fromkeys(reader.violations)
        raise ConfigError(sorted(unique, key=lambda v: v.line))
    return typing.cast(T, result)


def load_environment(path: Path, display_name: str | None = None) -> EnvironmentConfig:
    """Load and validate one ``<env>.tfvars``; raise :class:`ConfigError` with every violation."""
    shown = display_name or str(path)
    return _load(
        EnvironmentConfig,
        path,
        shown,
        lambda r, v: _validate_environment(r, v, path.name.removesuffix(".tfvars")),
    )


def load_account(path: Path, display_name: str | None = None) -> AccountConfig:
    """Load and validate ``account.tfvars``; raise :class:`ConfigError` with every violation."""
    return _load(AccountConfig, path, display_name or str(path), _validate_account)


def resolve_environment_names(requested: Iterable[str]) -> tuple[str, ...]:
    """Expand ``all`` and check names; keeps the canonical order dev, staging, production."""
    wanted: set[str] = set()
    for name in requested:
        if name == "all":
            wanted.update(ENVIRONMENT_NAMES)
        elif name in ENVIRONMENT_NAMES:
            wanted.add(name)
        else:
            close = [n for n in ENVIRONMENT_NAMES if name and n.startswith(name)]
            close = close or difflib.get_close_matches(name, [*ENVIRONMENT_NAMES, "all"], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(f"--env: got {name!r}, expected one of {', '.join(ENVIRONMENT_NAMES)} or all{hint}")
    return tuple(n for n in ENVIRONMENT_NAMES if n in wanted)


def load_settings(environments_dir: Path, names: Iterable[str], *, root: Path | None = None) -> Settings:
    """Load ``account.tfvars`` and the named environments; every file's violations at once.

    Also checks what no single file can: the VPC networks of all environments must not overlap,
    so that they can be peered later.
    """

    def shown(p: Path) -> str:
        if root is not None:
            try:
                return str(p.relative_to(root))
            except ValueError:
                pass
        return str(p)

    violations: list[Violation] = []
    account: AccountConfig | None = None
    try:
        account = load_account(environments_dir / ACCOUNT_FILE, shown(environments_dir / ACCOUNT_FILE))
    except ConfigError as exc:
        violations.extend(exc.violations)
    envs: list[EnvironmentConfig] = []
    for name in names:
        path = environments_dir / f"{name}.tfvars"
        try:
            envs.append(load_environment(path, shown(path)))
        except ConfigError as exc:
            violations.extend(exc.violations)
    if violations:
        raise ConfigError(violations)
    for i, env in enumerate(envs):
        for other in envs[:i]:
            if ipaddress.ip_network(env.vpc_cidr).overlaps(ipaddress.ip_network(other.vpc_cidr)):
                path = environments_dir / f"{env.environment}.tfvars"
                doc = read_hcl(path, shown(path))
                violations.append(
                    Violation(
                        doc.display_name,
                        doc.line_of(("vpc_cidr",)),
                        "vpc_cidr",
                        f"got {_show(env.vpc_cidr)}, which overlaps {other.environment}'s "
                        f"{_show(other.vpc_cidr)}; expected a separate network per environment "
                        "(so they can be peered)",
                    )
                )
    if violations or account is None:
        raise ConfigError(violations)
    return Settings(account=account, environments=tuple(envs))
