"""Real PostgreSQL and Redis on 127.0.0.1 (the project's machines run both; .ci/run starts them).

Each test gets a database of its own, dropped afterwards. Roles are cluster-wide and shared, as
they are on a real server. Connection settings: QUALISYS_TEST_POSTGRES_URL and
QUALISYS_TEST_REDIS_URL, defaulting to the local servers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from qualisys_infra.tenancy import provision
from tests.databases import fresh_database

POSTGRES = os.environ.get("QUALISYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("QUALISYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _url(database: str, user: str | None = None) -> str:
    base, _, _ = POSTGRES.rpartition("/")
    if user:
        scheme, _, rest = base.partition("://")
        base = f"{scheme}://{user}@{rest.split('@', 1)[-1]}"
    return f"{base}/{database}"


@pytest.fixture
def database() -> Iterator[str]:
    """The admin URL of a fresh, empty database, dropped afterwards (in the background: tests/databases.py)."""
    with fresh_database(POSTGRES) as url:
        yield url


@pytest.fixture
def initialised(database: str) -> str:
    with provision.connect(database) as conn:
        provision.init(conn, environment="test", app_password=None)
    return database


def app_url(admin_url: str) -> str:
    return _url(admin_url.rsplit("/", 1)[1], user="app_user")


@pytest.fixture
def redis_admin() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A suffix that keeps tenant names (and their Redis ACL users) apart between test runs."""
    return uuid.uuid4().hex[:8]
