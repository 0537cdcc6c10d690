"""Readiness: can the service reach what it depends on, right now?

The dependencies are the ones configured (``DATABASE_URL``: PostgreSQL, ``REDIS_URL``: Redis); none
configured means ready. All are checked concurrently, each within the readiness timeout, and each
on a connection of its own, opened and closed per check: a service with a connection pool checks
its pool instead. Liveness (``/health``) never comes here: a database outage must take pods out of
the load balancer, not restart them.

What a check found goes two ways: the log line gets the error as the client library said it (which
server, port and database it tried; passwords from the URLs never appear in it), the ``/ready`` body
gets only its kind (``OperationalError``, ``no answer within 2 s``): where the dependencies live is
nobody's business but the operators'.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
import redis.asyncio

from hello.config import Settings

_MAX_ERROR_CHARS = 300
_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
# libpq counts connect_timeout in whole seconds and treats less than 2 as 2.
_LIBPQ_MIN_CONNECT_TIMEOUT_SECONDS = 2


class Dependency(Protocol):
    """Something the service needs; ``ping`` returns when it answers and raises otherwise."""

    @property
    def name(self) -> str: ...

    @property
    def target(self) -> str:
        """Where it is, for logs: the URL with its password replaced by ``***``."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in an error message (the URL's password, as given and decoded)."""
        ...

    async def ping(self, timeout_seconds: float) -> None: ...


def redact_url(url: str) -> str:
    """``url`` with the password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def _secrets_of(url: str) -> tuple[str, ...]:
    password = urlsplit(url).password
    if not password:
        return ()
    return tuple({password, unquote(password)})


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` without any of ``secrets`` and without passwords in URLs, cut to one short line."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _USERINFO_PASSWORD.sub(r"\1***@", text)
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return first_line[:_MAX_ERROR_CHARS]


@dataclass(frozen=True, slots=True)
class _ByUrl:
    """A dependency reached by a URL: shown with its password masked, which is also kept out of errors."""

    url: str

    @property
    def target(self) -> str:
        return redact_url(self.url)

    @property
    def secrets(self) -> tuple[str, ...]:
        return _secrets_of(self.url)


@dataclass(frozen=True, slots=True)
class Postgres(_ByUrl):
    """PostgreSQL, checked with ``SELECT 1`` over a new connection."""

    name: str = "postgres"

    async def ping(self, timeout_seconds: float) -> None:
        connect_timeout = max(_LIBPQ_MIN_CONNECT_TIMEOUT_SECONDS, math.ceil(timeout_seconds))
        async with await psycopg.AsyncConnection.connect(
            self.url, connect_timeout=connect_timeout, autocommit=True, application_name="hello-readiness"
        ) as connection:
            cursor = await connection.execute("SELECT 1")
            row = await cursor.fetchone()
        if row != (1,):
            raise RuntimeError(f"SELECT 1 returned {row!r}")


@dataclass(frozen=True, slots=True)
class Redis(_ByUrl):
    """Redis, checked with ``PING`` over a new connection."""

    name: str = "redis"

    async def ping(self, timeout_seconds: float) -> None:
        client = redis.asyncio.Redis.from_url(
            self.url,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            retry_on_timeout=False,
        )
        try:
            if not await client.ping():
                raise RuntimeError("PING did not answer PONG")
        finally:
            await client.aclose()


def dependencies_of(settings: Settings) -> tuple[Dependency, ...]:
    """The dependencies ``settings`` configure, in a stable order (PostgreSQL, then Redis)."""
    found: list[Dependency] = []
    if settings.database_url is not None:
        found.append(Postgres(settings.database_url))
    if settings.redis_url is not None:
        found.append(Redis(settings.redis_url))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One dependency's answer: ``error`` is ``None`` when it answered in time.

    ``error`` is the kind of failure, fit for a response body (an exception's class name, or that it
    did not answer in time); ``detail`` is the whole one-line message, passwords masked, for the log.
    """

    name: str
    duration_ms: float
    error: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, object]:
        """The check as ``/ready`` shows it: status, duration and the kind of failure, never its detail."""
        body: dict[str, object] = {"status": "ok" if self.ok else "failed", "duration_ms": self.duration_ms}
        if self.error is not None:
            body["error"] = self.error
        return body


async def check(dependency: Dependency, timeout_seconds: float) -> CheckResult:
    """Ping ``dependency``, giving up after ``timeout_seconds``; never raises."""
    started = time.perf_counter()
    error: str | None = None
    detail: str | None = None
    try:
        async with asyncio.timeout(timeout_seconds):
            await dependency.ping(timeout_seconds)
    except TimeoutError:
        error = detail = f"no answer within {timeout_seconds:g} s"
    except Exception as exc:
        error = type(exc).__name__
        detail = scrub(f"{error}: {exc}", dependency.secrets)
    return CheckResult(dependency.name, round((time.perf_counter() - started) * 1000, 2), error, detail)


async def check_all(dependencies: Sequence[Dependency], timeout_seconds: float) -> list[CheckResult]:
    """Check every dependency concurrently; results in the order of ``dependencies``."""
    return list(await asyncio.gather(*(check(dependency, timeout_seconds) for dependency in dependencies)))
