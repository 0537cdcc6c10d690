"""Access given away outside a public principal: another account named in a policy or permission
(G019), a function URL or an S3 ACL open to everyone (G007), someone added to a group that
administers (G020). One test per shape; our own shapes pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Plan, parse_plan

ACCOUNT = "123456789012"
FOREIGN = "999999999999"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _plan(
    *changes: dict[str, Any], account: str | None = ACCOUNT, references: dict[str, dict[str, list[str]]] | None = None
) -> Plan:
    entries = [
        {
            "address": c.get("address", f"{c['type']}.r{i}"),
            "mode": "managed",
            "type": c["type"],
            "name": c.get("address", f"{c['type']}.r{i}").split(".")[1],
            "change": {
                "actions": c.get("actions", ["create"]),
                "before": c.get("before"),
                "after": c.get("after", {}),
                "after_unknown": c.get("after_unknown", {}),
            },
        }
        for i, c in enumerate(changes)
    ]
    read = [{"mode": "data", "type": "aws_caller_identity", "name": "me", "values": {"account_id": account}}]
    configured = [
        {"address": address, "expressions": {key: {"references": refs} for key, refs in by_key.items()}}
        for address, by_key in (references or {}).items()
    ]
    document = {
        "format_version": "1.2",
        "resource_changes": entries,
        "prior_state": {"values": {"root_module": {"resources": read if account else []}}},
        "configuration": {"root_module": {"resources": configured}},
    }
    return parse_plan(document, "crafted")


def _blocked(plan: Plan, rule: str) -> dict[str, str]:
    return {f.address: f.message for f in blocking(check(plan)) if f.rule == rule}


def _findings(plan: Plan) -> list[Finding]:
    return check(plan)


# --- G019: an account that is not the plan's own -------------------------------------------------------------------


def _trust(principal: Any, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return {"type": "aws_iam_role", "after": {"assume_role_policy": _doc(statement)}}


FOREIGN_SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "trust_to_an_account_root": (_trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}), "arn:aws:iam::999999999999:root"),
    "trust_to_a_role_there": (_trust({"AWS": [f"arn:aws:iam::{FOREIGN}:role/ops"]}), "role/ops"),
    "trust_to_a_bare_account_id": (_trust({"AWS": FOREIGN}), '{"AWS": "999999999999"}'),
    "trust_to_a_session_there": (_trust({"AWS": f"arn:aws:sts::{FOREIGN}:assumed-role/x/y"}), "assumed-role"),
    "trust_to_a_saml_provider_there": (
        _trust({"Federated": f"arn:aws:iam::{FOREIGN}:saml-provider/corp"}),
        "saml-provider/corp",
    ),
    "bucket_policy_for_anyone_of_that_account": (
        {
            "type": "aws_s3_bucket_policy",
            "after": {
                "policy": _doc(
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::b/*",
                        "Condition": {"StringEquals": {"aws:PrincipalAccount": FOREIGN}},
                    }
                )
            },
        },
        "aws:PrincipalAccount 999999999999",
    ),
    "key_policy_for_a_service_of_that_account": (
        {
            "type": "aws_kms_key",
            "after": {
                "policy": _doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{FOREIGN}:*"}},
                    }
                )
            },
        },
        "aws:SourceArn arn:aws:sns:*:999999999999:*",
    ),
    "lambda_permission_for_that_account": (
        {"type": "aws_lambda_permission", "after": {"principal": FOREIGN, "action": "lambda:InvokeFunction"}},
        "account 999999999999 may lambda:InvokeFunction",
    ),
}


@pytest.mark.parametrize("shape", sorted(FOREIGN_SHAPES))
def test_fails_if_another_account_is_let_in(shape: str) -> None:
    change, named = FOREIGN_SHAPES[shape]
    (message,) = _blocked(_plan(change), "G019").values()
    assert "999999999999" in message and named in message, message
    assert message.endswith(f"not this plan's own account ({ACCOUNT})") or "lambda" in shape, message


def test_fails_if_the_plan_does_not_say_its_own_account() -> None:
    (message,) = _blocked(_plan(_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), account=None), "G019").values()
    assert message.endswith(
        "this plan does not say its own account (no aws_caller_identity read at plan, no allowed_account_ids), "
        "so no account it names can be told to be ours"
    )


@pytest.mark.parametrize(
    "change",
    [
        _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        _trust({"Service": "ec2.amazonaws.com"}),
        {
            "type": "aws_s3_bucket_policy",
            "after": {
                "policy": _doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::trail/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                    }
                )
            },
        },
        {"type": "aws_lambda_permission", "after": {"principal": ACCOUNT}},
    ],
)
def test_lets_the_plans_own_account_through(change: dict[str, Any]) -> None:
    assert _blocked(_plan(change), "G019") == {}


# --- G007: a function URL or an S3 ACL open to everyone ---------------------------------------------------------------

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def _acl_grant(uri: str, permission: str = "READ") -> dict[str, Any]:
    grant = {"permission": permission, "grantee": [{"type": "Group", "uri": uri}]}
    return {"type": "aws_s3_bucket_acl", "after": {"bucket": "b", "access_control_policy": [{"grant": [grant]}]}}


PUBLIC = {
    "function_url_without_auth": (
        {"type": "aws_lambda_function_url", "after": {"function_name": "f", "authorization_type": "NONE"}},
        "function URL with authorization_type NONE: anyone on the internet may invoke the function "
        "(AWS_IAM signs each call)",
    ),
    "acl_grant_to_all_users": (_acl_grant(ALL_USERS), "ACL grants READ to AllUsers (anyone on the internet)"),
    "acl_grant_to_any_aws_account": (
        _acl_grant(AUTHENTICATED, "FULL_CONTROL"),
        "ACL grants FULL_CONTROL to AuthenticatedUsers (anyone with an AWS account, in any account)",
    ),
    "legacy_bucket_grant": (
        {"type": "aws_s3_bucket", "after": {"grant": [{"type": "Group", "uri": ALL_USERS, "permissions": ["READ"]}]}},
        "ACL grants READ to AllUsers (anyone on the internet)",
    ),
    "canned_public_read": ({"type": "aws_s3_bucket_acl", "after": {"acl": "public-read"}}, "public ACL public-read"),
    "canned_public_read_write": (
        {"type": "aws_s3_bucket_acl", "after": {"acl": "public-read-write"}},
        "public ACL public-read-write",
    ),
}


@pytest.mark.parametrize("shape", sorted(PUBLIC))
def test_fails_if_something_is_opened_to_everyone(shape: str) -> None:
    change, message = PUBLIC[shape]
    assert list(_blocked(_plan(change), "G007").values()) == [message]


@pytest.mark.parametrize(
    "change",
    [
        {"type": "aws_lambda_function_url", "after": {"authorization_type": "AWS_IAM"}},
        {"type": "aws_lambda_function_url", "after": {}, "after_unknown": {"authorization_type": True}},
        _acl_grant("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE"),
        {
            "type": "aws_s3_bucket_acl",
            "after": {"access_control_policy": [{"grant": [{"permission": "READ", "grantee": [{"id": "abc123"}]}]}]},
        },
        {"type": "aws_s3_bucket_acl", "after": {"acl": "private"}},
    ],
)
def test_lets_private_access_through(change: dict[str, Any]) -> None:
    assert _blocked(_plan(change), "G007") == {}


# --- G020: someone added to a group that administers ----------------------------------------------------------------

GROUP = "aws_iam_group.ops"
MEMBERSHIP = "aws_iam_user_group_membership.m"


def _member_of(*groups: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "aws_iam_user_group_membership",
        "address": MEMBERSHIP,
        "after": {"user": "evil", "groups": list(groups)},
        **extra,
    }


def _attach(arn: str, group: str = "ops") -> dict[str, Any]:
    return {
        "type": "aws_iam_group_policy_attachment",
        "address": "aws_iam_group_policy_attachment.a",
        "after": {"group": group, "policy_arn": arn},
    }


def test_fails_if_someone_joins_a_group_named_for_administrators() -> None:
    assert _blocked(_plan(_member_of("qualisys-administrators")), "G020") == {
        MEMBERSHIP: 'adds evil to the group qualisys-administrators, which administers: its name says it administers ("admin")'
    }


def test_fails_if_users_join_an_admins_group_by_group_membership() -> None:
    change = {"type": "aws_iam_group_membership", "after": {"group": "SiteAdmins", "users": ["a", "b"]}}
    assert "adds a, b to the group SiteAdmins" in _blocked(_plan(change), "G020")["aws_iam_group_membership.r0"]


def test_fails_if_someone_joins_a_group_this_plan_makes_administer() -> None:
    plan = _plan(_member_of("ops"), _attach("arn:aws:iam::aws:policy/AdministratorAccess"))
    assert _blocked(plan, "G020") == {
        MEMBERSHIP: "adds evil to the group ops, which administers: "
        "aws_iam_group_policy_attachment.a attaches AdministratorAccess"
    }


def test_fails_if_the_group_is_known_only_by_its_reference() -> None:
    """The group's name is known only after apply: the membership and the attachment reference the same group."""
    plan = _plan(
        {"type": "aws_iam_group", "address": GROUP, "after": {}, "after_unknown": {"name": True}},
        _member_of(after_unknown={"groups": True}),
        _attach("arn:aws:iam::aws:policy/IAMFullAccess", group="") | {"after_unknown": {"group": True}},
        references={
            MEMBERSHIP: {"groups": [f"{GROUP}.name", GROUP]},
            "aws_iam_group_policy_attachment.a": {"group": [f"{GROUP}.name", GROUP]},
        },
    )
    assert "attaches IAMFullAccess" in _blocked(plan, "G020")[MEMBERSHIP]


def test_fails_if_the_groups_inline_policy_administers() -> None:
    policy = {
        "type": "aws_iam_group_policy",
        "address": "aws_iam_group_policy.p",
        "after": {"group": "ops", "policy": _doc({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})},
    }
    assert (
        "aws_iam_group_policy.p gives it a policy that privilege escalation: iam:PassRole on every role"
        in (_blocked(_plan(_member_of("ops"), policy), "G020")[MEMBERSHIP])
    )


@pytest.mark.parametrize(
    "changes",
    [
        [_member_of("qualisys-developers"), _attach("arn:aws:iam::aws:policy/ReadOnlyAccess", "qualisys-developers")],
        [
            _member_of(
                "qualisys-administrators",
                actions=["update"],
                before={"user": "evil", "groups": ["qualisys-administrators"]},
            )
        ],
        [
            {
                "type": "aws_iam_group_membership",
                "actions": ["update"],
                "before": {"group": "admins", "users": ["a"], "name": "old"},
                "after": {"group": "admins", "users": ["a"], "name": "new"},
            }
        ],
        [_member_of(after_unknown={"groups": True})],
    ],
)
def test_lets_memberships_that_add_no_one_to_an_administrators_group_through(changes: list[dict[str, Any]]) -> None:
    assert _blocked(_plan(*changes), "G020") == {}
