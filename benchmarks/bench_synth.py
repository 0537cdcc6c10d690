"""Synth performance, as ratios measured in one run (DESIGN.md "Performance targets").

    .venv/bin/python -m benchmarks.bench_synth [--rounds 3]

- engine floor: a fresh process importing cdktn and the aws, kubernetes, helm and github bindings;
- cold synth: a fresh ``qualisys-infra synth --force`` of every stack of every environment
  (Terraform-parser check included); target <= 1.5 x the floor;
- cached re-synth with unchanged inputs: target <= 1 s;
- peak memory of the cold synth's process tree (Python and Node.js): target <= 2 GiB.
Rounds are interleaved (floor, synth, floor, synth, ...) so machine noise hits both alike. The toolkit
runs from a snapshot of the checkout (benchmarks.measure.snapshot).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import cli_and_env, measure, median, snapshot

FLOOR = "import cdktn, cdktn_provider_aws, cdktn_provider_kubernetes, cdktn_provider_helm, cdktn_provider_github"
GIB = 1024**3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    floors, colds, peaks, cached = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        # the toolkit as it is now: edits to the checkout while this runs change nothing measured
        cli, env = cli_and_env(toolkit=snapshot(Path(tmp)))
        out = Path(tmp) / "out"
        for i in range(rounds):
            floors.append(measure([sys.executable, "-c", FLOOR], env=env).seconds)
            run = measure([*cli, "synth", "--force", "--out", str(out)], env=env)
            colds.append(run.seconds)
            peaks.append(run.peak_rss_bytes)
            cached.append(measure([*cli, "synth", "--out", str(out)], env=env).seconds)
            print(f"round {i + 1}: floor {floors[-1]:.2f} s, cold synth {colds[-1]:.2f} s, cached {cached[-1]:.2f} s")
    floor, cold, again, peak = median(floors), median(colds), median(cached), max(peaks)
    ratio = cold / floor
    print(f"engine floor (import cdktn + 4 provider bindings): {floor:.2f} s (median of {rounds})")
    print(f"cold synth, all stacks of all environments:        {cold:.2f} s = {ratio:.2f} x floor (target <= 1.5)")
    print(f"cached re-synth, unchanged inputs:                 {again:.2f} s (target <= 1.0 s)")
    print(f"peak memory of the synth process tree:             {peak / GIB:.2f} GiB (target <= 2 GiB)")
    ok = ratio <= 1.5 and again <= 1.0 and peak <= 2 * GIB
    print("synth benchmark: " + ("all targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
