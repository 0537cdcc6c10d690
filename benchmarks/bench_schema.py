"""The provider-schema gate's cost, as a ratio to a cold synth measured in the same run.

    .venv/bin/python -m benchmarks.bench_schema [--rounds 3]

- extraction, once: every installed binding's index built into an empty cache folder (what the
  first check after an install pays; wall time and peak memory of the process tree);
- cold synth: a fresh ``qualisys-infra synth --force`` of every stack of every environment;
- the gate per synth: in a fresh process with the cache warm, importing the gate, loading the
  indexes and checking every synthesized stack (the stacks' JSON already parsed, as synth holds
  it); target <= 10 % of the cold synth.
Rounds are interleaved (synth, gate, synth, gate, ...) so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import cli_and_env, measure, median

GIB = 1024**3
EXTRACT = "import sys; from pathlib import Path; from qualisys_infra.gates.schema import ensure_indexes; " + (
    "ensure_indexes(cache_dir=Path(sys.argv[1]))"
)
# Timed inside the child, so the interpreter's own start is not charged to the gate.
GATE = """
import json, sys, time
from pathlib import Path
out, cache = Path(sys.argv[1]), Path(sys.argv[2])
stacks = {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("stacks/*/cdk.tf.json"))}
started = time.perf_counter()
from qualisys_infra.gates.schema import check_configs, ensure_indexes
report = check_configs(stacks, cache_dir=cache)
seconds = time.perf_counter() - started
if not report.ok or any(index.extracted for index in ensure_indexes(cache_dir=cache).values()):
    sys.exit("the gate found a violation or extracted a schema")
print(json.dumps({"seconds": seconds, "stacks": len(stacks), "blocks": report.checked}))
"""


def _gate(out: Path, cache: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", GATE, str(out), str(cache)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark: the gate run failed: {done.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    cli, env = cli_and_env()
    colds: list[float] = []
    gates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "out"
        extraction = measure([sys.executable, "-c", EXTRACT, str(cache)], env=env)
        print(
            f"extraction, once per install: {extraction.seconds:.2f} s, peak {extraction.peak_rss_bytes / GIB:.2f} GiB"
        )
        for i in range(rounds):
            colds.append(measure([*cli, "synth", "--force", "--out", str(out)], env=env).seconds)
            gate = _gate(out, cache)
            gates.append(gate["seconds"])
            print(f"round {i + 1}: cold synth {colds[-1]:.2f} s, gate {gates[-1] * 1000:.0f} ms")
    cold, cost = median(colds), median(gates)
    ratio = cost / cold
    print(f"cold synth, all stacks of all environments: {cold:.2f} s (median of {rounds})")
    print(
        f"schema gate, {int(gate['stacks'])} stacks, {int(gate['blocks'])} blocks: {cost * 1000:.0f} ms "
        f"= {ratio:.1%} of a cold synth (target <= 10 %)"
    )
    ok = ratio <= 0.10
    print("schema benchmark: " + ("all targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
