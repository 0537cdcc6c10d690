"""``qualisys-infra outdated``: one table of everything the project pins that ages.

Rows, from the project's own files and the tables of :mod:`qualisys_infra.core.lifecycle` (each
entry with its source and the date it was read):

- ``kubernetes``: each environment's minor against EKS's support dates;
- ``chart``: every pinned Helm chart (with ``--refresh``: against its repository's ``index.yaml``,
  read as ``qualisys-infra charts`` reads it);
- ``action``: every action a workflow uses: a commit known to have carried malicious code, a
  JavaScript runtime GitHub removed from its runners, a tag behind the newest release (``--refresh``
  asks GitHub's API; the runtime of an action the table lacks is read from its ``action.yml`` at the
  pinned commit);
- ``image``: every container image of compose.yaml and the Dockerfiles, by its base distribution;
- ``node`` and ``python``: the runtimes the project pins.

Offline by default. Exit codes: 0 nothing past its end of life; 1 something is (a compromised
commit counts); 2 bad input, or a source could not be read with ``--refresh``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from modules.platform.charts import every_pin
from qualisys_infra.commands.context import Context
from qualisys_infra.config import environment_names, load_settings
from qualisys_infra.core import http, lifecycle
from qualisys_infra.core.argtypes import seconds
from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.core.lifecycle import DEBIAN_CODENAMES, EndOfLife, Source, Support
from qualisys_infra.core.safe_yaml import UnsafeYamlError, load_untrusted
from qualisys_infra.delivery import charts as chart_index

GITHUB_API = "https://api.github.com"
GITHUB_RAW = "https://raw.githubusercontent.com"
_USES = re.compile(r"^\s*-?\s*uses:\s*([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([^\s#]+)\s*(?:#\s*(\S+))?", re.M)
_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", re.M | re.I)
_SEVERITY = {Support.ENDED: 3, Support.EXTENDED: 2, Support.ENDING: 1, Support.SUPPORTED: 0}


class OutdatedError(ToolkitError):
    """A source of ``--refresh`` could not be read. Exit code 2."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionPin:
    """What the table knows of an action's release: its runtime and its newest tag when read."""

    using: str
    latest: str
    source: Source


# Actions the workflows use: the runtime of the pinned release and the newest tag when read. An action
# not listed here has its runtime read from its action.yml with --refresh.
ACTION_PINS: Mapping[str, ActionPin] = {
    "actions/checkout": ActionPin(
        using="node24",
        latest="v7.0.1",
        source=Source(where="actions/checkout action.yml at v7.0.1 (`using: node24`), as quoted by its users"),
    ),
    "actions/setup-python": ActionPin(
        using="node24",
        latest="v7.0.0",
        source=Source(where="actions/setup-python action.yml at v7.0.0 (`using: node24`), as quoted by its users"),
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One pinned thing and where it stands."""

    kind: str
    name: str
    pinned: str
    state: Support
    note: str
    where: str
    until: str = ""

    @property
    def label(self) -> str:
        return {
            Support.ENDED: "END OF LIFE",
            Support.EXTENDED: "ageing",
            Support.ENDING: "ending soon",
            Support.SUPPORTED: "ok",
        }[self.state]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "outdated",
        help="one table of everything pinned that ages (Kubernetes, charts, actions, images, Node, Python)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--refresh", action="store_true", help="compare with the publishers over the network")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--today",
        type=_day,
        metavar="YYYY-MM-DD",
        default=None,
        help="judge on this day instead of today (a rehearsal)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds("--timeout"),
        default=chart_index.DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up on a source after this long (default {chart_index.DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--mirror", metavar="URL", default=None, help="chart indexes from URL/<host>/<path>/index.yaml")
    parser.add_argument("--github-api", metavar="URL", default=GITHUB_API, help=argparse.SUPPRESS)
    parser.add_argument("--github-raw", metavar="URL", default=GITHUB_RAW, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    project = ctx.require_project()
    today: date = args.today or ctx.today()
    rows = collect(project, today=today)
    if args.refresh:
        rows = refresh(
            rows,
            project,
            mirror=args.mirror,
            github_api=args.github_api,
            github_raw=args.github_raw,
            token=ctx.environ.get("GITHUB_TOKEN"),
            timeout_seconds=args.timeout,
            today=today,
        )
    ended = [r for r in rows if r.state is Support.ENDED]
    if args.json:
        print(json.dumps([_as_json(r) for r in rows], indent=2))
    else:
        print(render(rows), end="")
        ageing = sum(1 for r in rows if r.state in (Support.EXTENDED, Support.ENDING))
        print(
            f"outdated: {len(ended)} past end of life, {ageing} ageing or ending soon, of {len(rows)} pins "
            f"on {today.isoformat()}" + ("" if args.refresh else " (offline: the tables' dates; --refresh asks)")
        )
    return 1 if ended else 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--today: got {value!r}, expected a date YYYY-MM-DD") from None


def collect(project: Path, *, today: date) -> list[Row]:
    """Every row, offline, in the order kubernetes, chart, action, image, node, python."""
    rows = kubernetes_rows(project, today)
    rows += chart_rows()
    rows += action_rows(project, today)
    rows += image_rows(project, today)
    rows += runtime_rows(project, today)
    return rows


def kubernetes_rows(project: Path, today: date) -> list[Row]:
    settings = load_settings(project / "environments", environment_names(project / "environments"), root=project)
    rows = []
    for env in settings.environments:
        where = f"environments/{env.environment}.tfvars"
        row = lifecycle.kubernetes_minor(env.eks_kubernetes_version)
        if row is None:
            rows.append(
                Row(
                    kind="kubernetes",
                    name=f"EKS ({env.environment})",
                    pinned=env.eks_kubernetes_version,
                    state=Support.ENDED,
                    note=f"not in the lifecycle table {lifecycle.TABLE_FILE}",
                    where=where,
                )
            )
            continue
        state = row.support(today)
        until = row.end_of_extended_support if state is Support.EXTENDED else row.end_of_standard_support
        rows.append(
            Row(
                kind="kubernetes",
                name=f"EKS ({env.environment})",
                pinned=row.minor,
                state=state,
                until=until.isoformat(),
                note=f"standard support until {row.end_of_standard_support}, extended until "
                f"{row.end_of_extended_support}; {row.dates}",
                where=where,
            )
        )
    return rows


def chart_rows() -> list[Row]:
    rows = []
    for name, chart in every_pin().items():
        rows.append(
            Row(
                kind="chart",
                name=name,
                pinned=chart.version,
                state=Support.SUPPORTED,
                note=f"app {chart.app_version}; --refresh compares with {chart.repository}",
                where="modules/platform/charts.py",
            )
        )
    return rows


def _uses(project: Path) -> list[tuple[str, str, str, str]]:
    """(action, ref, tag comment, file) of every remote ``uses:`` in the workflows and local actions."""
    github = project / ".github"
    files = sorted([*github.glob("workflows/*.y*ml"), *github.glob("actions/*/action.y*ml")])
    found: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in _USES.finditer(text):
            action, ref, tag = match.group(1), match.group(2), match.group(3) or ""
            if action.startswith("./") or action.startswith("docker://"):
                continue
            repo = "/".join(action.split("/")[:2])
            line = text.count("\n", 0, match.start(1)) + 1
            found.setdefault((repo, ref), (repo, ref, tag, f"{path.relative_to(project)}:{line}"))
    return list(found.values())


def action_rows(project: Path, today: date, runtimes: Mapping[tuple[str, str], str] | None = None) -> list[Row]:
    rows = []
    bad = {(c.action, c.sha): c for c in lifecycle.COMPROMISED_ACTION_COMMITS}
    for repo, ref, tag, where in _uses(project):
        pinned = f"{tag} ({ref[:12]})" if tag else ref
        compromised = bad.get((repo, ref))
        if compromised is not None:
            rows.append(
                Row(
                    kind="action",
                    name=repo,
                    pinned=pinned,
                    state=Support.ENDED,
                    note=f"known-compromised commit: {compromised.advisory}; {compromised.source}",
                    where=where,
                )
            )
            continue
        known = ACTION_PINS.get(repo)
        using = (runtimes or {}).get((repo, ref)) or (known.using if known else "")
        state, note = _runtime_state(using, today)
        if known and tag and _version_key(known.latest) > _version_key(tag):
            note += f"; behind {known.latest}"
            state = max(state, Support.ENDING, key=_SEVERITY.__getitem__)
        if known:
            note += f"; {known.source}"
        rows.append(Row(kind="action", name=repo, pinned=pinned, state=state, note=note, where=where))
    return rows


def _runtime_state(using: str, today: date) -> tuple[Support, str]:
    if not using:
        return Support.SUPPORTED, "runtime not in the table (--refresh reads action.yml)"
    runtime = lifecycle.ACTION_RUNTIMES.get(using)
    if runtime is None or runtime.removed_on is None:
        return Support.SUPPORTED, f"runs on {using}"
    if today >= runtime.removed_on:
        return Support.ENDED, f"runs on {using}, removed from GitHub's runners {runtime.removed_on}; {runtime.source}"
    return Support.ENDING, f"runs on {using}, removed from GitHub's runners {runtime.removed_on}; {runtime.source}"


def _images(project: Path) -> list[tuple[str, str]]:
    """(image reference, file:line) of compose.yaml's images and every Dockerfile's FROM."""
    found = []
    compose = project / "compose.yaml"
    if compose.is_file():
        text = compose.read_text(encoding="utf-8")
        for match in re.finditer(r"^\s+image:\s*(\S+)", text, re.M):
            found.append((match.group(1), f"compose.yaml:{text.count(chr(10), 0, match.start(1)) + 1}"))
    dockerfiles = [*project.glob("dev/*Dockerfile"), *project.glob("services/*/Dockerfile")]
    for path in sorted(p for p in dockerfiles if p.is_file()):
        text = path.read_text(encoding="utf-8")
        for match in _FROM.finditer(text):
            ref = match.group(1)
            if "/" not in ref and ":" not in ref and "@" not in ref:
                continue  # an earlier stage's name
            found.append((ref, f"{path.relative_to(project)}:{text.count(chr(10), 0, match.start(1)) + 1}"))
    return found


def base_of(image: str) -> tuple[str, str] | None:
    """The base distribution ``(product, cycle)`` an image reference names in its tag, or ``None``."""
    name, _, tag = image.split("@")[0].rpartition(":")
    if not name:
        return None
    if name.startswith("gcr.io/distroless/"):
        flavour = re.search(r"-(debian\d+)$", name)
        return ("distroless", flavour.group(1)) if flavour else None
    alpine = re.search(r"alpine(\d+\.\d+)", tag)
    if alpine:
        return ("alpine", alpine.group(1))
    for codename, version in DEBIAN_CODENAMES.items():
        if re.search(rf"(^|-){codename}($|-)", tag):
            return ("debian", version)
    return None


def image_rows(project: Path, today: date) -> list[Row]:
    rows = []
    for image, where in _images(project):
        ref = image.split("@")[0]
        base = base_of(image) or _commented_base(project, where)
        entry = lifecycle.end_of_life(*base) if base else None
        if entry is None:
            rows.append(
                Row(
                    kind="image",
                    name=ref,
                    pinned=image.partition("@")[2][:19] or "by tag",
                    state=Support.ENDING,
                    note="base distribution unknown: name it in the tag (e.g. -alpine3.23, -trixie)",
                    where=where,
                )
            )
            continue
        rows.append(_eol_row("image", ref, image.partition("@")[2][:19] or "by tag", entry, today, where))
    return rows


def _commented_base(project: Path, where: str) -> tuple[str, str] | None:
    """compose.yaml's own record of a digest's base (``on Alpine 3.24.2``) for an image whose tag names none."""
    file, _, line = where.rpartition(":")
    text = (project / file).read_text(encoding="utf-8")
    image = text.splitlines()[int(line) - 1].split("image:")[-1].strip().split("@")[0]
    match = re.search(rf"^#\s+{re.escape(image)}\s+.*? on Alpine (\d+\.\d+)", text, re.M)
    return ("alpine", match.group(1)) if match else None


def _eol_row(kind: str, name: str, pinned: str, entry: EndOfLife, today: date, where: str) -> Row:
    state = entry.support(today)
    note = f"{entry.name}: end of life {entry.end_of_life}"
    if entry.security_until:
        note += f" (regular security support until {entry.security_until})"
    return Row(
        kind=kind,
        name=name,
        pinned=pinned,
        state=state,
        until=entry.end_of_life.isoformat(),
        note=f"{note}; {entry.source}",
        where=where,
    )


def runtime_rows(project: Path, today: date) -> list[Row]:
    rows = []
    package = project / "package.json"
    if package.is_file():
        node = json.loads(package.read_text(encoding="utf-8")).get("devDependencies", {}).get("node", "")
        entry = lifecycle.end_of_life("node", str(node).split(".")[0]) if node else None
        if entry is not None:
            rows.append(_eol_row("node", "Node.js (jsii, cdktn-cli)", str(node), entry, today, "package.json"))
    pythons: dict[str, str] = {}
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        match = re.search(r'^requires-python\s*=\s*">=\s*(\d+\.\d+)"', pyproject.read_text(encoding="utf-8"), re.M)
        if match:
            pythons[match.group(1)] = "pyproject.toml (requires-python floor)"
    for image, where in _images(project):
        match = re.search(r"(?:^|/)python:(\d+\.\d+)", image)
        if match:
            pythons.setdefault(match.group(1), where)
    for cycle, where in pythons.items():
        entry = lifecycle.end_of_life("python", cycle)
        if entry is not None:
            rows.append(_eol_row("python", "Python", cycle, entry, today, where))
    return rows


def refresh(
    rows: list[Row],
    project: Path,
    *,
    mirror: str | None,
    github_api: str,
    github_raw: str,
    token: str | None,
    timeout_seconds: float,
    today: date,
) -> list[Row]:
    """The rows with charts compared with their repositories and actions with GitHub."""
    compared = {
        r.name: r
        for r in chart_index.compare(
            every_pin(), index_url=chart_index.index_url_via(mirror), timeout_seconds=timeout_seconds
        )
    }
    headers = {"Accept": "application/vnd.github+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    runtimes: dict[tuple[str, str], str] = {}
    latest: dict[str, str] = {}
    # The toolkit's one HTTP client: each request within the timeout in all, redirects only on the
    # same origin, answers capped (core/http.py).
    with http.Client(timeout_seconds=timeout_seconds) as session:
        for repo, ref, _tag, _where in _uses(project):
            if repo not in latest:
                release = _get_json(
                    session, f"{github_api.rstrip('/')}/repos/{repo}/releases/latest", headers, timeout_seconds
                )
                latest[repo] = str(release.get("tag_name", ""))
            if repo not in ACTION_PINS:
                runtimes[(repo, ref)] = _using(session, f"{github_raw.rstrip('/')}/{repo}/{ref}", timeout_seconds)
    refreshed = []
    for row in rows:
        if row.kind == "chart" and row.name in compared:
            found = compared[row.name]
            if found.behind:
                row = Row(
                    kind=row.kind,
                    name=row.name,
                    pinned=row.pinned,
                    state=Support.ENDING,
                    note=f"behind {found.latest} ({found.repository})",
                    where=row.where,
                )
            refreshed.append(row)
        elif row.kind != "action":
            refreshed.append(row)
    actions = action_rows(project, today, runtimes)
    for row in actions:
        newest = latest.get(row.name, "")
        tag = row.pinned.split(" ")[0]
        if newest and _version_key(newest) > _version_key(tag) and "behind" not in row.note:
            row = Row(
                kind=row.kind,
                name=row.name,
                pinned=row.pinned,
                state=max(row.state, Support.ENDING, key=_SEVERITY.__getitem__),
                note=f"{row.note}; behind {newest} (GitHub's latest release)",
                where=row.where,
            )
        refreshed.append(row)
    order = ["kubernetes", "chart", "action", "image", "node", "python"]
    return sorted(refreshed, key=lambda r: order.index(r.kind))


def _get_json(session: http.Client, url: str, headers: Mapping[str, str], timeout_seconds: float) -> dict[str, Any]:
    response = _get(session, url, timeout_seconds, headers)
    try:
        document = response.json()
    except http.HttpError:
        raise OutdatedError(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise OutdatedError(f"{url}: not a JSON object")
    return document


def _using(session: http.Client, base: str, timeout_seconds: float) -> str:
    """``runs.using`` of the action.yml (or action.yaml) at ``base``."""
    for name in ("action.yml", "action.yaml"):
        try:
            response = _get(session, f"{base}/{name}", timeout_seconds)
        except OutdatedError:
            if name == "action.yaml":
                raise
            continue
        try:
            document = load_untrusted(response.body)  # no aliases: a remote file is not trusted
        except UnsafeYamlError as exc:
            raise OutdatedError(f"{base}/{name}: refused: {exc}") from None
        except yaml.YAMLError:
            raise OutdatedError(f"{base}/{name}: not YAML") from None
        runs = document.get("runs") if isinstance(document, dict) else None
        return str(runs.get("using", "")) if isinstance(runs, dict) else ""
    return ""


def _get(
    session: http.Client, url: str, timeout_seconds: float, headers: Mapping[str, str] | None = None
) -> http.Response:
    shown = http.shown_url(url)
    try:
        response = session.get(url, headers=dict(headers or {}))
    except http.HttpError as exc:
        if exc.kind is http.Failure.CONNECT:
            raise OutdatedError(f"{shown}: cannot be fetched ({exc.cause})") from None
        raise OutdatedError(f"{shown}: {exc}") from None
    if response.status != 200:
        raise OutdatedError(f"{shown}: HTTP {response.status} {response.reason}".rstrip())
    return response


def _version_key(version: str) -> tuple[int, int, int]:
    """``(7, 0, 1)`` for ``v7.0.1`` or ``7.0``; ``(-1, -1, -1)`` for anything else."""
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$", version)
    if match is None:
        return (-1, -1, -1)
    return (int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0))


def render(rows: Iterable[Row]) -> str:
    """An aligned table, worst states marked; the note (with its source) last."""
    table = [("KIND", "NAME", "PINNED", "STATE", "UNTIL", "WHERE", "NOTE")]
    table += [(r.kind, r.name, r.pinned, r.label, r.until or "-", r.where, r.note) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(6)]
    return "".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:6])) + f"  {line[6]}\n" for line in table
    )


def _as_json(row: Row) -> dict[str, str]:
    return {
        "kind": row.kind,
        "name": row.name,
        "pinned": row.pinned,
        "state": row.state.value,
        "until": row.until,
        "where": row.where,
        "note": row.note,
    }
