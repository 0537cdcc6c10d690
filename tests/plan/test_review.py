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
    text = readable(markdown)
    assert text.count("<details>") == text.count("</details>")
    fences = [line for line in markdown.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0, "every code fence is closed"
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


# --- values from the plan cannot break out of their place in the comment ------------------------------------

HOSTILE = "x</code></summary></details><!--"
FENCE = "v```\n</details>\n\n# Approved <img src=x onerror=alert(1)>"
CELL = "a|b`c\nd @team [link](https://evil.example) ![i](https://evil.example/t.png) <b>"


def _hostile_review() -> StackReview:
    resource = {"type": "aws_iam_role", "name": "r", "mode": "managed", "provider_name": "aws"}
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    **resource,
                    "address": f'aws_iam_role.r["{HOSTILE}"]',
                    "change": {
                        "actions": ["update"],
                        "before": {"tags": "a", FENCE: 1},
                        "after": {"tags": FENCE, FENCE: 2},
                    },
                },
                {
                    **resource,
                    "address": f'aws_iam_role.r["{CELL}"]',
                    "action_reason": HOSTILE,
                    "previous_address": FENCE,
                    "change": {"actions": ["delete", "create"], "before": {"n": CELL}, "after": {"n": "```"}},
                },
                {
                    **resource,
                    "type": "aws_s3_bucket",
                    "address": f'aws_s3_bucket.b["{CELL}{HOSTILE}"]',
                    "change": {"actions": ["delete"], "before": {"bucket": HOSTILE}, "after": None},
                },
            ],
            "resource_drift": [
                {
                    **resource,
                    "address": f"aws_iam_role.d{HOSTILE}",
                    "change": {"actions": ["update"], "before": {}, "after": {CELL: 1}},
                }
            ],
            "output_changes": {
                CELL: {"actions": ["update"], "before": HOSTILE, "after": FENCE},
            },
        },
        "hostile",
    )
    return StackReview(f"stack{HOSTILE}`|", plan, check(plan, stack=f"stack{CELL}"))


def _code_spans(line: str) -> tuple[list[str], str]:
    """The contents of the inline code spans of one line (CommonMark: matching backtick runs), and the
    line without them (what Markdown reads as text or HTML)."""
    spans, outside, i = [], [], 0
    while (start := line.find("`", i)) != -1:
        backslashes = len(line[:start]) - len(line[:start].rstrip("\\"))
        if backslashes % 2:  # an escaped backtick opens nothing
            i = start + 1
            continue
        run = len(line[start:]) - len(line[start:].lstrip("`"))
        end = line.find("`" * run, start + run)
        while end != -1 and line[end + run : end + run + 1] == "`":
            end = line.find("`" * run, end + run + 1)
        if end == -1:
            break
        content = line[start + run : end]
        spans.append(
            content[1:-1] if content.startswith(" ") and content.endswith(" ") and content.strip() else content
        )
        outside.append(line[i:start])
        i = end + run
    return spans, "".join(outside) + line[i:]


def readable(markdown: str) -> str:
    """What Markdown reads as text or HTML: the lines outside code fences, without their code spans."""
    in_fence, kept = "", []
    for line in markdown.splitlines():
        if not in_fence and line.startswith("```"):
            in_fence = line[: len(line) - len(line.lstrip("`"))]
        elif in_fence and line.strip() == in_fence:
            in_fence = ""
        elif not in_fence:  # an HTML block line (the template's <details>) is HTML, not Markdown
            kept.append(line if line.startswith("<") else _code_spans(line)[1])
    return "\n".join(kept)


@pytest.mark.parametrize("detail", [Detail.FULL, Detail.LIST])
def test_fails_if_a_plan_value_escapes_its_place_in_the_comment(detail: Detail) -> None:
    review = _hostile_review()
    limit = {Detail.FULL: 65_000, Detail.LIST: 2_400}[detail]
    markdown, rendered = render_markdown([review], limit=limit)
    assert rendered is detail
    assert_well_formed(markdown)
    lines = markdown.splitlines()
    text = readable(markdown)
    # HTML: the only tags and comments are the template's own.
    summaries = 3 if detail is Detail.FULL else 0
    assert text.count("<!--") == 1, "only the marker"
    assert text.count("<details>") == summaries + 1  # + the drift list
    assert text.count("</details>") == summaries + 1
    assert text.count("</summary>") == summaries + 1
    assert text.count("</code>") == summaries
    assert not re.search(r"(?<!\\)<(img|b)\b", text), "HTML from the plan is escaped"
    # Headings: only the template's.
    assert [line for line in lines if line.startswith("#")] == [
        line for line in lines if re.match(r"#+ (Terraform plan review|Guardrails|`|[^\w\s]+ \w|Outputs)", line)
    ]
    assert not any(line.lstrip().startswith("# Approved") for line in lines)
    # Fences: each diff block opens with a fence longer than any backtick run inside it, and closes with it.
    fences = [line for line in lines if line.startswith("```")]
    if detail is Detail.FULL:
        assert len(fences) == 6 and fences[0].endswith("diff")
        fence = ""
        for line in lines:
            if line.startswith("```"):
                fence = "" if fence else line.removesuffix("diff")
            elif fence and "`" in line:
                assert len(fence) > max(len(run) for run in re.findall(r"`+", line)), (fence, line)
    else:
        assert fences == []
    # Table rows keep their columns; code spans hold the value exactly (line breaks written as \n).
    for line in lines:
        if line.startswith("|") and "---" not in line:
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (4, 5, 8), line
    spans = [span for line in lines for span in _code_spans(line)[0]]
    assert f'aws_iam_role.r["{CELL}"]'.replace("\n", "\\n") in spans or detail is Detail.FULL
    assert f"stack{HOSTILE}`|" in spans
    # Mentions and links are escaped text.
    prose = re.sub(r"<code>.*?</code>", "", text)  # GitHub finds no mention in code
    assert "@team" not in prose and "\\@\u2060team" in prose
    assert "](https://evil.example)" not in prose


def test_text_review_never_sends_terminal_escape_sequences() -> None:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": 'aws_s3_bucket.b["\x1b]0;pwned\x07\x1b[2J"]',
                    "type": "aws_s3_bucket",
                    "change": {"actions": ["delete"], "before": {"bucket": "\x1b[31m"}, "after": None},
                }
            ],
        },
        "escape",
    )
    text = render_text([StackReview("s\x1b[1m", plan, check(plan))])
    assert "\x1b" not in text and "\x07" not in text
    assert 'aws_s3_bucket.b["\\u001b]0;pwned\\u0007\\u001b[2J"]' in text
