"""The test tiers (tests/tiers.py): `make check` runs the in-process tests and defers the rest, each kind
of expensive reach caught; `make test`'s two workers keep each group on one worker.

Both run pytest on a small generated suite whose conftest takes this suite's hooks (tests/conftest.py),
in a process of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qualisys_infra.core.runtime import PROJECT_ROOT

HOOKS = (
    "pytest_addoption, pytest_collection_modifyitems, pytest_configure, pytest_make_collect_report,"
    " pytest_report_teststatus, pytest_runtest_protocol, pytest_sessionfinish, pytest_terminal_summary,"
    " pytest_testnodedown, pytest_unconfigure, pytest_xdist_make_scheduler"
)
CONFTEST = f"""\
import pytest

from tests.conftest import {HOOKS}  # noqa: F401


@pytest.fixture
def synthesized():
    return "stands in for the session's synth"


@pytest.fixture
def database():
    return "stands in for a PostgreSQL database"
"""
SUITE = {
    "conftest.py": CONFTEST,
    "tests/unit/test_plain.py": "def test_plain():\n    assert 1 + 1 == 2\n\n"
    "def test_fails():\n    assert 1 + 1 == 3, 'a check-tier failure still fails'\n",
    "tests/unit/test_engine_at_import.py": "import cdktn  # noqa: F401\n\ndef test_never():\n    pass\n",
    "tests/unit/test_engine_inside.py": "def test_imports_a_binding():\n    import cdktn_provider_aws  # noqa: F401\n",
    "tests/unit/test_postgres.py": "import psycopg\n\ndef test_connects():\n"
    "    psycopg.connect('postgresql://nobody@127.0.0.1:9/none', connect_timeout=1)\n",
    "tests/unit/test_redis.py": "import redis\n\ndef test_pings():\n    redis.Redis(port=9, socket_connect_timeout=1).ping()\n",
    "tests/unit/test_process.py": "import subprocess\n\ndef test_starts_one():\n    subprocess.run(['true'], check=True)\n",
    "tests/unit/test_fixtures.py": "def test_needs_the_synth(synthesized):\n    pass\n\n"
    "def test_needs_a_database(database):\n    pass\n",
    "tests/tenancy/test_in_the_postgres_folder.py": "def test_shares_the_roles():\n    pass\n",
}


def write_suite(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\naddopts = -ra --strict-markers\n", "utf-8")
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the generated suite needs no installed plugin but xdist
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_check_tier_runs_in_process_tests_and_defers_each_kind_of_expensive_reach(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, SUITE)
    result = run(suite, "--tier=check", "-q", "-rfE")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # test_fails
    assert re.search(r"^1 failed, 1 passed, 3 deselected, 4 deferred in ", out, re.MULTILINE), out
    assert "check tier: 3 tests deselected, 4 tests and 1 test modules deferred" in out
    assert "FAILED tests/unit/test_plain.py::test_fails" in out and "a check-tier failure still fails" in out
    assert (
        "check tier: deferred tests: 1 connects to PostgreSQL; 1 connects to Redis; 1 imports the engine; 1 starts a process\n"
        in out
    )
    # the whole tier drops nothing (the module that imports the engine left out: it would start it)
    whole = run(suite, "--collect-only", "-q", "--ignore=tests/unit/test_engine_at_import.py")
    assert "9 tests collected" in whole.stdout and "deselected" not in whole.stdout, whole.stdout + whole.stderr


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("test_engine_inside.py", "imports the engine (cdktn_provider_aws)"),
        ("test_postgres.py", "connects to PostgreSQL"),
        ("test_redis.py", "connects to Redis"),
        ("test_process.py", "starts a process (true)"),
    ],
)
def test_each_deferred_test_says_what_it_reached_for(tmp_path: Path, name: str, what: str) -> None:
    suite = write_suite(tmp_path, SUITE)
    result = run(suite, "--tier=check", "-v", f"tests/unit/{name}")
    assert f"DEFERRED tests/unit/{name}::" in result.stdout and f": {what}\n" in result.stdout, result.stdout
    assert result.returncode == 0


def test_two_workers_keep_each_group_on_one_worker(tmp_path: Path) -> None:
    files = {"conftest.py": CONFTEST}
    for n in range(4):
        files[f"tests/tenancy/test_roles_{n}.py"] = "def test_a():\n    pass\n\ndef test_b():\n    pass\n"
        files[f"tests/synth/test_stack_{n}.py"] = "def test_a(synthesized):\n    pass\n"
        files[f"tests/cli/test_uses_a_database_{n}.py"] = "def test_a(database):\n    pass\n"
        files[f"tests/unit/test_free_{n}.py"] = "\n\n".join(f"def test_{k}():\n    pass" for k in range(6)) + "\n"
    result = run(write_suite(tmp_path, files), "-p", "xdist.plugin", "-n", "2", "--dist", "loadgroup", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    ran = re.findall(r"^\[(gw\d)\] .*? PASSED (\S+)", result.stdout, re.MULTILINE)
    assert len(ran) == 40, result.stdout
    postgres = {worker for worker, nodeid in ran if "tenancy" in nodeid or "uses_a_database" in nodeid}
    synth = {worker for worker, nodeid in ran if "synth" in nodeid}
    assert len(postgres) == 1 and len(synth) == 1 and postgres != synth, ran
    assert {worker for worker, _ in ran} == {"gw0", "gw1"}, "the ungrouped tests are spread over both"
