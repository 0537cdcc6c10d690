"""pytest plugin: run one shard of the test suite, the same split on every machine.

Load it with ``-p qualisys_infra.testing.shard``, then::

    pytest -p qualisys_infra.testing.shard --num-shards 4 --shard-id 1   # ... up to --shard-id 4

Every shard collects the whole suite and keeps the test files assigned to it: a file is never
split (its module fixtures and imports are paid once), each file goes to exactly one shard, and
the N shards together run every collected test exactly once. The split depends only on the
collected test files and the durations file, so every machine computes the same one.

Files are balanced by their expected seconds: ``--shard-durations FILE`` (default
``.test_durations`` in the rootdir, when present) is JSON mapping a test file or node id
(``tests/unit/test_x.py``, ``tests/unit/test_x.py::test_y``) to seconds; a file it does not know is
weighed at the known files' average seconds per test. Without durations a file weighs its number
of tests. The heaviest files are placed first, each on the lightest shard so far (ties: the lower
shard, then the file name). ``--store-durations FILE`` writes the seconds per file of this run
(setup, call and teardown) into FILE, merged with what FILE held, for the next split.

Give a file to an option as ``--shard-durations=FILE`` (with ``=``) when the plugin is loaded with
``-p``: pytest chooses its rootdir before it reads ``-p`` plugins' options, and takes a separate
``FILE`` for a path to test (node ids and the split would then be relative to another folder).

An empty shard (more shards than test files) passes: pytest's exit 5 becomes 0 when the suite
itself is not empty.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

DEFAULT_DURATIONS = ".test_durations"
_SELECTED = pytest.StashKey[tuple[int, int, int, int, str]]()  # kept tests, all tests, kept files, files, basis


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shard", "run one shard of the suite (qualisys_infra.testing.shard)")
    group.addoption("--num-shards", type=int, default=None, metavar="N", help="split the test files into N shards")
    group.addoption("--shard-id", type=int, default=None, metavar="K", help="run shard K of --num-shards (1 to N)")
    group.addoption(
        "--shard-durations",
        default=None,
        metavar="FILE",
        help=f"JSON {{test file or node id: seconds}} to balance the shards (default: {DEFAULT_DURATIONS} in the "
        "rootdir, when present)",
    )
    group.addoption(
        "--store-durations", default=None, metavar="FILE", help="write this run's seconds per test file into FILE"
    )


def pytest_configure(config: pytest.Config) -> None:
    store = config.getoption("store_durations")
    if store and not hasattr(config, "workerinput"):  # under pytest-xdist the controller sees every report
        config.pluginmanager.register(_Recorder(Path(store)), "qualisys-shard-durations")
    shards, shard = config.getoption("num_shards"), config.getoption("shard_id")
    if shards is None and shard is None:
        return
    if shards is None or shard is None:
        raise pytest.UsageError("--shard-id and --num-shards go together")
    if shards < 1:
        raise pytest.UsageError(f"--num-shards: {shards} is not a number of shards")
    if not 1 <= shard <= shards:
        raise pytest.UsageError(f"--shard-id: {shard} is not between 1 and --num-shards {shards}")


def file_of(nodeid: str) -> str:
    """The test file of a node id: ``tests/x/test_y.py::test_z[1]`` -> ``tests/x/test_y.py``."""
    return nodeid.split("::", 1)[0]


def read_durations(path: Path) -> dict[str, float]:
    """Seconds per test file from a durations file (node ids are summed into their file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise pytest.UsageError(f"--shard-durations: {path}: cannot be read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's limit
        raise pytest.UsageError(f"--shard-durations: {path}: not JSON") from None
    if not isinstance(data, dict):
        raise pytest.UsageError(f"--shard-durations: {path}: not a JSON object of seconds by test file or node id")
    seconds: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise pytest.UsageError(f"--shard-durations: {path}: {key!r}: {value!r} is not a number of seconds")
        seconds[file_of(key)] = seconds.get(file_of(key), 0.0) + float(value)
    return seconds


def weights(tests_per_file: Mapping[str, int], durations: Mapping[str, float]) -> dict[str, float]:
    """Each file's expected cost: its seconds when known, else the average seconds per test times its
    tests; without any durations, its number of tests."""
    known = {f: durations[f] for f in tests_per_file if f in durations}
    known_tests = sum(tests_per_file[f] for f in known)
    if not known or known_tests == 0:
        return {f: float(n) for f, n in tests_per_file.items()}
    per_test = sum(known.values()) / known_tests
    return {f: known.get(f, per_test * n) for f, n in tests_per_file.items()}


def assign(weight: Mapping[str, float], shards: int) -> dict[str, int]:
    """Shard (1 to ``shards``) of each file: heaviest first, each onto the lightest shard so far."""
    loads = [0.0] * shards
    out: dict[str, int] = {}
    for name in sorted(weight, key=lambda f: (-weight[f], f)):
        lightest = min(range(shards), key=lambda i: (loads[i], i))
        loads[lightest] += weight[name]
        out[name] = lightest + 1
    return out


def split(nodeids: Sequence[str], shards: int, durations: Mapping[str, float] | None = None) -> dict[str, int]:
    """The shard of every test file of ``nodeids``."""
    tests_per_file: dict[str, int] = {}
    for nodeid in nodeids:
        tests_per_file[file_of(nodeid)] = tests_per_file.get(file_of(nodeid), 0) + 1
    return assign(weights(tests_per_file, durations or {}), shards)


def _durations_path(config: pytest.Config) -> Path | None:
    option = config.getoption("shard_durations")
    if option is not None:
        return Path(option)
    default = config.rootpath / DEFAULT_DURATIONS
    return default if default.is_file() else None


@pytest.hookimpl(trylast=True)  # after every other selection (-k, -m, conftest deselects): shard what is left
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shards, shard = config.getoption("num_shards"), config.getoption("shard_id")
    if shards is None or shard is None:
        return
    path = _durations_path(config)
    durations = read_durations(path) if path is not None else {}
    plan = split([item.nodeid for item in items], shards, durations)
    keep = [item for item in items if plan[file_of(item.nodeid)] == shard]
    drop = [item for item in items if plan[file_of(item.nodeid)] != shard]
    basis = f"by the seconds in {path}" if durations else "by number of tests"
    files = sum(1 for s in plan.values() if s == shard)
    config.stash[_SELECTED] = (len(keep), len(items), files, len(plan), basis)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    if _SELECTED not in config.stash:
        return None
    kept, total, files, all_files, basis = config.stash[_SELECTED]
    return (
        f"shard {config.getoption('shard_id')} of {config.getoption('num_shards')}: {kept} of {total} tests, "
        f"{files} of {all_files} test files (balanced {basis})"
    )


class _Recorder:
    """Seconds per test file of this run, written at the end (``--store-durations``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = file_of(report.nodeid)
        self.seconds[name] = self.seconds.get(name, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        if self.seconds:
            _store(self.path, self.seconds)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    selected = session.config.stash.get(_SELECTED, None)
    if selected is not None and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and selected[1] > 0:
        session.exitstatus = pytest.ExitCode.OK  # this shard got no file; the others run the suite


def _store(path: Path, seconds: Mapping[str, float]) -> None:
    merged: dict[str, float] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            old = {}
        if isinstance(old, dict):
            merged = {
                str(k): float(v) for k, v in old.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
    merged.update({name: round(value, 3) for name, value in seconds.items()})
    # Whole or not at all: a temporary file beside it, renamed over it (shards may share one file).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise pytest.UsageError(f"--store-durations: {path}: cannot be written: {exc.strerror or exc}") from None


__all__ = ["assign", "file_of", "read_durations", "split", "weights"]
