"""qualisys-infra signoff: the six Epic 0 smoke tests (tech spec, section 10) against one environment.

Each test gets a verdict: passed, failed (and why), or could not run (and what is missing: which
option or environment variable supplies it). Exit 0 only when every test run passed; 1 when any
failed or could not run; 2 for bad input (an unknown environment, a malformed URL, a missing file).

Where each test looks (the options of ``signoff --help``):

1. the Kubernetes API (``--kube-api-url`` with ``$KUBE_TOKEN``, or ``--kubeconfig``/``--kube-context``,
   or ``--in-cluster``; by default the kubeconfig, as kubectl) and ``https://<ingress_domain>/health``
   (``ingress_domain`` from ``environments/<env>.tfvars``, or ``--health-url``; ``--ca-file``);
2. and 6. the admin database URL (``--database-url`` or ``$QUALISYS_DATABASE_URL``) and app_user's
   login (``--app-database-url``, ``$QUALISYS_APP_DATABASE_URL``, else the admin URL with app_user and
   ``$QUALISYS_APP_USER_PASSWORD``), or with ``--aws-database`` the environment's RDS instance found
   through the AWS API (the master secret, an IAM token for app_user: :mod:`~.aws_database`);
   6 also asks Redis (``--redis-url`` or ``$QUALISYS_REDIS_URL``);
3. GitHub (``--github-repository`` or ``$GITHUB_REPOSITORY``, token ``$GITHUB_TOKEN``);
4. Grafana (``--grafana-url`` or ``$GRAFANA_URL``, token ``$GRAFANA_TOKEN``);
5. the local environment (``--local-app-url``, ``--local-database-url``, ``--local-redis-url``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.commands.context import Context
from qualisys_infra.core.argtypes import percent, seconds
from qualisys_infra.core.errors import UsageError, WrongFolder
from qualisys_infra.delivery.kube import KUBE_TOKEN_ENV, add_connection_options, connection_options
from qualisys_infra.delivery.signoff import (
    DEFAULT_DASHBOARD_UID,
    DEFAULT_DATASOURCE_UID,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_REPORT_AUTHOR,
    DEFAULT_REPORT_KEY,
    DEFAULT_TIMEOUT_SECONDS,
    HEALTH_PATH,
    HELLO_LABELS,
    SMOKES,
    Scrubber,
    SmokeResult,
    Step,
    Verdict,
    check_http_url,
    run_smoke,
)

GITHUB_TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105
GRAFANA_TOKEN_ENV = "GRAFANA_TOKEN"  # noqa: S105
_REPORT_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

DESCRIPTION = """\
Run the six Epic 0 smoke tests of the tech spec (section 10) against one environment and print a
verdict for each: passed, failed (why), or could not run (what is missing, and which option or
environment variable supplies it). Exit 0 only when every test run passed (--only runs some); 1
when any failed or could not run; 2 for bad input.

  1 infrastructure: hello's pods Running and Ready in the ENV namespace (Kubernetes API), and
    https://<ingress_domain>/health answers 200 over verified HTTPS
  2 database: two temporary tenants; a row written and read back as app_user, invisible to the
    other tenant (RLS); both dropped whatever happens
  3 test infrastructure: the latest pull request's test-report comment: tests passed, coverage
    at least 80%
  4 monitoring: Grafana's cluster dashboard exists; Prometheus through Grafana has recent CPU and
    memory series for the ENV namespace's pods
  5 developer onboarding: the local environment check (app, database, Redis, seeded tenants)
  6 multi-tenant isolation: tenants verify (catalog checks, attacks as app_user, Redis ACLs)

Tokens come from the environment only: $KUBE_TOKEN (with --kube-api-url), $GITHUB_TOKEN,
$GRAFANA_TOKEN. Passwords and tokens are masked in every message.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "signoff",
        help="the six Epic 0 smoke tests: passed, failed or could not run; exit 0 only when all pass",
        description=DESCRIPTION,
    )
    parser.set_defaults(func=run)
    parser.add_argument("--env", required=True, metavar="ENV", help="an environment of environments/*.tfvars")
    parser.add_argument(
        "--only", default=None, metavar="N,...", help="run only these smoke tests, e.g. 2,6 (default: all six)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON (default: a table)")
    parser.add_argument(
        "--timeout",
        type=seconds("--timeout"),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="per request to an endpoint",
    )
    one = parser.add_argument_group("1 infrastructure")
    one.add_argument(
        "--health-url",
        default=None,
        metavar="URL",
        help=f"the health endpoint (default: https://<ingress_domain of ENV>{HEALTH_PATH})",
    )
    one.add_argument(
        "--ca-file", type=Path, default=None, metavar="FILE", help="trust this CA for HTTPS (default: the system's)"
    )
    add_connection_options(one)
    db = parser.add_argument_group("2 database and 6 tenant isolation")
    db.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="admin database URL (default: $QUALISYS_DATABASE_URL)",
    )
    db.add_argument(
        "--app-database-url",
        default=None,
        metavar="URL",
        help="URL logging in as app_user (default: $QUALISYS_APP_DATABASE_URL, else the admin URL with the user"
        " app_user and the password $QUALISYS_APP_USER_PASSWORD)",
    )
    db.add_argument(
        "--aws-database",
        action="store_true",
        help="the ENV's RDS instance through the AWS API, with the caller's AWS credentials: the admin login"
        " from its master secret in Secrets Manager, app_user with an IAM token (it has no password in the"
        " cloud); instead of the two URLs. What the pipeline runs from inside the VPC",
    )
    db.add_argument(
        "--database-ca-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --aws-database: verify the database's certificate against this bundle (the RDS CA"
        " bundle; default: encrypted, the server not verified)",
    )
    db.add_argument(
        "--redis-url",
        default=None,
        metavar="URL",
        help="Redis URL allowed to run ACL commands; 6 then checks the tenants' Redis users (default:"
        " $QUALISYS_REDIS_URL)",
    )
    three = parser.add_argument_group("3 test infrastructure")
    three.add_argument(
        "--github-repository",
        default=None,
        metavar="OWNER/NAME",
        help=f"repository whose pull requests carry the test report (default: $GITHUB_REPOSITORY); token"
        f" ${GITHUB_TOKEN_ENV}",
    )
    three.add_argument(
        "--github-api-url", default=None, metavar="URL", help="GitHub's API (default: $GITHUB_API_URL, api.github.com)"
    )
    three.add_argument(
        "--pr", type=int, default=None, metavar="N", help="this pull request (default: the most recently updated)"
    )
    three.add_argument(
        "--report-key",
        default=DEFAULT_REPORT_KEY,
        metavar="KEY",
        help="the report comment's marker <!-- qualisys-report:KEY -->",
    )
    three.add_argument(
        "--report-author",
        default=DEFAULT_REPORT_AUTHOR,
        metavar="LOGIN",
        help="who posts the report (the workflow's token); a comment by anyone else does not count",
    )
    three.add_argument(
        "--min-coverage",
        type=percent("--min-coverage"),
        default=DEFAULT_MIN_COVERAGE,
        metavar="PCT",
        help="least coverage, in percent",
    )
    four = parser.add_argument_group("4 monitoring")
    four.add_argument(
        "--grafana-url",
        default=None,
        metavar="URL",
        help=f"Grafana (default: $GRAFANA_URL); token ${GRAFANA_TOKEN_ENV}, a service account with the Viewer role",
    )
    four.add_argument(
        "--dashboard-uid", default=DEFAULT_DASHBOARD_UID, metavar="UID", help="the Kubernetes cluster dashboard"
    )
    four.add_argument(
        "--datasource-uid", default=DEFAULT_DATASOURCE_UID, metavar="UID", help="Grafana's Prometheus datasource"
    )
    five = parser.add_argument_group("5 developer onboarding")
    five.add_argument(
        "--local-app-url",
        default=None,
        metavar="URL",
        help="the local app (default: as `dev check`: $QUALISYS_DEV_APP_URL, else http://localhost:$HELLO_PORT, 3000)",
    )
    five.add_argument(
        "--local-database-url",
        default=None,
        metavar="URL",
        help="the local database, admin login (default: as `dev check`: $QUALISYS_DEV_DATABASE_URL, else postgres"
        " with $POSTGRES_PASSWORD on 127.0.0.1, from the environment or .env)",
    )
    five.add_argument(
        "--local-app-database-url",
        default=None,
        metavar="URL",
        help="app_user's local login (default: as `dev check`: $QUALISYS_DEV_APP_DATABASE_URL, else the local"
        " database URL with app_user and $QUALISYS_APP_USER_PASSWORD)",
    )
    five.add_argument(
        "--local-redis-url",
        default=None,
        metavar="URL",
        help="the local Redis, a user allowed to run ACL commands (default: as `dev check`: $QUALISYS_DEV_REDIS_URL,"
        " else qualisys_admin with $REDIS_ADMIN_PASSWORD on 127.0.0.1)",
    )
    five.add_argument("--local-no-redis", action="store_true", help="skip the local Redis checks")


def parse_only(text: str | None) -> list[int]:
    """``"2,6"`` -> ``[2, 6]``; every number from 1 to 6, no repeats; ``None`` -> all six."""
    if text is None:
        return sorted(SMOKES)
    chosen: list[int] = []
    for part in text.split(","):
        item = part.strip()
        if not item.isdigit() or int(item) not in SMOKES:
            raise UsageError(f"--only: got {part.strip()!r} in {text!r}, expected numbers from 1 to 6, e.g. 2,6")
        if int(item) not in chosen:
            chosen.append(int(item))
    return sorted(chosen)


def _env(args: argparse.Namespace, project: Path) -> str:
    """``--env``: one of the project's environments; outside a project (a --health-url run), a name of
    an environment's shape."""
    from qualisys_infra.config import resolve_environment_name
    from qualisys_infra.core.naming import ENVIRONMENT_NAME

    env: str = args.env
    if (project / "environments").is_dir():
        return resolve_environment_name(env, project / "environments")
    if not ENVIRONMENT_NAME.fullmatch(env):
        raise UsageError(f"--env: got {env!r}, expected an environment's name (a DNS label from a letter)")
    return env


def _existing(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.is_file():
        raise UsageError(f"{option}: {path} does not exist")
    return path


class Plan:
    """What each smoke test is given, read from the options and the environment; bad input is
    refused here (exit 2), before anything runs. Missing inputs are kept as messages instead:
    they make a test 'could not run'."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], project: Path) -> None:
        from qualisys_infra.tenancy import urls
        from qualisys_infra.tenancy.urls import app_user_url

        self.env = _env(args, project)
        self.only = parse_only(args.only)
        self.timeout: float = args.timeout
        if not 0 < self.timeout <= 600:
            raise UsageError(f"--timeout: got {self.timeout:g}, expected more than 0 and at most 600 seconds")
        self.scrub = Scrubber()
        # 1
        self.ca_file = _existing(args.ca_file, "--ca-file")
        self.health_url: str | None = None
        if 1 in self.only:
            self.health_url = (
                check_http_url(args.health_url, "--health-url", https_only=True)
                if args.health_url
                else (f"https://{_ingress_domain(project, self.env)}{HEALTH_PATH}")
            )
        self.kube = connection_options(args, environ)
        self.scrub.tokens.append(environ.get(KUBE_TOKEN_ENV, ""))
        # 2 and 6
        self.aws_database: tuple[str, str] | None = None  # (instance, region)
        self.database_ca_file = _existing(args.database_ca_file, "--database-ca-file")
        if args.aws_database:
            given = [
                o
                for o, v in (("--database-url", args.database_url), ("--app-database-url", args.app_database_url))
                if v
            ]
            if given:
                raise UsageError(f"--aws-database and {' and '.join(given)}: choose one way to reach the database")
            if 2 in self.only or 6 in self.only:
                self.aws_database = _rds_instance(project, self.env)
        elif self.database_ca_file is not None:
            raise UsageError("--database-ca-file: used only with --aws-database")
        self.database_url: str | None = None if args.aws_database else urls.admin_url(args.database_url, environ)
        if self.database_url:
            urls.postgres_params(self.database_url)
        self.app_database_url: str | None = (
            None if args.aws_database else args.app_database_url or environ.get("QUALISYS_APP_DATABASE_URL") or None
        )
        if self.app_database_url:
            urls.postgres_params(self.app_database_url, option="--app-database-url")
        elif self.database_url:  # as tenants verify: app_user with $QUALISYS_APP_USER_PASSWORD, if set
            self.app_database_url = app_user_url(self.database_url, environ)
        self.redis_url: str | None = args.redis_url or environ.get("QUALISYS_REDIS_URL") or None
        if self.redis_url:
            urls.check_redis_url(self.redis_url)
        # 3
        self.github_token = environ.get(GITHUB_TOKEN_ENV, "").strip()
        self.github_repository: str = args.github_repository or environ.get("GITHUB_REPOSITORY", "")
        if self.github_repository:
            from qualisys_infra.delivery.github import check_repository

            check_repository(self.github_repository, "--github-repository")
        self.github_api_url = args.github_api_url or environ.get("GITHUB_API_URL") or "https://api.github.com"
        check_http_url(self.github_api_url, "--github-api-url")
        if args.pr is not None and args.pr < 1:
            raise UsageError(f"--pr: {args.pr} is not a pull request number")
        self.pr: int | None = args.pr
        if not _REPORT_KEY.match(args.report_key):
            raise UsageError(f"--report-key: got {args.report_key!r}, expected letters, digits, '.', '_' or '-'")
        self.report_key: str = args.report_key
        self.report_author: str = args.report_author
        self.min_coverage: float = args.min_coverage
        # 4
        self.grafana_url: str = args.grafana_url or environ.get("GRAFANA_URL", "")
        if self.grafana_url:
            check_http_url(self.grafana_url, "--grafana-url")
        self.grafana_token = environ.get(GRAFANA_TOKEN_ENV, "").strip()
        for option, uid in (("--dashboard-uid", args.dashboard_uid), ("--datasource-uid", args.datasource_uid)):
            if not _UID.match(uid):
                raise UsageError(f"{option}: got {uid!r}, expected a Grafana uid (letters, digits, '-', '_')")
        self.dashboard_uid: str = args.dashboard_uid
        self.datasource_uid: str = args.datasource_uid
        # 5
        self.local = _Local(args, environ)
        self.scrub.urls += [
            u
            for u in (
                self.database_url,
                self.app_database_url,
                self.redis_url,
                *self.local.urls,
            )
            if u
        ]
        self.scrub.tokens += [self.github_token, self.grafana_token]

    # -- the six, wired to their endpoints ----------------------------------------------------

    def checks(self) -> dict[int, Callable[[], Sequence[Step]]]:
        return {
            1: self.infrastructure,
            2: self.database,
            3: self.test_report,
            4: self.monitoring,
            5: self.onboarding,
            6: self.isolation,
        }

    def infrastructure(self) -> Sequence[Step]:
        from qualisys_infra.delivery.signoff import smoke_infrastructure

        return smoke_infrastructure(
            namespace=self.env,
            list_pods=self._list_pods,
            health_url=self.health_url,
            ca_file=self.ca_file,
            timeout=self.timeout,
        )

    def _list_pods(self) -> list[Mapping[str, Any]]:
        from qualisys_infra.delivery import kube

        with kube.connect(**self.kube, request_timeout_seconds=self.timeout) as api:
            return list(api.list_pods(kube.PodRef(self.env, HELLO_LABELS)))

    def _database_logins(self) -> None:
        """With --aws-database, the two URLs from the AWS API (once); their secrets join the scrubber."""
        if self.aws_database is None or self.database_url is not None:
            return
        from qualisys_infra.delivery.aws_database import rds_logins

        instance, region = self.aws_database
        logins = rds_logins(instance, region=region, ca_file=self.database_ca_file)
        self.database_url, self.app_database_url = logins.admin_url, logins.app_url
        self.scrub.urls += [logins.admin_url, logins.app_url]

    def database(self) -> Sequence[Step]:
        from qualisys_infra.delivery.signoff_database import smoke_database

        self._database_logins()
        return smoke_database(database_url=self.database_url, app_database_url=self.app_database_url)

    def test_report(self) -> Sequence[Step]:
        from qualisys_infra.delivery.github import GitHub
        from qualisys_infra.delivery.signoff import CannotRun, smoke_test_report

        if not self.github_repository:
            raise CannotRun("no repository: pass --github-repository OWNER/NAME or set GITHUB_REPOSITORY")
        if not self.github_token:
            raise CannotRun(f"no GitHub token: set {GITHUB_TOKEN_ENV} (read access to pull requests)")
        github = GitHub(
            token=self.github_token,
            repository=self.github_repository,
            api_url=self.github_api_url,
            timeout_seconds=self.timeout,
        )
        with github:
            return smoke_test_report(
                github=github,
                key=self.report_key,
                pr=self.pr,
                min_coverage=self.min_coverage,
                author=self.report_author,
            )

    def monitoring(self) -> Sequence[Step]:
        from qualisys_infra.delivery.grafana import Grafana
        from qualisys_infra.delivery.signoff import CannotRun, smoke_monitoring

        if not self.grafana_url:
            raise CannotRun(
                "no Grafana: pass --grafana-url or set GRAFANA_URL (e.g. http://localhost:3000 after"
                " `kubectl -n monitoring port-forward svc/kps-grafana 3000:80`)"
            )
        if not self.grafana_token:
            raise CannotRun(f"no Grafana token: set {GRAFANA_TOKEN_ENV} (a service-account token, Viewer role)")
        grafana = Grafana(self.grafana_url, self.grafana_token, timeout=self.timeout, ca_file=self.ca_file)
        try:
            return smoke_monitoring(
                grafana=grafana,
                namespace=self.env,
                dashboard_uid=self.dashboard_uid,
                datasource_uid=self.datasource_uid,
            )
        finally:
            grafana.close()

    def onboarding(self) -> Sequence[Step]:
        from qualisys_infra.delivery import devcheck
        from qualisys_infra.delivery.signoff import smoke_onboarding

        local = self.local.resolve()  # a missing password makes the test 'could not run'
        self.scrub.urls += [u for u in (local.database_url, local.app_database_url, local.redis_url) if u]
        return smoke_onboarding(
            lambda: devcheck.check_local(
                app_url=local.app_url,
                database_url=local.database_url,
                app_database_url=local.app_database_url,
                redis_url=local.redis_url,
                timeout=self.timeout,
            )
        )

    def isolation(self) -> Sequence[Step]:
        from qualisys_infra.delivery.signoff_database import smoke_isolation

        self._database_logins()
        return smoke_isolation(
            database_url=self.database_url, app_database_url=self.app_database_url, redis_url=self.redis_url
        )


@dataclass(frozen=True, slots=True)
class LocalUrls:
    app_url: str
    database_url: str
    app_database_url: str
    redis_url: str | None


class _Local:
    """The local environment's URLs: given ones now (checked, exit 2 when malformed), the rest
    when smoke test 5 runs, from the environment and .env as `dev check` builds them."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str]) -> None:
        from qualisys_infra.tenancy import urls

        self.environ = environ
        self.app_url: str | None = args.local_app_url
        if self.app_url:
            check_http_url(self.app_url, "--local-app-url")
        self.database_url: str | None = args.local_database_url
        self.app_database_url: str | None = args.local_app_database_url
        for url, option in (
            (self.database_url, "--local-database-url"),
            (self.app_database_url, "--local-app-database-url"),
        ):
            if url:
                urls.postgres_params(url, option=option)
        self.redis_url: str | None = args.local_redis_url
        if self.redis_url:
            urls.check_redis_url(self.redis_url, option="--local-redis-url")
        self.no_redis: bool = args.local_no_redis
        if self.no_redis and self.redis_url:
            raise UsageError("--local-no-redis and --local-redis-url: choose one")

    @property
    def urls(self) -> list[str]:
        return [u for u in (self.database_url, self.app_database_url, self.redis_url) if u]

    def resolve(self) -> LocalUrls:
        from qualisys_infra.delivery import local_env
        from qualisys_infra.delivery.signoff import CannotRun

        values = local_env.settings(None, self.environ)
        try:
            database = self.database_url or local_env.database_url(values)
            redis_url = None if self.no_redis else (self.redis_url or local_env.redis_url(values))
        except UsageError as exc:
            raise CannotRun(
                f"{str(exc).removeprefix('dev check: ')} (--local-database-url, --local-redis-url, --local-no-redis)"
            ) from None
        return LocalUrls(
            app_url=self.app_url or local_env.app_url(values),
            database_url=database,
            app_database_url=self.app_database_url or local_env.app_database_url(values, database),
            redis_url=redis_url,
        )


def _rds_instance(project: Path, env: str) -> tuple[str, str]:
    """The environment's RDS instance (the data stack names it ``<project>-<env>``) and its region."""
    from qualisys_infra.config import load_settings
    from qualisys_infra.core.naming import resource_prefix

    folder = project / "environments"
    if not folder.is_dir():
        raise WrongFolder(project)
    if not (folder / f"{env}.tfvars").is_file():
        raise UsageError(
            f"{folder / f'{env}.tfvars'}: not found, so no RDS instance for --aws-database; run from the project"
            " folder (--project-dir)"
        )
    settings = load_settings(folder, [env], root=project)
    (config,) = settings.environments
    return resource_prefix(settings.account.project, env), config.region


def _ingress_domain(project: Path, env: str) -> str:
    from qualisys_infra.config import load_environment

    path = project / "environments" / f"{env}.tfvars"
    if not path.parent.is_dir():
        raise WrongFolder(project)
    if not path.is_file():
        raise UsageError(
            f"{path}: not found, so no ingress_domain for the health URL; run from the project folder"
            " (--project-dir) or pass --health-url"
        )
    return load_environment(path, os.path.relpath(path)).ingress_domain


# -- output -----------------------------------------------------------------------------------

MARKS = {Verdict.PASSED: "ok", Verdict.FAILED: "FAIL", Verdict.NOT_RUN: "--"}


def render_table(env: str, results: Sequence[SmokeResult]) -> str:
    """One row per smoke test. A test with several steps that did not pass gets a count in its row
    and those steps beneath it, one a line."""
    width = max(len(r.smoke.name) for r in results)
    lines = [f"{'#':<2} {'SMOKE TEST':<{width}}  {'VERDICT':<13}  DETAIL"]
    for r in results:
        shown = [s for s in r.steps if s.verdict is not Verdict.PASSED]
        if len(shown) < 2:
            lines.append(f"{r.smoke.number:<2} {r.smoke.name:<{width}}  {r.verdict.value:<13}  {r.detail}")
            continue
        counts = ", ".join(
            f"{n} {v.value}" for v in (Verdict.FAILED, Verdict.NOT_RUN, Verdict.PASSED) if (n := _count(r.steps, v))
        )
        lines.append(
            f"{r.smoke.number:<2} {r.smoke.name:<{width}}  {r.verdict.value:<13}  {len(r.steps)} checks: {counts}"
        )
        lines += [f"{'':<{width + 4}}{MARKS[s.verdict]:<4} {s.name}: {s.detail}" for s in shown]
    lines.append(summary_line(env, results))
    return "\n".join(lines)


def _count(steps: Sequence[Step], verdict: Verdict) -> int:
    return sum(1 for s in steps if s.verdict is verdict)


def summary_line(env: str, results: Sequence[SmokeResult]) -> str:
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    ran = f"{len(results)} of {len(SMOKES)} run (--only)" if len(results) < len(SMOKES) else "all six run"
    if all(r.verdict is Verdict.PASSED for r in results):
        state = "signed off" if len(results) == len(SMOKES) else "the tests run passed; not a sign-off"
    else:
        state = "NOT signed off"
    return (
        f"signoff {env}: {counts[Verdict.PASSED]} passed, {counts[Verdict.FAILED]} failed,"
        f" {counts[Verdict.NOT_RUN]} could not run ({ran}): {state}"
    )


def render_json(env: str, results: Sequence[SmokeResult]) -> str:
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    return json.dumps(
        {
            "environment": env,
            "ok": all(r.verdict is Verdict.PASSED for r in results),
            "signed_off": len(results) == len(SMOKES) and all(r.verdict is Verdict.PASSED for r in results),
            "summary": {
                "passed": counts[Verdict.PASSED],
                "failed": counts[Verdict.FAILED],
                "could_not_run": counts[Verdict.NOT_RUN],
            },
            "smoke_tests": [r.as_json() for r in results],
        },
        indent=2,
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    plan = Plan(args, ctx.environ, ctx.project)
    checks = plan.checks()
    results = []
    for number in plan.only:
        if not args.json and not ctx.quiet:
            print(f"signoff: {number} {SMOKES[number].name} ...", file=sys.stderr, flush=True)
        results.append(run_smoke(SMOKES[number], checks[number], plan.scrub))
    print(render_json(plan.env, results) if args.json else render_table(plan.env, results))
    return 0 if all(r.verdict is Verdict.PASSED for r in results) else 1
