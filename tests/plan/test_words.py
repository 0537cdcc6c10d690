"""One vocabulary: plurals, plain action words shared by diffs and findings, no zero counts."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Kind, load_plan, parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_comment
from qualisys_infra.plan.review_text import render_text
from qualisys_infra.plan.words import ACTION_WORDS, REASON_WORDS, change_notes, plural
from tests.plan.conftest import FIXTURES


@pytest.mark.parametrize(
    ("n", "word", "expected"),
    [
        (0, "change", "0 changes"),
        (1, "stack", "1 stack"),
        (2, "stack", "2 stacks"),
        (1, "tenant schema", "1 tenant schema"),
        (3, "tenant schema", "3 tenant schemas"),
        (2, "policy", "2 policies"),
        (2, "day", "2 days"),
        (2, "process", "2 processes"),
        (1_200, "resource", "1,200 resources"),
        (2, "unchanged attribute", "2 unchanged attributes"),
    ],
)
def test_plural(n: int, word: str, expected: str) -> None:
    assert plural(n, word) == expected


def test_plural_with_an_irregular_form() -> None:
    assert plural(2, "child", "children") == "2 children"
    assert plural(1, "child", "children") == "1 child"


def test_every_kind_has_words() -> None:
    assert set(ACTION_WORDS) == set(Kind)
    assert all(words and "_because_" not in words for words in REASON_WORDS.values())


def _entry(address: str, actions: list[str], **extra: Any) -> dict[str, Any]:
    type_ = address.split(".")[0]
    return {
        "address": address,
        "type": type_,
        "name": address.split(".")[1],
        "change": {"actions": actions, "before": {"bucket": "b"}, "after": None if actions == ["delete"] else {}},
        **extra,
    }


def test_findings_use_the_same_words_as_the_diffs() -> None:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                _entry("aws_s3_bucket.gone", ["delete"], action_reason="delete_because_no_resource_config"),
                {
                    **_entry("aws_db_instance.db", ["create", "delete"]),
                    "change": {
                        "actions": ["create", "delete"],
                        "before": {"engine": "a"},
                        "after": {"engine": "b"},
                        "replace_paths": [["engine"]],
                    },
                },
            ],
        },
        "words",
    )
    findings = {f.address: f for f in blocking(check(plan))}
    assert findings["aws_s3_bucket.gone"].message == (
        "protected aws_s3_bucket would be destroyed: delete because no resource config"
    )
    assert findings["aws_db_instance.db"].message == (
        "protected aws_db_instance would be replaced: replace (create first); forced by engine"
    )
    assert findings["aws_db_instance.db"].hint == "--allow-destroy aws_db_instance.db"
    review = StackReview("s", plan, list(findings.values()))
    markdown = render_comment([review])
    for change in plan.changes:
        for note in change_notes(change):
            assert note in markdown, note  # in the diff's summary line
    assert "· replace (create first) · forced by engine</summary>" in markdown
    assert "delete because no resource config</summary>" in markdown
    text = render_text([review])
    assert "(replace (create first); forced by engine)" in text
    assert "        if that is intended, re-run with:\n            --allow-destroy aws_s3_bucket.gone" in text


def test_banners_never_mention_zero_and_agree_in_number() -> None:
    destroy_only = render_comment([_review("snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json")])
    assert "**8 resources will be destroyed.**" in destroy_only
    banners = [line for line in destroy_only.splitlines() if line.startswith("> **")]
    assert banners and not any(" 0 " in line for line in banners), banners
    replace_only = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "terraform_data.x",
                    "type": "terraform_data",
                    "change": {"actions": ["delete", "create"], "before": {}, "after": {}},
                }
            ],
        },
        "replace",
    )
    markdown = render_comment([StackReview("one", replace_only, [])])
    assert "**1 resource will be replaced.** Read the Replace section before approving." in markdown
    assert "· 1 stack, 1 with changes" in markdown
    assert "destroyed" not in markdown


def test_text_review_agrees_in_number() -> None:
    review = _review("liatrio_terraform-change-pr-commenter__test-data__tf_test4.json")
    assert "(1 stack, 1 with changes)" in render_text([review])


def _review(name: str) -> StackReview:
    plan = load_plan(FIXTURES / name)
    return StackReview(name[:20], plan, check(plan, stack=name[:20]))


def test_a_single_port_reads_port_not_a_range() -> None:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_security_group_rule.ssh",
                    "type": "aws_security_group_rule",
                    "change": {
                        "actions": ["create"],
                        "before": None,
                        "after": {
                            "type": "ingress",
                            "security_group_id": "sg-1",
                            "from_port": 22,
                            "to_port": 22,
                            "protocol": "tcp",
                            "cidr_blocks": ["0.0.0.0/0"],
                        },
                    },
                }
            ],
        },
        "ssh",
    )
    (finding,) = check(plan)
    assert "ingress on port 22 from" in finding.message
    assert "22-22" not in finding.message
