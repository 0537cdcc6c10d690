"""Synth cost as environments are added, as ratios to the engine floor measured in one run (issue 25).

    .venv/bin/python -m benchmarks.bench_environments [--rounds 3] [--sizes 3,6,12]

Generated projects (temporary folders holding only environments/): this project's account.tfvars,
dev, staging and production, and for 6 and 12 environments copies of staging.tfvars named qa01,
qa02, ... (each with its own name, tags, /16 network, hosts and namespace), each synthesized with
``--project-dir``:

- engine floor: as in bench_synth (a fresh process importing cdktn and the four provider bindings);
- ``synth --force`` of every environment at each size: the time per added environment, as a fraction
  of the floor (the slope from the smallest to the largest size; target <= 0.10), and the peak
  memory of the process tree, Python and Node.js (target <= 2 GiB at 12);
- ``synth --env staging`` of the largest project, cold: target <= 1.3 x the floor;
- staging.tfvars changed in the largest project: the re-synth redoes staging's stacks (and the
  account-wide ones) and keeps the others; its time as a multiple of the floor, and which it rebuilt;
- the re-synth with nothing changed (the cache; bench_synth's target <= 1 s).

Then where the time goes: the phases each synth records in its stamp (engine start, construction of
each stack, the engine's synth, Terraform's parser, the schema gate), the rest of the process (Python's
start, the CLI, loading and checking the settings) being its wall time less their sum.
Rounds are interleaved (floor, sizes, one, re-synth, ...) so machine noise hits all alike.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_synth import FLOOR, GIB
from benchmarks.measure import Measurement, cli_and_env, measure, median, snapshot
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS
from qualisys_infra.terraform.synth import STAMP_FILE

# The engine floor with what the stacks import of the bindings: one Python module per resource type.
FLOOR_USED = "import qualisys_infra.core.engine.aws, qualisys_infra.core.engine.kubernetes, " + (
    "qualisys_infra.core.engine.helm, qualisys_infra.core.engine.github"
)
BASE = ("dev", "staging", "production")  # this project's own environments, in every generated project
SOURCE = "staging"  # what the added environments copy, and the one changed for the re-synth
# staging's log retention in each round: CloudWatch periods, none the file's own 30, so every round changes it
RETENTIONS = (60, 90, 120, 150, 180, 365)
PER_ENV_TARGET = 0.10
PEAK_TARGET = 2 * GIB
ONE_TARGET = 1.3


def added_environment(text: str, name: str, second_octet: int) -> str:
    """staging.tfvars as environment ``name``: its name, tags, hosts and own namespace renamed, its
    networks moved to 10.<second_octet>.0.0/16 (so that no two overlap)."""
    replacements = [
        (r'^(environment\s*=\s*)"staging"', rf'\g<1>"{name}"'),
        (r'^(\s*Environment\s*=\s*)"staging"', rf'\g<1>"{name}"'),
        (r"^(\s*)staging(\s*=\s*\{)", rf"\g<1>{name}\g<2>"),  # the environment's own namespace
        (r'"((?:grafana\.)?)staging\.', rf'"\g<1>{name}.'),  # ingress_domain, grafana_domain
        (r"\b10\.1\.(\d+)\.0/", rf"10.{second_octet}.\g<1>.0/"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if not count:
            raise SystemExit(f"benchmark: {SOURCE}.tfvars no longer matches {pattern!r}; update added_environment")
    return text


def make_project(folder: Path, size: int, toolkit: Path) -> tuple[str, ...]:
    """A project of ``size`` environments in ``folder`` (see the module's doc), from the environment
    files of ``toolkit``; its environment names."""
    source = toolkit / "environments"
    environments = folder / "environments"
    environments.mkdir(parents=True)
    shutil.copy(source / "account.tfvars", environments)
    names = list(BASE[:size])
    for name in names:
        shutil.copy(source / f"{name}.tfvars", environments)
    staging = (source / f"{SOURCE}.tfvars").read_text(encoding="utf-8")
    for k in range(1, size - len(names) + 1):
        name = f"qa{k:02d}"
        (environments / f"{name}.tfvars").write_text(added_environment(staging, name, 10 + k), encoding="utf-8")
        names.append(name)
    return tuple(names)


def project_cli(project: Path, names: Sequence[str], env: dict[str, str], toolkit: Path) -> list[str]:
    """The command line that runs the toolkit's CLI (from ``toolkit``) on ``project``, once the CLI has
    listed every environment of it (``environments --json``)."""
    cli = cli_and_env(project, toolkit)[0]
    done = subprocess.run([*cli, "environments", "--json"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark: the generated project is invalid: {done.stderr.strip()[-500:]}")
    listed = json.loads(done.stdout)
    found = listed.get("environments", listed) if isinstance(listed, dict) else listed
    if len(found) != len(names):
        raise SystemExit(
            f"benchmark: `environments` lists {len(found)} environments of {project}, expected {len(names)}"
        )
    return cli


def change_one(project: Path, value: int) -> None:
    """A real change to staging's settings (its log retention), different in every round."""
    path = project / "environments" / f"{SOURCE}.tfvars"
    text, count = re.subn(
        r"^(log_retention_days\s*=\s*)\d+", rf"\g<1>{value}", path.read_text(encoding="utf-8"), flags=re.M
    )
    if count != 1:
        raise SystemExit(f"benchmark: {path.name} has no log_retention_days line")
    path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Synth:
    """One synth process: its wall time and peak memory, when it was started (seconds since the epoch)
    and what it recorded in its stamp (nothing when it found its output up to date)."""

    run: Measurement
    spawned: float
    stamp: dict[str, Any]

    @property
    def seconds(self) -> float:
        return self.run.seconds


def synth(cli: Sequence[str], env: dict[str, str], out: Path, *options: str) -> Synth:
    """``synth --out OUT OPTIONS``, measured; the stamp it wrote, if it wrote one."""
    stamp_file = out / STAMP_FILE
    before = stamp_file.stat().st_mtime_ns if stamp_file.exists() else None
    spawned = time.time()
    run = measure([*cli, "synth", "--out", str(out), *options], env=env)
    wrote = stamp_file.exists() and stamp_file.stat().st_mtime_ns != before
    return Synth(run, spawned, json.loads(stamp_file.read_text(encoding="utf-8")) if wrote else {})


def profile(run: Synth, floor: float) -> list[str]:
    """Where one synth process's time went: before synth (Python's start, the CLI, the settings loaded
    and checked), each phase synth recorded (environments' construction summed, and per environment by
    stack kind), and after it (the CLI's listing, the engine's Node.js stopped, the process's exit)."""
    laps = [(str(name), float(seconds)) for name, seconds in run.stamp.get("phases", [])]
    groups: dict[str, float] = defaultdict(float)
    kinds: dict[str, float] = defaultdict(float)
    built = {m.group(1) for name, _ in laps if (m := re.fullmatch(r"construct (\S+)-(\w+)", name))}
    built.discard("bootstrap, account,")
    for name, seconds in laps:
        env_stack = re.fullmatch(r"construct (\S+)-(\w+)", name)
        if env_stack and env_stack.group(2) in ENVIRONMENT_STACK_KINDS:
            groups[f"construct the environments' stacks ({len(built)} of them)"] += seconds
            kinds[env_stack.group(2)] += seconds
        else:
            groups[name] += seconds
    before = float(run.stamp.get("started", run.spawned)) - run.spawned
    after = run.seconds - before - sum(seconds for _, seconds in laps)
    rows = [
        ("before synth: Python's start, the CLI, settings loaded and checked", before),
        *groups.items(),
        ("after synth: the CLI's listing, the engine's Node.js stopped, exit", after),
    ]
    lines = [f"  {seconds:6.2f} s  {seconds / floor:5.2f} x floor  {name}" for name, seconds in rows]
    if built and kinds:
        shown = ", ".join(f"{kind} {kinds[kind] / len(built):.2f}" for kind in ENVIRONMENT_STACK_KINDS)
        lines.append(f"  construction per environment, by stack (s): {shown}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="3,6,12", help="environment counts, comma-separated (at least 3)")
    args = parser.parse_args()
    sizes = sorted({int(n) for n in args.sizes.split(",")})
    if len(sizes) < 2 or sizes[0] < len(BASE):
        parser.error(f"--sizes: expected two or more counts of at least {len(BASE)}")
    largest = sizes[-1]
    _, env = cli_and_env()
    floors: list[Measurement] = []
    used: list[Measurement] = []
    alls: dict[int, list[Synth]] = {n: [] for n in sizes}
    ones: list[Synth] = []
    resynths: list[Synth] = []
    cached: list[Synth] = []
    with tempfile.TemporaryDirectory(prefix="bench-environments-") as tmp:
        root = Path(tmp)
        toolkit = snapshot(root)
        names = {n: make_project(root / f"project-{n}", n, toolkit) for n in sizes}
        clis = {n: project_cli(root / f"project-{n}", names[n], env, toolkit) for n in sizes}
        big, out = clis[largest], root / f"out-{largest}"
        for i in range(args.rounds):
            floors.append(measure([sys.executable, "-c", FLOOR], env=env))
            used.append(measure([sys.executable, "-P", "-c", FLOOR_USED], env={**env, "PYTHONPATH": str(toolkit)}))
            for n in sizes:
                alls[n].append(synth(clis[n], env, root / f"out-{n}", "--force"))
            shutil.rmtree(root / "out-one", ignore_errors=True)
            ones.append(synth(big, env, root / "out-one", "--env", SOURCE))
            change_one(root / f"project-{largest}", RETENTIONS[i % len(RETENTIONS)])
            resynths.append(synth(big, env, out))
            cached.append(synth(big, env, out))
            shown = ", ".join(f"{n} envs {alls[n][-1].seconds:.1f} s" for n in sizes)
            print(
                f"round {i + 1}: floor {floors[-1].seconds:.2f} s; all: {shown};"
                f" --env {SOURCE} {ones[-1].seconds:.1f} s; "
                f"re-synth after one change {resynths[-1].seconds:.1f} s (rebuilt {resynths[-1].stamp.get('rebuilt')});"
                f" cached {cached[-1].seconds:.2f} s",
                flush=True,
            )

    floor, floor_used = median([m.seconds for m in floors]), median([m.seconds for m in used])
    cpu_floor = median([m.cpu_seconds for m in floors])
    cpu = {n: median([m.run.cpu_seconds for m in alls[n]]) for n in sizes}
    cpu_slope = (cpu[largest] - cpu[sizes[0]]) / (largest - sizes[0])
    times = {n: median([m.seconds for m in alls[n]]) for n in sizes}
    peak = {n: max(m.run.peak_rss_bytes for m in alls[n]) for n in sizes}
    slope = (times[largest] - times[sizes[0]]) / (largest - sizes[0])
    one, again = median([m.seconds for m in ones]), median([m.seconds for m in resynths])
    rebuilt = resynths[-1].stamp.get("rebuilt")
    print(
        f"engine floor (import cdktn + 4 provider bindings): {floor:.2f} s, {cpu_floor:.2f} s CPU"
        f" (median of {args.rounds})"
    )
    print(
        f"engine floor with the binding classes the stacks import: {floor_used:.2f} s"
        f" = {floor_used / floor:.2f} x floor"
    )
    for n in sizes:
        print(
            f"synth of all {n:>2} environments: {times[n]:6.2f} s = {times[n] / floor:.2f} x floor,"
            f" peak {peak[n] / GIB:.2f} GiB; CPU {cpu[n]:.1f} s = {cpu[n] / cpu_floor:.2f} x the floor's CPU"
        )
    for a, b in itertools.pairwise(sizes):
        step = (times[b] - times[a]) / (b - a)
        print(f"per added environment, {a} -> {b}: {step:.2f} s = {step / floor:.3f} x floor")
    print(
        f"per added environment, {sizes[0]} -> {largest}: {slope:.2f} s = {slope / floor:.3f} x floor "
        f"(target <= {PER_ENV_TARGET:.2f}); CPU {cpu_slope:.2f} s = {cpu_slope / cpu_floor:.3f} x the floor's CPU"
    )
    print(
        f"peak memory at {largest} environments: {peak[largest] / GIB:.2f} GiB (target <= {PEAK_TARGET / GIB:.0f} GiB)"
    )
    print(
        f"synth --env {SOURCE} ({largest}-environment project): {one:.2f} s = {one / floor:.2f} x floor"
        f" (target <= {ONE_TARGET})"
    )
    print(
        f"re-synth after {SOURCE}.tfvars changed ({largest} environments): {again:.2f} s"
        f" = {again / floor:.2f} x floor; "
        f"rebuilt {', '.join(rebuilt) if isinstance(rebuilt, list) else 'nothing'},"
        f" kept {len(resynths[-1].stamp.get('environments', {})) - len(rebuilt or [])} from the earlier output"
    )
    print(f"re-synth with nothing changed: {median([m.seconds for m in cached]):.2f} s")
    for title, run in (
        (f"synth of all {largest} environments", alls[largest][-1]),
        (f"synth --env {SOURCE}", ones[-1]),
        (f"re-synth after {SOURCE}.tfvars changed", resynths[-1]),
    ):
        print(f"where the time goes, {title} ({run.seconds:.1f} s wall, {run.run.cpu_seconds:.1f} s CPU; last round):")
        print("\n".join(profile(run, floor)))
    met = {
        "per added environment": slope / floor <= PER_ENV_TARGET,
        "peak memory": peak[largest] <= PEAK_TARGET,
        "one environment": one / floor <= ONE_TARGET,
        "re-synth rebuilds only the changed environment": all(m.stamp.get("rebuilt") == [SOURCE] for m in resynths),
        "re-synth with nothing changed is a no-op": not any(m.stamp for m in cached),
    }
    missed = [name for name, ok in met.items() if not ok]
    print("environments benchmark: " + ("all targets met" if not missed else "TARGET MISSED: " + ", ".join(missed)))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
