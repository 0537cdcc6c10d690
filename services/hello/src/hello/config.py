"""Settings of the service, read once from the environment and validated in one place.

Every problem is reported at once, in the variable's terms; values that may hold a password (the
dependency URLs) are never echoed back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 8080
# The platform's pods set INTERNAL_PORT (modules/apps/objects.py): the load balancer reaches PORT, which
# serves what users need (`/`, `/health`); Prometheus and the kubelet reach INTERNAL_PORT (`/health`,
# `/ready`, `/metrics`), which no ingress routes to. Unset, PORT serves everything (local runs).
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - a container must listen on its pod's address, not on loopback
DEFAULT_VERSION = "dev"
DEFAULT_READINESS_TIMEOUT_SECONDS = 2.0
MAX_READINESS_TIMEOUT_SECONDS = 30.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
POSTGRES_SCHEMES = ("postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss")

# An image tag or a git SHA: what `docker tag` accepts.
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ConfigError(ValueError):
    """One or more environment variables hold values the service cannot run with."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What the service needs to run; :meth:`from_env` builds it from the environment.

    ``database_url`` and ``redis_url`` are ``None`` when unset: the service then does not depend on
    them and ``/ready`` does not check them. ``internal_port`` is ``None`` when unset: ``port`` then
    serves every route; set, ``port`` serves only ``/`` and ``/health`` and ``internal_port`` serves
    ``/health``, ``/ready`` and ``/metrics`` (:func:`hello.app.create_app`).
    """

    version: str = DEFAULT_VERSION
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    internal_port: int | None = None
    log_level: str = "INFO"
    database_url: str | None = None
    redis_url: str | None = None
    readiness_timeout_seconds: float = DEFAULT_READINESS_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read ``HELLO_VERSION``, ``HOST``, ``PORT``, ``INTERNAL_PORT``, ``LOG_LEVEL``, ``DATABASE_URL``,
        ``REDIS_URL`` and ``READINESS_TIMEOUT_SECONDS``; an empty value counts as unset.

        Raises :class:`ConfigError` naming every invalid variable.
        """
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        version = get("HELLO_VERSION") or DEFAULT_VERSION
        if not _VERSION.match(version):
            problems.append(
                f"HELLO_VERSION must be an image tag or git SHA (letters, digits, '_', '.', '-'; at most 128), "
                f"got {version[:40]!r}"
            )
        host = get("HOST") or DEFAULT_HOST
        port = _port("PORT", get("PORT"), problems)
        port = DEFAULT_PORT if port is None else port
        internal_port = _port("INTERNAL_PORT", get("INTERNAL_PORT"), problems)
        if internal_port is not None and internal_port == port:
            problems.append(
                f"INTERNAL_PORT must differ from PORT ({port}): the public port would serve /ready and /metrics; "
                "leave INTERNAL_PORT unset to serve every route on PORT"
            )
        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level[:20]!r}")
        timeout = DEFAULT_READINESS_TIMEOUT_SECONDS
        raw_timeout = get("READINESS_TIMEOUT_SECONDS")
        if raw_timeout is not None:
            try:
                timeout = float(raw_timeout)
            except ValueError:
                timeout = math.nan
            if not 0 < timeout <= MAX_READINESS_TIMEOUT_SECONDS:
                problems.append(
                    f"READINESS_TIMEOUT_SECONDS must be a number of seconds above 0 and at most "
                    f"{MAX_READINESS_TIMEOUT_SECONDS:g}, got {raw_timeout[:20]!r}"
                )
        database_url = get("DATABASE_URL")
        problems.extend(_url_problems("DATABASE_URL", database_url, POSTGRES_SCHEMES))
        redis_url = get("REDIS_URL")
        problems.extend(_url_problems("REDIS_URL", redis_url, REDIS_SCHEMES))
        if problems:
            raise ConfigError(problems)
        return cls(
            version=version,
            host=host,
            port=port,
            internal_port=internal_port,
            log_level=log_level,
            database_url=database_url,
            redis_url=redis_url,
            readiness_timeout_seconds=timeout,
        )


def _port(name: str, raw: str | None, problems: list[str]) -> int | None:
    """``raw`` as a port number, ``None`` when unset or invalid (then a problem is added)."""
    if raw is None:
        return None
    if raw.isdigit() and 1 <= int(raw) <= 65535:
        return int(raw)
    problems.append(f"{name} must be an integer from 1 to 65535, got {raw[:20]!r}")
    return None


def _url_problems(name: str, url: str | None, schemes: tuple[str, ...]) -> list[str]:
    """What is wrong with a dependency URL; the message shows its scheme at most (it may hold a password)."""
    if url is None:
        return []
    allowed = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check: it raises on a non-number
    except ValueError:
        return [f"{name} must be a URL starting with {allowed} and a valid port"]
    if parts.scheme not in schemes:
        return [f"{name} must start with {allowed}, got {parts.scheme[:20]!r}"]
    if not parts.hostname:
        return [f"{name} must name a host ({allowed}user:password@host:port/...)"]
    return []
