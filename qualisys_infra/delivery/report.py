"""The test report: every shard's tests and coverage merged into one, its verdict, and its Markdown and JSON.

- **Tests** come from JUnit XML (:mod:`qualisys_infra.delivery.junit`), **coverage** from Cobertura
  XML (:mod:`qualisys_infra.delivery.cobertura`), both read without any DTD
  (:mod:`qualisys_infra.delivery.safe_xml`).
- **Against main**: the coverage of a baseline ``coverage.xml`` (main's), the change in percentage
  points and the files whose coverage dropped.

Rendered as Markdown (the pull-request comment and the job summary; it carries two hidden lines,
the sticky marker and :func:`report_data_line`, which :func:`parse_report_data` reads back), as
JSON (:func:`report_json`) and as one self-contained HTML page
(:mod:`qualisys_infra.delivery.report_html`). Every name and message from the inputs is escaped by
:mod:`qualisys_infra.core.github_text`, as in every other comment the toolkit writes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core.github_text import clip, md_code, md_text
from qualisys_infra.delivery.cobertura import Coverage, read_coverage
from qualisys_infra.delivery.junit import TestRun, read_junit

NAME_WIDTH = 300  # characters of a test or file name in Markdown
COMMENT_FAILURES = 1_000  # failures listed in the pull-request comment (every one in the job summary and HTML)
COMMENT_DROPS = 50  # files whose coverage dropped, listed in the comment
DATA_PREFIX = "<!-- qualisys-report-data "


def sticky_name(key: str) -> str:
    """The sticky-comment name of report ``key`` (its marker ``<!-- qualisys-report:KEY -->``): what
    ``report --post`` writes and sign-off reads back, defined once."""
    return f"qualisys-report:{key}"


_DATA = re.compile(r"^<!-- qualisys-report-data (?P<json>\{[^\n]*\}) -->\r?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FileDrop:
    """A file whose coverage is lower than on the baseline."""

    filename: str
    before: float
    after: float


@dataclass(frozen=True)
class Report:
    """One test run (every shard) and its coverage, with the baseline to compare against."""

    key: str
    title: str
    tests: TestRun
    coverage: Coverage
    baseline: Coverage | None = None
    min_coverage: float | None = None

    @property
    def percent(self) -> float:
        return round(self.coverage.percent, 2)

    @property
    def baseline_percent(self) -> float | None:
        return None if self.baseline is None else round(self.baseline.percent, 2)

    @property
    def delta(self) -> float | None:
        """The change against the baseline, in percentage points."""
        return None if self.baseline_percent is None else round(self.percent - self.baseline_percent, 2)

    @property
    def coverage_ok(self) -> bool:
        return self.min_coverage is None or self.percent >= self.min_coverage

    @property
    def ok(self) -> bool:
        return self.tests.ok and self.coverage_ok

    def drops(self) -> list[FileDrop]:
        """Files measured on both sides whose coverage went down (two decimals), largest drop first."""
        if self.baseline is None:
            return []
        dropped = []
        for name, file in self.coverage.files.items():
            before = self.baseline.files.get(name)
            if before is not None and round(file.percent, 2) < round(before.percent, 2):
                dropped.append(FileDrop(name, round(before.percent, 2), round(file.percent, 2)))
        return sorted(dropped, key=lambda d: (d.after - d.before, d.filename))

    def reasons(self) -> list[str]:
        """Why the verdict is ``failed``; empty when it passed."""
        reasons = []
        problems = [
            plural(self.tests.failed, "failed test"),
            plural(self.tests.errors, "error"),
        ]
        if not self.tests.cases:
            reasons.append("no test ran")
        if self.tests.failed or self.tests.errors:
            reasons.append(" and ".join(p for p in problems if not p.startswith("0 ")))
        if not self.coverage_ok:
            reasons.append(f"coverage {self.percent:.2f} % is below the minimum {self.min_coverage:g} %")
        return reasons

    def data(self) -> ReportData:
        return ReportData(
            passed=self.tests.passed,
            failed=self.tests.failed,
            errors=self.tests.errors,
            skipped=self.tests.skipped,
            coverage=self.percent,
            min_coverage=self.min_coverage,
        )


@dataclass(frozen=True, slots=True)
class ReportData:
    """The counts a report comment carries in its hidden data line, for ``signoff``."""

    passed: int
    failed: int
    errors: int
    skipped: int
    coverage: float | None
    min_coverage: float | None = None

    @property
    def ok(self) -> bool:
        """No failure, no error, and coverage at or above the minimum (when there is one)."""
        if self.failed or self.errors:
            return False
        if self.min_coverage is None:
            return True
        return self.coverage is not None and self.coverage >= self.min_coverage


def report_data_line(data: ReportData) -> str:
    """The hidden data line, exactly::

    <!-- qualisys-report-data {"passed":N,"failed":N,"errors":N,"skipped":N,"coverage":PCT,"min_coverage":PCT} -->

    ``min_coverage`` is ``null`` when there is no minimum."""
    payload = {
        "passed": data.passed,
        "failed": data.failed,
        "errors": data.errors,
        "skipped": data.skipped,
        "coverage": data.coverage,
        "min_coverage": data.min_coverage,
    }
    return f"{DATA_PREFIX}{json.dumps(payload, separators=(',', ':'))} -->"


def parse_report_data(body: str) -> ReportData | None:
    """The data line of a report comment's ``body`` (a line of its own), or ``None`` when there is none
    or it is malformed. Whose comment it is (its marker and author) is for the caller to check."""
    match = _DATA.search(body)
    if match is None:
        return None
    try:
        payload = json.loads(match["json"])
    except (ValueError, RecursionError):  # a comment anyone can edit: nested past the parser's limit too
        return None
    if not isinstance(payload, dict):
        return None
    counts = [payload.get(key) for key in ("passed", "failed", "errors", "skipped")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        return None
    rates = [payload.get(key) for key in ("coverage", "min_coverage")]
    if not all(
        r is None or (isinstance(r, int | float) and not isinstance(r, bool) and math.isfinite(r)) for r in rates
    ):
        return None
    coverage, minimum = (None if r is None else float(r) for r in rates)
    passed, failed, errors, skipped = (int(n) for n in counts)  # type: ignore[arg-type]
    return ReportData(passed, failed, errors, skipped, coverage, minimum)


def build_report(
    key: str,
    title: str,
    junit: Sequence[Path],
    coverage: Sequence[Path],
    *,
    baseline: Path | None = None,
    min_coverage: float | None = None,
    shards: int | None = None,
) -> Report:
    return Report(
        key=key,
        title=title,
        tests=read_junit(junit, shards=shards),
        coverage=read_coverage(coverage),
        baseline=read_coverage([baseline], what="--baseline-coverage") if baseline is not None else None,
        min_coverage=min_coverage,
    )


# --- Markdown -----------------------------------------------------------------------------------------------


def render_markdown(
    report: Report,
    *,
    max_failures: int | None = COMMENT_FAILURES,
    max_drops: int | None = COMMENT_DROPS,
    details: str | None = None,
) -> str:
    """The report as GitHub Markdown, its first line the hidden data line. ``max_failures`` and
    ``max_drops`` (``None``: all) bound the lists; ``details`` says where the full report is."""
    tests = report.tests
    verdict = "passed" if report.ok else "failed"
    icon = "✅" if report.ok else "❌"
    lines = [report_data_line(report.data()), f"## {icon} {md_text(report.title)}: {verdict}", ""]
    if report.reasons():
        lines += [f"**Failed**: {'; '.join(report.reasons())}.", ""]
    shards = len(tests.shard_seconds) + tests.missing_shards
    longest = f", longest shard {duration(max(tests.shard_seconds))}" if len(tests.shard_seconds) > 1 else ""
    lines += [
        "| passed | failed | errors | skipped | total | duration |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {tests.passed:,} | {tests.failed:,} | {tests.errors:,} | {tests.skipped:,} | {tests.total:,} | "
        f"{duration(tests.seconds)} ({plural(shards, 'shard')}{longest}) |",
        "",
        coverage_line(report),
        "",
    ]
    if tests.missing_shards:
        lines += [
            f"> [!WARNING]\n> {plural(tests.missing_shards, 'shard')} of {shards} sent no test results "
            "(counted as errors).",
            "",
        ]
    duplicates = tests.duplicates()
    if duplicates:
        lines += [
            f"> [!WARNING]\n> {plural(len(duplicates), 'test')} ran in more than one shard, e.g. "
            f"{md_code(clip(duplicates[0], NAME_WIDTH))}.",
            "",
        ]
    problems = tests.problems()
    if problems:
        lines += [f"### Failed ({len(problems):,})", ""]
        shown = problems if max_failures is None else problems[:max_failures]
        for case in shown:
            message = f" — {md_code(case.first_line)}" if case.first_line else ""
            kind = " (error)" if case.outcome == "error" else ""
            lines.append(f"- {md_code(clip(case.id, NAME_WIDTH))}{kind}{message}")
        if len(shown) < len(problems):
            lines.append(f"- … and {len(problems) - len(shown):,} more{_where(details)}")
        lines.append("")
    drops = report.drops()
    if drops:
        lines += [f"### Coverage dropped ({plural(len(drops), 'file')})", ""]
        lines += ["| file | main | now | change |", "| --- | ---: | ---: | ---: |"]
        shown_drops = drops if max_drops is None else drops[:max_drops]
        for drop in shown_drops:
            name = md_code(clip(drop.filename, NAME_WIDTH), in_table=True)
            lines.append(f"| {name} | {drop.before:.2f} % | {drop.after:.2f} % | ▼ {drop.after - drop.before:+.2f} |")
        if len(shown_drops) < len(drops):
            lines.append(f"| … and {len(drops) - len(shown_drops):,} more{_where(details)} | | | |")
        lines.append("")
    slowest = tests.slowest()
    if slowest:
        lines += [
            "<details>",
            f"<summary>The {len(slowest)} slowest tests</summary>",
            "",
            "| test | seconds |",
            "| --- | ---: |",
        ]
        lines += [f"| {md_code(clip(case.id, NAME_WIDTH), in_table=True)} | {case.seconds:.2f} |" for case in slowest]
        lines += ["", "</details>", ""]
    if details:
        lines += [f"Every test and file: {details}.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def coverage_line(report: Report) -> str:
    coverage = report.coverage
    parts = [f"**Coverage {report.percent:.2f} %**"]
    if report.delta is not None:
        arrow = "▲" if report.delta > 0 else "▼" if report.delta < 0 else "="
        parts[0] += f" {arrow} {report.delta:+.2f} against main ({report.baseline_percent:.2f} %)"
    parts.append(f"lines {coverage.lines_covered:,}/{coverage.lines_valid:,}")
    if coverage.branches_valid:
        parts.append(f"branches {coverage.branches_covered:,}/{coverage.branches_valid:,}")
    parts.append(plural(len(coverage.files), "file"))
    if report.min_coverage is not None:
        parts.append(f"minimum {report.min_coverage:g} %{'' if report.coverage_ok else ' (below)'}")
    return " · ".join(parts)


def _where(details: str | None) -> str:
    return f": {details}" if details else ""


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# --- JSON ---------------------------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    """The report for ``--json``: counts, coverage and its change, every failure, the slowest tests and drops."""
    tests, coverage = report.tests, report.coverage
    return {
        "key": report.key,
        "title": report.title,
        "verdict": "passed" if report.ok else "failed",
        "reasons": report.reasons(),
        "tests": {
            "passed": tests.passed,
            "failed": tests.failed,
            "errors": tests.errors,
            "skipped": tests.skipped,
            "total": tests.total,
            "seconds": round(tests.seconds, 3),
            "shards": len(tests.shard_seconds) + tests.missing_shards,
            "missing_shards": tests.missing_shards,
            "duplicates": tests.duplicates(),
        },
        "coverage": {
            "percent": report.percent,
            "lines_valid": coverage.lines_valid,
            "lines_covered": coverage.lines_covered,
            "branches_valid": coverage.branches_valid,
            "branches_covered": coverage.branches_covered,
            "files": len(coverage.files),
            "baseline": report.baseline_percent,
            "delta": report.delta,
            "min_coverage": report.min_coverage,
        },
        "failures": [
            {"test": c.id, "outcome": c.outcome, "message": c.first_line, "source": c.source} for c in tests.problems()
        ],
        "slowest": [{"test": c.id, "seconds": c.seconds, "outcome": c.outcome} for c in tests.slowest()],
        "coverage_dropped": [{"file": d.filename, "before": d.before, "after": d.after} for d in report.drops()],
    }


def files_of(paths: Iterable[Path]) -> list[Path]:
    """``paths`` in the order given, each once."""
    seen: dict[Path, None] = {}
    for path in paths:
        seen.setdefault(path, None)
    return list(seen)
