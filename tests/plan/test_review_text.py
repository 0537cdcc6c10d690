"""The text review: one line per fact, on every fixture plan (issue 28: the stack header, the
``inputs:`` line and the first change ran together on one line), and the template rule that keeps it so."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import SYMBOL, load_plan
from qualisys_infra.plan.review import StackReview, listed_changes, summary_counts, summary_line
from qualisys_infra.plan.review_text import render_text
from tests.plan.conftest import FIXTURES

FIXTURE_PATHS = sorted(FIXTURES.glob("*.json"))
_BLOCK_TAG = re.compile(r"\{%-?.*?-?%\}")


def _review(path: Path, *, refreshed: bool = True) -> StackReview:
    plan = load_plan(path)
    name = path.stem[:40]
    return StackReview(name, plan, check(plan, stack=name), refreshed=refreshed)


def line_end_problems(template: str) -> list[str]:
    """Lines of a Jinja template where a block tag shares its line with output (or another tag):
    with ``trim_blocks`` such a tag swallows the line end, and two lines of output run together."""
    problems = []
    for number, line in enumerate(template.splitlines(), 1):
        tags = _BLOCK_TAG.findall(line)
        if tags and (len(tags) > 1 or line.strip() != tags[0]):
            problems.append(f"{number}: {line.strip()}")
    return problems


def test_every_block_tag_of_every_template_stands_alone_on_its_line() -> None:
    templates = resources.files("qualisys_infra.plan") / "templates"
    names = [t.name for t in templates.iterdir() if t.name.endswith(".j2")]
    assert names, "no template found"
    for name in names:
        assert line_end_problems((templates / name).read_text(encoding="utf-8")) == [], name


def test_the_rule_finds_a_tag_after_output() -> None:
    planted = "{% for s in stacks %}\n{{ s.name }}{% if s.x %} (x){% endif %}\n{% endfor %}\n"
    assert line_end_problems(planted) == ["2: {{ s.name }}{% if s.x %} (x){% endif %}"]


def test_fixtures_are_there() -> None:
    assert len(FIXTURE_PATHS) >= 20


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[p.name[:60] for p in FIXTURE_PATHS])
def test_header_inputs_and_each_change_are_lines_of_their_own(path: Path) -> None:
    review = _review(path)
    plan = review.plan
    lines = render_text([review]).splitlines()
    header = f"{review.name}: {summary_line(summary_counts([plan]))}"
    header += "" if plan.has_changes else " (no changes)"
    assert header in lines, f"no line is exactly the stack header {header!r}"
    if plan.inputs:
        inputs = "  inputs: " + ", ".join(f"{k} = {v}" for k, v in plan.inputs.items())
        assert inputs in lines
    for change in listed_changes(plan):
        start = "  " + f"{SYMBOL[change.kind]:<4}" + change.label
        assert any(line.startswith(start) for line in lines), f"no line starts with {start!r}"
    header_at = lines.index(header)
    following = lines[header_at + 1 : header_at + 3]
    for line in following:  # what follows the header starts lines of its own
        assert not line.startswith(review.name), line


def test_a_scope_note_is_a_line_of_its_own() -> None:
    review = _review(FIXTURE_PATHS[0], refreshed=False)
    lines = render_text([review]).splitlines()
    header_at = next(n for n, line in enumerate(lines) if line.startswith(f"{review.name}: Plan:"))
    assert lines[header_at + 1].startswith("  note: planned without refresh")
    assert lines[header_at + 2].startswith("  inputs: ")
