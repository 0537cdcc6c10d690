"""Shared fixtures. Tests are ordered by cost: unit (no engine), then one synth per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.app.config import ENVIRONMENT_NAMES, Settings, load_settings
from qualisys_infra.app.security import ScanReport, scan
from qualisys_infra.core.runtime import PROJECT_ROOT, configure_node
from tests.synth.helpers import prepare_broken_copy

ROOT = PROJECT_ROOT
ENV_DIR = ROOT / "environments"

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
    return load_settings(ENV_DIR, ENVIRONMENT_NAMES, root=ROOT)


@pytest.fixture(scope="session")
def synthesized(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One synth of the bootstrap stack and every environment, shared by the whole session."""
    from qualisys_infra.app.synth import synth

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


# `npx cdktn synth` is a full engine start in other processes (Node CLI, then `python main.py`):
# started as soon as collection ends, it runs on the second core while the in-process tests run.
CDKTN_TEST = "test_main_py_synthesizes_under_the_cdktn_cli"
CDKTN_RUN = pytest.StashKey[tuple[subprocess.Popen[str], Path]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.name == CDKTN_TEST for item in session.items):
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
