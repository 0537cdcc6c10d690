"""Settings from the environment: defaults, valid values, and every invalid value reported at once."""

from __future__ import annotations

import pytest

from hello.config import ConfigError, Settings


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.version, settings.host, settings.port, settings.log_level) == ("dev", "0.0.0.0", 8080, "INFO")
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.readiness_timeout_seconds == 2.0
    assert settings.internal_port is None  # one port serves every route (local runs)


def test_empty_values_count_as_unset() -> None:
    assert Settings.from_env({"PORT": "", "DATABASE_URL": " ", "REDIS_URL": "", "HELLO_VERSION": ""}) == Settings()


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "HELLO_VERSION": "3f2b8c1e7d4a4f0e9b6a2c1d0e9f8a7b12345678",
            "HOST": "127.0.0.1",
            "PORT": "3000",
            "INTERNAL_PORT": "9090",
            "LOG_LEVEL": "debug",
            "DATABASE_URL": "postgresql://app:pw@db.internal:5432/app",
            "REDIS_URL": "rediss://:token@cache.internal:6380/0",
            "READINESS_TIMEOUT_SECONDS": "0.5",
        }
    )
    assert settings == Settings(
        version="3f2b8c1e7d4a4f0e9b6a2c1d0e9f8a7b12345678",
        host="127.0.0.1",
        port=3000,
        internal_port=9090,
        log_level="DEBUG",
        database_url="postgresql://app:pw@db.internal:5432/app",
        redis_url="rediss://:token@cache.internal:6380/0",
        readiness_timeout_seconds=0.5,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "PORT must be an integer from 1 to 65535, got 'http'"),
        ("PORT", "0", "PORT must be an integer from 1 to 65535, got '0'"),
        ("PORT", "65536", "PORT must be an integer from 1 to 65535, got '65536'"),
        ("INTERNAL_PORT", "metrics", "INTERNAL_PORT must be an integer from 1 to 65535, got 'metrics'"),
        ("INTERNAL_PORT", "0", "INTERNAL_PORT must be an integer from 1 to 65535, got '0'"),
        ("INTERNAL_PORT", "8080", "INTERNAL_PORT must differ from PORT (8080): the public port would serve /ready"),
        ("HELLO_VERSION", "v1 beta", "HELLO_VERSION must be an image tag or git SHA"),
        ("HELLO_VERSION", "x" * 129, "HELLO_VERSION must be an image tag or git SHA"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'CHATTY'"),
        ("READINESS_TIMEOUT_SECONDS", "soon", "READINESS_TIMEOUT_SECONDS must be a number of seconds above 0"),
        ("READINESS_TIMEOUT_SECONDS", "0", "READINESS_TIMEOUT_SECONDS must be a number of seconds above 0"),
        ("READINESS_TIMEOUT_SECONDS", "31", "and at most 30, got '31'"),
        (
            "DATABASE_URL",
            "mysql://u:pw@h/db",
            "DATABASE_URL must start with postgresql:// or postgres://, got 'mysql'",
        ),
        ("DATABASE_URL", "postgresql:///var/run/db", "DATABASE_URL must name a host"),
        ("DATABASE_URL", "postgresql://u:pw@h:port/db", "DATABASE_URL must be a URL starting with postgresql://"),
        ("REDIS_URL", "memcached://h:11211", "REDIS_URL must start with redis:// or rediss://, got 'memcached'"),
    ],
)
def test_fails_if_a_variable_is_invalid(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert len(raised.value.problems) == 1
    assert message in raised.value.problems[0]


def test_fails_with_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"PORT": "x", "LOG_LEVEL": "loud", "REDIS_URL": "http://cache"})
    assert [problem.split(" ", 1)[0] for problem in raised.value.problems] == ["PORT", "LOG_LEVEL", "REDIS_URL"]
    assert str(raised.value).count("; ") == 2


def test_fails_without_echoing_a_password_from_a_url() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_URL": "mysql://u:hunter2@h/db", "REDIS_URL": "redis://:hunter3@h:notaport/0"})
    assert "hunter" not in str(raised.value)
