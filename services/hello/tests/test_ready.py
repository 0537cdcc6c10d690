"""Readiness against the real PostgreSQL and Redis, answering, refusing and silent."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest

from hello.config import Settings
from hello.readiness import Postgres, Redis, check, redact_url, scrub
from hello_testing import DATABASE_URL, REDIS_URL, LogCapture, MakeClient

PASSWORD = "s3cr3t-Pa55"  # noqa: S105 - a made-up password whose absence from the output is tested


def with_password(url: str) -> str:
    """``url`` with user ``postgres``/``default`` and :data:`PASSWORD` (trust auth and a Redis without
    AUTH ignore or refuse it; either way it must never show)."""
    scheme, rest = url.split("://", 1)
    host = rest.rsplit("@", 1)[-1]
    user = "postgres" if scheme.startswith("postgres") else "default"
    return f"{scheme}://{user}:{PASSWORD}@{host}"


def test_ready_without_dependencies(make_client: MakeClient) -> None:
    response = make_client(Settings()).get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {}}


def test_ready_when_postgres_answers(make_client: MakeClient) -> None:
    response = make_client(Settings(database_url=DATABASE_URL)).get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["postgres"]["status"] == "ok"
    assert set(body["checks"]) == {"postgres"}


def test_ready_when_redis_answers(make_client: MakeClient) -> None:
    response = make_client(Settings(redis_url=REDIS_URL)).get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["redis"]["status"] == "ok"


def test_ready_when_both_answer(make_client: MakeClient) -> None:
    response = make_client(Settings(database_url=DATABASE_URL, redis_url=REDIS_URL)).get("/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert {name: result["status"] for name, result in checks.items()} == {"postgres": "ok", "redis": "ok"}
    assert all(isinstance(result["duration_ms"], float) for result in checks.values())


def test_fails_if_postgres_refuses_connections(make_client: MakeClient, closed_port: int) -> None:
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/postgres", redis_url=REDIS_URL)
    response = make_client(settings).get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["failed"] == ["postgres"]
    assert body["checks"]["postgres"]["status"] == "failed"
    assert "OperationalError" in body["checks"]["postgres"]["error"]
    assert body["checks"]["redis"]["status"] == "ok"


def test_fails_if_redis_refuses_connections(make_client: MakeClient, closed_port: int) -> None:
    settings = Settings(database_url=DATABASE_URL, redis_url=f"redis://127.0.0.1:{closed_port}/0")
    response = make_client(settings).get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["postgres"]["status"] == "ok"


def test_fails_if_both_refuse_and_names_both(make_client: MakeClient, closed_port: int) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/postgres",
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
    )
    response = make_client(settings).get("/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["postgres", "redis"]


def test_fails_if_postgres_database_does_not_exist(make_client: MakeClient, logs: LogCapture) -> None:
    base = DATABASE_URL.rsplit("/", 1)[0]
    response = make_client(Settings(database_url=f"{base}/no_such_database_for_hello")).get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["postgres"]["error"] == "OperationalError"
    # the server's own words, naming the database, go to the log only
    [line] = [line for line in logs.lines() if line["message"].startswith("readiness check failed")]
    assert 'database "no_such_database_for_hello" does not exist' in line["message"]


def _unreachable(kind: str, dependency: str, closed_port: int, silent_port: int) -> tuple[str, tuple[str, ...]]:
    """A URL of ``dependency`` that fails in the way ``kind`` says, and the strings that say where it is."""
    scheme = "postgresql" if dependency == "postgres" else "redis"
    database = "hello_inventory_db" if dependency == "postgres" else "7"
    host, port = "127.0.0.1", closed_port
    if kind == "silent":
        port = silent_port
    elif kind == "unknown host":
        host, port = "db-7f3a.hello-internal.invalid", 6543
    if kind == "no such database":
        answering = urlsplit(DATABASE_URL)
        host, port = answering.hostname or "127.0.0.1", answering.port or 5432
        return f"{DATABASE_URL.rsplit('/', 1)[0]}/{database}", (host, f":{port}", database)
    user = "postgres@" if dependency == "postgres" else ""
    # A Redis database is a small number, no name to hide (and too short to look for).
    named = (database,) if dependency == "postgres" else ()
    return f"{scheme}://{user}{host}:{port}/{database}", (host, str(port), *named)


# Every way a dependency can fail that puts where it is into the client library's message.
UNREACHABLE = [
    ("postgres", "refused"),
    ("postgres", "silent"),
    ("postgres", "unknown host"),
    ("postgres", "no such database"),
    ("redis", "refused"),
    ("redis", "silent"),
    ("redis", "unknown host"),
]


@pytest.mark.parametrize(("dependency", "kind"), UNREACHABLE, ids=[f"{d}-{k}" for d, k in UNREACHABLE])
def test_fails_if_a_dependency_fails_without_saying_where_it_is(
    make_client: MakeClient, logs: LogCapture, closed_port: int, silent_port: int, dependency: str, kind: str
) -> None:
    url, where = _unreachable(kind, dependency, closed_port, silent_port)
    settings = Settings(
        database_url=url if dependency == "postgres" else None,
        redis_url=url if dependency == "redis" else None,
        readiness_timeout_seconds=1.0,
    )
    response = make_client(settings).get("/ready")
    assert response.status_code == 503, response.text
    assert response.json()["failed"] == [dependency]
    for place in where:
        assert place not in response.text, f"/ready names {place!r}: {response.text}"
    # ... and the log line keeps them all, for the operators
    [line] = [line for line in logs.lines() if line["message"].startswith("readiness check failed")]
    for place in where:
        assert place in line["message"], f"the log does not name {place!r}: {line['message']}"
    assert line["dependency"] == dependency


@pytest.mark.parametrize("dependency", ["postgres", "redis"])
def test_fails_within_the_timeout_if_a_dependency_never_answers(
    make_client: MakeClient, silent_port: int, dependency: str
) -> None:
    url = (
        f"postgresql://postgres@127.0.0.1:{silent_port}/postgres"
        if dependency == "postgres"
        else f"redis://127.0.0.1:{silent_port}/0"
    )
    settings = Settings(
        database_url=url if dependency == "postgres" else None,
        redis_url=url if dependency == "redis" else None,
        readiness_timeout_seconds=0.3,
    )
    started = time.perf_counter()
    response = make_client(settings).get("/ready")
    elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.json()["failed"] == [dependency]
    assert elapsed < 2.0, f"readiness took {elapsed:.1f} s with a 0.3 s timeout"


def test_passwords_never_appear_in_responses_or_logs(
    make_client: MakeClient, logs: LogCapture, closed_port: int
) -> None:
    # The real database's own password when its URL has one (CI), else one that trust auth ignores.
    answering_url = DATABASE_URL if urlsplit(DATABASE_URL).password else with_password(DATABASE_URL)
    answering = Settings(database_url=answering_url)
    refusing = Settings(
        database_url=with_password(f"postgresql://127.0.0.1:{closed_port}/postgres"),
        redis_url=with_password(f"redis://127.0.0.1:{closed_port}/0"),
    )
    ok = make_client(answering).get("/ready")
    failed = make_client(refusing).get("/ready")
    assert ok.status_code == 200, ok.text
    assert failed.status_code == 503
    for secret in [secret for secret in (PASSWORD, urlsplit(answering_url).password) if secret]:
        for text in (ok.text, failed.text, logs.stream.getvalue()):
            assert secret not in text
    assert any(line.get("message", "").startswith("readiness check failed") for line in logs.lines())


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql://app:pw%40x@db.internal:5432/app?sslmode=require") == (
        "postgresql://app:***@db.internal:5432/app?sslmode=require"
    )
    assert redact_url("redis://:token@[::1]:6379/0") == "redis://:***@[::1]:6379/0"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_scrub_removes_secrets_urls_with_passwords_and_extra_lines() -> None:
    message = "failed for pw%40x and pw@x at postgresql://u:other@h/db\nDETAIL: more"
    assert scrub(message, ("pw%40x", "pw@x")) == "failed for *** and *** at postgresql://u:***@h/db"
    assert scrub("   ", ()) == ""
    assert len(scrub("x" * 1000, ())) == 300


def test_targets_name_the_dependency_without_its_password() -> None:
    assert Postgres("postgresql://u:pw@h:5432/d").target == "postgresql://u:***@h:5432/d"
    assert Redis("rediss://:pw@h:6380/1").target == "rediss://:***@h:6380/1"
    assert Redis("redis://h:6379/0").secrets == ()


def test_check_reports_a_wrong_answer_as_a_failure() -> None:
    class Odd:
        name = "odd"
        target = "odd://"
        secrets = ()

        async def ping(self, timeout_seconds: float) -> None:
            raise RuntimeError("SELECT 1 returned (2,)")

    result = asyncio.run(check(Odd(), 1.0))
    assert not result.ok
    assert result.as_json()["error"] == "RuntimeError"
    assert result.detail == "RuntimeError: SELECT 1 returned (2,)"
    assert "detail" not in result.as_json()
