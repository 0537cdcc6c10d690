"""``qualisys-infra``: the command line. Only this module and ``main.py`` read the environment.

Exit codes: 0 success; 2 bad input (a tfvars file, a plan file, an argument); 1 a failure of the
engine or a blocking finding; 3-7 the Terraform stage that failed (init, plan, show, apply,
state migration).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qualisys_infra.commands import charts as cli_charts
from qualisys_infra.commands import comment as cli_comment
from qualisys_infra.commands import cost as cli_cost
from qualisys_infra.commands import dev as cli_dev
from qualisys_infra.commands import outdated as cli_outdated
from qualisys_infra.commands import release as cli_release
from qualisys_infra.commands import report as cli_report
from qualisys_infra.commands import schema as cli_schema
from qualisys_infra.commands import signoff as cli_signoff
from qualisys_infra.commands import sigterm
from qualisys_infra.commands import tenants as cli_tenants
from qualisys_infra.commands import testdb as cli_testdb
from qualisys_infra.commands import testpool as cli_testpool
from qualisys_infra.commands.plan import add_commands, cmd_bootstrap, cmd_deploy, cmd_plan, cmd_review
from qualisys_infra.config import ENVIRONMENT_NAMES, load_settings, resolve_environment_names
from qualisys_infra.core.errors import ConfigError, ToolkitError
from qualisys_infra.core.masking import mask_text
from qualisys_infra.core.progress import ProgressLines
from qualisys_infra.core.runtime import configure_node

# Commands whose module registers them (``add_commands``) and runs them (``run(args)``), in the
# order `--help` lists them.
_MODULE_COMMANDS: dict[str, Any] = {
    "tenants": cli_tenants,
    "testdb": cli_testdb,
    "dev": cli_dev,
    "check-schema": cli_schema,
    "charts": cli_charts,
    "outdated": cli_outdated,
    "comment": cli_comment,
    "report": cli_report,
    "test-pool": cli_testpool,
    "signoff": cli_signoff,
    "cost": cli_cost,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qualisys-infra",
        description="Synthesize and check the QUALISYS AWS platform (CDK Terrain -> Terraform JSON).",
        epilog=EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the toolkit's and the pinned engine's versions")
    _global_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = sub.add_parser(
        "synth",
        help="synthesize the bootstrap stack and every stack of the chosen environments",
        description="Synthesize Terraform JSON into OUT/stacks/<stack>/cdk.tf.json, check it with "
        "Terraform's parser, and only then replace OUT. With unchanged inputs nothing is redone.",
    )
    synth.add_argument(
        "--env",
        action="append",
        metavar="ENV",
        help=f"environment to synthesize: {', '.join(ENVIRONMENT_NAMES)} or all (repeatable; default all)",
    )
    synth.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="output folder (default: PROJECT/cdktf.out)"
    )
    synth.add_argument("--force", action="store_true", help="synthesize even when the inputs are unchanged")
    synth.add_argument(
        "--skip-terraform-check",
        action="store_true",
        help="do not load the output with Terraform's parser before writing it",
    )
    synth.add_argument(
        "--skip-schema-check",
        action="store_true",
        help="do not check every block against the providers' schemas before writing it",
    )

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

    add_commands(sub)
    cli_release.add_commands(sub)
    for module in dict.fromkeys(_MODULE_COMMANDS.values()):
        module.add_commands(sub)

    envs = sub.add_parser(
        "environments",
        help="list and validate environments/*.tfvars",
        description="Validate environments/account.tfvars and every environment file; print a table "
        "(or JSON with --json). Exit 2 if any file is invalid, listing every violation.",
    )
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for child in _subparsers(parser):
        child.formatter_class = HelpFormatter
        known = {option for action in child._actions for option in action.option_strings}
        if "--quiet" not in known:
            _global_options(child, defaults=False)
    return parser


EXIT_CODES = (
    "Exit codes: 0 ok; 1 a blocking finding or an engine failure; 2 bad input; 3-7 Terraform failed at "
    "init, plan, show, apply or state migration; 130/143 interrupted; 141 the output's reader went away."
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, plus ``(default: X)`` after any option whose default means something and
    whose help does not say it already; descriptions keep their paragraphs and indented example
    lines, and the double backticks of a docstring show as single ones."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for paragraph in text.replace("``", "`").strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            head = [line for line in lines if not line.startswith("  ")]
            examples = [indent + line for line in lines if line.startswith("  ")]
            filled = [super()._fill_text(" ".join(head), width, indent)] if head else []
            blocks.append("\n".join(filled + examples))
        return "\n\n".join(blocks)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = default not in (None, False, [], (), argparse.SUPPRESS) and action.option_strings
        if shown and "default" not in text and not isinstance(action, argparse._VersionAction):
            text += f" (default: {default})"
        return text


class _Version(argparse.Action):
    """``--version`` on one line (argparse's own action wraps it at the terminal width)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``qualisys-infra 0.1.0 (cdktn 0.24.0, cdktn-provider-aws 25.8.1, ...)``: the pinned engine too."""
    parts = []
    for package in ("cdktn", "cdktn-provider-aws", "cdktn-provider-kubernetes", "cdktn-provider-helm"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{package} {importlib.metadata.version(package)}")
    try:
        own = importlib.metadata.version("qualisys-infra")
    except importlib.metadata.PackageNotFoundError:
        own = "(not installed)"
    return f"qualisys-infra {own} ({', '.join(parts)})"


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``--project-dir`` and ``--quiet``, accepted before or after the command: on a command's
    parser they default to ``SUPPRESS``, so a value given earlier is not overwritten."""
    parser.add_argument(
        "--project-dir",
        type=Path,
        metavar="DIR",
        default=Path.cwd() if defaults else argparse.SUPPRESS,
        help="project folder holding environments/ (default: the current folder)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="no progress lines on stderr",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser below ``parser``, nested ones (``tenants create``) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def _cmd_synth(args: argparse.Namespace, project: Path) -> int:
    progress = ProgressLines("synth", sys.stderr, quiet=args.quiet)
    names = resolve_environment_names(args.env or ["all"])
    env_dir = project / "environments"
    progress(f"loading settings for {', '.join(names)}")
    settings = load_settings(env_dir, names, root=project)
    _kubernetes_support(env_dir, settings.environments, project)
    node = configure_node(os.environ)
    if node is None:
        progress("warning: Node 22 not found in node_modules (run `make setup`); jsii uses `node` on PATH")
    from qualisys_infra.terraform.synth import synth

    outdir = (args.out or project / "cdktf.out").resolve()
    result = synth(
        settings,
        environments_dir=env_dir,
        outdir=outdir,
        force=args.force,
        check_with_terraform=not args.skip_terraform_check,
        check_schema=not args.skip_schema_check,
        progress=progress,
    )
    shown = os.path.relpath(result.outdir)
    state = "up to date, inputs unchanged" if result.cached else "written"
    print(f"synth: {len(result.stacks)} stacks {state} in {shown}/ ({result.seconds:.1f} s)")
    width = max(len(s) for s in result.stacks)
    for stack in result.stacks:
        path = result.outdir / "stacks" / stack / "cdk.tf.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        count = sum(len(v) for v in (config.get("resource") or {}).values())
        print(f"  {stack:<{width}}  {count:>4} resources  {os.path.relpath(path)}")
    return 0


def _cmd_scan(args: argparse.Namespace, project: Path) -> int:
    from qualisys_infra.gates.security import ScanFinding, scan
    from qualisys_infra.terraform.output import read_manifest

    outdir = (args.out or project / "cdktf.out").resolve()
    stacks = read_manifest(outdir).stacks
    ProgressLines("scan", sys.stderr, quiet=args.quiet)(f"checkov over {len(stacks)} stacks")
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


def _cmd_environments(args: argparse.Namespace, project: Path) -> int:
    env_dir = project / "environments"
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    try:
        settings = load_settings(env_dir, ENVIRONMENT_NAMES, root=project)
    except ConfigError as exc:
        problems = exc.lines()
        settings = None
    warnings: list[str] = []
    if settings is not None:
        try:
            warnings = _kubernetes_support(env_dir, settings.environments, project)
        except ConfigError as exc:
            problems = exc.lines()
    if settings is not None:
        for env in settings.environments:
            rows.append(
                {
                    "environment": env.environment,
                    "region": env.region,
                    "vpc_cidr": env.vpc_cidr,
                    "az_count": env.az_count,
                    "nat_mode": env.nat_mode.value,
                    "eks": env.eks_kubernetes_version,
                    "rds": env.rds_instance_class + (" multi-az" if env.rds_multi_az else ""),
                    "redis": env.redis_node_type,
                }
            )
    if args.json:
        print(
            json.dumps(
                {"valid": not problems, "environments": rows, "errors": problems, "warnings": warnings}, indent=2
            )
        )
    elif rows:
        headers = list(rows[0])
        widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
        print("  ".join(h.upper().ljust(widths[h]) for h in headers))
        for r in rows:
            print("  ".join(str(r[h]).ljust(widths[h]) for h in headers))
        bucket = settings.account.state_bucket_name if settings else ""
        print(f"environments: {len(rows)} valid; state in s3://{bucket}")
    if problems:
        if not args.json:
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
        return 2
    return 0


def _kubernetes_support(env_dir: Path, environments: Sequence[Any], project: Path) -> list[str]:
    """Each environment's Kubernetes minor against the lifecycle table on today's date (or
    ``QUALISYS_TODAY``, YYYY-MM-DD, to rehearse a later day): warnings printed, refusals raised."""
    from qualisys_infra.config.kubernetes_support import check_kubernetes_support, today_from

    warnings = check_kubernetes_support(
        env_dir, environments, today=today_from(os.environ.get("QUALISYS_TODAY")), root=project
    )
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    try:
        args = _parser().parse_args(argv)
    except ToolkitError as exc:  # a type= function refused a value with the toolkit's own message
        _print_error(exc)
        return exc.exit_code
    project: Path = args.project_dir.resolve()
    handles_signals = threading.current_thread() is threading.main_thread()
    # SIGTERM raises Interrupted here, and ends the process anyway within a second (sigterm.py).
    wakeup = sigterm.install() if handles_signals else None
    try:
        return _dispatch(args, project)
    except BrokenPipeError:
        # `qualisys-infra environments --json | head`: the reader left; say nothing more to it.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, sigterm.Interrupted) else signal.SIGINT
        print(f"error: interrupted ({signal.Signals(signum).name}); previous output left untouched", file=sys.stderr)
        sigterm.reported()
        return 128 + signum
    finally:
        if handles_signals:  # the work is done or undone; a late SIGTERM ends the process plainly
            sigterm.uninstall(wakeup)


def _dispatch(args: argparse.Namespace, project: Path) -> int:
    try:
        if args.command == "synth":
            return _cmd_synth(args, project)
        if args.command == "scan":
            return _cmd_scan(args, project)
        if args.command == "review":
            return cmd_review(args)
        if args.command in _MODULE_COMMANDS:
            code: int = _MODULE_COMMANDS[args.command].run(args)
            return code
        if args.command == "release":
            return cli_release.run(args, project)
        if args.command in ("plan", "deploy", "bootstrap"):
            progress = ProgressLines(args.command, sys.stderr, quiet=args.quiet)
            handler = {"plan": cmd_plan, "deploy": cmd_deploy, "bootstrap": cmd_bootstrap}[args.command]
            return handler(args, project, progress)
        return _cmd_environments(args, project)
    except ToolkitError as exc:
        _print_error(exc)
        return exc.exit_code


def _print_error(exc: ToolkitError) -> None:
    # Masking by default: a URL that reached a message unmasked still shows no password or token.
    for line in exc.lines():
        print(f"error: {mask_text(line, pairs=False)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
