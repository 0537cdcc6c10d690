"""``qualisys-infra release``: a new image of a service, through the reviewed-plan path, followed to
healthy and checked, or rolled back.

1. production only: the image must have completed a healthy staging release (its tag
   ``staging-verified-<tag>`` on the same digest in ECR, see :mod:`~qualisys_infra.delivery.verified`);
2. synth the environment and plan its apps stack with ``<service>_image_tag`` set to the new tag
   (every other service keeps the tag it runs), so the release is a plan like any other change;
3. review that plan (printed; the guardrails block as for ``plan``) and record the review;
4. apply exactly that reviewed plan, checked again as ``deploy`` does;
5. follow the service's Argo Rollout through the Kubernetes API (progress on stderr) until it is
   healthy, aborted (Argo sent the traffic back), failed or timed out;
6. once at 100 %, the smoke suite (:mod:`~qualisys_infra.delivery.smoke`, ``/health`` first) against
   ``https://<ingress_domain>`` over verified HTTPS;
7. healthy and every check passed: in staging, record the image as verified; otherwise (a check
   failed, or Argo aborted or failed the rollout) roll back: the rollout goes back to the revision
   that ran the previous tag (Argo's undo through the API), is followed to healthy, and the apps
   stack is applied again with the previous tag so the state says what runs.

Each step's outcome is a ``release:`` line on stdout and, in GitHub Actions, a table in the job
summary. Exit 0 healthy and checked; 1 a blocking finding, a rollback, a failed or timed-out
rollout, or a healthy staging release that could not be recorded; 2 bad input, before anything is
planned (an unknown service, a tag that is not a git commit or version, an unreachable cluster, a
production tag that did not pass staging).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modules.apps.objects import ROLLOUT_ID
from qualisys_infra.commands.context import Context
from qualisys_infra.commands.options import add_allow_destroy, terraform_options
from qualisys_infra.config import Settings, resolve_environment_name
from qualisys_infra.core.argtypes import seconds
from qualisys_infra.core.errors import PolicyError, ToolkitError, UsageError
from qualisys_infra.core.masking import mask_url
from qualisys_infra.core.naming import SERVICES, image_tag_variable, logical_id, resource_prefix, stack_name
from qualisys_infra.core.progress import Progress
from qualisys_infra.delivery.kube import add_connection_options, connection_options
from qualisys_infra.delivery.signoff import Step
from qualisys_infra.delivery.verified import (
    RecordError,
    Registry,
    check_staging_release,
    record_staging_release,
    verified_tag,
)
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.model import Kind, Plan
from qualisys_infra.plan.review_text import render_text
from qualisys_infra.terraform import pipeline
from qualisys_infra.terraform.pipeline import apps_inputs, check_image_tag, reviews_of

if TYPE_CHECKING:
    from qualisys_infra.delivery.kube import KubeApi
    from qualisys_infra.terraform.runner import StackRunner

DEFAULT_TIMEOUT_SECONDS = 900.0
STAGING = "staging"
PRODUCTION = "production"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "release",
        help="release a service's image: plan and apply the apps stack with it, follow the rollout, run the smoke"
        " suite, roll back on failure",
        description=__doc__,
    )
    parser.add_argument("--env", required=True, metavar="ENV", help="an environment of environments/*.tfvars")
    parser.add_argument("--service", required=True, choices=SERVICES, help="the service to release")
    parser.add_argument(
        "--image-tag", required=True, metavar="TAG", help="the image to run: a git commit (7-40 hex digits) or vX.Y.Z"
    )
    parser.add_argument(
        "--timeout",
        type=seconds("--timeout"),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long the rollout may take before it counts as failed (the canary's pauses included)",
    )
    parser.add_argument(
        "--interval",
        type=seconds("--interval", 300),
        default=5.0,
        metavar="SECONDS",
        help="between two reads of the rollout",
    )
    parser.add_argument(
        "--app-url",
        default=None,
        metavar="URL",
        help="where the smoke suite asks the service after the rollout (default: https://<ingress_domain of ENV>)",
    )
    parser.add_argument("--ca-file", type=Path, default=None, metavar="FILE", help="trust this CA for the smoke suite")
    add_allow_destroy(parser)
    parser.add_argument(
        "--eks",
        action="store_true",
        help="reach the environment's EKS cluster with a kubeconfig from `aws eks update-kubeconfig` (the"
        " caller's AWS credentials; what the pipeline uses) instead of the options below",
    )
    add_connection_options(parser)
    terraform_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.delivery.kube import connect
    from qualisys_infra.delivery.signoff import check_http_url
    from qualisys_infra.terraform.runner import stack_outputs

    project, progress = ctx.require_project(), ctx.progress("release")
    env = resolve_environment_name(args.env, ctx.environments_dir)
    names = (env,)
    tag = check_image_tag(args.image_tag, "--image-tag")
    if args.ca_file is not None and not args.ca_file.is_file():
        raise UsageError(f"--ca-file: {args.ca_file} does not exist")
    if args.app_url is not None:
        check_http_url(args.app_url, "--app-url")
    settings = ctx.settings(names)
    (config,) = settings.environments
    release = Release(
        service=args.service,
        tag=tag,
        env=env,
        app_url=args.app_url or f"https://{config.ingress_domain}",
        repository=f"{settings.account.project}-{args.service}",
        region=config.region,
    )
    with tempfile.TemporaryDirectory(prefix="qualisys-release-") as work:
        if args.eks:
            kube: dict[str, Any] = _eks_kubeconfig(settings, env, Path(work), progress)
        else:
            kube = connection_options(args, ctx.environ)
        # Everything that could refuse the release is checked before anything is planned: the
        # cluster's API client is made here (kubeconfig, token, URL), not after the apply; a
        # production tag must have passed staging.
        with connect(**kube) as api:
            if env == PRODUCTION:
                digest = check_staging_release(release.registry(), release.repository, tag)
                release.say(f"{release.repository}:{tag} ({digest}) completed a healthy staging release")
            settings, runner = pipeline.prepare(
                args, project, progress, names=names, settings=settings, environ=ctx.environ
            )
            stack = stack_name(env, "apps")
            pipeline.check_backend_against_bootstrap(runner, settings, progress)
            inputs, _ = apps_inputs(runner, [stack], {args.service: tag}, explicit=True, progress=progress)
            running = stack_outputs(runner, stack).get("image_tags")
            previous = running.get(args.service) if isinstance(running, dict) else None
            release.previous_tag = previous if isinstance(previous, str) and previous != tag else None
            _plan_review_apply(args, runner, stack, inputs[stack], Path(work), progress)
            try:
                code = _follow(args, api, release, progress)
            except ToolkitError as exc:
                # Applied, and not confirmed: never "bad input, nothing released".
                release.say(f"applied, rollout not confirmed: {' '.join(exc.lines())}")
                code = 1
            try:
                if code != 0 and release.rollback_reason:
                    _roll_back(args, api, runner, stack, inputs[stack], release, Path(work), progress)
            except ToolkitError as exc:
                release.rolled_back = f"ROLLBACK NOT CONFIRMED ({' '.join(exc.lines())})"
            release.say(release.verdict(code))
            release.write_summary(ctx.environ)
            return code


class Release:
    """One release's facts and what happened to it: ``say`` prints a ``release:`` line and keeps it
    for the job summary, with the smoke suite's steps."""

    def __init__(self, *, service: str, tag: str, env: str, app_url: str, repository: str, region: str) -> None:
        self.service = service
        self.tag = tag
        self.env = env
        self.app_url = app_url
        self.repository = repository
        self.region = region
        self.previous_tag: str | None = None
        self.rollback_reason = ""
        self.rolled_back = ""  # how the rollback ended, once tried
        self.lines: list[str] = []
        self.steps: list[Step] = []
        self._registry: Registry | None = None

    @property
    def name(self) -> str:
        return f"{self.service} {self.tag} in {self.env}"

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.region)
        return self._registry

    def say(self, text: str) -> None:
        line = f"release: {self.name}: {text}"
        print(line, flush=True)
        self.lines.append(line)

    def verdict(self, code: int) -> str:
        """The last line: what the release came to (the workflow shows it as the outcome)."""
        if code == 0:
            recorded = "; recorded as verified in staging" if self.env == STAGING else ""
            return f"RELEASED: healthy, {len(self.steps)} smoke checks passed{recorded}"
        if not self.rollback_reason:
            return f"FAILED: {self.lines[-1].removeprefix(f'release: {self.name}: ') if self.lines else 'see above'}"
        return f"FAILED: {self.rollback_reason}; {self.rolled_back or 'not rolled back'}"

    def write_summary(self, environ: Mapping[str, str]) -> None:
        """A Markdown section in ``$GITHUB_STEP_SUMMARY`` (GitHub Actions), when it is set."""
        from qualisys_infra.core.github_text import md_text
        from qualisys_infra.delivery.github import append_step_summary

        path = environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        text = [f"### release {md_text(self.name)}", ""]
        text += [f"- {md_text(line.removeprefix(f'release: {self.name}: '))}" for line in self.lines]
        if self.steps:
            text += ["", "| smoke check | verdict | detail |", "| --- | --- | --- |"]
            text += [f"| {md_text(s.name)} | {s.verdict.value} | {md_text(s.detail)} |" for s in self.steps]
        append_step_summary(Path(path), "\n".join(text) + "\n")


def _eks_kubeconfig(settings: Settings, env: str, work: Path, progress: Progress) -> dict[str, Any]:
    """A kubeconfig for the environment's EKS cluster, written by the AWS CLI into ``work`` (the
    credentials are the caller's: the apply role in the pipeline)."""
    (config,) = settings.environments
    cluster = resource_prefix(settings.account.project, env)
    path = work / "kubeconfig"
    command = [
        "aws",
        "eks",
        "update-kubeconfig",
        "--name",
        cluster,
        "--region",
        config.region,
        "--kubeconfig",
        str(path),
    ]
    progress(f"kubeconfig for the EKS cluster {cluster} ({config.region})")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    except FileNotFoundError:
        raise UsageError("--eks: the AWS CLI (`aws`) is not on PATH; install it or pass --kubeconfig") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"--eks: `aws eks update-kubeconfig --name {cluster}` did not answer in 120 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--eks: `aws eks update-kubeconfig --name {cluster}` failed: {last}")
    return {"kubeconfig": path, "context": None}


def rollout_address(service: str) -> str:
    """The Terraform address of the service's Rollout in the apps stack: all a release may change."""
    return f"kubernetes_manifest.{logical_id((service, ROLLOUT_ID))}"


def only_the_image_changes(plan: Plan, service: str) -> list[str]:
    """What, besides ``service``'s Rollout, the release plan would change: nothing may, unless the
    stack is new (every change a create). Anything else is infrastructure, for ``plan``/``deploy``."""
    rollout = rollout_address(service)
    changed = [c for c in plan.changes if c.kind is not Kind.NOOP and c.kind is not Kind.READ]
    if all(c.kind is Kind.CREATE for c in changed):
        return []  # the first release creates the service's objects
    return [f"{c.address} ({c.kind.value})" for c in changed if c.address != rollout]


def _plan_review_apply(
    args: argparse.Namespace,
    runner: StackRunner,
    stack: str,
    variables: dict[str, str],
    work: Path,
    progress: Progress,
) -> None:
    from qualisys_infra.terraform.review_record import check_reviewed, record_review

    plan_json = runner.plan(stack, variables)
    reviews = reviews_of([plan_json], args.allow_destroy)
    sys.stdout.write(render_text(reviews, color=sys.stdout.isatty()))
    stop = [f for r in reviews for f in blocking(r.findings)]
    if stop:
        raise PolicyError(f"release: {len(stop)} blocking guardrail finding(s) in the plan of {stack}; nothing applied")
    others = only_the_image_changes(reviews[0].plan, args.service)
    if others:
        raise PolicyError(
            f"release: the plan of {stack} changes more than {args.service}'s image: {', '.join(others)};"
            " nothing applied. Review and deploy those through `plan` and `deploy` first."
        )
    record_review(runner, stack, allowed=args.allow_destroy)
    runner.apply(stack, check_reviewed(runner, stack, work, command="release", allow_destroy=args.allow_destroy))
    progress(f"{stack}: applied; following the rollout of {args.service}")


def _follow(args: argparse.Namespace, api: KubeApi, release: Release, progress: Progress) -> int:
    """Follow the rollout, then run the smoke suite; in staging, record a release that passed. Sets
    ``release.rollback_reason`` when what was applied must be taken back."""
    from qualisys_infra.delivery.rollout import Outcome, follow_rollout
    from qualisys_infra.delivery.signoff import Verdict
    from qualisys_infra.delivery.smoke import smoke_suite

    result = follow_rollout(
        api,
        release.service,
        release.env,
        expected_image=release.tag,
        timeout_seconds=args.timeout,
        interval_seconds=args.interval,
        progress=progress,
    )
    release.say(f"{result.outcome.name.lower()}: {result.message}")
    if result.outcome in (Outcome.ABORTED, Outcome.FAILED):
        release.rollback_reason = f"the rollout {result.outcome.value}"
        return 1
    if result.outcome is not Outcome.HEALTHY:
        return 1  # still under way, or waiting for a person: the message says how to promote
    progress(f"smoke suite against {mask_url(release.app_url)}")
    release.steps = smoke_suite(release.app_url, service=release.service, version=release.tag, ca_file=args.ca_file)
    for step in release.steps:
        release.say(f"smoke: {step.name}: {step.verdict.value}: {step.detail}")
    bad = [s.name for s in release.steps if s.verdict is not Verdict.PASSED]
    if bad:
        release.rollback_reason = f"the smoke suite did not pass ({', '.join(bad)})"
        release.say(f"{len(bad)} of {len(release.steps)} smoke checks did not pass")
        return 1
    release.say(f"all {len(release.steps)} smoke checks passed")
    if release.env == STAGING:
        try:
            digest = record_staging_release(release.registry(), release.repository, release.tag)
        except RecordError as exc:
            release.say(f"healthy, but NOT recorded as verified (production will refuse {release.tag}): {exc}")
            return 1
        release.say(f"recorded as verified in staging: {release.repository}:{verified_tag(release.tag)} ({digest})")
    return 0


def _roll_back(
    args: argparse.Namespace,
    api: KubeApi,
    runner: StackRunner,
    stack: str,
    variables: dict[str, str],
    release: Release,
    work: Path,
    progress: Progress,
) -> None:
    """Back to the previous tag: Argo's undo to the revision that ran it, followed to healthy; then
    the apps stack applied with that tag, so its state (and every later plan) says what runs."""
    from qualisys_infra.delivery.rollout import Outcome, RollbackError, follow_rollout, undo

    previous = release.previous_tag
    by_hand = f"kubectl argo rollouts undo {release.service} -n {release.env}"
    if previous is None:
        release.rolled_back = f"no earlier tag of {release.service} to roll back to"
        return
    release.say(f"{release.rollback_reason}: rolling back to {previous}")
    try:
        revision = undo(api, release.service, release.env, to_image=previous, progress=progress)
    except RollbackError as exc:
        release.rolled_back = f"ROLLBACK FAILED: {exc}; roll back by hand: {by_hand}"
        return
    result = follow_rollout(
        api,
        release.service,
        release.env,
        expected_image=previous,
        timeout_seconds=args.timeout,
        interval_seconds=args.interval,
        progress=progress,
    )
    if result.outcome is not Outcome.HEALTHY:
        outcome = f"{result.outcome.value}: {result.message}"
        release.rolled_back = f"ROLLBACK FAILED: revision {revision.number} ({previous}) is {outcome}"
        return
    release.say(f"back on {previous} (revision {revision.number}): {result.message}")
    back = {**variables, image_tag_variable(release.service): previous}
    again = f"qualisys-infra release --env {release.env} --service {release.service} --image-tag {previous}"
    try:
        _plan_review_apply(args, runner, stack, back, work, progress)
    except ToolkitError as exc:
        release.rolled_back = (
            f"rolled back to {previous}, but the state of {stack} still says {release.tag}"
            f" ({' '.join(exc.lines())}); run: {again}"
        )
        return
    release.rolled_back = f"rolled back to {previous} (revision {revision.number}); {stack} applied with it"


__all__ = ["add_commands", "run"]
