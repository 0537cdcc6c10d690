"""The plan pipeline, shared by ``plan``, ``review``, ``deploy``, ``bootstrap``, ``comment`` and
``release``: synthesize and find Terraform (:func:`prepare`), plan stacks level by level with the
ones that must wait left unplanned (:func:`plan_levels`), each apps stack's image tags
(:func:`apps_inputs`), the reviews of plan files with what reviewed code allows (:func:`reviews_of`,
:func:`allowances_of`) and their monthly cost (:func:`priced_reviews`), and deploy's check that what
each plan read is still current (:func:`check_inputs_current`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.config import Settings, load_settings
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import write_all
from qualisys_infra.core.naming import (
    BOOTSTRAP_STACK,
    IMAGE_TAG_EXPECTED,
    IMAGE_TAG_PATTERN,
    SERVICES,
    image_tag_variable,
)
from qualisys_infra.core.progress import Progress
from qualisys_infra.core.runtime import configure_node
from qualisys_infra.plan import iam_waivers
from qualisys_infra.plan.guardrails import COMMAND_LINE, check
from qualisys_infra.plan.model import load_plan, loads_plan
from qualisys_infra.plan.review import StackReview, stack_name
from qualisys_infra.terraform.secret_reads import read_scope

if TYPE_CHECKING:
    from qualisys_infra.core.settings import AccountConfig, EnvironmentDelivery
    from qualisys_infra.plan.cost_review import CostContext
    from qualisys_infra.plan.prices import PriceTable, UsageTable
    from qualisys_infra.terraform.runner import StackRunner

# What the apps stack's `<service>_image_tag` variables accept (stacks/apps.py checks the same in HCL).
# What the apps stack's `<service>_image_tag` variables accept (stacks/apps.py checks the same in HCL).
IMAGE_TAG = re.compile(IMAGE_TAG_PATTERN)


APPS_KIND = "apps"


def check_image_tag(tag: str, where: str) -> str:
    """``tag`` when it is a git commit or a release version, as the apps stack's variable accepts."""
    if not IMAGE_TAG.fullmatch(tag):
        raise UsageError(f"{where}: got {json.dumps(tag)}, {IMAGE_TAG_EXPECTED}")
    return tag


@dataclasses.dataclass(frozen=True, slots=True)
class Reviewed:
    """What reviewed code adds to a review: each stack's destroy allowances from its environment's tfvars,
    and the project's own names from account.tfvars (the IAM waivers are made of them; without them no
    waiver holds)."""

    allow_destroy: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)  # address -> source
    own: iam_waivers.OwnNames | None = None

    def allowances(self, stack: str, command_line: Sequence[str]) -> dict[str, str]:
        """``stack``'s destroy allowances, each with where it comes from: this command's ``--allow-destroy``,
        the environment's tfvars, or both."""
        found = dict.fromkeys(command_line, COMMAND_LINE)
        for address, source in self.allow_destroy.get(stack, {}).items():
            found[address] = f"{found[address]} and {source}" if address in found else source
        return found


def reviews_of(paths: Sequence[Path], allow: Sequence[str], reviewed: Reviewed | None = None) -> list[StackReview]:
    """Each plan file read and checked by the guardrails; no file at all is refused (nothing checked).

    ``paths``: plan files or folders of them (:func:`~qualisys_infra.terraform.runner.plan_files`);
    ``allow``: the command line's ``--allow-destroy`` addresses, for every plan; ``reviewed``: what the
    project's reviewed settings add (:func:`reviewed_allowances`)."""
    from qualisys_infra.terraform.runner import plan_files

    paths = plan_files(paths)
    if not paths:
        raise UsageError("review: no plan files: nothing was checked")
    reviewed = reviewed or Reviewed()
    reviews = []
    for path in paths:
        plan = load_plan(path)
        name = stack_name(path)
        scope = read_scope(path)  # how `plan` limited it, so every review of this file says so
        findings = check(plan, allow_destroy=reviewed.allowances(name, allow), stack=name, own=reviewed.own)
        reviews.append(StackReview(name, plan, findings, refreshed=scope.refresh, left_out=scope.left_out))
    return reviews


def own_names(account: AccountConfig, deliveries: Sequence[EnvironmentDelivery]) -> iam_waivers.OwnNames:
    """The names of the project's own privileged resources, which its IAM waivers are made of: the
    account's, every environment's cluster and the apply roles of those the pipeline applies."""
    return iam_waivers.OwnNames(
        project=account.project,
        admin_role=account.admin_role_name,
        environments=tuple(d.name for d in deliveries),
        apply_environments=tuple(d.name for d in deliveries if d.pipeline),
    )


def own_names_of(project: Path) -> iam_waivers.OwnNames | None:
    """:func:`own_names` from ``environments/`` of ``project`` (account.tfvars and every environment's
    delivery); none when it has no account.tfvars."""
    from qualisys_infra.config import load_account, read_environments

    env_dir = project / "environments"
    path = env_dir / "account.tfvars"
    if not path.is_file():
        return None
    deliveries = [e.as_delivery() for e in read_environments(env_dir, lambda p: os.path.relpath(p, project))]
    return own_names(load_account(path, os.path.relpath(path, project)), deliveries)


def allowances_of(settings: Settings | None) -> Reviewed:
    """Each stack's protected addresses that may be destroyed, from ``allow_destroy`` in its
    environment's tfvars: reviewed code, the one standing source of that permission; and the
    project's own names."""
    if settings is None:
        return Reviewed()
    return Reviewed(
        {
            f"{env.environment}-{kind}": dict.fromkeys(
                addresses, _tfvars_source(f"environments/{env.environment}.tfvars")
            )
            for env in settings.environments
            for kind, addresses in env.allow_destroy.items()
        },
        own_names(settings.account, settings.deliveries),
    )


def _tfvars_source(path: str) -> str:
    return f"allow_destroy in {path}"


def reviewed_allowances(project: Path, env: str) -> Reviewed:
    """:func:`allowances_of` the environment ``env`` of ``project`` (none when it has no tfvars file)."""
    from qualisys_infra.config import environment_names, load_environment

    path = project / "environments" / f"{env}.tfvars"
    own = own_names_of(project)
    if not path.is_file() or env not in environment_names(path.parent):
        return Reviewed(own=own)
    shown = os.path.relpath(path, project)
    config = load_environment(path, shown)
    source = _tfvars_source(shown)
    return Reviewed(
        {f"{env}-{kind}": dict.fromkeys(addresses, source) for kind, addresses in config.allow_destroy.items()}, own
    )


def comment_files(first: Path, comments: Sequence[str], what: str) -> dict[Path, str]:
    """Comment 1 of the review for ``first``, comment ``n`` for ``<stem>-<n>.md`` beside it. The parts
    of an earlier, longer review are removed (they would be posted as part of this one)."""
    for stale in first.parent.glob(f"{first.stem}-[0-9]*.md"):
        try:
            stale.unlink(missing_ok=True)
        except OSError as exc:
            raise UsageError(f"{what}: {stale}: cannot be removed: {exc.strerror or exc}") from None
    return {first if n == 1 else first.with_name(f"{first.stem}-{n}.md"): body for n, body in enumerate(comments, 1)}


def write_reviews(outputs: Mapping[Path, str], what: str) -> None:
    """Write every review file or none (a path that cannot be written is bad input, exit 2)."""
    write_all(outputs, what=dict.fromkeys(outputs, what))


def prepare(
    args: argparse.Namespace,
    project: Path,
    progress: Progress,
    names: Sequence[str] = (),
    settings: Settings | None = None,
    *,
    environ: MutableMapping[str, str],
) -> tuple[Settings, StackRunner]:
    """Validate, check for AWS credentials, synthesize ``names`` (with the bootstrap and account
    stacks; other environments' output is kept), find Terraform. ``settings``: those of ``names``
    when the caller has loaded them already; ``environ``: the process environment, from the CLI's
    context (where Terraform and AWS credentials are; jsii's Node.js is set in it)."""
    from qualisys_infra.terraform.executable import find_terraform
    from qualisys_infra.terraform.preflight import aws_identity
    from qualisys_infra.terraform.runner import StackRunner
    from qualisys_infra.terraform.synth import synth

    env_dir = project / "environments"
    # Only what this command runs is synthesized; the other environments' output is kept.
    if settings is None:
        settings = load_settings(env_dir, names, root=project)
    for config in args.backend_config:
        if not config.is_file():
            raise UsageError(f"--backend-config: {config}: file not found")
    terraform = find_terraform(args.terraform, environ)
    if not args.skip_preflight:
        progress(f"AWS credentials: {aws_identity(environ, args.backend_config, Path.home())}")
    configure_node(environ)
    outdir = (args.out or project / "cdktf.out").resolve()
    progress(f"synth of {', '.join(names) or 'the bootstrap and account stacks'}")
    synth(settings, environments_dir=env_dir, outdir=outdir, progress=progress)
    progress(f"terraform: {terraform.description}")
    runner = StackRunner(
        outdir=outdir,
        plans_dir=(args.plans_dir or project / "plans").resolve(),
        terraform=terraform,
        backend_configs=tuple(args.backend_config),
        progress=progress,
    )
    return settings, runner


def env_stacks(runner_outdir: Path, names: Sequence[str], only: Sequence[str]) -> list[str]:
    from qualisys_infra.terraform.output import read_manifest

    stacks = [s for s in read_manifest(runner_outdir).stacks if any(s.startswith(f"{n}-") for n in names)]
    if only:
        missing = [s for s in only if s not in stacks]
        if missing:
            raise UsageError(f"--stack: got {', '.join(missing)}, expected one of {', '.join(sorted(stacks))}")
        stacks = list(only)
    if not stacks:
        raise UsageError(f"--env: no stacks for {', '.join(names)} in {runner_outdir}/manifest.json")
    return stacks


def plan_levels(
    runner: StackRunner, levels: Sequence[Sequence[str]], plan: Callable[[str], object], parallel: int
) -> dict[str, str]:
    """Plan level by level; a stack waits (:mod:`qualisys_infra.terraform.waiting`) when it reads
    an output that the plan of an upstream in this run creates or changes, or that the state of an
    upstream outside the run lacks; so does whatever depends on a waiting stack. Returns the waiting
    stacks with why."""
    from qualisys_infra.terraform.output import read_manifest, read_stack
    from qualisys_infra.terraform.runner import run_levels, stack_outputs
    from qualisys_infra.terraform.waiting import changed_outputs, lacks_outputs, outputs_read, waits_for

    dependencies = read_manifest(runner.outdir).dependencies
    in_run = {s for level in levels for s in level}
    waiting: dict[str, str] = {}
    changing: dict[str, frozenset[str]] = {}  # stacks planned here whose plans create or change outputs
    stored: dict[str, frozenset[str]] = {}  # outputs in the state of upstreams outside the run

    def why_wait(stack: str) -> str | None:
        blocked = []
        text = json.dumps(read_stack(runner.outdir, stack))
        for upstream in sorted(dependencies[stack]):
            read = outputs_read(text, upstream)
            if upstream in waiting or read & changing.get(upstream, frozenset()):
                blocked.append(upstream)
            elif upstream not in in_run and read:
                if upstream not in stored:
                    runner.init(upstream)
                    stored[upstream] = frozenset(stack_outputs(runner, upstream))
                if read - stored[upstream]:
                    return lacks_outputs(upstream, sorted(read - stored[upstream]))
        return waits_for(blocked) if blocked else None

    for level in levels:
        ready = []
        for stack in level:
            reason = why_wait(stack)
            if reason is None:
                ready.append(stack)
            else:
                waiting[stack] = reason
                runner.leave_unplanned(stack, reason)
        if ready:
            run_levels([ready], plan, parallel=parallel)
        for stack in ready:
            changed = changed_outputs(load_plan(runner.plan_paths(stack)[1]))
            if changed:
                changing[stack] = changed
    return waiting


def apps_inputs(
    runner: StackRunner, stacks: Sequence[str], tags: dict[str, str], *, explicit: bool, progress: Progress
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Each apps stack's input variables: the image tag of every service, from ``tags`` (a release)
    or else the tag the stack runs now (its ``image_tags`` output), so a plan that is not a release
    never changes what runs. An apps stack with a service never released is skipped (returned with
    why) unless it was asked for by name, which is an error."""
    from qualisys_infra.terraform.runner import stack_outputs

    inputs: dict[str, dict[str, str]] = {}
    skipped: dict[str, str] = {}
    for stack in stacks:
        if not stack.endswith(f"-{APPS_KIND}"):
            continue
        runner.init(stack)
        running = stack_outputs(runner, stack).get("image_tags")
        chosen = {**(running if isinstance(running, dict) else {}), **tags}
        missing = [service for service in SERVICES if not isinstance(chosen.get(service), str)]
        if missing:
            why = (
                f"no image of {', '.join(missing)} has been released yet; release one with"
                f" `qualisys-infra release --env {stack.rsplit('-', 1)[0]} --service {missing[0]} --image-tag TAG`"
                f" or plan with --image-tag {missing[0]}=TAG"
            )
            if explicit:
                raise UsageError(f"{stack}: {why}")
            skipped[stack] = why
            continue
        inputs[stack] = {image_tag_variable(service): str(chosen[service]) for service in SERVICES}
    return inputs, skipped


def check_backend_against_bootstrap(runner: StackRunner, settings: Settings, progress: Progress) -> None:
    """The backends are written from account.tfvars; check them against what bootstrap created."""
    from qualisys_infra.terraform.runner import bootstrap_outputs, check_backend

    progress("reading the bootstrap stack's outputs")
    account = settings.account
    check_backend(
        bootstrap_outputs(runner, BOOTSTRAP_STACK),
        {
            "state_bucket_name": account.state_bucket_name,
            "lock_table_name": account.lock_table_name,
            "region": account.region,
        },
        "environments/account.tfvars",
    )


def check_inputs_current(
    ordered: Sequence[str], dependencies: Mapping[str, Sequence[str]], runner: StackRunner, verified: Mapping[str, Path]
) -> None:
    """Refuse every stack whose plan read an output of a stack it depends on that another plan of this
    deploy changes, or that the upstream's state no longer holds (applied since the plan was made).

    Read from the checked copies themselves (``verified``; :func:`.review_record.shown_path`) and the
    upstream's state, never from a record: what the plan read is its ``terraform_remote_state`` data
    source; which outputs it reads, the synthesized configuration of this checkout."""
    from qualisys_infra.terraform.output import read_stack
    from qualisys_infra.terraform.review_record import shown_path
    from qualisys_infra.terraform.runner import stack_outputs
    from qualisys_infra.terraform.waiting import changed_outputs, outputs_read, outputs_seen, stale_read

    def shown(stack: str) -> str:
        return shown_path(verified[stack]).read_text(encoding="utf-8")

    stale: list[str] = []
    current: dict[str, dict[str, object]] = {}  # upstream -> outputs in its state now
    changing: dict[str, frozenset[str]] = {}  # upstream -> outputs its plan in this deploy changes
    for stack in ordered:
        config = json.dumps(read_stack(runner.outdir, stack))
        reads = {u: read for u in sorted(dependencies[stack]) if (read := outputs_read(config, u))}
        if not reads:
            continue
        try:
            document = json.loads(shown(stack))
        except (ValueError, RecursionError):
            raise UsageError(f"deploy: {stack}: `terraform show -json` of its plan is not readable JSON") from None
        for upstream, read in reads.items():
            if upstream not in current:
                if upstream not in verified:  # checked stacks are initialized; one outside the run is not
                    runner.init(upstream)
                current[upstream] = stack_outputs(runner, upstream)
                changing[upstream] = (
                    changed_outputs(loads_plan(shown(upstream), f"{upstream} (terraform show -json)"))
                    if upstream in verified
                    else frozenset()
                )
            seen = outputs_seen(document, upstream)
            why = stale_read(stack, upstream, read, seen, current[upstream], changing[upstream])
            if why:
                stale.append(why)
    if stale:
        raise UsageError("\n".join(f"deploy: {why}" for why in stale))


def priced_reviews(
    reviews: Sequence[StackReview],
    args: argparse.Namespace,
    project: Path,
    settings: Settings | None = None,
    *,
    today: date,
) -> list[StackReview]:
    """``reviews`` with their monthly cost and the ``monthly_cost_limit`` findings (C001), unless
    ``--no-cost``. Regions, limits and budgets come from ``settings`` or else the project's
    ``environments/`` files of the stacks reviewed (a stack of an environment without one is priced
    in the price table's only region, and says so); prices and budgets as of ``today``."""
    from qualisys_infra.plan.cost_review import add_costs
    from qualisys_infra.plan.prices import load_prices, load_usage

    if getattr(args, "no_cost", False) or not reviews:
        return list(reviews)
    prices = load_prices(getattr(args, "prices", None))
    usage = load_usage(getattr(args, "usage", None))
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
    from qualisys_infra.config import environment_names, load_account, load_environment
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
    names = environment_names(env_dir) if env_dir.is_dir() else ()
    for scope in sorted({scope_of(s) for s in stacks} - known - {ACCOUNT_SCOPE}):
        path = env_dir / f"{scope}.tfvars"
        if scope in names and path.is_file():
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
        environments=names,
    )
