"""Review rendering: well-formed, masked, every destructive change named, each comment within GitHub's limit."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from benchmarks.plans import big_plan
from qualisys_infra.core.github_text import COMMENT_LIMIT
from qualisys_infra.plan.comment_parts import Comments
from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import Plan, load_plan, parse_plan
from qualisys_infra.plan.review import StackReview, must_name, summary_counts, summary_line
from qualisys_infra.plan.review_markdown import MARKER, render_comment, render_markdown
from qualisys_infra.plan.review_text import render_json, render_text
from tests.plan.conftest import FIXTURES, RealPlans
from tests.plan.terraform_data import tf, write_config

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))
LIATRIO = "liatrio_terraform-change-pr-commenter__test-data__tf_test4.json"
SNYK_DESTROY = "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json"


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


def destructive_addresses(plans: list[Plan]) -> list[str]:
    return [c.address for p in plans for c in p.changes if must_name(c)]


def assert_names_every_destructive_change(comments: Comments, plans: list[Plan], limit: int) -> None:
    named: set[str] = set()
    for part in comments:
        assert len(part) <= limit, f"a comment of {len(part):,} characters"
        assert_well_formed(part)
        named.update(re.findall(r"^- `([^`]+)`", part, re.M))  # in a list of names
        named.update(html.unescape(a) for a in re.findall(r"<summary><code>(.*?)</code>", part))  # with its diff
    missing = [a for a in destructive_addresses(plans) if a not in named]
    assert not missing, f"{len(missing)} destructive changes not named, e.g. {missing[:3]}"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_renders_one_comment_with_every_diff(name: str) -> None:
    comments = render_markdown([_review(FIXTURES / name)])
    assert len(comments) == 1
    assert (comments.named, comments.counted) == (0, 0), "a small plan shows every diff"
    assert_names_every_destructive_change(comments, [load_plan(FIXTURES / name)], COMMENT_LIMIT)
    assert summary_line(summary_counts([load_plan(FIXTURES / name)])) in comments.single
    assert "[!NOTE]" not in comments.single, "nothing left out, nothing to say"


@pytest.mark.parametrize("limit", [COMMENT_LIMIT, 12_000, 4_000])
def test_all_fixtures_name_every_destructive_change_at_any_limit(limit: int) -> None:
    reviews = [_review(FIXTURES / n) for n in FIXTURE_NAMES]
    comments = render_markdown(reviews, limit=limit)
    assert_names_every_destructive_change(comments, [r.plan for r in reviews], limit)
    joined = "\n".join(comments)
    for review in reviews:
        assert f"### `{review.name}`" in joined
    if len(comments) > 1:
        assert all(f"part {n} of {len(comments)}" in c for n, c in enumerate(comments, 1))


@pytest.mark.parametrize("resources", [5, 300, 3_000, 30_000])
def test_generated_plans_name_every_destructive_change_in_comments_within_the_limit(resources: int) -> None:
    plan = parse_plan(big_plan(resources, attributes=1 if resources > 3_000 else 12), "big")
    review = StackReview("big", plan, check(plan))
    comments = render_markdown([review])
    assert_names_every_destructive_change(comments, [plan], COMMENT_LIMIT)
    if resources <= 3_000:
        assert comments == render_markdown([review]), "deterministic"
    assert "hunter" not in "".join(comments), "sensitive values stay masked"
    first = comments[0]
    assert summary_line(summary_counts([plan])) in first, "the summary is always in the first comment"
    if resources == 5:
        assert len(comments) == 1 and comments.full == 5
    if resources == 300:  # one comment: destructive diffs first, every other change still named
        assert len(comments) == 1
        assert comments.full > 0 and comments.counted == 0
        assert re.search(r"Showing full diffs for \d+ of 263 changes; \d+ listed by name, to fit", first)
        assert "changes to update, by name</summary>" in first, "long lists of names are folded"
    if resources == 30_000:  # 15,000 names cannot fit in one comment: numbered comments, none cut
        parts = len(comments)
        assert parts > 1 and all(f"part {n} of {parts}" in c for n, c in enumerate(comments, 1))
        assert f"This review is split into {parts} comments" in first
        assert "_Counted by type, not listed:_" in "".join(comments)


def test_the_size_note_matches_what_is_shown() -> None:
    plan = parse_plan(big_plan(900), "big")
    comments = render_markdown([StackReview("big", plan, [])])
    note = re.search(r"Showing full diffs for (\d+) of (\d+) changes; (\d+) listed by name", comments.single)
    assert note, comments.single[:2000]
    full, total, named = (int(n) for n in note.groups())
    assert (full, named, total) == (comments.full, comments.named, comments.full + comments.named + comments.counted)
    assert comments.single.count("<details><summary><code>") == full


def test_full_review_has_every_diff_in_one_body() -> None:
    plan = parse_plan(big_plan(300), "big")
    (full,) = render_markdown([StackReview("big", plan, [])], limit=None)
    assert len(full) > COMMENT_LIMIT
    assert full.count("<details><summary><code>") == len([c for c in plan.changes if c.kind.value != "no-op"])
    assert "[!NOTE]" not in full


def test_render_comment_is_the_single_comment_and_refuses_a_split() -> None:
    review = _review(FIXTURES / LIATRIO)
    assert render_comment([review]) == render_markdown([review])[0]
    plan = parse_plan(big_plan(3_000), "big")
    with pytest.raises(ValueError, match=r"split into \d+ comments"):
        render_comment([StackReview("big", plan, [])], limit=20_000)


def test_destroy_and_replace_banners_are_red_and_findings_are_alerts() -> None:
    markdown = render_comment([_review(FIXTURES / LIATRIO)])
    assert "> [!CAUTION]\n> **1 resource will be destroyed and 1 replaced.**" in markdown
    assert markdown.index("🗑️ Destroy") < markdown.index("♻️ Replace") < markdown.index("✏️ Update")
    blocked = render_comment([_review(FIXTURES / SNYK_DESTROY)])
    assert "> [!CAUTION]\n> **1 blocking guardrail finding:** `deploy` refuses this plan as it is." in blocked
    assert "> **8 resources will be destroyed.** Read the Destroy section before approving." in blocked
    assert "and 0 replaced" not in blocked, "zero counts are not mentioned"
    # the hint: code, on its own line, in a block that does not wrap
    assert "re-run with:\n>   ```\n>   --allow-destroy aws_s3_bucket.terra_ci\n>   ```" in blocked
    assert "[!WARNING]" not in blocked


def test_warnings_are_yellow_and_blocking_findings_are_not() -> None:
    plan = load_plan(FIXTURES / SNYK_DESTROY)
    allowed = render_comment([StackReview("s", plan, check(plan, allow_destroy=["aws_s3_bucket.terra_ci"]))])
    assert "> [!WARNING]\n> **1 guardrail warning:**" in allowed
    assert "blocking guardrail" not in allowed


def test_markdown_masks_sensitive_values(real_plans: RealPlans) -> None:
    plan = parse_plan(real_plans.second, "second")
    review = StackReview("terraform-data", plan, check(plan))
    markdown = render_comment([review])
    text = render_text([review])
    machine = render_json([review])
    for rendered in (markdown, text, machine, render_markdown([review], limit=None)[0]):
        assert "s3cr3t-value-never-shown" not in rendered
        assert "(sensitive value)" in rendered
    assert "(known after apply)" in markdown
    assert "moved from terraform_data.old_name" in markdown
    assert "🫥 Forget" in markdown
    assert "replace (create first)" in markdown and "replace (create first)" in text


def test_fixture_sensitive_value_never_reaches_the_comment() -> None:
    path = FIXTURES / "borchero_terraform-plan-comment__tests__fixtures__basic__1-modify__plan.json"
    markdown = render_comment([_review(path)])
    assert "foo-42" not in markdown
    assert "+ content = (sensitive value)   # forces replacement" in markdown


def test_text_uses_colour_only_when_asked() -> None:
    review = _review(FIXTURES / LIATRIO)
    assert "\033[" not in render_text([review])
    coloured = render_text([review], color=True)
    assert "\033[31m-   \033[0maws_iam_policy.destroyed" in coloured
    changed = next(line for line in coloured.splitlines() if '~ Action = "s3:Get*" -> "s3:*"' in line)
    assert changed.lstrip().startswith("\033[33m"), "a changed value is yellow"


def test_json_review_is_complete_for_machines() -> None:
    review = _review(FIXTURES / LIATRIO)
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
    assert data["blocking"] == 5  # s3:* and s3:Get* on "*" (G004, G018): test_guardrails.EXPECTED_BLOCKING
    policy = next(c for c in stack["changes"] if c["address"] == "aws_iam_policy.changed")["attributes"]
    assert '                ~ Action = "s3:Get*" -> "s3:*"' in policy[0]["lines"]


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
    """What Markdown reads as text or HTML: the lines outside code fences (also those inside a quote or a
    list item), without their code spans."""
    in_fence, kept = "", []
    for line in markdown.splitlines():
        bare = line.lstrip("> ").lstrip() if line.startswith(">") else line
        if not in_fence and bare.startswith("```"):
            in_fence = bare[: len(bare) - len(bare.lstrip("`"))]
        elif in_fence and bare.strip() == in_fence:
            in_fence = ""
        elif not in_fence:  # an HTML block line (the template's <details>) is HTML, not Markdown
            kept.append(line if line.startswith("<") else _code_spans(line)[1])
    return "\n".join(kept)


@pytest.mark.parametrize("full", [True, False])
def test_fails_if_a_plan_value_escapes_its_place_in_the_comment(full: bool) -> None:
    review = _hostile_review()
    comments = render_markdown([review], limit=65_000 if full else 4_000)
    assert len(comments) == 1
    markdown = comments.single
    assert comments.full == (4 if full else 0), (comments.full, comments.named, comments.counted)
    assert_well_formed(markdown)
    lines = markdown.splitlines()
    text = readable(markdown)
    # HTML: the only tags and comments are the layout's own.
    summaries = 4 if full else 0  # three changes and one drifted object, each with its diff
    folds = 0 if full else 1  # the names of drifted objects are folded
    assert text.count("<!--") == 1, "only the marker"
    assert text.count("<details>") == summaries + folds
    assert text.count("</details>") == summaries + folds
    assert text.count("</summary>") == summaries + folds
    assert text.count("</code>") == summaries
    assert not re.search(r"(?<!\\)<(img|b)\b", text), "HTML from the plan is escaped"
    # Headings: only the layout's.
    assert [line for line in lines if line.startswith("#")] == [
        line for line in lines if re.match(r"#+ (Terraform plan review|`|\S+ \w|Outputs)", line)
    ]
    assert not any(line.lstrip().startswith("# Approved") for line in lines)
    # Fences: each opens with a fence longer than any backtick run inside it, and closes with it.
    fence = ""
    fences = 0
    for line in lines:
        bare = line.lstrip("> ").lstrip() if line.startswith(">") else line
        if bare.startswith("```"):
            fences += 1
            fence = "" if fence else bare.removesuffix("diff")
        elif fence and "`" in bare:
            assert len(fence) > max(len(run) for run in re.findall(r"`+", bare)), (fence, line)
    assert fences == (2 * summaries + 2), "every diff, and the --allow-destroy hint"
    # Table rows keep their columns; code spans hold the value exactly (line breaks written as \n).
    for line in lines:
        if line.startswith("|") and "---" not in line:
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) == 4, line
    spans = [span for line in lines for span in _code_spans(line)[0]]
    assert f'aws_iam_role.r["{CELL}"]'.replace("\n", "\\n") in spans or full
    assert f"stack{HOSTILE}`|" in spans
    # Mentions and links are escaped text.
    prose = re.sub(r"<code>.*?</code>", "", text)  # GitHub finds no mention in code
    assert "@team" not in prose
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


def test_a_plan_shows_its_inputs_but_never_a_sensitive_one(tmp_path: Path) -> None:
    """A release is a plan whose input (the image tag) changed: every rendering names the inputs
    the plan was made with (a real plan by Terraform core), and leaves sensitive ones out."""
    write_config(
        tmp_path,
        {
            "variable": {
                "hello_image_tag": {"type": "string"},
                "token": {"type": "string", "sensitive": True},
            },
            "resource": {"terraform_data": {"hello": {"input": "${var.hello_image_tag}"}}},
        },
    )
    tf(tmp_path, "init", "-input=false", "-no-color")
    tf(tmp_path, "plan", "-input=false", "-no-color", "-var=hello_image_tag=0123abc", "-var=token=hunter22", "-out=p")
    shown = tf(tmp_path, "show", "-json", "-no-color", "p").stdout
    (tmp_path / "p.json").write_text(shown, encoding="utf-8")
    plan = load_plan(tmp_path / "p.json")
    assert dict(plan.inputs) == {"hello_image_tag": "0123abc"}
    reviews = [StackReview(name="staging-apps", plan=plan)]
    markdown = render_markdown(reviews).single
    assert "Inputs: `hello_image_tag` = `0123abc`" in markdown
    assert "inputs: hello_image_tag = 0123abc" in render_text(reviews)
    assert json.loads(render_json(reviews))["stacks"][0]["inputs"] == {"hello_image_tag": "0123abc"}
    for text in (markdown, render_text(reviews), render_json(reviews)):
        assert "hunter22" not in text
