"""The repository tests itself alone: every fixture lives inside it, with its origin and licence."""

from __future__ import annotations

import re
from pathlib import Path

from tests.plan.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"

# Ways a test can reach outside its clone: a sibling folder of the repository, an absolute /work path.
OUTSIDE = re.compile(r"""parents\[\d+\]\.parent\b|["']/work/|\.\./shared|["']shared["']""")


def outside_references(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(folder.parent)}:{number}: {line.strip()}")
    return found


def test_fails_if_a_test_reads_from_outside_the_repository() -> None:
    assert FIXTURES.is_relative_to(ROOT), f"{FIXTURES} is outside {ROOT}"
    assert sorted(FIXTURES.glob("*.json")), f"{FIXTURES}: no plan fixtures"
    found = outside_references(TESTS)
    assert not found, "tests reach outside the repository:\n" + "\n".join(found)


def test_the_outside_check_can_fail(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    sibling, absolute = "parents[2]" + ".parent", '"/' + 'work/shared/x"'  # split: this file must pass itself
    (tests / "conftest.py").write_text(
        f'FIXTURES = Path(__file__).resolve().{sibling} / "fixtures"\nX = {absolute}\nY = "fine"\n',
        encoding="utf-8",
    )
    assert [line.split(":")[1] for line in outside_references(tests)] == ["1", "2"]


def test_fails_if_a_fixture_has_no_recorded_source() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([^`]+\.json)` \| (https://github\.com/\S+) \|", sources, re.M)
    }
    files = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert sorted(rows) == files, "SOURCES.md must list exactly the fixture files"
    for name in files:
        row = next(line for line in sources.splitlines() if line.startswith(f"| `{name}` |"))
        assert re.search(r"\| (MIT|Apache-2\.0|MPL-2\.0) \|", row), f"{name}: no licence recorded"
