"""Redis key isolation (story 0.5 AC10), enforced by Redis ACLs on a real Redis 7."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from qualisys_infra.tenancy import redis_acl
from qualisys_infra.tenancy.names import TenancyError, redis_key
from tests.tenancy.conftest import REDIS


@pytest.fixture
def tenants(redis_admin: redis.Redis, unique: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    a, b = f"alpha{unique}", f"beta{unique}"
    passwords = {t: redis_acl.create_user(redis_admin, t) for t in (a, b)}
    yield a, b, passwords
    for t in (a, b):
        redis_acl.drop_user(redis_admin, t)
        redis_admin.delete(redis_key(t, "session", "u1"))


def _login(tenant: str, password: str) -> redis.Redis:
    host = REDIS.split("://", 1)[1].split("/", 1)[0]
    return redis.Redis.from_url(f"redis://tenant_{tenant}:{password}@{host}/0", decode_responses=True)


def test_keys_are_built_by_one_validated_helper() -> None:
    assert redis_key("acme", "session", "user_12345") == "tenant_acme:session:user_12345"
    for scope, key in (
        ("Session", "k"),
        ("a:b", "k"),
        ("llm_cache", "x:y"),
        ("llm_cache", "*"),
        ("s", "a b"),
        ("s", ""),
    ):
        with pytest.raises(TenancyError):
            redis_key("acme", scope, key)
    with pytest.raises(TenancyError, match="tenant slug"):
        redis_key("acme:*", "session", "k")


def test_a_tenant_user_reaches_its_own_keys_only(tenants: tuple[str, str, dict[str, str]]) -> None:
    a, b, passwords = tenants
    client_a, client_b = _login(a, passwords[a]), _login(b, passwords[b])
    client_a.set(redis_key(a, "session", "u1"), "mine")
    client_b.set(redis_key(b, "session", "u1"), "theirs")
    assert client_a.get(redis_key(a, "session", "u1")) == "mine"
    with pytest.raises(redis.exceptions.NoPermissionError):
        client_a.get(redis_key(b, "session", "u1"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        client_a.set(redis_key(b, "session", "u1"), "overwritten")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client_a.scan(0)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client_a.execute_command("CONFIG", "GET", "*")  # type: ignore[no-untyped-call]
    assert client_b.get(redis_key(b, "session", "u1")) == "theirs"


def test_verify_asks_redis_and_fails_when_a_user_sees_everything(
    redis_admin: redis.Redis, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, b, _ = tenants
    checks = redis_acl.verify(redis_admin, [a, b])
    assert [c.name for c in checks if not c.ok] == []
    redis_admin.execute_command("ACL", "SETUSER", f"tenant_{a}", "allkeys")  # type: ignore[no-untyped-call]
    failed = {c.name for c in redis_acl.verify(redis_admin, [a, b]) if not c.ok}
    assert failed == {"redis: A cannot read B's keys", "redis: A cannot write B's keys"}


@pytest.mark.parametrize(("scope", "key"), [("session\n", "k"), ("session", "k\n"), ("session", "k\r\n")])
def test_fails_if_a_redis_scope_or_key_ends_in_a_newline(scope: str, key: str) -> None:
    with pytest.raises(TenancyError, match=r"redis (scope|key): got"):
        redis_key("acme", scope, key)


def test_fails_if_only_the_first_two_tenants_are_probed(redis_admin: redis.Redis, unique: str) -> None:
    names = [f"alpha{unique}", f"beta{unique}", f"gamma{unique}"]
    try:
        for t in names:
            redis_acl.create_user(redis_admin, t)
        assert [c.name for c in redis_acl.verify(redis_admin, names) if not c.ok] == []
        redis_admin.execute_command("ACL", "SETUSER", f"tenant_{names[2]}", f"~tenant_{names[0]}:*")  # type: ignore[no-untyped-call]
        failed = {c.name: c.detail for c in redis_acl.verify(redis_admin, names) if not c.ok}
        assert set(failed) == {"redis: A cannot read B's keys", "redis: A cannot write B's keys"}
        assert failed["redis: A cannot read B's keys"].startswith(f"tenant_{names[2]} -> GET tenant_{names[0]}:probe:k")
    finally:
        for t in names:
            redis_acl.drop_user(redis_admin, t)
