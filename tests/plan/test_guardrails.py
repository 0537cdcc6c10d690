"""Guardrails block exactly the dangerous changes: on fixtures, on real plans, on crafted cases."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.plan.guardrails import PROTECTED_TYPES, blocking, check
from qualisys_infra.plan.model import load_plan, parse_plan
from tests.plan.conftest import FIXTURES, RealPlans

# (rule, address) of every blocking finding per fixture, checked by hand; fixtures not listed have none.
EXPECTED_BLOCKING: dict[str, set[tuple[str, str]]] = {
    "bridgecrewio_checkov__tests__common__runner_registry__plan_with_for_each_for_enrichment__tf_plan.json": {
        ("G003", 'module.sg["awful_example"].aws_security_group.bad'),
        ("G003", 'module.sg["bad_example"].aws_security_group.bad'),
        ("G003", 'module.sg["terrible_example"].aws_security_group.bad'),
    },
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan__tfplan.json": {
        ("G005", "aws_db_instance.default"),
        ("G007", "aws_db_instance.default"),
        ("G007", "aws_eks_cluster.eks_cluster"),
        ("G005", "aws_kms_key.logs_key"),
        ("G005", "aws_neptune_cluster.default"),
        ("G007", "aws_s3_bucket.data"),
        ("G003", "aws_security_group.web-node"),
    },
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan_with_deleted_resources__tfplan.json": {
        ("G001", "aws_secretsmanager_secret.default"),
    },
    "fugue_regula__rego__tests__rules__tf__aws__iam__inputs__admin_policy_infra.json": {
        ("G004", "aws_iam_group_policy.invalid_group_policy"),
        ("G004", "aws_iam_policy.invalid_policy"),
        ("G004", "aws_iam_role_policy.invalid_role_policy"),
        ("G004", "aws_iam_user_policy.invalid_user_policy"),
    },
    "fugue_regula__rego__tests__rules__tf__aws__security_group__inputs__ingress_anywhere_infra.json": {
        ("G003", "aws_security_group.invalid_allow_all"),
        ("G003", "aws_security_group.invalid_include_443"),
        ("G003", "aws_security_group.invalid_include_80"),
    },
    "infracost_infracost__cmd__infracost__testdata__terraform_v0.14_plan.json": {
        ("G005", "module.db.module.db_1.module.db_instance.aws_db_instance.this[0]"),
        ("G005", "module.db.module.db_2.module.db_instance.aws_db_instance.this[0]"),
    },
    "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json": {("G001", "aws_s3_bucket.terra_ci")},
}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_fixture_findings(name: str) -> None:
    findings = blocking(check(load_plan(FIXTURES / name)))
    assert {(f.rule, f.address) for f in findings} == EXPECTED_BLOCKING.get(name, set())


def test_allowing_a_destroy_turns_the_block_into_a_warning() -> None:
    plan = load_plan(FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json")
    findings = check(plan, allow_destroy=["aws_s3_bucket.terra_ci"])
    assert blocking(findings) == []
    assert [(f.rule, f.blocking) for f in findings] == [("G001", False)]


def test_real_plan_protected_types_are_caught_in_both_replace_orders(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.second, "second")
    findings = check(plan, protected_types=frozenset({"terraform_data"}))
    blocked = {f.address: f.message for f in blocking(findings)}
    assert set(blocked) == {"terraform_data.deleted", "terraform_data.replaced", "terraform_data.replaced_cbd"}
    assert "forced by triggers_replace" in blocked["terraform_data.replaced"]
    assert "replace-create-first" in blocked["terraform_data.replaced_cbd"]
    warnings = {f.address: f.rule for f in findings if not f.blocking}
    assert warnings == {"terraform_data.forgotten": "G002"}
    assert check(plan) == [], "terraform_data is not a protected type by default"


def _plan(*changes: dict[str, Any], **top: Any) -> Any:
    entries = []
    for i, c in enumerate(changes):
        entries.append(
            {
                "address": c.get("address", f"{c['type']}.r{i}"),
                "mode": "managed",
                "type": c["type"],
                "name": f"r{i}",
                "change": {
                    "actions": c.get("actions", ["create"]),
                    "before": c.get("before"),
                    "after": c.get("after", {}),
                    "after_unknown": c.get("after_unknown", {}),
                },
                **({"deposed": c["deposed"]} if "deposed" in c else {}),
            }
        )
    return parse_plan({"format_version": "1.2", "resource_changes": entries, **top}, "crafted")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (
            {
                "type": "aws_vpc_security_group_ingress_rule",
                "after": {"cidr_ipv4": "0.0.0.0/0", "ip_protocol": "tcp", "from_port": 22, "to_port": 22},
            },
            "G003",
        ),
        ({"type": "aws_vpc_security_group_ingress_rule", "after": {"cidr_ipv6": "::/0", "ip_protocol": "-1"}}, "G003"),
        (
            {
                "type": "aws_security_group_rule",
                "after": {
                    "type": "ingress",
                    "cidr_blocks": ["0.0.0.0/0"],
                    "protocol": "tcp",
                    "from_port": 0,
                    "to_port": 65535,
                },
            },
            "G003",
        ),
        (
            {
                "type": "aws_iam_role_policy",
                "after": {"policy": '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'},
            },
            "G004",
        ),
        (
            {
                "type": "aws_iam_policy",
                "after": {"policy": '{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}'},
            },
            "G004",
        ),
        (
            {
                "type": "aws_db_instance",
                "actions": ["update"],
                "before": {"storage_encrypted": True},
                "after": {"storage_encrypted": False},
            },
            "G005",
        ),
        ({"type": "aws_dynamodb_table", "after": {"server_side_encryption": [{"enabled": False}]}}, "G005"),
        (
            {
                "type": "aws_db_instance",
                "actions": ["update"],
                "before": {"deletion_protection": True},
                "after": {"deletion_protection": False},
            },
            "G006",
        ),
        (
            {
                "type": "aws_s3_bucket_public_access_block",
                "after": {"block_public_acls": False, "block_public_policy": True},
            },
            "G007",
        ),
        ({"type": "aws_db_instance", "after": {"publicly_accessible": True}}, "G007"),
        ({"type": "aws_kms_key", "actions": ["delete"], "before": {"arn": "k"}, "after": None}, "G001"),
        ({"type": "aws_db_instance", "actions": ["delete"], "deposed": "0001", "before": {}, "after": None}, "G001"),
        ({"type": "aws_eks_cluster", "actions": ["teleport"]}, "G009"),
    ],
)
def test_blocks_the_dangerous_change(change: dict[str, Any], rule: str) -> None:
    findings = blocking(check(_plan(change)))
    assert [f.rule for f in findings][:1] == [rule], findings


@pytest.mark.parametrize(
    "change",
    [
        {
            "type": "aws_vpc_security_group_ingress_rule",
            "after": {"cidr_ipv4": "0.0.0.0/0", "ip_protocol": "tcp", "from_port": 443, "to_port": 443},
        },
        {"type": "aws_vpc_security_group_ingress_rule", "after": {"cidr_ipv4": "10.0.0.0/16", "ip_protocol": "-1"}},
        {
            "type": "aws_vpc_security_group_ingress_rule",
            "after": {"ip_protocol": "tcp", "from_port": 22, "to_port": 22},
            "after_unknown": {"cidr_ipv4": True},
        },
        {
            "type": "aws_iam_role_policy",
            "after": {"policy": '{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}'},
        },
        {"type": "aws_db_instance", "after": {"deletion_protection": False, "storage_encrypted": True}},
        {
            "type": "aws_db_instance",
            "actions": ["update"],
            "before": {"allocated_storage": 20},
            "after": {"allocated_storage": 30},
        },
        {"type": "aws_s3_bucket", "actions": ["create"], "after": {"bucket": "b"}},
    ],
)
def test_lets_the_safe_change_through(change: dict[str, Any]) -> None:
    assert blocking(check(_plan(change))) == []


def test_errored_plan_blocks() -> None:
    assert [f.rule for f in blocking(check(_plan(errored=True)))] == ["G008"]


def test_protected_types_cover_the_platforms_stateful_resources() -> None:
    for type_ in (
        "aws_s3_bucket",
        "aws_dynamodb_table",
        "aws_kms_key",
        "aws_db_instance",
        "aws_elasticache_replication_group",
        "aws_eks_cluster",
        "aws_ecr_repository",
    ):
        assert type_ in PROTECTED_TYPES
