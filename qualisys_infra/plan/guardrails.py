"""Guardrails: the changes a plan must never make without a person saying so.

Each rule reads ``resource_changes`` (never ``planned_values``, which omits deletions) and the
values *after* the change. A value Terraform only knows after apply cannot be judged: such rules
stay silent rather than guess. Findings carry an id, a severity, the address and a message; any
blocking finding makes ``plan``/``review``/``deploy`` exit 1. IAM (G004, G012-G015, G018, G019) is
judged by what a policy allows, in :mod:`qualisys_infra.plan.iam`, with its reviewed waivers; G020 is
someone added to a group that administers; G007 includes function URLs and S3 ACL grants open to everyone.
G021 is data lost or the audit trail stopped without a destroy (logging off, a key disabled, versioning
suspended, current objects expired, backups off, retention shortened), allowed as a destroy is.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qualisys_infra.core.networks import Exposure, exposure_of_strings, parse_networks
from qualisys_infra.plan import eks_versions, iam
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.json_safety import Location, without_gc
from qualisys_infra.plan.masking import mask_at
from qualisys_infra.plan.model import Kind, Plan, ResourceChange
from qualisys_infra.plan.words import ACTION_WORDS, change_notes, plural, shell_word

LOAD_BALANCER_PORTS = (80, 443)
SECURITY_GROUP_TYPES = ("aws_security_group", "aws_default_security_group")
PROTOCOL_NAMES = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
ALL_PORTS = (0, 65535)

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
POLICY_ATTRIBUTES: tuple[str, ...] = ("policy", "assume_role_policy")
# Resource policies under other names (OpenSearch, Glacier, CloudWatch Logs), read on AWS types only.
RESOURCE_POLICY_ATTRIBUTES: tuple[str, ...] = ("access_policy", "access_policies", "policy_document")
# ``inline_policy`` by type: the policy document itself (a JSON string), or blocks each with a ``policy``;
# a type not named here may have either.
INLINE_POLICY_DOCUMENTS = frozenset({"aws_ssoadmin_permission_set_inline_policy"})
INLINE_POLICY_BLOCKS = frozenset({"aws_iam_role"})
# Attachments of managed policies: one ARN, or a list of them.
ATTACHMENT_ATTRIBUTES = ("policy_arn", "managed_policy_arn")
ATTACHMENT_LISTS = ("policy_arns", "managed_policy_arns")
# Resource permissions that name a principal outside a policy document, with the action they grant.
LAMBDA_PERMISSIONS = {
    "aws_lambda_permission": "lambda:InvokeFunction",
    "aws_lambda_layer_version_permission": "lambda:GetLayerVersion",
}
_IAM_KEYS = frozenset(
    (
        *POLICY_ATTRIBUTES,
        *RESOURCE_POLICY_ATTRIBUTES,
        "inline_policy",
        *ATTACHMENT_ATTRIBUTES,
        *ATTACHMENT_LISTS,
    )
)
_SWITCHES = frozenset((*ENCRYPTION_FLAGS, *PROTECTION_FLAGS, "server_side_encryption"))


@dataclass(frozen=True, slots=True)
class _Value:
    """A planned value inside ``change.after``, with its unknown mask and its place in the file.

    Reading a container of the wrong JSON type is bad input (a one-line :class:`PlanError` naming the
    JSON path), never "nothing to check"; a value only known after apply reads as ``None``/empty.
    The place is kept as a parent link and a key, and written out only for an error.
    """

    value: Any
    unknown: Any
    parent: _Value | ResourceChange  # the change itself for its whole ``after`` value
    key: str | int = ""

    @classmethod
    def after(cls, change: ResourceChange) -> _Value:
        return cls(change.after, change.after_unknown, change)

    @property
    def at(self) -> Location:
        if isinstance(self.parent, ResourceChange):
            return self.parent.location / "change" / "after"
        return self.parent.at / self.key

    def __getitem__(self, key: str | int) -> _Value:
        if isinstance(key, str):
            value = self.value.get(key) if isinstance(self.value, dict) else None
        else:
            value = self.value[key] if isinstance(self.value, list) and key < len(self.value) else None
        return _Value(value, mask_at(self.unknown, key), self, key)

    @property
    def is_unknown(self) -> bool:
        return self.unknown is True

    def scalar(self, *kinds: type) -> Any:
        """The value when known and not null; of one of ``kinds`` (a bool is not a number)."""
        if self.is_unknown or self.value is None:
            return None
        if not isinstance(self.value, kinds) or (isinstance(self.value, bool) and bool not in kinds):
            raise self.at.wrong(self.value, *kinds)
        return self.value

    def items(self) -> list[_Value]:
        """The elements of a list (or of a single nested block written as an object)."""
        if self.is_unknown or self.value is None:
            return []
        if isinstance(self.value, dict):
            return [self]
        if not isinstance(self.value, list):
            raise self.at.wrong(self.value, list)
        return [self[i] for i in range(len(self.value))]

    def strings(self) -> list[str]:
        """The known strings of a list of strings."""
        return [s for item in self.items() if (s := item.scalar(str)) is not None]


def _after(change: ResourceChange, key: str) -> Any:
    """The planned value of ``key``; ``None`` when absent or only known after apply."""
    value = change.after.get(key) if isinstance(change.after, dict) else None
    if value is None or mask_at(change.after_unknown, key) is True:
        return None
    return value


def _before(change: ResourceChange, key: str) -> Any:
    return change.before.get(key) if isinstance(change.before, dict) else None


_WRITING = frozenset({Kind.CREATE, Kind.UPDATE, Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET})


def _writes(change: ResourceChange) -> bool:
    return change.kind in _WRITING


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


@dataclass(frozen=True, slots=True)
class _Ingress:
    """One ingress rule, from a rule resource or an inline ``ingress`` block of a security group."""

    group: str  # the security group it belongs to: its id, else its address, else the rule's own address
    protocol: str  # "all", "tcp", "udp", "icmp", ... (names for numbers)
    ports: tuple[int, int]
    cidrs: tuple[str, ...]
    change: ResourceChange


_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]')
_GROUP_REFERENCE = re.compile(r"^(?:aws_security_group|aws_default_security_group)\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?$")


def _protocol(value: _Value) -> str | None:
    raw = value.scalar(str, int)
    return None if raw is None else PROTOCOL_NAMES.get(str(raw).lower(), str(raw).lower())


def _ports(rule: _Value, low_key: str, high_key: str) -> tuple[int, int] | None:
    """The port range; the whole range when null (protocol "all"); ``None`` when not known yet."""
    low, high = rule[low_key], rule[high_key]
    if low.is_unknown or high.is_unknown:
        return None
    first, last = low.scalar(int, float), high.scalar(int, float)
    if first is None and last is None:
        return ALL_PORTS
    first = int(first if first is not None else ALL_PORTS[0])
    last = int(last if last is not None else ALL_PORTS[1])
    return (min(first, last), max(first, last))


def _group_of(change: ResourceChange, plan: Plan, groups: dict[str, str]) -> str:
    """The security group a rule resource belongs to, as the key its security group's rules use."""
    known = _Value.after(change)["security_group_id"].scalar(str)
    if known:
        return f"id:{known}"
    # Not known until apply: follow the configuration's reference to a security group of this plan.
    config_address = _INSTANCE_KEY.sub("", change.address)
    references = plan.references.get(config_address, {}).get("security_group_id", ())
    prefix = f"{change.module_address}." if change.module_address else ""
    for reference in sorted((r for r in references if _GROUP_REFERENCE.match(r)), key=len, reverse=True):
        if prefix + reference in groups:
            return groups[prefix + reference]
    return f"address:{change.address}"


def _ingress_rules(plan: Plan) -> list[tuple[_Ingress, bool]]:
    """Every ingress rule the plan leaves in place, with whether this plan writes it."""
    present = [c for c in plan.changes if c.mode == "managed" and (_writes(c) or c.kind is Kind.NOOP)]
    groups: dict[str, str] = {}
    for change in present:
        if change.type in SECURITY_GROUP_TYPES:
            known = _Value.after(change)["id"].scalar(str)
            groups[change.address] = f"id:{known}" if known else f"address:{change.address}"
    rules: list[tuple[_Ingress, bool]] = []
    for change in present:
        after = _Value.after(change)
        found: list[tuple[_Value, str, str, tuple[str, ...]]] = []  # (rule, from key, to key, cidrs)
        if change.type == "aws_vpc_security_group_ingress_rule":
            cidrs: tuple[str, ...] = tuple(
                c for c in (after["cidr_ipv4"].scalar(str), after["cidr_ipv6"].scalar(str)) if c
            )
            found.append((after, "from_port", "to_port", cidrs))
            protocol_key = "ip_protocol"
        elif change.type == "aws_security_group_rule":
            if after["type"].scalar(str) != "ingress":
                continue
            cidrs = (*after["cidr_blocks"].strings(), *after["ipv6_cidr_blocks"].strings())
            found.append((after, "from_port", "to_port", cidrs))
            protocol_key = "protocol"
        elif change.type in SECURITY_GROUP_TYPES:
            for rule in after["ingress"].items():
                if not isinstance(rule.value, dict):
                    raise rule.at.wrong(rule.value, dict)
                cidrs = (*rule["cidr_blocks"].strings(), *rule["ipv6_cidr_blocks"].strings())
                found.append((rule, "from_port", "to_port", cidrs))
            protocol_key = "protocol"
        else:
            continue
        group = groups[change.address] if change.type in SECURITY_GROUP_TYPES else _group_of(change, plan, groups)
        for rule, low_key, high_key, cidrs in found:
            protocol, ports = _protocol(rule[protocol_key]), _ports(rule, low_key, high_key)
            if protocol == "all":
                ports = ALL_PORTS  # AWS ignores the ports of an all-protocols rule (often written 0-0)
            if protocol is None or ports is None or not cidrs:
                continue  # known only after apply: not guessed at
            rules.append((_Ingress(group, protocol, ports, cidrs, change), _writes(change)))
    return rules


def _port_text(protocol: str, ports: tuple[int, int]) -> str:
    if protocol == "all":
        return "all ports (all protocols)"
    named = "" if protocol == "tcp" else f"{protocol} "
    if ports == ALL_PORTS:
        return f"all {protocol} ports"
    low, high = ports
    return f"{named}port {low}" if low == high else f"{named}ports {low}-{high}"


def _reach(cidrs: Iterable[str], wide: Exposure) -> str:
    """``0.0.0.0/1, 128.0.0.0/1 (every public IPv4 address)``: the networks as written, then how far they reach."""
    written: list[str] = []
    for cidr in cidrs:
        try:
            parse_networks([cidr])
        except ValueError:
            continue  # not a network: Terraform refuses it, it reaches nothing
        if cidr.strip() not in written:
            written.append(cidr.strip())
    collapsed = ", ".join(str(n) for n in wide.networks)
    described = wide.describe()
    reach = described[len(collapsed) :].strip() if described.startswith(collapsed) else f"({described})"
    return f"{', '.join(written)} {reach}".strip()


@dataclass
class _Open:
    """A port range of one protocol open to internet-wide networks, as reported for one rule resource."""

    protocol: str
    span: tuple[int, int]
    wide: Exposure
    cidrs: list[str]
    others: set[str]

    def text(self) -> str:
        with_others = f" (with {', '.join(sorted(self.others))})" if self.others else ""
        return f"ingress on {_port_text(self.protocol, self.span)} from {_reach(self.cidrs, self.wide)}{with_others}"


def _open_spans(rules: list[tuple[_Ingress, bool]]) -> dict[str, list[_Open]]:
    """Per written rule resource of one security group: where the group's union of networks is internet-wide."""
    flagged: dict[str, list[_Open]] = defaultdict(list)
    for protocol in sorted({r.protocol for r, _ in rules}):
        same = [(r, w) for r, w in rules if r.protocol in (protocol, "all")]
        edges = sorted({r.ports[0] for r, _ in same} | {r.ports[1] + 1 for r, _ in same})
        for low, next_low in itertools.pairwise(edges):
            span = (low, next_low - 1)
            covering = [(r, w) for r, w in same if r.ports[0] <= span[0] and span[1] <= r.ports[1]]
            if not covering or (protocol != "all" and all(r.protocol == "all" for r, _ in covering)):
                continue  # nothing here, or reported once as all protocols
            if protocol != "all" and span[0] == span[1] and span[0] in LOAD_BALANCER_PORTS:
                continue  # a load balancer's HTTP/HTTPS listener
            cidrs = [c for r, _ in covering for c in r.cidrs]
            wide = exposure_of_strings(cidrs)
            if not wide.internet_wide:
                continue
            addresses = {r.change.address for r, _ in covering}
            for address in sorted({r.change.address for r, w in covering if w}):
                problems = flagged[address]
                last = problems[-1] if problems else None
                if last and last.protocol == protocol and last.span[1] + 1 == low and last.wide == wide:
                    last.span = (last.span[0], span[1])
                    last.others |= addresses - {address}
                    last.cidrs += cidrs
                elif not any(p.protocol == protocol and p.span == span for p in problems):
                    problems.append(_Open(protocol, span, wide, cidrs, addresses - {address}))
    return flagged


def _public_ingress(plan: Plan) -> Iterator[Finding]:
    """G003: the union of a security group's ingress networks, per protocol and port, reaches the internet.

    Splitting ``0.0.0.0/0`` into several rules (of one resource or of several) does not escape: every
    rule of one group that covers a port counts for that port.
    """
    by_group: dict[str, list[tuple[_Ingress, bool]]] = defaultdict(list)
    for rule, written in _ingress_rules(plan):
        by_group[rule.group].append((rule, written))
    findings: dict[str, list[_Open]] = defaultdict(list)
    for rules in by_group.values():
        if any(written for _, written in rules):
            for address, problems in _open_spans(rules).items():
                findings[address].extend(problems)
    for change in plan.changes:  # in plan order
        problems = findings.pop(change.address, [])
        if problems:
            shown = [p.text() for p in problems[:3]]
            more = f"; and {plural(len(problems) - 3, 'more port range')}" if len(problems) > 3 else ""
            yield Finding(
                "G003",
                Severity.CRITICAL,
                change.address,
                "; ".join(shown) + more + " (only ports 80 and 443 may be open to the internet)",
                True,
            )


def _planned_keys(change: ResourceChange) -> dict[str, Any]:
    """``change.after`` when it is an object (an absent key reads as null, as through :class:`_Value`)."""
    return change.after if isinstance(change.after, dict) else {}


_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")  # a plan that does not say its own: the standard ones


class _Context:
    """What the rules that look beyond one change need, built once per check: the plan's changes by
    address and the configuration's references, to tell whether a waiver holds (:mod:`.iam`)."""

    def __init__(self, plan: Plan, stack: str, own: iam.OwnNames | None) -> None:
        self.plan = plan
        self.stack = stack
        self.waivers = iam.waivers(own)
        self._present: dict[str, ResourceChange] | None = None
        self._attached: dict[str, list[str]] | None = None
        self._admin_groups: dict[str, str] | None = None

    @property
    def present(self) -> dict[str, ResourceChange]:
        """Every managed resource this plan leaves in place (created, changed or unchanged), by address."""
        if self._present is None:
            self._present = {
                c.address: c
                for c in self.plan.changes
                if c.mode == "managed" and c.deposed is None and (_writes(c) or c.kind is Kind.NOOP)
            }
        return self._present

    def referenced(self, change: ResourceChange, key: str) -> list[tuple[ResourceChange, str]]:
        """The resources of this plan (with the attribute) that ``key``'s expression references."""
        prefix = f"{change.module_address}." if change.module_address else ""
        found = []
        for reference in self.plan.references.get(_INSTANCE_KEY.sub("", change.address), {}).get(key, ()):
            parts = reference.split(".")
            if len(parts) >= 3 and not reference.startswith(("data.", "module.", "var.", "local.")):
                target = self.present.get(prefix + ".".join(parts[:2]))
                if target is not None:
                    found.append((target, parts[2]))
        return found

    def satisfies(self, change: ResourceChange, key: str, expect: iam.Expect) -> str:
        """Empty when ``key`` of ``change`` has the value ``expect`` requires; else why not, in words."""
        value = _Value.after(change)[key]
        if value.is_unknown:
            for target, attribute in self.referenced(change, key):
                if target.type == expect.of and attribute in expect.via and _known_name(target) == expect.name:
                    return ""
            return f"{key} is known only after apply" + (
                f" and its expression references no {expect.of} named {json.dumps(expect.name)}" if expect.of else ""
            )
        found = value.scalar(str)
        if found is None:
            return f"{key} is not set"
        partitions = (self.plan.partition,) if self.plan.partition else _PARTITIONS
        wanted = [w for p in partitions if (w := iam.fill(expect.value, p, self.plan.account)) is not None]
        if not wanted:
            return "the plan does not say its own account (no aws_caller_identity read at plan)"
        if found not in wanted:
            return f"{key} is {json.dumps(found)}, the waiver names {json.dumps(wanted[0])}"
        return ""

    def role(self, name: str) -> ResourceChange | None:
        return next((c for c in self.present.values() if c.type == "aws_iam_role" and _known_name(c) == name), None)

    def attachments(self, policy: ResourceChange) -> list[str]:
        """The addresses that attach the customer-managed ``policy`` as a permission policy."""
        if self._attached is None:
            self._attached = defaultdict(list)
            for change in self.present.values():
                if not change.type.startswith("aws_"):
                    continue
                after, planned = _Value.after(change), _planned_keys(change)
                for key in (*ATTACHMENT_ATTRIBUTES, *ATTACHMENT_LISTS):
                    if key not in planned and not after[key].is_unknown:
                        continue
                    arns = after[key].strings() if key in ATTACHMENT_LISTS else [after[key].scalar(str) or ""]
                    for arn in arns:
                        self._attached[f"name:{arn.rsplit('/', 1)[-1]}"].append(change.address)
                    for target, attribute in self.referenced(change, key):
                        if attribute == "arn":
                            self._attached[f"address:{target.address}"].append(change.address)
        name = _known_name(policy)
        by_name = self._attached.get(f"name:{name}", []) if name else []
        return sorted({*by_name, *self._attached.get(f"address:{policy.address}", [])})

    def group_keys(self, change: ResourceChange, key: str) -> list[str]:
        """How the group(s) ``key`` names are known: ``name:<name>`` for each known name, ``address:<address>``
        for a group of this plan its expression references (and the name that group has, when known)."""
        value = _Value.after(change)[key]
        names = value.strings() if isinstance(value.value, list) else [n for n in [value.scalar(str)] if n]
        keys = [f"name:{n}" for n in names]
        for target, _ in self.referenced(change, key):
            if target.type == "aws_iam_group":
                keys.append(f"address:{target.address}")
                name = _known_name(target)
                keys += [f"name:{name}"] if name else []
        return keys

    def admin_group(self, keys: Sequence[str]) -> str:
        """Why a group (known by ``keys``, :meth:`group_keys`) administers: its name says so, or this plan
        gives it an administrator's policy; empty when neither."""
        for key in keys:
            if key.startswith("name:") and "admin" in key.lower().removeprefix("name:"):
                return 'its name says it administers ("admin")'
        if self._admin_groups is None:
            self._admin_groups = {}
            for change in self.present.values():
                why = _administers(change, self.plan.account)
                if why:
                    for key in ("group", "group_name", "groups"):
                        for found in self.group_keys(change, key) if key in _planned_keys(change) else ():
                            self._admin_groups.setdefault(found, f"{change.address} {why}")
        return next((self._admin_groups[k] for k in keys if k in self._admin_groups), "")

    def bucket_is_new(self, change: ResourceChange) -> bool:
        """The bucket ``change`` configures is created by this plan (so it holds no data yet)."""
        created = {c.address for c in self.plan.changes if c.type == "aws_s3_bucket" and c.kind is Kind.CREATE}
        if any(t.address in created for t, _ in self.referenced(change, "bucket")):
            return True
        value = _Value.after(change)["bucket"]
        name = None if value.is_unknown else value.scalar(str)
        return name is not None and any(
            _Value.after(self.present[a])["bucket"].scalar(str) == name for a in created if a in self.present
        )

    def waiver(self, change: ResourceChange, problem: iam.Problem) -> tuple[iam.Waiver | None, str]:
        """The waiver that allows ``problem`` at ``change``, or why the one about it does not hold."""
        named = [w for w in self.waivers if w.names(change.address, problem.rule, problem.subject)]
        if not named:
            return None, ""
        waiver = named[0]
        why = self._why_not(waiver, change, problem)
        return (None, why) if why else (waiver, "")

    def _why_not(self, waiver: iam.Waiver, change: ResourceChange, problem: iam.Problem) -> str:
        if self.stack not in waiver.stacks:
            return f"the waiver is for stack {', '.join(waiver.stacks)}, this is {self.stack or 'an unnamed plan'}"
        for key, expect in waiver.attributes:
            why = self.satisfies(change, key, expect)
            if why:
                return why
        if waiver.statement is not None:
            why = iam.statement_differs(waiver.statement, problem.statement, self.plan.partition, self.plan.account)
            if why:
                return f"{_statement_words(problem.statement)} is not the one the waiver names: {why}"
        role_name = next((e.name for key, e in waiver.attributes if key == "role"), "")
        if waiver.role_boundary or waiver.role_mfa:
            role = self.role(role_name)
            if role is None:
                return (
                    f"the role {json.dumps(role_name)} is not in this plan, so what the waiver relies on is unchecked"
                )
            if waiver.role_boundary:
                boundary = waiver.role_boundary
                expect = iam.Expect(
                    f"arn:{{partition}}:iam::{{account}}:policy/{boundary}",
                    of="aws_iam_policy",
                    name=boundary,
                    via=("arn",),
                )
                why = self.satisfies(role, "permissions_boundary", expect)
                if why:
                    return f"the role {json.dumps(role_name)} must carry the permissions boundary {boundary}: {why}"
            if waiver.role_mfa:
                why = _mfa_only(_Value.after(role)["assume_role_policy"])
                if why:
                    return f"the role {json.dumps(role_name)} must be assumable only with MFA: {why}"
        if waiver.boundary_only:
            attached = self.attachments(change)
            if attached:
                return f"this permissions boundary is attached as a permission policy by {', '.join(attached)}"
        return ""


def _known_name(change: ResourceChange) -> str | None:
    value = _Value.after(change)["name"]
    return None if value.is_unknown else value.scalar(str)


def _statement_words(statement: Any) -> str:
    sid = statement.get("Sid") if isinstance(statement, dict) else None
    return f"statement {json.dumps(sid)}" if isinstance(sid, str) and sid else "the statement"


def _mfa_only(trust: _Value) -> str:
    """Empty when every Allow statement of the trust policy requires MFA; else why not."""
    if trust.is_unknown:
        return "its trust policy is known only after apply"
    document = iam.document_of(trust.scalar(str, dict))
    if document is None:
        return "its trust policy is not a policy document"
    loose = [s for s in iam.statements(document) if iam.allows(s) and not iam.requires_mfa(s)]
    if loose:
        return f"{_statement_words(loose[0])} admits sessions without MFA (Bool aws:MultiFactorAuthPresent true)"
    return ""


def _iam(change: ResourceChange, context: _Context) -> Iterator[Finding]:
    """G004, G012-G015: IAM judged by meaning (see :mod:`qualisys_infra.plan.iam`); a waived problem
    stays in the review as a warning that carries the waiver's reason.

    A policy document data source is not judged itself: it grants nothing until a resource uses its
    JSON, and that resource's planned value is judged (a data source read during apply has no JSON yet).
    """
    planned = _planned_keys(change)
    permission = LAMBDA_PERMISSIONS.get(change.type)
    if _IAM_KEYS.isdisjoint(planned) and permission is None:
        return
    after = _Value.after(change)
    problems: list[iam.Problem] = []
    principals = change.type not in iam.ENDPOINT_POLICY_TYPES
    keys = POLICY_ATTRIBUTES + (RESOURCE_POLICY_ATTRIBUTES if change.type.startswith("aws_") else ())
    account = context.plan.account
    for key in keys:
        if key in planned:
            problems += iam.judge_document(after[key].scalar(str, dict), key, principals=principals, account=account)
    if "inline_policy" in planned:
        inline = after["inline_policy"]
        if change.type in INLINE_POLICY_DOCUMENTS or (
            change.type not in INLINE_POLICY_BLOCKS and isinstance(inline.value, str)
        ):
            documents = [inline.scalar(str, dict)]  # the document itself, as JSON
        else:
            documents = [block["policy"].scalar(str, dict) for block in inline.items()]
        for policy in documents:
            problems += iam.judge_document(policy, "inline_policy", principals=principals, account=account)
    aws = change.type.startswith("aws_")
    arns = [a for key in ATTACHMENT_ATTRIBUTES if aws and key in planned and (a := after[key].scalar(str))]
    arns += [a for key in ATTACHMENT_LISTS if aws and key in planned for a in after[key].strings()]
    if arns:
        cluster_scope = change.type != "aws_eks_access_policy_association" or _cluster_wide(after)
        problems += [p for arn in arns if (p := iam.judge_managed(arn, cluster_scope=cluster_scope))]
    if permission is not None and (principal := after["principal"].scalar(str)) is not None:
        limits = {
            key: _set(after[key]) for key in ("source_arn", "source_account", "principal_org_id", "organization_id")
        }
        found = iam.judge_lambda_permission(
            principal,
            source_arn=limits["source_arn"],
            source_account=limits["source_account"],
            org_id=limits["principal_org_id"] or limits["organization_id"],
            action=after["action"].scalar(str) or permission,
            account=account,
        )
        problems += [found] if found else []
    for problem in problems:
        waiver, why_not = context.waiver(change, problem)
        if waiver is not None:
            yield Finding(
                problem.rule, Severity.WARNING, change.address, f"{problem.message} (waived: {waiver.reason})", False
            )
        else:
            severity = Severity.CRITICAL if problem.critical else Severity.HIGH
            note = f" (not waived: {why_not})" if why_not else ""
            yield Finding(problem.rule, severity, change.address, problem.message + note, True)


def _administers(change: ResourceChange, account: str | None) -> str:
    """What administrator's permission ``change`` grants whoever it is attached to: an AWS-managed
    administration policy (G013), or a policy document allowing every action or escalation (G004, G012)."""
    if not change.type.startswith("aws_"):
        return ""
    after, planned = _Value.after(change), _planned_keys(change)
    for key in (*ATTACHMENT_ATTRIBUTES, *ATTACHMENT_LISTS):
        if key in planned:
            arns = after[key].strings() if key in ATTACHMENT_LISTS else [after[key].scalar(str) or ""]
            for arn in arns:
                if problem := iam.judge_managed(arn):
                    return f"attaches {problem.subject}"
    if "policy" in planned:
        for problem in iam.judge_document(after["policy"].scalar(str, dict), "policy", account=account):
            if problem.rule in ("G004", "G012"):
                return f"gives it a policy that {problem.message.split(' allows ', 1)[-1]}"
    return ""


MEMBERSHIPS = {
    # type: (the attribute naming the group(s), the attribute naming the user(s))
    "aws_iam_user_group_membership": ("groups", "user"),
    "aws_iam_group_membership": ("group", "users"),
}


def _memberships(change: ResourceChange, context: _Context) -> Iterator[Finding]:
    """G020: someone is added to a group that administers (its name says "admin", or this plan gives it
    an administrator's policy). A group known only after apply is followed through the configuration's
    reference to a group of this plan; otherwise it is not guessed at."""
    if change.type not in MEMBERSHIPS:
        return
    groups_key, users_key = MEMBERSHIPS[change.type]
    after = _Value.after(change)
    users = after[users_key].strings() if users_key == "users" else [u for u in [after[users_key].scalar(str)] if u]
    if users_key == "users":
        earlier = _before_values(change, "users")
        users = [u for u in users if u not in earlier]  # only who this change adds
        if not users and not after["users"].is_unknown:
            return
    who = ", ".join(users) if users else "users known only after apply"
    earlier_groups = _before_values(change, groups_key)
    for key in context.group_keys(change, groups_key):
        same_user = users_key == "user" and _before_values(change, "user") == users
        if same_user and key.startswith("name:") and key.removeprefix("name:") in earlier_groups:
            continue  # this user's existing membership, not added by this change
        why = context.admin_group([key, *_aliases(key, context)])
        if why:
            group = key.split(":", 1)[1]
            yield Finding(
                "G020",
                Severity.CRITICAL,
                change.address,
                f"adds {who} to the group {group}, which administers: {why}",
                True,
            )


def _before_values(change: ResourceChange, key: str) -> list[Any]:
    """``key`` of the object before the change, as a list (empty when there was none)."""
    value = change.before.get(key) if isinstance(change.before, dict) else None
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _aliases(key: str, context: _Context) -> list[str]:
    """The other key of a group of this plan: its address for its name, its name for its address."""
    if key.startswith("address:"):
        target = context.present.get(key.removeprefix("address:"))
        name = _known_name(target) if target is not None else None
        return [f"name:{name}"] if name else []
    name = key.removeprefix("name:")
    return [
        f"address:{c.address}" for c in context.present.values() if c.type == "aws_iam_group" and _known_name(c) == name
    ]


def _data_loss(change: ResourceChange, context: _Context, allowed: Mapping[str, str]) -> Iterator[Finding]:
    """G021: a change that loses data or stops the audit trail without destroying anything: logging
    stopped, a key disabled, versioning suspended, current objects expired, backups or final snapshots
    turned off, log retention shortened, force-destroy turned on. Allowed the way a destroy is
    (``allow_destroy``), then a warning."""
    losses = list(_losses(change, context))
    for loss in losses:
        if change.address in allowed:
            yield Finding(
                "G021", Severity.WARNING, change.address, f"{loss} (allowed by {allowed[change.address]})", False
            )
        else:
            hint = f"--allow-destroy {shell_word(change.address)}"
            yield Finding("G021", Severity.CRITICAL, change.address, loss, True, hint=hint)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_LOSS_TYPES = frozenset(
    {
        "aws_cloudtrail",
        "aws_kms_key",
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_dynamodb_table",
        "aws_cloudwatch_log_group",
    }
)
_LOSS_KEYS = frozenset(
    {
        "skip_final_snapshot",
        "delete_automated_backups",
        "force_destroy",
        "force_delete",
        "backup_retention_period",
        "snapshot_retention_limit",
    }
)


def _losses(change: ResourceChange, context: _Context) -> Iterator[str]:
    kind, type_ = change.kind, change.type
    if kind is Kind.DELETE:
        if type_ == "aws_s3_bucket_versioning" and _status(change.before) == "enabled":
            yield "destroying aws_s3_bucket_versioning suspends the bucket's versioning (the provider's delete)"
        return
    planned = _planned_keys(change)
    after = _Value.after(change)
    if (
        type_ == "aws_cloudtrail"
        and "enable_logging" in planned
        and _is_false(after["enable_logging"].scalar(bool, str))
    ):
        yield "CloudTrail logging stopped: enable_logging = false"
    if type_ == "aws_kms_key" and "is_enabled" in planned and _is_false(after["is_enabled"].scalar(bool, str)):
        yield "KMS key disabled (is_enabled = false): whatever it encrypts can no longer be read"
    if type_ == "aws_s3_bucket_versioning" and not context.bucket_is_new(change):
        status = _status(change.after)
        if status in ("suspended", "disabled"):
            yield f"versioning {status} on a bucket that holds data: overwritten and deleted objects are lost"
    if type_ == "aws_s3_bucket" and "versioning" in planned:
        flags = [v["enabled"].scalar(bool, str) for v in after["versioning"].items()]
        were = [v.get("enabled") for v in _before_values(change, "versioning") if isinstance(v, dict)]
        if any(_is_false(v) for v in flags) and any(_is_true(v) for v in were):
            yield "versioning suspended (versioning.enabled = false)"
    if type_ == "aws_s3_bucket_lifecycle_configuration" and not context.bucket_is_new(change):
        days, dates = _expirations(after["rule"].items())
        earlier_days, earlier_dates = _expirations_before(change)
        if (days and (not earlier_days or min(days) < min(earlier_days))) or (dates - earlier_dates):
            when = (
                f"after {plural(int(min(days)), 'day')}" if days else f"on {', '.join(sorted(dates - earlier_dates))}"
            )
            yield f"lifecycle expires the bucket's current objects {when}: an existing bucket's data is deleted"
    for flag, what in (
        ("skip_final_snapshot", "no final snapshot when it is deleted"),
        ("delete_automated_backups", "its automated backups deleted with it"),
        ("force_destroy", "deleted with everything in it"),
        ("force_delete", "deleted with every image in it"),
    ):
        if flag in planned and _is_true(after[flag].scalar(bool, str)) and _is_false(_before(change, flag)):
            yield f"{flag} turned on: {what}"
    for key, what in (
        ("backup_retention_period", "automated backups off"),
        ("snapshot_retention_limit", "automatic snapshots off"),
    ):
        now_days, earlier = (
            _number(after[key].scalar(int, float)) if key in planned else None,
            _number(_before(change, key)),
        )
        if now_days == 0 and earlier:
            yield f"{what}: {key} {int(earlier)} -> 0"
    if type_ == "aws_dynamodb_table" and "point_in_time_recovery" in planned:
        flags = [p["enabled"].scalar(bool, str) for p in after["point_in_time_recovery"].items()]
        were = [p.get("enabled") for p in _before_values(change, "point_in_time_recovery") if isinstance(p, dict)]
        if any(_is_false(v) for v in flags) and any(_is_true(v) for v in were):
            yield "point-in-time recovery switched off"
    if type_ == "aws_cloudwatch_log_group" and "retention_in_days" in planned:
        now_days, earlier = (
            _number(after["retention_in_days"].scalar(int, float)),
            _number(_before(change, "retention_in_days")),
        )
        if now_days and (earlier == 0 or (earlier and now_days < earlier)):
            before_text = "never expiring" if earlier == 0 else plural(int(earlier or 0), "day")
            yield f"log retention shortened: {before_text} -> {plural(int(now_days), 'day')} (older events are deleted)"


def _status(state: Any) -> str:
    """``versioning_configuration.status`` of an ``aws_s3_bucket_versioning`` value, lower case."""
    found = state.get("versioning_configuration") if isinstance(state, dict) else None
    block = found[0] if isinstance(found, list) and found else found
    status = block.get("status") if isinstance(block, dict) else None
    return status.strip().lower() if isinstance(status, str) else ""


def _expirations(rules: Sequence[_Value]) -> tuple[list[float], set[str]]:
    """The days and dates after which enabled rules expire current objects."""
    days: list[float] = []
    dates: set[str] = set()
    for rule in rules:
        status = rule["status"].scalar(str)
        if status is None or status.strip().lower() != "enabled":
            continue
        for expiration in rule["expiration"].items():
            if (n := _number(expiration["days"].scalar(int, float))) is not None and n > 0:
                days.append(n)
            if date := expiration["date"].scalar(str):
                dates.add(date)
    return days, dates


def _expirations_before(change: ResourceChange) -> tuple[list[float], set[str]]:
    days: list[float] = []
    dates: set[str] = set()
    for rule in _before_values(change, "rule"):
        if not isinstance(rule, dict) or str(rule.get("status", "")).lower() != "enabled":
            continue
        expirations = rule.get("expiration")
        for expiration in expirations if isinstance(expirations, list) else [expirations]:
            if isinstance(expiration, dict):
                if (n := _number(expiration.get("days"))) is not None and n > 0:
                    days.append(n)
                if isinstance(expiration.get("date"), str) and expiration["date"]:
                    dates.add(expiration["date"])
    return days, dates


def _set(value: _Value) -> str | None:
    """A string setting, or a marker when it is set from a value known only after apply (set, not known)."""
    return "(known after apply)" if value.is_unknown else value.scalar(str)


def _cluster_wide(after: _Value) -> bool:
    """An EKS access policy association applies cluster-wide (or its scope is not known yet)."""
    scopes = after["access_scope"].items()
    if after["access_scope"].is_unknown or not scopes:
        return True
    return any(s["type"].is_unknown or s["type"].scalar(str) == "cluster" for s in scopes)


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _switched_off(change: ResourceChange) -> Iterator[Finding]:
    if _SWITCHES.isdisjoint(_planned_keys(change)):
        return  # none of the settings this rule reads
    for key in ENCRYPTION_FLAGS:
        if _is_false(_after(change, key)):
            verb = "switched off" if _is_true(_before(change, key)) else "off"
            yield Finding("G005", Severity.CRITICAL, change.address, f"encryption {verb}: {key} = false", True)
    # Deletion protection may start off (dev creates its database without it); turning it off on
    # an existing resource is the change that precedes an accidental delete.
    for key in PROTECTION_FLAGS:
        if _is_false(_after(change, key)) and _is_true(_before(change, key)):
            yield Finding("G006", Severity.CRITICAL, change.address, f"deletion protection switched off: {key}", True)
    blocks = (
        _Value.after(change)["server_side_encryption"].items()
        if "server_side_encryption" in _planned_keys(change)
        else []
    )
    for block in blocks:
        if not isinstance(block.value, dict):
            raise block.at.wrong(block.value, dict)
        if _is_false(block["enabled"].value) and not block["enabled"].is_unknown:
            yield Finding(
                "G005",
                Severity.CRITICAL,
                change.address,
                "encryption off: server_side_encryption.enabled = false",
                True,
            )


def _made_public(change: ResourceChange) -> Iterator[Finding]:
    after = _Value.after(change)
    planned = _planned_keys(change)
    if _is_true(_after(change, "publicly_accessible")):
        yield Finding("G007", Severity.CRITICAL, change.address, "publicly_accessible = true", True)
    if change.type == "aws_s3_bucket_public_access_block":
        off = [k for k in PUBLIC_ACCESS_BLOCK_FLAGS if _is_false(_after(change, k))]
        if off:
            yield Finding("G007", Severity.CRITICAL, change.address, f"public access block off: {', '.join(off)}", True)
    acl = after["acl"].scalar(str) if "acl" in planned else None
    if acl and acl.strip().lower().startswith(("public-read", "authenticated-read")):
        yield Finding("G007", Severity.CRITICAL, change.address, f"public ACL {acl}", True)
    grants: list[_Value] = []
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
            if not _is_true(vpc["endpoint_public_access"].scalar(bool, str)):
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
                    f"Kubernetes API open to the internet: public endpoint reachable from {_reach(networks, wide)}",
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
    own: iam.OwnNames | None = None,
) -> list[Finding]:
    """Every finding for ``plan``, blocking ones first, in plan order within each group.

    ``allow_destroy``: the addresses that may be destroyed (G001) or lose data (G021), each with where
    that permission comes from (shown in the finding), or a list of them given on the command line.
    ``stack`` names the plan's stack and ``own`` the project's own names (from its reviewed settings):
    a waiver (:func:`.iam.waivers`) holds only in its stack, made of those names; without them none does.
    """
    with without_gc():
        return _check(plan, allow_destroy=allow_destroy, protected_types=protected_types, stack=stack, own=own)


def _check(
    plan: Plan,
    *,
    allow_destroy: Iterable[str] | Mapping[str, str],
    protected_types: frozenset[str],
    stack: str,
    own: iam.OwnNames | None,
) -> list[Finding]:
    allowed = dict(allow_destroy) if isinstance(allow_destroy, Mapping) else dict.fromkeys(allow_destroy, COMMAND_LINE)
    context = _Context(plan, stack, own)
    findings: list[Finding] = list(_health(plan))
    ingress = {f.address: f for f in _public_ingress(plan)}  # a group's rules are judged together
    for change in plan.changes:
        if change.address in ingress:
            findings.append(ingress.pop(change.address))
        writes = _writes(change)
        if writes:
            findings.extend(_iam(change, context))
            if change.type in MEMBERSHIPS:
                findings.extend(_memberships(change, context))
            for rule in (_switched_off, _made_public):
                findings.extend(rule(change))
        loses = change.type in _LOSS_TYPES or (writes and change.after and not _LOSS_KEYS.isdisjoint(change.after))
        if loses and (writes or change.kind is Kind.DELETE):
            findings.extend(_data_loss(change, context, allowed))
        findings.extend(_protected(change, allowed, protected_types))
    findings.extend(_drift(plan, protected_types))
    findings.extend(eks_versions.findings(plan))  # G016/G017: EKS cluster versions
    if stack:
        findings = [dataclasses.replace(f, stack=stack) for f in findings]
    return sorted(findings, key=lambda f: not f.blocking)


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]
