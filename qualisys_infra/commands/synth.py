"""``qualisys-infra synth``: the bootstrap stack and every stack of the chosen environments as
Terraform JSON, checked before the output folder is replaced."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from qualisys_infra.commands.context import Context
from qualisys_infra.commands.options import add_env_option
from qualisys_infra.config import resolve_environment_names
from qualisys_infra.config.kubernetes_support import check_kubernetes_support
from qualisys_infra.core.runtime import configure_node


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    synth = sub.add_parser(
        "synth",
        help="synthesize the bootstrap stack and every stack of the chosen environments",
        description="Synthesize Terraform JSON into OUT/stacks/<stack>/cdk.tf.json, check it with "
        "Terraform's parser, and only then replace OUT. With unchanged inputs nothing is redone.",
    )
    add_env_option(synth, "environment to synthesize", required=False)
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
    synth.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    progress = ctx.progress("synth")
    names = resolve_environment_names(args.env or ["all"], ctx.environments_dir)
    progress(f"loading settings for {', '.join(names)}")
    settings = ctx.settings(names)
    env_dir = ctx.environments_dir
    for line in check_kubernetes_support(env_dir, settings.environments, today=ctx.today(), root=ctx.project):
        print(f"warning: {line}", file=sys.stderr)
    if configure_node(ctx.environ) is None:
        progress("warning: Node 22 not found in node_modules (run `make setup`); jsii uses `node` on PATH")
    from qualisys_infra.terraform.synth import synth

    outdir = (args.out or ctx.project / "cdktf.out").resolve()
    result = synth(
        settings,
        environments_dir=ctx.environments_dir,
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
