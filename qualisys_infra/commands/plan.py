"""The plan pipeline's commands: ``plan``, ``review``, ``deploy`` and ``bootstrap``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

from qualisys_infra.commands.context import Context
from qualisys_infra.commands.options import (
    add_allow_destroy,
    add_env_option,
    add_image_tags,
    add_pricing_options,
    terraform_options,
)
from qualisys_infra.config import resolve_environment_names
from qualisys_infra.core.errors import PolicyError, UsageError
from qualisys_infra.core.naming import (
    BOOTSTRAP_STACK,
)
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_json, render_text
from qualisys_infra.terraform import pipeline
from qualisys_infra.terraform.pipeline import (
    Reviewed,
    allowances_of,
    apps_inputs,
    check_inputs_current,
    comment_files,
    env_stacks,
    own_names_of,
    plan_levels,
    priced_reviews,
    reviews_of,
    write_reviews,
)
from qualisys_infra.terraform.runner import REVIEW_JSON
from qualisys_infra.terraform.secret_reads import LEAVE_OUT, NO_REFRESH


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
    add_env_option(plan, "environment", required=True)
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
    plan.set_defaults(func=run)

    review = sub.add_parser(
        "review",
        help="review plan JSON files: Markdown for a pull request, text for a terminal, JSON for machines",
        description="Read `terraform show -json` output, print the review and the guardrail findings. "
        "Exit 1 when a finding blocks.",
    )
    review.add_argument(
        "plans",
        nargs="+",
        type=Path,
        metavar="PLAN.json",
        help="`terraform show -json` output files, or a folder of them such as plans/dev (the toolkit's own "
        "review.json and <stack>.reviewed.json beside them are left out)",
    )
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
    review.set_defaults(func=run)

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
    add_env_option(deploy, "environment", required=True)
    deploy.add_argument(
        "--stack", action="append", default=[], metavar="STACK", help="only this stack, e.g. dev-network (repeatable)"
    )
    add_allow_destroy(deploy, "; besides allow_destroy in environments/<env>.tfvars")
    terraform_options(deploy)
    deploy.set_defaults(func=run)

    boot = sub.add_parser(
        "bootstrap",
        help="apply the bootstrap stack (local state the first time), then move its state into its bucket",
        description="Synthesize and apply the bootstrap stack. The first time, its state lives in "
        "terraform.bootstrap.tfstate at the project root; once the bucket exists it is migrated there, "
        "so every stack has remote state with locking from day one.",
    )
    terraform_options(boot)
    boot.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """plan, review, deploy or bootstrap, as ``args.command`` names it."""
    handler = {"plan": _plan, "review": _review, "deploy": _deploy, "bootstrap": _bootstrap}[args.command]
    return handler(args, ctx)


def _review(args: argparse.Namespace, ctx: Context) -> int:
    project = ctx.project
    reviews = reviews_of(args.plans, args.allow_destroy, Reviewed(own=own_names_of(project)))
    reviews = priced_reviews(reviews, args, project, today=ctx.today())  # monthly cost and monthly_cost_limit (C001)
    if args.format == "markdown" and args.output:
        full = render_markdown(reviews, limit=None)[0]
        outputs = comment_files(args.output, render_markdown(reviews), "--output")
        write_reviews({**outputs, args.output.with_name(args.output.stem + "-full.md"): full}, "--output")
        return 1 if any(blocking(r.findings) for r in reviews) else 0
    if args.format == "markdown":
        text = "\n".join(render_markdown(reviews))  # each comment starts with its marker line
    elif args.format == "json":
        text = render_json(reviews)
    else:
        text = render_text(reviews, color=args.output is None and sys.stdout.isatty())
    if args.output:
        write_reviews({args.output: text}, "--output")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if any(blocking(r.findings) for r in reviews) else 0


def _plan(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.terraform.output import read_stack
    from qualisys_infra.terraform.review_record import record_review
    from qualisys_infra.terraform.runner import dependency_levels
    from qualisys_infra.terraform.secret_reads import plan_scope
    from qualisys_infra.terraform.waiting import unplanned_markdown, unplanned_text

    project, progress = ctx.project, ctx.progress("plan")
    names = resolve_environment_names(args.env, ctx.environments_dir)  # refuses a wrong folder
    settings, runner = pipeline.prepare(args, project, progress, names=names, environ=ctx.environ)
    runner = dataclasses.replace(runner, state_lock=not args.no_state_lock)
    stacks = env_stacks(runner.outdir, names, args.stack)
    pipeline.check_backend_against_bootstrap(runner, settings, progress)
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
    # monthly cost and monthly_cost_limit (C001)
    reviews = priced_reviews(reviews, args, project, settings, today=ctx.today())
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
            outputs |= {folder / "review-full.md": full + note, folder / REVIEW_JSON: render_json(reviews)}
            write_reviews(outputs, "plan")
            written.append(os.path.relpath(folder / "review.md"))
    sys.stdout.write(render_text(reviews, color=sys.stdout.isatty()) + unplanned_text(unplanned))
    parts = f"{len(comments)} comments: review.md, review-2.md, ..." if len(comments) > 1 else "one comment"
    progress(f"review for the pull request: {', '.join(written)} ({parts}; every detail in review-full.md)")
    stop = [f for r in reviews for f in blocking(r.findings)]
    if stop:
        raise PolicyError(f"plan: {len(stop)} blocking guardrail finding(s); `deploy` will refuse these plans")
    return 0


def _deploy(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.delivery.github import append_step_summary
    from qualisys_infra.terraform.output import read_manifest
    from qualisys_infra.terraform.review_record import check_reviewed
    from qualisys_infra.terraform.runner import check_plans_saved, dependency_levels, run_levels
    from qualisys_infra.terraform.waiting import read_marker, unplanned_markdown, unplanned_text

    project, progress = ctx.project, ctx.progress("deploy")
    names = resolve_environment_names(args.env, ctx.environments_dir)
    # Pre-flight in the order a person acts on it: the plans (plan first), then credentials in prepare.
    check_plans_saved((args.plans_dir or project / "plans").resolve(), names, "deploy")
    settings, runner = pipeline.prepare(args, project, progress, names=names, environ=ctx.environ)
    stacks = env_stacks(runner.outdir, names, args.stack)
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
        summary = ctx.environ.get("GITHUB_STEP_SUMMARY")
        if summary:  # the run is green; its summary must not hide that the environment is not done
            note = unplanned_markdown(unplanned) + "> Not done: run this workflow again to plan and apply them.\n"
            append_step_summary(Path(summary), note)
    return 0


def _bootstrap(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.terraform.bootstrap import BootstrapSession
    from qualisys_infra.terraform.synth import BOOTSTRAP_STATE_FILE

    project = ctx.project
    _, runner = pipeline.prepare(args, project, ctx.progress("bootstrap"), environ=ctx.environ)
    with BootstrapSession(runner, BOOTSTRAP_STACK, project / BOOTSTRAP_STATE_FILE) as session:
        sys.stdout.write(render_text(reviews_of([session.plan()], ()), color=sys.stdout.isatty()))
        message = session.apply()  # reviews the saved plan again; a blocking finding stops here (exit 1)
    print(f"bootstrap: {message}")
    return 0


__all__ = ["add_commands", "run"]
