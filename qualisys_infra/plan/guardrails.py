"""Guardrails: the changes a plan must never make without a person saying so.

Each rule reads ``resource_changes`` (never ``planned_values``, which omits deletions) and the
values *after* the change. A value Terraform only knows after apply cannot be judged: such rules
stay silent rather than guess. Findings carry an id, a severity, the address and a message; any
blocking finding makes ``plan``/``review``/``deploy`` exit 1. IAM (G004, G012-G015, G018, G019) is
judged by what a policy allows, in :mod:`qualisys_infra.plan.iam`, with its reviewed waivers; G020 is
someone added to a group that administers; G007 includes function URLs and S3 ACL grants open to everyone.
G021 is data lost or the audit trail stopped without a destroy (logging off, a key disabled, versioning
suspended, current objects expired, backups off, retention shortened), allowed as a destroy is.

Here: the protected types (G001, G002), encryption and protection switched off, public access
(G007), the plan's health and drift, and :func:`check`, which runs every rule. Beside it: G003
in :mod:`.guardrails_network`, IAM and G020 in :mod:`.guardrails_iam`, G021 in
:mod:`.guardrails_data`, EKS versions (G016, G017) in :mod:`.eks_versions`; the planned-value
readers they share in :mod:`.guardrail_values`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

from qualisys_infra.core.networks import exposure_of_strings
from qualisys_infra.plan import eks_versions, iam_waivers
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.guardrail_values import (
    Value,
    after_value,
    before_value,
    is_false,
    is_true,
    planned_keys,
    writes,
)
from qualisys_infra.plan.guardrails_data import LOSS_KEYS, LOSS_TYPES, data_loss
from qualisys_infra.plan.guardrails_iam import MEMBERSHIPS, Context, iam_findings, memberships
from qualisys_infra.plan.guardrails_network import public_ingress, reach
from qualisys_infra.plan.json_safety import without_gc
from qualisys_infra.plan.model import Kind, Plan, ResourceChange
from qualisys_infra.plan.words import ACTION_WORDS, change_notes, plural, shell_word

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
        # the audit trail and the logs it and the platform keep
        "aws_cloudtrail",
        "aws_cloudwatch_log_group",
        # what a cluster keeps in a namespace (volumes, secrets) goes with it; the repository is the code
        "kubernetes_namespace",
        "kubernetes_namespace_v1",
        "github_repository",
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


# S3's predefined grantee groups that are everyone (S3 User Guide, "Access control list (ACL) overview").
PUBLIC_GRANTEES = {
    "AllUsers": "anyone on the internet",
    "AuthenticatedUsers": "anyone with an AWS account, in any account",
}


SWITCHES = frozenset((*ENCRYPTION_FLAGS, *PROTECTION_FLAGS, "server_side_encryption"))


def _protected(
    change: ResourceChange, allowed: Mapping[str, str], protected_types: frozenset[str]
) -> Iterator[Finding]:
    if change.type not in protected_types or change.mode != "managed":
        return
    if change.is_destructive:
        what = "destroyed" if change.kind is Kind.DELETE else "replaced"
        how = "; ".join(change_notes(change))
        why = f"{what}: {how}" if how else what
        if change.address in allowed:
            yield Finding(
                "G001", Severity.WARNING, change.address, f"{why} (allowed by {allowed[change.address]})", False
            )
        else:
            yield Finding(
                "G001",
                Severity.CRITICAL,
                change.address,
                f"protected {change.type} would be {why}",
                True,
                hint=f"--allow-destroy {shell_word(change.address)}",
            )
    elif change.leaves_management:
        yield Finding(
            "G002",
            Severity.WARNING,
            change.address,
            f"protected resource leaves Terraform management: {ACTION_WORDS[change.kind]}",
            False,
        )


def _switched_off(change: ResourceChange) -> Iterator[Finding]:
    if SWITCHES.isdisjoint(planned_keys(change)):
        return  # none of the settings this rule reads
    for key in ENCRYPTION_FLAGS:
        if is_false(after_value(change, key)):
            verb = "switched off" if is_true(before_value(change, key)) else "off"
            yield Finding("G005", Severity.CRITICAL, change.address, f"encryption {verb}: {key} = false", True)
    # Deletion protection may start off (dev creates its database without it); turning it off on
    # an existing resource is the change that precedes an accidental delete.
    for key in PROTECTION_FLAGS:
        if is_false(after_value(change, key)) and is_true(before_value(change, key)):
            yield Finding("G006", Severity.CRITICAL, change.address, f"deletion protection switched off: {key}", True)
    blocks = (
        Value.after(change)["server_side_encryption"].items()
        if "server_side_encryption" in planned_keys(change)
        else []
    )
    for block in blocks:
        if not isinstance(block.value, dict):
            raise block.at.wrong(block.value, dict)
        if is_false(block["enabled"].value) and not block["enabled"].is_unknown:
            yield Finding(
                "G005",
                Severity.CRITICAL,
                change.address,
                "encryption off: server_side_encryption.enabled = false",
                True,
            )


def _made_public(change: ResourceChange) -> Iterator[Finding]:
    after = Value.after(change)
    planned = planned_keys(change)
    if is_true(after_value(change, "publicly_accessible")):
        yield Finding("G007", Severity.CRITICAL, change.address, "publicly_accessible = true", True)
    if change.type == "aws_s3_bucket_public_access_block":
        off = [k for k in PUBLIC_ACCESS_BLOCK_FLAGS if is_false(after_value(change, k))]
        if off:
            yield Finding("G007", Severity.CRITICAL, change.address, f"public access block off: {', '.join(off)}", True)
    acl = after["acl"].scalar(str) if "acl" in planned else None
    if acl and acl.strip().lower().startswith(("public-read", "authenticated-read")):
        yield Finding("G007", Severity.CRITICAL, change.address, f"public ACL {acl}", True)
    grants: list[Value] = []
    if change.type == "aws_s3_bucket_acl" and "access_control_policy" in planned:
        grants = [g for policy in after["access_control_policy"].items() for g in policy["grant"].items()]
    elif change.type == "aws_s3_bucket" and "grant" in planned:
        grants = after["grant"].items()
    for grant in grants:
        grantees = grant["grantee"].items() if change.type == "aws_s3_bucket_acl" else [grant]
        for grantee in grantees:
            uri = grantee["uri"].scalar(str)
            group = uri.rstrip("/").rsplit("/", 1)[-1] if uri else ""
            if group in PUBLIC_GRANTEES:
                permission = grant["permission"].scalar(str) or ", ".join(grant["permissions"].strings())
                yield Finding(
                    "G007",
                    Severity.CRITICAL,
                    change.address,
                    f"ACL grants {permission or 'access'} to {group} ({PUBLIC_GRANTEES[group]})",
                    True,
                )
    if change.type == "aws_lambda_function_url":
        auth = after["authorization_type"].scalar(str)
        if auth is not None and auth.strip().upper() == "NONE":
            yield Finding(
                "G007",
                Severity.CRITICAL,
                change.address,
                "function URL with authorization_type NONE: anyone on the internet may invoke the function "
                "(AWS_IAM signs each call)",
                True,
            )
    if change.type == "aws_eks_cluster":
        for vpc in after["vpc_config"].items():
            if not isinstance(vpc.value, dict):
                raise vpc.at.wrong(vpc.value, dict)
            cidrs = vpc["public_access_cidrs"]
            if not is_true(vpc["endpoint_public_access"].scalar(bool, str)):
                continue
            if cidrs.is_unknown:  # not set (AWS then opens it to 0.0.0.0/0), or set from a value not known yet
                yield Finding(
                    "G007",
                    Severity.CRITICAL,
                    change.address,
                    "Kubernetes API public endpoint open to networks known only after apply "
                    "(when public_access_cidrs is unset, AWS opens it to 0.0.0.0/0)",
                    True,
                )
                continue
            # No networks listed: AWS opens the public endpoint to 0.0.0.0/0.
            networks = cidrs.strings() or ["0.0.0.0/0"]
            wide = exposure_of_strings(networks)
            if wide.internet_wide:
                yield Finding(
                    "G007",
                    Severity.CRITICAL,
                    change.address,
                    f"Kubernetes API open to the internet: public endpoint reachable from {reach(networks, wide)}",
                    True,
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
            "G010",
            Severity.WARNING,
            "(plan)",
            f"plan is incomplete ({plural(plan.deferred, 'deferred change')})",
            False,
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


COMMAND_LINE = "--allow-destroy"  # where an allowance given as a plain list of addresses comes from


def check(
    plan: Plan,
    *,
    allow_destroy: Iterable[str] | Mapping[str, str] = (),
    protected_types: frozenset[str] = PROTECTED_TYPES,
    stack: str = "",
    own: iam_waivers.OwnNames | None = None,
) -> list[Finding]:
    """Every finding for ``plan``, blocking ones first, in plan order within each group.

    ``allow_destroy``: the addresses that may be destroyed (G001) or lose data (G021), each with where
    that permission comes from (shown in the finding), or a list of them given on the command line.
    ``stack`` names the plan's stack and ``own`` the project's own names (from its reviewed settings):
    a waiver (:func:`.iam_waivers.waivers`) holds only in its stack, made of those names; without them none does.
    """
    with without_gc():
        return _check(plan, allow_destroy=allow_destroy, protected_types=protected_types, stack=stack, own=own)


def _check(
    plan: Plan,
    *,
    allow_destroy: Iterable[str] | Mapping[str, str],
    protected_types: frozenset[str],
    stack: str,
    own: iam_waivers.OwnNames | None,
) -> list[Finding]:
    allowed = dict(allow_destroy) if isinstance(allow_destroy, Mapping) else dict.fromkeys(allow_destroy, COMMAND_LINE)
    context = Context(plan, stack, own)
    findings: list[Finding] = list(_health(plan))
    ingress = {f.address: f for f in public_ingress(plan)}  # a group's rules are judged together
    for change in plan.changes:
        if change.address in ingress:
            findings.append(ingress.pop(change.address))
        writing = writes(change)
        if writing:
            findings.extend(iam_findings(change, context))
            if change.type in MEMBERSHIPS:
                findings.extend(memberships(change, context))
            for rule in (_switched_off, _made_public):
                findings.extend(rule(change))
        loses = change.type in LOSS_TYPES or (writing and change.after and not LOSS_KEYS.isdisjoint(change.after))
        if loses and (writing or change.kind is Kind.DELETE):
            findings.extend(data_loss(change, context, allowed))
        findings.extend(_protected(change, allowed, protected_types))
    findings.extend(_drift(plan, protected_types))
    findings.extend(eks_versions.findings(plan))  # G016/G017: EKS cluster versions
    if stack:
        findings = [dataclasses.replace(f, stack=stack) for f in findings]
    return sorted(findings, key=lambda f: not f.blocking)


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]
