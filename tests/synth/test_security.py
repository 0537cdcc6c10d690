"""The security gate (checkov) over every stack, and the invariants checkov cannot see."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qualisys_infra.core.networks import exposure_of_strings
from qualisys_infra.gates.security import ScanReport
from tests.conftest import Synthesized
from tests.synth.helpers import ref


def _public(rule: dict[str, Any]) -> bool:
    """Whether a rule's networks reach any public address (network arithmetic, not strings)."""
    return exposure_of_strings([rule.get("cidr_ipv4"), rule.get("cidr_ipv6")]).public


SECRET_ATTRIBUTES = {"password", "passwords", "auth_token", "secret_string", "master_password", "private_key"}
SECRET_VALUE = re.compile(
    r"(AKIA|ASIA)[A-Z0-9]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|ghp_[A-Za-z0-9]{36}|sk-[A-Za-z0-9]{20,}"
)


@pytest.fixture(scope="module")
def report(synthesized: Synthesized) -> ScanReport:
    return synthesized.scan.result(timeout=600)


def test_checkov_passes_every_stack_with_zero_unwaived_failures(report: ScanReport, synthesized: Synthesized) -> None:
    assert report.parsing_errors == ()
    assert report.passed > 1000, "checkov ran its checks on every stack"
    for finding in report.waived:
        print(f"waived {finding}: {finding.waiver}")
    assert [str(f) for f in report.unwaived] == []
    scanned = {f.stack for f in report.findings}
    assert scanned <= set(synthesized.stacks)


def test_every_waiver_names_a_check_that_fired(report: ScanReport, synthesized: Synthesized) -> None:
    """A waiver whose check no longer fails is stale: it would hide the next real finding."""
    fired = {(f.stack, f.resource.rsplit(".", 1)[-1], f.check_id) for f in report.findings}
    for stack, config in synthesized.stacks.items():
        for items in (config.get("resource") or {}).values():
            for name, body in items.items():
                for check in (body.get("//") or {}).get("checkov_waivers", {}):
                    assert (stack, name, check) in fired, (stack, name, check)
        data_waivers = (config.get("//") or {}).get("checkov_waivers", {}).get("data", {})
        for items in data_waivers.values():
            for name, checks in items.items():
                for check in checks:
                    assert (stack, name, check) in fired, (stack, name, check)


def test_fails_if_a_check_breaks_without_a_waiver_or_a_stack_cannot_be_parsed(synthesized: Synthesized) -> None:
    result = synthesized.broken_scan.result(timeout=600)
    assert not result.ok
    assert sorted(f.check_id for f in result.unwaived) == ["CKV2_AWS_6", "CKV_AWS_28", "CKV_AWS_53"]
    assert len(result.waived) == 8, "the waivers still apply to the untouched resources"
    assert len(result.parsing_errors) == 1 and "dev-network" in result.parsing_errors[0]


# --- invariants checkov misses (security-checks.md §0) ------------------------------------------------


def _all_resources(s: Synthesized, type_: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack in s.stacks:
        for name, body in s.resources(stack, type_).items():
            yield stack, name, body


def test_no_security_group_rule_admits_the_internet(synthesized: Synthesized) -> None:
    for stack, name, rule in _all_resources(synthesized, "aws_vpc_security_group_ingress_rule"):
        assert not _public(rule), (stack, name)
    for stack, name, group in _all_resources(synthesized, "aws_security_group"):
        assert "ingress" not in group and "egress" not in group, f"{stack} {name}: rules must be separate resources"
    assert not list(_all_resources(synthesized, "aws_security_group_rule")), (
        "use the vpc_security_group_*_rule resources"
    )


def test_no_rule_allows_every_protocol_to_or_from_the_internet(synthesized: Synthesized) -> None:
    for type_ in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        for stack, name, rule in _all_resources(synthesized, type_):
            if rule["ip_protocol"] == "-1":
                assert not _public(rule), (stack, name)


def test_internet_egress_is_https_only(synthesized: Synthesized) -> None:
    for stack, name, rule in _all_resources(synthesized, "aws_vpc_security_group_egress_rule"):
        if _public(rule):
            assert (rule["ip_protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 443, 443), (stack, name)


def _boundary_documents(config: dict[str, Any]) -> set[str]:
    """Policy documents of policies used as a role's permissions boundary: a boundary grants
    nothing by itself, it caps what the role's own policies may grant."""
    policies = (config.get("resource") or {}).get("aws_iam_policy") or {}
    roles = (config.get("resource") or {}).get("aws_iam_role") or {}
    # A boundary of the same stack is a reference; one of another stack (the apply role's, on the
    # environment stacks' roles) is an ARN built from its name, and has no document here.
    used = {
        ref(r["permissions_boundary"])[1]
        for r in roles.values()
        if str(r.get("permissions_boundary") or "").startswith("${aws_iam_policy.")
    }
    return {ref(policies[p]["policy"])[1] for p in used if p in policies}


def test_no_identity_policy_allows_wildcard_actions_on_wildcard_resources(synthesized: Synthesized) -> None:
    for stack, config in synthesized.stacks.items():
        boundaries = _boundary_documents(config)
        for name, document in ((config.get("data") or {}).get("aws_iam_policy_document") or {}).items():
            if name in boundaries:
                continue
            for statement in document["statement"]:
                if statement["effect"] != "Allow" or statement.get("principals"):
                    continue  # resource and trust policies are covered by test_all_stacks
                wildcard_action = any(a == "*" or a.endswith(":*") for a in statement.get("actions", []))
                assert not (wildcard_action and "*" in statement.get("resources", [])), (stack, name, statement["sid"])


STATEFUL: dict[str, Callable[[dict[str, Any]], bool]] = {
    "aws_db_instance": lambda r: r["storage_encrypted"] is True and ref(r["kms_key_id"])[0] == "aws_kms_key",
    "aws_elasticache_replication_group": lambda r: (
        r["at_rest_encryption_enabled"] == "true" and ref(r["kms_key_id"])[0] == "aws_kms_key"
    ),
    "aws_dynamodb_table": lambda r: ref(r["server_side_encryption"]["kms_key_arn"])[0] == "aws_kms_key",
    "aws_cloudwatch_log_group": lambda r: ref(r["kms_key_id"])[0] == "aws_kms_key",
    "aws_eks_cluster": lambda r: ref(r["encryption_config"]["provider"]["key_arn"])[0] == "aws_kms_key",
    "aws_launch_template": lambda r: all(
        ref(d["ebs"]["kms_key_id"])[0] == "aws_kms_key" for d in r["block_device_mappings"]
    ),
}


def test_every_stateful_resource_is_encrypted_with_a_customer_key(synthesized: Synthesized) -> None:
    seen = set()
    for type_, encrypted in STATEFUL.items():
        for stack, name, body in _all_resources(synthesized, type_):
            assert encrypted(body), (stack, type_, name)
            seen.add(type_)
    assert seen == set(STATEFUL), "every stateful type exists in the synthesized stacks"
    for stack, name, sse in _all_resources(synthesized, "aws_s3_bucket_server_side_encryption_configuration"):
        algorithm = sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"]
        assert algorithm == "aws:kms" or "access-logs" in name, (stack, name)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def test_no_secret_value_anywhere_in_the_synthesized_json(synthesized: Synthesized) -> None:
    for stack, config in synthesized.stacks.items():
        for path, value in _walk(config, stack):
            leaf = re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]
            assert leaf not in SECRET_ATTRIBUTES, f"{path} holds a secret attribute"
            if isinstance(value, str):
                assert not SECRET_VALUE.search(value), f"{path} looks like a credential"
