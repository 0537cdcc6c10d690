"""qualisys-infra test-pool: the parallel Playwright runner pool (NFR-P2) of an environment.

render prints the Kubernetes Job that runs a test suite in shards on the pool: a batch/v1 Indexed
Job in the playwright-pool namespace, on the playwright node group (its taint tolerated, its label
selected), with the restricted security context, the resources of test_pool in the environment file,
and each pod's shard passed to Playwright as --shard=INDEX+1/TOTAL (SHARD_INDEX and SHARD_TOTAL are
set too). Arguments after -- go to `playwright test`. Without --name the Job has generateName
playwright-, so create it with kubectl create (apply needs --name). $ECR is
ACCOUNT.dkr.ecr.REGION.amazonaws.com:
  qualisys-infra test-pool render --env staging --image $ECR/qualisys-playwright-runner:1.4.0 | kubectl create -f -
  qualisys-infra test-pool render --env dev --image $ECR/qualisys-playwright-runner:1.4.0 --shards 12 -- -x

capacity prints, per environment, how many runners the playwright-pool quota and the playwright node
group hold with test_pool's sizes, and what limits them. The environment files are checked before
anything is printed: test_pool.runners must fit both (`qualisys-infra environments` says what to change).

Exit codes: 0 ok; 2 bad input (an environment file, an option, more runners than test_pool.runners,
an image that is not the runner image).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from qualisys_infra.commands.context import Context
from qualisys_infra.commands.options import add_env_option
from qualisys_infra.config import resolve_environment_name, resolve_environment_names
from qualisys_infra.core import playwright_pool
from qualisys_infra.core.settings import EnvironmentConfig
from qualisys_infra.delivery import testpool

RENDER_DESCRIPTION = """\
Print the Indexed Job that runs SHARDS Playwright shards on at most RUNNERS pods at once, as YAML
(or JSON with --json). RUNNERS defaults to test_pool.runners of the environment and may not exceed
it; SHARDS defaults to RUNNERS. IMAGE must be in the repository test_pool.runner_image_repository
(qualisys-playwright-runner); pin it by tag or digest. Arguments after -- are passed to
`playwright test`.
"""

CAPACITY_DESCRIPTION = """\
Per environment: test_pool.runners and each runner's requests, how many runners one playwright node
holds (its allocatable CPU, memory and pod slots after EKS's kube-reserved and the DaemonSets) and
which resource runs out first, the node group's total at max_size, and the playwright-pool quota's.
"""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pool = sub.add_parser(
        "test-pool",
        help="the parallel Playwright runner pool: render its Indexed Job, show its capacity",
        description=__doc__,
    )
    pool.set_defaults(func=run)
    actions = pool.add_subparsers(dest="test_pool_command", required=True, metavar="ACTION")
    render = actions.add_parser(
        "render",
        help="print the Kubernetes Job that runs Playwright shards on the pool",
        description=RENDER_DESCRIPTION,
    )
    render.add_argument(
        "--env",
        required=True,
        metavar="ENV",
        help="the environment whose test_pool settings to use: an environment of environments/*.tfvars",
    )
    render.add_argument(
        "--image",
        required=True,
        metavar="IMAGE[:TAG]",
        help="the runner image, REGISTRY/qualisys-playwright-runner:TAG",
    )
    render.add_argument(
        "--runners", type=_count, default=None, metavar="N", help="pods at once (default: test_pool.runners)"
    )
    render.add_argument("--shards", type=_count, default=None, metavar="N", help="shards to run (default: RUNNERS)")
    render.add_argument(
        "--name", default=None, metavar="NAME", help="the Job's name (default: generateName playwright-)"
    )
    render.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    render.add_argument(
        "playwright_args", nargs="*", metavar="-- PLAYWRIGHT_ARG", help="passed on to `playwright test`"
    )
    capacity = actions.add_parser(
        "capacity",
        help="how many runners each environment's quota and node group hold",
        description=CAPACITY_DESCRIPTION,
    )
    add_env_option(capacity, "environment", required=False)
    capacity.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _render(args: argparse.Namespace, ctx: Context) -> int:
    settings = ctx.settings([resolve_environment_name(args.env, ctx.environments_dir)])
    (env,) = settings.environments
    job = testpool.render_job(
        env,
        image=args.image,
        runners=args.runners,
        shards=args.shards,
        name=args.name,
        playwright_args=tuple(args.playwright_args),
        env_file=f"environments/{env.environment}.tfvars",
    )
    if args.json:
        print(json.dumps(job, indent=2))
    else:
        spec = job["spec"]
        print(
            f"# qualisys-infra test-pool render: {env.environment}, {spec['completions']} shards on "
            f"{spec['parallelism']} runners in {playwright_pool.NAMESPACE}"
        )
        print(yaml.safe_dump(job, sort_keys=False, default_flow_style=False), end="")
    return 0


def capacity_of(env: EnvironmentConfig) -> dict[str, Any]:
    """What ``env``'s pool holds: per node, in the node group at max_size, and in the quota."""
    pool = env.test_pool
    cpu = playwright_pool.cpu_millicores(pool.cpu_request)
    memory = playwright_pool.memory_bytes(pool.memory_request)
    group = env.node_groups.playwright
    fits = [playwright_pool.runners_per_node(t, cpu, memory) for t in group.instance_types]
    fit = min((f for f in fits if f is not None), key=lambda f: f.runners)
    quota = env.namespaces[playwright_pool.NAMESPACE]
    quota_holds = min(
        quota.pods,
        playwright_pool.cpu_millicores(quota.cpu_requests) // cpu,
        playwright_pool.memory_bytes(quota.memory_requests) // memory,
        playwright_pool.cpu_millicores(quota.cpu_limits) // playwright_pool.cpu_millicores(pool.cpu_limit),
        playwright_pool.memory_bytes(quota.memory_limits) // playwright_pool.memory_bytes(pool.memory_limit),
    )
    return {
        "environment": env.environment,
        "runners": pool.runners,
        "requests": f"{pool.cpu_request}/{pool.memory_request}",
        "instance_type": fit.instance_type,
        "per_node": fit.runners,
        "limited_by": fit.limited_by,
        "max_size": group.max_size,
        "nodes_needed": -(-pool.runners // fit.runners),
        "node_group_holds": fit.runners * group.max_size,
        "quota_holds": quota_holds,
    }


def _capacity(args: argparse.Namespace, ctx: Context) -> int:
    names = resolve_environment_names(args.env or ["all"], ctx.environments_dir)
    settings = ctx.settings(names)
    rows = [capacity_of(env) for env in settings.environments]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    print("  ".join(h.upper().ljust(widths[h]) for h in headers).rstrip())
    for row in rows:
        print("  ".join(str(row[h]).ljust(widths[h]) for h in headers).rstrip())
    return 0


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.test_pool_command == "render":
        return _render(args, ctx)
    return _capacity(args, ctx)
