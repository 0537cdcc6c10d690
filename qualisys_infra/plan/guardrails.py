"""Guardrails: the changes a plan must never make without a person saying so.

Each rule reads ``resource_changes`` (never ``planned_values``, which omits deletions) and the
values *after* the change. A value Terraform only knows after apply cannot be judged: such rules
stay silent rather than guess. Findings carry an id, a severity, the address and a message; any
blocking finding makes ``plan``/``review``/``deploy`` exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from qualisys_infra.plan.model import Kind, Plan, ResourceChange

ANYWHERE = ("0.0.0.0/0", "::/0")
LOAD_BALANCER_PORTS = (80, 443)

# Stateful or security-critical types whose deletion or replacement loses data or access.
PROTECTED_TYPES = frozenset(
    {
        "aws_s3_bucket",
        "aws_dynamodb_table",
        "aws_kms_key",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_elasticache_replication_group",
        "aws_elasticache_cluster",
        "aws_eks_cluster",
        "aws_ecr_repository",
        "aws_secretsmanager_secret",
    }
)
ENCRYPTION_FLAGS = (
    "storage_encrypted",
    "encrypted",
    "at_rest_encryption_enabled",
    "transit_encryption_enabled",
    "enable_key_rotation",
)
PROTECTION_FLAGS = ("deletion_protection", "deletion_protection_enabled")
PUBLIC_ACCESS_BLOCK_FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
POLICY_ATTRIBUTES = ("policy", "assume_role_policy")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One guardrail result on one resource."""

    rule: str
    severity: Severity
    address: str
    message: str
    blocking: bool
    stack: str = ""

    def __str__(self) -> str:
        where = f"{self.stack}: " if self.stack else ""
        return f"[{self.rule} {self.severity}] {where}{self.address}: {self.message}"


def _after(change: ResourceChange, key: str) -> Any:
    """The planned value of ``key``; ``None`` when absent or only known after apply."""
    unknown = change.after_unknown
    if unknown is True or (isinstance(unknown, dict) and unknown.get(key) is True):
        return None
    return change.after.get(key) if isinstance(change.after, dict) else None


def _before(change: ResourceChange, key: str) -> Any:
    return change.before.get(key) if isinstance(change.before, dict) else None


def _writes(change: ResourceChange) -> bool:
    return change.kind in (Kind.CREATE, Kind.UPDATE, Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET)


def _protected(change: ResourceChange, allowed: frozenset[str], protected_types: frozenset[str]) -> Iterator[Finding]:
    if change.type not in protected_types or change.mode != "managed":
        return
    if change.is_destructive:
        why = change.kind.value
        if change.replace_paths:
            why += ", forced by " + ", ".join(".".join(str(s) for s in p) for p in change.replace_paths)
        elif change.action_reason:
            why += f" ({change.action_reason})"
        if change.deposed:
            why += f" of deposed object {change.deposed}"
        if change.address in allowed:
            yield Finding("G001", Severity.WARNING, change.address, f"{why}: allowed by --allow-destroy", False)
        else:
            yield Finding(
                "G001",
                Severity.CRITICAL,
                change.address,
                f"protected {change.type} would be destroyed: {why}; pass --allow-destroy {change.address} "
                "if that is intended",
                True,
            )
    elif change.leaves_management:
        yield Finding(
            "G002", Severity.WARNING, change.address, "protected resource leaves Terraform management (forget)", False
        )


def _open_rules(change: ResourceChange) -> Iterator[tuple[str, Any, Any, Any]]:
    """(cidr, protocol, from_port, to_port) of every ingress rule a resource describes."""
    if change.type == "aws_vpc_security_group_ingress_rule":
        for key in ("cidr_ipv4", "cidr_ipv6"):
            yield (
                _after(change, key),
                _after(change, "ip_protocol"),
                _after(change, "from_port"),
                _after(change, "to_port"),
            )
    elif change.type == "aws_security_group_rule" and _after(change, "type") == "ingress":
        for key in ("cidr_blocks", "ipv6_cidr_blocks"):
            for cidr in _after(change, key) or []:
                yield cidr, _after(change, "protocol"), _after(change, "from_port"), _after(change, "to_port")
    elif change.type == "aws_security_group":
        for rule in _after(change, "ingress") or []:
            if isinstance(rule, dict):
                for cidr in [*(rule.get("cidr_blocks") or []), *(rule.get("ipv6_cidr_blocks") or [])]:
                    yield cidr, rule.get("protocol"), rule.get("from_port"), rule.get("to_port")


def _public_ingress(change: ResourceChange) -> Iterator[Finding]:
    for cidr, protocol, low, high in _open_rules(change):
        if cidr not in ANYWHERE:
            continue
        all_traffic = str(protocol) in ("-1", "all")
        if not all_traffic and low == high and low in LOAD_BALANCER_PORTS:
            continue  # a load balancer's HTTP/HTTPS listener
        ports = "all ports" if all_traffic else f"ports {low}-{high}"
        yield Finding(
            "G003",
            Severity.CRITICAL,
            change.address,
            f"ingress from {cidr} on {ports} (only 80/443 may be public)",
            True,
        )


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return
    if isinstance(document, dict):
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if isinstance(statement, dict):
                yield statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_policy(change: ResourceChange) -> Iterator[Finding]:
    documents = [_after(change, key) for key in POLICY_ATTRIBUTES]
    documents += [p.get("policy") for p in _after(change, "inline_policy") or [] if isinstance(p, dict)]
    if change.type == "aws_iam_policy_document" or change.mode == "data":
        documents.append(_after(change, "json"))
    for document in documents:
        for statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action"))
            resources = _as_list(statement.get("Resource"))
            if "*" in actions and "*" in resources:
                yield Finding("G004", Severity.CRITICAL, change.address, 'IAM statement allows "*" on "*"', True)
            if "NotAction" in statement and "*" in resources:
                yield Finding(
                    "G004",
                    Severity.HIGH,
                    change.address,
                    'IAM statement allows NotAction on "*" (allow-by-exclusion)',
                    True,
                )


def _switched_off(change: ResourceChange) -> Iterator[Finding]:
    for key in ENCRYPTION_FLAGS:
        if _after(change, key) in (False, "false"):
            verb = "switched off" if _before(change, key) in (True, "true") else "off"
            yield Finding("G005", Severity.CRITICAL, change.address, f"encryption {verb}: {key} = false", True)
    # Deletion protection may start off (dev creates its database without it); turning it off on
    # an existing resource is the change that precedes an accidental delete.
    for key in PROTECTION_FLAGS:
        if _after(change, key) in (False, "false") and _before(change, key) in (True, "true"):
            yield Finding("G006", Severity.CRITICAL, change.address, f"deletion protection switched off: {key}", True)
    sse = _after(change, "server_side_encryption")
    for block in sse if isinstance(sse, list) else [sse]:
        if isinstance(block, dict) and block.get("enabled") is False:
            yield Finding(
                "G005",
                Severity.CRITICAL,
                change.address,
                "encryption off: server_side_encryption.enabled = false",
                True,
            )


def _made_public(change: ResourceChange) -> Iterator[Finding]:
    if _after(change, "publicly_accessible") is True:
        yield Finding("G007", Severity.CRITICAL, change.address, "publicly_accessible = true", True)
    if change.type == "aws_s3_bucket_public_access_block":
        off = [k for k in PUBLIC_ACCESS_BLOCK_FLAGS if _after(change, k) is False]
        if off:
            yield Finding("G007", Severity.CRITICAL, change.address, f"public access block off: {', '.join(off)}", True)
    acl = _after(change, "acl")
    if isinstance(acl, str) and acl.startswith(("public-read", "authenticated-read")):
        yield Finding("G007", Severity.CRITICAL, change.address, f"public ACL {acl}", True)
    if change.type == "aws_eks_cluster":
        for vpc in _after(change, "vpc_config") or []:
            if isinstance(vpc, dict) and vpc.get("endpoint_public_access") is True:
                cidrs = vpc.get("public_access_cidrs") or ["0.0.0.0/0"]
                if any(c in ANYWHERE for c in cidrs):
                    yield Finding(
                        "G007", Severity.CRITICAL, change.address, "Kubernetes API open to the internet", True
                    )


def _health(plan: Plan) -> Iterator[Finding]:
    if plan.errored:
        yield Finding(
            "G008", Severity.CRITICAL, "(plan)", "Terraform reported errors while planning (errored = true)", True
        )
    for change in plan.changes:
        if change.kind is Kind.UNKNOWN:
            yield Finding(
                "G009",
                Severity.CRITICAL,
                change.label,
                f"unknown actions {list(change.actions)}: cannot be judged",
                True,
            )
    if not plan.complete or plan.deferred:
        yield Finding(
            "G010", Severity.WARNING, "(plan)", f"plan is incomplete ({plan.deferred} deferred changes)", False
        )


def _drift(plan: Plan, protected_types: frozenset[str]) -> Iterator[Finding]:
    for change in plan.drift:
        if change.type in protected_types and change.kind is Kind.DELETE:
            yield Finding(
                "G011",
                Severity.WARNING,
                change.address,
                "protected resource was deleted outside Terraform (drift)",
                False,
            )


def check(
    plan: Plan,
    *,
    allow_destroy: Iterable[str] = (),
    protected_types: frozenset[str] = PROTECTED_TYPES,
    stack: str = "",
) -> list[Finding]:
    """Every finding for ``plan``, blocking ones first, in plan order within each group."""
    allowed = frozenset(allow_destroy)
    findings: list[Finding] = list(_health(plan))
    for change in plan.changes:
        if _writes(change):
            for rule in (_public_ingress, _wildcard_policy, _switched_off, _made_public):
                findings.extend(rule(change))
        findings.extend(_protected(change, allowed, protected_types))
    findings.extend(_drift(plan, protected_types))
    if stack:
        findings = [Finding(f.rule, f.severity, f.address, f.message, f.blocking, stack) for f in findings]
    return sorted(findings, key=lambda f: not f.blocking)


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]
