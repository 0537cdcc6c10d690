"""Whole test suite time as a ratio to one cold synth, measured in one run (target <= 4).

.venv/bin/python -m benchmarks.bench_tests
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.measure import cli_and_env, measure
from qualisys_infra.core.runtime import PROJECT_ROOT


def main() -> int:
    cli, env = cli_and_env()
    with tempfile.TemporaryDirectory() as tmp:
        cold = measure([*cli, "synth", "--force", "--out", str(Path(tmp) / "out")], env=env).seconds
    suite = measure([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env=env, cwd=PROJECT_ROOT).seconds
    ratio = suite / cold
    print(f"cold synth: {cold:.2f} s; whole test suite: {suite:.2f} s = {ratio:.2f} x cold synth (target <= 4)")
    return 0 if ratio <= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
