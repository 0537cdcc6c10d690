"""`make dev-check`'s logic (qualisys-infra dev check) against the platform's pieces run natively with
compose.yaml's settings: a seeded database, Redis with the ACL file of dev/redis, the real hello
service. The passing case, then each way the platform breaks, then inputs that cannot work (exit 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from qualisys_infra.commands.cli import main
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.delivery import devcheck, local_env
from qualisys_infra.tenancy import provision, redis_acl
from tests.dev.conftest import Hello, RedisServer, free_port, start_hello


@dataclass
class Platform:
    app_url: str
    database_url: str
    app_database_url: str
    redis: RedisServer
    hello: Hello

    def check(self, **overrides: object) -> list[devcheck.Check]:
        arguments: dict[str, object] = {
            "app_url": self.app_url,
            "database_url": self.database_url,
            "redis_url": self.redis.admin_url,
            "app_database_url": self.app_database_url,
            "timeout": 3.0,
        }
        arguments.update(overrides)
        return devcheck.check_local(**arguments)  # type: ignore[arg-type]

    def cli(self, *extra: str) -> list[str]:
        return [
            "check",
            "--app-url",
            self.app_url,
            "--database-url",
            self.database_url,
            "--app-database-url",
            self.app_database_url,
            "--redis-url",
            self.redis.admin_url,
            *extra,
        ]


def app_user_url(database_url: str) -> str:
    return database_url.replace("postgresql://postgres@", "postgresql://app_user@", 1)


@pytest.fixture
def platform(database: str, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]) -> Iterator[Platform]:
    """What `make dev` brings up: the seed service's command, then hello as app_user."""
    assert main(["dev", "seed", "--database-url", database, "--redis-url", redis_server.admin_url]) == 0
    capsys.readouterr()
    hello = start_hello(app_user_url(database), redis_server.app_url)
    try:
        yield Platform(hello.url, database, app_user_url(database), redis_server, hello)
    finally:
        hello.stop()


def failed(checks: list[devcheck.Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(["dev", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_platform_passes_every_check(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    checks = platform.check()
    assert failed(checks) == {}
    names = [c.name for c in checks]
    for expected in (
        "app answers /health with 200",
        "app answers /ready with 200",
        "migrations applied (tenants init)",
        "tenant acme exists with seeded rows",
        "tenant globex exists with seeded rows",
        "app_user logs in",
        "redis: the default user is off (as on ElastiCache)",
        "redis: ACL user tenant_acme exists",
        "redis: A cannot read B's keys",
    ):
        assert expected in names
    assert any(name.startswith("verify: ") for name in names)
    detail = {c.name: c.detail for c in checks}
    assert detail["tenant acme exists with seeded rows"] == "1 organizations, 3 projects, 15 test_runs"

    code, out, err = run_cli(capsys, platform.cli())
    assert code == 0, out + err
    assert out.splitlines()[-1] == f"dev check: {len(checks)} passed, 0 failed"
    code, out, _ = run_cli(capsys, platform.cli("--json"))
    assert code == 0 and json.loads(out)["ok"] is True


def test_app_down_fails_its_checks(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    platform.hello.stop()
    problems = failed(platform.check())
    assert set(problems) == {"app answers /health with 200", "app answers /ready with 200"}
    assert "cannot connect" in problems["app answers /health with 200"]
    code, _, err = run_cli(capsys, platform.cli())
    assert code == 1
    assert "error: dev check failed: app answers /health with 200: " in err


def test_a_missing_tenant_fails(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    with provision.connect(platform.database_url) as conn:
        provision.drop_tenant(conn, "globex")
    problems = failed(platform.check())
    assert problems["tenant globex exists with seeded rows"] == "no tenant globex; tenants: acme"
    code, _, err = run_cli(capsys, platform.cli("--tenant", "acme", "--tenant", "initech"))
    assert code == 1 and "tenant initech exists with seeded rows: no tenant initech" in err


def test_a_tenant_without_rows_fails(platform: Platform) -> None:
    with provision.connect(platform.database_url) as conn:
        conn.execute("DELETE FROM tenant_acme.test_runs")
    problems = failed(platform.check())
    assert problems == {
        "tenant acme exists with seeded rows": "1 organizations, 3 projects, 0 test_runs; empty: test_runs"
    }


def test_isolation_broken_by_a_planted_grant_fails(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    with provision.connect(platform.database_url) as conn:
        conn.execute("GRANT TRUNCATE ON tenant_acme.projects TO app_user")  # TRUNCATE ignores row-level security
    problems = failed(platform.check())
    assert list(problems) == [n for n in problems if n.startswith("verify: ")] and problems
    assert any("TRUNCATE" in detail and "tenant_acme.projects" in detail for detail in problems.values())
    code, _, err = run_cli(capsys, platform.cli())
    assert code == 1 and "error: dev check failed: verify: " in err


def test_redis_down_fails_redis_and_readiness(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    platform.redis.stop()
    problems = failed(platform.check())
    assert "Redis answers" in problems
    assert "app answers /ready with 200" in problems  # hello's readiness asks Redis too
    assert "app answers /health with 200" not in problems  # liveness does not
    assert platform.redis.admin_password not in json.dumps(problems)
    code, out, err = run_cli(capsys, platform.cli())
    assert code == 1
    assert platform.redis.admin_password not in out + err and "qualisys_admin:***@" in out


def test_a_tenant_redis_user_missing_fails_and_seed_restores_it(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    client = redis.Redis.from_url(platform.redis.admin_url, decode_responses=True)
    assert redis_acl.drop_user(client, "acme")
    problems = failed(platform.check())
    assert problems["redis: ACL user tenant_acme exists"].startswith("missing")
    code, out, _ = run_cli(
        capsys, ["seed", "--database-url", platform.database_url, "--redis-url", platform.redis.admin_url]
    )
    assert code == 0 and "dev seed: tenant acme: existed; created its missing Redis ACL user" in out
    assert "dev seed: tenant globex: exists" in out
    assert failed(platform.check()) == {}


def test_seed_is_idempotent(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    def rows() -> list[tuple[object, ...]]:
        with psycopg.connect(platform.database_url) as conn:
            return conn.execute("SELECT id, name FROM tenant_globex.projects ORDER BY id").fetchall()

    before = rows()
    code, out, _ = run_cli(
        capsys, ["seed", "--database-url", platform.database_url, "--redis-url", platform.redis.admin_url]
    )
    assert code == 0
    assert "dev seed: migrations: none pending" in out and "dev seed: tenant acme: 19 seeded rows (0 new)" in out
    assert rows() == before


def test_seed_refuses_a_production_database(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    with provision.connect(database) as conn:
        provision.init(conn, environment="production", app_password=None)
    code, _, err = run_cli(capsys, ["seed", "--database-url", database])
    assert code == 2 and err == "error: dev seed: refusing to seed a database recorded as production\n"


# --- inputs that cannot work: exit 2, one line, passwords masked ----------------------------------------


def test_a_wrong_redis_password_is_misconfiguration(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = f"redis://qualisys_admin:not-the-password-42@127.0.0.1:{platform.redis.port}/0"
    with pytest.raises(devcheck.Misconfigured, match="authentication failed"):
        platform.check(redis_url=wrong)
    argv = platform.cli()
    argv[argv.index("--redis-url") + 1] = wrong
    code, out, err = run_cli(capsys, argv)
    assert code == 2 and out == ""
    assert err.startswith("error: redis: authentication failed for redis://qualisys_admin:***@127.0.0.1:")
    assert "not-the-password-42" not in err and len(err.splitlines()) == 1


def test_a_database_that_does_not_exist_is_misconfiguration(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = platform.cli()
    argv[argv.index("--database-url") + 1] = platform.database_url.rsplit("/", 1)[0] + "/no_such_database"
    code, _, err = run_cli(capsys, argv)
    assert code == 2 and 'database "no_such_database" does not exist' in err


def test_postgres_down_is_a_failed_check(platform: Platform) -> None:
    down = f"postgresql://postgres:secret-password-99@127.0.0.1:{free_port()}/qualisys"
    problems = failed(platform.check(database_url=down, app_database_url=down))
    assert "PostgreSQL answers" in problems and "secret-password-99" not in json.dumps(problems)
    assert "postgres:***@127.0.0.1" in problems["PostgreSQL answers"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--app-url",
            "ftp://localhost:3000",
            "error: --app-url: got 'ftp://localhost:3000', expected http://HOST:PORT",
        ),
        ("--app-url", "http://localhost:99999", "error: --app-url: http://localhost:99999: port must be a number"),
        ("--database-url", "postgresql://postgres:pw%zz@127.0.0.1/x", "malformed percent-escape in the password"),
        ("--redis-url", "redis://u:p@[::1/0", "malformed host"),
    ],
)
def test_malformed_urls_exit_2(
    platform: Platform, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    argv = platform.cli()
    argv[argv.index(option) + 1] = value
    code, out, err = run_cli(capsys, argv)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1


def test_the_app_url_host_must_resolve() -> None:
    with pytest.raises(devcheck.Misconfigured, match="unknown host"):
        devcheck._http_checks("http://no-such-host.invalid:3000", 2.0)


# --- defaults from .env, as compose reads it -------------------------------------------------------------


def test_defaults_come_from_env_file_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nPOSTGRES_PASSWORD=pg-pass_0123456789\nexport QUALISYS_APP_USER_PASSWORD='app pass'\n"
        'REDIS_ADMIN_PASSWORD="admin-0123456789abcdef"\nPOSTGRES_PORT=15432 # a local PostgreSQL has 5432\n\n',
        encoding="utf-8",
    )
    values = local_env.settings(env_file, {"REDIS_PORT": "16379", "HELLO_PORT": "3001"})
    assert local_env.app_url(values) == "http://localhost:3001"
    database = local_env.database_url(values)
    assert database == "postgresql://postgres:pg-pass_0123456789@127.0.0.1:15432/qualisys"
    assert local_env.app_database_url(values, database) == "postgresql://app_user:app%20pass@127.0.0.1:15432/qualisys"
    assert local_env.redis_url(values) == "redis://qualisys_admin:admin-0123456789abcdef@127.0.0.1:16379/0"
    assert local_env.settings(env_file, {"POSTGRES_PORT": "5433"})["POSTGRES_PORT"] == "5433"


def test_env_file_mistakes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=x\nnot a setting\n", encoding="utf-8")
    with pytest.raises(ToolkitError, match=r"\.env:2: expected NAME=VALUE"):
        local_env.read_env_file(env_file)
    env_file.write_text("POSTGRES_PORT=5432\n", encoding="utf-8")
    code, _, err = run_cli(capsys, ["check", "--env-file", str(env_file)])
    assert code == 2
    assert err == (
        "error: dev check: no database password: set POSTGRES_PASSWORD in .env (copy .env.example) or pass the URL\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"POSTGRES_PASSWORD=x\nCOMMENT=caf\xe9\n",
            ".env:2: not UTF-8 text (byte 0xe9 at column 12); save the file as UTF-8",
        ),
        (b"\xff\xfeP\x00=\x00", ".env:1: not UTF-8 text (byte 0xff at column 1); save the file as UTF-8"),
        (None, ".env: is a folder, expected a file"),
    ],
    ids=["latin-1", "utf-16", "a-folder"],
)
def test_fails_if_the_env_file_is_not_utf8_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    env_file = tmp_path / ".env"
    if content is None:
        env_file.mkdir()
    else:
        env_file.write_bytes(content)
    code, out, err = run_cli(capsys, ["check", "--env-file", str(env_file)])
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path}/{message}\n"


def test_fails_if_the_env_file_is_latin1_with_no_traceback_from_the_command_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"POSTGRES_PASSWORD=p\xe4ss\n")
    done = subprocess.run(
        [sys.executable, "-m", "qualisys_infra", "dev", "check", "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: {env_file}:1: not UTF-8 text (byte 0xe4 at column 20); save the file as UTF-8\n"


def test_wait_checks_again_until_every_check_passes(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    """--wait (what make dev runs after compose up): a tenant the seed has not made yet, then made."""
    with provision.connect(platform.database_url) as conn:
        provision.drop_tenant(conn, "globex")
    assert run_cli(capsys, platform.cli("--wait", "0"))[0] == 1
    later = threading.Timer(1.5, lambda: devcheck.seed_local(platform.database_url, platform.redis.admin_url))
    later.start()
    try:
        started = time.monotonic()
        code, out, err = run_cli(capsys, platform.cli("--wait", "30"))
    finally:
        later.join()
    assert code == 0, out + err
    assert time.monotonic() - started >= 1.5 and err == ""
