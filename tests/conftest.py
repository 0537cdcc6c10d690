"""Shared fixtures. Tests are ordered by cost: unit (no engine), then one synth per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.config import Settings, environment_names, load_settings
from qualisys_infra.core.runtime import PROJECT_ROOT, configure_node
from qualisys_infra.gates.security import ScanReport, scan
from tests import tiers
from tests.synth.helpers import prepare_broken_copy

ROOT = PROJECT_ROOT
ENV_DIR = ROOT / "environments"
# The project's environments, in its order: every environments/<name>.tfvars but account.tfvars.
ENVIRONMENT_NAMES = environment_names(ENV_DIR)

configure_node(os.environ)


@dataclass(frozen=True)
class Synthesized:
    """The output of one synth of every environment: the folder and each stack's parsed JSON.

    ``scan`` is the security gate's report over it, and ``broken_scan`` its report over a copy
    with planted faults; both start in the background as soon as the synth is done (checkov
    takes seconds; the other tests run meanwhile).
    """

    outdir: Path
    settings: Settings
    stacks: dict[str, dict[str, Any]]
    scan: Future[ScanReport]
    broken_scan: Future[ScanReport]

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        """Every resource of ``type_`` in ``stack``, by name (empty when there is none)."""
        return dict((self.stacks[stack].get("resource") or {}).get(type_) or {})

    def data(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return dict((self.stacks[stack].get("data") or {}).get(type_) or {})


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(ENV_DIR, environment_names(ENV_DIR), root=ROOT)


@pytest.fixture(scope="session")
def synthesized(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Synthesized:
    """One synth of the bootstrap stack and every environment, shared by the whole session."""
    from qualisys_infra.terraform.synth import synth

    if tiers.worker_id() is not None and request.config.stash.get(_CDKTN_COLLECTED, False):
        _start_cdktn_synth(request.config)  # this worker runs the `synth` group, the cdktn test with it
    outdir = tmp_path_factory.mktemp("synth") / "cdktf.out"
    result = synth(settings, environments_dir=ENV_DIR, outdir=outdir, force=True)
    stacks = {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8"))
        for name in result.stacks
    }
    # Scan a copy: CLI tests may legitimately rewrite the session's output folder meanwhile.
    scanned = tmp_path_factory.mktemp("scan") / "cdktf.out"
    shutil.copytree(outdir, scanned)
    report = _BACKGROUND.submit(scan, scanned, list(stacks))
    broken = tmp_path_factory.mktemp("broken-scan")
    broken_report = _BACKGROUND.submit(scan, broken, prepare_broken_copy(outdir, broken))
    return Synthesized(outdir=outdir, settings=settings, stacks=stacks, scan=report, broken_scan=broken_report)


_BACKGROUND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qualisys-test-background")


@pytest.fixture
def project_copy(tmp_path: Path) -> Iterator[Path]:
    """A scratch project folder holding a copy of environments/, for tests that break files."""
    shutil.copytree(ENV_DIR, tmp_path / "environments")
    yield tmp_path


# --- tiers (make check) and parallel runs (make test): tests/tiers.py ---


def pytest_addoption(parser: pytest.Parser) -> None:
    tiers.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    tiers.configure(config)
    tiers.start_controller(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    tiers.stop_controller(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return tiers.make_scheduler(config, log)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tiers.select(config, items)
    tiers.group(config, items)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    tiers.collect_report(collector.config, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    with tiers.running(item):
        return (yield)


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    return tiers.teststatus(report)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    tiers.summary(terminalreporter, config)
    for failure in config.stash.get(_UNDROPPED, []):
        terminalreporter.write_line(f"error: a test database could not be dropped: {failure}", red=True)


_UNDROPPED = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:  # pytest-xdist's, on its controller
    tiers.worker_down(node.config, node)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The tests' databases are dropped in the background (tests/databases.py): wait for the last."""
    from tests.databases import DROPPER

    tiers.worker_finish(session.config)

    failures = DROPPER.wait()
    if failures:
        session.config.stash[_UNDROPPED] = failures
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# `npx cdktn synth` is a full engine start in other processes (Node CLI, then `python main.py`):
# started as soon as collection ends, it runs on the second core while the in-process tests run.
# On xdist workers (every worker collects every test) it starts with the session's synth instead,
# on the worker of the `synth` group, which runs this test too (tests/tiers.py).
CDKTN_TEST = "test_main_py_synthesizes_under_the_cdktn_cli"
CDKTN_RUN = pytest.StashKey[tuple[subprocess.Popen[str], Path]]()
_CDKTN_COLLECTED = pytest.StashKey[bool]()


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_CDKTN_COLLECTED] = any(item.name == CDKTN_TEST for item in session.items)
    if session.config.stash[_CDKTN_COLLECTED] and tiers.worker_id() is None:
        _start_cdktn_synth(session.config)


def _start_cdktn_synth(config: pytest.Config) -> None:
    if CDKTN_RUN in config.stash:
        return
    out = Path(tempfile.mkdtemp(prefix="qualisys-cdktn-")) / "cdktn.out"
    env = {**os.environ, "QUALISYS_ENVIRONMENTS": "dev", "CHECKPOINT_DISABLE": "1"}
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env['PATH']}"
    process = subprocess.Popen(
        ["cdktn", "synth", "--output", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    config.stash[CDKTN_RUN] = (process, out)


@pytest.fixture
def cdktn_synth(request: pytest.FixtureRequest) -> tuple[int, str, Path]:
    """The exit code, output and output folder of the background `cdktn synth` run."""
    _start_cdktn_synth(request.config)
    process, out = request.config.stash[CDKTN_RUN]
    output, _ = process.communicate(timeout=300)
    return process.returncode, output, out


@pytest.fixture(scope="session")
def _qualisys_synth(synthesized: Synthesized) -> Any:
    """The pytest plugin's session synth is this session's synth (users get their own): its
    ``synth`` call finds the output up to date and returns at once."""
    from qualisys_infra.pytest_plugin import _Synth

    return _Synth(synthesized.outdir, ROOT)
