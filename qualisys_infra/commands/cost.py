"""``qualisys-infra cost``: the monthly estimate of environments from their synthesized configuration.

Synthesizes the chosen environments (nothing is redone when their inputs are unchanged), prices every
resource of every stack with the price table and the usage assumptions, and prints the estimate by
environment, stack, resource and line, with totals; the account's budget thresholds stand beside the
total when every environment is estimated. Resources it cannot price, and sizes known only after
apply, are listed by name. ``--prices FILE`` and ``--usage FILE`` (the shapes of
``qualisys_infra/plan/data/prices.json`` and ``usage.json``) replace built-in values key by key;
``plan`` and ``review`` take them too. ``QUALISYS_TODAY`` (YYYY-MM-DD) rehearses a later day (the
age of the price table).

Exit codes: 0 the estimate was made; 2 bad input (an environment, a prices or usage file, a tfvars file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.commands.context import Context
from qualisys_infra.commands.options import add_pricing_options, environment_choices
from qualisys_infra.core.files import write_all

if TYPE_CHECKING:
    pass

FORMATS = ("text", "markdown", "json")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cost = sub.add_parser(
        "cost",
        help="the monthly estimate of each environment from its synthesized configuration",
        description=__doc__.split("\n\n", 1)[1].rsplit("\n\nExit codes", 1)[0] if __doc__ else None,
    )
    cost.add_argument(
        "--env",
        action="append",
        metavar="ENV",
        help=f"environment to estimate: {environment_choices()} (repeatable; default all, with the account)",
    )
    cost.add_argument("--format", choices=FORMATS, default="text", help="text, markdown or json")
    add_pricing_options(cost)
    cost.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    cost.add_argument("--output", type=Path, default=None, metavar="FILE", help="write the estimate here")
    cost.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.config import environment_names, resolve_environment_names
    from qualisys_infra.core.runtime import configure_node
    from qualisys_infra.plan import cost_report
    from qualisys_infra.plan.prices import ACCOUNT_SCOPE, load_prices, load_usage
    from qualisys_infra.terraform.output import read_manifest, read_stack
    from qualisys_infra.terraform.synth import synth

    project, progress = ctx.require_project(), ctx.progress("cost")
    env_dir = ctx.environments_dir
    names = resolve_environment_names(args.env or ["all"], env_dir)
    settings = ctx.settings(names)
    prices, usage = load_prices(args.prices), load_usage(args.usage)  # bad input before any engine time
    today = ctx.today()
    complete = set(names) == set(environment_names(env_dir))
    configure_node(ctx.environ)
    outdir = (args.out or project / "cdktf.out").resolve()
    progress(f"synth of {', '.join(names)}")
    synth(settings, environments_dir=env_dir, outdir=outdir, progress=progress)
    wanted = set(names) | ({ACCOUNT_SCOPE} if complete else set())
    stacks = {
        stack: read_stack(outdir, stack)
        for stack in read_manifest(outdir).stacks
        if cost_report.scope_of(stack) in wanted
    }
    regions = {env.environment: env.region for env in settings.environments} | {ACCOUNT_SCOPE: settings.account.region}
    limits = {env.environment: env.monthly_cost_limit for env in settings.environments}
    report = cost_report.build_report(
        stacks,
        regions=regions,
        limits=limits,
        prices=prices,
        usage=usage,
        today=today,
        budgets=settings.account.budget_limits_usd,
        complete=complete,
    )
    render = {"text": cost_report.render_text, "markdown": cost_report.render_markdown, "json": cost_report.render_json}
    text = render[args.format](report)
    if args.output:
        write_all({args.output: text}, what={args.output: "--output"})
        progress(f"estimate written to {os.path.relpath(args.output)}")
    else:
        sys.stdout.write(text)
    return 0
