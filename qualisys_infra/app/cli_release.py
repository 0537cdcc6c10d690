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
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modules.apps.objects import ROLLOUT_ID
from qualisys_infra.app import cli_plan
from qualisys_infra.app.argtypes import seconds
from qualisys_infra.app.cli_plan import add_allow_destroy, apps_inputs, check_image_tag, reviews_of, terraform_options
from qualisys_infra.app.config import Settings, load_settings, resolve_environment_names
from qualisys_infra.app.kube import add_connection_options, connection_options
from qualisys_infra.core.errors import PolicyError, ToolkitError, UsageError
from qualisys_infra.core.naming import SERVICES, logical_id, resource_prefix, stack_name
from qualisys_infra.core.progress import Progress, ProgressLines
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.model import Kind, Plan
from qualisys_infra.plan.review import render_text

if TYPE_CHECKING:
    from qualisys_infra.app.kube import KubeApi
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
        "--health-url",
        default=None,
        metavar="URL",
        help=f"checked after the rollout (default: https://<ingress_domain of ENV>{HEALTH_PATH})",
    )
    parser.add_argument("--ca-file", type=Path, default=None, metavar="FILE", help="trust this CA for the health check")
    add_allow_destroy(parser)
    parser.add_argument(
        "--eks",
        action="store_true",
        help="reach the environment's EKS cluster with a kubeconfig from `aws eks update-kubeconfig` (the"
        " caller's AWS credentials; what the pipeline uses) instead of the options below",
    )
    add_connection_options(parser)
    terraform_options(parser)


def run(args: argparse.Namespace, project: Path) -> int:
    from qualisys_infra.app.kube import connect
    from qualisys_infra.app.signoff import check_http_url

    progress = ProgressLines("release", sys.stderr, quiet=args.quiet)
    names = resolve_environment_names([args.env])
    if len(names) != 1:
        raise UsageError(f"--env: got {args.env!r}, expected one environment")
    env = names[0]
    tag = check_image_tag(args.image_tag, "--image-tag")
    if args.ca_file is not None and not args.ca_file.is_file():
        raise UsageError(f"--ca-file: {args.ca_file} does not exist")
    if args.health_url is not None:
        check_http_url(args.health_url, "--health-url")
    settings = load_settings(project / "environments", names, root=project)
    (config,) = settings.environments
    health_url = args.health_url or f"https://{config.ingress_domain}{HEALTH_PATH}"
    with tempfile.TemporaryDirectory(prefix="qualisys-release-") as work:
        if args.eks:
            kube: dict[str, Any] = _eks_kubeconfig(settings, env, Path(work), progress)
        else:
            kube = connection_options(args, os.environ)
        # Everything that could refuse the release is checked before anything is planned: the
        # cluster's API client is made here (kubeconfig, token, URL), not after the apply.
        with connect(**kube) as api:
            settings, runner = cli_plan.prepare(args, project, progress, names=names, settings=settings)
            stack = stack_name(env, "apps")
            cli_plan.check_backend_against_bootstrap(runner, settings, progress)
            inputs, _ = apps_inputs(runner, [stack], {args.service: tag}, explicit=True, progress=progress)
            _plan_review_apply(args, runner, stack, inputs[stack], Path(work), progress)
            try:
                return _follow(args, api, env, tag, health_url, progress)
            except ToolkitError as exc:
                # Applied, and not confirmed: never "bad input, nothing released".
                for line in exc.lines():
                    print(f"release: {args.service} {tag} in {env}: applied, rollout not confirmed: {line}")
                return 1


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


def only_the_image_changes(plan: Plan, service: str) -> list[str]:
    """What, besides ``service``'s Rollout, the release plan would change: nothing may, unless the
    stack is new (every change a create). Anything else is infrastructure, for ``plan``/``deploy``."""
    rollout = f"kubernetes_manifest.{logical_id((service, ROLLOUT_ID))}"
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
    from qualisys_infra.app.terraform.review_record import check_reviewed, record_review

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


def _follow(args: argparse.Namespace, api: KubeApi, env: str, tag: str, health_url: str, progress: Progress) -> int:
    from qualisys_infra.app.rollout import exit_code, follow_rollout
    from qualisys_infra.app.signoff import Verdict, check_health

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
