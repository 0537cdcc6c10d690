"""Run a command and measure its wall time and the peak memory of its whole process tree."""

from __future__ import annotations

import os
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
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} exited {process.returncode}: {stderr.strip()[-500:]}")
    return Measurement(seconds, peak)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def cli_and_env(project: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The toolkit's command line (quiet, on ``project``, by default this one) and an environment
    pointing jsii at Node 22."""
    from qualisys_infra.core.runtime import PROJECT_ROOT, configure_node

    env = dict(os.environ)
    configure_node(env)
    folder = project or PROJECT_ROOT
    cli = [sys.executable, "-m", "qualisys_infra.commands.cli", "--project-dir", str(folder), "--quiet"]
    return cli, env
