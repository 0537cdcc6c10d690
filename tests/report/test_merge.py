"""Merging the shards' JUnit XML and coverage.xml (real files, from pytest and coverage.py), and rendering them."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qualisys_infra.core.github_text import COMMENT_LIMIT
from qualisys_infra.delivery.cobertura import coverage_xml, read_coverage
from qualisys_infra.delivery.github import fold, sticky_bodies
from qualisys_infra.delivery.junit import TestCase, TestRun, read_junit
from qualisys_infra.delivery.report import (
    Report,
    ReportData,
    build_report,
    parse_report_data,
    render_markdown,
    report_data_line,
)
from qualisys_infra.delivery.report_html import render_html
from qualisys_infra.delivery.safe_xml import ReportInputError
from tests.report.conftest import OPS_LINES, SHARD_1_COVERED, SHARD_2_COVERED, Shards


def test_counts_every_test_case_of_both_shards_as_pytest_does(shards: Shards) -> None:
    run = read_junit(shards.junit)
    assert (run.passed, run.failed, run.errors, run.skipped, run.total) == (7, 3, 2, 2, 14)
    assert len(run.shard_seconds) == 2 and run.seconds >= 0.3  # test_slow sleeps 0.3 s
    assert [c.id for c in run.slowest(1)] == ["tests.test_b::test_slow"]
    problems = {(c.id, c.outcome): c.first_line for c in run.problems()}
    assert problems == {
        ("tests.test_b::test_wrong", "failed"): "AssertionError: minus five is not positive",
        ("tests.test_c::test_error", "error"): 'failed on setup with "RuntimeError: fixture broke"',
        ("tests.test_c::test_fail_then_teardown", "failed"): "AssertionError: first",
        ("tests.test_c::test_fail_then_teardown", "error"): 'failed on teardown with "RuntimeError: teardown broke"',
        ("tests.test_c::test_markup", "failed"): (
            "AssertionError: <script>alert(1)</script> | `tick` <!-- qualisys-report-data {} -->"
        ),
    }
    assert run.duplicates() == []


def test_each_shard_alone_is_what_pytest_reported(shards: Shards) -> None:
    one, two = (read_junit([path]) for path in shards.junit)
    assert (one.passed, one.failed, one.errors, one.skipped) == (4, 0, 0, 0)
    assert (two.passed, two.failed, two.errors, two.skipped) == (3, 3, 2, 2)
    for path, run in zip(shards.junit, (one, two), strict=True):
        suite = ET.parse(path).getroot().find("testsuite")  # noqa: S314 - our own test output
        assert suite is not None
        assert int(suite.get("tests", "-1")) == run.total
        assert int(suite.get("failures", "-1")) == run.failed and int(suite.get("errors", "-1")) == run.errors


def test_coverage_of_the_same_file_is_the_union_of_the_shards_lines_and_branches(shards: Shards) -> None:
    one, two = (read_coverage([path]).files["calc/ops.py"] for path in shards.coverage)
    assert {n for n, hit in one.lines.items() if hit} == SHARD_1_COVERED
    assert {n for n, hit in two.lines.items() if hit} == SHARD_2_COVERED
    merged = read_coverage(shards.coverage)
    ops = merged.files["calc/ops.py"]
    assert set(ops.lines) == OPS_LINES
    assert {n for n, hit in ops.lines.items() if hit} == SHARD_1_COVERED | SHARD_2_COVERED  # 10 of 12
    # `if x > 0` (line 2): one side per shard, both in the union; `if x < 0` (line 4): shard 1 never ran it.
    assert (one.branches[2].covered, two.branches[2].covered, ops.branches[2].covered) == (1, 1, 2)
    assert (one.branches[4].covered, two.branches[4].covered, ops.branches[4].covered) == (0, 1, 1)
    assert (merged.lines_covered, merged.lines_valid, merged.branches_covered, merged.branches_valid) == (10, 12, 3, 4)
    assert merged.percent == pytest.approx(100 * 13 / 16)  # not the average (59.4) nor the better shard (62.5)
    assert merged.line_rate == pytest.approx(10 / 12) and merged.branch_rate == pytest.approx(3 / 4)
    assert read_coverage(list(reversed(shards.coverage))).percent == merged.percent


def test_the_merged_coverage_file_reads_back_as_the_same_union(shards: Shards, tmp_path: Path) -> None:
    merged = read_coverage(shards.coverage)
    out = tmp_path / "coverage.xml"
    out.write_text(coverage_xml(merged), encoding="utf-8")
    again = read_coverage([out])
    assert again.percent == merged.percent
    assert again.files["calc/ops.py"].lines == merged.files["calc/ops.py"].lines
    assert again.files["calc/ops.py"].branches == merged.files["calc/ops.py"].branches
    root = ET.parse(out).getroot()  # noqa: S314 - written just above
    assert root.get("lines-covered") == "10" and root.get("branches-covered") == "3"
    # merging it once more with a shard changes nothing: a union is idempotent
    assert read_coverage([out, shards.coverage[0]]).percent == merged.percent


def test_against_a_baseline_the_change_and_the_files_that_dropped(shards: Shards, baseline_a: Path) -> None:
    up = build_report("tests", "T", shards.junit, shards.coverage, baseline=baseline_a)
    assert up.baseline_percent == round(100 * 8 / 16, 2)  # test_a alone: 7 lines and 1 branch
    assert up.delta == round(100 * 13 / 16 - 50.0, 2) and up.drops() == []
    assert "▲ +31.25 against main (50.00 %)" in render_markdown(up)

    down = build_report("tests", "T", shards.junit, [baseline_a], baseline=shards.coverage[1])
    assert down.delta == round(50.0 - 100 * 10 / 16, 2)
    [drop] = down.drops()
    assert (drop.filename, drop.before, drop.after) == ("calc/ops.py", 62.5, 50.0)
    markdown = render_markdown(down)
    assert "▼ -12.50 against main (62.50 %)" in markdown
    assert (
        "### Coverage dropped (1 file)" in markdown and "| `calc/ops.py` | 62.50 % | 50.00 % | ▼ -12.50 |" in markdown
    )

    same = build_report("tests", "T", shards.junit, shards.coverage, baseline=shards.coverage[0], min_coverage=80)
    assert same.coverage_ok and not same.ok  # the tests failed; coverage 81.25 is above 80


def test_markdown_verdict_counts_failures_slowest_and_the_hidden_lines(shards: Shards) -> None:
    report = build_report("tests", "Infra <tests> *now*", shards.junit, shards.coverage, min_coverage=90)
    markdown = render_markdown(report)
    first, heading = markdown.splitlines()[:2]
    assert first == (
        '<!-- qualisys-report-data {"passed":7,"failed":3,"errors":2,"skipped":2,"coverage":81.25,"min_coverage":90} -->'
    )
    assert heading == r"## ❌ Infra \<tests\> \*now\*: failed"  # the shared rule: core.github_text.md_text
    assert "**Failed**: 3 failed tests and 2 errors; coverage 81.25 % is below the minimum 90 %." in markdown
    assert "| 7 | 3 | 2 | 2 | 14 |" in markdown
    assert "**Coverage 81.25 %** · lines 10/12 · branches 3/4 · 2 files · minimum 90 % (below)" in markdown
    assert "### Failed (5)" in markdown
    assert "- `tests.test_b::test_wrong` — `AssertionError: minus five is not positive`" in markdown
    assert '- `tests.test_c::test_error` (error) — `failed on setup with "RuntimeError: fixture broke"`' in markdown
    assert "The 10 slowest tests" in markdown and "| `tests.test_b::test_slow` |" in markdown
    slow_rows = [line for line in markdown.splitlines() if line.startswith("| `tests.")]
    assert len(slow_rows) == 10 and slow_rows[0].startswith("| `tests.test_b::test_slow` |")
    # what a test wrote stays inside code spans: never a tag, never a table cell, never a data line
    markup = next(line for line in markdown.splitlines() if "test_markup" in line)
    assert markup.startswith("- `tests.test_c::test_markup` — ``AssertionError: <script>")  # core.github_text.md_code
    assert markup.endswith(" -->``")
    assert [line for line in markdown.splitlines() if line.startswith("<!-- qualisys-report-data")] == [first]
    assert parse_report_data(markdown) == ReportData(7, 3, 2, 2, 81.25, 90.0)


def test_a_passing_run_says_passed(shards: Shards) -> None:
    report = build_report("tests", "Unit", shards.junit[:1], shards.coverage[:1])
    assert report.ok and report.reasons() == []
    markdown = render_markdown(report)
    assert markdown.splitlines()[1] == "## ✅ Unit: passed"
    assert "### Failed" not in markdown and "Coverage dropped" not in markdown
    assert parse_report_data(markdown) == ReportData(4, 0, 0, 0, round(100 * 8 / 16, 2), None)


def test_a_missing_shard_counts_as_an_error(shards: Shards) -> None:
    report = build_report("tests", "T", shards.junit[:1], shards.coverage[:1], shards=2)
    assert not report.ok and report.tests.errors == 1 and report.tests.total == 5
    assert "1 shard of 2 sent no test results" in render_markdown(report)
    assert "1 shard sent no test results" in render_html(report)


def test_a_run_with_no_test_fails_it_proves_nothing(shards: Shards, tmp_path: Path) -> None:
    empty = tmp_path / "junit-empty.xml"
    empty.write_text('<testsuites><testsuite name="pytest" tests="0" time="0.1"/></testsuites>', encoding="utf-8")
    report = build_report("tests", "T", [empty], shards.coverage[:1])
    assert not report.ok and report.reasons() == ["no test ran"]


def test_errors_a_suite_declares_beyond_its_test_cases_count(shards: Shards, tmp_path: Path) -> None:
    """A crash outside any test (pytest's internal error, a killed worker) can leave a suite that says
    errors="1" with no <testcase> carrying it: that is an error, not a pass."""
    crashed = tmp_path / "junit-crashed.xml"
    crashed.write_text(
        '<testsuite name="pytest" errors="1" failures="0" tests="1" time="0.2">'
        '<testcase classname="t" name="test_ok" time="0.1"/></testsuite>',
        encoding="utf-8",
    )
    report = build_report("tests", "T", [crashed], shards.coverage[:1])
    assert report.tests.passed == 1 and report.tests.errors == 1 and not report.ok
    assert report.reasons() == ["1 error"]


def test_a_test_in_two_shards_is_named(shards: Shards) -> None:
    run = read_junit([shards.junit[0], shards.junit[0]])
    assert run.passed == 8 and len(run.duplicates()) == 0  # the same file twice is one source
    copy = shards.project / "copy-of-junit-1.xml"
    copy.write_bytes(shards.junit[0].read_bytes())
    run = read_junit([shards.junit[0], copy])
    assert len(run.duplicates()) == 4
    report = Report("tests", "T", run, read_coverage(shards.coverage))
    assert "4 tests ran in more than one shard" in render_markdown(report)


def test_html_is_self_contained_and_escapes_everything(shards: Shards, baseline_a: Path) -> None:
    report = build_report("tests", "Infra <b>", shards.junit, shards.coverage, baseline=baseline_a, min_coverage=90)
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link|img)\b|src=|href=", page), "no script, no external resource"
    assert "<script>" not in page and html.escape("<script>alert(1)</script>") in page
    assert "<title>Infra &lt;b&gt;: failed</title>" in page
    assert "RuntimeError: teardown broke" in page  # the traceback, in full
    assert "<code>calc/ops.py</code>" in page and "81.25 %" in page and "+31.25" in page
    assert _unbalanced(page) == []


class _Tags(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> closes nothing open")


def _unbalanced(page: str) -> list[str]:
    """Tags closed out of order or left open: an escape that went missing shows up here."""
    tags = _Tags()
    tags.feed(page)
    tags.close()
    return tags.problems + [f"<{tag}> left open" for tag in tags.open]


def test_report_data_round_trips_and_malformed_lines_are_none() -> None:
    data = ReportData(1_071, 0, 0, 10, 87.31, 80.0)
    line = report_data_line(data)
    assert line == (
        '<!-- qualisys-report-data {"passed":1071,"failed":0,"errors":0,"skipped":10,"coverage":87.31,'
        '"min_coverage":80.0} -->'
    )
    assert parse_report_data(f"<!-- qualisys-report:tests -->\n{line}\n## Tests\n") == data
    assert parse_report_data(line.replace("80.0", "null")) == ReportData(1_071, 0, 0, 10, 87.31, None)
    assert data.ok and not ReportData(1, 0, 1, 0, 99.0).ok and not ReportData(1, 0, 0, 0, 79.9, 80.0).ok
    for broken in (
        "no data line here",
        line.replace('"passed":1071', '"passed":-1'),
        line.replace('"failed":0', '"failed":true'),
        line.replace('"coverage":87.31', '"coverage":"87"'),
        line.replace("}", ""),
        "> " + line,  # quoted, not a line of its own
        line.replace("{", "[", 1),
        "<!-- qualisys-report-data {not json} -->",
    ):
        assert parse_report_data(broken) is None, broken


def _case(n: int) -> TestCase:
    return TestCase("tests.test_many", f"test_{n:05d}", 0.01, "failed", message=f"AssertionError: {'x' * 150} {n}")


def test_an_oversized_report_folds_into_parts_that_fit_one_comment(shards: Shards) -> None:
    run = TestRun(tuple(_case(n) for n in range(1_500)), (1.0,))
    report = Report("tests", "Many", run, read_coverage(shards.coverage))
    markdown = render_markdown(report)
    assert "- … and 500 more" in markdown  # at most 1,000 failures in the comment
    parts = sticky_bodies("qualisys-report:tests", fold(markdown))
    assert len(parts) > 2 and all(len(p) <= COMMENT_LIMIT for p in parts)
    assert parts[0].splitlines()[:2] == ["<!-- qualisys-report:tests part=1 -->", report_data_line(report.data())]
    assert parts[1].startswith(f"<!-- qualisys-report:tests part=2 -->\n_(part 2 of {len(parts)}")
    listed = [line for p in parts for line in p.splitlines() if line.startswith("- `tests.test_many::")]
    assert len(listed) == 1_000 and len(set(listed)) == 1_000, "every listed failure once, none cut"
    full = render_markdown(report, max_failures=None)
    assert sum(1 for line in full.splitlines() if line.startswith("- `tests.test_many::")) == 1_500


def test_fold_closes_and_reopens_a_fence_and_details_cut_between_parts() -> None:
    lines = ["<details>", "<summary>log</summary>", "", "```text", *[f"line {n} " + "y" * 90 for n in range(2_000)]]
    text = "\n".join([*lines, "```", "", "</details>", "after"])
    parts = fold(text, limit=40_000)
    assert len(parts) >= 5
    for part in parts:
        assert part.count("```") % 2 == 0, "every part closes the fence it opens"
        assert part.count("<details>") == part.count("</details>")
    assert sum(p.count("line ") for p in parts) == 2_000


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "--junit: {path}: no such file"),
        ("", "--junit: {path}: is empty, not XML"),
        ("<testsuites><testsuite>", "--junit: {path}: not XML: no element found (line 1, column 24)"),
        ("<coverage/>", "--junit: {path}: not a JUnit report: the root element is <coverage>"),
        (
            '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            "<testsuites><testcase name='x'>&b;</testcase></testsuites>",
            "--junit: {path}: has a DOCTYPE or an entity declaration, which is not accepted",
        ),
        (
            '<!DOCTYPE t SYSTEM "file:///etc/passwd"><testsuites/>',
            "--junit: {path}: has a DOCTYPE or an entity declaration",
        ),
        ("<testsuite><testcase classname='a'/></testsuite>", "--junit: {path}: testcase #1 has no name"),
        (
            "<testsuite><testcase name='t' time='soon'/></testsuite>",
            "--junit: {path}: testcase 't': time 'soon' is not a number of seconds",
        ),
    ],
)
def test_a_bad_junit_file_is_one_line_naming_the_file(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "junit-1.xml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportInputError) as raised:
        read_junit([path])
    assert str(raised.value).startswith(expected.format(path=path)), str(raised.value)
    assert "\n" not in str(raised.value) and raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<testsuites/>", "not a Cobertura coverage report: the root element is <testsuites>, not <coverage>"),
        ("<coverage><packages><package><classes><class/></classes></package></packages></coverage>", "has no filename"),
        (
            "<coverage><packages><package><classes><class filename='a.py'><lines><line number='x' hits='1'/>"
            "</lines></class></classes></package></packages></coverage>",
            "a.py: <line number='x'> is not a whole number",
        ),
        (
            "<coverage><packages><package><classes><class filename='a.py'><lines>"
            "<line number='3' hits='1' branch='true' condition-coverage='half'/>"
            "</lines></class></classes></package></packages></coverage>",
            "a.py: line 3: condition-coverage 'half' is not like '50% (1/2)'",
        ),
        ("<coverage><packages>", "not XML: no element found"),
    ],
)
def test_a_bad_coverage_file_is_one_line_naming_the_file(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "coverage-1.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportInputError) as raised:
        read_coverage([path])
    assert str(raised.value).startswith(f"--coverage: {path}: ") and expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_folder_or_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"is a folder, not a file$"):
        read_coverage([tmp_path])
    with pytest.raises(ReportInputError, match=r"^--baseline-coverage: .*: no such file$"):
        build_report("k", "t", [], [], baseline=tmp_path / "main.xml")
