"""The plan model on real plans: Terraform's own (made here) and public projects' (fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qualisys_infra.plan.model import SENSITIVE, UNKNOWN, Kind, PlanError, load_plan, parse_plan
from tests.plan.conftest import FIXTURES, RealPlans

# Counts per kind, checked by hand against each file's resource_changes (and SOURCES.md).
FIXTURE_COUNTS: dict[str, dict[Kind, int]] = {
    "hashicorp_terraform-json__testdata__action_reason__plan.json": {Kind.REPLACE: 1},
    "hashicorp_terraform-json__testdata__moved_block__plan.json": {Kind.NOOP: 1},
    "hashicorp_terraform-json__testdata__identity__plan.json": {Kind.UPDATE: 1},
    "hashicorp_terraform-json__testdata__has_checks__plan.json": {Kind.CREATE: 2},
    "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json": {Kind.REPLACE: 2, Kind.NOOP: 1},
    "borchero_terraform-plan-comment__tests__fixtures__basic__2-delete__plan.json": {Kind.DELETE: 2, Kind.NOOP: 1},
    "borchero_terraform-plan-comment__tests__fixtures__basic__3-remove__plan.json": {Kind.FORGET: 1},
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan__tfplan.json": {Kind.CREATE: 55},
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan_with_deleted_resources__tfplan.json": {
        Kind.REPLACE_CBD: 1
    },
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan_change_keys__tfplan.json": {Kind.UPDATE: 2},
    "bridgecrewio_checkov__tests__terraform__runner__resources__plan_with_iam_policies__tfplan.json": {Kind.CREATE: 7},
    "bridgecrewio_checkov__tests__terraform__checks__data__aws__example_GithubActionsOIDCTrustPolicy__tfplan.json": {
        Kind.READ: 4,
        Kind.CREATE: 5,
    },
    "bridgecrewio_checkov__tests__common__runner_registry__plan_with_for_each_for_enrichment__tf_plan.json": {
        Kind.CREATE: 5
    },
    "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json": {
        Kind.UPDATE: 3,
        Kind.CREATE: 1,
        Kind.DELETE: 1,
        Kind.REPLACE: 1,
        Kind.NOOP: 2,
    },
    "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json": {Kind.DELETE: 8},
    "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json": {Kind.UPDATE: 1, Kind.NOOP: 1},
    "terraform-compliance_cli__tests__functional__test_issue_522__plan.out.json": {
        Kind.DELETE: 2,
        Kind.NOOP: 7,
        Kind.UPDATE: 1,
        Kind.CREATE: 5,
    },
    "terraform-compliance_cli__tests__functional__test_issue-249__plan.out.json": {
        Kind.NOOP: 18,
        Kind.UPDATE: 4,
        Kind.CREATE: 2,
    },
    "fugue_regula__rego__tests__rules__tf__aws__security_group__inputs__ingress_anywhere_infra.json": {Kind.CREATE: 5},
    "fugue_regula__rego__tests__rules__tf__aws__iam__inputs__admin_policy_infra.json": {Kind.CREATE: 11},
    "infracost_infracost__cmd__infracost__testdata__terraform_v0.14_plan.json": {
        Kind.NOOP: 13,
        Kind.CREATE: 12,
        Kind.UPDATE: 1,
    },
    "dineshba_tf-summarize__example__tfplan.json": {Kind.CREATE: 7, Kind.NOOP: 1},
    "aquasecurity_trivy__pkg__iac__scanners__terraformplan__tfjson__testdata__plan.json": {Kind.CREATE: 3},
}


def test_every_fixture_is_covered() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(FIXTURE_COUNTS)


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
def test_fixture_counts_per_kind(name: str) -> None:
    plan = load_plan(FIXTURES / name)
    counts = {k: n for k, n in plan.counts().items() if n}
    assert counts == FIXTURE_COUNTS[name]


def test_fixture_moves_imports_drift_and_outputs() -> None:
    moved = load_plan(FIXTURES / "hashicorp_terraform-json__testdata__moved_block__plan.json")
    (move,) = moved.moves
    assert move.previous_address and move.previous_address != move.address
    identity = load_plan(FIXTURES / "hashicorp_terraform-json__testdata__identity__plan.json")
    assert len(identity.imports) == 1
    summarize = load_plan(FIXTURES / "dineshba_tf-summarize__example__tfplan.json")
    assert len(summarize.drift) == 3 and len(summarize.outputs) == 1
    tainted = load_plan(FIXTURES / "hashicorp_terraform-json__testdata__action_reason__plan.json")
    assert tainted.changes[0].action_reason == "replace_because_tainted"
    modify = load_plan(FIXTURES / "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json")
    assert modify.by_kind(Kind.REPLACE)[0].replace_paths == (("content",),)


def test_sensitive_fixture_values_are_masked() -> None:
    plan = load_plan(FIXTURES / "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json")
    raw = (FIXTURES / "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json").read_text()
    assert "foo-42" in raw, "the fixture holds a sensitive value in clear"
    rendered = [a for c in plan.changes for a in c.attribute_changes()]
    assert any(a.before == SENSITIVE for a in rendered)
    assert not any("foo-42" in a.before + a.after for a in rendered)


# --- real plans from Terraform core ---------------------------------------------------------------


def test_real_first_plan_creates_everything(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.first, "first")
    assert {c.kind for c in plan.changes} == {Kind.CREATE}
    assert len(plan.changes) == 8
    created = plan.change("terraform_data.changed")
    (output,) = [a for a in created.attribute_changes() if a.path == "output"]
    assert output.after == UNKNOWN


def test_real_second_plan_has_every_kind(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.second, "second")
    kinds = {c.address: c.kind for c in plan.changes}
    assert kinds["terraform_data.kept"] is Kind.NOOP
    assert kinds["terraform_data.changed"] is Kind.UPDATE
    assert kinds["terraform_data.replaced"] is Kind.REPLACE
    assert kinds["terraform_data.replaced_cbd"] is Kind.REPLACE_CBD
    assert kinds["terraform_data.deleted"] is Kind.DELETE
    assert kinds["terraform_data.forgotten"] is Kind.FORGET
    assert kinds["terraform_data.created"] is Kind.CREATE
    moved = plan.change("terraform_data.new_name")
    assert moved.is_move and moved.previous_address == "terraform_data.old_name" and moved.kind is Kind.NOOP
    replaced = plan.change("terraform_data.replaced")
    assert replaced.action_reason == "replace_because_cannot_update"
    assert replaced.replace_paths == (("triggers_replace",),)
    assert plan.change("terraform_data.deleted").is_destructive
    assert plan.change("terraform_data.replaced_cbd").is_destructive
    assert not plan.change("terraform_data.forgotten").is_destructive
    assert plan.change("terraform_data.forgotten").leaves_management


def test_real_plan_masks_sensitive_values_and_outputs(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.second, "second")
    secret = plan.change("terraform_data.secret")
    assert secret.kind is Kind.UPDATE
    (change,) = [a for a in secret.attribute_changes() if a.path == "input"]
    assert change.before == SENSITIVE and change.after == SENSITIVE
    outputs = {o.name: o for o in plan.outputs}
    assert outputs["token"].after in (SENSITIVE,) and outputs["token"].before == SENSITIVE
    assert outputs["greeting"].before == '"hello"' and outputs["greeting"].after == '"hello again"'
    rendered = json.dumps([a.__repr__() for c in plan.changes for a in c.attribute_changes()])
    assert "s3cr3t-value-never-shown" not in rendered + repr(plan.outputs)


# --- bad input: a one-line error, never a traceback ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ('{"format_version": "1.2", "resource_changes": [', "truncated"),
        ('{"format_version": "1.0", "terraform_version": "1.9.0", "values": {}}', "this looks like a state file"),
        ('{"format_version": "2.0", "resource_changes": []}', "format_version 2.0 is not supported"),
        ("[1, 2]", "expected a JSON object"),
        ('{"resource_changes": []}', "no format_version"),
        (
            '{"format_version": "1.2", "resource_changes": [{"address": "a.b", "change": {"actions": "create"}}]}',
            "must be a list",
        ),
    ],
)
def test_fails_if_the_file_is_not_a_plan(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    (line,) = str(info.value).splitlines()
    assert line.startswith(str(path))
    assert message in line


def test_fails_if_the_file_is_missing_or_binary(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="file not found"):
        load_plan(tmp_path / "nope.json")
    binary = tmp_path / "tfplan"
    binary.write_bytes(b"PK\x03\x04\xff\xfe binary plan")
    with pytest.raises(PlanError, match="not UTF-8 text; a binary plan file"):
        load_plan(binary)


def test_unknown_actions_fail_closed_and_unknown_keys_are_ignored() -> None:
    plan = parse_plan(
        {
            "format_version": "1.9",
            "future_key": {"anything": True},
            "resource_changes": [
                {"address": "x.y", "type": "x", "name": "y", "change": {"actions": ["teleport"]}, "new_field": 1}
            ],
        },
        "future",
    )
    (change,) = plan.changes
    assert change.kind is Kind.UNKNOWN and change.is_destructive


def test_identity_is_address_and_deposed() -> None:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {"address": "a.b", "type": "a", "name": "b", "change": {"actions": ["create"]}},
                {"address": "a.b", "type": "a", "name": "b", "deposed": "00000001", "change": {"actions": ["delete"]}},
            ],
        },
        "deposed",
    )
    assert [c.key for c in plan.changes] == [("a.b", None), ("a.b", "00000001")]
    assert plan.change("a.b", "00000001").kind is Kind.DELETE
    assert plan.change("a.b").kind is Kind.CREATE
