"""What the cloud's application user may do in Redis, asked of a real Redis 7.

ElastiCache takes the access string of ``modules/cache.py`` through its API; Redis gives it the same
meaning. Here a scratch user gets exactly that string on the local Redis and the commands run as it:
what it may do is what the README says isolates tenants in the cloud.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from qualisys_infra.core.data_access import REDIS_DATA_RULES, TENANT_PREFIX, cloud_redis_access_string
from qualisys_infra.tenancy import redis_acl
from qualisys_infra.tenancy.names import redis_key
from tests.tenancy.conftest import REDIS


@pytest.fixture
def cloud_user(redis_admin: redis.Redis, unique: str) -> Iterator[redis.Redis]:
    """A client signed in as a user holding the cloud application user's access string."""
    name, password = f"qualisys-cloud-app-{unique}", secrets.token_urlsafe(24)
    tokens = cloud_redis_access_string().split(" ")
    assert tokens[0] == "on"
    redis_admin.execute_command("ACL", "SETUSER", name, "reset", *tokens, f">{password}")  # type: ignore[no-untyped-call]
    host = REDIS.split("://", 1)[1].split("/", 1)[0]
    client = redis.Redis.from_url(f"redis://{name}:{password}@{host}/0", decode_responses=True)
    yield client
    client.close()
    redis_admin.execute_command("ACL", "DELUSER", name)  # type: ignore[no-untyped-call]
    redis_admin.delete(*(redis_key(t, "cache", "k") for t in (f"alpha{unique}", f"beta{unique}")))


def test_the_access_string_is_on_tenant_keys_and_channels_with_the_data_rules_only() -> None:
    assert cloud_redis_access_string().split(" ") == [
        "on",
        f"~{TENANT_PREFIX}*:*",
        f"&{TENANT_PREFIX}*:*",
        *REDIS_DATA_RULES,
    ]
    # The toolkit's per-tenant users get the same command rules, after clearing what the user had.
    assert ("resetkeys", "resetchannels", *REDIS_DATA_RULES) == redis_acl.ACL_RULES


def test_the_cloud_user_reads_and_writes_every_tenants_keys(cloud_user: redis.Redis, unique: str) -> None:
    for tenant in (f"alpha{unique}", f"beta{unique}"):
        key = redis_key(tenant, "cache", "k")
        assert cloud_user.set(key, "v", ex=60) is True
        assert cloud_user.get(key) == "v"
    assert cloud_user.ping() is True
    assert cloud_user.publish(f"{TENANT_PREFIX}alpha{unique}:events", "m") == 0


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "session:abc"),  # outside tenant_*: refused by the key pattern
        ("SET", "rate:1.2.3.4", "1"),
        ("SET", "tenant_alpha", "1"),  # no ':' after the prefix: not a tenant key
        ("PUBLISH", "global", "m"),  # outside tenant_*: refused by the channel pattern
        ("SCAN", "0"),  # key listing would show every tenant's key names
        ("KEYS", "*"),
        ("RANDOMKEY",),
        ("SELECT", "1"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", "intruder", "on", "nopass", "+@all"),
        ("MONITOR",),
        ("CLIENT", "LIST"),
    ],
)
def test_the_cloud_user_is_refused_everything_else(cloud_user: redis.Redis, command: tuple[str, ...]) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        cloud_user.execute_command(*command)  # type: ignore[no-untyped-call]
