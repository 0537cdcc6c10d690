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
   other tenant (RLS); both tenants dropped whatever happens (:mod:`qualisys_infra.delivery.signoff_database`);
3. test infrastructure: the latest pull request's test-report comment, read with
   :class:`qualisys_infra.delivery.github.GitHub`: tests passed, coverage at least 80 %;
4. monitoring: Grafana's cluster dashboard exists and Prometheus, queried through Grafana
   (:mod:`qualisys_infra.delivery.grafana`), has recent CPU and memory series for the namespace's pods;
5. developer onboarding: the local environment check (:func:`qualisys_infra.delivery.devcheck.check_local`);
6. multi-tenant isolation: ``tenants verify`` (catalog checks and attacks as app_user, Redis ACLs;
   :mod:`qualisys_infra.delivery.signoff_database`).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from qualisys_infra.core import http
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.masking import mask_url
from qualisys_infra.delivery.github import Comment, GitHubError, PullRequest, parse_sticky, sticky_marker
from qualisys_infra.delivery.grafana import Grafana, GrafanaError, frame_series, metric_queries
from qualisys_infra.delivery.report import parse_report_data, sticky_name

HELLO_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "hello"}  # modules/apps/objects.py NAME_LABEL
HEALTH_PATH = "/health"
DEFAULT_DASHBOARD_UID = "qualisys-cluster"  # modules/platform/dashboards.py DASHBOARDS["cluster"]
DEFAULT_DATASOURCE_UID = "prometheus"  # kube-prometheus-stack's Grafana datasource
DEFAULT_REPORT_KEY = "tests"
DEFAULT_MIN_COVERAGE = 80.0
DEFAULT_REPORT_AUTHOR = "github-actions[bot]"  # who posts with Actions' GITHUB_TOKEN
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # of one health answer
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


# -- 3. test infrastructure -------------------------------------------------------------------


class PullRequestComments(Protocol):
    """What smoke test 3 reads from GitHub (:class:`~qualisys_infra.delivery.github.GitHub` does)."""

    repository: str

    def latest_pull_request(self) -> PullRequest | None: ...

    def issue_comments(self, number: int) -> list[Comment]: ...


def report_marker(key: str) -> str:
    return sticky_marker(sticky_name(key))


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
    marked = [c for c in comments if parse_sticky(c.body) == (sticky_name(key), 1)]
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


# -- 4. monitoring ----------------------------------------------------------------------------


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
    "Scrubber",
    "Smoke",
    "SmokeResult",
    "Step",
    "Verdict",
    "run_smoke",
    "smoke_infrastructure",
    "smoke_monitoring",
    "smoke_onboarding",
    "smoke_test_report",
]
