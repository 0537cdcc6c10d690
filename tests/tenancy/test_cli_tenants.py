"""`qualisys-infra tenants ...` end to end on a real PostgreSQL and Redis, as the README shows it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import redis

from qualisys_infra.commands.cli import main
from qualisys_infra.tenancy import provision
from tests.tenancy.conftest import REDIS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_flow_init_create_seed_verify(
    capsys: pytest.CaptureFixture[str], database: str, redis_admin: redis.Redis, unique: str
) -> None:
    db = ["--database-url", database]
    assert _run(capsys, "tenants", "init", *db)[0] == 0
    slugs = [f"acme{unique}", f"globex{unique}"]
    try:
        for slug in slugs:
            code, out, _ = _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)
            assert code == 0 and f"redis: ACL user tenant_{slug} on keys tenant_{slug}:*" in out
        code, out, _ = _run(capsys, "tenants", "seed", *slugs, "--projects", "2", "--runs", "3", *db)
        assert code == 0 and "seeded 2 tenants with 18 rows" in out
        code, out, _ = _run(capsys, "tenants", "list", "--json", *db)
        assert [t["slug"] for t in json.loads(out)] == slugs  # seed created nothing
        code, out, err = _run(capsys, "tenants", "verify", *db, "--redis-url", REDIS)
        assert code == 0, out + err
        assert out.splitlines()[-1].startswith("tenants verify: ") and out.splitlines()[-1].endswith(
            " passed, 0 failed"
        )
    finally:
        for slug in slugs:
            redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_init_and_list_read_as_sentences_and_a_table(
    capsys: pytest.CaptureFixture[str], database: str, unique: str, no_redis_url: None
) -> None:
    """`tenants init` printed `migrations applied: [1]` and `tenants list` rows without a header."""
    db = ["--database-url", database]
    code, out, _ = _run(capsys, "tenants", "init", *db)
    assert code == 0
    assert re.fullmatch(r"tenants: initialised \(\w+\); migrations applied: \d+(, \d+)*\n", out), out
    assert _run(capsys, "tenants", "init", *db)[1].endswith("; migrations applied: none pending\n")
    slugs = [f"acme{unique}", f"globex{unique}"]
    for slug in slugs:
        assert _run(capsys, "tenants", "create", slug, *db)[0] == 0
    code, out, _ = _run(capsys, "tenants", "list", *db)
    header, *rows, total = out.splitlines()
    assert header.split() == ["SLUG", "SCHEMA", "ID", "CREATED", "(UTC)"]
    assert [row.split()[:2] for row in rows] == [[slug, f"tenant_{slug}"] for slug in slugs]
    assert {row.index(f"tenant_{slugs[0]}") for row in rows[:1]} == {header.index("SCHEMA")}  # columns line up
    assert total == "tenants: 2"
    assert not any(line != line.rstrip() for line in out.splitlines())


def test_verify_exits_1_and_names_the_failing_check(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    db = ["--database-url", initialised]
    for slug in ("acme", "globex"):
        _run(capsys, "tenants", "create", slug, *db)
    with provision.connect(initialised) as conn:
        conn.execute("ALTER TABLE tenant_acme.projects NO FORCE ROW LEVEL SECURITY")
    code, out, err = _run(capsys, "tenants", "verify", "--json", *db)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert err.strip() == (
        "error: isolation check failed: every tenant table has RLS enabled, forced, and only the tenant policy: "
        "tenant_acme.projects: RLS not forced"
    )


@pytest.fixture
def no_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALISYS_REDIS_URL", raising=False)


def test_drop_needs_yes(capsys: pytest.CaptureFixture[str], initialised: str, no_redis_url: None) -> None:
    _run(capsys, "tenants", "create", "acme", "--database-url", initialised)
    code, _, err = _run(capsys, "tenants", "drop", "acme", "--database-url", initialised)
    assert code == 2 and "pass --yes to confirm" in err
    code, out, _ = _run(capsys, "tenants", "drop", "acme", "--yes", "--keep-redis-user", "--database-url", initialised)
    assert code == 0 and "dropped acme" in out


def test_fails_if_drop_without_redis_leaves_the_redis_user_silently(
    capsys: pytest.CaptureFixture[str], initialised: str, redis_admin: redis.Redis, unique: str, no_redis_url: None
) -> None:
    slug, db = f"acme{unique}", ["--database-url", initialised]
    try:
        assert _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)[0] == 0
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", *db)
        assert code == 2 and out == ""
        assert err == (
            f"error: tenants drop {slug}: no Redis URL, so the tenant's Redis ACL user tenant_{slug} would be left"
            " behind; pass --redis-url (or set QUALISYS_REDIS_URL) to remove it too, or --keep-redis-user"
            " to drop the database side only. Nothing was dropped.\n"
        )
        with provision.connect(initialised) as conn:
            assert [t.slug for t in provision.list_tenants(conn)] == [slug]
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", "--keep-redis-user", *db)
        assert code == 0 and out == f"tenants: dropped {slug} and its data\n"
        assert err == (
            f"warning: tenants drop {slug}: the Redis ACL user tenant_{slug}, if the tenant had one, was not"
            f" removed (--keep-redis-user) and can still log in; remove it with:"
            f" qualisys-infra tenants drop {slug} --yes --redis-url REDIS_URL\n"
        )
        assert _redis_user_exists(redis_admin, slug)
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", *db, "--redis-url", REDIS)  # as advised
        assert code == 0 and out == f"tenants: {slug} was already dropped; removed its leftover Redis ACL user\n"
        assert not _redis_user_exists(redis_admin, slug)
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_drop_with_the_redis_url_from_the_environment_removes_the_user(
    capsys: pytest.CaptureFixture[str],
    initialised: str,
    redis_admin: redis.Redis,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slug, db = f"acme{unique}", ["--database-url", initialised]
    monkeypatch.setenv("QUALISYS_REDIS_URL", REDIS)
    try:
        assert _run(capsys, "tenants", "create", slug, *db)[0] == 0
        assert _redis_user_exists(redis_admin, slug)
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", *db)
        assert code == 0 and err == ""
        assert out == f"tenants: dropped {slug} and its data and its Redis ACL user\n"
        assert not _redis_user_exists(redis_admin, slug)
        # A tenant that never had a Redis user: said so, not claimed removed.
        assert _run(capsys, "tenants", "create", slug, *db)[0] == 0
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", *db)
        assert code == 0 and out == f"tenants: dropped {slug} and its data (it had no Redis ACL user)\n"
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/x", "expected postgresql://USER[:PASSWORD]@HOST:PORT/DB"),
        (
            "postgresql://postgres:secret@127.0.0.1:1/postgres",
            "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/no_such_database_here",
            'database "no_such_database_here" does not exist',
        ),
    ],
)
def test_bad_urls_and_unreachable_servers_are_one_line(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, _, err = _run(capsys, "tenants", "list", "--database-url", url)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line
    assert "secret" not in err


def test_missing_rights_are_reported_as_such(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    as_app = initialised.replace("postgresql://postgres@", "postgresql://app_user@")
    code, _, err = _run(capsys, "tenants", "create", "acme", "--database-url", as_app)
    assert code == 2
    assert err.startswith("error: database: missing rights on postgresql://app_user@")


def test_no_database_configured(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALISYS_DATABASE_URL", raising=False)
    code, _, err = _run(capsys, "tenants", "list")
    assert code == 2 and "pass --database-url or set QUALISYS_DATABASE_URL" in err


@pytest.mark.parametrize("slug", ["acme\n", "acme\r\n", "\nacme", "acme\x00"])
def test_fails_if_the_slug_has_a_trailing_newline_or_control_character(
    capsys: pytest.CaptureFixture[str], initialised: str, slug: str
) -> None:
    code, _, err = _run(capsys, "tenants", "create", slug, "--database-url", initialised)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: tenant slug: got ") and "expected 3-41 characters" in line
    with provision.connect(initialised) as conn:
        assert provision.list_tenants(conn) == []
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant%'").fetchone() == (0,)


SECRET = "Sup3rS3cret"  # noqa: S105 - a fake password the messages must never show


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql://app:%zz{SECRET}@127.0.0.1/db", "malformed percent-escape in the password"),
        (f"postgresql://app:{SECRET}%zz@127.0.0.1/db", "postgresql://app:***@127.0.0.1/db"),
        (f"postgresql://app:p@ss{SECRET}@127.0.0.1:1/db", "cannot connect to postgresql://app:***@127.0.0.1:1/db"),
        (f"postgresql://app:{SECRET}/x@127.0.0.1:1/db", "cannot connect to postgresql://app:***@127.0.0.1:1/db"),
        (f"postgresql://127.0.0.1:1/db?password={SECRET}", "postgresql://127.0.0.1:1/db?password=***"),
        (f"postgresql://postgres:{SECRET}@127.0.0.1:5432/no_such_db_x", 'database "no_such_db_x" does not exist'),
        (f"postgresql://nobody_{SECRET[:3]}:{SECRET}@127.0.0.1:5432/postgres", "cannot connect to"),
    ],
)
def test_fails_if_a_database_password_would_be_echoed(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, _, err = _run(capsys, "tenants", "list", "--database-url", url)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line
    assert SECRET not in err and SECRET[4:] not in err and "zz" not in err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://[::1", "malformed host: '[' without ']'"),
        ("postgresql://[::1]x/db", "malformed host"),
        ("postgresql://127.0.0.1:99999/db", "port must be a number from 1 to 65535"),
        ("postgresql://127.0.0.1:abc/db", "port must be a number from 1 to 65535"),
        ("postgresql://127.0.0.1/db?no_such_option=1", 'invalid connection option "no_such_option"'),
        ("postgresql://127.0.0.1/db?sslmode", "malformed query parameter"),
        ("postgresql://127.0.0.1/d%ffb", "not UTF-8"),
        ("postgresql://127.0.0.1/db\n", "postgresql://127.0.0.1/db\\n"),
        ("postgres:/x", "expected postgresql://USER[:PASSWORD]@HOST:PORT/DB"),
        ("postgresql://app@127.0.0.1:5432/postgres?sslmode=require", "cannot connect to"),
    ],
)
def test_fails_if_a_malformed_database_url_gives_a_traceback(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, _, err = _run(capsys, "tenants", "list", "--database-url", url)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://[::1", "--redis-url: redis://[::1: malformed host"),
        (f"redis://:{SECRET}%zz@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0: malformed percent-escape"),
        ("redis://127.0.0.1:abc/0", "port must be a number"),
        ("redis://127.0.0.1:6379/zero", "the database must be a number"),
        ("http://127.0.0.1:6379", "expected redis://"),
        ("redis://127.0.0.1:6399/0", "redis: cannot connect to redis://127.0.0.1:6399/0"),
        (f"redis://nobody_x:{SECRET}@127.0.0.1:6379/0", "redis: authentication failed for redis://nobody_x:***@"),
    ],
)
def test_fails_if_a_bad_redis_url_gives_a_traceback_or_writes_anything(
    capsys: pytest.CaptureFixture[str], initialised: str, redis_admin: redis.Redis, unique: str, url: str, message: str
) -> None:
    slug = f"acme{unique}"
    try:
        code, _, err = _run(capsys, "tenants", "create", slug, "--database-url", initialised, "--redis-url", url)
        assert code == 2
        (line,) = err.splitlines()
        assert line.startswith("error: ") and message in line
        assert SECRET not in err
        with provision.connect(initialised) as conn:
            assert provision.list_tenants(conn) == []
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_fails_if_a_database_failure_after_connecting_is_a_traceback(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    _run(capsys, "tenants", "create", "acme", "--database-url", initialised)
    with provision.connect(initialised) as conn:
        conn.execute("DROP TABLE platform.settings")
    code, _, err = _run(capsys, "tenants", "drop", "acme", "--yes", "--keep-redis-user", "--database-url", initialised)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("error: database: postgresql://") and 'relation "platform.settings" does not exist' in line


def test_verify_builds_the_app_user_url_from_any_password(
    capsys: pytest.CaptureFixture[str], initialised: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(capsys, "tenants", "create", "acme", "--database-url", initialised)
    monkeypatch.setenv("QUALISYS_APP_USER_PASSWORD", f"{SECRET}@:/%zz")
    code, out, err = _run(capsys, "tenants", "verify", "--database-url", initialised)
    # Trust authentication: app_user logs in, and verify fails only for having one tenant to probe.
    assert code == 1, err
    assert "FAIL  two tenants to probe" in out
    assert SECRET not in out + err


@pytest.fixture
def redis_without_acl_rights(redis_admin: redis.Redis, unique: str) -> Iterator[str]:
    """A Redis login that answers PING but may not run ACL commands."""
    user = f"noacl_{unique}"
    redis_admin.execute_command("ACL", "SETUSER", user, "on", f">{SECRET}", "~*", "+@all", "-acl")  # type: ignore[no-untyped-call]
    yield REDIS.replace("redis://", f"redis://{user}:{SECRET}@", 1)
    redis_admin.execute_command("ACL", "DELUSER", user)  # type: ignore[no-untyped-call]


def _redis_user_exists(client: redis.Redis, slug: str) -> bool:
    return client.execute_command("ACL", "GETUSER", f"tenant_{slug}") is not None  # type: ignore[no-untyped-call]


def test_fails_if_create_commits_the_schema_when_redis_is_down_and_a_retry_cannot_finish(
    capsys: pytest.CaptureFixture[str], initialised: str, redis_admin: redis.Redis, unique: str
) -> None:
    slug, db = f"acme{unique}", ["--database-url", initialised]
    code, _, err = _run(capsys, "tenants", "create", slug, *db, "--redis-url", "redis://127.0.0.1:6399/0")
    assert code == 2 and err.startswith("error: redis: cannot connect to redis://127.0.0.1:6399/0")
    with provision.connect(initialised) as conn:
        assert provision.list_tenants(conn) == []
        assert conn.execute("SELECT to_regnamespace(%s)", (f"tenant_{slug}",)).fetchone() == (None,)
    try:
        code, out, err = _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)
        assert code == 0, err
        assert f"tenants: created {slug}" in out and f"redis: ACL user tenant_{slug}" in out
        assert _redis_user_exists(redis_admin, slug)
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_fails_if_redis_refusing_the_acl_user_leaves_the_schema_behind(
    capsys: pytest.CaptureFixture[str],
    initialised: str,
    redis_admin: redis.Redis,
    redis_without_acl_rights: str,
    unique: str,
) -> None:
    slug = f"acme{unique}"
    try:
        code, _, err = _run(
            capsys, "tenants", "create", slug, "--database-url", initialised, "--redis-url", redis_without_acl_rights
        )
        assert code == 1
        (line,) = err.splitlines()
        assert line.startswith("error: redis: ACL SETUSER failed: ") and SECRET not in err
        with provision.connect(initialised) as conn:
            assert provision.list_tenants(conn) == []
            assert conn.execute("SELECT to_regnamespace(%s)", (f"tenant_{slug}",)).fetchone() == (None,)
        assert not _redis_user_exists(redis_admin, slug)
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_fails_if_a_tenant_missing_its_redis_user_cannot_be_completed(
    capsys: pytest.CaptureFixture[str], initialised: str, redis_admin: redis.Redis, unique: str, no_redis_url: None
) -> None:
    slug, db = f"acme{unique}", ["--database-url", initialised]
    assert _run(capsys, "tenants", "create", slug, *db)[0] == 0  # the half-done state: no Redis user
    try:
        code, out, err = _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)
        assert code == 0, err
        assert f"tenants: {slug} already existed; created its missing Redis ACL user" in out
        assert f"redis: ACL user tenant_{slug} on keys tenant_{slug}:*, password " in out
        assert _redis_user_exists(redis_admin, slug)
        code, _, err = _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)
        assert code == 2 and err == f"error: tenant '{slug}' already exists with its Redis ACL user\n"
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]


def test_fails_if_drop_half_succeeds_or_leaves_a_redis_user_behind(
    capsys: pytest.CaptureFixture[str],
    initialised: str,
    redis_admin: redis.Redis,
    redis_without_acl_rights: str,
    unique: str,
) -> None:
    slug, db = f"acme{unique}", ["--database-url", initialised]
    try:
        assert _run(capsys, "tenants", "create", slug, *db, "--redis-url", REDIS)[0] == 0
        code, _, err = _run(capsys, "tenants", "drop", slug, "--yes", *db, "--redis-url", redis_without_acl_rights)
        assert code == 1 and err.startswith("error: redis: ACL DELUSER failed: ")
        with provision.connect(initialised) as conn:  # rolled back: the tenant is still whole
            assert [t.slug for t in provision.list_tenants(conn)] == [slug]
        assert _redis_user_exists(redis_admin, slug)
        # Dropped with --keep-redis-user: the Redis user is left over, and a retry with Redis removes it.
        assert _run(capsys, "tenants", "drop", slug, "--yes", "--keep-redis-user", *db)[0] == 0
        code, out, err = _run(capsys, "tenants", "drop", slug, "--yes", *db, "--redis-url", REDIS)
        assert code == 0, err
        assert f"tenants: {slug} was already dropped; removed its leftover Redis ACL user" in out
        assert not _redis_user_exists(redis_admin, slug)
    finally:
        redis_admin.execute_command("ACL", "DELUSER", f"tenant_{slug}")  # type: ignore[no-untyped-call]
