"""The account stack (stories 0.1, 0.6, 0.7, 0.22; threat model rows 1, 4, 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modules.github_delivery import pipeline_environments
from qualisys_infra.core.naming import (
    apply_boundary_name,
    apply_role_name,
    plan_role_name,
    release_role_name,
)
from tests.conftest import Synthesized
from tests.synth.helpers import one, points_to, ref, statements

STACK = "account"


def _pipeline(s: Synthesized) -> tuple[str, ...]:
    """The environments CI applies, as the session's settings deliver them."""
    settings = s.settings
    return pipeline_environments(settings.deliveries)


def _doc(s: Synthesized, value: str) -> dict[str, dict[str, Any]]:
    return statements(s.data(STACK, "aws_iam_policy_document")[ref(value)[1]])


def _role(s: Synthesized, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r) for k, r in s.resources(STACK, "aws_iam_role").items() if r["name"] == name]
    return found


def _inline(s: Synthesized, role_key: str) -> dict[str, dict[str, Any]]:
    (policy,) = [
        p for p in s.resources(STACK, "aws_iam_role_policy").values() if points_to(p["role"], "aws_iam_role", role_key)
    ]
    return _doc(s, policy["policy"])


def test_account_stack_keeps_state_in_the_bucket(synthesized: Synthesized) -> None:
    backend = synthesized.stacks[STACK]["terraform"]["backend"]["s3"]
    assert backend["key"] == "account/account.tfstate" and backend["use_lockfile"] is True


def test_password_policy_and_no_users_or_access_keys(synthesized: Synthesized) -> None:
    policy = one(synthesized.resources(STACK, "aws_iam_account_password_policy"))
    assert policy["minimum_password_length"] >= 14
    assert all(
        policy[k]
        for k in ("require_lowercase_characters", "require_uppercase_characters", "require_numbers", "require_symbols")
    )
    assert policy["password_reuse_prevention"] >= 24 and policy["max_password_age"] <= 90
    for stack in synthesized.stacks:
        assert not synthesized.resources(stack, "aws_iam_user") and not synthesized.resources(
            stack, "aws_iam_access_key"
        )


def test_every_group_denies_everything_but_mfa_self_service_without_mfa(synthesized: Synthesized) -> None:
    groups = synthesized.resources(STACK, "aws_iam_group")
    assert sorted(g["name"] for g in groups.values()) == [
        "qualisys-administrators",
        "qualisys-developers",
        "qualisys-readonly",
    ]
    policies = synthesized.resources(STACK, "aws_iam_group_policy")
    assert len(policies) == 3
    for policy in policies.values():
        by_sid = _doc(synthesized, policy["policy"])
        deny = by_sid["DenyEverythingElseWithoutMfa"]
        assert deny["effect"] == "Deny" and deny["resources"] == ["*"]
        assert "actions" not in deny and "iam:EnableMFADevice" in deny["not_actions"]
        assert deny["condition"] == [
            {"test": "BoolIfExists", "variable": "aws:MultiFactorAuthPresent", "values": ["false"]}
        ]
        assume = by_sid["AssumeOwnRoleWithMfa"]
        assert assume["actions"] == ["sts:AssumeRole"] and len(assume["resources"]) == 1
        own = by_sid["ManageOwnMfaAndPassword"]
        assert all("$${aws:username}" in r for r in own["resources"]), (
            "escaped for Terraform: a literal ${aws:username}"
        )


def test_people_roles_are_assumable_only_with_mfa(synthesized: Synthesized) -> None:
    for name in ("qualisys-platform-admin", "qualisys-developer", "qualisys-readonly"):
        _, role = _role(synthesized, name)
        trust = _doc(synthesized, role["assume_role_policy"])["AccountPrincipalsWithMfa"]
        conditions = {c["variable"]: c for c in trust["condition"]}
        assert conditions["aws:MultiFactorAuthPresent"]["values"] == ["true"]
        assert conditions["aws:MultiFactorAuthAge"]["test"] == "NumericLessThan"
        assert role["max_session_duration"] == 3600


def test_github_oidc_trust_is_one_repository_exact_subjects(synthesized: Synthesized) -> None:
    provider = one(synthesized.resources(STACK, "aws_iam_openid_connect_provider"))
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    expected = {
        # the main branch only: the environments' subjects belong to the apply and release roles
        "qualisys-github-deploy-staging": ["repo:qualisys/qualisys:ref:refs/heads/main"],
    }
    for name, subjects in expected.items():
        _, role = _role(synthesized, name)
        trust = _doc(synthesized, role["assume_role_policy"])["GithubActionsOfOneRepository"]
        conditions = {c["variable"]: c for c in trust["condition"]}
        assert conditions["token.actions.githubusercontent.com:aud"] == {
            "test": "StringEquals",
            "variable": "token.actions.githubusercontent.com:aud",
            "values": ["sts.amazonaws.com"],
        }
        sub = conditions["token.actions.githubusercontent.com:sub"]
        assert sub["test"] == "StringEquals" and sub["values"] == subjects
        assert not any("*" in v for v in sub["values"])


def test_ci_role_pushes_project_images_only_and_reads_no_secrets(synthesized: Synthesized) -> None:
    key, _ = _role(synthesized, "qualisys-github-deploy-staging")
    by_sid = _inline(synthesized, key)
    assert sorted(by_sid) == ["EcrLogin", "NeverReadSecrets", "PushProjectImages"]  # no cluster: releases have roles
    assert by_sid["PushProjectImages"]["resources"][0].endswith(":repository/qualisys-*")
    assert by_sid["EcrLogin"]["actions"] == ["ecr:GetAuthorizationToken"]
    deny = by_sid["NeverReadSecrets"]
    assert deny["effect"] == "Deny" and "secretsmanager:GetSecretValue" in deny["actions"]
    for statement in by_sid.values():
        if statement["effect"] == "Allow":
            assert not any(a.endswith("*") for a in statement["actions"]), statement["sid"]
    assert not [r for r in synthesized.resources(STACK, "aws_iam_role").values() if "deploy-production" in r["name"]]


def test_cloudtrail_is_multi_region_validated_encrypted_and_kept_90_days(synthesized: Synthesized) -> None:
    trail = one(synthesized.resources(STACK, "aws_cloudtrail"))
    assert trail["is_multi_region_trail"] is True and trail["include_global_service_events"] is True
    assert trail["enable_log_file_validation"] is True
    assert ref(trail["kms_key_id"])[0] == "aws_kms_key"
    assert "event_selector" not in trail, "what is recorded: tests/synth/test_audit_trail.py"
    assert trail["cloud_watch_logs_group_arn"].endswith(".arn}:*")
    groups = {g["name"]: g for g in synthesized.resources(STACK, "aws_cloudwatch_log_group").values()}
    assert groups["/aws/cloudtrail/qualisys"]["retention_in_days"] == 90
    buckets = {b["bucket"]: n for n, b in synthesized.resources(STACK, "aws_s3_bucket").items()}
    trail_bucket = buckets["qualisys-cloudtrail-logs"]
    assert trail["s3_bucket_name"] == f"${{aws_s3_bucket.{trail_bucket}.bucket}}"
    (lifecycle,) = [
        rule
        for rule in synthesized.resources(STACK, "aws_s3_bucket_lifecycle_configuration").values()
        if points_to(rule["bucket"], "aws_s3_bucket", trail_bucket)
    ]
    assert {r["id"]: r for r in lifecycle["rule"]}["expire-objects"]["expiration"] == [{"days": 90}]
    (policy,) = [
        p
        for p in synthesized.resources(STACK, "aws_s3_bucket_policy").values()
        if points_to(p["bucket"], "aws_s3_bucket", trail_bucket)
    ]
    by_sid = _doc(synthesized, policy["policy"])
    assert "DenyInsecureTransport" in by_sid and "CloudTrailWritesThisTrailOnly" in by_sid
    (block,) = [
        b
        for b in synthesized.resources(STACK, "aws_s3_bucket_public_access_block").values()
        if points_to(b["bucket"], "aws_s3_bucket", trail_bucket)
    ]
    assert block["block_public_policy"] is True and block["restrict_public_buckets"] is True


def test_budgets_alert_at_each_threshold_and_anomalies_at_150_percent(synthesized: Synthesized) -> None:
    budgets = {b["limit_amount"]: b for b in synthesized.resources(STACK, "aws_budgets_budget").values()}
    assert sorted(budgets, key=int) == ["500", "1000", "2000"]
    for budget in budgets.values():
        assert budget["time_unit"] == "MONTHLY" and budget["limit_unit"] == "USD"
        kinds = sorted(n["notification_type"] for n in budget["notification"])
        assert kinds == ["ACTUAL", "FORECASTED"]
        for notification in budget["notification"]:
            assert notification["subscriber_email_addresses"] == ["platform-alerts@qualisys.example"]
            assert ref(notification["subscriber_sns_topic_arns"][0])[0] == "aws_sns_topic"
    subscription = one(synthesized.resources(STACK, "aws_ce_anomaly_subscription"))
    dimension = subscription["threshold_expression"]["dimension"]
    assert dimension == {
        "key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE",
        "match_options": ["GREATER_THAN_OR_EQUAL"],
        "values": ["50"],
    }
    topic = one(synthesized.resources(STACK, "aws_sns_topic"))
    assert ref(topic["kms_master_key_id"])[0] == "aws_kms_key"
    emails = [s["endpoint"] for s in synthesized.resources(STACK, "aws_sns_topic_subscription").values()]
    assert emails == ["platform-alerts@qualisys.example"]


def test_ecr_repositories_are_immutable_scanned_encrypted_and_keep_ten(synthesized: Synthesized) -> None:
    repositories = synthesized.resources(STACK, "aws_ecr_repository")
    assert sorted(r["name"] for r in repositories.values()) == [
        "qualisys-actions-runner",  # the cluster runners' image (dev/runner.Dockerfile), added by the stack
        "qualisys-api",
        "qualisys-hello",  # a service of the apps stacks (naming.SERVICES), added by the stack
        "qualisys-playwright-runner",
        "qualisys-web",
    ]
    for repository in repositories.values():
        assert repository["image_tag_mutability"] == "IMMUTABLE"
        assert repository["image_scanning_configuration"] == {"scan_on_push": True}
        assert repository["encryption_configuration"][0]["encryption_type"] == "KMS"
        assert repository["force_delete"] is False
    for lifecycle in synthesized.resources(STACK, "aws_ecr_lifecycle_policy").values():
        (rule,) = json.loads(lifecycle["policy"])["rules"]
        assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}
    ci_key, _ = _role(synthesized, "qualisys-github-deploy-staging")
    tagger_key, _ = _role(synthesized, "qualisys-github-release-staging")
    ci, tagger = f"${{aws_iam_role.{ci_key}.arn}}", f"${{aws_iam_role.{tagger_key}.arn}}"
    for policy in synthesized.resources(STACK, "aws_ecr_repository_policy").values():
        by_sid = _doc(synthesized, policy["policy"])
        deny = by_sid["OnlyTheCiRolePushes"]
        assert deny["effect"] == "Deny"
        assert sorted(deny["actions"]) == sorted(
            ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage"]
        )
        assert deny["condition"] == [{"test": "ArnNotEquals", "variable": "aws:PrincipalArn", "values": [ci]}]
        # The staging release role adds the tag that records a healthy release; nothing else may.
        tag = by_sid["OnlyTheCiRoleAndTheTaggersPutImages"]
        assert tag["effect"] == "Deny" and tag["actions"] == ["ecr:PutImage"]
        assert tag["condition"] == [{"test": "ArnNotEquals", "variable": "aws:PrincipalArn", "values": [ci, tagger]}]


def test_third_party_secrets_exist_without_values_and_only_named_roles_read(synthesized: Synthesized) -> None:
    secrets = synthesized.resources(STACK, "aws_secretsmanager_secret")
    assert sorted(s["name"].rsplit("/", 1)[1] for s in secrets.values()) == sorted(
        [
            "openai-api-key",
            "anthropic-api-key",
            "google-oauth-client",
            "sendgrid-api-key",
            "github-app-private-key",
            # story 0.22 (epic 5), whatever account.tfvars lists
            "jira-api-token",
            "slack-bot-token",
        ]
    )
    for secret in secrets.values():
        assert ref(secret["kms_key_id"])[0] == "aws_kms_key"
        assert secret["recovery_window_in_days"] == 30
    assert not synthesized.resources(STACK, "aws_secretsmanager_secret_version"), "values are put by an operator"
    for policy in synthesized.resources(STACK, "aws_secretsmanager_secret_policy").values():
        assert policy["block_public_policy"] is True
        deny = _doc(synthesized, policy["policy"])["OnlyNamedRolesRead"]
        assert deny["effect"] == "Deny" and deny["actions"] == ["secretsmanager:GetSecretValue"]
        (condition,) = deny["condition"]
        assert condition["test"] == "ArnNotLike"
        assert [v.rsplit("/", 1)[1] for v in condition["values"]] == ["qualisys-staging-api", "qualisys-production-api"]


# The infrastructure pipeline's roles (issue "Delivery pipeline for the infrastructure", item 2).
PIPELINE_SUBJECTS = {
    "qualisys-github-plan": ["repo:qualisys/qualisys:pull_request", "repo:qualisys/qualisys:ref:refs/heads/main"],
    "qualisys-github-apply-staging": ["repo:qualisys/qualisys:environment:staging"],
    "qualisys-github-apply-production": ["repo:qualisys/qualisys:environment:production"],
    "qualisys-github-release-staging": ["repo:qualisys/qualisys:environment:staging"],
    "qualisys-github-release-production": ["repo:qualisys/qualisys:environment:production"],
}
# The one workflow file whose jobs may assume a role an environment guards (the token's job_workflow_ref).
PIPELINE_WORKFLOWS = {
    "qualisys-github-apply-staging": "qualisys/qualisys/.github/workflows/deploy.yml@refs/heads/main",
    "qualisys-github-apply-production": "qualisys/qualisys/.github/workflows/deploy.yml@refs/heads/main",
    "qualisys-github-release-staging": "qualisys/qualisys/.github/workflows/service-release.yml@refs/heads/main",
    "qualisys-github-release-production": "qualisys/qualisys/.github/workflows/service-release.yml@refs/heads/main",
}
IAM_ARN = (
    "arn:${data.aws_partition.account_partition.partition}:iam::${data.aws_caller_identity.account_caller.account_id}:"
)
STATE_BUCKET = "arn:${data.aws_partition.account_partition.partition}:s3:::qualisys-terraform-state"


def _managed(s: Synthesized, role_key: str) -> list[str]:
    return sorted(
        a["policy_arn"].rsplit("/", 1)[-1]
        for a in s.resources(STACK, "aws_iam_role_policy_attachment").values()
        if points_to(a["role"], "aws_iam_role", role_key)
    )


def _boundary(s: Synthesized, role: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    policy = s.resources(STACK, "aws_iam_policy")[ref(role["permissions_boundary"])[1]]
    return policy, _doc(s, policy["policy"])


def test_pipeline_roles_trust_exact_subjects_of_this_repository_only(synthesized: Synthesized) -> None:
    for name, subjects in PIPELINE_SUBJECTS.items():
        _, role = _role(synthesized, name)
        (trust,) = _doc(synthesized, role["assume_role_policy"]).values()
        assert trust["effect"] == "Allow" and trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
        assert trust["principals"] == [
            {"type": "Federated", "identifiers": ["${aws_iam_openid_connect_provider.github_provider.arn}"]}
        ]
        conditions = {c["variable"]: c for c in trust["condition"]}
        workflow = PIPELINE_WORKFLOWS.get(name)
        assert set(conditions) == {
            "token.actions.githubusercontent.com:aud",
            "token.actions.githubusercontent.com:sub",
            *(["token.actions.githubusercontent.com:job_workflow_ref"] if workflow else []),
        }, name
        assert conditions["token.actions.githubusercontent.com:aud"]["test"] == "StringEquals"
        assert conditions["token.actions.githubusercontent.com:aud"]["values"] == ["sts.amazonaws.com"]
        sub = conditions["token.actions.githubusercontent.com:sub"]
        assert (sub["test"], sub["values"]) == ("StringEquals", subjects), name
        if workflow:
            ref_ = conditions["token.actions.githubusercontent.com:job_workflow_ref"]
            assert (ref_["test"], ref_["values"]) == ("StringEquals", [workflow]), name


def test_plan_role_reads_the_account_and_the_state_and_writes_nothing(synthesized: Synthesized) -> None:
    key, role = _role(synthesized, "qualisys-github-plan")
    assert _managed(synthesized, key) == ["ReadOnlyAccess"]
    assert "permissions_boundary" not in role
    by_sid = _inline(synthesized, key)
    assert all(s["effect"] == "Allow" for s in by_sid.values())
    assert {sid: s["actions"] for sid, s in by_sid.items()} == {
        "ListTheState": ["s3:ListBucket"],
        "ReadTheState": ["s3:GetObject"],
        "ReadTheLockTable": ["dynamodb:DescribeTable", "dynamodb:GetItem"],
        "DecryptTheState": ["kms:Decrypt", "kms:DescribeKey"],
    }
    assert by_sid["ReadTheState"]["resources"] == [f"{STATE_BUCKET}/*"]
    assert by_sid["ReadTheLockTable"]["resources"][0].endswith(":table/terraform-state-lock")
    (alias,) = by_sid["DecryptTheState"]["condition"]
    assert alias["variable"] == "kms:ResourceAliases" and alias["values"] == ["alias/qualisys-terraform-state"]


# Verbs that write: a lock file or lock item, a state object, or data encrypted with the state key.
WRITE_VERBS = ("Put", "Delete", "Update", "BatchWrite", "Restore", "Copy", "Encrypt", "GenerateDataKey", "ReEncrypt")
SERVICES = ("s3", "dynamodb", "kms")  # the state backend's; ReadOnlyAccess covers the rest


def test_fails_if_the_plan_role_may_write_or_break_a_state_lock(synthesized: Synthesized) -> None:
    """Every pull request of the repository can assume the plan role, so it takes no lock (plans run
    with --no-state-lock) and may write nothing of the state backend: no lock file, no lock item,
    no state object, no wildcard that would include one."""
    key, _ = _role(synthesized, "qualisys-github-plan")
    granted = [action for s in _inline(synthesized, key).values() for action in s["actions"]]
    assert granted, "the plan role reads the state"
    writes = [
        action
        for action in granted
        if "*" in action or action.split(":", 1)[1].startswith(WRITE_VERBS) or action.split(":")[0] not in SERVICES
    ]
    assert writes == []


def test_apply_roles_keep_the_lock_writes(synthesized: Synthesized) -> None:
    for env in ("staging", "production"):
        key, _ = _role(synthesized, f"qualisys-github-apply-{env}")
        by_sid = _inline(synthesized, key)
        assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= set(by_sid["HoldTheLockTable"]["actions"])
        own = by_sid["ReadAndWriteOwnState"]  # <env>/<stack>.tfstate.tflock is under <env>/*
        assert {"s3:PutObject", "s3:DeleteObject"} <= set(own["actions"]) and own["resources"] == [
            f"{STATE_BUCKET}/{env}/*"
        ]
        assert {"kms:Encrypt", "kms:GenerateDataKey"} <= set(by_sid["UseTheStateKey"]["actions"])


def test_apply_roles_manage_their_environment_inside_their_boundary(synthesized: Synthesized) -> None:
    for env, other in (("staging", "production"), ("production", "staging")):
        key, role = _role(synthesized, f"qualisys-github-apply-{env}")
        assert _managed(synthesized, key) == ["PowerUserAccess"]
        policy, _ = _boundary(synthesized, role)
        assert policy["name"] == f"qualisys-github-apply-{env}-boundary"
        by_sid = _inline(synthesized, key)
        iam_targets = by_sid["ManageEnvironmentIam"]["resources"]
        assert [r.rsplit(":", 1)[-1] for r in iam_targets] == [
            f"role/qualisys-{env}-*",
            f"policy/qualisys-{env}-*",
            f"instance-profile/qualisys-{env}-*",
        ]
        assert by_sid["ReadAndWriteOwnState"]["resources"] == [f"{STATE_BUCKET}/{env}/*"]
        for sid in ("CreateEnvironmentOidcProviders", "ManageEnvironmentOidcProviders"):
            (tag,) = by_sid[sid]["condition"]
            assert tag["variable"].endswith("Tag/Environment") and tag["values"] == [env], sid
        for statement in by_sid.values():
            assert not any(other in r for r in statement.get("resources", [])), (env, statement["sid"])
            if statement["resources"] == ["*"]:
                assert all(a.startswith(("iam:Get", "iam:List")) for a in statement["actions"]), statement["sid"]


def test_boundary_denies_every_way_to_widen_the_apply_roles_rights(synthesized: Synthesized) -> None:
    for env, other in (("staging", "production"), ("production", "staging")):
        _, role = _role(synthesized, f"qualisys-github-apply-{env}")
        policy, by_sid = _boundary(synthesized, role)
        boundary_arn = f"{IAM_ARN}policy/{policy['name']}"
        allow = by_sid["AtMostTheStacksServices"]
        assert allow["effect"] == "Allow" and "*" not in allow["actions"]
        assert "iam:*" not in allow["actions"], "IAM by verb: account-wide IAM settings stay out"
        assert all(a.endswith(":*") or a.startswith("iam:") for a in allow["actions"])
        assert {s["effect"] for sid, s in by_sid.items() if sid != "AtMostTheStacksServices"} == {"Deny"}

        # New roles, and policy changes on roles, only with this very boundary.
        unbounded = by_sid["DenyRolesWithoutThisBoundary"]
        assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"} <= set(
            unbounded["actions"]
        )
        assert unbounded["resources"] == ["*"]
        assert unbounded["condition"] == [
            {"test": "StringNotEquals", "variable": "iam:PermissionsBoundary", "values": [boundary_arn]}
        ]
        assert "iam:DeleteRolePermissionsBoundary" in by_sid["DenyRemovingBoundaries"]["actions"]

        # The boundary policies themselves, and every deploy role, stay as the account stack made them.
        changing = by_sid["DenyChangingBoundaries"]
        assert {"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"} <= set(
            changing["actions"]
        )
        assert changing["resources"] == [boundary_arn.replace(policy["name"], "qualisys-github-*")]
        roles = by_sid["DenyChangingDeployRoles"]
        assert {"iam:Update*", "iam:Put*", "iam:Attach*", "iam:Delete*", "iam:Tag*", "iam:PassRole"} <= set(
            roles["actions"]
        )
        protected = sorted(r.rsplit("/", 1)[-1] for r in roles["resources"])
        assert protected == sorted([*PIPELINE_SUBJECTS, "qualisys-github-deploy-staging"])

        # Other environments' state, and the account's, are out of reach.
        others = by_sid["DenyOtherStateKeys"]
        assert others["actions"] == ["s3:*"]
        assert sorted(others["resources"]) == sorted(
            f"{STATE_BUCKET}/{prefix}/*" for prefix in ("dev", other, "account", "bootstrap")
        )
        assert f"{STATE_BUCKET}/{env}/*" not in others["resources"]


def test_pipeline_outputs_name_the_roles_and_the_region(synthesized: Synthesized) -> None:
    outputs = synthesized.stacks[STACK]["output"]
    roles = synthesized.resources(STACK, "aws_iam_role")
    for output, name in (
        ("plan_role_arn", "qualisys-github-plan"),
        ("apply_role_arn_staging", "qualisys-github-apply-staging"),
        ("apply_role_arn_production", "qualisys-github-apply-production"),
        ("release_role_arn_staging", "qualisys-github-release-staging"),
        ("release_role_arn_production", "qualisys-github-release-production"),
    ):
        type_, key, attribute = ref(outputs[output]["value"])
        assert (type_, attribute) == ("aws_iam_role", "arn") and roles[key]["name"] == name
    assert ref(outputs["region"]["value"])[0] == "data.aws_region"


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_every_role_of_an_applied_environment_is_one_its_apply_role_may_create(
    synthesized: Synthesized, env: str
) -> None:
    """The apply role may only create roles named ``<project>-<env>-*`` that carry its own boundary
    (DenyRolesWithoutThisBoundary): every role of the environment's stacks must be such a role, or
    the pipeline could not apply them. Dev has no apply role, and its roles no boundary."""
    project = synthesized.settings.account.project
    boundaries = {policy["name"] for policy in synthesized.resources("account", "aws_iam_policy").values()}
    roles = {
        f"{stack}/{address}": role
        for stack in synthesized.stacks
        if stack.startswith(f"{env}-")
        for address, role in synthesized.resources(stack, "aws_iam_role").items()
    }
    assert len(roles) >= 8, sorted(roles)  # cluster, nodes, add-on and IRSA roles, RDS monitoring, flow logs
    for where, role in roles.items():
        assert role["name"].startswith(f"{project}-{env}-"), where
        boundary = role.get("permissions_boundary")
        if env in _pipeline(synthesized):
            # The account id and partition come from the stack's data sources (IRSA roles in the
            # platform stack read the cluster stack's, through its outputs).
            assert isinstance(boundary, str), where
            assert boundary.startswith("arn:${") and ":iam::${" in boundary, (where, boundary)
            assert boundary.endswith(f"}}:policy/{apply_boundary_name(project, env)}"), (where, boundary)
            assert apply_boundary_name(project, env) in boundaries
        else:
            assert boundary is None, where


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_pipeline_roles_reach_the_cluster_they_plan_and_apply(synthesized: Synthesized, env: str) -> None:
    """The plan role reads every cluster without Secrets; an apply role administers its own
    environment's cluster only (the platform and apps stacks apply Kubernetes objects)."""
    project = synthesized.settings.account.project
    stack = f"{env}-cluster"
    entries = {
        e["principal_arn"].rsplit("/", 1)[-1] for e in synthesized.resources(stack, "aws_eks_access_entry").values()
    }
    policies = {
        p["principal_arn"].rsplit("/", 1)[-1]: (p["policy_arn"].rsplit("/", 1)[-1], p["access_scope"]["type"])
        for p in synthesized.resources(stack, "aws_eks_access_policy_association").values()
    }
    assert plan_role_name(project) in entries  # no policy: its RBAC group (test_plan_reader)
    assert plan_role_name(project) not in policies
    for other in _pipeline(synthesized):
        if other == env:
            assert policies[apply_role_name(project, other)] == ("AmazonEKSClusterAdminPolicy", "cluster")
            # no policy either: the ci-deployer Role in its namespace (test_identities)
            assert release_role_name(project, other) in entries
        else:
            assert apply_role_name(project, other) not in entries
            assert release_role_name(project, other) not in entries
    no_policy = {plan_role_name(project), *(release_role_name(project, e) for e in _pipeline(synthesized))}
    assert set(policies) == entries - no_policy
