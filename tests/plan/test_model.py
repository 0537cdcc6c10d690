"""The plan model on real plans: Terraform's own (made here) and public projects' (fixtures)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.plan.json_safety import PlanError
from qualisys_infra.plan.masking import SENSITIVE, UNKNOWN
from qualisys_infra.plan.model import Kind, load_plan, parse_plan
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
            "resource_changes[0].change.actions: expected an array, got a string",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
        ('{"format_version": "1.2", "resource_changes": [], "x": NaN}', "not valid JSON: NaN is not a JSON value"),
        ('{"format_version": "1.2", "resource_changes": [], "x": ' + "9" * 5000 + "}", "not valid JSON"),
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


def _entry(**fields: Any) -> dict[str, Any]:
    change = {"actions": ["create"], "before": None, "after": {}, **fields.pop("change", {})}
    return {"address": "a.b", "mode": "managed", "type": "a", "name": "b", "change": change, **fields}


WRONG_TYPES = [
    ({"resource_changes": {"a.b": _entry()}}, "resource_changes: expected an array, got an object"),
    ({"resource_changes": 5}, "resource_changes: expected an array, got a number"),
    ({"resource_changes": None}, "resource_changes: expected an array, got null"),
    ({"resource_changes": [5]}, "resource_changes[0]: expected an object, got a number"),
    ({"resource_drift": {}}, "resource_drift: expected an array, got an object"),
    ({"output_changes": []}, "output_changes: expected an object, got an array"),
    ({"output_changes": {"x": 5}}, "output_changes.x: expected an object, got a number"),
    ({"output_changes": {"x": {"actions": "create"}}}, "output_changes.x.actions: expected an array, got a string"),
    ({"output_changes": {"x": {}}}, "output_changes.x.actions: missing"),
    ({"errored": "true"}, "errored: expected a boolean, got a string"),
    ({"complete": 0}, "complete: expected a boolean, got a number"),
    ({"planned_values": []}, "planned_values: expected an object, got an array"),
    ({"deferred_changes": {}}, "deferred_changes: expected an array, got an object"),
    ({"terraform_version": 1.5}, "terraform_version: expected a string, got a number"),
    (
        {"resource_changes": [_entry(action_reason={"why": "x"})]},
        "resource_changes[0].action_reason: expected a string, got an object",
    ),
    (
        {"resource_changes": [_entry(change={"actions": [1]})]},
        "resource_changes[0].change.actions[0]: expected a string",
    ),
    ({"resource_changes": [_entry(change={"actions": None})]}, "resource_changes[0].change.actions: expected an array"),
    ({"resource_changes": [{"address": "a.b", "type": "a"}]}, "resource_changes[0].change: missing"),
    ({"resource_changes": [{"address": "a.b", "change": {"actions": []}}]}, "resource_changes[0].type: missing"),
    ({"resource_changes": [_entry(address=["a.b"])]}, "resource_changes[0].address: expected a string, got an array"),
    (
        {"resource_changes": [_entry(mode="Managed")]},
        'resource_changes[0].mode: expected one of managed, data, got "Managed"',
    ),
    ({"resource_changes": [_entry(deposed=1)]}, "resource_changes[0].deposed: expected a string, got a number"),
    ({"resource_changes": [_entry(previous_address={})]}, "resource_changes[0].previous_address: expected a string"),
    ({"resource_changes": [_entry(module_address=7)]}, "resource_changes[0].module_address: expected a string"),
    (
        {"resource_changes": [_entry(change={"replace_paths": ["tags"]})]},
        "resource_changes[0].change.replace_paths[0]: expected an array, got a string",
    ),
    (
        {"resource_changes": [_entry(change={"replace_paths": [["tags", {}]]})]},
        "resource_changes[0].change.replace_paths[0][1]: expected a string or a number, got an object",
    ),
    ({"resource_changes": [_entry(change={"importing": "id-1"})]}, "resource_changes[0].change.importing: expected an"),
    (
        {"resource_changes": [_entry(change={"after_sensitive": {"password": "yes"}})]},
        "resource_changes[0].change.after_sensitive.password: expected a boolean or an object or an array, got a string",
    ),
    (
        {"resource_drift": [_entry(change={"before_sensitive": 1})]},
        "resource_drift[0].change.before_sensitive: expected a boolean",
    ),
    (
        {"output_changes": {"odd\nname": {"actions": ["create"], "after_sensitive": "true"}}},
        'output_changes["odd\\nname"].after_sensitive: expected a boolean or an object or an array, got a string',
    ),
    (
        {"resource_changes": [_entry(change={"after": {"deep": json.loads("[" * 150 + "]" * 150)}})]},
        "resource_changes[0].change.after.deep" + "[0]" * 95 + ": nested more than 100 levels deep",
    ),
    ({"resource_changes": [_entry(address="a.\ud800")]}, "resource_changes[0].address: not valid Unicode text"),
    (
        {"planned_values": {"root_module": {"child_modules": [{"resources": [{"address": "a.b"}]}]}}},
        "resource_changes: missing, but planned_values lists 1 resource(s)",
    ),
]


@pytest.mark.parametrize(("fields", "message"), WRONG_TYPES)
def test_fails_if_a_field_has_the_wrong_type(fields: dict[str, Any], message: str) -> None:
    document = {"format_version": "1.2", "planned_values": {}, "resource_changes": [], **fields}
    if "planned_values" in fields and "resource_changes" not in fields:
        del document["resource_changes"]
    with pytest.raises(PlanError) as info:
        parse_plan(document, "plans/dev/x.json")
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"plans/dev/x.json: {message}"), line


@pytest.mark.parametrize(("fields", "message"), WRONG_TYPES[:12])
def test_fails_if_a_file_has_a_field_of_the_wrong_type(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": "1.2", "resource_changes": [], **fields}), encoding="utf-8")
    with pytest.raises(PlanError, match=re.escape(f"{path}: {message}")):
        load_plan(path)


def test_a_plan_without_resource_changes_is_a_plan_with_no_changes() -> None:
    """Terraform leaves an empty `resource_changes` out; `planned_values` then lists no resource."""
    plan = parse_plan({"format_version": "1.2", "planned_values": {"root_module": {}}}, "empty")
    assert plan.changes == () and not plan.has_changes


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize(
    "document",
    [
        _nested(99),
        _nested(100),
        _nested(101),
        {"a": '[[[[ "\\" \\\\', "b": [[{"c": "]]]]}"}]]},
        ["[", "]"],
        [["", "[", ""], "]]"],
        {"s": "[" * 500, "t": "\\" * 7 + '"'},
        {"k": 'x\\"', "d": _nested(120)},
    ],
)
def test_the_raw_depth_check_agrees_with_the_walk(document: Any) -> None:
    from qualisys_infra.plan.json_safety import depth_is_valid, raw_depth_is_valid

    for text in (json.dumps(document), json.dumps(document, indent=1, ensure_ascii=False)):
        assert raw_depth_is_valid(text.encode()) == depth_is_valid(document)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_the_raw_depth_check_passes_every_fixture(name: str) -> None:
    from qualisys_infra.plan.json_safety import raw_depth_is_valid

    assert raw_depth_is_valid((FIXTURES / name).read_bytes())
