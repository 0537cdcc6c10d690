"""IAM, judged by meaning (G004, G012-G015, G018, G019) with its reviewed waivers, and G020 (someone added
to a group that administers): the rules that look beyond one change, through the plan's :class:`Context`.
What a policy allows is decided in :mod:`qualisys_infra.plan.iam`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from qualisys_infra.plan import iam, iam_waivers
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.guardrail_values import (
    INSTANCE_KEY,
    Value,
    before_values,
    known_name,
    planned_keys,
    set_text,
    writes,
)
from qualisys_infra.plan.model import Kind, Plan, ResourceChange

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


IAM_KEYS = frozenset(
    (
        *POLICY_ATTRIBUTES,
        *RESOURCE_POLICY_ATTRIBUTES,
        "inline_policy",
        *ATTACHMENT_ATTRIBUTES,
        *ATTACHMENT_LISTS,
    )
)


PARTITIONS = ("aws", "aws-cn", "aws-us-gov")  # a plan that does not say its own: the standard ones


class Context:
    """What the rules that look beyond one change need, built once per check: the plan's changes by
    address and the configuration's references, to tell whether a waiver holds (:mod:`.iam`)."""

    def __init__(self, plan: Plan, stack: str, own: iam_waivers.OwnNames | None) -> None:
        self.plan = plan
        self.stack = stack
        self.waivers = iam_waivers.waivers(own)
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
                if c.mode == "managed" and c.deposed is None and (writes(c) or c.kind is Kind.NOOP)
            }
        return self._present

    def referenced(self, change: ResourceChange, key: str) -> list[tuple[ResourceChange, str]]:
        """The resources of this plan (with the attribute) that ``key``'s expression references."""
        prefix = f"{change.module_address}." if change.module_address else ""
        found = []
        for reference in self.plan.references.get(INSTANCE_KEY.sub("", change.address), {}).get(key, ()):
            parts = reference.split(".")
            if len(parts) >= 3 and not reference.startswith(("data.", "module.", "var.", "local.")):
                target = self.present.get(prefix + ".".join(parts[:2]))
                if target is not None:
                    found.append((target, parts[2]))
        return found

    def satisfies(self, change: ResourceChange, key: str, expect: iam_waivers.Expect) -> str:
        """Empty when ``key`` of ``change`` has the value ``expect`` requires; else why not, in words."""
        value = Value.after(change)[key]
        if value.is_unknown:
            for target, attribute in self.referenced(change, key):
                if target.type == expect.of and attribute in expect.via and known_name(target) == expect.name:
                    return ""
            return f"{key} is known only after apply" + (
                f" and its expression references no {expect.of} named {json.dumps(expect.name)}" if expect.of else ""
            )
        found = value.scalar(str)
        if found is None:
            return f"{key} is not set"
        partitions = (self.plan.partition,) if self.plan.partition else PARTITIONS
        wanted = [w for p in partitions if (w := iam_waivers.fill(expect.value, p, self.plan.account)) is not None]
        if not wanted:
            return "the plan does not say its own account (no aws_caller_identity read at plan)"
        if found not in wanted:
            return f"{key} is {json.dumps(found)}, the waiver names {json.dumps(wanted[0])}"
        return ""

    def role(self, name: str) -> ResourceChange | None:
        return next((c for c in self.present.values() if c.type == "aws_iam_role" and known_name(c) == name), None)

    def attachments(self, policy: ResourceChange) -> list[str]:
        """The addresses that attach the customer-managed ``policy`` as a permission policy."""
        if self._attached is None:
            self._attached = defaultdict(list)
            for change in self.present.values():
                if not change.type.startswith("aws_"):
                    continue
                after, planned = Value.after(change), planned_keys(change)
                for key in (*ATTACHMENT_ATTRIBUTES, *ATTACHMENT_LISTS):
                    if key not in planned and not after[key].is_unknown:
                        continue
                    arns = after[key].strings() if key in ATTACHMENT_LISTS else [after[key].scalar(str) or ""]
                    for arn in arns:
                        self._attached[f"name:{arn.rsplit('/', 1)[-1]}"].append(change.address)
                    for target, attribute in self.referenced(change, key):
                        if attribute == "arn":
                            self._attached[f"address:{target.address}"].append(change.address)
        name = known_name(policy)
        by_name = self._attached.get(f"name:{name}", []) if name else []
        return sorted({*by_name, *self._attached.get(f"address:{policy.address}", [])})

    def group_keys(self, change: ResourceChange, key: str) -> list[str]:
        """How the group(s) ``key`` names are known: ``name:<name>`` for each known name, ``address:<address>``
        for a group of this plan its expression references (and the name that group has, when known)."""
        value = Value.after(change)[key]
        names = value.strings() if isinstance(value.value, list) else [n for n in [value.scalar(str)] if n]
        keys = [f"name:{n}" for n in names]
        for target, _ in self.referenced(change, key):
            if target.type == "aws_iam_group":
                keys.append(f"address:{target.address}")
                name = known_name(target)
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
                why = administers(change, self.plan.account)
                if why:
                    for key in ("group", "group_name", "groups"):
                        for found in self.group_keys(change, key) if key in planned_keys(change) else ():
                            self._admin_groups.setdefault(found, f"{change.address} {why}")
        return next((self._admin_groups[k] for k in keys if k in self._admin_groups), "")

    def bucket_is_new(self, change: ResourceChange) -> bool:
        """The bucket ``change`` configures is created by this plan (so it holds no data yet)."""
        created = {c.address for c in self.plan.changes if c.type == "aws_s3_bucket" and c.kind is Kind.CREATE}
        if any(t.address in created for t, _ in self.referenced(change, "bucket")):
            return True
        value = Value.after(change)["bucket"]
        name = None if value.is_unknown else value.scalar(str)
        return name is not None and any(
            Value.after(self.present[a])["bucket"].scalar(str) == name for a in created if a in self.present
        )

    def waiver(self, change: ResourceChange, problem: iam.Problem) -> tuple[iam_waivers.Waiver | None, str]:
        """The waiver that allows ``problem`` at ``change``, or why the one about it does not hold."""
        named = [w for w in self.waivers if w.names(change.address, problem.rule, problem.subject)]
        if not named:
            return None, ""
        waiver = named[0]
        why = self._why_not(waiver, change, problem)
        return (None, why) if why else (waiver, "")

    def _why_not(self, waiver: iam_waivers.Waiver, change: ResourceChange, problem: iam.Problem) -> str:
        if self.stack not in waiver.stacks:
            return f"the waiver is for stack {', '.join(waiver.stacks)}, this is {self.stack or 'an unnamed plan'}"
        for key, expect in waiver.attributes:
            why = self.satisfies(change, key, expect)
            if why:
                return why
        if waiver.statement is not None:
            why = iam_waivers.statement_differs(
                waiver.statement, problem.statement, self.plan.partition, self.plan.account
            )
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
                expect = iam_waivers.Expect(
                    f"arn:{{partition}}:iam::{{account}}:policy/{boundary}",
                    of="aws_iam_policy",
                    name=boundary,
                    via=("arn",),
                )
                why = self.satisfies(role, "permissions_boundary", expect)
                if why:
                    return f"the role {json.dumps(role_name)} must carry the permissions boundary {boundary}: {why}"
            if waiver.role_mfa:
                why = _mfa_only(Value.after(role)["assume_role_policy"])
                if why:
                    return f"the role {json.dumps(role_name)} must be assumable only with MFA: {why}"
        if waiver.boundary_only:
            attached = self.attachments(change)
            if attached:
                return f"this permissions boundary is attached as a permission policy by {', '.join(attached)}"
        return ""


def _statement_words(statement: Any) -> str:
    sid = statement.get("Sid") if isinstance(statement, dict) else None
    return f"statement {json.dumps(sid)}" if isinstance(sid, str) and sid else "the statement"


def _mfa_only(trust: Value) -> str:
    """Empty when every Allow statement of the trust policy requires MFA; else why not."""
    if trust.is_unknown:
        return "its trust policy is known only after apply"
    document = iam.document_of(trust.scalar(str, dict))
    if document is None:
        return "its trust policy is not a policy document"
    loose = [s for s in iam.statements(document) if iam.allows(s) and not iam_waivers.requires_mfa(s)]
    if loose:
        return f"{_statement_words(loose[0])} admits sessions without MFA (Bool aws:MultiFactorAuthPresent true)"
    return ""


def iam_findings(change: ResourceChange, context: Context) -> Iterator[Finding]:
    """G004, G012-G015: IAM judged by meaning (see :mod:`qualisys_infra.plan.iam`); a waived problem
    stays in the review as a warning that carries the waiver's reason.

    A policy document data source is not judged itself: it grants nothing until a resource uses its
    JSON, and that resource's planned value is judged (a data source read during apply has no JSON yet).
    """
    planned = planned_keys(change)
    permission = LAMBDA_PERMISSIONS.get(change.type)
    if IAM_KEYS.isdisjoint(planned) and permission is None:
        return
    after = Value.after(change)
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
        cluster_scope = change.type != "aws_eks_access_policy_association" or cluster_wide(after)
        problems += [p for arn in arns if (p := iam.judge_managed(arn, cluster_scope=cluster_scope))]
    if permission is not None and (principal := after["principal"].scalar(str)) is not None:
        limits = {
            key: set_text(after[key]) for key in ("source_arn", "source_account", "principal_org_id", "organization_id")
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


def administers(change: ResourceChange, account: str | None) -> str:
    """What administrator's permission ``change`` grants whoever it is attached to: an AWS-managed
    administration policy (G013), or a policy document allowing every action or escalation (G004, G012)."""
    if not change.type.startswith("aws_"):
        return ""
    after, planned = Value.after(change), planned_keys(change)
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


def memberships(change: ResourceChange, context: Context) -> Iterator[Finding]:
    """G020: someone is added to a group that administers (its name says "admin", or this plan gives it
    an administrator's policy). A group known only after apply is followed through the configuration's
    reference to a group of this plan; otherwise it is not guessed at."""
    if change.type not in MEMBERSHIPS:
        return
    groups_key, users_key = MEMBERSHIPS[change.type]
    after = Value.after(change)
    users = after[users_key].strings() if users_key == "users" else [u for u in [after[users_key].scalar(str)] if u]
    if users_key == "users":
        earlier = before_values(change, "users")
        users = [u for u in users if u not in earlier]  # only who this change adds
        if not users and not after["users"].is_unknown:
            return
    who = ", ".join(users) if users else "users known only after apply"
    earlier_groups = before_values(change, groups_key)
    for key in context.group_keys(change, groups_key):
        same_user = users_key == "user" and before_values(change, "user") == users
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


def _aliases(key: str, context: Context) -> list[str]:
    """The other key of a group of this plan: its address for its name, its name for its address."""
    if key.startswith("address:"):
        target = context.present.get(key.removeprefix("address:"))
        name = known_name(target) if target is not None else None
        return [f"name:{name}"] if name else []
    name = key.removeprefix("name:")
    return [
        f"address:{c.address}" for c in context.present.values() if c.type == "aws_iam_group" and known_name(c) == name
    ]


def cluster_wide(after: Value) -> bool:
    """An EKS access policy association applies cluster-wide (or its scope is not known yet)."""
    scopes = after["access_scope"].items()
    if after["access_scope"].is_unknown or not scopes:
        return True
    return any(s["type"].is_unknown or s["type"].scalar(str) == "cluster" for s in scopes)
