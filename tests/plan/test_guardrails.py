"""Guardrails block exactly the dangerous changes: on fixtures, on real plans, on crafted cases."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.plan.guardrails import PROTECTED_TYPES, blocking, check
from qualisys_infra.plan.json_safety import PlanError
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
        ("G014", "aws_elasticsearch_domain_policy.monitoring-framework-policy"),  # Principal {"AWS": "*"}, no condition
        ("G012", "aws_iam_user_policy.userpolicy"),  # lambda:* on "*": lambda:UpdateFunctionCode on every function
        ("G004", "aws_iam_user_policy.userpolicy"),  # ec2:*, s3:*, cloudwatch:* on "*": whole services
        ("G004", "aws_iam_role_policy.ec2policy"),  # s3:*, ec2:*, rds:* on "*"
    },
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan_with_iam_policies__tfplan.json": {
        ("G012", "aws_iam_group_policy.fail_2"),  # iam:* on "*"
        ("G018", "aws_iam_group_policy.fail_2"),  # s3:Get* on "*": every object of every bucket
        ("G012", "aws_iam_role_policy.fail_1"),  # iam:* on "*"
        ("G012", "aws_iam_user_policy.fail_3"),  # iam:* on "*"
        ("G004", "aws_iam_policy.policy_pass"),  # s3:* on "*" (checkov passes it: it checks only "*" and iam:*)
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
    # s3:* on "*" (changed, tag_and_change) and s3:Get* on "*" (created, tag_only, tainted): all of S3, every object
    "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json": {
        ("G004", "aws_iam_policy.changed"),
        ("G004", "aws_iam_policy.tag_and_change"),
        ("G018", "aws_iam_policy.created"),
        ("G018", "aws_iam_policy.tag_only"),
        ("G018", "aws_iam_policy.tainted"),
    },
    "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json": {("G001", "aws_s3_bucket.terra_ci")},
    # events.amazonaws.com may invoke the function with source_arn "": EventBridge rules of any account.
    "terraform-compliance_cli__tests__functional__test_issue_522__plan.out.json": {
        ("G014", "aws_lambda_permission.allow_metric_event_bridge_to_call_monitor_metric_lambda")
    },
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
    assert "would be replaced: replace (create first)" in blocked["terraform_data.replaced_cbd"]
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
                **({"module_address": c["module_address"]} if "module_address" in c else {}),
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


# --- public exposure is judged on networks, not strings (G003, G007) ----------------------------------

SPLIT = ["0.0.0.0/1", "128.0.0.0/1"]
EVERY_IPV4 = "0.0.0.0/1, 128.0.0.0/1 (every public IPv4 address)"
ONLY_80_443 = " (only ports 80 and 443 may be open to the internet)"


def _ingress_block(cidrs: list[Any], port: int = 22, protocol: str = "tcp", **extra: Any) -> dict[str, Any]:
    return {
        "cidr_blocks": cidrs,
        "ipv6_cidr_blocks": [],
        "from_port": port,
        "to_port": port,
        "protocol": protocol,
        **extra,
    }


def _sg_rule(cidrs: list[Any], port: int = 22, group: str | None = "sg-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "aws_security_group_rule",
        "after": {"type": "ingress", "security_group_id": group, **_ingress_block(cidrs, port), **extra},
    }


def _messages(plan: Any, rule: str) -> dict[str, str]:
    return {f.address: f.message for f in blocking(check(plan)) if f.rule == rule}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_sg_rule(SPLIT), f"ingress on port 22 from {EVERY_IPV4}{ONLY_80_443}"),
        (
            {"type": "aws_security_group", "after": {"ingress": [_ingress_block(SPLIT)]}},
            f"ingress on port 22 from {EVERY_IPV4}{ONLY_80_443}",
        ),
        (
            {"type": "aws_default_security_group", "after": {"ingress": [_ingress_block(["0.0.0.0/0"], 3389)]}},
            f"ingress on port 3389 from 0.0.0.0/0 (every public IPv4 address){ONLY_80_443}",
        ),
        (
            {
                "type": "aws_security_group",
                "after": {"ingress": [_ingress_block(["0.0.0.0/1"]), _ingress_block(["128.0.0.0/1"])]},
            },
            f"ingress on port 22 from {EVERY_IPV4}{ONLY_80_443}",
        ),
        (
            {"type": "aws_security_group", "after": {"ingress": [_ingress_block(SPLIT, 0, "-1")]}},
            f"ingress on all ports (all protocols) from {EVERY_IPV4}{ONLY_80_443}",
        ),
        (
            _sg_rule([], ipv6_cidr_blocks=["2000::/4", "3000::/4"], protocol="udp", from_port=53, to_port=53),
            f"ingress on udp port 53 from 2000::/4, 3000::/4 (2^124 public IPv6 addresses){ONLY_80_443}",
        ),
        (
            {
                "type": "aws_vpc_security_group_ingress_rule",
                "after": {"cidr_ipv4": "0.0.0.0/0", "ip_protocol": "6", "from_port": 0, "to_port": 65535},
            },
            f"ingress on all tcp ports from 0.0.0.0/0 (every public IPv4 address){ONLY_80_443}",
        ),
    ],
)
def test_fails_if_ingress_open_to_the_internet_passes(change: dict[str, Any], message: str) -> None:
    assert _messages(_plan(change), "G003") == {change.get("address", f"{change['type']}.r0"): message}


def test_fails_if_splitting_a_range_over_several_rules_escapes() -> None:
    """Three public /17s: each is narrower than the limit, together they are wider (same group, same port)."""
    pieces = ["8.0.0.0/17", "8.0.128.0/17", "9.0.0.0/17"]
    assert _messages(_plan(_sg_rule(pieces[:1])), "G003") == {}
    together = _messages(_plan(*(_sg_rule([p]) for p in pieces)), "G003")
    assert sorted(together) == [f"aws_security_group_rule.r{i}" for i in range(3)]
    assert together["aws_security_group_rule.r0"] == (
        "ingress on port 22 from 8.0.0.0/17, 8.0.128.0/17, 9.0.0.0/17 (98,304 public IPv4 addresses)"
        f" (with aws_security_group_rule.r1, aws_security_group_rule.r2){ONLY_80_443}"
    )
    modern = [
        {
            "type": "aws_vpc_security_group_ingress_rule",
            "after": {
                "security_group_id": "sg-1",
                "cidr_ipv4": p,
                "ip_protocol": "tcp",
                "from_port": 22,
                "to_port": 22,
            },
        }
        for p in pieces
    ]
    assert len(_messages(_plan(*modern), "G003")) == 3
    inline = {"type": "aws_security_group", "after": {"ingress": [_ingress_block([p]) for p in pieces]}}
    assert list(_messages(_plan(inline), "G003")) == ["aws_security_group.r0"]
    # A rule already in place (no-op) counts for the union; only the rules this plan writes are reported.
    existing = {**_sg_rule(pieces[:2]), "actions": ["no-op"], "before": {}}
    assert list(_messages(_plan(existing, _sg_rule(pieces[2:])), "G003")) == ["aws_security_group_rule.r1"]


def test_fails_if_overlapping_port_ranges_escape() -> None:
    rules = [
        _sg_rule(["8.0.0.0/17"], from_port=0, to_port=65535),
        _sg_rule(["8.0.128.0/17"]),
        _sg_rule(["9.0.0.0/17"], from_port=20, to_port=30),
    ]
    messages = _messages(_plan(*rules), "G003")
    assert sorted(messages) == [f"aws_security_group_rule.r{i}" for i in range(3)]
    assert messages["aws_security_group_rule.r2"].startswith(
        "ingress on port 22 from 8.0.0.0/17, 8.0.128.0/17, 9.0.0.0/17 ("
    )


def test_rules_of_different_groups_are_not_added_up() -> None:
    pieces = ["8.0.0.0/17", "8.0.128.0/17", "9.0.0.0/17"]
    assert _messages(_plan(*(_sg_rule([p], group=f"sg-{p}") for p in pieces)), "G003") == {}
    assert _messages(_plan(*(_sg_rule([p], port=22 + i) for i, p in enumerate(pieces))), "G003") == {}


def test_fails_if_rules_of_a_group_created_in_the_same_plan_escape() -> None:
    """The group's id is known only after apply: the configuration's reference ties the rules to it."""
    pieces = ["8.0.0.0/17", "8.0.128.0/17", "9.0.0.0/17"]
    changes = [{"type": "aws_security_group", "address": "aws_security_group.web", "after": {"ingress": []}}]
    changes += [{**_sg_rule([p], group=None), "after_unknown": {"security_group_id": True}} for p in pieces]
    configuration = {
        "root_module": {
            "resources": [
                {
                    "address": f"aws_security_group_rule.r{i + 1}",
                    "expressions": {
                        "security_group_id": {"references": ["aws_security_group.web.id", "aws_security_group.web"]}
                    },
                }
                for i in range(3)
            ]
        }
    }
    assert len(_messages(_plan(*changes, configuration=configuration), "G003")) == 3
    assert _messages(_plan(*changes), "G003") == {}, "without the reference, each rule is its own group"


@pytest.mark.parametrize(
    "change",
    [
        _sg_rule(["0.0.0.0/0"], port=443),
        _sg_rule(["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"]),
        _sg_rule(["203.0.113.0/24", "198.51.100.0/24"], from_port=0, to_port=65535),
        _sg_rule(["8.8.0.0/16"]),
        {
            "type": "aws_security_group",
            "after": {"ingress": [_ingress_block(SPLIT, 80)], "egress": [_ingress_block(SPLIT)]},
        },
        {**_sg_rule(SPLIT), "after": {**_sg_rule(SPLIT)["after"], "type": "egress"}},
    ],
)
def test_lets_narrow_or_load_balancer_ingress_through(change: dict[str, Any]) -> None:
    assert _messages(_plan(change), "G003") == {}


def _eks(vpc_config: dict[str, Any], unknown: dict[str, Any] | None = None) -> Any:
    return _plan(
        {
            "type": "aws_eks_cluster",
            "after": {"vpc_config": [{"endpoint_public_access": True, **vpc_config}]},
            "after_unknown": {"vpc_config": [unknown or {}]},
        }
    )


def test_fails_if_a_split_kubernetes_api_range_passes() -> None:
    assert _messages(_eks({"public_access_cidrs": SPLIT}), "G007") == {
        "aws_eks_cluster.r0": f"Kubernetes API open to the internet: public endpoint reachable from {EVERY_IPV4}"
    }
    assert list(_messages(_eks({"public_access_cidrs": []}), "G007")) == ["aws_eks_cluster.r0"], "AWS default"
    assert "known only after apply" in _messages(_eks({}, {"public_access_cidrs": True}), "G007")["aws_eks_cluster.r0"]
    assert _messages(_eks({"public_access_cidrs": ["203.0.113.0/24", "8.8.8.0/24"]}), "G007") == {}
    assert _messages(_eks({"endpoint_public_access": False, "public_access_cidrs": SPLIT}), "G007") == {}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {"type": "aws_security_group", "after": {"ingress": 5}},
            "change.after.ingress: expected an array, got a number",
        ),
        (
            {"type": "aws_security_group", "after": {"ingress": [7]}},
            "change.after.ingress[0]: expected an object, got a number",
        ),
        (
            {"type": "aws_security_group", "after": {"ingress": [{"cidr_blocks": "0.0.0.0/0"}]}},
            "change.after.ingress[0].cidr_blocks: expected an array, got a string",
        ),
        (_sg_rule([5]), "change.after.cidr_blocks[0]: expected a string, got a number"),
        (_sg_rule(SPLIT, from_port="22"), "change.after.from_port: expected a number, got a string"),
        (_sg_rule(SPLIT, protocol=["tcp"]), "change.after.protocol: expected a string or a number, got an array"),
        (
            {
                "type": "aws_eks_cluster",
                "after": {"vpc_config": [{"endpoint_public_access": True, "public_access_cidrs": 7}]},
            },
            "change.after.vpc_config[0].public_access_cidrs: expected an array, got a number",
        ),
        (
            {"type": "aws_iam_role", "after": {"inline_policy": "x"}},
            "change.after.inline_policy: expected an array, got a string",
        ),
        ({"type": "aws_s3_bucket", "after": {"acl": 1}}, "change.after.acl: expected a string, got a number"),
    ],
)
def test_fails_if_a_checked_attribute_has_the_wrong_type(change: dict[str, Any], path: str) -> None:
    with pytest.raises(PlanError) as info:
        check(_plan(change))
    assert str(info.value) == f"crafted: resource_changes[0].{path}"
