"""``qualisys-infra scan``: the security gate, checkov over every synthesized stack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qualisys_infra.commands.context import Context


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = sub.add_parser(
        "scan",
        help="the security gate: checkov over every synthesized stack (after synth)",
        description="Run checkov (terraform_json) over OUT/stacks. Exit 1 when a check fails on a resource "
        "without a written waiver for it; waived checks are listed with their reasons.",
    )
    scan.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    scan.add_argument(
        "--checkov", default=None, metavar="PATH", help="checkov executable (default: .tools/checkov, then PATH)"
    )
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.gates.security import ScanFinding, scan
    from qualisys_infra.terraform.output import read_manifest

    # Without --out the output is the project's: a wrong folder is said as such, not as "run synth".
    outdir = (args.out or ctx.require_project() / "cdktf.out").resolve()
    stacks = read_manifest(outdir).stacks
    ctx.progress("scan")(f"checkov over {len(stacks)} stacks")
    report = scan(outdir, stacks, checkov=args.checkov)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "passed": report.passed,
                    "failed": [str(f) for f in report.unwaived],
                    "waived": [{"finding": str(f), "reason": f.waiver} for f in report.waived],
                    "parsing_errors": list(report.parsing_errors),
                },
                indent=2,
            )
        )
    else:
        by_reason: dict[tuple[str, str], list[ScanFinding]] = {}
        for finding in report.waived:
            by_reason.setdefault((finding.check_id, finding.waiver or ""), []).append(finding)
        for (check, reason), findings in sorted(by_reason.items()):
            stacks_hit = sorted({f.stack for f in findings})
            print(f"waived  {check} x{len(findings)} in {', '.join(stacks_hit)}\n        reason: {reason}")
        for finding in report.unwaived:
            print(f"FAILED  {finding}")
        for error in report.parsing_errors:
            print(f"FAILED  checkov could not parse {error}")
        verdict = "ok" if report.ok else "FAILED"
        print(
            f"scan: {verdict}: {report.passed} passed, {len(report.unwaived)} failed, "
            f"{len(report.waived)} waived, {len(report.parsing_errors)} unparsable over {len(stacks)} stacks"
        )
    return 0 if report.ok else 1
