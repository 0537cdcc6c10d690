"""Review rendering: well-formed, masked, always one GitHub comment, the same in every format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.plans import big_plan
from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import load_plan, parse_plan
from qualisys_infra.plan.review import (
    GITHUB_COMMENT_LIMIT,
    MARKER,
    Detail,
    StackReview,
    render_json,
    render_markdown,
    render_text,
    summary_counts,
    summary_line,
)
from tests.plan.conftest import FIXTURES, RealPlans

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))


def _review(path: Path) -> StackReview:
    plan = load_plan(path)
    return StackReview(path.stem[:40], plan, check(plan, stack=path.stem[:40]))


def assert_well_formed(markdown: str) -> None:
    assert markdown.startswith(MARKER)
    assert markdown.count("<details>") == markdown.count("</details>")
    assert markdown.count("```") % 2 == 0, "every code fence is closed"
    for line in markdown.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
            assert len(re.findall(r"(?<!\\)\|", line)) >= 3, line


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_renders_a_well_formed_comment(name: str) -> None:
    markdown, detail = render_markdown([_review(FIXTURES / name)])
    assert_well_formed(markdown)
    assert len(markdown) <= GITHUB_COMMENT_LIMIT
    assert detail is Detail.FULL
    assert summary_line(summary_counts([load_plan(FIXTURES / name)])) in markdown


def test_all_fixtures_in_one_comment_with_a_section_per_stack() -> None:
    reviews = [_review(FIXTURES / n) for n in FIXTURE_NAMES]
    markdown, _ = render_markdown(reviews)
    assert_well_formed(markdown)
    assert len(markdown) <= GITHUB_COMMENT_LIMIT
    for review in reviews:
        assert f"### `{review.name}`" in markdown or Detail.COUNTS.value in markdown


def test_destroy_and_replace_raise_a_banner_and_findings_a_table() -> None:
    markdown, _ = render_markdown(
        [_review(FIXTURES / "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json")]
    )
    assert "> [!CAUTION]\n> **1 resource will be destroyed and 1 replaced.**" in markdown
    assert markdown.index("🗑️ Destroy") < markdown.index("♻️ Replace") < markdown.index("✏️ Update")
    blocked, _ = render_markdown(
        [_review(FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json")]
    )
    assert "**1 blocking guardrail finding:**" in blocked
    assert "| 🛑 | G001 |" in blocked


def test_markdown_masks_sensitive_values(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.second, "second")
    review = StackReview("terraform-data", plan, check(plan))
    markdown, _ = render_markdown([review])
    text = render_text([review])
    machine = render_json([review])
    for rendered in (markdown, text, machine):
        assert "s3cr3t-value-never-shown" not in rendered
        assert "(sensitive value)" in rendered
    assert "(known after apply)" in markdown
    assert "moved from terraform_data.old_name" in markdown
    assert "🫥 Forget" in markdown


def test_fixture_sensitive_value_never_reaches_the_comment() -> None:
    path = FIXTURES / "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json"
    markdown, _ = render_markdown([_review(path)])
    assert "foo-42" not in markdown
    assert "+ content = (sensitive value)   # forces replacement" in markdown


def test_a_huge_plan_degrades_deterministically_and_says_so() -> None:
    plan = parse_plan(big_plan(10_000), "big")
    review = StackReview("big", plan, check(plan))
    first, detail = render_markdown([review])
    again, _ = render_markdown([review])
    assert first == again, "deterministic"
    assert len(first) <= GITHUB_COMMENT_LIMIT
    assert detail is Detail.COUNTS
    assert "over GitHub's 65,536-character comment limit: only counts are shown" in first
    assert_well_formed(first)
    assert "hunter" not in first
    medium = parse_plan(big_plan(300), "medium")
    listed, level = render_markdown([StackReview("medium", medium, [])])
    assert level is Detail.LIST and "attribute diffs are left out" in listed
    assert "- `aws_thing.item_0`" in listed


def test_text_uses_colour_only_when_asked() -> None:
    review = _review(FIXTURES / "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json")
    assert "\033[" not in render_text([review])
    coloured = render_text([review], color=True)
    assert "\033[31m-   \033[0maws_iam_policy.destroyed" in coloured


def test_json_review_is_complete_for_machines() -> None:
    review = _review(FIXTURES / "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json")
    data = json.loads(render_json([review]))
    assert data["counts"] == {
        "add": 1,
        "change": 3,
        "destroy": 1,
        "replace": 1,
        "import": 0,
        "move": 0,
        "forget": 0,
        "read": 0,
    }
    (stack,) = data["stacks"]
    assert {c["kind"] for c in stack["changes"]} == {"create", "update", "delete", "replace"}
    assert data["blocking"] == 0
