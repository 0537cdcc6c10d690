"""Pinned Helm charts against their repositories' ``index.yaml``: each repository read once through
the toolkit's one HTTP client (whole-fetch deadline, same-origin redirects, size cap), without YAML
aliases or merge keys; the newest release per pin (the cluster-autoscaler within its Kubernetes
minor's line). Used by ``charts`` and ``outdated``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from modules.platform.charts import Chart
from qualisys_infra.core import http
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.safe_yaml import UnsafeYamlError, load_untrusted

DEFAULT_TIMEOUT_SECONDS = 20.0
# Helm's SemVer 2: MAJOR.MINOR.PATCH, an optional pre-release after "-", build metadata after "+".
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
# prometheus-community's index is tens of megabytes; an index larger than this is not read.
MAX_INDEX_BYTES = 256 * 1024 * 1024


class ChartIndexError(ToolkitError):
    """A chart repository's index could not be fetched or read. Exit code 2. ``unreachable``: no
    connection to the repository could be made (a name that does not resolve, a refused port), as
    without network."""

    def __init__(self, message: str, *, unreachable: bool = False, where: str = "") -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.where = where  # the index's URL, as shown


MIRROR_HINT = "without network, pass --mirror URL (a mirror serving URL/<host>/<path>/index.yaml)"


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


def index_url_via(mirror: str | None) -> Callable[[str], str]:
    """Where the index of a repository is read: the repository itself, or ``mirror`` keeping its host and path."""

    def url(repository: str) -> str:
        if mirror is None:
            return f"{repository.rstrip('/')}/index.yaml"
        parts = urlsplit(repository)
        return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path.rstrip('/')}/index.yaml"

    return url


def compare(pins: Mapping[str, Chart], *, index_url: Callable[[str], str], timeout_seconds: float) -> list[Row]:
    """One row per pin, in the order of ``pins``; every repository's index is fetched once, in parallel.

    The fetches run in daemon threads: an interrupted command (Ctrl-C, SIGTERM) ends without
    waiting for a slow repository, and each fetch ends at its own deadline anyway.
    """
    urls = {chart.repository: index_url(chart.repository) for chart in pins.values()}
    results: dict[str, Mapping[str, Any] | ToolkitError] = {}

    def fetch(repository: str, url: str) -> None:
        try:
            results[repository] = fetch_index(url, timeout_seconds)
        except ToolkitError as exc:
            results[repository] = exc

    threads = [
        threading.Thread(target=fetch, args=(repo, url), name=f"charts {url}", daemon=True)
        for repo, url in urls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    indexes: dict[str, Mapping[str, Any]] = {}
    failed: list[ToolkitError] = []
    for repository in urls:
        found = results.get(repository)
        if found is None:  # the thread died of something that is not a ToolkitError: a bug, said plainly
            found = ChartIndexError(f"{http.shown_url(urls[repository])}: the fetch ended without an answer")
        if isinstance(found, ToolkitError):
            failed.append(found)
        else:
            indexes[repository] = found
    if failed:
        raise _every_failure(failed, len(urls))
    return [
        Row(
            name=name,
            pinned=chart.version,
            latest=latest_version(indexes[chart.repository], chart, url=urls[chart.repository]),
            repository=chart.repository,
        )
        for name, chart in pins.items()
    ]


def _every_failure(failed: Sequence[ToolkitError], repositories: int) -> ToolkitError:
    """One line for every repository that failed (not only the first), with the way past a
    missing network when that is what failed."""
    unreachable = [e for e in failed if isinstance(e, ChartIndexError) and e.unreachable]
    if len(failed) == 1 and not unreachable:
        return failed[0]
    if len(failed) == 1:
        text = str(failed[0])
    elif len(unreachable) == len(failed):  # as without network: where, then the first cause
        first = unreachable[0]
        where = ", ".join(e.where for e in unreachable)
        cause = str(first).removeprefix(f"{first.where}: ")
        text = f"{len(failed)} of {repositories} chart repositories cannot be reached ({where}); the first {cause}"
    else:
        text = f"{len(failed)} of {repositories} chart repositories failed: " + "; ".join(str(e) for e in failed)
    return ChartIndexError(f"{text}; {MIRROR_HINT}" if unreachable else text, unreachable=bool(unreachable))


def fetch_index(url: str, timeout_seconds: float) -> Mapping[str, Any]:
    """The parsed ``index.yaml`` at ``url``, fetched within ``timeout_seconds`` in all; a
    :class:`ChartIndexError` of one line on any failure."""
    shown = http.shown_url(url)
    try:
        with http.Client(timeout_seconds=timeout_seconds, max_bytes=MAX_INDEX_BYTES) as client:
            response = client.get(url)
    except http.HttpError as exc:
        if exc.kind is http.Failure.CONNECT:
            raise ChartIndexError(f"{shown}: cannot be fetched ({exc.cause})", unreachable=True, where=shown) from None
        raise ChartIndexError(f"{shown}: {exc}", where=shown) from None
    if response.status != 200:
        raise ChartIndexError(f"{shown}: HTTP {response.status} {response.reason}".rstrip())
    try:
        index = load_untrusted(response.body)
    except UnsafeYamlError as exc:
        raise ChartIndexError(f"{shown}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise ChartIndexError(f"{shown}: not YAML ({_first_line(exc)})") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise ChartIndexError(f"{shown}: not a Helm repository index (no `entries` map)")
    return index


def latest_version(index: Mapping[str, Any], chart: Chart, *, url: str) -> str:
    """The newest release of ``chart`` in ``index`` (of the pin's ``appVersion`` minor when the pin
    asks for it); pre-releases and versions that are not SemVer are not offered. An entry that is
    not a mapping with a string ``version`` is refused (one line, naming it)."""
    shown = http.shown_url(url)
    entries = index["entries"].get(chart.chart)
    if not isinstance(entries, list) or not entries:
        raise ChartIndexError(f"{shown}: has no chart {chart.chart!r}")
    minor = _minor(chart.app_version)
    candidates = []
    for number, entry in enumerate(entries, 1):
        where = f"{shown}: entry {number} of {chart.chart!r}"
        if not isinstance(entry, dict):
            raise ChartIndexError(f"{where} is {http.kind_of(entry)}, expected a mapping")
        version = entry.get("version")
        if not isinstance(version, str):
            raise ChartIndexError(f"{where}: `version` is {http.kind_of(version)}, expected a string")
        app_version = entry.get("appVersion")
        app = str(app_version) if isinstance(app_version, str | int | float) else ""
        if _is_release(version) and (not chart.same_app_minor or _minor(app) == minor):
            candidates.append(version)
    if not candidates:
        raise ChartIndexError(f"{shown}: no release of {chart.chart!r} to compare with {chart.version}")
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
