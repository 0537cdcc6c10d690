"""Run the benchmarks and write their figures into one generated Markdown file (`make bench`).

    .venv/bin/python -m benchmarks.report --output docs/benchmarks/results.md bench_synth bench_review ...

Each benchmark runs as ``python -m benchmarks.<name>`` in a process of its own, one after another;
what it prints on stdout is shown as it comes and kept, word for word, in the file, with its exit
code (1: a target missed) and wall time. The file's header says where and when: the machine (CPU
count and model, memory), the date, the git commit (and whether the checkout had uncommitted
changes), the load average before and after. The README and the documentation quote benchmark
figures from this file only; tests/unit/test_benchmarks.py checks that it lists every benchmark.

``--skip NAME`` leaves a benchmark out of this run; the file still lists it, as not run, with why
(for example ``bench_tests``, which runs ``make test`` and ``make check``, on a machine others share).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qualisys_infra.core.runtime import PROJECT_ROOT

TITLE = "# Benchmark results"
# The header's rows, in order: tests/unit/test_benchmarks.py checks that the file has each.
FIELDS = ("date", "git commit", "machine", "memory", "python", "node", "load average", "benchmarks")
NOT_RUN = "not run in this run"


@dataclass(frozen=True)
class Result:
    """One benchmark's run: what it printed on stdout, its exit code and wall time; or why it was skipped."""

    name: str
    output: str = ""
    code: int | None = None
    seconds: float = 0.0
    skipped: str = ""

    @property
    def verdict(self) -> str:
        if self.skipped:
            return f"{NOT_RUN} ({self.skipped})"
        return "targets met" if self.code == 0 else f"exit {self.code}: a target missed or the benchmark failed"


@dataclass(frozen=True)
class Machine:
    cpus: int
    model: str
    memory_gib: float
    kernel: str
    python: str
    node: str


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine(env: dict[str, str]) -> Machine:
    """This machine, as /proc and the tools the benchmarks run describe it."""
    memory = _first("/proc/meminfo", "MemTotal")  # "24576000 kB"
    gib = int(memory.split()[0]) / 2**20 if memory.split() and memory.split()[0].isdigit() else 0.0
    try:
        node = subprocess.run(  # the engine's Node.js: JSII_NODE, as configure_node sets it
            [env.get("JSII_NODE", "node"), "--version"], env=env, capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        node = ""
    return Machine(
        cpus=os.cpu_count() or 0,
        model=_first("/proc/cpuinfo", "model name"),
        memory_gib=gib,
        kernel=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        node=node.strip() or "not found",
    )


def git_commit() -> str:
    """The checkout's commit, and whether tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}" + (" (with uncommitted changes to tracked files)" if dirty else "")


def run(name: str, env: dict[str, str]) -> Result:
    """``python -m benchmarks.NAME``: stdout shown line by line and kept; stderr passed through."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{name}"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    for line in process.stdout or ():
        print(f"{name}: {line}", end="", flush=True)
        lines.append(line)
    code = process.wait()
    return Result(name, "".join(lines), code, time.perf_counter() - started)


def render(results: Sequence[Result], *, host: Machine, date: str, commit: str, load: tuple[str, str]) -> str:
    """The Markdown file: the header (where and when), the list of benchmarks, each one's output."""
    rows = {
        "date": date,
        "git commit": f"`{commit}`",
        "machine": f"{host.cpus} CPUs, {host.model}; {host.kernel}",
        "memory": f"{host.memory_gib:.1f} GiB",
        "python": host.python,
        "node": host.node,
        "load average": f"{load[0]} before, {load[1]} after (1, 5, 15 min; other work on the machine shows here)",
        "benchmarks": ", ".join(r.name for r in results),
    }
    lines = [
        TITLE,
        "",
        "Generated by `make bench` (`benchmarks/report.py`); do not edit by hand. The README and the",
        "documentation quote benchmark figures from this file only. Each benchmark measures its ratios",
        "within one run, so that machine noise hits both sides alike; absolute times depend on the machine.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {rows[key]} |" for key in FIELDS),
        "",
        "## Benchmarks",
        "",
        *(
            f"- [`{r.name}`](#{r.name}): `benchmarks/{r.name}.py`, {r.verdict}"
            + (f", {r.seconds:.0f} s" if not r.skipped else "")
            for r in results
        ),
    ]
    for r in results:
        lines += ["", f"## {r.name}", ""]
        doc = _summary(r.name)
        if doc:
            lines += [doc, ""]
        if r.skipped:
            lines.append(f"{NOT_RUN.capitalize()}: {r.skipped}.")
            continue
        lines += [f"{r.verdict}; {r.seconds:.0f} s.", "", "```text", r.output.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def _summary(name: str) -> str:
    """The first line of the benchmark's module docstring (what it measures)."""
    path = PROJECT_ROOT / "benchmarks" / f"{name}.py"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    body = text.split('"""', 2)[1] if text.startswith('"""') else ""
    return body.strip().splitlines()[0] if body.strip() else ""


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.report", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("benchmarks", nargs="+", metavar="NAME", help="benchmark modules, e.g. bench_synth")
    parser.add_argument("--output", type=Path, required=True, help="the Markdown file to write")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME", help="list NAME as not run")
    parser.add_argument("--skip-reason", default="left out with BENCH_SKIP", help="why the skipped ones were")
    args = parser.parse_args(argv)
    unknown = [n for n in [*args.benchmarks, *args.skip] if not (PROJECT_ROOT / "benchmarks" / f"{n}.py").is_file()]
    if unknown:
        parser.error(f"no benchmarks/{unknown[0]}.py; expected one of the benchmarks/bench_*.py modules")
    from qualisys_infra.core.runtime import configure_node

    env = dict(os.environ)
    configure_node(env)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit, host, before = git_commit(), machine(env), _load()
    results = [
        Result(name, skipped=args.skip_reason) if name in args.skip else run(name, env) for name in args.benchmarks
    ]
    text = render(results, host=host, date=date, commit=commit, load=(before, _load()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"benchmarks: wrote {os.path.relpath(args.output)}")
    return 0 if all(r.skipped or r.code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
