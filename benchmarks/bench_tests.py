"""`make test` and `make check`: wall time, CPU time and the suite's size, measured in one run.

Targets (DESIGN.md, issue 24): `make test` <= 5 min wall on 2 cores after setup, as on a fresh clone
(lint included); `make check` <= 60 s.

As on a fresh clone after `make setup`: mypy gets a cache folder of its own holding only what setup
puts there (the engine's bindings, `mypy qualisys_infra/core/engine`), and Python compiles every
module of the project again (a fresh PYTHONPYCACHEPREFIX). The installed packages, Node.js and the
schema indexes are setup's and are kept.

    .venv/bin/python -m benchmarks.bench_tests             # make test, then make check
    .venv/bin/python -m benchmarks.bench_tests --check     # make check only

Each command's exit code is printed beside its time: a run with failing tests is still timed, and
the benchmark exits 1 when a target is missed or a command failed. Prints one line per command,
then the suite's size as pytest counted it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from qualisys_infra.core.runtime import PROJECT_ROOT

TEST_TARGET_S = 300.0
CHECK_TARGET_S = 60.0
# pytest's last line: "5 failed, 2340 passed, 801 deselected, 243 deferred in 73.53s (0:01:13)"
TIER = re.compile(r"^check tier: (\d+) tests deselected", re.MULTILINE)
SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    code: int
    counts: dict[str, int]

    @property
    def tests(self) -> int:
        """Tests pytest ran or set aside (passed, failed, errors, deferred, deselected, ...)."""
        return sum(n for kind, n in self.counts.items() if kind not in ("warning", "warnings"))


def counts(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line: ``{"passed": 2340, "deselected": 801, ...}``."""
    found = SUMMARY.findall(output)
    if not found:
        return {}
    pairs = (part.split(" ", 1) for part in found[-1].split(", "))
    result = {kind: int(number) for number, kind in pairs}
    # make check's workers deselect, so pytest's line lacks them: the check tier's own line has them
    tier = TIER.search(output)
    if tier and "deselected" not in result:
        result["deselected"] = int(tier.group(1))
    return result


def make(target: str, env: dict[str, str], log: Path) -> Run:
    """`make TARGET` in the project: its wall time and the CPU time of the whole process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds, cpu, done.returncode, counts(log.read_text(encoding="utf-8", errors="replace")))


def fresh_clone_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh clone after `make setup`: mypy's cache holds only the engine's bindings
    (what setup writes), and no module of the project has been compiled yet."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env["MYPY_CACHE_DIR"] = str(tmp / "mypy-cache")
    subprocess.run(
        [str(Path(sys.executable).with_name("mypy")), "--no-error-summary", "qualisys_infra/core/engine"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return env


def line(name: str, run: Run, target: float) -> str:
    verdict = "met" if run.seconds <= target and run.code == 0 else "MISSED" if run.seconds > target else "FAILED"
    shown = ", ".join(f"{n} {kind}" for kind, n in run.counts.items()) or "no pytest summary"
    return (
        f"make {name}: {run.seconds:.1f} s wall (target <= {target:.0f} s: {verdict}), {run.cpu_seconds:.1f} s CPU,"
        f" exit {run.code}; {run.tests} tests: {shown}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_tests", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="time make check only")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the make output of each run into DIR")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-tests-") as folder:
        tmp = Path(folder)
        env = fresh_clone_env(tmp)
        # make test first, on the fresh clone's caches; make check then, as in the edit loop that follows
        runs = ([] if args.check else [("test", TEST_TARGET_S)]) + [("check", CHECK_TARGET_S)]
        for name, target in runs:
            log = tmp / f"make-{name}.log"
            run = make(name, env, log)
            print(line(name, run, target), flush=True)
            ok = ok and run.code == 0 and run.seconds <= target
            if args.keep_logs:
                Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                shutil.copy(log, Path(args.keep_logs) / log.name)
    print(f"on {os.cpu_count()} cores; load average when done: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
