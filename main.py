"""The engine's app entry: ``python main.py`` or ``npx cdktn synth`` (cdktf.json "app").

Synthesizes every environment (or those in ``QUALISYS_ENVIRONMENTS``, comma-separated) into
``$CDKTF_OUTDIR`` (set by the cdktn CLI) or ``cdktf.out``. Same code path as
``qualisys-infra synth``; errors print as ``error: file:line: ...`` and exit 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from qualisys_infra.commands.cli import main as cli_main


def main() -> int:
    project = Path(__file__).resolve().parent
    args = ["--project-dir", str(project)]
    if "CDKTF_OUTDIR" in os.environ:
        # Under `cdktn synth` the CLI shows the app's stderr as errors: keep progress off it.
        args.append("--quiet")
    args.append("synth")
    for name in os.environ.get("QUALISYS_ENVIRONMENTS", "all").split(","):
        if name.strip():
            args += ["--env", name.strip()]
    args += ["--out", os.environ.get("CDKTF_OUTDIR", str(project / "cdktf.out"))]
    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
