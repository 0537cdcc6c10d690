"""IAM judged by meaning: what a policy in a plan lets someone do, not how it is spelled.

A pattern is judged by what it matches. ``"*"``, ``"arn:*"`` and ``"arn:aws:*:*:*:*"`` all match
every resource; ``"iam:*"`` and ``"iam:*Role*"`` match ``iam:PutRolePolicy``; ``NotAction`` and
``NotResource`` under ``Allow`` grant everything they do not name. Matching follows IAM's own
rules: ``*`` is any run of characters (``:`` and ``/`` included), ``?`` one character, actions
compare without regard to case, ARNs with it. Whether a pattern covers *every* resource (or every
role, user, group, policy of an account) is asked of probe ARNs built with the pattern's own
literal partition, region and account, so ``arn:aws:iam::123456789012:role/*`` covers every role
of that account and ``arn:aws:iam::123456789012:role/app-*`` does not.

What is judged (each a finding that names the statement and the reason). The resource patterns of a
statement are judged together: each adds what it reaches, so splitting ``*`` into one pattern per
service, or naming roles by a wildcard, does not escape.

- G004, every action: ``Allow`` of every action on every resource; ``NotAction`` under ``Allow``
  on every resource; ``NotResource`` under ``Allow``; full access (``*``, ``s3:*``, ``s3*``, or
  ``NotAction`` that leaves the service in) to every resource of a service or resource type
  (``*``, ``arn:aws:s3:::*``, ``arn:aws:kms:*:*:*``, ``...:secret:*``: a pattern naming no resource).
- G012, privilege escalation: ``Allow`` of an action from :data:`ESCALATIONS` on every object of
  its type, e.g. ``iam:PutRolePolicy`` on every role, or on IAM roles, users, groups or policies
  named by a wildcard (``role/*administrators*``, ``role/app-*``): it names no one role, but every
  role someone may later name to match.
- G013, AWS-managed administration: an attachment of a policy in :data:`ADMIN_POLICIES`.
- G014, public principal: ``Principal "*"`` / ``{"AWS": "*"}`` (or ``NotPrincipal``) under
  ``Allow`` in a trust or resource policy without a condition from :data:`RESTRICTING_KEYS`
  that limits it; an ``aws_lambda_permission`` for ``*`` (or for a service of any account)
  without ``source_arn``/``source_account``/``principal_org_id``.
- G015, GitHub OIDC: a trust of ``token.actions.githubusercontent.com`` whose ``sub`` is missing
  or matches more than one repository, or whose ``aud`` is missing or not ``sts.amazonaws.com``.
- G019, another account: a principal (``AWS``, ``Federated``; a root, role, session or bare id) or a
  condition (``aws:SourceAccount``, ``aws:PrincipalAccount``, ``aws:SourceArn``, ...) naming a literal
  account other than the plan's own (:attr:`Plan.account`, what its ``aws_caller_identity`` read at
  plan); a plan that does not say its own account blocks every account it names, since none can be
  told to be ours (our stacks always read it).
- G018, a whole service's data read: an action from :data:`DATA_READS` (``s3:GetObject``,
  ``secretsmanager:GetSecretValue``, ``kms:Decrypt``, ...) on every resource of its service, unless a
  condition names the resources (:data:`NARROWING_KEYS`: ``kms:ResourceAliases``, ``aws:ResourceTag/...``).

A waiver (:mod:`qualisys_infra.plan.iam_waivers`, made of the project's own names from its reviewed
settings) allows a finding
only at one exact address in one stack, for a resource that does exactly what it names: each planned
value (the role an attachment attaches to, the policy ARN, a principal in the plan's own account), the
one statement a waived document may have, and the premises of its reason, checked in the same plan. A
value known only after apply counts only through the configuration's reference to the expected resource.

Identity rules (G004, G012) read statements without a ``Principal``; principal rules (G014,
G015) read statements with one, so a key policy's ``kms:*`` on ``"*"`` (which means *this key*)
is not mistaken for administration. Conditions do not soften G004/G012 (``aws:MultiFactorAuthPresent``
on ``*`` is still administration); they are what G014 looks for.

Why not a field-made analyser: evaluated 2026-12-06 on this machine, offline (network namespace
removed), each on the nine shapes of issue 21:
- ``parliament`` 1.6.4 (PyPI): ``"Action":"*"`` on ``"arn:*"`` is reported as ``INVALID_ARN``
  only, ``NotResource``, ``arn:aws:*:*:*:*`` and ``Principal "*"`` in a bucket policy pass with no
  finding, a trust policy is read as a malformed identity policy; it has no OIDC rule.
- ``cloudsplaining`` 0.9.1 with ``policy_sentry`` 0.15.2's action database (PyPI): privilege
  escalation is found for ``iam:*`` and ``iam:*Role*`` on the literal ``"*"``, but ``arn:*``,
  ``arn:aws:*:*:*:*`` and ``NotResource`` read as restricted (no finding), and it judges identity
  policies only (no trust, resource or OIDC rules); its first call takes 0.5 s loading the
  database, and it brings boto3 and requests along.
- ``policy_sentry`` is a policy writer and action database, not an analyser.
None covers the shapes, so the rules are written here; cloudsplaining's escalation table is the
source of :data:`ESCALATIONS`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qualisys_infra.core.networks import exposure_of_strings

# --- tables -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    """An AWS-managed policy that grants administration or IAM write, and what it grants."""

    grants: str
    source: str
    cluster_scope_only: bool = False  # EKS access policies: only when associated cluster-wide


_REFERENCE = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
_EKS_ACCESS = "https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html"
# Read 2026-12-06 (AWS Managed Policy Reference, each policy's page; EKS User Guide for the access
# policies). A policy AWS adds later is not here: its documents are not in the plan to judge.
ADMIN_POLICIES: dict[str, AdminPolicy] = {
    "AdministratorAccess": AdminPolicy(
        'every action on every resource ("*" on "*")', _REFERENCE + "AdministratorAccess.html"
    ),
    "AdministratorAccess-Amplify": AdminPolicy(
        "account administration (IAM roles and policies, CloudFormation, and more; v12)",
        _REFERENCE + "AdministratorAccess-Amplify.html",
    ),
    "PowerUserAccess": AdminPolicy(
        'every action except IAM, Organizations and Account on every resource (NotAction on "*"; v12)',
        _REFERENCE + "PowerUserAccess.html",
    ),
    "IAMFullAccess": AdminPolicy(
        'iam:* on "*": any principal may be given any permission (v2)', _REFERENCE + "IAMFullAccess.html"
    ),
    "AWSOrganizationsFullAccess": AdminPolicy(
        'organizations:* on "*": accounts, service control policies, the organization itself',
        _REFERENCE + "AWSOrganizationsFullAccess.html",
    ),
    # EKS access policies (arn:aws:eks::aws:cluster-access-policy/...): Kubernetes permissions.
    "AmazonEKSClusterAdminPolicy": AdminPolicy("Kubernetes cluster-admin: every verb on every object", _EKS_ACCESS),
    "AmazonEKSAdminPolicy": AdminPolicy(
        "Kubernetes admin, RBAC included: may grant itself more", _EKS_ACCESS, cluster_scope_only=True
    ),
}

# Single actions that let a principal raise its own permissions when allowed on every object of a
# type. From cloudsplaining 0.9.1 ``shared/constants.py`` PRIVILEGE_ESCALATION_METHODS (Rhino
# Security Labs' methods, pathfinding.cloud paths; read 2026-12-06), one-action methods; the
# multi-action iam:PassRole methods are represented by iam:PassRole itself on every role, and the
# permissions-boundary actions are added (removing or replacing a boundary lifts the ceiling it
# sets: IAM User Guide, "Permissions boundaries for IAM entities").
ESCALATIONS: dict[str, str] = {
    "iam:CreateAccessKey": "user",
    "iam:CreateLoginProfile": "user",
    "iam:UpdateLoginProfile": "user",
    "iam:AttachUserPolicy": "user",
    "iam:PutUserPolicy": "user",
    "iam:PutUserPermissionsBoundary": "user",
    "iam:DeleteUserPermissionsBoundary": "user",
    "iam:AddUserToGroup": "group",
    "iam:AttachGroupPolicy": "group",
    "iam:PutGroupPolicy": "group",
    "iam:CreatePolicyVersion": "policy",
    "iam:SetDefaultPolicyVersion": "policy",
    "iam:AttachRolePolicy": "role",
    "iam:PutRolePolicy": "role",
    "iam:UpdateAssumeRolePolicy": "role",
    "iam:PutRolePermissionsBoundary": "role",
    "iam:DeleteRolePermissionsBoundary": "role",
    "iam:PassRole": "role",
    "sts:AssumeRole": "role",
    "lambda:UpdateFunctionCode": "function",
    "glue:UpdateDevEndpoint": "dev endpoint",
}

# Actions that return a service's data itself, with what they read when allowed on all of it.
DATA_READS: dict[str, tuple[str, str]] = {
    "s3:GetObject": ("s3", "every object of every bucket"),
    "s3:GetObjectVersion": ("s3", "every object of every bucket"),
    "secretsmanager:GetSecretValue": ("secretsmanager", "every secret"),
    "secretsmanager:BatchGetSecretValue": ("secretsmanager", "every secret"),
    "kms:Decrypt": ("kms", "every key"),
    "ssm:GetParameter": ("ssm", "every parameter"),
    "ssm:GetParameters": ("ssm", "every parameter"),
    "ssm:GetParametersByPath": ("ssm", "every parameter"),
    "dynamodb:GetItem": ("dynamodb", "every table"),
    "dynamodb:BatchGetItem": ("dynamodb", "every table"),
    "dynamodb:Query": ("dynamodb", "every table"),
    "dynamodb:Scan": ("dynamodb", "every table"),
}
# Condition keys that, matched positively against specific values, narrow a read to the resources they
# name: KMS keys by alias, anything by its tags (IAM User Guide, "AWS global condition context keys";
# AWS KMS Developer Guide, "kms:ResourceAliases").
NARROWING_KEYS = ("kms:resourcealiases",)
NARROWING_PREFIXES = ("aws:resourcetag/", "secretsmanager:resourcetag/", "s3:existingobjecttag/")


# Condition keys that, matched positively against specific values, limit a public principal to
# known accounts, organizations, sources, networks or identities (IAM User Guide, "AWS global
# condition context keys"; KMS and S3 service keys).
RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalservicename",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
        "kms:calleraccount",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)
_POSITIVE = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"})
_LIKE = frozenset({"stringlike", "arnlike"})

GITHUB_ISSUER = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
# One repository: "repo:OWNER/NAME:" written out before any wildcard.
_ONE_REPOSITORY = re.compile(r"repo:[^/:*?]+/[^/:*?]+:")

# Resource types whose ``policy`` is an endpoint policy: Principal "*" there is the norm, since it
# only narrows what passes through the endpoint and grants nothing.
ENDPOINT_POLICY_TYPES = frozenset({"aws_vpc_endpoint", "aws_vpc_endpoint_policy"})


# --- matching -----------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


# Actions of unrelated services and shapes: a pattern matching all of them matches every action.
_EVERY_ACTION = ("a:b", "iam:CreateRole", "s3:GetObject", "ec2:RunInstances", "kms:Decrypt", "zz-probe:X9")
_PROBE_NAME = "probe-any-name-7f3a"
_PROBE_ACCOUNT = "111122223333"
_PROBE_REGION = "us-east-1"
_TYPE_ARNS = {
    "role": "arn:{p}:iam::{a}:role/" + _PROBE_NAME,
    "user": "arn:{p}:iam::{a}:user/" + _PROBE_NAME,
    "group": "arn:{p}:iam::{a}:group/" + _PROBE_NAME,
    "policy": "arn:{p}:iam::{a}:policy/" + _PROBE_NAME,
    "function": "arn:{p}:lambda:{r}:{a}:function:" + _PROBE_NAME,
    "dev endpoint": "arn:{p}:glue:{r}:{a}:devEndpoint/" + _PROBE_NAME,
}
# Resources of unrelated services: a pattern covering all of them covers every resource of the account.
_EVERY_RESOURCE = (
    _TYPE_ARNS["role"],
    "arn:{p}:ec2:{r}:{a}:instance/i-" + _PROBE_NAME,
    "arn:{p}:kms:{r}:{a}:key/" + _PROBE_NAME,
    "arn:{p}:secretsmanager:{r}:{a}:secret:" + _PROBE_NAME,
    _TYPE_ARNS["function"],
)


def _probe(template: str, pattern: str) -> str:
    """``template`` filled with the pattern's own literal partition, region and account, else probes."""
    parts = pattern.split(":", 5)

    def part(index: int, default: str) -> str:
        value = parts[index] if len(parts) > index else ""
        return value if len(parts) > index and not _wild(value) else default

    partition = part(1, "aws") or "aws"
    region = part(3, _PROBE_REGION) if "{r}" in template else ""
    return template.format(p=partition, r=region, a=part(4, _PROBE_ACCOUNT))


def _covers(pattern: str, templates: Iterable[str]) -> bool:
    return all(_matches(pattern, _probe(t, pattern)) for t in templates)


# Judging a pattern once: statements of a large plan repeat the same few patterns.
_PROBED_ACTIONS = frozenset((*_EVERY_ACTION, *ESCALATIONS, *DATA_READS))
_EVERY = "every resource"
_KINDS = frozenset((_EVERY, *_TYPE_ARNS))


@lru_cache(maxsize=8192)
def _action_hits(pattern: str) -> frozenset[str]:
    """The probed actions (:data:`_EVERY_ACTION` and :data:`ESCALATIONS`) that ``pattern`` matches."""
    return frozenset(a for a in _PROBED_ACTIONS if _matches(pattern, a, ignore_case=True))


@lru_cache(maxsize=8192)
def _resource_hits(pattern: str) -> frozenset[str]:
    """The kinds (every resource, every role, ...) a ``Resource`` pattern covers in full."""
    every = {_EVERY} if _covers(pattern, _EVERY_RESOURCE) else set()
    return frozenset(every | {kind for kind, template in _TYPE_ARNS.items() if _covers(pattern, (template,))})


@lru_cache(maxsize=8192)
def _resource_misses(pattern: str) -> frozenset[str]:
    """The kinds a ``NotResource`` pattern takes something out of (so the statement no longer covers all)."""

    def touches(templates: Iterable[str]) -> bool:
        return any(_matches(pattern, _probe(t, "")) for t in templates)

    every = {_EVERY} if touches(_EVERY_RESOURCE) else set()
    return frozenset(every | {kind for kind, template in _TYPE_ARNS.items() if touches((template,))})


_IAM_KINDS = {"role": "roles", "user": "users", "group": "groups", "policy": "policies"}


@lru_cache(maxsize=8192)
def _overlaps(first: str, second: str) -> bool:
    """Whether some string matches both patterns (``*`` any run of characters, ``?`` one character)."""
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a is None and b is None:
            return True
        if a == "*":
            stack.append((i + 1, j))  # the star matches nothing more
            if b is not None and b != "*":
                stack.append((i, j + 1))  # the star takes the character the other matches
        if b == "*":
            stack.append((i, j + 1))
            if a is not None and a != "*":
                stack.append((i + 1, j))
        if a is not None and b is not None and "*" not in (a, b) and (a == b or "?" in (a, b)):
            stack.append((i + 1, j + 1))
    return False


@lru_cache(maxsize=8192)
def _wild_name_of(pattern: str, kind: str) -> bool:
    """``pattern`` has a wildcard and matches IAM ``kind`` ARNs (``role/*administrators*``, ``role/app-*``,
    a role of any account): it names no one role, but every role someone may later name to match."""
    if not _wild(pattern):
        return False
    parts = pattern.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":  # judged part by part: "*" in another service's ARN is no role
        return _overlaps(parts[2], "iam") and _overlaps(parts[5], f"{kind}/*")
    return _overlaps(pattern, f"arn:*:iam::*:{kind}/*")


_TYPED = re.compile(r"([A-Za-z][A-Za-z0-9-]*)([/:])(.*)", re.DOTALL)
_ONLY_WILDCARDS = frozenset("*?/:")


@lru_cache(maxsize=8192)
def _service_scope(pattern: str) -> tuple[str, str] | None:
    """``(service, resource type)`` when ``pattern`` is an ARN naming no particular resource of its service:
    every resource of it (``arn:aws:kms:*:*:*``, type ``""``) or of one type (``secret:*``, ``table/*``,
    every bucket ``arn:aws:s3:::*``). ``None`` for a pattern with any literal resource name in it."""
    parts = pattern.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
        return None
    service, rest = parts[2].lower(), parts[5]
    if service == "s3" and not parts[3] and not parts[4]:
        type_, name = "bucket", rest  # bucket names and object keys have no type before them
    else:
        typed = _TYPED.fullmatch(rest)
        type_, name = (typed[1], typed[3]) if typed else ("", rest)
    return (service, type_) if "*" in name and set(name) <= _ONLY_WILDCARDS else None


def _reaches(scope: tuple[str, str] | None, service: str) -> bool:
    return scope is not None and _matches(scope[0], service)


def _service_of(action: str) -> str | None:
    """The service an action pattern names before any wildcard: ``s3`` of ``s3:*`` and ``s3*``."""
    head = re.split(r"[:*?]", action, maxsplit=1)[0].lower()
    return head or None


_SOME_ACTIONS = ("A", "Zz9ProbeAction", "GetObject", "PutObject")


def _all_of(service: str, statement: dict[str, Any]) -> bool:
    """The statement allows every action of ``service`` (``*``, ``s3:*``, ``s3*``; or NotAction that
    leaves the service out of what it excludes)."""
    if "NotAction" in statement:
        return not any(
            _matches(p, f"{service}:Zz9ProbeAction", ignore_case=True) for p in strings_of(statement["NotAction"])
        )
    return any(
        all(_matches(p, f"{service}:{a}", ignore_case=True) for a in _SOME_ACTIONS)
        for p in strings_of(statement.get("Action"))
    )


def _narrowed(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition")
    for operator, by_key in conditions.items() if isinstance(conditions, dict) else ():
        if not isinstance(operator, str) or not isinstance(by_key, dict):
            continue
        base = operator.lower().removeprefix("foranyvalue:")
        if base not in _POSITIVE or base == "ipaddress":
            continue
        for key, raw in by_key.items():
            if not isinstance(key, str):
                continue
            lowered = key.lower()
            if lowered not in NARROWING_KEYS and not lowered.startswith(NARROWING_PREFIXES):
                continue
            values = strings_of(raw)
            if values and all(v.strip() and not (base in _LIKE and _wild(v)) for v in values):
                return True
    return False


# --- reading policies ---------------------------------------------------------------------------------


def strings_of(value: Any) -> list[str]:
    """A policy element that may be one string or a list of them (other entries are not IAM)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def document_of(value: Any) -> dict[str, Any] | None:
    """A policy document from a planned value: a JSON string or an object; ``None`` when neither."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None  # not JSON: AWS refuses such a policy, so it allows nothing
    return value if isinstance(value, dict) else None


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict)]


@dataclass(frozen=True, slots=True)
class Problem:
    """What one policy (or attachment, or permission) allows that it must not, in words."""

    rule: str
    subject: str  # what a waiver names: a policy name, "privilege escalation", "public principal", ...
    message: str
    critical: bool = True
    statement: dict[str, Any] | None = None  # the statement of a policy document that allows it


def shown_values(values: Sequence[str], limit: int = 3) -> str:
    quoted = ", ".join(json.dumps(v, ensure_ascii=False) for v in values[:limit])
    return quoted + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _listed(names: Sequence[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _statement_name(statement: dict[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"statement {json.dumps(sid, ensure_ascii=False)}" if isinstance(sid, str) and sid else "a statement"


def allows(statement: dict[str, Any]) -> bool:
    effect = statement.get("Effect")
    return isinstance(effect, str) and effect.strip().lower() == "allow"


def judge_document(value: Any, where: str, *, principals: bool = True, account: str | None = None) -> list[Problem]:
    """Every problem of one policy document; ``where`` names it (``policy``, ``assume_role_policy``);
    ``account`` is the plan's own account (``None`` when the plan does not say it)."""
    if isinstance(value, str):
        return list(_judge_text(value, where, principals, account))  # documents repeat across a plan's instances
    return _judge(document_of(value), where, principals, account)


@lru_cache(maxsize=256)
def _judge_text(value: str, where: str, principals: bool, account: str | None) -> tuple[Problem, ...]:
    return tuple(_judge(document_of(value), where, principals, account))


def _judge(document: dict[str, Any] | None, where: str, principals: bool, account: str | None) -> list[Problem]:
    if document is None:
        return []
    problems: list[Problem] = []
    for statement in statements(document):
        if not allows(statement):
            continue
        if "Principal" in statement or "NotPrincipal" in statement:
            found = list(_principal_problems(statement, where, account)) if principals else []
        else:
            found = list(_identity_problems(statement, where))
        problems += [dataclasses.replace(p, statement=statement) for p in found]
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.rule, problem.message), problem)
    return list(unique.values())


def _identity_problems(statement: dict[str, Any], where: str) -> Iterator[Problem]:
    name = _statement_name(statement)
    actions, not_actions = strings_of(statement.get("Action")), strings_of(statement.get("NotAction"))
    resources, not_resources = strings_of(statement.get("Resource")), strings_of(statement.get("NotResource"))
    if not actions and not not_actions:
        return

    if "NotAction" in statement:
        allowed = _PROBED_ACTIONS.difference(*(_action_hits(p) for p in not_actions))
    else:
        allowed = frozenset().union(*(_action_hits(p) for p in actions))
    if "NotResource" in statement:
        covered = _KINDS.difference(*(_resource_misses(p) for p in not_resources))
    else:
        covered = frozenset().union(*(_resource_hits(p) for p in resources))
    granted = (
        f"Action {shown_values(actions)}" if "NotAction" not in statement else f"NotAction {shown_values(not_actions)}"
    )
    every_resource = _EVERY in covered
    if "NotResource" in statement:
        on = f"NotResource {shown_values(not_resources)}"
    else:
        on = f"Resource {shown_values([p for p in resources if _EVERY in _resource_hits(p)])}"
    every_action = allowed.issuperset(_EVERY_ACTION)
    if every_action and every_resource:
        yield Problem(
            "G004", "every action", f"{where}: {name} allows every action on every resource ({granted} on {on})"
        )
        return
    if "NotAction" in statement and every_resource:
        yield Problem(
            "G004",
            "allow by exclusion",
            f"{where}: {name} allows every action except {shown_values(not_actions)} on every resource "
            f"(NotAction under Allow, on {on}): it also grants every action AWS adds later",
            critical=False,
        )
        return
    if "NotResource" in statement:
        yield Problem(
            "G004",
            "allow by exclusion",
            f"{where}: {name} allows {granted} on every resource except {shown_values(not_resources)} "
            "(NotResource under Allow): it also covers every resource created later, in any account",
            critical=False,
        )
        return
    # The resource patterns judged together: each adds what it reaches.
    escalations: dict[str, list[str]] = {}  # "every role", "roles matching ..." -> actions
    wide: list[str] = []
    for action, kind in ESCALATIONS.items():
        if action not in allowed:
            continue
        if kind in covered:
            escalations.setdefault(f"every {kind}", []).append(action)
            wide += [p for p in resources if kind in _resource_hits(p)]
        elif kind in _IAM_KINDS and (named := [p for p in resources if _wild_name_of(p, kind)]):
            escalations.setdefault(f"{_IAM_KINDS[kind]} matching {shown_values(named)}", []).append(action)
            wide += named
    if escalations:
        what = "; ".join(f"{_listed(found)} on {target}" for target, found in escalations.items())
        yield Problem(
            "G012",
            "privilege escalation",
            f"{where}: {name} allows privilege escalation: {what} "
            f"({granted} on Resource {shown_values(list(dict.fromkeys(wide)))})",
            critical=False,
        )
    escalated = {a.split(":")[0] for found in escalations.values() for a in found}
    full: dict[str, list[str]] = {}  # service -> the patterns that reach all of its resources
    for pattern in resources:
        if _EVERY in _resource_hits(pattern):
            services: Iterable[str] = (s for a in actions if (s := _service_of(a)) and _all_of(s, statement))
        else:
            scope = _service_scope(pattern)
            services = [scope[0]] if scope and _all_of(scope[0], statement) else []
        for service in services:
            if service not in escalated:
                full.setdefault(service, []).append(pattern)
    if full:
        listed = _listed([f"{s}:*" for s in full], 6)
        patterns = list(dict.fromkeys(p for found in full.values() for p in found))
        yield Problem(
            "G004",
            "full service access",
            f"{where}: {name} allows every action of {listed} on all of {'its' if len(full) == 1 else 'their'} "
            f"resources ({granted} on Resource {shown_values(patterns)})",
            critical=False,
        )
    if _narrowed(statement):
        return
    reads: dict[str, list[str]] = {}  # what is read -> the actions
    patterns = []
    for action, (service, what) in DATA_READS.items():
        if action not in allowed or any(_matches(s, service) for s in full):
            continue
        reach = [p for p in resources if _EVERY in _resource_hits(p) or _reaches(_service_scope(p), service)]
        if reach:
            reads.setdefault(what, []).append(action)
            patterns += reach
    if reads:
        what = "; ".join(f"{found[0]} on {target}" for target, found in reads.items())
        yield Problem(
            "G018",
            "data access",
            f"{where}: {name} reads a whole service's data: {what} ({granted} on Resource "
            f"{shown_values(list(dict.fromkeys(patterns)))}), with no condition naming the resources "
            "(kms:ResourceAliases, aws:ResourceTag/...)",
            critical=False,
        )


def _restricting(statement: dict[str, Any]) -> bool:
    """A condition limits the statement to specific accounts, organizations, sources or networks."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, dict):
        return False
    for operator, by_key in conditions.items():
        if not isinstance(operator, str) or not isinstance(by_key, dict):
            continue
        base = operator.lower().removeprefix("foranyvalue:")
        if base not in _POSITIVE:
            continue  # negated, IfExists (true when the key is absent) or ForAllValues (true when empty)
        for key, raw in by_key.items():
            if not isinstance(key, str) or key.lower() not in RESTRICTING_KEYS:
                continue
            values = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if isinstance(v, str | int)]
            if values and all(_specific(base, key.lower(), v) for v in values):
                return True
    return False


def _specific(operator: str, key: str, value: str) -> bool:
    if operator == "ipaddress":
        networks = exposure_of_strings([value])
        return bool(networks.networks) and not networks.internet_wide
    if key == "aws:sourceip":
        return False  # IAM compares addresses with IpAddress only
    if operator not in _LIKE or not _wild(value):
        return bool(value.strip())
    # A wildcard is specific only inside one account's ARNs ("arn:aws:sns:*:123456789012:*").
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and bool(parts[4]) and not _wild(parts[4])


def _public(principal: Any) -> list[str]:
    """How a Principal element names everyone: ``"*"``, ``{"AWS": "*"}``, ..."""
    if principal == "*":
        return ['Principal "*"']
    if isinstance(principal, dict):
        return [
            f'Principal {{"{kind}": "*"}}'
            for kind, ids in principal.items()
            if isinstance(kind, str) and "*" in strings_of(ids)
        ]
    return []


# A literal account in a principal: "123456789012", "arn:aws:iam::123456789012:root", "...:role/x", sts sessions.
_ACCOUNT_OF = re.compile(r"(?:arn:[^:]*:(?:iam|sts)::)?([0-9]{12})(?::.*)?", re.DOTALL)
# Condition keys that admit principals or sources by account, or by ARN (whose fifth part is the account).
ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:principalaccount", "aws:sourceowner", "kms:calleraccount"})
ACCOUNT_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})


def _accounts_named(statement: dict[str, Any]) -> list[tuple[str, str]]:
    """Each literal account the statement admits, with where it is named: its principals (``AWS``,
    ``Federated``) and the account and ARN keys of its positive conditions."""
    found: list[tuple[str, str]] = []
    principal = statement.get("Principal")
    for kind in ("AWS", "Federated"):
        for value in strings_of(principal.get(kind)) if isinstance(principal, dict) else ():
            if matched := _ACCOUNT_OF.fullmatch(value.strip()):
                found.append((matched[1], f"Principal {json.dumps({kind: value})}"))
    conditions = statement.get("Condition")
    for operator, by_key in conditions.items() if isinstance(conditions, dict) else ():
        if not isinstance(operator, str) or not isinstance(by_key, dict):
            continue
        if operator.lower().removeprefix("foranyvalue:").removesuffix("ifexists") not in _POSITIVE:
            continue
        for key, raw in by_key.items():
            lowered = key.lower() if isinstance(key, str) else ""
            for value in strings_of(raw):
                if lowered in ACCOUNT_KEYS and _ACCOUNT.fullmatch(value.strip()):
                    found.append((value.strip(), f"{key} {value}"))
                elif lowered in ACCOUNT_ARN_KEYS:
                    parts = value.split(":", 5)
                    if len(parts) == 6 and _ACCOUNT.fullmatch(parts[4]):
                        found.append((parts[4], f"{key} {value}"))
    return found


_ACCOUNT = re.compile(r"[0-9]{12}")


def _not_ours(account: str | None) -> str:
    if account is None:
        return (
            "this plan does not say its own account (no aws_caller_identity read at plan, no allowed_account_ids), "
            "so no account it names can be told to be ours"
        )
    return f"not this plan's own account ({account})"


def _principal_problems(statement: dict[str, Any], where: str, account: str | None) -> Iterator[Problem]:
    name = _statement_name(statement)
    actions = strings_of(statement.get("Action")) or [
        f"NotAction {shown_values(strings_of(statement.get('NotAction')))}"
    ]
    foreign = [(a, how) for a, how in _accounts_named(statement) if a != account]
    if foreign:
        accounts = ", ".join(dict.fromkeys(a for a, _ in foreign))
        yield Problem(
            "G019",
            "foreign account",
            f"{where}: {name} lets account {accounts} ({_listed(list(dict.fromkeys(h for _, h in foreign)))}) "
            f"{', '.join(actions[:3])}{' and more' if len(actions) > 3 else ''}: {_not_ours(account)}",
        )
    github = _github_problems(statement, where, name)
    if github:
        yield from github
        return
    if "NotPrincipal" in statement:
        yield Problem(
            "G014",
            "public principal",
            f"{where}: {name} allows every principal except {shown_values(strings_of(statement.get('NotPrincipal')))} "
            f"(NotPrincipal under Allow) to {', '.join(actions[:3])}",
        )
        return
    public = _public(statement.get("Principal"))
    if public and not _restricting(statement):
        yield Problem(
            "G014",
            "public principal",
            f"{where}: {name} allows anyone ({public[0]}) to {', '.join(actions[:3])}"
            f"{' and more' if len(actions) > 3 else ''} with no condition limiting it to an account, organization, "
            "source or network (aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:SourceVpce, ...)",
        )


def _github_problems(statement: dict[str, Any], where: str, name: str) -> list[Problem]:
    """G015 for a statement trusting GitHub's OIDC issuer; empty for any other statement."""
    principal = statement.get("Principal")
    federated = strings_of(principal.get("Federated")) if isinstance(principal, dict) else []
    found = statement.get("Condition")
    conditions: dict[str, Any] = found if isinstance(found, dict) else {}
    claims: dict[str, list[tuple[str, str]]] = {"sub": [], "aud": []}  # claim -> (operator, value)
    mentions_issuer = any(GITHUB_ISSUER in f for f in federated)
    for operator, by_key in conditions.items():
        if not isinstance(operator, str) or not isinstance(by_key, dict):
            continue
        for key, raw in by_key.items():
            if not isinstance(key, str) or not key.lower().startswith(GITHUB_ISSUER + ":"):
                continue
            mentions_issuer = True
            claim = key.lower().removeprefix(GITHUB_ISSUER + ":")
            base = operator.lower().removeprefix("foranyvalue:").removesuffix("ifexists")
            if claim in claims and base in _POSITIVE:
                claims[claim] += [(base, v) for v in strings_of(raw)]
    if not mentions_issuer:
        return []
    trust = f"{where}: {name} trusts GitHub Actions OIDC"
    problems: list[Problem] = []
    if not claims["sub"]:
        problems.append(
            Problem(
                "G015",
                "github oidc",
                f"{trust} with no {GITHUB_ISSUER}:sub condition: every repository on GitHub may assume it",
            )
        )
    wide = [v for op, v in claims["sub"] if op in _LIKE and _wild(v) and not _ONE_REPOSITORY.match(v)]
    if wide:
        problems.append(
            Problem(
                "G015",
                "github oidc",
                f"{trust} for more than one repository: sub {shown_values(wide)} "
                "(a wildcard before repo:OWNER/NAME: is complete)",
            )
        )
    audiences = [v for op, v in claims["aud"] if v != GITHUB_AUDIENCE or (op in _LIKE and _wild(v))]
    if not claims["aud"]:
        problems.append(
            Problem("G015", "github oidc", f"{trust} with no {GITHUB_ISSUER}:aud condition (must be {GITHUB_AUDIENCE})")
        )
    elif audiences:
        problems.append(
            Problem(
                "G015",
                "github oidc",
                f"{trust} for audience {shown_values(audiences)} (only {GITHUB_AUDIENCE} is AWS's)",
            )
        )
    return problems


# --- attachments and permissions ----------------------------------------------------------------------

_MANAGED_ARN = re.compile(
    r"arn:[^:]*:(?P<service>iam|eks)::aws:(?:policy|cluster-access-policy)/(?:.*/)?(?P<name>[^/]+)"
)


def judge_managed(arn: str, *, cluster_scope: bool = True) -> Problem | None:
    """G013 for an AWS-managed policy (or EKS access policy) ARN from :data:`ADMIN_POLICIES`."""
    found = _MANAGED_ARN.fullmatch(arn.strip())
    if not found:
        return None
    policy = ADMIN_POLICIES.get(found["name"])
    if policy is None or (policy.cluster_scope_only and not cluster_scope):
        return None
    return Problem("G013", found["name"], f"attaches the AWS-managed {found['name']}: {policy.grants}")


def judge_lambda_permission(
    principal: str,
    *,
    source_arn: str | None,
    source_account: str | None,
    org_id: str | None,
    action: str,
    account: str | None = None,
) -> Problem | None:
    """G014 for an ``aws_lambda_permission`` (or layer permission) open to anyone, or to a service
    of any account (the confused-deputy case AWS documents for ``source_arn``/``source_account``);
    G019 for one granted to an account other than the plan's own (``account``)."""
    what = action or "lambda:InvokeFunction"
    named = _ACCOUNT_OF.fullmatch(principal.strip())
    if named and named[1] != account:
        return Problem("G019", "foreign account", f"account {named[1]} may {what}: {_not_ours(account)}")
    if source_arn or source_account or org_id:
        return None
    if principal.strip() == "*":
        return Problem(
            "G014",
            "public principal",
            f'principal "*" may {what}: no source_arn, source_account or principal_org_id limits it',
        )
    if principal.strip().endswith(".amazonaws.com"):
        return Problem(
            "G014",
            "public principal",
            f"{principal.strip()} of any account may {what}: no source_arn or source_account limits it",
        )
    return None
