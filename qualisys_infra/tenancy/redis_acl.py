"""Tenant isolation in Redis, enforced by Redis itself: one ACL user per tenant, on its own keys.

This is for a Redis whose users the toolkit may create with ``ACL SETUSER`` (the local Redis of
``make services``, test pools). ElastiCache refuses ``ACL SETUSER``: its users live in its API, and
the cloud's one application user (``modules/cache.py``) is confined to ``tenant_*:`` keys with the
same data commands; there, what keeps tenant A from tenant B's keys is the key builder
(:func:`qualisys_infra.tenancy.names.redis_key`). The README's "Tenant isolation" says so.
"""

from __future__ import annotations

import secrets
from typing import Any

import redis

from qualisys_infra.core.data_access import REDIS_DATA_RULES, redis_patterns
from qualisys_infra.tenancy import urls
from qualisys_infra.tenancy.names import TenancyError, redis_key, redis_user, schema_name
from qualisys_infra.tenancy.verify import Check

# Each tenant's user starts from nothing (reset*), then gets the data commands every client of the
# data gets (no key listing, no administration: qualisys_infra.core.data_access) on its own keys.
ACL_RULES = ("resetkeys", "resetchannels", *REDIS_DATA_RULES)


def _command(client: redis.Redis, *args: str) -> Any:
    """``execute_command`` (untyped in redis-py); a Redis failure becomes a one-line :class:`RedisError`.

    The message names the command (``ACL SETUSER``), never its arguments: they hold the password.
    """
    try:
        return client.execute_command(*args)  # type: ignore[no-untyped-call]
    except redis.RedisError as exc:
        secrets_in_args = [a[1:] for a in args if a.startswith(">") and len(a) > 1]
        reason = str(exc) or type(exc).__name__
        for secret in secrets_in_args:
            reason = reason.replace(secret, urls.MASK)
        raise RedisError(f"redis: {' '.join(args[:2])} failed: {urls.scrub(reason)}") from None


class RedisError(TenancyError):
    """Redis refused or failed a command once connected: exit code 1."""

    exit_code = 1


def connect(url: str, *, option: str = "--redis-url") -> redis.Redis:
    """A client that has answered PING; failures are one line, exit 2, with the URL masked."""
    urls.check_redis_url(url, option=option)
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)
        client.ping()
    except redis.AuthenticationError as exc:
        raise TenancyError(f"redis: authentication failed for {urls.mask(url)}: {urls.scrub(str(exc), url)}") from None
    except (redis.RedisError, ValueError) as exc:
        raise TenancyError(f"redis: cannot connect to {urls.mask(url)}: {urls.scrub(str(exc), url)}") from None
    return client


def create_user(client: redis.Redis, tenant: str, password: str | None = None) -> str:
    """Create or reset the tenant's ACL user on ``tenant_<slug>:*`` keys; returns its password."""
    password = password or secrets.token_urlsafe(24)
    prefix = schema_name(tenant)
    # Rules apply in order: the reset* rules come first, the tenant's own patterns last.
    _command(
        client,
        "ACL",
        "SETUSER",
        redis_user(tenant),
        "reset",
        *ACL_RULES,
        "on",
        f">{password}",
        *redis_patterns(prefix),
    )
    return password


def user_exists(client: redis.Redis, tenant: str) -> bool:
    return _command(client, "ACL", "GETUSER", redis_user(tenant)) is not None


def drop_user(client: redis.Redis, tenant: str) -> bool:
    """Remove the tenant's ACL user; False if it had none."""
    return bool(_command(client, "ACL", "DELUSER", redis_user(tenant)))


def _dry(client: redis.Redis, user: str, *command: str) -> str:
    """Redis's own answer to "may ``user`` run ``command``?" (ACL DRYRUN, Redis 7)."""
    try:
        answer = client.execute_command("ACL", "DRYRUN", user, *command)  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        return f"error: {exc}"
    except redis.RedisError as exc:
        raise RedisError(f"redis: ACL DRYRUN failed: {urls.scrub(str(exc))}") from None
    return "OK" if answer in ("OK", b"OK") else str(answer)


def verify(client: redis.Redis, tenants: list[str]) -> list[Check]:
    """Tenant A's ACL user may use A's keys and nothing of B's; asked of Redis, not assumed."""
    known = set(_command(client, "ACL", "USERS"))
    with_users = [t for t in tenants if redis_user(t) in known]
    if len(with_users) < 2:
        return [
            Check(
                "redis: two tenants with ACL users to probe",
                False,
                f"found {len(with_users)} of {len(tenants)} tenants with a Redis user; create them with --redis-url",
            )
        ]
    # Each tenant against the next (a ring): every user is asked about, every key prefix attacked.
    probes: dict[str, tuple[bool, list[str]]] = {}
    for i, a in enumerate(with_users):
        b = with_users[(i + 1) % len(with_users)]
        user = redis_user(a)
        own, other = redis_key(a, "probe", "k"), redis_key(b, "probe", "k")
        for name, command, allowed in (
            ("redis: A may read and write its own keys", ("SET", own, "v"), True),
            ("redis: A cannot read B's keys", ("GET", other), False),
            ("redis: A cannot write B's keys", ("SET", other, "v"), False),
            ("redis: A cannot list keys", ("SCAN", "0"), False),
            ("redis: A cannot change ACLs or config", ("CONFIG", "GET", "*"), False),
        ):
            answer = _dry(client, user, *command)
            wrong = probes.setdefault(name, (allowed, []))[1]
            if (answer == "OK") is not allowed:
                wrong.append(f"{user} -> {' '.join(command[:2])}: {answer}")
    verdict = {True: "permitted", False: "refused"}
    return [
        Check(name, not wrong, "; ".join(wrong) or f"{verdict[allowed]} for {len(with_users)} users")
        for name, (allowed, wrong) in probes.items()
    ]
