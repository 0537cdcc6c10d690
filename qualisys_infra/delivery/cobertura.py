"""Coverage from Cobertura XML: the union of every shard's ``coverage.xml``, file by file and line by line.

coverage.py's ``coverage xml`` (pytest-cov's ``--cov-report=xml``): a line is covered when any
shard covered it; a branch is missed only when every shard missed it (coverage.py names the missed
branch targets). Rates are recomputed from the union, never averaged. The percentage is ``coverage
report``'s total: covered lines and branches over all lines and branches. :func:`coverage_xml`
writes the union back as one Cobertura file.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qualisys_infra.delivery.safe_xml import ReportInputError, parse_xml

_CONDITION = re.compile(r"\((\d+)/(\d+)\)")


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
