"""The pytest plugin: its fixtures (loaded through the `pytest11` entry point) and its one import path."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import qualisys_infra.pytest_plugin as plugin
from qualisys_infra.plan.model import load_plan
from qualisys_infra.pytest_plugin import ANY, Kind, PlanAssertions, Stack, match, parse_path, resolve
from tests.conftest import Synthesized
from tests.plan.conftest import FIXTURES, RealPlans

CHECKOV_PLAN = FIXTURES / "bridgecrewio_checkov__tests__terraform__runner__resources__plan__tfplan.json"


def test_one_public_import_path() -> None:
    assert Kind.REPLACE_CBD.value == "replace-create-first"
    for name in plugin.__all__:
        assert hasattr(plugin, name), name
    assert {"Kind", "PlanAssertions", "Stack", "ANY", "match"} <= set(plugin.__all__)


# --- plans ------------------------------------------------------------------------------------------------


def test_plan_assertions_pass_and_fail(plan_file: Callable[[Path], Any], real_plans: RealPlans) -> None:
    plan = plan_file(real_plans.folder / "second.json")
    plan.assert_counts(create=1, update=2, replace=1, replace_create_first=1, delete=1, forget=1, no_op=2)
    plan.assert_no_replace("aws_db_instance")  # a real type this plan does not touch
    with pytest.raises(AssertionError, match=r"replaced: terraform_data\.replaced, terraform_data\.replaced_cbd"):
        plan.assert_no_replace("terraform_data")
    with pytest.raises(AssertionError, match=r"destroyed: terraform_data\.deleted"):
        plan.assert_no_destroy()
    plan.assert_no_blocking_findings()
    assert [c.address for c in plan.plan.by_kind(Kind.REPLACE_CBD)] == ["terraform_data.replaced_cbd"]


@pytest.mark.parametrize(
    ("type_", "suggestion"),
    [
        ("aws_db_instanse", "aws_db_instance"),
        ("aws_elasticache_replicaton_group", "aws_elasticache_replication_group"),
        ("terraform_dta", "terraform_data"),
    ],
)
def test_fails_if_a_resource_type_is_misspelled(plan_file: Callable[[Path], Any], type_: str, suggestion: str) -> None:
    plan = plan_file(CHECKOV_PLAN)
    for assertion in (plan.assert_no_replace, plan.assert_no_destroy, plan.changes):
        with pytest.raises(AssertionError, match=rf"unknown resource type '{type_}': did you mean '{suggestion}'"):
            assertion(type_)


def test_fails_if_a_resource_type_has_an_unknown_provider(plan_file: Callable[[Path], Any]) -> None:
    with pytest.raises(AssertionError, match="its provider prefix 'awz' is neither installed nor used here"):
        plan_file(CHECKOV_PLAN).assert_no_replace("awz_thing")


def test_fails_if_assert_counts_is_given_an_unknown_kind(plan_file: Callable[[Path], Any]) -> None:
    with pytest.raises(
        AssertionError, match=r"unknown kind replace_create_frist \(did you mean 'replace_create_first'"
    ):
        plan_file(CHECKOV_PLAN).assert_counts(replace_create_frist=0)


def test_every_after_names_the_path_and_both_values(plan_file: Callable[[Path], Any]) -> None:
    plan = plan_file(CHECKOV_PLAN)
    with pytest.raises(AssertionError) as failed:
        plan.assert_every_after("aws_db_instance", "storage_encrypted", True)
    assert "aws_db_instance.default: storage_encrypted: expected true, got false" in str(failed.value)
    with pytest.raises(AssertionError, match="G005"):
        plan.assert_no_blocking_findings()


def test_fails_if_an_attribute_is_missing_and_says_so_readably(plan_file: Callable[[Path], Any]) -> None:
    plan = plan_file(CHECKOV_PLAN)
    with pytest.raises(AssertionError) as failed:
        plan.assert_every_after("aws_db_instance", "storage_encrypt", True)
    message = str(failed.value)
    assert "storage_encrypt: expected true, but it is missing (did you mean 'storage_encrypted'?)" in message
    assert "<object object" not in message


def test_has_change_with_matches_partially_and_shows_the_closest(plan_file: Callable[[Path], Any]) -> None:
    plan = plan_file(CHECKOV_PLAN)
    (hit,) = plan.has_change_with("aws_db_instance", {"engine": "mysql", "storage_encrypted": False})
    assert hit.address == "aws_db_instance.default"
    with pytest.raises(AssertionError) as failed:
        plan.has_change_with("aws_db_instance", {"engine": "postgres", "storage_encrypted": True}, kinds=[Kind.CREATE])
    message = str(failed.value)
    assert "closest: aws_db_instance.default (2 differences)" in message
    assert 'engine: expected "postgres", got "mysql"' in message


def test_change_of_an_unknown_address_suggests_the_closest(plan_file: Callable[[Path], Any]) -> None:
    with pytest.raises(
        AssertionError, match=r"no change for aws_db_instance\.defualt; closest: aws_db_instance\.default"
    ):
        plan_file(CHECKOV_PLAN).change("aws_db_instance.defualt")


def test_plan_assertions_work_without_the_fixture() -> None:
    PlanAssertions(load_plan(CHECKOV_PLAN)).assert_no_replace("aws_db_instance")


# --- matching ---------------------------------------------------------------------------------------------

BLOCK = {
    "name": "cluster",
    "vpc_config": [{"endpoint_private_access": True, "subnet_ids": ["a", "b", "c"]}],
    "tags": {"env": "dev", "kubernetes.io/role": "x"},
    "ingress": [{"from_port": 443, "cidr": "10.0.0.0/8"}, {"from_port": 80, "cidr": "10.0.0.0/8"}],
}


def test_paths() -> None:
    assert parse_path("vpc_config[0].endpoint_private_access") == ("vpc_config", 0, "endpoint_private_access")
    assert parse_path('tags["kubernetes.io/role"]') == ("tags", "kubernetes.io/role")
    assert parse_path("ingress[*].from_port") == ("ingress", "*", "from_port")
    assert resolve(BLOCK, "ingress[*].from_port") == [("ingress[0].from_port", 443), ("ingress[1].from_port", 80)]
    assert resolve(BLOCK, 'tags["kubernetes.io/role"]') == [('tags["kubernetes.io/role"]', "x")]
    assert resolve({"vpc_config": {"a": 1}}, "vpc_config[0].a") == [("vpc_config[0].a", 1)], "one block as an object"
    with pytest.raises(ValueError, match="not a path"):
        parse_path("a..b")


@pytest.mark.parametrize(
    "expected",
    [
        {"name": "cluster"},
        {"vpc_config": [{"endpoint_private_access": True}]},
        {"vpc_config": {"subnet_ids": ["c", "a"]}},  # a list matches in any order, partially
        {"vpc_config[0].endpoint_private_access": True},
        {"ingress[*].cidr": "10.0.0.0/8"},
        {"tags": {"env": ANY}},
        {"ingress": [{"from_port": 80}]},
        {"vpc_config[0].subnet_ids": lambda ids: len(ids) == 3},
    ],
)
def test_partial_and_nested_matches(expected: dict[str, Any]) -> None:
    assert match(BLOCK, expected) == []


@pytest.mark.parametrize(
    ("expected", "difference"),
    [
        ({"name": "other"}, 'name: expected "other", got "cluster"'),
        ({"vpc_config[0].endpoint_private_access": False}, "vpc_config[0].endpoint_private_access: expected false"),
        ({"ingress[*].from_port": 443}, "ingress[1].from_port: expected 443, got 80"),
        ({"tags": {"team": ANY}}, "tags.team: expected any value, but it is missing"),
        ({"vpc_config": {"subnet_ids": ["d"]}}, 'vpc_config[0].subnet_ids[?]: expected "d"'),
        ({"nam": "cluster"}, "nam: expected \"cluster\", but it is missing (did you mean 'name'?)"),
        ({"vpc_config[0].endpoint_private_access": 1}, "expected 1, got true"),
    ],
)
def test_fails_if_a_partial_match_differs(expected: dict[str, Any], difference: str) -> None:
    found = [str(d) for d in match(BLOCK, expected)]
    assert any(difference in d for d in found), found


# --- synthesized stacks -----------------------------------------------------------------------------------


def test_qualisys_stack_synthesizes_in_process_once(
    qualisys_stack: Callable[..., Stack], synthesized: Synthesized
) -> None:
    data = qualisys_stack("production", "data")
    assert data is qualisys_stack("production-data"), "cached per session"
    assert data.config == synthesized.stacks["production-data"]
    (name,) = data.has_resource_with(
        "aws_db_instance", {"storage_encrypted": True, "publicly_accessible": False, "multi_az": True}
    )
    data.assert_every("aws_db_instance", "deletion_protection", True)
    data.assert_none("aws_instance")
    assert name in data.resources("aws_db_instance")
    cluster = qualisys_stack("dev", "cluster")
    cluster.has_resource_with("aws_eks_cluster", {"vpc_config[0].endpoint_private_access": True})
    cluster.assert_every_with(
        "aws_eks_cluster", {"vpc_config": {"endpoint_public_access": False}, "enabled_cluster_log_types": ["audit"]}
    )


def test_fails_if_a_stack_resource_type_is_misspelled(qualisys_stack: Callable[..., Stack]) -> None:
    data = qualisys_stack("production", "data")
    with pytest.raises(AssertionError, match="unknown resource type 'aws_db_instanse': did you mean 'aws_db_instance'"):
        data.assert_every("aws_db_instanse", "storage_encrypted", True)
    with pytest.raises(AssertionError, match="unknown resource type 'aws_db_instanse'"):
        data.assert_none("aws_db_instanse")
    with pytest.raises(AssertionError, match=r"no stack 'production-dat' \(did you mean 'production-data'\?\)"):
        qualisys_stack("production", "dat")


def test_a_stack_failure_shows_the_closest_resource_and_the_path(qualisys_stack: Callable[..., Stack]) -> None:
    cluster = qualisys_stack("dev", "cluster")
    with pytest.raises(AssertionError) as failed:
        cluster.has_resource_with("aws_eks_cluster", {"vpc_config[0].endpoint_public_access": True, "version": "0.1"})
    message = str(failed.value)
    assert re.search(r"closest: aws_eks_cluster\.\S+ \(2 differences\)", message), message
    assert "vpc_config[0].endpoint_public_access: expected true, got false" in message


def test_synthesized_stack_reads_the_session_synth_or_a_given_folder(
    synthesized_stack: Callable[..., Stack], synthesized: Synthesized
) -> None:
    stack = synthesized_stack("bootstrap")
    stack.assert_every("aws_dynamodb_table", "deletion_protection_enabled", True)
    with pytest.raises(AssertionError, match="force_destroy: expected true, got false"):
        stack.assert_every("aws_s3_bucket", "force_destroy", True)
    assert synthesized_stack("bootstrap", outdir=synthesized.outdir).config == stack.config
    with pytest.raises(AssertionError, match="no such stack output"):
        synthesized_stack("bootstrap", outdir=synthesized.outdir / "nowhere")
