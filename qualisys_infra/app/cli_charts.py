"""``qualisys-infra charts``: every pinned Helm chart against its repository, like ``npm outdated``.

Reads each chart repository's ``index.yaml`` over HTTPS (each repository once) and prints one row
per pin of ``modules/platform/charts.py``: the chart, the pinned version, the newest release in the
repository and the repository. Pre-releases are not offered. The cluster-autoscaler is pinned per
Kubernetes minor, and its newest release is the newest one of that minor's line (same minor in
``appVersion``): the autoscaler's minor must match the cluster's.

``--mirror URL`` reads every index from a mirror instead, at ``URL/<host>/<path>/index.yaml``
(``https://aws.github.io/eks-charts`` -> ``URL/aws.github.io/eks-charts/index.yaml``).

Exit codes: 0 every pin read (behind or not); 1 a pin is behind and ``--fail-on-outdated`` was given;
2 a repository could not be read (network, timeout, HTTP status, not a Helm repository index).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

from modules.platform.charts import Chart, every_pin
from qualisys_infra.app.argtypes import seconds
from qualisys_infra.core.errors import ToolkitError

DEFAULT_TIMEOUT_SECONDS = 20.0
# Helm's SemVer 2: MAJOR.MINOR.PATCH, an optional pre-release after "-", build metadata after "+".
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
# libyaml's loader when PyYAML has it: the same safe loader, many times faster on the large indexes
# (prometheus-community's is tens of megabytes).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ChartIndexError(ToolkitError):
    """A chart repository's index could not be fetched or read. Exit code 2."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One pin compared with its repository."""

    name: str
    pinned: str
    latest: str
    repository: str

    @property
    def behind(self) -> bool:
        return _release_key(self.latest) > _release_key(self.pinned)


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
        help=f"give up on a repository after this long (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--mirror", metavar="URL", default=None, help="read every index from URL/<host>/<path>/index.yaml"
    )


def run(args: argparse.Namespace) -> int:
    rows = compare(every_pin(), index_url=index_url_via(args.mirror), timeout_seconds=args.timeout)
    print(render(rows), end="")
    behind = [r for r in rows if r.behind]
    print(f"{len(behind)} of {len(rows)} pinned charts behind their repository")
    return 1 if behind and args.fail_on_outdated else 0


def index_url_via(mirror: str | None) -> Callable[[str], str]:
    """Where the index of a repository is read: the repository itself, or ``mirror`` keeping its host and path."""

    def url(repository: str) -> str:
        if mirror is None:
            return f"{repository.rstrip('/')}/index.yaml"
        parts = urlsplit(repository)
        return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path.rstrip('/')}/index.yaml"

    return url


def compare(pins: Mapping[str, Chart], *, index_url: Callable[[str], str], timeout_seconds: float) -> list[Row]:
    """One row per pin, in the order of ``pins``; every repository's index is fetched once, in parallel."""
    urls = {chart.repository: index_url(chart.repository) for chart in pins.values()}
    with requests.Session() as session, ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {repo: pool.submit(fetch_index, session, url, timeout_seconds) for repo, url in urls.items()}
        indexes = {repo: future.result() for repo, future in futures.items()}
    return [
        Row(
            name=name,
            pinned=chart.version,
            latest=latest_version(indexes[chart.repository], chart, url=urls[chart.repository]),
            repository=chart.repository,
        )
        for name, chart in pins.items()
    ]


def fetch_index(session: requests.Session, url: str, timeout_seconds: float) -> Mapping[str, Any]:
    """The parsed ``index.yaml`` at ``url``; a :class:`ChartIndexError` of one line on any failure."""
    try:
        response = session.get(url, timeout=timeout_seconds)
    except requests.Timeout:
        raise ChartIndexError(f"{url}: no answer within {timeout_seconds:g} s") from None
    except requests.RequestException as exc:
        raise ChartIndexError(f"{url}: cannot be fetched ({_connection_reason(exc)})") from None
    if response.status_code != 200:
        raise ChartIndexError(f"{url}: HTTP {response.status_code} {response.reason or ''}".rstrip())
    try:
        index = yaml.load(response.content, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader (libyaml's)
    except yaml.YAMLError as exc:
        raise ChartIndexError(f"{url}: not YAML ({_first_line(exc)})") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise ChartIndexError(f"{url}: not a Helm repository index (no `entries` map)")
    return index


def latest_version(index: Mapping[str, Any], chart: Chart, *, url: str) -> str:
    """The newest release of ``chart`` in ``index`` (of the pin's ``appVersion`` minor when the pin
    asks for it); pre-releases and versions that are not SemVer are not offered."""
    entries = index["entries"].get(chart.chart)
    if not isinstance(entries, list) or not entries:
        raise ChartIndexError(f"{url}: has no chart {chart.chart!r}")
    minor = _minor(chart.app_version)
    candidates = [
        str(entry["version"])
        for entry in entries
        if isinstance(entry, dict)
        and _is_release(str(entry.get("version", "")))
        and (not chart.same_app_minor or _minor(str(entry.get("appVersion", ""))) == minor)
    ]
    if not candidates:
        raise ChartIndexError(f"{url}: no release of {chart.chart!r} to compare with {chart.version}")
    return max(candidates, key=_release_key)


def render(rows: list[Row]) -> str:
    """The rows as an aligned table, a header first, behind rows marked with ``*``."""
    table = [("chart", "pinned", "latest", "repository")]
    table += [(f"{r.name}{' *' if r.behind else ''}", r.pinned, r.latest, r.repository) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    return "".join(
        f"{name:<{widths[0]}}  {pinned:<{widths[1]}}  {latest:<{widths[2]}}  {repo}\n"
        for name, pinned, latest, repo in table
    )


def _is_release(version: str) -> bool:
    match = _SEMVER.match(version)
    return match is not None and match.group(4) is None


def _release_key(version: str) -> tuple[int, int, int]:
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _connection_reason(exc: requests.RequestException) -> str:
    """urllib3's reason without the connection's repr: ``Failed to resolve 'host' (...)``."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)
    text = _first_line(reason if isinstance(reason, BaseException) else exc)
    return re.sub(r"^<?HTTPS?Connection(?:Pool)?\([^)]*\)>?: ", "", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
