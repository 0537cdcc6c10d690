"""Text that goes into GitHub: one set of escaping rules (core.github_text), the same in every renderer.

The first tests hold the rules themselves. The last ones put each class of special character into
the same kind of place in every renderer that writes for GitHub (the plan review, the test report
and its HTML page, the release summary) and check that each writes exactly what
:mod:`qualisys_infra.core.github_text` makes of it: a renderer with an escaper of its own fails.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands.release import Release
from qualisys_infra.core.github_text import (
    COMMENT_LIMIT,
    NO_MENTION,
    STEP_SUMMARY_LIMIT,
    clip,
    fence_for,
    html_text,
    md_code,
    md_text,
    shown,
)
from qualisys_infra.delivery.cobertura import Coverage
from qualisys_infra.delivery.junit import TestCase, TestRun
from qualisys_infra.delivery.report import Report, render_markdown
from qualisys_infra.delivery.report_html import render_html
from qualisys_infra.delivery.signoff import Step, Verdict
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown as render_review

# One value per class of character that means something in Markdown, HTML or a terminal.
CLASSES: dict[str, str] = {
    "emphasis and headings": "# *bold* _it_ ~~gone~~",
    "links and images": "[x](https://evil.example) ![i](https://evil.example/i.png)",
    "html": '<img src=x onerror="alert(1)"> &amp; <!-- hidden -->',
    "table pipe": "a | b || c",
    "backticks": "``` `code` ``",
    "mention": "ping @octocat and @org/team",
    "line breaks": "first\nsecond\r\nthird\ttab",
    "bidirectional and invisible": "admin\u202etxt.exe\u200b\u2066x\u2069",
    "control": "\x1b[31mred\x1b[0m\x00",
}


def test_limits_are_githubs() -> None:
    assert COMMENT_LIMIT == 65_536
    assert STEP_SUMMARY_LIMIT == 1_048_576


def test_shown_is_one_printable_line_and_idempotent() -> None:
    for value in CLASSES.values():
        line = shown(value)
        assert line.isprintable() and "\n" not in line
        assert shown(line) == line
    assert shown("a\u202eb\nc") == "a\\u202eb\\nc"


def test_md_text_escapes_every_ascii_punctuation_and_every_mention() -> None:
    punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    escaped = md_text(punctuation)
    assert re.fullmatch(r"(\\.\u2060?)+", escaped)
    assert md_text("@octocat") == "\\@" + NO_MENTION + "octocat"
    assert md_text("plain words 42") == "plain words 42"


def test_md_code_is_one_span_whatever_it_holds() -> None:
    assert md_code("aws_s3_bucket.state") == "`aws_s3_bucket.state`"
    assert md_code("a ``b`` c") == "```a ``b`` c```"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b") == "`a|b`"
    assert md_code("a|b", in_table=True) == "`a\\|b`"
    assert md_code("x\ny") == "`x\\ny`"


def test_html_text_uses_entities_and_breaks_mentions_outside_code() -> None:
    assert html_text("<b>&\"'@x") == "&lt;b&gt;&amp;&quot;&#x27;@" + NO_MENTION + "x"
    assert html_text("@x", in_code=True) == "@x"


def test_fence_and_clip() -> None:
    assert fence_for(["a", "b ``` c", "````"]) == "`````"
    assert fence_for(["plain"]) == "```"
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


# --- every renderer writes what core.github_text makes of a value ----------------------------------------


def _plan(output_name: str) -> Any:
    document = {
        "format_version": "1.2",
        "resource_changes": [],
        "output_changes": {
            output_name: {
                "actions": ["create"],
                "before": None,
                "after": "v",
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": False,
            }
        },
    }
    return parse_plan(document, "test.json")


def _plan_review(value: str) -> str:
    finding = Finding("G999", Severity.WARNING, value, value, blocking=False)
    review = StackReview("stack", _plan(value), (finding,))
    return render_review([review]).single


def _report(value: str) -> Report:
    case = TestCase("", value, 1.0, "failed", message="boom")
    return Report("tests", value, TestRun((case,), (1.0,)), Coverage())


def _release_summary(value: str, tmp_path: Path) -> str:
    release = Release(service="hello", tag="v1", env="dev", app_url="https://x", repository="r", region="eu")
    release.steps.append(Step(value, Verdict.PASSED, value))
    summary = tmp_path / "summary.md"
    release.write_summary({"GITHUB_STEP_SUMMARY": str(summary)})
    return summary.read_text(encoding="utf-8")


# (renderer, how the value lands there): each renderer's output must hold the shared rule's text.
Renderer = Callable[[str, Path], str]
RENDERERS: dict[str, tuple[Renderer, Callable[[str], str]]] = {
    "plan review: finding message": (lambda v, _: _plan_review(v), md_text),
    "plan review: finding address": (lambda v, _: _plan_review(v), md_code),
    "plan review: output name in a table": (lambda v, _: _plan_review(v), lambda v: md_code(v, in_table=True)),
    "test report: title": (lambda v, _: render_markdown(_report(v)), md_text),
    "test report: failed test": (lambda v, _: render_markdown(_report(v)), md_code),
    "test report: slowest test in a table": (
        lambda v, _: render_markdown(_report(v)),
        lambda v: md_code(v, in_table=True),
    ),
    "test report page: title": (lambda v, _: render_html(_report(v)), html_text),
    "test report page: failed test": (lambda v, _: render_html(_report(v)), lambda v: html_text(v, in_code=True)),
    "release summary: smoke check": (_release_summary, md_text),
}


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_every_renderer_escapes_each_class_by_the_shared_rule(kind: str, renderer: str, tmp_path: Path) -> None:
    render, rule = RENDERERS[renderer]
    value = CLASSES[kind]
    assert rule(value) in render(value, tmp_path), f"{renderer} escapes {kind} its own way"


def test_a_renderer_with_its_own_escaper_is_caught() -> None:
    """The check above fails for an escaper with other rules, e.g. the test report's old one."""

    def old_report_text(text: str) -> str:
        return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(" ".join(text.split()), quote=False))

    differs = [kind for kind, value in CLASSES.items() if md_text(value) not in f"## {old_report_text(value)}"]
    assert len(differs) >= 5, differs
