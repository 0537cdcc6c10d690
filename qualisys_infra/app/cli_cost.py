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
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.core.files import write_all
from qualisys_infra.core.progress import ProgressLines

if TYPE_CHECKING:
    from qualisys_infra.core.settings import Settings
    from qualisys_infra.plan.cost_review import CostContext
    from qualisys_infra.plan.prices import PriceTable, UsageTable
    from qualisys_infra.plan.review import StackReview

FORMATS = ("text", "markdown", "json")


def add_pricing_options(parser: argparse.ArgumentParser, *, review: bool = False) -> None:
    """``--prices FILE`` and ``--usage FILE``, as every command that estimates cost takes them; a
    review also takes ``--no-cost``."""
    parser.add_argument(
        "--prices",
        type=Path,
        default=None,
        metavar="FILE",
        help="prices replacing the built-in table's, key by key (the shape of qualisys_infra/plan/data/prices.json)",
    )
    parser.add_argument(
        "--usage",
        type=Path,
        default=None,
        metavar="FILE",
        help="usage assumptions replacing the built-in ones, key by key (shape: qualisys_infra/plan/data/usage.json)",
    )
    if review:
        parser.add_argument(
            "--no-cost",
            action="store_true",
            help="review without the monthly cost (and without the monthly_cost_limit check, C001)",
        )


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
        help="environment to estimate: dev, staging, production or all (repeatable; default all, with the account)",
    )
    cost.add_argument("--format", choices=FORMATS, default="text", help="text, markdown or json")
    add_pricing_options(cost)
    cost.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    cost.add_argument("--output", type=Path, default=None, metavar="FILE", help="write the estimate here")


def run(args: argparse.Namespace) -> int:
    from qualisys_infra.app.config import ENVIRONMENT_NAMES, load_settings, resolve_environment_names
    from qualisys_infra.app.kubernetes_support import today_from
    from qualisys_infra.app.output import read_manifest, read_stack
    from qualisys_infra.app.synth import synth
    from qualisys_infra.core.runtime import configure_node
    from qualisys_infra.plan import cost_report
    from qualisys_infra.plan.prices import ACCOUNT_SCOPE, load_prices, load_usage

    project: Path = args.project_dir.resolve()
    progress = ProgressLines("cost", sys.stderr, quiet=args.quiet)
    names = resolve_environment_names(args.env or ["all"])
    env_dir = project / "environments"
    settings = load_settings(env_dir, names, root=project)
    prices, usage = load_prices(args.prices), load_usage(args.usage)  # bad input before any engine time
    today = today_from(os.environ.get("QUALISYS_TODAY"))
    complete = set(names) == set(ENVIRONMENT_NAMES)
    configure_node(os.environ)
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


def priced_reviews(
    reviews: Sequence[StackReview], args: argparse.Namespace, project: Path, settings: Settings | None = None
) -> list[StackReview]:
    """``reviews`` with their monthly cost and the ``monthly_cost_limit`` findings (C001), unless
    ``--no-cost``. Regions, limits and budgets come from ``settings`` or else the project's
    ``environments/`` files of the stacks reviewed (a stack of an environment without one is priced
    in the price table's only region, and says so)."""
    from qualisys_infra.app.kubernetes_support import today_from
    from qualisys_infra.plan.cost_review import add_costs
    from qualisys_infra.plan.prices import load_prices, load_usage

    if getattr(args, "no_cost", False) or not reviews:
        return list(reviews)
    prices = load_prices(getattr(args, "prices", None))
    usage = load_usage(getattr(args, "usage", None))
    today = today_from(os.environ.get("QUALISYS_TODAY"))
    return add_costs(reviews, review_context([r.name for r in reviews], project, settings, prices, usage, today))


def review_context(
    stacks: Sequence[str],
    project: Path,
    settings: Settings | None,
    prices: PriceTable,
    usage: UsageTable,
    today: date,
) -> CostContext:
    """Where each reviewed stack's environment is, its limit, and the account's budgets."""
    from qualisys_infra.app.config import ENVIRONMENT_NAMES, load_account, load_environment
    from qualisys_infra.core.settings import ACCOUNT_FILE
    from qualisys_infra.plan.cost_report import scope_of
    from qualisys_infra.plan.cost_review import CostContext
    from qualisys_infra.plan.prices import ACCOUNT_SCOPE

    env_dir = project / "environments"
    regions: dict[str, str] = {}
    sources: dict[str, str] = {}
    limits: dict[str, int] = {}
    environments = list(settings.environments) if settings is not None else []
    account = settings.account if settings is not None else None
    known = {env.environment for env in environments}
    for scope in sorted({scope_of(s) for s in stacks} - known - {ACCOUNT_SCOPE}):
        path = env_dir / f"{scope}.tfvars"
        if scope in ENVIRONMENT_NAMES and path.is_file():
            environments.append(load_environment(path, os.path.relpath(path, project)))
    if account is None and (env_dir / ACCOUNT_FILE).is_file():
        path = env_dir / ACCOUNT_FILE
        account = load_account(path, os.path.relpath(path, project))
    for env in environments:
        regions[env.environment] = env.region
        sources[env.environment] = f"environments/{env.environment}.tfvars"
        limits[env.environment] = env.monthly_cost_limit
    if account is not None:
        regions[ACCOUNT_SCOPE] = account.region
        sources[ACCOUNT_SCOPE] = f"environments/{ACCOUNT_FILE}"
    return CostContext(
        prices=prices,
        usage=usage,
        today=today,
        regions=regions,
        region_sources=sources,
        limits=limits,
        budgets=tuple(account.budget_limits_usd) if account is not None else (),
        environments=tuple(ENVIRONMENT_NAMES),
    )
