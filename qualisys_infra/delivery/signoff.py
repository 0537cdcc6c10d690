"""Epic 0 sign-off: the six smoke tests of the tech spec (section 10) as checks with verdicts.

Each smoke test is a function over the endpoints it is given (URLs, tokens, a pod lister, the
local-environment check) and returns its steps; :func:`run_smoke` turns the steps into one
verdict:

- **passed**: every step passed;
- **failed**: a step ran and found something wrong (the detail says what);
- **could not run**: nothing failed, but a step could not be made: an input is missing (no token,
  no URL) or an endpoint does not answer; the detail says what is missing and which option or
  environment variable supplies it.

A failure outweighs a step that could not run: what was seen to be wrong is reported even when
another part could not be checked. Every message goes through :class:`Scrubber`, so no password
or token reaches the output.

The six (numbers as in the spec):

1. infrastructure: hello's pods Running and Ready in the environment's namespace, and
   ``https://<ingress_domain>/health`` answering 200 over verified HTTPS;
2. database: two temporary tenants, a row written and read back as app_user, invisible to the
   other tenant (RLS); both tenants dropped whatever happens;
3. test infrastructure: the latest pull request's test-report comment: tests passed, coverage at
   least 80 %;
4. monitoring: Grafana's cluster dashboard exists and Prometheus, queried through Grafana, has
   recent CPU and memory series for the namespace's pods;
5. developer onboarding: the local environment check (``devcheck.check_local``);
6. multi-tenant isolation: ``tenants verify`` (catalog checks and attacks as app_user, Redis ACLs).
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from qualisys_infra.core import http
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.masking import mask_url
from qualisys_infra.delivery.github import Comment, GitHub, GitHubError, parse_sticky, shaped, sticky_marker

HELLO_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "hello"}  # modules/platform/smoke_test.py
HEALTH_PATH = "/health"
DEFAULT_DASHBOARD_UID = "qualisys-cluster"  # modules/platform/dashboards.py DASHBOARDS["cluster"]
DEFAULT_DATASOURCE_UID = "prometheus"  # kube-prometheus-stack's Grafana datasource
DEFAULT_REPORT_KEY = "tests"
DEFAULT_MIN_COVERAGE = 80.0
DEFAULT_REPORT_AUTHOR = "github-actions[bot]"  # who posts with Actions' GITHUB_TOKEN
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # of one Grafana or health answer
METRICS_MAX_AGE_SECONDS = 600.0  # "live" metrics: a sample from the last 10 minutes
MASK = "***"


class Verdict(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "could not run"


@dataclass(frozen=True, slots=True)
class Step:
    """One part of a smoke test: what was checked, its verdict, and what was seen."""

    name: str
    verdict: Verdict
    detail: str


def passed(name: str, detail: str) -> Step:
    return Step(name, Verdict.PASSED, detail)


def failed(name: str, detail: str) -> Step:
    return Step(name, Verdict.FAILED, detail)


def not_run(name: str, detail: str) -> Step:
    return Step(name, Verdict.NOT_RUN, detail)


class CannotRun(Exception):
    """The whole smoke test cannot run; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Smoke:
    number: int
    name: str
    title: str  # the spec's name


SMOKES: dict[int, Smoke] = {
    s.number: s
    for s in (
        Smoke(1, "infrastructure", "Infrastructure Smoke Test"),
        Smoke(2, "database", "Database Smoke Test"),
        Smoke(3, "test-infrastructure", "Test Infrastructure Smoke Test"),
        Smoke(4, "monitoring", "Monitoring Smoke Test"),
        Smoke(5, "developer-onboarding", "Developer Onboarding Test"),
        Smoke(6, "tenant-isolation", "Multi-Tenant Isolation Test"),
    )
}


@dataclass(frozen=True, slots=True)
class SmokeResult:
    smoke: Smoke
    verdict: Verdict
    detail: str  # one line: why it failed, what is missing, or what passed
    steps: tuple[Step, ...]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.smoke.number,
            "name": self.smoke.name,
            "title": self.smoke.title,
            "verdict": self.verdict.value,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "steps": [{"name": s.name, "verdict": s.verdict.value, "detail": s.detail} for s in self.steps],
        }


# -- secrets ----------------------------------------------------------------------------------


@dataclass
class Scrubber:
    """Masks the URLs' passwords (as ``tenancy.urls`` does) and every token in any text."""

    urls: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        from qualisys_infra.tenancy import urls  # psycopg loads only when a smoke test needs it

        text = urls.scrub(text, *[u for u in self.urls if u])
        for token in sorted({t for t in self.tokens if t and len(t) >= 4}, key=len, reverse=True):
            text = text.replace(token, MASK)
        return text


# -- running ----------------------------------------------------------------------------------


def verdict_of(steps: Sequence[Step]) -> Verdict:
    if any(s.verdict is Verdict.FAILED for s in steps):
        return Verdict.FAILED
    if not steps or any(s.verdict is Verdict.NOT_RUN for s in steps):
        return Verdict.NOT_RUN
    return Verdict.PASSED


def _detail(verdict: Verdict, steps: Sequence[Step]) -> str:
    if verdict is Verdict.PASSED:
        return "; ".join(s.detail for s in steps) if len(steps) <= 3 else f"all {len(steps)} checks passed"
    if not steps:
        return "nothing was checked"
    shown = [f"{s.name}: {s.detail}" for s in steps if s.verdict is verdict]
    if verdict is Verdict.FAILED:
        unchecked = [s.name for s in steps if s.verdict is Verdict.NOT_RUN]
        if unchecked:
            shown.append(f"not checked: {', '.join(unchecked)}")
    return "; ".join(shown)


def run_smoke(
    smoke: Smoke,
    check: Callable[[], Sequence[Step]],
    scrub: Callable[[str], str],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> SmokeResult:
    """Run one smoke test: its steps, or ``could not run`` (:class:`CannotRun`, a toolkit error
    raised before any step), or ``failed`` with an unexpected error; every text scrubbed."""
    started = clock()
    try:
        steps = list(check())
    except CannotRun as exc:
        steps = [not_run("inputs", str(exc))]
    except ToolkitError as exc:
        steps = [not_run("endpoint", " ".join(exc.lines()))]
    except Exception as exc:  # a smoke test that crashes has not passed; the rest still run
        steps = [failed("unexpected error", f"{type(exc).__name__}: {_one_line(str(exc))}")]
    steps = [Step(s.name, s.verdict, scrub(_one_line(s.detail))) for s in steps]
    verdict = verdict_of(steps)
    return SmokeResult(smoke, verdict, _detail(verdict, steps), tuple(steps), clock() - started)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- 1. infrastructure ------------------------------------------------------------------------


def pod_problems(pods: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str], int]:
    """``(healthy pod names, problems, pods left out)``: a pod is healthy when Running and Ready.

    Pods on their way out (terminating, or evicted) are left out, as a rolling update leaves them.
    """
    healthy, problems, left_out = [], [], 0
    for pod in pods:
        metadata = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
        status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
        if not isinstance(metadata, dict) or not isinstance(status, dict):
            continue
        name = str(metadata.get("name") or "?")
        phase = str(status.get("phase") or "Unknown")
        if metadata.get("deletionTimestamp") or (phase == "Failed" and status.get("reason") == "Evicted"):
            left_out += 1
            continue
        conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
        ready = any(
            isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions or []
        )
        why = []
        if phase != "Running":
            why.append(phase)
        if not ready:
            reasons = _waiting_reasons(status)
            why.append("not Ready" + (f" ({', '.join(reasons)})" if reasons else ""))
        if why:
            problems.append(f"{name}: {', '.join(why)}")
        else:
            healthy.append(name)
    return healthy, problems, left_out


def _waiting_reasons(status: Mapping[str, Any]) -> list[str]:
    found = []
    for container in status.get("containerStatuses") or []:
        if not isinstance(container, dict):
            continue
        state = container.get("state") if isinstance(container.get("state"), dict) else {}
        for kind in ("waiting", "terminated"):
            detail = state.get(kind) if isinstance(state, dict) else None
            if isinstance(detail, dict) and detail.get("reason"):
                found.append(str(detail["reason"]))
    return list(dict.fromkeys(found))


def check_pods(namespace: str, list_pods: Callable[[], list[Mapping[str, Any]]] | None, missing: str) -> Step:
    name = f"hello pods in namespace {namespace}"
    if list_pods is None:
        return not_run(name, missing)
    try:
        pods = list_pods()
    except ToolkitError as exc:
        return not_run(name, " ".join(exc.lines()))
    selector = ",".join(f"{k}={v}" for k, v in HELLO_LABELS.items())
    healthy, problems, left_out = pod_problems(pods)
    gone = f" ({left_out} terminating or evicted, not counted)" if left_out else ""
    if problems:
        counted = len(healthy) + len(problems)
        return failed(name, f"{len(problems)} of {counted} not Running and Ready: {'; '.join(problems)}{gone}")
    if not healthy:
        return failed(name, f"no pods labelled {selector} in namespace {namespace} (is hello deployed?){gone}")
    plural = "s" if len(healthy) != 1 else ""
    return passed(name, f"{len(healthy)} hello pod{plural} Running and Ready in {namespace}{gone}")


def check_health(url: str, *, ca_file: Path | None, timeout: float) -> Step:
    """GET ``url`` over HTTPS, the certificate verified (against ``ca_file`` when given); 200 passes.

    TLS that does not verify is a failure; a host that does not answer (within ``timeout`` for the
    whole request) could not be checked. A redirect is not followed: it fails, naming its target.
    """
    name = f"GET {mask_url(url)}"
    client = http.Client(
        timeout_seconds=timeout,
        max_bytes=MAX_ANSWER_BYTES,
        verify=str(ca_file) if ca_file else True,
        follow_redirects=False,
        headers={"User-Agent": "qualisys-infra signoff"},
    )
    try:
        with client:
            response = client.get(url)
    except http.HttpError as exc:
        if exc.kind is http.Failure.TLS:
            return failed(name, f"HTTPS does not verify: {exc.cause}")
        if exc.kind is http.Failure.CONNECT:
            return not_run(name, f"cannot reach it: {exc.cause} (--health-url sets another address)")
        if exc.kind is http.Failure.TIMEOUT:
            return not_run(name, str(exc))
        return failed(name, str(exc))
    if response.status == 200:
        # plain http reaches here only for a loopback host (check_http_url): say which it was
        return passed(name, "200 over verified HTTPS" if url.startswith("https:") else "200 (plain HTTP, loopback)")
    where = response.headers.get("location")
    return failed(
        name,
        f"answered {response.status} {response.reason}".rstrip()
        + (f" (redirect to {mask_url(where)})" if where else "")
        + ", expected 200",
    )


def smoke_infrastructure(
    *,
    namespace: str,
    list_pods: Callable[[], list[Mapping[str, Any]]] | None,
    kube_missing: str = "no Kubernetes API: pass --kube-api-url with $KUBE_TOKEN, --kubeconfig/--kube-context, "
    "or --in-cluster",
    health_url: str | None,
    ca_file: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[Step]:
    steps = [check_pods(namespace, list_pods, kube_missing)]
    if health_url is None:
        steps.append(not_run("health", "no health URL: pass --health-url or set ingress_domain in the tfvars"))
    else:
        steps.append(check_health(health_url, ca_file=ca_file, timeout=timeout))
    return steps


# -- 2. database ------------------------------------------------------------------------------


def smoke_database(
    *,
    database_url: str | None,
    app_database_url: str | None,
    suffix: str | None = None,
) -> list[Step]:
    """Two temporary tenants ``smoke_<hex>_a`` and ``_b``; a row written as app_user in A, read back
    as A, invisible as B and with no tenant set; both tenants dropped in every case."""
    import psycopg

    from qualisys_infra.tenancy import provision
    from qualisys_infra.tenancy.names import TenancyError

    if not database_url:
        raise CannotRun("no database: pass --database-url or set QUALISYS_DATABASE_URL (an admin login)")
    if not app_database_url:
        raise CannotRun("no app_user login: pass --app-database-url or set QUALISYS_APP_USER_PASSWORD")
    tag = suffix or secrets.token_hex(4)
    slugs = (f"smoke_{tag}_a", f"smoke_{tag}_b")
    steps: list[Step] = []
    with contextlib.ExitStack() as stack:
        try:
            admin = stack.enter_context(provision.connect(database_url))
        except TenancyError as exc:
            raise CannotRun(str(exc)) from None
        try:
            app = stack.enter_context(provision.connect(app_database_url, option="--app-database-url"))
        except TenancyError as exc:
            raise CannotRun(f"{exc} (--app-database-url or QUALISYS_APP_USER_PASSWORD)") from None
        created: list[provision.Tenant] = []
        try:
            try:
                for slug in slugs:
                    created.append(provision.create_tenant(admin, slug))
            except (TenancyError, psycopg.Error) as exc:
                why = _db_reason(exc)
                steps.append(failed("temporary tenants", f"cannot create {slugs[len(created)]}: {why}"))
                return steps
            steps.append(passed("temporary tenants", f"created {', '.join(slugs)}"))
            steps += _rls_round_trip(app, created[0], created[1])
        finally:
            steps.append(_drop_tenants(database_url, [t.slug for t in created]))
    return steps


def _rls_round_trip(app: Any, a: Any, b: Any) -> list[Step]:
    import psycopg
    from psycopg import sql

    from qualisys_infra.tenancy.names import TenancyError

    table = sql.Identifier(a.schema, "organizations")
    marker = f"signoff smoke {uuid.uuid4()}"

    def as_tenant(tenant_id: str) -> None:
        app.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant_id,))

    steps: list[Step] = []
    try:
        with app.transaction():
            as_tenant(a.id)
            row = app.execute(
                sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, %s) RETURNING id::text").format(table),
                (a.id, marker),
            ).fetchone()
        row_id = str(row[0])
        steps.append(passed("insert as app_user", f"one row in {a.schema}.organizations as tenant {a.slug}"))
        with app.transaction():
            as_tenant(a.id)
            seen = app.execute(sql.SQL("SELECT name FROM {} WHERE id = %s").format(table), (row_id,)).fetchall()
        if [r[0] for r in seen] == [marker]:
            steps.append(passed("read back as the same tenant", "the row is there"))
        else:
            steps.append(failed("read back as the same tenant", f"tenant {a.slug} sees {len(seen)} rows, expected 1"))
        for who, tenant_id in ((f"tenant {b.slug}", b.id), ("no tenant set", "")):
            with app.transaction():
                as_tenant(tenant_id)
                (count,) = app.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            name = f"{who} cannot see {a.slug}'s row (RLS)"
            if count:
                steps.append(
                    failed(name, f"{who} sees {count} row(s) of {a.schema}.organizations: RLS does not isolate")
                )
            else:
                steps.append(passed(name, f"{who} sees 0 rows of {a.schema}.organizations"))
    except (TenancyError, psycopg.Error) as exc:
        steps.append(failed("as app_user", _db_reason(exc)))
    return steps


def _db_reason(exc: Exception) -> str:
    """A toolkit error's message, or the database's own primary message (scrubbed by the runner)."""
    import psycopg

    if isinstance(exc, psycopg.Error):
        return exc.diag.message_primary or type(exc).__name__
    return str(exc)


def _drop_tenants(database_url: str, slugs: list[str]) -> Step:
    """Drop the temporary tenants over a fresh connection (the first may be broken by then)."""
    from qualisys_infra.tenancy import provision
    from qualisys_infra.tenancy.names import TenancyError

    if not slugs:
        return passed("clean-up", "nothing was created")
    left = list(slugs)
    try:
        with provision.connect(database_url) as conn:
            for slug in slugs:
                if provision.find_tenant(conn, slug) is not None:
                    provision.drop_tenant(conn, slug, force=True)  # created by this run, never anyone's data
                left.remove(slug)
    except TenancyError as exc:
        commands = "; ".join(f"qualisys-infra tenants drop {s} --yes --keep-redis-user" for s in left)
        return failed("clean-up", f"{exc}; drop them by hand: {commands}")
    return passed("clean-up", f"dropped {', '.join(slugs)}")


# -- 3. test infrastructure -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    title: str
    url: str


class PullRequestComments(Protocol):
    """What smoke test 3 reads from GitHub (see :class:`GitHubReader`)."""

    repository: str

    def latest_pull_request(self) -> PullRequest | None: ...

    def issue_comments(self, number: int) -> list[Comment]: ...


def report_marker(key: str) -> str:
    return sticky_marker(f"qualisys-report:{key}")


def smoke_test_report(
    *,
    github: PullRequestComments | None,
    github_missing: str = "",
    key: str = DEFAULT_REPORT_KEY,
    pr: int | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    author: str = DEFAULT_REPORT_AUTHOR,
) -> list[Step]:
    """The test-report comment of the latest pull request (or ``pr``), posted by ``author`` (CI):
    tests passed, coverage at least ``min_coverage``. A comment with the marker posted by anyone
    else does not count: a sign-off is not taken from a pasted report."""
    from qualisys_infra.delivery.report import parse_report_data

    if github is None:
        raise CannotRun(github_missing or "no GitHub repository or token")
    try:
        if pr is None:
            latest = github.latest_pull_request()
            if latest is None:
                raise CannotRun(
                    f"{github.repository} has no pull request yet: open one and let CI post its test report"
                )
            number, shown = latest.number, f"#{latest.number} ({latest.title})"
        else:
            number, shown = pr, f"#{pr}"
        comments = github.issue_comments(number)
    except GitHubError as exc:
        raise CannotRun(str(exc)) from None
    marker = report_marker(key)
    marked = [c for c in comments if parse_sticky(c.body) == (f"qualisys-report:{key}", 1)]
    ours = [c for c in marked if c.author == author]
    name = f"test report on pull request {shown}"
    if not marked:
        return [failed(name, f"no comment marked {marker} among its {len(comments)} comments (did CI post it?)")]
    if not ours:
        others = ", ".join(sorted({c.author or "a deleted user" for c in marked}))
        return [failed(name, f"the comment marked {marker} was posted by {others}, not {author} (--report-author)")]
    steps = [passed(name, f"comment {marker} posted by {author}")]
    data = parse_report_data(ours[-1].body)
    if data is None:
        steps.append(failed("report data", "the comment has no qualisys-report-data line"))
        return steps
    counts = f"{data.passed} passed, {data.failed} failed, {data.errors} errors, {data.skipped} skipped"
    if data.failed or data.errors:
        steps.append(failed("tests passed", counts))
    elif not data.passed:
        steps.append(failed("tests passed", f"no test ran ({counts})"))
    else:
        steps.append(passed("tests passed", counts))
    coverage = data.coverage
    if coverage is None:
        steps.append(failed("coverage", "the report has no coverage figure"))
    elif coverage < min_coverage:
        steps.append(failed("coverage", f"{coverage:g}% is below {min_coverage:g}%"))
    else:
        steps.append(passed("coverage", f"{coverage:g}% (at least {min_coverage:g}%)"))
    return steps


class GitHubReader(GitHub):
    """The project's GitHub client, with the one read it lacks: the most recently updated pull request."""

    def latest_pull_request(self) -> PullRequest | None:
        """The most recently updated pull request, ``None`` when there is none; an answer of the
        wrong shape is a :class:`~qualisys_infra.delivery.github.GitHubError`."""
        path = f"/repos/{self.repository}/pulls"
        url = f"{self.api_url}{path}?state=all&sort=updated&direction=desc&per_page=1"
        response = self._request("GET", url, accept=(200,))
        with shaped(f"GET {path}"):
            items = response.json_list()
            if not items:
                return None
            first = http.expect(items[0], dict, "pull request 1")
            number = http.field(first, "number", int, "pull request 1")
            title = http.optional_field(first, "title", str, "pull request 1", "")
            link = http.optional_field(first, "html_url", str, "pull request 1", "")
        return PullRequest(number, _one_line(title)[:80], link)


# -- 4. monitoring ----------------------------------------------------------------------------


class GrafanaError(ToolkitError):
    """Grafana refused or did not answer."""


class Grafana:
    """Grafana's HTTP API with a service-account token (Bearer), through the toolkit's one HTTP
    client: each request within ``timeout`` in all, at most 32 MiB, redirects not followed."""

    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, ca_file: Path | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = http.Client(
            timeout_seconds=timeout,
            max_bytes=MAX_ANSWER_BYTES,
            verify=str(ca_file) if ca_file else True,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "qualisys-infra signoff",
            },
        )

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, Any]:
        """``(status, JSON body)``; a refused token, a missing right, a network failure, a redirect
        and an answer that is not JSON raise :class:`GrafanaError`."""
        what = f"{method} {path}"
        try:
            response = self.http.request(method, self.url + path, params=params, json=json)
        except http.HttpError as exc:
            if exc.kind is http.Failure.CONNECT:
                raise GrafanaError(f"{what}: cannot reach {mask_url(self.url)} ({exc.cause})") from None
            raise GrafanaError(f"{what}: {exc}") from None
        if response.status == 401:
            raise GrafanaError(
                f"{what}: 401 Unauthorized: the token in $GRAFANA_TOKEN was refused"
                " (expired, revoked, or for another Grafana)"
            )
        if response.status == 403:
            raise GrafanaError(
                f"{what}: 403 Forbidden: the token's service account needs the Viewer role{_grafana_message(response)}"
            )
        if 300 <= response.status < 400:
            raise GrafanaError(
                f"{what}: redirected to {mask_url(response.headers.get('location', '?'))}"
                " (is --grafana-url Grafana's own address?)"
            )
        try:
            body = response.json()
        except http.HttpError:
            raise GrafanaError(
                f"{what}: HTTP {response.status}, an answer that is not JSON (is --grafana-url Grafana?)"
            ) from None
        return response.status, body


def _grafana_message(response: http.Response) -> str:
    try:
        body = response.json()
    except http.HttpError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {_one_line(message)[:200]}" if isinstance(message, str) and message.strip() else ""


def metric_queries(namespace: str) -> dict[str, str]:
    """The dashboard's CPU and memory expressions, narrowed to ``namespace``, by pod."""
    selector = f'namespace="{namespace}", container!=""'
    return {
        "cpu": f"sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{{{selector}}}[5m]))",
        "memory": f"sum by (namespace, pod) (container_memory_working_set_bytes{{{selector}}})",
    }


@dataclass(frozen=True, slots=True)
class Series:
    pods: frozenset[str]
    newest_ms: float | None  # newest sample with a value, epoch milliseconds


def frame_series(result: Mapping[str, Any], namespace: str) -> Series:
    """Pods with a value in the data frames of one ``/api/ds/query`` result, and the newest sample."""
    pods: set[str] = set()
    newest: float | None = None
    for frame in result.get("frames") or []:
        if not isinstance(frame, dict):
            continue
        schema = frame.get("schema") if isinstance(frame.get("schema"), dict) else {}
        fields = schema.get("fields") if isinstance(schema, dict) else None
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(fields, list) or not isinstance(values, list) or len(values) != len(fields):
            continue
        times = next((values[i] for i, f in enumerate(fields) if isinstance(f, dict) and f.get("type") == "time"), None)
        for i, f in enumerate(fields):
            if not isinstance(f, dict) or f.get("type") != "number" or not isinstance(values[i], list):
                continue
            labels = f.get("labels") if isinstance(f.get("labels"), dict) else {}
            if not isinstance(labels, dict) or labels.get("namespace") != namespace or not labels.get("pod"):
                continue
            present = [j for j, v in enumerate(values[i]) if isinstance(v, int | float)]
            if not present:
                continue
            pods.add(str(labels["pod"]))
            if isinstance(times, list):
                stamps = [times[j] for j in present if j < len(times) and isinstance(times[j], int | float)]
                if stamps:
                    newest = max(stamps) if newest is None else max(newest, *stamps)
    return Series(frozenset(pods), newest)


def smoke_monitoring(
    *,
    grafana: Grafana | None,
    grafana_missing: str = "",
    namespace: str,
    dashboard_uid: str = DEFAULT_DASHBOARD_UID,
    datasource_uid: str = DEFAULT_DATASOURCE_UID,
    now: Callable[[], float] = time.time,
    max_age_seconds: float = METRICS_MAX_AGE_SECONDS,
) -> list[Step]:
    """The cluster dashboard exists (search API); Prometheus, queried through Grafana, has CPU and
    memory series for pods of ``namespace``, the newest sample at most ``max_age_seconds`` old."""
    if grafana is None:
        raise CannotRun(grafana_missing or "no Grafana URL or token")
    steps: list[Step] = []
    try:
        status, found = grafana.request(
            "GET", "/api/search", params={"type": "dash-db", "dashboardUIDs": dashboard_uid}
        )
        name = f"dashboard {dashboard_uid}"
        hits = (
            [d for d in found if isinstance(d, dict) and d.get("uid") == dashboard_uid]
            if isinstance(found, list)
            else []
        )
        if status != 200:
            steps.append(failed(name, f"the search API answered {status}"))
        elif not isinstance(found, list):
            steps.append(failed(name, f"the search API answered {http.kind_of(found)}, expected a list"))
        elif not hits:
            steps.append(failed(name, f"no dashboard with uid {dashboard_uid} (--dashboard-uid)"))
        else:
            folder = hits[0].get("folderTitle")
            where = f" in folder {folder}" if folder else ""
            steps.append(passed(name, f"{hits[0].get('title', dashboard_uid)!s}{where}"))
        queries = metric_queries(namespace)
        body = {
            "from": "now-10m",
            "to": "now",
            "queries": [
                {
                    "refId": ref,
                    "datasource": {"type": "prometheus", "uid": datasource_uid},
                    "expr": expr,
                    "range": True,
                    "instant": False,
                    "intervalMs": 60000,
                    "maxDataPoints": 20,
                }
                for ref, expr in queries.items()
            ],
        }
        status, answer = grafana.request("POST", "/api/ds/query", json=body)
    except GrafanaError as exc:
        steps.append(not_run("Grafana API", str(exc)))
        return steps
    results = answer.get("results") if isinstance(answer, dict) else None
    for ref, label in (("cpu", "CPU"), ("memory", "memory")):
        name = f"{label} series of pods in {namespace}"
        result = results.get(ref) if isinstance(results, dict) else None
        if not isinstance(result, dict):
            message = answer.get("message") if isinstance(answer, dict) else None
            why = f": {_one_line(str(message))}" if message else ""
            steps.append(failed(name, f"datasource query answered {status} with no result for {ref}{why}"))
            continue
        if result.get("error"):
            error = _one_line(str(result["error"]))[:300]
            hint = f" (is {datasource_uid} a Prometheus datasource? --datasource-uid)" if status in (400, 404) else ""
            steps.append(failed(name, f"the query failed: {error}{hint}"))
            continue
        series = frame_series(result, namespace)
        if not series.pods:
            steps.append(failed(name, f"no series in the last 10 minutes (query: {queries[ref]})"))
            continue
        age = now() - series.newest_ms / 1000 if series.newest_ms is not None else None
        if age is None or age > max_age_seconds:
            shown = "no timestamp" if age is None else f"the newest sample is {age / 60:.0f} min old"
            steps.append(failed(name, f"not live: {shown}"))
            continue
        count = len(series.pods)
        steps.append(passed(name, f"{count} pod{'s' if count != 1 else ''}, newest sample {max(age, 0):.0f} s old"))
    return steps


# -- 5. developer onboarding ------------------------------------------------------------------


class LocalCheck(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def ok(self) -> bool: ...

    @property
    def detail(self) -> str: ...


def smoke_onboarding(check_local: Callable[[], Sequence[LocalCheck]]) -> list[Step]:
    """The local environment check: the app answers, the database and Redis are up, data seeded.

    The local environment is what this test checks, so a service that does not answer is a
    failure, not a missing input.
    """
    checks = check_local()
    if not checks:
        return [failed("local environment", "the check returned nothing")]
    return [passed(c.name, c.detail) if c.ok else failed(c.name, c.detail) for c in checks]


# -- 6. multi-tenant isolation ----------------------------------------------------------------


def smoke_isolation(
    *,
    database_url: str | None,
    app_database_url: str | None,
    redis_url: str | None = None,
    suffix: str | None = None,
) -> list[Step]:
    """``tenants verify``: every catalog check and attack as app_user (and Redis ACLs) passes.

    The attacks need two tenants: a database with fewer (a fresh staging) gets temporary ones,
    ``smoke_<hex>_a`` and ``_b`` as smoke test 2 makes them, dropped afterwards whatever happens; the
    Redis check looks at the database's own tenants only.
    """
    import psycopg

    from qualisys_infra.tenancy import provision, redis_acl, verify
    from qualisys_infra.tenancy.names import TenancyError

    if not database_url:
        raise CannotRun("no database: pass --database-url or set QUALISYS_DATABASE_URL (an admin login)")
    if not app_database_url:
        raise CannotRun("no app_user login: pass --app-database-url or set QUALISYS_APP_USER_PASSWORD")
    created: list[str] = []
    existing: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            try:
                admin = stack.enter_context(provision.connect(database_url))
                app = stack.enter_context(provision.connect(app_database_url, option="--app-database-url"))
            except TenancyError as exc:
                raise CannotRun(str(exc)) from None
            try:
                existing = [t.slug for t in provision.list_tenants(admin)]
                tag = suffix or secrets.token_hex(4)
                for slug in (f"smoke_{tag}_a", f"smoke_{tag}_b")[: max(0, 2 - len(existing))]:
                    provision.create_tenant(admin, slug)
                    created.append(slug)
                checks = verify.verify(admin, app)
                broken = None
            except (TenancyError, psycopg.Error) as exc:
                checks, broken = [], failed("tenants verify", _db_reason(exc))
    finally:
        cleanup = [_drop_tenants(database_url, created)] if created else []
    steps = [passed("temporary tenants", f"created {', '.join(created)}: the attacks need two")] if created else []
    steps += [passed(c.name, c.detail) if c.ok else failed(c.name, c.detail) for c in checks]
    if broken is not None:
        return [*steps, broken, *cleanup]
    steps += cleanup
    if redis_url:
        try:
            client = redis_acl.connect(redis_url)
        except TenancyError as exc:
            return [*steps, not_run("redis", str(exc))]
        try:
            steps += [
                passed(c.name, c.detail) if c.ok else failed(c.name, c.detail)
                for c in redis_acl.verify(client, existing)
            ]
        except TenancyError as exc:
            steps.append(failed("redis", str(exc)))
        finally:
            client.close()
    return steps


# -- helpers ----------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_url(url: str, option: str, *, https_only: bool = False) -> str:
    """``url`` when it is an absolute http(s) URL (plain http only to a loopback host, since a
    token would cross the network in clear); raises :class:`ToolkitError` (exit 2) otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolkitError(f"{option}: got {mask_url(url)!r}, expected https://HOST[:PORT][/PATH]")
    if parts.scheme == "http" and (https_only or not is_loopback(parts.hostname)):
        why = "the smoke test checks TLS" if https_only else "plain http is allowed only for a loopback host"
        raise ToolkitError(f"{option}: got {mask_url(url)!r}: {why}; use https")
    return url


__all__ = [
    "SMOKES",
    "CannotRun",
    "GitHubReader",
    "Grafana",
    "PullRequest",
    "Scrubber",
    "Smoke",
    "SmokeResult",
    "Step",
    "Verdict",
    "run_smoke",
    "smoke_database",
    "smoke_infrastructure",
    "smoke_isolation",
    "smoke_monitoring",
    "smoke_onboarding",
    "smoke_test_report",
]
