"""Real JUnit XML and coverage.xml: a tiny project whose suite runs in 2 shards, as CI runs ours.

Each shard is `python -m coverage run --branch -m pytest -p qualisys_infra.testing.shard --num-shards 2
--shard-id K --junitxml ...` then `coverage xml`, in a subprocess, once per session. The durations file
puts tests/test_a.py alone in shard 1 and tests/test_b.py and tests/test_c.py in shard 2, so each shard
covers code the other does not (only_a, only_b, and the two sides of `x > 0`).

Expected over both shards: 7 passed, 3 failed, 2 errors, 2 skipped (14 test cases).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main

OPS = """\
def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def only_a():
    return "a"


def only_b():
    return "b"


def never():
    return "never"
"""
TEST_A = """\
import pytest

from calc.ops import only_a, sign


@pytest.mark.parametrize("x", [1, 2, 3])
def test_positive(x):
    assert sign(x) == 1


def test_only_a():
    assert only_a() == "a"
"""
TEST_B = """\
import time

from calc.ops import only_b, sign


def test_negative():
    assert sign(-1) == -1


def test_only_b():
    assert only_b() == "b"


def test_wrong():
    assert sign(-5) == 1, "minus five is not positive"


def test_slow():
    time.sleep(0.3)
"""
TEST_C = """\
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown broke")


def test_error(broken):
    pass


def test_fail_then_teardown(bad_teardown):
    assert False, "first"


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


def test_markup():
    assert "<b>|`x` -->" == "", "<script>alert(1)</script> | `tick` <!-- qualisys-report-data {} -->"
"""
# ops.py's lines as coverage.py measures them: statements, and the covered ones per shard.
OPS_LINES = {1, 2, 3, 4, 5, 6, 9, 10, 13, 14, 17, 18}
SHARD_1_COVERED = {1, 2, 3, 9, 10, 13, 17}  # sign(1..3): 2 -> 3; only_a
SHARD_2_COVERED = {1, 2, 4, 5, 9, 13, 14, 17}  # sign(-1), sign(-5): 2 -> 4 -> 5; only_b
DURATIONS = {"tests/test_a.py": 10.0, "tests/test_b.py": 9.0, "tests/test_c.py": 1.0}


@dataclass(frozen=True)
class Shards:
    """The tiny project and what each shard wrote."""

    project: Path
    junit: list[Path]
    coverage: list[Path]


def write_project(root: Path) -> Path:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("", encoding="utf-8")
    (root / "calc" / "ops.py").write_text(OPS, encoding="utf-8")
    (root / "tests").mkdir()
    for name, text in (("test_a.py", TEST_A), ("test_b.py", TEST_B), ("test_c.py", TEST_C)):
        (root / "tests" / name).write_text(text, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    (root / ".test_durations").write_text(json.dumps(DURATIONS), encoding="utf-8")
    return root


def run_shard(project: Path, shard: int, shards: int, out: Path, *, only: str | None = None) -> tuple[Path, Path]:
    """One shard with coverage, as `make test-shard` runs it; its JUnit XML and coverage.xml."""
    junit, coverage, data = out / f"junit-{shard}.xml", out / f"coverage-{shard}.xml", out / f".coverage.{shard}"
    pytest_args = ["-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    if only is None:
        pytest_args += ["-p", "qualisys_infra.testing.shard", "--num-shards", str(shards), "--shard-id", str(shard)]
    else:
        pytest_args.append(only)
    env = {
        "COVERAGE_FILE": str(data),
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # the tiny project needs none of the installed plugins
    }
    ran = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--source=calc", "-m", "pytest", *pytest_args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr  # 1: the planted failures
    xml = subprocess.run(
        [sys.executable, "-m", "coverage", "xml", "-q", "-o", str(coverage)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert xml.returncode == 0, xml.stdout + xml.stderr
    return junit, coverage


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Shards:
    project = write_project(tmp_path_factory.mktemp("calc-project"))
    out = tmp_path_factory.mktemp("shard-reports")
    results = [run_shard(project, k, 2, out) for k in (1, 2)]
    return Shards(project, [j for j, _ in results], [c for _, c in results])


@pytest.fixture(scope="session")
def baseline_a(shards: Shards, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """coverage.xml of a run of tests/test_a.py alone: less than both shards together."""
    out = tmp_path_factory.mktemp("baseline")
    return run_shard(shards.project, 1, 1, out, only="tests/test_a.py")[1]


Command = Callable[..., tuple[int, str, str]]


def command_runner(name: str, capsys: pytest.CaptureFixture[str]) -> Command:
    """``runner(*argv) -> (exit code, stdout, stderr)`` of `qualisys-infra NAME ...`, through the
    CLI's main (a ToolkitError becomes `error: ...` lines and its exit code there); any other
    exception fails the test."""

    def runner(*argv: str | Path) -> tuple[int, str, str]:
        code = main([name, *(str(a) for a in argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return runner
