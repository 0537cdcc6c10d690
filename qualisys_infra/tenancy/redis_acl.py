"""Tenant isolation in Redis, enforced by Redis itself: one ACL user per tenant, on its own keys."""

from __future__ import annotations

import secrets
from typing import Any

import redis

from qualisys_infra.tenancy.names import TenancyError, redis_key, redis_user, schema_name
from qualisys_infra.tenancy.verify import Check

# Data commands only: no key listing (SCAN/KEYS would reveal other tenants' key names), no admin.
ACL_RULES = (
    "resetkeys",
    "resetchannels",
    "-@all",
    "+@read",
    "+@write",
    "+@fast",
    "+@transaction",
    "+@connection",
    "-@dangerous",
    "-@admin",
    "-@keyspace",
    "+del",
    "+exists",
    "+expire",
    "+pexpire",
    "+ttl",
    "+pttl",
    "+type",
    "+unlink",
    "-scan",
    "-keys",
    "-randomkey",
    "-select",
    "-swapdb",
)


def _command(client: redis.Redis, *args: str) -> Any:
    """``execute_command``, which redis-py leaves untyped."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def connect(url: str) -> redis.Redis:
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError, ValueError) as exc:
        raise TenancyError(f"redis: cannot connect to {url.split('@')[-1]}: {exc}") from None
    except redis.AuthenticationError as exc:
        raise TenancyError(f"redis: authentication failed for {url.split('@')[-1]}: {exc}") from None
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
        f"~{prefix}:*",
        f"&{prefix}:*",
    )
    return password


def drop_user(client: redis.Redis, tenant: str) -> None:
    _command(client, "ACL", "DELUSER", redis_user(tenant))


def _dry(client: redis.Redis, user: str, *command: str) -> str:
    """Redis's own answer to "may ``user`` run ``command``?" (ACL DRYRUN, Redis 7)."""
    try:
        answer = _command(client, "ACL", "DRYRUN", user, *command)
    except redis.ResponseError as exc:
        return f"error: {exc}"
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
    a, b = with_users[0], with_users[1]
    user = redis_user(a)
    own, other = redis_key(a, "probe", "k"), redis_key(b, "probe", "k")
    probes = [
        ("redis: A may read and write its own keys", ("SET", own, "v"), True),
        ("redis: A cannot read B's keys", ("GET", other), False),
        ("redis: A cannot write B's keys", ("SET", other, "v"), False),
        ("redis: A cannot list keys", ("SCAN", "0"), False),
        ("redis: A cannot change ACLs or config", ("CONFIG", "GET", "*"), False),
    ]
    checks = []
    for name, command, allowed in probes:
        answer = _dry(client, user, *command)
        ok = (answer == "OK") is allowed
        checks.append(Check(name, ok, answer if not ok or not allowed else "permitted"))
    return checks
