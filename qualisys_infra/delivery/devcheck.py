"""The local platform's onboarding check (``make dev-check``) and its seeding (``make dev``'s seed).

:func:`check_local` answers "does my local platform work?": the app's ``/health`` and ``/ready``
answer 200, PostgreSQL has the migrations and the seeded tenants with their rows, ``tenants
verify``'s isolation checks pass, and, with a Redis URL, Redis has its ``default`` user off (as on
ElastiCache), each tenant's ACL user, and those users confined to their own keys.

Every result is a :class:`Check` (the one ``tenants verify`` returns). A platform that is down
or broken gives failed checks; inputs that cannot work whatever the platform does (a malformed
URL, an unknown host, a refused password, a database that does not exist) raise
:class:`Misconfigured` (exit 2). Every URL in a message has its password masked.

:func:`seed_local` is what the compose ``seed`` service runs: the migrations (``tenants init``),
the tenants with their Redis ACL users (``tenants create``), their data (``tenants seed``); all
idempotent, so every ``make dev`` runs it again.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg import sql

from qualisys_infra.tenancy import factories, provision, redis_acl, urls, verify
from qualisys_infra.tenancy.names import TenancyError, redis_user, validate_slug
from qualisys_infra.tenancy.sql import APP_ROLE, MIGRATIONS, TENANT_TABLES

Check = verify.Check
Connection = psycopg.Connection[tuple[object, ...]]
DEFAULT_TENANTS = ("acme", "globex")
APP_PASSWORD_VARIABLE = "QUALISYS_APP_USER_PASSWORD"  # noqa: S105 - the name of a variable
# What a driver says when the input, not the platform, is wrong: retrying cannot help.
_MISCONFIGURED = (
    "password authentication failed",
    "no password supplied",
    "authentication failed",
    "could not translate host name",
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "wrongpass",
    "invalid username-password",
)
_BODY = 200  # characters of a response body quoted in a failed check


class Misconfigured(TenancyError):
    """An input that cannot work, whatever the platform's state (exit 2)."""


def _misconfigured(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _MISCONFIGURED) or (
        "database" in lowered and "does not exist" in lowered
    )


def _check_app_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        # /health and /ready are appended to the URL: a query or fragment would swallow them
        raise urls.UrlError(f"--app-url: got {urls.mask(url)!r}, expected http://HOST:PORT")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise urls.UrlError(f"--app-url: {urls.mask(url)}: port must be a number from 1 to 65535") from None


def _get(url: str, timeout: float) -> tuple[int | None, str]:
    """Status and the start of the body of GET ``url``, or None and why nothing answered."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    request = urllib.request.Request(url, headers={"User-Agent": "qualisys-infra dev check"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read(_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(_BODY).decode("utf-8", "replace")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            raise Misconfigured(f"--app-url: {urls.mask(url)}: unknown host: {reason.strerror}") from None
        return None, f"cannot connect: {getattr(reason, 'strerror', None) or reason}"
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return None, f"no answer: {type(exc).__name__}: {exc}" if str(exc) else f"no answer: {type(exc).__name__}"


def _http_checks(app_url: str, timeout: float) -> list[Check]:
    checks = []
    base = app_url.rstrip("/")
    for path, meaning in (("/health", "alive"), ("/ready", "ready: its database and Redis answer")):
        url = base + path
        status, body = _get(url, timeout)
        shown = urls.mask(url)
        if status is None:
            checks.append(Check(f"app answers {path} with 200", False, f"{shown}: {urls.scrub(body, app_url)}"))
        else:
            excerpt = urls.scrub(body, app_url)[:_BODY]
            checks.append(
                Check(
                    f"app answers {path} with 200",
                    status == 200,
                    f"{shown}: {status}" + (f" ({meaning})" if status == 200 else f": {excerpt}"),
                )
            )
    return checks


def _connect_failure(name: str, exc: TenancyError, hint: str) -> Check:
    """A failed check for a server that did not answer; :class:`Misconfigured` when the input is wrong."""
    if _misconfigured(str(exc)):
        raise Misconfigured(f"{exc}; {hint}") from None
    return Check(name, False, str(exc))


def _tenant_checks(conn: Connection, tenants: Sequence[str]) -> list[Check]:
    checks: list[Check] = []
    latest = max(version for version, _, _ in MIGRATIONS)
    row = conn.execute("SELECT to_regclass('platform.schema_migrations')").fetchone()
    applied = (
        conn.execute("SELECT coalesce(max(version), 0) FROM platform.schema_migrations").fetchone()
        if row is not None and row[0] is not None
        else None
    )
    version = int(str(applied[0])) if applied is not None else 0
    checks.append(
        Check(
            "migrations applied (tenants init)",
            version >= latest,
            f"version {version} of {latest}" if version else "none: run `qualisys-infra dev seed` (make dev does)",
        )
    )
    if not version:
        return checks + [
            Check(f"tenant {slug} exists with seeded rows", False, "no tenant registry") for slug in tenants
        ]
    registered = {t.slug: t for t in provision.list_tenants(conn)}
    for slug in tenants:
        name = f"tenant {slug} exists with seeded rows"
        tenant = registered.get(slug)
        if tenant is None:
            checks.append(Check(name, False, f"no tenant {slug}; tenants: {', '.join(registered) or 'none'}"))
            continue
        counts = {}
        with conn.transaction(force_rollback=True):  # read as the tenant: RLS applies to RDS's master user too
            conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant.id,))
            for table in TENANT_TABLES:
                found = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(tenant.schema, table))
                ).fetchone()
                counts[table] = int(str(found[0])) if found else 0
        empty = [table for table, count in counts.items() if not count]
        detail = ", ".join(f"{count} {table}" for table, count in counts.items())
        checks.append(Check(name, not empty, detail + (f"; empty: {', '.join(empty)}" if empty else "")))
    return checks


def _database_checks(database_url: str, app_database_url: str, tenants: Sequence[str]) -> list[Check]:
    with contextlib.ExitStack() as stack:
        try:
            conn = stack.enter_context(provision.connect(database_url))
        except TenancyError as exc:
            failed = _connect_failure("PostgreSQL answers", exc, "check the database URL (POSTGRES_PASSWORD in .env)")
            return [
                failed,
                *(Check(f"tenant {slug} exists with seeded rows", False, "no database") for slug in tenants),
            ]
        checks = [Check("PostgreSQL answers", True, urls.mask(database_url))]
        checks += _tenant_checks(conn, tenants)
        if not checks[1].ok:  # no migrations: nothing to verify
            return checks
        try:
            app = stack.enter_context(provision.connect(app_database_url, option="--app-database-url"))
        except TenancyError as exc:
            hint = f"check the app_user URL ({APP_PASSWORD_VARIABLE} in .env)"
            return [*checks, _connect_failure(f"{APP_ROLE} logs in", exc, hint)]
        checks.append(Check(f"{APP_ROLE} logs in", True, urls.mask(app_database_url)))
        checks += [Check(f"verify: {c.name}", c.ok, c.detail) for c in verify.verify(conn, app)]
        return checks
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def _redis_checks(redis_url: str, tenants: Sequence[str], timeout: float) -> list[Check]:
    try:
        client = redis.Redis.from_url(
            redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        client.ping()
    except redis.AuthenticationError as exc:
        raise Misconfigured(
            f"redis: authentication failed for {urls.mask(redis_url)}: {urls.scrub(str(exc), redis_url)};"
            " check the Redis URL (REDIS_ADMIN_PASSWORD in .env)"
        ) from None
    except (redis.RedisError, ValueError) as exc:
        reason = urls.scrub(str(exc), redis_url)
        if _misconfigured(reason):
            raise Misconfigured(f"redis: {urls.mask(redis_url)}: {reason}") from None
        failed = Check("Redis answers", False, f"cannot connect to {urls.mask(redis_url)}: {reason}")
        return [failed, *(Check(f"redis: ACL user {redis_user(s)} exists", False, "no Redis") for s in tenants)]
    try:
        checks = [Check("Redis answers", True, urls.mask(redis_url))]
        try:
            default = client.execute_command("ACL", "GETUSER", "default")  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            reason = urls.scrub(str(exc), redis_url)
            return [*checks, Check("redis: this URL's user may run ACL commands", False, reason)]
        flags = list((default or {}).get("flags", [])) if isinstance(default, dict) else []
        checks.append(
            Check(
                "redis: the default user is off (as on ElastiCache)",
                "off" in flags,
                f"flags: {' '.join(flags) or 'none'}",
            )
        )
        for slug in tenants:
            exists = redis_acl.user_exists(client, slug)
            checks.append(
                Check(
                    f"redis: ACL user {redis_user(slug)} exists",
                    exists,
                    f"on keys {redis_user(slug)}:*" if exists else "missing: run `qualisys-infra dev seed` (make dev)",
                )
            )
        checks += redis_acl.verify(client, list(tenants))
        return checks
    except TenancyError as exc:
        return [*checks, Check("redis: ACL checks ran", False, str(exc))]
    finally:
        client.close()


def check_local(
    *,
    app_url: str,
    database_url: str,
    redis_url: str | None,
    tenants: Sequence[str] = DEFAULT_TENANTS,
    app_database_url: str | None = None,
    app_password: str | None = None,
    timeout: float = 5.0,
) -> list[Check]:
    """Every check of the local platform, in order: app, PostgreSQL and tenants, isolation, Redis.

    ``app_database_url`` (app_user's login) defaults to ``database_url`` with the user app_user
    and the password ``app_password`` (the caller's ``$QUALISYS_APP_USER_PASSWORD``). Raises :class:`Misconfigured` (or
    :class:`urls.UrlError`) for inputs that cannot work; everything else is a failed check.
    """
    slugs = [validate_slug(slug) for slug in dict.fromkeys(tenants)]
    _check_app_url(app_url)
    urls.postgres_params(database_url)
    if app_database_url is None:
        app_database_url = urls.with_credentials(database_url, APP_ROLE, app_password)
    urls.postgres_params(app_database_url, option="--app-database-url")
    if redis_url is not None:
        urls.check_redis_url(redis_url)
    checks = _http_checks(app_url, timeout)
    checks += _database_checks(database_url, app_database_url, slugs)
    if redis_url is not None:
        checks += _redis_checks(redis_url, slugs, timeout)
    return checks


def seed_local(
    database_url: str,
    redis_url: str | None,
    *,
    tenants: Sequence[str] = DEFAULT_TENANTS,
    app_password: str | None = None,
    seed: int = 15,
    projects: int = 3,
    runs: int = 5,
) -> list[str]:
    """Migrations, the tenants (with their Redis ACL users when ``redis_url`` is given) and their
    seeded data; idempotent. Refused in a database recorded as production. Returns what it did,
    one line each. Tenants' Redis passwords are not printed or kept: locally the app logs in as
    Redis's app_user, and running this again resets nothing that exists.
    """
    slugs = [validate_slug(slug) for slug in dict.fromkeys(tenants)]
    client = redis_acl.connect(redis_url) if redis_url else None  # Redis answers before anything is written
    done: list[str] = []
    with provision.connect(database_url) as conn:
        settings = conn.execute("SELECT to_regclass('platform.settings')").fetchone()
        if settings is not None and settings[0] is not None and provision.environment(conn) == "production":
            raise TenancyError("dev seed: refusing to seed a database recorded as production")
        applied = provision.init(conn, environment=None, app_password=app_password)
        done.append(f"migrations: {'applied ' + ', '.join(map(str, applied)) if applied else 'none pending'}")
        made: list[provision.Tenant] = []
        for slug in slugs:
            tenant = provision.find_tenant(conn, slug)
            if tenant is None:
                tenant = _create(conn, slug, client)
                done.append(f"tenant {slug}: created" + (" with its Redis ACL user" if client else ""))
            elif client is not None and not redis_acl.user_exists(client, slug):
                redis_acl.create_user(client, slug)
                done.append(f"tenant {slug}: existed; created its missing Redis ACL user")
            else:
                done.append(f"tenant {slug}: exists")
            made.append(tenant)
        seeded = factories.seed_tenants(conn, made, seed=seed, projects=projects, runs=runs)
        for slug, result in seeded.items():
            done.append(f"tenant {slug}: {result.rows} seeded rows ({result.inserted} new)")
    return done


def _create(conn: Connection, slug: str, client: redis.Redis | None) -> provision.Tenant:
    """The tenant and its Redis ACL user, both or neither (as ``tenants create``)."""
    created: list[bool] = []

    def add_redis_user(tenant: provision.Tenant) -> None:
        if client is not None:
            redis_acl.create_user(client, tenant.slug)
            created.append(True)

    try:
        return provision.create_tenant(conn, slug, before_commit=add_redis_user)
    except BaseException:
        if client is not None and created:  # the commit itself failed: take the Redis user back
            redis_acl.drop_user(client, slug)
        raise
