"""``qualisys-infra release``: a new image of a service, through the reviewed-plan path, followed to
healthy or rolled back.

1. synth the environment and plan its apps stack with ``<service>_image_tag`` set to the new tag
   (every other service keeps the tag it runs), so the release is a plan like any other change;
2. review that plan (printed; the guardrails block as for ``plan``) and record the review;
3. apply exactly that reviewed plan, checked again as ``deploy`` does;
4. follow the service's Argo Rollout through the Kubernetes API (progress on stderr) until it is
   healthy, aborted (Argo rolled it back) or timed out;
5. check ``https://<ingress_domain>/health`` over verified HTTPS.

Exit 0 healthy, 1 a blocking finding, a rollback, a failed rollout or a failed health check, 2 bad
input (an unknown service, a tag that is not a git commit or version, unreachable cluster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualisys_infra.app import cli_plan
from qualisys_infra.app.cli_plan import add_allow_destroy, apps_inputs, check_image_tag, reviews_of, terraform_options
from qualisys_infra.app.config import resolve_environment_names
from qualisys_infra.app.kube import add_connection_options, connection_options
from qualisys_infra.core.errors import PolicyError, UsageError
from qualisys_infra.core.naming import SERVICES, stack_name
from qualisys_infra.core.progress import Progress, ProgressLines
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.review import render_text

if TYPE_CHECKING:
    from qualisys_infra.app.terraform.runner import StackRunner

DEFAULT_TIMEOUT_SECONDS = 900.0
HEALTH_PATH = "/health"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "release",
        help="release a service's image: plan and apply the apps stack with it, follow the rollout, check /health",
        description=__doc__,
    )
    parser.add_argument("--env", required=True, metavar="ENV", help="environment: dev, staging or production")
    parser.add_argument("--service", required=True, choices=SERVICES, help="the service to release")
    parser.add_argument(
        "--image-tag", required=True, metavar="TAG", help="the image to run: a git commit (7-40 hex digits) or vX.Y.Z"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long the rollout may take before it counts as failed (the canary's pauses included)",
    )
    parser.add_argument(
        "--interval", type=float, default=5.0, metavar="SECONDS", help="between two reads of the rollout"
    )
    parser.add_argument(
        "--health-url",
        default=None,
        metavar="URL",
        help=f"checked after the rollout (default: https://<ingress_domain of ENV>{HEALTH_PATH})",
    )
    parser.add_argument("--ca-file", type=Path, default=None, metavar="FILE", help="trust this CA for the health check")
    add_allow_destroy(parser)
    add_connection_options(parser)
    terraform_options(parser)


def run(args: argparse.Namespace, project: Path) -> int:
    progress = ProgressLines("release", sys.stderr, quiet=args.quiet)
    names = resolve_environment_names([args.env])
    if len(names) != 1:
        raise UsageError(f"--env: got {args.env!r}, expected one environment")
    env = names[0]
    tag = check_image_tag(args.image_tag, "--image-tag")
    kube = connection_options(args, os.environ)  # bad options fail before anything is planned
    if args.ca_file is not None and not args.ca_file.is_file():
        raise UsageError(f"--ca-file: {args.ca_file} does not exist")
    settings, runner = cli_plan.prepare(args, project, progress, names=names)
    stack = stack_name(env, "apps")
    cli_plan.check_backend_against_bootstrap(runner, settings, progress)
    inputs, _ = apps_inputs(runner, [stack], {args.service: tag}, explicit=True, progress=progress)
    _plan_review_apply(args, runner, stack, inputs[stack], progress)
    (config,) = settings.environments
    health_url = args.health_url or f"https://{config.ingress_domain}{HEALTH_PATH}"
    return _follow(args, kube, env, tag, health_url, progress)


def _plan_review_apply(
    args: argparse.Namespace, runner: StackRunner, stack: str, variables: dict[str, str], progress: Progress
) -> None:
    from qualisys_infra.app.terraform.review_record import check_reviewed, record_review

    plan_json = runner.plan(stack, variables)
    reviews = reviews_of([plan_json], args.allow_destroy)
    sys.stdout.write(render_text(reviews, color=sys.stdout.isatty()))
    stop = [f for r in reviews for f in blocking(r.findings)]
    if stop:
        raise PolicyError(f"release: {len(stop)} blocking guardrail finding(s) in the plan of {stack}; nothing applied")
    record_review(runner, stack, allowed=args.allow_destroy)
    with tempfile.TemporaryDirectory(prefix="qualisys-release-") as work:
        runner.apply(stack, check_reviewed(runner, stack, Path(work), command="release"))
    progress(f"{stack}: applied; following the rollout of {args.service}")


def _follow(
    args: argparse.Namespace, kube: dict[str, Any], env: str, tag: str, health_url: str, progress: Progress
) -> int:
    from qualisys_infra.app.kube import connect
    from qualisys_infra.app.rollout import exit_code, follow_rollout
    from qualisys_infra.app.signoff import Verdict, check_health

    with connect(**kube) as api:
        result = follow_rollout(
            api,
            args.service,
            env,
            expected_image=tag,
            timeout_seconds=args.timeout,
            interval_seconds=args.interval,
            progress=progress,
        )
    print(f"release: {args.service} {tag} in {env}: {result.outcome.name.lower()}: {result.message}")
    code = exit_code(result)
    if code != 0:
        return code
    step = check_health(health_url, ca_file=args.ca_file, timeout=10.0)
    print(f"release: {step.name}: {step.verdict.value}: {step.detail}")
    return 0 if step.verdict is Verdict.PASSED else 1


__all__ = ["add_commands", "run"]
