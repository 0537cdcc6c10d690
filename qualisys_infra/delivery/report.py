"""The test report: JUnit XML and Cobertura coverage from every shard of a test run, merged into one.

- **Tests**: every ``<testcase>`` of every JUnit file (pytest's ``--junitxml``; ``<testsuites>`` or
  ``<testsuite>`` roots), each counted once as pytest counts it: ``failed`` (a ``<failure>``),
  ``error`` (an ``<error>``: a collection error, a fixture that failed), ``skipped`` (skips and
  xfails) or ``passed``. A test that fails and then errors in teardown is one failure and one
  error, as in pytest's own summary.
- **Coverage**: the union of every shard's Cobertura ``coverage.xml`` (coverage.py's ``coverage
  xml``, pytest-cov's ``--cov-report=xml``), file by file and line by line: a line is covered when
  any shard covered it; a branch is missed only when every shard missed it (coverage.py names the
  missed branch targets). Rates are recomputed from the union, never averaged. The percentage is
  ``coverage report``'s total: covered lines and branches over all lines and branches.
- **Against main**: the coverage of a baseline ``coverage.xml`` (main's), the change in percentage
  points and the files whose coverage dropped.

Rendered as Markdown (the pull-request comment and the job summary; it carries two hidden lines,
the sticky marker and :func:`report_data_line`, which :func:`parse_report_data` reads back) and as
one self-contained HTML page. XML is read without any DTD: a ``<!DOCTYPE`` or an entity
declaration is refused, so no external entity is fetched and no entity expands.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import decode_text

SLOWEST = 10  # tests listed by duration
MESSAGE_WIDTH = 200  # characters of a failure's first line in Markdown
NAME_WIDTH = 300  # characters of a test or file name in Markdown
COMMENT_FAILURES = 1_000  # failures listed in the pull-request comment (every one in the job summary and HTML)
COMMENT_DROPS = 50  # files whose coverage dropped, listed in the comment
DATA_PREFIX = "<!-- qualisys-report-data "
_DATA = re.compile(r"^<!-- qualisys-report-data (?P<json>\{[^\n]*\}) -->\r?$", re.MULTILINE)
_CONDITION = re.compile(r"\((\d+)/(\d+)\)")
OUTCOMES = ("passed", "failed", "error", "skipped")


class ReportInputError(UsageError):
    """A JUnit or coverage file is missing or is not what it should be. Exit code 2."""


# --- reading XML safely -------------------------------------------------------------------------------------


class _Refused(Exception):
    """Raised from inside the expat handlers: stops the parse at once."""


def _refuse(*_: object) -> None:
    raise _Refused("has a DOCTYPE or an entity declaration, which is not accepted (XML entity expansion)")


def _refuse_external(*_: object) -> int:
    raise _Refused("refers to an external entity, which is not accepted")


def parse_xml(path: Path, what: str) -> ET.Element:
    """The root element of ``path``, parsed with no DTD processing; a :class:`ReportInputError` of one
    line (``what: path: what is wrong``) when it is missing, unreadable, empty or not XML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportInputError(f"{what}: {path}: no such file") from None
    except IsADirectoryError:
        raise ReportInputError(f"{what}: {path}: is a folder, not a file") from None
    except OSError as exc:
        raise ReportInputError(f"{what}: {path}: cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise ReportInputError(f"{what}: {path}: is empty, not XML")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise ReportInputError(f"{what}: {path}: {exc}") from None
    except expat.ExpatError as exc:
        if not _declares_encoding(data):  # then it is UTF-8, and a byte that is not says more than expat
            try:
                decode_text(data, f"{what}: {path}")
            except UsageError as undecodable:
                raise ReportInputError(str(undecodable)) from None
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise ReportInputError(
            f"{what}: {path}: not XML: {reason} (line {exc.lineno}, column {exc.offset + 1})"
        ) from None
    return builder.close()


def _declares_encoding(data: bytes) -> bool:
    """Whether the XML declaration names an encoding (``<?xml version="1.0" encoding="ISO-8859-1"?>``)."""
    head = data.lstrip()[:200]
    return head.startswith(b"<?xml") and b"encoding" in head.split(b"?>", 1)[0]


# --- tests (JUnit XML) --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestCase:
    """One ``<testcase>`` entry."""

    __test__ = False  # not a pytest test class, whatever its name

    classname: str
    name: str
    seconds: float
    outcome: str  # one of OUTCOMES
    message: str = ""  # the failure's, error's or skip's message (``message`` attribute, else its text)
    details: str = ""  # the text of the failure or error (traceback)
    source: str = ""  # the JUnit file it came from

    @property
    def id(self) -> str:
        """``tests.cli.test_comment::test_x[param]``; the name alone when there is no class name."""
        return f"{self.classname}::{self.name}" if self.classname else self.name

    @property
    def first_line(self) -> str:
        """The message's first non-empty line, stripped and clipped to :data:`MESSAGE_WIDTH`."""
        for text in (self.message, self.details):
            for line in text.splitlines():
                if line.strip():
                    return _clip(" ".join(line.split()), MESSAGE_WIDTH)
        return ""


@dataclass(frozen=True, slots=True)
class TestRun:
    """Every test case of every shard."""

    __test__ = False

    cases: tuple[TestCase, ...]
    shard_seconds: tuple[float, ...]  # each JUnit file's duration
    missing_shards: int = 0  # shards expected (``--shards``) that sent no JUnit file
    # errors and failures a <testsuite> declares beyond its <testcase>s (a crash outside any test)
    suite_errors: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def errors(self) -> int:
        """Test cases in error, each expected shard that reported nothing, and what a suite declares
        failed or in error beyond its test cases."""
        return self.count("error") + self.missing_shards + self.suite_errors

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def total(self) -> int:
        return len(self.cases) + self.missing_shards

    @property
    def seconds(self) -> float:
        """Test time summed over the shards."""
        return sum(self.shard_seconds)

    @property
    def ok(self) -> bool:
        """Nothing failed, nothing in error, and at least one test ran (an empty run proves nothing)."""
        return self.failed == 0 and self.errors == 0 and bool(self.cases)

    def problems(self) -> list[TestCase]:
        """Failures and errors, in the order they ran."""
        return [case for case in self.cases if case.outcome in ("failed", "error")]

    def slowest(self, n: int = SLOWEST) -> list[TestCase]:
        return sorted(self.cases, key=lambda case: (-case.seconds, case.id))[:n]

    def duplicates(self) -> list[str]:
        """Test ids found in more than one JUnit file (a test that ran in two shards)."""
        sources: dict[str, set[str]] = {}
        for case in self.cases:
            sources.setdefault(case.id, set()).add(case.source)
        return sorted(test for test, files in sources.items() if len(files) > 1)


def read_junit(paths: Sequence[Path], *, shards: int | None = None) -> TestRun:
    """Every test case of the JUnit files ``paths`` (one per shard); ``shards``: how many files there
    should be: each one short counts as an error."""
    cases: list[TestCase] = []
    seconds: list[float] = []
    suite_errors = 0
    for path in paths:
        root = parse_xml(path, "--junit")
        if root.tag not in ("testsuites", "testsuite"):
            raise ReportInputError(
                f"--junit: {path}: not a JUnit report: the root element is <{root.tag}>, "
                "not <testsuites> or <testsuite>"
            )
        suites = [root] if root.tag == "testsuite" else [s for s in root if s.tag == "testsuite"]
        file_cases = [_test_case(path, number, element) for number, element in enumerate(root.iter("testcase"), 1)]
        if root.get("time") is not None:
            seconds.append(_seconds(path, root, "the root element"))
        elif suites:
            seconds.append(sum(_seconds(path, suite, f"testsuite {suite.get('name', '')!r}") for suite in suites))
        else:
            seconds.append(sum(case.seconds for case in file_cases))
        cases += file_cases
        suite_errors += sum(_undeclared_problems(suite) for suite in suites)
    missing = max(0, shards - len(paths)) if shards is not None else 0
    return TestRun(tuple(cases), tuple(seconds), missing, suite_errors)


def _undeclared_problems(suite: ET.Element) -> int:
    """Failures and errors ``suite`` counts (its ``errors`` and ``failures`` attributes) that none of
    its test cases carries; unreadable counts are taken as none."""
    declared = 0
    for attribute in ("errors", "failures"):
        try:
            declared += max(0, int(suite.get(attribute) or 0))
        except ValueError:
            continue
    carried = sum(1 for case in suite.iter("testcase") if any(child.tag in ("failure", "error") for child in case))
    return max(0, declared - carried)


def _test_case(path: Path, number: int, element: ET.Element) -> TestCase:
    name = element.get("name")
    if not name:
        raise ReportInputError(f"--junit: {path}: testcase #{number} has no name")
    classname = element.get("classname") or ""
    seconds = _seconds(path, element, f"testcase {name!r}")
    found = {child.tag: child for child in element if child.tag in ("failure", "error", "skipped")}
    for tag, outcome in (("error", "error"), ("failure", "failed"), ("skipped", "skipped")):
        if tag in found:
            child = found[tag]
            return TestCase(
                classname,
                name,
                seconds,
                outcome,
                message=child.get("message") or "",
                details=(child.text or "").strip("\n"),
                source=str(path),
            )
    return TestCase(classname, name, seconds, "passed", source=str(path))


def _seconds(path: Path, element: ET.Element, what: str) -> float:
    raw = element.get("time")
    if raw is None or not raw.strip():
        return 0.0
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        raise ReportInputError(f"--junit: {path}: {what}: time {raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ReportInputError(f"--junit: {path}: {what}: time {raw!r} is not a number of seconds")
    return value


# --- coverage (Cobertura XML) -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Branches:
    """The branches leaving one line: how many, how many were taken, and (coverage.py) which targets were not."""

    total: int
    covered: int
    missing: frozenset[str] | None = None

    def union(self, other: Branches) -> Branches:
        total = max(self.total, other.total)
        if self.missing is not None and other.missing is not None:
            missing = self.missing & other.missing  # missed only when every shard missed it
            covered = max(total - len(missing), self.covered, other.covered)
            return Branches(total, min(covered, total), missing)
        return Branches(total, min(max(self.covered, other.covered), total), None)


@dataclass
class FileCoverage:
    """One source file: its measured lines (covered or not) and its branch lines."""

    filename: str
    package: str = ""
    lines: dict[int, bool] = field(default_factory=dict)
    branches: dict[int, Branches] = field(default_factory=dict)

    @property
    def lines_valid(self) -> int:
        return len(self.lines)

    @property
    def lines_covered(self) -> int:
        return sum(self.lines.values())

    @property
    def branches_valid(self) -> int:
        return sum(b.total for b in self.branches.values())

    @property
    def branches_covered(self) -> int:
        return sum(b.covered for b in self.branches.values())

    @property
    def percent(self) -> float:
        return _percent(self.lines_covered + self.branches_covered, self.lines_valid + self.branches_valid)

    def merge(self, other: FileCoverage) -> None:
        for number, covered in other.lines.items():
            self.lines[number] = self.lines.get(number, False) or covered
        for number, branches in other.branches.items():
            mine = self.branches.get(number)
            self.branches[number] = branches if mine is None else mine.union(branches)


@dataclass
class Coverage:
    """The union of one or more Cobertura reports, by file."""

    files: dict[str, FileCoverage] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    reports: int = 0

    @property
    def lines_valid(self) -> int:
        return sum(f.lines_valid for f in self.files.values())

    @property
    def lines_covered(self) -> int:
        return sum(f.lines_covered for f in self.files.values())

    @property
    def branches_valid(self) -> int:
        return sum(f.branches_valid for f in self.files.values())

    @property
    def branches_covered(self) -> int:
        return sum(f.branches_covered for f in self.files.values())

    @property
    def percent(self) -> float:
        """``coverage report``'s total: covered lines and branches over all lines and branches."""
        return _percent(self.lines_covered + self.branches_covered, self.lines_valid + self.branches_valid)

    @property
    def line_rate(self) -> float:
        return _percent(self.lines_covered, self.lines_valid) / 100

    @property
    def branch_rate(self) -> float | None:
        """``None`` when no report measured branches."""
        return _percent(self.branches_covered, self.branches_valid) / 100 if self.branches_valid else None

    def add(self, other: FileCoverage) -> None:
        mine = self.files.get(other.filename)
        if mine is None:
            self.files[other.filename] = other
        else:
            mine.merge(other)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0  # nothing to measure: coverage.py says 100 %


def read_coverage(paths: Sequence[Path], *, what: str = "--coverage") -> Coverage:
    """The union of the Cobertura files ``paths``."""
    coverage = Coverage()
    for path in paths:
        root = parse_xml(path, what)
        if root.tag != "coverage":
            raise ReportInputError(
                f"{what}: {path}: not a Cobertura coverage report: the root element is <{root.tag}>, not <coverage>"
            )
        for source in root.iter("source"):
            text = (source.text or "").strip()
            if text and text not in coverage.sources:
                coverage.sources.append(text)
        for package in root.iter("package"):
            for element in package.iter("class"):
                coverage.add(_file_coverage(path, what, element, package.get("name") or ""))
        coverage.reports += 1
    return coverage


def _file_coverage(path: Path, what: str, element: ET.Element, package: str) -> FileCoverage:
    filename = element.get("filename")
    if not filename:
        raise ReportInputError(f"{what}: {path}: <class name={element.get('name', '')!r}> has no filename")
    found = FileCoverage(filename, package)
    lines = element.find("lines")  # the class's own lines; <methods> repeat some of them
    for line in lines if lines is not None else ():
        if line.tag != "line":
            continue
        number, hits = _whole(path, what, filename, line, "number"), _whole(path, what, filename, line, "hits")
        if number < 1:
            raise ReportInputError(f"{what}: {path}: {filename}: line number {number} is not a line")
        found.lines[number] = found.lines.get(number, False) or hits > 0
        if line.get("branch") == "true":
            condition = _CONDITION.search(line.get("condition-coverage", ""))
            if condition is None:
                raise ReportInputError(
                    f"{what}: {path}: {filename}: line {number}: condition-coverage "
                    f"{line.get('condition-coverage', '')!r} is not like '50% (1/2)'"
                )
            covered, total = int(condition[1]), int(condition[2])
            raw_missing = line.get("missing-branches")
            missing = None if raw_missing is None else frozenset(m for m in raw_missing.split(",") if m)
            if missing is None and covered >= total:
                missing = frozenset()  # coverage.py leaves the attribute out when no branch is missing
            branches = Branches(total, min(covered, total), missing)
            mine = found.branches.get(number)
            found.branches[number] = branches if mine is None else mine.union(branches)
    return found


def _whole(path: Path, what: str, filename: str, line: ET.Element, attribute: str) -> int:
    raw = line.get(attribute)
    if raw is None or not raw.strip().isdigit():
        raise ReportInputError(f"{what}: {path}: {filename}: <line {attribute}={raw!r}> is not a whole number")
    return int(raw)


def coverage_xml(coverage: Coverage) -> str:
    """The merged coverage as one Cobertura report (``--merged-coverage``): the next baseline."""
    branch_rate = coverage.branch_rate
    root = ET.Element(
        "coverage",
        {
            "version": "qualisys-infra report",
            "timestamp": str(int(time.time() * 1000)),
            "lines-valid": str(coverage.lines_valid),
            "lines-covered": str(coverage.lines_covered),
            "line-rate": f"{coverage.line_rate:.4g}",
            "branches-valid": str(coverage.branches_valid),
            "branches-covered": str(coverage.branches_covered),
            "branch-rate": f"{branch_rate if branch_rate is not None else 0:.4g}",
            "complexity": "0",
        },
    )
    sources = ET.SubElement(root, "sources")
    for text in coverage.sources:
        ET.SubElement(sources, "source").text = text
    packages = ET.SubElement(root, "packages")
    by_package: dict[str, list[FileCoverage]] = {}
    for file in sorted(coverage.files.values(), key=lambda f: f.filename):
        by_package.setdefault(file.package, []).append(file)
    for name, files in sorted(by_package.items()):
        package = ET.SubElement(packages, "package", {"name": name, "complexity": "0"})
        classes = ET.SubElement(package, "classes")
        for file in files:
            element = ET.SubElement(
                classes,
                "class",
                {
                    "name": file.filename.rsplit("/", 1)[-1],
                    "filename": file.filename,
                    "complexity": "0",
                    "line-rate": f"{_percent(file.lines_covered, file.lines_valid) / 100:.4g}",
                    "branch-rate": f"{_percent(file.branches_covered, file.branches_valid) / 100:.4g}",
                },
            )
            ET.SubElement(element, "methods")
            lines = ET.SubElement(element, "lines")
            for number in sorted(file.lines):
                attributes = {"number": str(number), "hits": "1" if file.lines[number] else "0"}
                branches = file.branches.get(number)
                if branches is not None:
                    share = round(100 * branches.covered / branches.total) if branches.total else 100
                    attributes |= {
                        "branch": "true",
                        "condition-coverage": f"{share}% ({branches.covered}/{branches.total})",
                    }
                    if branches.missing:
                        attributes["missing-branches"] = ",".join(sorted(branches.missing))
                ET.SubElement(lines, "line", attributes)
        package.set(
            "line-rate", f"{_percent(sum(f.lines_covered for f in files), sum(f.lines_valid for f in files)) / 100:.4g}"
        )
        package.set(
            "branch-rate",
            f"{_percent(sum(f.branches_covered for f in files), sum(f.branches_valid for f in files)) / 100:.4g}",
        )
    ET.indent(root, space="\t")
    return '<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- the report -------------------------------------------------------------------------------------------


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
            _plural(self.tests.failed, "failed test"),
            _plural(self.tests.errors, "error"),
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
    lines = [report_data_line(report.data()), f"## {icon} {_text(report.title)}: {verdict}", ""]
    if report.reasons():
        lines += [f"**Failed**: {'; '.join(report.reasons())}.", ""]
    shards = len(tests.shard_seconds) + tests.missing_shards
    longest = f", longest shard {_duration(max(tests.shard_seconds))}" if len(tests.shard_seconds) > 1 else ""
    lines += [
        "| passed | failed | errors | skipped | total | duration |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {tests.passed:,} | {tests.failed:,} | {tests.errors:,} | {tests.skipped:,} | {tests.total:,} | "
        f"{_duration(tests.seconds)} ({_plural(shards, 'shard')}{longest}) |",
        "",
        _coverage_line(report),
        "",
    ]
    if tests.missing_shards:
        lines += [
            f"> [!WARNING]\n> {_plural(tests.missing_shards, 'shard')} of {shards} sent no test results "
            "(counted as errors).",
            "",
        ]
    duplicates = tests.duplicates()
    if duplicates:
        lines += [
            f"> [!WARNING]\n> {_plural(len(duplicates), 'test')} ran in more than one shard, e.g. "
            f"{_code(_clip(duplicates[0], NAME_WIDTH))}.",
            "",
        ]
    problems = tests.problems()
    if problems:
        lines += [f"### Failed ({len(problems):,})", ""]
        shown = problems if max_failures is None else problems[:max_failures]
        for case in shown:
            message = f" — {_code(case.first_line)}" if case.first_line else ""
            kind = " (error)" if case.outcome == "error" else ""
            lines.append(f"- {_code(_clip(case.id, NAME_WIDTH))}{kind}{message}")
        if len(shown) < len(problems):
            lines.append(f"- … and {len(problems) - len(shown):,} more{_where(details)}")
        lines.append("")
    drops = report.drops()
    if drops:
        lines += [f"### Coverage dropped ({_plural(len(drops), 'file')})", ""]
        lines += ["| file | main | now | change |", "| --- | ---: | ---: | ---: |"]
        shown_drops = drops if max_drops is None else drops[:max_drops]
        for drop in shown_drops:
            lines.append(
                f"| {_cell(_code(_clip(drop.filename, NAME_WIDTH)))} | {drop.before:.2f} % | {drop.after:.2f} % | "
                f"▼ {drop.after - drop.before:+.2f} |"
            )
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
        lines += [f"| {_cell(_code(_clip(case.id, NAME_WIDTH)))} | {case.seconds:.2f} |" for case in slowest]
        lines += ["", "</details>", ""]
    if details:
        lines += [f"Every test and file: {details}.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _coverage_line(report: Report) -> str:
    coverage = report.coverage
    parts = [f"**Coverage {report.percent:.2f} %**"]
    if report.delta is not None:
        arrow = "▲" if report.delta > 0 else "▼" if report.delta < 0 else "="
        parts[0] += f" {arrow} {report.delta:+.2f} against main ({report.baseline_percent:.2f} %)"
    parts.append(f"lines {coverage.lines_covered:,}/{coverage.lines_valid:,}")
    if coverage.branches_valid:
        parts.append(f"branches {coverage.branches_covered:,}/{coverage.branches_valid:,}")
    parts.append(_plural(len(coverage.files), "file"))
    if report.min_coverage is not None:
        parts.append(f"minimum {report.min_coverage:g} %{'' if report.coverage_ok else ' (below)'}")
    return " · ".join(parts)


def _where(details: str | None) -> str:
    return f": {details}" if details else ""


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _code(text: str) -> str:
    """``text`` as an inline code span whatever backticks it holds (nothing in it is Markdown or HTML)."""
    text = " ".join(text.split())
    if not text:
        return ""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    return f"{fence} {text} {fence}" if run or text.startswith(" ") else f"{fence}{text}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _text(text: str) -> str:
    """Plain text for a Markdown line: one line, HTML escaped, Markdown punctuation escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# --- HTML ---------------------------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:78em;padding:0 1em;
color:#1f2328}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;padding:.6em;overflow:auto;white-space:pre-wrap;max-height:30em}
.passed{color:#1a7f37}.failed,.error,.drop{color:#cf222e}.skipped{color:#9a6700}.up{color:#1a7f37}
"""


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page: every failure with its traceback, the
    slowest tests and every file's coverage against the baseline. Everything from the inputs is escaped."""
    e = html.escape
    tests, coverage = report.tests, report.coverage
    verdict = "passed" if report.ok else "failed"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{e(report.title)}: {verdict}</title><style>{_STYLE}</style></head><body>",
        f'<h1>{e(report.title)}: <span class="{verdict}">{verdict}</span></h1>',
    ]
    if report.reasons():
        out.append(f"<p><strong>Failed</strong>: {e('; '.join(report.reasons()))}.</p>")
    shards = len(tests.shard_seconds) + tests.missing_shards
    out += [
        "<table><tr>"
        + "".join(f'<th class="n">{h}</th>' for h in ("passed", "failed", "errors", "skipped", "total"))
        + "<th>duration</th></tr><tr>"
        + "".join(
            f'<td class="n {cls}">{n:,}</td>'
            for cls, n in (
                ("passed", tests.passed),
                ("failed", tests.failed),
                ("error", tests.errors),
                ("skipped", tests.skipped),
                ("", tests.total),
            )
        )
        + f"<td>{e(_duration(tests.seconds))} ({e(_plural(shards, 'shard'))})</td></tr></table>",
        f"<p>{_coverage_html(report)}</p>",
    ]
    if tests.missing_shards:
        out.append(f'<p class="error">{e(_plural(tests.missing_shards, "shard"))} sent no test results.</p>')
    problems = tests.problems()
    if problems:
        out.append(f"<h2>Failed ({len(problems):,})</h2>")
        for case in problems:
            label = "error" if case.outcome == "error" else "failed"
            out.append(
                f'<details><summary><span class="{label}">{label}</span> <code>{e(case.id)}</code>'
                f"{' — ' + e(case.first_line) if case.first_line else ''}</summary>"
                f"<pre>{e(case.details or case.message)}</pre></details>"
            )
    slowest = tests.slowest()
    if slowest:
        out.append(f"<h2>The {len(slowest)} slowest tests</h2>")
        out.append('<table><tr><th>test</th><th class="n">seconds</th><th>outcome</th></tr>')
        out += [
            f'<tr><td><code>{e(c.id)}</code></td><td class="n">{c.seconds:.2f}</td>'
            f'<td class="{c.outcome}">{c.outcome}</td></tr>'
            for c in slowest
        ]
        out.append("</table>")
    out.append(f"<h2>Coverage by file ({len(coverage.files):,})</h2>")
    out.append(
        '<table><tr><th>file</th><th class="n">lines</th><th class="n">branches</th><th class="n">coverage</th>'
        + ('<th class="n">main</th><th class="n">change</th>' if report.baseline else "")
        + "</tr>"
    )
    for name in sorted(coverage.files):
        file = coverage.files[name]
        row = (
            f'<tr><td><code>{e(name)}</code></td><td class="n">{file.lines_covered:,}/{file.lines_valid:,}</td>'
            f'<td class="n">{file.branches_covered:,}/{file.branches_valid:,}</td>'
            f'<td class="n">{file.percent:.2f} %</td>'
        )
        if report.baseline is not None:
            before = report.baseline.files.get(name)
            if before is None:
                row += '<td class="n">new</td><td class="n"></td>'
            else:
                change = round(file.percent, 2) - round(before.percent, 2)
                cls = "drop" if change < 0 else "up" if change > 0 else ""
                row += f'<td class="n">{before.percent:.2f} %</td><td class="n {cls}">{change:+.2f}</td>'
        out.append(row + "</tr>")
    out += ["</table>", "</body></html>"]
    return "\n".join(out) + "\n"


def _coverage_html(report: Report) -> str:
    text = html.escape(_coverage_line(report).replace("**", ""))
    return f"<strong>{text.split(' · ', 1)[0]}</strong>" + (" · " + text.split(" · ", 1)[1] if " · " in text else "")


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


__all__ = [
    "Branches",
    "Coverage",
    "FileCoverage",
    "FileDrop",
    "Report",
    "ReportData",
    "ReportInputError",
    "TestCase",
    "TestRun",
    "build_report",
    "coverage_xml",
    "files_of",
    "parse_report_data",
    "parse_xml",
    "read_coverage",
    "read_junit",
    "render_html",
    "render_markdown",
    "report_data_line",
    "report_json",
]
