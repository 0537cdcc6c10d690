"""IAM judged by meaning (G004, G012-G015): one test per shape that must block, and safe policies that must not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_json, render_text

ACCOUNT = "123456789012"
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def _plan(*changes: dict[str, Any]) -> Any:
    entries = []
    for i, c in enumerate(changes):
        entries.append(
            {
                "address": c.get("address", f"{c['type']}.r{i}"),
                "mode": c.get("mode", "managed"),
                "type": c["type"],
                "name": f"r{i}",
                "change": {
                    "actions": c.get("actions", ["create"]),
                    "before": c.get("before"),
                    "after": c.get("after", {}),
                    "after_unknown": c.get("after_unknown", {}),
                },
            }
        )
    # Terraform reads the stack's aws_caller_identity while planning: the plan says its own account.
    identity = {"mode": "data", "type": "aws_caller_identity", "name": "me", "values": {"account_id": ACCOUNT}}
    prior = {"values": {"root_module": {"resources": [identity]}}}
    return parse_plan({"format_version": "1.2", "resource_changes": entries, "prior_state": prior}, "crafted")


def _findings(change: dict[str, Any]) -> list[Finding]:
    return [f for f in check(_plan(change)) if f.rule in ("G004", "G012", "G013", "G014", "G015", "G018", "G019")]


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def _identity(*statements: dict[str, Any], type_: str = "aws_iam_policy") -> dict[str, Any]:
    return {"type": type_, "after": {"policy": _doc(*statements)}}


def _trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "aws_iam_role", "after": {"assume_role_policy": _doc(*statements)}}


def _oidc(conditions: dict[str, Any]) -> dict[str, Any]:
    return _trust(
        _allow(
            Principal={"Federated": GITHUB},
            Action="sts:AssumeRoleWithWebIdentity",
            Condition=conditions,
        )
    )


def _assert_blocks(change: dict[str, Any], rule: str, message: str) -> None:
    found = _findings(change)
    assert found, "no finding"
    first = found[0]
    assert (first.rule, first.blocking) == (rule, True), found
    assert first.address == change.get("address", f"{change['type']}.r0")
    assert message in first.message, first.message


# --- G004: every action -------------------------------------------------------------------------------

EVERY_ACTION = {
    "action_star_on_arn_star": _identity(_allow(Action="*", Resource="arn:*")),
    "action_star_on_arn_aws_wildcards": _identity(_allow(Action="*", Resource="arn:aws:*:*:*:*")),
    "action_star_on_one_account": _identity(_allow(Action="*", Resource=f"arn:aws:*:*:{ACCOUNT}:*")),
    "action_star_colon_star": _identity(_allow(Action="*:*", Resource="*")),
    "action_question_marks": _identity(_allow(Action=["?*:*"], Resource=["*"])),
    "action_star_in_a_list": _identity(_allow(Action=["s3:GetObject", "*"], Resource=["arn:aws:s3:::b", "*"])),
    "lowercase_allow": _identity({"Effect": "allow", "Action": "*", "Resource": "*"}),
}


@pytest.mark.parametrize("shape", sorted(EVERY_ACTION))
def test_fails_if_every_action_on_every_resource_passes(shape: str) -> None:
    _assert_blocks(EVERY_ACTION[shape], "G004", "allows every action on every resource")


def test_fails_if_action_star_with_not_resource_passes() -> None:
    change = _identity(_allow(Action="*", NotResource="arn:aws:s3:::audit/*"))
    _assert_blocks(
        change, "G004", 'allows every action on every resource (Action "*" on NotResource "arn:aws:s3:::audit/*")'
    )


def test_fails_if_not_action_on_every_resource_passes() -> None:
    change = _identity(_allow(NotAction=["iam:*", "organizations:*"], Resource="arn:*"))
    _assert_blocks(change, "G004", 'allows every action except "iam:*", "organizations:*" on every resource')


def test_fails_if_not_resource_under_allow_passes() -> None:
    change = _identity(_allow(Action="s3:GetObject", NotResource="arn:aws:s3:::private/*"))
    _assert_blocks(change, "G004", 'allows Action "s3:GetObject" on every resource except "arn:aws:s3:::private/*"')


# --- G012: privilege escalation ---------------------------------------------------------------------------

ESCALATION = {
    "iam_star_on_star": (_allow(Action="iam:*", Resource="*"), "iam:AttachRolePolicy, iam:PutRolePolicy"),
    "iam_role_pattern": (_allow(Action="iam:*Role*", Resource="*"), "on every role"),
    "iam_put_on_every_role_of_the_account": (
        _allow(Action="iam:Put*", Resource=f"arn:aws:iam::{ACCOUNT}:role/*"),
        "iam:PutRolePolicy, iam:PutRolePermissionsBoundary on every role",
    ),
    "iam_on_every_iam_resource": (_allow(Action="iam:Attach*", Resource="arn:aws:iam::*:*"), "iam:AttachUserPolicy"),
    "pass_role_on_star": (_allow(Action="iam:PassRole", Resource="*"), "iam:PassRole on every role"),
    "assume_any_role": (
        _allow(Action="sts:AssumeRole", Resource="arn:aws:iam::*:role/*"),
        "sts:AssumeRole on every role",
    ),
    "create_policy_version": (_allow(Action="iam:CreatePolicyVersion", Resource="*"), "on every policy"),
    "access_keys_of_every_user": (_allow(Action="iam:CreateAccessKey", Resource="*"), "on every user"),
    "add_user_to_any_group": (_allow(Action="iam:AddUserToGroup", Resource="*"), "on every group"),
    "remove_a_boundary": (_allow(Action="iam:Delete*Boundary", Resource="*"), "iam:DeleteRolePermissionsBoundary"),
    "lambda_code_of_every_function": (
        _allow(Action="lambda:*", Resource="*"),
        "lambda:UpdateFunctionCode on every function",
    ),
    "glue_dev_endpoint": (_allow(Action="glue:Update*", Resource="*"), "glue:UpdateDevEndpoint on every dev endpoint"),
    "action_in_other_case": (_allow(Action="IAM:PUTROLEPOLICY", Resource="*"), "iam:PutRolePolicy on every role"),
    "service_star_without_a_colon_star": (_allow(Action="iam*", Resource="*"), "on every role"),
}


@pytest.mark.parametrize("shape", sorted(ESCALATION))
def test_fails_if_privilege_escalation_passes(shape: str) -> None:
    statement, message = ESCALATION[shape]
    _assert_blocks(_identity(statement), "G012", "allows privilege escalation: ")
    assert message in _findings(_identity(statement))[0].message


# --- resource patterns judged together (F2): wildcards that name no one resource ---------------------------------

WILDCARD_ESCALATION = {
    "every_action_on_privileged_role_patterns": (
        _allow(
            Action="*",
            Resource=[f"arn:aws:iam::{ACCOUNT}:role/*administrators*", f"arn:aws:iam::{ACCOUNT}:role/*github*apply*"],
        ),
        'on roles matching "arn:aws:iam::123456789012:role/*administrators*", "arn:aws:iam::123456789012:role/*github*apply*"',
    ),
    "iam_writes_on_a_role_prefix": (
        _allow(
            Action=["iam:Put*", "iam:Attach*", "iam:PassRole"], Resource=f"arn:aws:iam::{ACCOUNT}:role/qualisys-dev-*"
        ),
        "iam:AttachRolePolicy, iam:PutRolePolicy, iam:PutRolePermissionsBoundary and 1 more on roles matching",
    ),
    "pass_role_on_a_role_prefix": (
        _allow(Action="iam:PassRole", Resource=f"arn:aws:iam::{ACCOUNT}:role/app-*"),
        'iam:PassRole on roles matching "arn:aws:iam::123456789012:role/app-*"',
    ),
    "access_keys_of_users_matching": (
        _allow(Action="iam:CreateAccessKey", Resource=f"arn:aws:iam::{ACCOUNT}:user/*admin*"),
        "iam:CreateAccessKey on users matching",
    ),
    "new_versions_of_policies_matching": (
        _allow(Action="iam:CreatePolicyVersion", Resource=f"arn:aws:iam::{ACCOUNT}:policy/app-*"),
        "iam:CreatePolicyVersion on policies matching",
    ),
    "a_named_role_in_every_account": (
        _allow(Action="sts:AssumeRole", Resource="arn:aws:iam::*:role/OrganizationAccountAccessRole"),
        'sts:AssumeRole on roles matching "arn:aws:iam::*:role/OrganizationAccountAccessRole"',
    ),
    "one_character_wildcard": (
        _allow(Action="iam:PutRolePolicy", Resource=f"arn:aws:iam::{ACCOUNT}:role/admin?"),
        "iam:PutRolePolicy on roles matching",
    ),
}


@pytest.mark.parametrize("shape", sorted(WILDCARD_ESCALATION))
def test_fails_if_escalation_on_iam_names_with_wildcards_passes(shape: str) -> None:
    statement, message = WILDCARD_ESCALATION[shape]
    _assert_blocks(_identity(statement), "G012", message)


FULL_SERVICE = {
    "every_action_split_over_services": (
        _allow(
            Action="*",
            Resource=["arn:aws:s3:::*", "arn:aws:secretsmanager:*:*:*", "arn:aws:kms:*:*:*", "arn:aws:dynamodb:*:*:*"],
        ),
        "allows every action of s3:*, secretsmanager:*, kms:*, dynamodb:* on all of their resources",
    ),
    "service_star_on_star": (_allow(Action="s3:*", Resource="*"), "allows every action of s3:* on all of its"),
    "service_star_on_every_bucket": (_allow(Action="s3:*", Resource="arn:aws:s3:::*/*"), "every action of s3:*"),
    "service_star_on_every_secret": (
        _allow(Action="secretsmanager:*", Resource=f"arn:aws:secretsmanager:eu-central-1:{ACCOUNT}:secret:*"),
        "every action of secretsmanager:*",
    ),
    "a_harmless_looking_service": (_allow(Action="cloudwatch:*", Resource="*"), "every action of cloudwatch:*"),
    "service_prefix_without_colon": (_allow(Action="sqs*", Resource="arn:aws:sqs:*:*:*"), "every action of sqs:*"),
    "not_action_on_every_bucket": (
        _allow(NotAction=["iam:*"], Resource="arn:aws:s3:::*"),
        'every action of s3:* on all of its resources (NotAction "iam:*" on Resource "arn:aws:s3:::*")',
    ),
    "every_table_by_type": (_allow(Action="dynamodb:*", Resource="arn:aws:dynamodb:*:*:table/*"), "dynamodb:*"),
}


@pytest.mark.parametrize("shape", sorted(FULL_SERVICE))
def test_fails_if_full_access_to_a_whole_service_passes(shape: str) -> None:
    statement, message = FULL_SERVICE[shape]
    _assert_blocks(_identity(statement), "G004", message)


DATA_READ = {
    "objects_on_star": (_allow(Action="s3:GetObject", Resource="*"), "s3:GetObject on every object of every bucket"),
    "objects_of_every_bucket": (
        _allow(Action=["s3:GetObject", "s3:ListBucket"], Resource=["arn:aws:s3:::*/*"]),
        "s3:GetObject on every object of every bucket",
    ),
    "get_star_reads_objects": (_allow(Action="s3:Get*", Resource="arn:aws:s3:::*"), "s3:GetObject"),
    "every_secret": (
        _allow(Action="secretsmanager:GetSecretValue", Resource="arn:aws:secretsmanager:*:*:secret:*"),
        "secretsmanager:GetSecretValue on every secret",
    ),
    "decrypt_with_every_key": (
        _allow(Action="kms:Decrypt", Resource=f"arn:aws:kms:*:{ACCOUNT}:key/*"),
        "kms:Decrypt on every key",
    ),
    "decrypt_through_a_service_is_still_every_key": (
        _allow(
            Action="kms:Decrypt",
            Resource="*",
            Condition={"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}},
        ),
        "kms:Decrypt on every key",
    ),
    "a_tag_pattern_names_no_resource": (
        _allow(
            Action="secretsmanager:GetSecretValue",
            Resource="*",
            Condition={"StringLike": {"aws:ResourceTag/Team": "*"}},
        ),
        "secretsmanager:GetSecretValue on every secret",
    ),
    "every_parameter": (_allow(Action="ssm:GetParameters", Resource="arn:aws:ssm:*:*:parameter/*"), "every parameter"),
    "every_table": (
        _allow(Action="dynamodb:Scan", Resource="arn:aws:dynamodb:*:*:table/*"),
        "dynamodb:Scan on every table",
    ),
}


@pytest.mark.parametrize("shape", sorted(DATA_READ))
def test_fails_if_reading_a_whole_services_data_passes(shape: str) -> None:
    statement, message = DATA_READ[shape]
    _assert_blocks(_identity(statement), "G018", message)


def test_the_patterns_of_one_statement_add_up_and_each_reason_is_named_once() -> None:
    statement = _allow(Action=["s3:*", "iam:PassRole"], Resource=["arn:aws:s3:::*", f"arn:aws:iam::{ACCOUNT}:role/x-*"])
    found = [(f.rule, f.blocking) for f in _findings(_identity(statement))]
    assert found == [("G012", True), ("G004", True)], "full access to S3 covers its reads: no G018 besides"


# --- every way a policy document reaches the plan ------------------------------------------------------------

ADMIN = _allow(Action="*", Resource="*")
CARRIERS = {
    "aws_iam_policy": {"type": "aws_iam_policy", "after": {"policy": _doc(ADMIN)}},
    "aws_iam_role_policy": {"type": "aws_iam_role_policy", "after": {"policy": _doc(ADMIN)}},
    "aws_iam_user_policy": {"type": "aws_iam_user_policy", "after": {"policy": _doc(ADMIN)}},
    "aws_iam_group_policy": {"type": "aws_iam_group_policy", "after": {"policy": _doc(ADMIN)}},
    "inline_policy_block": {"type": "aws_iam_role", "after": {"inline_policy": [{"name": "x", "policy": _doc(ADMIN)}]}},
    "policy_as_an_object": {"type": "aws_iam_policy", "after": {"policy": {"Statement": [ADMIN]}}},
    "statement_as_an_object": {"type": "aws_iam_policy", "after": {"policy": json.dumps({"Statement": ADMIN})}},
    "an_update": {
        "type": "aws_iam_policy",
        "actions": ["update"],
        "before": {"policy": _doc(_allow(Action="s3:GetObject", Resource="*"))},
        "after": {"policy": _doc(ADMIN)},
    },
}


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_fails_if_a_policy_carrier_is_not_read(carrier: str) -> None:
    _assert_blocks(CARRIERS[carrier], "G004", "allows every action on every resource")


# --- G013: AWS-managed administration -------------------------------------------------------------------

MANAGED = {
    "role_attachment": ("aws_iam_role_policy_attachment", "policy_arn", "arn:aws:iam::aws:policy/AdministratorAccess"),
    "user_attachment": ("aws_iam_user_policy_attachment", "policy_arn", "arn:aws:iam::aws:policy/IAMFullAccess"),
    "group_attachment": ("aws_iam_group_policy_attachment", "policy_arn", "arn:aws:iam::aws:policy/PowerUserAccess"),
    "policy_attachment": (
        "aws_iam_policy_attachment",
        "policy_arn",
        "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
    ),
    "managed_policy_arns": (
        "aws_iam_role",
        "managed_policy_arns",
        ["arn:aws:iam::aws:policy/AdministratorAccess-Amplify"],
    ),
    "exclusive_attachments": (
        "aws_iam_role_policy_attachments_exclusive",
        "policy_arns",
        ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AWSOrganizationsFullAccess"],
    ),
    "sso_permission_set": (
        "aws_ssoadmin_managed_policy_attachment",
        "managed_policy_arn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ),
    "eks_cluster_admin": (
        "aws_eks_access_policy_association",
        "policy_arn",
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    ),
}


@pytest.mark.parametrize("shape", sorted(MANAGED))
def test_fails_if_an_aws_managed_administration_policy_is_attached(shape: str) -> None:
    type_, key, value = MANAGED[shape]
    arn = value if isinstance(value, str) else value[-1]
    name = arn.rsplit("/", 1)[1]
    _assert_blocks({"type": type_, "after": {key: value}}, "G013", f"attaches the AWS-managed {name}: ")


def test_fails_if_eks_admin_is_granted_cluster_wide() -> None:
    after = {
        "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
        "access_scope": [{"type": "cluster", "namespaces": []}],
    }
    _assert_blocks({"type": "aws_eks_access_policy_association", "after": after}, "G013", "Kubernetes admin")


# --- G014: public principals ---------------------------------------------------------------------------------

PUBLIC_ANYONE = _allow(Principal="*", Action="s3:GetObject", Resource="arn:aws:s3:::b/*")
RESOURCE_POLICIES = {
    "aws_s3_bucket_policy": ("policy", PUBLIC_ANYONE),
    "aws_s3_bucket": ("policy", PUBLIC_ANYONE),
    "aws_secretsmanager_secret_policy": (
        "policy",
        _allow(Principal={"AWS": "*"}, Action="secretsmanager:GetSecretValue", Resource="*"),
    ),
    "aws_kms_key": (
        "policy",
        _allow(Principal={"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}, Action="kms:Decrypt", Resource="*"),
    ),
    "aws_ecr_repository_policy": ("policy", _allow(Principal="*", Action=["ecr:BatchGetImage", "ecr:PutImage"])),
    "aws_sns_topic_policy": ("policy", _allow(Principal={"AWS": "*"}, Action="SNS:Publish", Resource="*")),
    "aws_sqs_queue_policy": ("policy", _allow(Principal="*", Action="sqs:SendMessage", Resource="*")),
    "aws_elasticsearch_domain_policy": ("access_policies", _allow(Principal={"AWS": "*"}, Action="es:*", Resource="*")),
    "aws_glacier_vault": ("access_policy", _allow(Principal="*", Action="glacier:*", Resource="*")),
    "aws_cloudwatch_log_resource_policy": ("policy_document", _allow(Principal="*", Action="logs:PutLogEvents")),
}


@pytest.mark.parametrize("type_", sorted(RESOURCE_POLICIES))
def test_fails_if_a_resource_policy_allows_anyone(type_: str) -> None:
    key, statement = RESOURCE_POLICIES[type_]
    _assert_blocks(
        {"type": type_, "after": {key: _doc(statement)}}, "G014", f"{key}: a statement allows anyone (Principal "
    )


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}])
def test_fails_if_a_trust_policy_lets_anyone_assume_the_role(principal: Any) -> None:
    change = _trust(_allow(Sid="Anyone", Principal=principal, Action="sts:AssumeRole"))
    _assert_blocks(change, "G014", 'assume_role_policy: statement "Anyone" allows anyone (Principal ')


def test_fails_if_not_principal_under_allow_passes() -> None:
    change = _trust(_allow(NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/x"}, Action="sts:AssumeRole"))
    _assert_blocks(change, "G014", "allows every principal except")


UNRESTRICTING = {
    "if_exists": {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
    "for_all_values": {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
    "negated": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
    "like_star": {"StringLike": {"aws:SourceAccount": "*"}},
    "arn_like_any_account": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
    "ip_of_the_internet": {"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}},
    "transport_only": {"Bool": {"aws:SecureTransport": "true"}},
    "external_id_only": {"StringEquals": {"sts:ExternalId": "guessable"}},
}


@pytest.mark.parametrize("shape", sorted(UNRESTRICTING))
def test_fails_if_a_condition_that_restricts_nothing_hides_a_public_principal(shape: str) -> None:
    statement = _allow(Principal={"AWS": "*"}, Action="sts:AssumeRole", Condition=UNRESTRICTING[shape])
    _assert_blocks(_trust(statement), "G014", "with no condition limiting it")


LAMBDA = {
    "anyone": ("aws_lambda_permission", {"principal": "*", "action": "lambda:InvokeFunctionUrl"}, 'principal "*" may'),
    "service_of_any_account": (
        "aws_lambda_permission",
        {"principal": "s3.amazonaws.com", "action": "lambda:InvokeFunction", "source_arn": ""},
        "s3.amazonaws.com of any account may lambda:InvokeFunction",
    ),
    "public_layer": (
        "aws_lambda_layer_version_permission",
        {"principal": "*"},
        'principal "*" may lambda:GetLayerVersion',
    ),
}


@pytest.mark.parametrize("shape", sorted(LAMBDA))
def test_fails_if_a_lambda_permission_is_public(shape: str) -> None:
    type_, after, message = LAMBDA[shape]
    _assert_blocks({"type": type_, "after": after}, "G014", message)


# --- G015: GitHub OIDC trusts -----------------------------------------------------------------------------

AUD = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
OIDC: dict[str, tuple[dict[str, Any], str]] = {
    "sub_repo_star": (
        {"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}},
        'sub "repo:*"',
    ),
    "sub_whole_org": (
        {"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:qualisys/*"}},
        'sub "repo:qualisys/*"',
    ),
    "sub_repo_name_prefix": (
        {
            "StringEquals": AUD,
            "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:qualisys/app:*", "repo:qualisys/app*"]},
        },
        'sub "repo:qualisys/app*"',
    ),
    "sub_any_owner": (
        {"StringEquals": AUD, "ForAnyValue:StringLike": {"token.actions.githubusercontent.com:sub": "repo:*/app:*"}},
        'sub "repo:*/app:*"',
    ),
    "sub_star": ({"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "*"}}, 'sub "*"'),
    "no_sub": ({"StringEquals": AUD}, "no token.actions.githubusercontent.com:sub condition"),
    "sub_only_negated": (
        {"StringEquals": AUD, "StringNotLike": {"token.actions.githubusercontent.com:sub": "repo:evil/*"}},
        "no token.actions.githubusercontent.com:sub condition",
    ),
    "aud_not_sts": (
        {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "https://github.com/qualisys",
                "token.actions.githubusercontent.com:sub": "repo:qualisys/app:ref:refs/heads/main",
            }
        },
        'audience "https://github.com/qualisys"',
    ),
    "no_aud": (
        {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:qualisys/app:ref:refs/heads/main"}},
        "no token.actions.githubusercontent.com:aud condition",
    ),
}


@pytest.mark.parametrize("shape", sorted(OIDC))
def test_fails_if_a_github_oidc_trust_matches_more_than_one_repository(shape: str) -> None:
    conditions, message = OIDC[shape]
    _assert_blocks(_oidc(conditions), "G015", message)


def test_fails_if_a_github_trust_is_recognised_by_its_claims_alone() -> None:
    statement = _allow(
        Principal={"Federated": "arn:aws:iam::123456789012:oidc-provider/renamed"},
        Action="sts:AssumeRoleWithWebIdentity",
        Condition={"StringLike": {"Token.Actions.GithubUserContent.com:sub": "repo:*", **AUD}},
    )
    _assert_blocks(_trust(statement), "G015", 'sub "repo:*"')


# --- safe policies raise nothing ---------------------------------------------------------------------------

SAFE = {
    "specific_actions_on_specific_arns": _identity(
        _allow(Action=["s3:GetObject", "s3:PutObject"], Resource="arn:aws:s3:::qualisys-data/*"),
        _allow(Action="kms:Decrypt", Resource=f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/abc"),
    ),
    "iam_reads_on_star": _identity(_allow(Action=["iam:Get*", "iam:List*"], Resource="*")),
    "describe_on_star": _identity(_allow(Action=["ec2:Describe*", "cloudwatch:Get*"], Resource="*")),
    "a_whole_service_on_one_bucket": _identity(
        _allow(Action="s3:*", Resource=["arn:aws:s3:::qualisys-data", "arn:aws:s3:::qualisys-data/*"])
    ),
    "reads_of_named_secrets": _identity(
        _allow(Action="secretsmanager:GetSecretValue", Resource=f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:app-*")
    ),
    "decrypt_with_keys_named_by_alias": _identity(
        _allow(
            Action=["kms:Decrypt", "kms:DescribeKey"],
            Resource=f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/*",
            Condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/qualisys-terraform-state"}},
        )
    ),
    "reads_of_tagged_secrets": _identity(
        _allow(
            Action="secretsmanager:GetSecretValue",
            Resource="*",
            Condition={"StringEquals": {"aws:ResourceTag/Team": "payments"}},
        )
    ),
    "one_action_on_every_target_group": _identity(
        _allow(
            Action="elasticloadbalancing:RegisterTargets", Resource="arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"
        )
    ),
    "iam_writes_on_one_role": _identity(
        _allow(Action=["iam:Put*", "iam:PassRole"], Resource=f"arn:aws:iam::{ACCOUNT}:role/app")
    ),
    "pass_role_to_one_role": _identity(_allow(Action="iam:PassRole", Resource=f"arn:aws:iam::{ACCOUNT}:role/app")),
    "deny_everything": _identity({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    "deny_to_anyone": {
        "type": "aws_s3_bucket_policy",
        "after": {
            "policy": _doc(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            )
        },
    },
    "key_policy_for_the_account": {
        "type": "aws_kms_key",
        "after": {
            "policy": _doc(_allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Action="kms:*", Resource="*"))
        },
    },
    "service_principal": _trust(_allow(Principal={"Service": "eks.amazonaws.com"}, Action="sts:AssumeRole")),
    "our_own_github_trust": _oidc(
        {
            "StringEquals": {
                **AUD,
                "token.actions.githubusercontent.com:sub": [
                    "repo:qualisys/qualisys:pull_request",
                    "repo:qualisys/qualisys:ref:refs/heads/main",
                ],
            }
        }
    ),
    "github_trust_of_every_ref_of_one_repository": _oidc(
        {"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:qualisys/qualisys:*"}}
    ),
    "github_trust_with_a_literal_star": _oidc(
        {"StringEquals": {**AUD, "token.actions.githubusercontent.com:sub": "repo:qualisys/qualisys:environment:*"}}
    ),
    "endpoint_policy": {
        "type": "aws_vpc_endpoint",
        "after": {"policy": _doc(_allow(Principal="*", Action="*", Resource="*"))},
    },
    "unknown_policy": {"type": "aws_iam_policy", "after": {}, "after_unknown": {"policy": True}},
    "not_json": {"type": "aws_iam_policy", "after": {"policy": "{not json"}},
    "read_only_attachment": {
        "type": "aws_iam_role_policy_attachment",
        "after": {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    },
    "customer_policy_named_like_an_aws_one": {
        "type": "aws_iam_role_policy_attachment",
        "after": {"policy_arn": f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"},
    },
    "eks_admin_in_one_namespace": {
        "type": "aws_eks_access_policy_association",
        "after": {
            "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
            "access_scope": [{"type": "namespace", "namespaces": ["team"]}],
        },
    },
    "lambda_permission_with_its_source": {
        "type": "aws_lambda_permission",
        "after": {"principal": "s3.amazonaws.com", "source_arn": "arn:aws:s3:::qualisys-uploads"},
    },
    "lambda_permission_with_a_source_known_after_apply": {
        "type": "aws_lambda_permission",
        "after": {"principal": "events.amazonaws.com"},
        "after_unknown": {"source_arn": True},
    },
    "destroying_an_admin_policy": {
        "type": "aws_iam_policy",
        "actions": ["delete"],
        "before": {"policy": _doc(ADMIN)},
        "after": None,
    },
}
RESTRICTING = {
    "source_arn": {"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:eu-central-1:123456789012:trail/qualisys"}},
    "source_arn_like_in_one_account": {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:*"}},
    "source_account": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
    "organization": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
    "endpoint": {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}},
    "office_network": {"IpAddress": {"aws:SourceIp": "8.8.8.0/24"}},
    "for_any_value": {"ForAnyValue:StringEquals": {"aws:PrincipalAccount": [ACCOUNT]}},
    "kms_caller_account": {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.eu-central-1.amazonaws.com"}
    },
}


@pytest.mark.parametrize("shape", sorted(SAFE))
def test_lets_a_safe_policy_through(shape: str) -> None:
    assert _findings(SAFE[shape]) == []


@pytest.mark.parametrize("shape", sorted(RESTRICTING))
def test_lets_a_public_principal_limited_by_a_condition_through(shape: str) -> None:
    statement = _allow(Principal="*", Action="sqs:SendMessage", Resource="*", Condition=RESTRICTING[shape])
    assert _findings({"type": "aws_sqs_queue_policy", "after": {"policy": _doc(statement)}}) == []


# --- waivers: tests/plan/test_waivers.py ---------------------------------------------------------------------


def test_fails_if_a_waiver_lets_another_policy_through_at_its_address() -> None:
    address = "aws_iam_role_policy_attachment.github_apply-staging_managed-PowerUserAccess"
    change: dict[str, Any] = {"type": "aws_iam_role_policy_attachment", "address": address}
    change["after"] = {
        "role": "qualisys-github-apply-staging",
        "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess",
    }
    _assert_blocks(change, "G013", "attaches the AWS-managed AdministratorAccess")


# --- the review shows each finding, in every format --------------------------------------------------------------


def test_every_review_format_names_the_address_and_the_reason() -> None:
    plan = _plan(_oidc({"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}))
    review = StackReview("account", plan, check(plan, stack="account"))
    (finding,) = blocking(review.findings)
    assert finding.address == "aws_iam_role.r0"
    reason = "trusts GitHub Actions OIDC for more than one repository"
    markdown = "".join(render_markdown([review]))
    assert "`aws_iam_role.r0`" in markdown and reason in markdown
    text = render_text([review])
    assert f"BLOCK [G015 critical] account: aws_iam_role.r0: assume_role_policy: a statement {reason}" in text
    (shown,) = json.loads(render_json([review]))["stacks"][0]["findings"]
    assert shown["address"] == "aws_iam_role.r0" and reason in shown["message"] and shown["blocking"] is True
