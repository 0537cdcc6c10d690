"""The sharding plugin (qualisys_infra.testing.shard): the shards together run the whole suite, each test
once, the same split on every machine, balanced by a durations file when there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from qualisys_infra.core.runtime import PROJECT_ROOT
from qualisys_infra.testing.shard import DEFAULT_DURATIONS, assign, file_of, read_durations, split, weights

PLUGIN = ["-p", "qualisys_infra.testing.shard"]


def pytest_run(
    root: Path, *args: str, timeout: int = 120, autoload: bool = False, seed: int | None = None
) -> subprocess.CompletedProcess[str]:
    """pytest in ``root``; the installed plugins (faker, typeguard, ...) are loaded only with ``autoload``;
    ``seed``: the process's PYTHONHASHSEED (set orders differ between processes)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The node ids `pytest --collect-only -q` printed."""
    assert result.returncode in (0, 5), result.stdout[-3000:] + result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if "::" in line and not line.startswith(("shard ", " "))]


def test_split_is_by_file_heaviest_first_onto_the_lightest_shard() -> None:
    ids = [
        f"tests/test_{name}.py::test_{n}"
        for name, count in (("a", 6), ("b", 3), ("c", 3), ("d", 2))
        for n in range(count)
    ]
    assert split(ids, 2) == {"tests/test_a.py": 1, "tests/test_b.py": 2, "tests/test_c.py": 2, "tests/test_d.py": 1}
    assert split(ids, 1) == dict.fromkeys(
        ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py", "tests/test_d.py"], 1
    )
    assert split(list(reversed(ids)), 2) == split(ids, 2), "the order of collection does not matter"
    spread = split(ids, 6)
    assert sorted(spread.values()) == [1, 2, 3, 4] and len(set(spread.values())) == 4  # shards 5 and 6 stay empty


def test_durations_weigh_files_and_unknown_files_get_the_average_per_test() -> None:
    tests = {"a.py": 10, "b.py": 2, "c.py": 4}
    assert weights(tests, {}) == {"a.py": 10.0, "b.py": 2.0, "c.py": 4.0}
    assert weights(tests, {"a.py": 1.0, "b.py": 11.0}) == {"a.py": 1.0, "b.py": 11.0, "c.py": 4.0}  # 12 s / 12 tests
    assert assign({"a.py": 1.0, "b.py": 11.0, "c.py": 4.0}, 2) == {"b.py": 1, "c.py": 2, "a.py": 2}
    assert assign({"x.py": 1.0, "y.py": 1.0}, 2) == {"x.py": 1, "y.py": 2}, "ties: by name, then the lower shard"
    assert file_of("tests/unit/test_x.py::TestK::test_y[a::b]") == "tests/unit/test_x.py"


SUITE = {
    "tests/test_big.py": "import pytest\n\n@pytest.mark.parametrize('n', range(8))\ndef test_n(n):\n    pass\n",
    "tests/test_small.py": "def test_one():\n    pass\n\ndef test_two():\n    pass\n",
    "tests/test_class.py": "class TestK:\n    def test_a(self):\n        pass\n\n    def test_b(self):\n        pass\n",
    "tests/sub/test_deep.py": "def test_deep():\n    pass\n",
    "tests/test_slow.py": "def test_slow():\n    pass\n",
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    for name, text in SUITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    return root


def test_the_shards_of_a_generated_suite_run_every_test_exactly_once(suite: Path) -> None:
    whole = collected(pytest_run(suite, "--collect-only", "-q"))
    assert len(whole) == 14
    for shards in (1, 2, 3, 7):
        parts = [collected(pytest_run(suite, "--collect-only", "-q", *PLUGIN, "--num-shards", str(shards),
                                      "--shard-id", str(k))) for k in range(1, shards + 1)]  # fmt: skip
        together = Counter(nodeid for part in parts for nodeid in part)
        assert set(together) == set(whole) and set(together.values()) == {1}, shards
        files = [{file_of(nodeid) for nodeid in part} for part in parts]
        assert sum(len(f) for f in files) == len({file_of(n) for n in whole}), "a file is never split"


def test_a_durations_file_balances_and_every_machine_splits_the_same(suite: Path, tmp_path: Path) -> None:
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"tests/test_slow.py::test_slow": 30.0, "tests/test_big.py": 8.0}), "utf-8")
    # `=`: with -p, pytest finds its rootdir before it knows the option, and would take a separate
    # value for a path to test
    args = ["--collect-only", "-q", *PLUGIN, "--num-shards", "2", f"--shard-durations={durations}"]
    one = pytest_run(suite, *args, "--shard-id", "1")
    two = collected(pytest_run(suite, *args, "--shard-id", "2"))
    assert collected(one) == ["tests/test_slow.py::test_slow"], "30 s alone against 8 + 5 x 1 s"
    assert f"shard 1 of 2: 1 of 14 tests, 1 of 5 test files (balanced by the seconds in {durations})" in one.stdout
    assert len(two) == 13
    assert collected(pytest_run(suite, *args, "--shard-id", "1")) == collected(one), "deterministic"


def test_store_durations_then_split_by_them(suite: Path, tmp_path: Path) -> None:
    durations = tmp_path / "seconds.json"
    durations.write_text(json.dumps({"tests/gone.py": 5.0}), "utf-8")
    ran = pytest_run(suite, "-q", *PLUGIN, f"--store-durations={durations}")
    assert ran.returncode == 0, ran.stdout
    stored = json.loads(durations.read_text(encoding="utf-8"))
    assert set(stored) == {"tests/gone.py", *{file_of(k) for k in SUITE}}, "merged with what the file held"
    assert all(isinstance(v, float) and v >= 0 for v in stored.values())


def test_an_empty_shard_passes_and_bad_options_are_one_line(suite: Path) -> None:
    empty = pytest_run(suite, "-q", *PLUGIN, "--num-shards", "9", "--shard-id", "9")
    assert empty.returncode == 0 and "14 deselected" in empty.stdout
    for args, message in (
        (["--num-shards", "2"], "--shard-id and --num-shards go together"),
        (["--num-shards", "2", "--shard-id", "3"], "--shard-id: 3 is not between 1 and --num-shards 2"),
        (["--num-shards", "0", "--shard-id", "1"], "--num-shards: 0 is not a number of shards"),
        (["--num-shards", "2", "--shard-id", "1", "--shard-durations=missing.json"], "cannot be read"),
    ):
        result = pytest_run(suite, "-q", *PLUGIN, *args)
        assert result.returncode == 4 and message in result.stderr, (args, result.stderr)
    no_tests = pytest_run(suite, "-q", *PLUGIN, "--num-shards", "2", "--shard-id", "1", "-k", "nothing_matches")
    assert no_tests.returncode == 5, "a suite that selects nothing is still pytest's exit 5"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"[" * 100_000 + b"]" * 100_000, "not JSON"), (b'{"tests/caf\xe9.py": 1}', "not JSON")],
    ids=["nested-past-the-parser", "latin-1"],
)
def test_fails_if_a_durations_file_is_not_json_with_one_line(
    suite: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    durations = tmp_path / "durations.json"
    durations.write_bytes(content)
    result = pytest_run(suite, "-q", *PLUGIN, "--num-shards", "2", "--shard-id", "1", f"--shard-durations={durations}")
    assert result.returncode == 4, result.stderr
    assert f"--shard-durations: {durations}: {message}" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr + result.stdout


# A suite shaped like ours (tests/), generated: packages and nested folders, a conftest that reorders
# the items and deselects one (the shard plugin shards what is left), classes, parametrized ids
# holding `::`, `[`, `/` and non-ASCII characters, a module skipped at import, one file much heavier
# than the others in the committed durations file (.test_durations in the rootdir, read by default,
# with a node id, and a file that no longer exists). Whether *our* suite collects the same node ids in
# every process is checked by every `make test`: pytest-xdist refuses to run when its two workers
# collect different tests.
LIKE_OURS = {
    "tests/__init__.py": "",
    "tests/conftest.py": (
        "def pytest_collection_modifyitems(config, items):\n"
        "    kept = [i for i in items if 'deselected_by_conftest' not in i.name]\n"
        "    config.hook.pytest_deselected(items=[i for i in items if i not in kept])\n"
        "    items[:] = list(reversed(kept))\n"
    ),
    "tests/unit/__init__.py": "",
    "tests/unit/test_config.py": (
        "import pytest\n\n"
        "@pytest.mark.parametrize('value', ['a::b', 'x[1]', 'dir/file.tfvars', 'caf\u00e9', ''])\n"
        "def test_value(value):\n    pass\n\n"
        "def test_deselected_by_conftest():\n    pass\n"
    ),
    "tests/unit/test_naming.py": "class TestNames:\n    class TestNested:\n        def test_a(self):\n"
    "            pass\n\n    def test_b(self):\n        pass\n",
    "tests/unit/test_optional.py": "import pytest\n\npytest.importorskip('no_such_module_here')\n\n"
    "def test_never():\n    pass\n",
    "tests/synth/__init__.py": "",
    "tests/synth/test_network.py": "import pytest\n\n@pytest.mark.parametrize('n', range(12))\n"
    "def test_subnet(n):\n    pass\n",
    "tests/synth/test_data.py": "def test_db():\n    pass\n\ndef test_cache():\n    pass\n",
    "tests/cli/__init__.py": "",
    "tests/cli/test_cli_plan.py": "def test_plan():\n    pass\n\ndef test_deploy():\n    pass\n",
    "tests/cli/test_cli.py": "def test_help():\n    pass\n",
    "tests/tenancy/__init__.py": "",
    "tests/tenancy/test_verify.py": "import pytest\n\n@pytest.mark.parametrize('path', ['a/b', 'c'])\n"
    "class TestPaths:\n    def test_one(self, path):\n        pass\n\n    def test_two(self, path):\n"
    "        pass\n",
    "tests/test_top.py": "def test_top():\n    pass\n",
}
LIKE_OURS_DURATIONS = {
    "tests/cli/test_cli_plan.py": 90.0,  # as heavy as the other files together
    "tests/synth/test_network.py::test_subnet[0]": 20.0,  # a node id: summed into its file
    "tests/synth/test_network.py::test_subnet[1]": 20.0,
    "tests/tenancy/test_verify.py": 30.0,
    "tests/unit/test_config.py": 15.0,
    "tests/removed/test_gone.py": 50.0,  # a file that no longer exists weighs nothing
}


@pytest.fixture(scope="module")
def like_ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("like-ours")
    for name, text in LIKE_OURS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\naddopts = -ra --strict-markers\n", "utf-8")
    (root / ".test_durations").write_text(json.dumps(LIKE_OURS_DURATIONS), "utf-8")
    return root


def test_four_shards_of_a_suite_like_ours_select_exactly_the_whole_suite(like_ours: Path) -> None:
    """The split CI runs (4 shards, `-p`, the durations file in the rootdir): collect-only once whole and
    once per shard, and compare; every process with another hash seed."""
    whole = collected(pytest_run(like_ours, "--collect-only", "-q", "-k", "not test_two", seed=1))
    assert len(whole) == 27 and len(set(whole)) == len(whole), whole
    assert "tests/unit/test_config.py::test_value[a::b]" in whole and not any("deselected_by" in n for n in whole)
    args = ["--collect-only", "-q", "-k", "not test_two", *PLUGIN, "--num-shards", "4"]
    runs = [pytest_run(like_ours, *args, "--shard-id", str(k), seed=k + 1) for k in range(1, 5)]
    shards = [collected(run) for run in runs]
    together = Counter(nodeid for shard in shards for nodeid in shard)
    assert set(together) == set(whole), sorted(set(whole) ^ set(together))
    assert set(together.values()) == {1}, [n for n, c in together.items() if c > 1]
    files = [{file_of(nodeid) for nodeid in shard} for shard in shards]
    assert sum(map(len, files)) == len({file_of(n) for n in whole}), "a file is never split"
    assert files[0] == {"tests/cli/test_cli_plan.py"}, "the heaviest file alone: 90 s against 40, 30, 15 and the rest"
    assert all(files), "no shard is empty"
    assert "balanced by the seconds in" in runs[0].stdout and ".test_durations" in runs[0].stdout
    again = collected(pytest_run(like_ours, *args, "--shard-id", "3", seed=99))
    assert again == shards[2], "every machine splits the same"


def test_the_committed_durations_balance_four_shards_of_this_suite() -> None:
    """`make durations` wrote .test_durations (CI's `make test-shard` reads it from the rootdir): it is a
    valid durations file naming test files of this suite, and splits them into 4 shards whose expected
    seconds differ by under a tenth of a shard."""
    seconds = read_durations(PROJECT_ROOT / DEFAULT_DURATIONS)
    files = [name for name in seconds if (PROJECT_ROOT / name).is_file()]
    assert len(files) > 100 and all(name.startswith("tests/") for name in files), sorted(seconds)[:5]
    loads = [0.0] * 4
    for name, shard in assign({name: seconds[name] for name in files}, 4).items():
        loads[shard - 1] += seconds[name]
    assert max(loads) - min(loads) < 0.1 * sum(loads) / 4, loads
