"""Run a command and measure its wall time, CPU time and the peak memory of its whole process tree."""

from __future__ import annotations

import compileall
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_bytes: int
    # user + system time of the process and every child it waited for (Node.js, Terraform): on a busy
    # machine a steadier figure than wall time, which includes waiting for a core
    cpu_seconds: float = 0.0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    task = Path(f"/proc/{pid}/task")
    try:
        for thread in task.iterdir():
            text = (thread / "children").read_text()
            kids += [int(k) for k in text.split()]
    except OSError:
        pass
    return kids


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/statm").read_text().split()
            total += int(fields[1]) * PAGE
        except OSError:
            continue
        stack += _children(current)
    return total


def measure(command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measurement:
    """Run ``command`` to completion (it must exit 0), sampling the tree's RSS every 20 ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} exited {process.returncode}: {stderr.strip()[-500:]}")
    return Measurement(seconds, peak, cpu)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def snapshot(folder: Path) -> Path:
    """A copy of the toolkit as it is now, in ``folder``: its code, templates, pins and environments
    copied (and compiled), everything else (the virtualenv, node_modules, tools, caches) linked.

    A benchmark runs the toolkit from it, so that edits to the checkout while it runs (a shared
    machine, an editor saving) change neither the code measured nor synth's inputs: a cached re-synth
    stays a no-op.
    """
    from qualisys_infra.core.runtime import PROJECT_ROOT
    from qualisys_infra.terraform.synth import LOCK_FILES, SOURCE_DIRS

    copied = {*SOURCE_DIRS, *LOCK_FILES, "main.py", "environments"}
    root = folder / "toolkit"
    root.mkdir(parents=True)
    for entry in sorted(PROJECT_ROOT.iterdir()):
        if entry.name in copied and entry.is_dir():
            shutil.copytree(entry, root / entry.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif entry.name in copied:
            shutil.copy2(entry, root / entry.name)
        elif entry.name != ".git":
            (root / entry.name).symlink_to(entry)
    for name in SOURCE_DIRS:
        compileall.compile_dir(root / name, quiet=2)
    return root


def cli_and_env(project: Path | None = None, toolkit: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The toolkit's command line (quiet, on ``project``, by default the toolkit's own) and an
    environment pointing jsii at Node 22. ``toolkit``: a :func:`snapshot` to run the toolkit from
    (``python -P``, so that the current folder does not come first, and PYTHONPATH naming it)."""
    from qualisys_infra.core.runtime import PROJECT_ROOT, configure_node

    env = dict(os.environ)
    configure_node(env)
    python = [sys.executable]
    if toolkit is not None:
        env["PYTHONPATH"] = str(toolkit)
        python.append("-P")
    folder = project or toolkit or PROJECT_ROOT
    cli = [*python, "-m", "qualisys_infra.commands.cli", "--project-dir", str(folder), "--quiet"]
    return cli, env
