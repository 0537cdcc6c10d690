"""``qualisys-infra charts``: every pinned Helm chart against its repository, like ``npm outdated``.

Reads each chart repository's ``index.yaml`` over HTTPS (each repository once) and prints one row
per pin of ``modules/platform/charts.py``: the chart, the pinned version, the newest release in the
repository and the repository. Pre-releases are not offered. The cluster-autoscaler is pinned per
Kubernetes minor, and its newest release is the newest one of that minor's line (same minor in
``appVersion``): the autoscaler's minor must match the cluster's.

``--mirror URL`` reads every index from a mirror instead, at ``URL/<host>/<path>/index.yaml``
(``https://aws.github.io/eks-charts`` -> ``URL/aws.github.io/eks-charts/index.yaml``).

Each index is fetched through the toolkit's one HTTP client: the whole fetch (connection,
headers, body) must end within ``--timeout``; a redirect is followed only on the same origin and
never from HTTPS to plain HTTP; an index over 256 MiB is not read. The YAML is read without
aliases or merge keys (an index needs none, and they are how a few hundred bytes expand into
gigabytes).

Exit codes: 0 every pin read (behind or not); 1 a pin is behind and ``--fail-on-outdated`` was given;
2 a repository could not be read (network, timeout, redirect, size, HTTP status, not a Helm
repository index).
"""

from __future__ import annotations

import argparse

from modules.platform.charts import every_pin
from qualisys_infra.commands.context import Context
from qualisys_infra.core.argtypes import seconds
from qualisys_infra.delivery.charts import DEFAULT_TIMEOUT_SECONDS, compare, index_url_via, render


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "charts",
        help="compare every pinned Helm chart with its repository's index.yaml",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fail-on-outdated", action="store_true", help="exit 1 when a pinned chart is behind its repository"
    )
    parser.add_argument(
        "--timeout",
        type=seconds("--timeout"),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="give up on a repository whose whole index (connection, headers and body) has not arrived "
        f"after this long (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--mirror", metavar="URL", default=None, help="read every index from URL/<host>/<path>/index.yaml"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    rows = compare(every_pin(), index_url=index_url_via(args.mirror), timeout_seconds=args.timeout)
    print(render(rows), end="")
    behind = [r for r in rows if r.behind]
    print(f"{len(behind)} of {len(rows)} pinned charts behind their repository")
    return 1 if behind and args.fail_on_outdated else 0
