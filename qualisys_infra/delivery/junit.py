"""Tests from JUnit XML: every ``<testcase>`` of every shard's file, each counted once as pytest counts it.

Every ``<testcase>`` of every JUnit file (pytest's ``--junitxml``; ``<testsuites>`` or
``<testsuite>`` roots) is ``failed`` (a ``<failure>``), ``error`` (an ``<error>``: a collection
error, a fixture that failed), ``skipped`` (skips and xfails) or ``passed``. A test that fails and
then errors in teardown is one failure and one error, as in pytest's own summary.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qualisys_infra.core.github_text import clip
from qualisys_infra.delivery.safe_xml import ReportInputError, parse_xml

SLOWEST = 10  # tests listed by duration
MESSAGE_WIDTH = 200  # characters of a failure's first line
OUTCOMES = ("passed", "failed", "error", "skipped")


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
                    return clip(" ".join(line.split()), MESSAGE_WIDTH)
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
