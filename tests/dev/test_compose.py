"""compose.yaml: valid against the Compose specification's schema (and a planted mistake is caught),
images pinned by digest, the same major versions as RDS and ElastiCache, health checks and
dependencies so that `up` returns a working system, hardening on every service, no secret in the
file, every variable documented in .env.example, ports on 127.0.0.1 only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from qualisys_infra.config import load_settings
from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.conftest import ENVIRONMENT_NAMES

ROOT = PROJECT_ROOT
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
DIGEST = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    result = schema_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    ("original", "planted", "reported"),
    [
        ("condition: service_completed_successfully", "condition: service_completed_sucessfully", "seed"),
        ("condition: service_healthy", "condition: service_healty", "service_healty"),
        ("    healthcheck:\n", "    healthchek:\n", "healthchek"),
        ("      interval: 2s\n", "      intervall: 2s\n", "intervall"),
    ],
)
def test_the_schema_check_catches_a_planted_mistake(tmp_path: Path, original: str, planted: str, reported: str) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert original in text
    text = text.replace(original, planted, 1)
    broken = tmp_path / "compose.yaml"
    broken.write_text(text, encoding="utf-8")
    result = schema_check(broken)
    assert result.returncode == 1, result.stdout
    assert "Schema validation errors were encountered" in result.stdout + result.stderr
    assert reported in result.stdout + result.stderr


def test_images_are_pinned_by_digest_and_built_services_name_no_image() -> None:
    for name, service in services().items():
        if "build" in service:
            assert "image" not in service, f"{name}: built here; an image name would look like a registry image"
        else:
            assert DIGEST.fullmatch(service["image"]), f"{name}: {service['image']} is not pinned by digest"


def test_postgres_and_redis_majors_match_rds_and_elasticache() -> None:
    settings = load_settings(ROOT / "environments", ENVIRONMENT_NAMES, root=ROOT)
    rds = {env.rds_engine_version.split(".")[0] for env in settings.environments}
    redis = {env.redis_engine_version.split(".")[0] for env in settings.environments}
    postgres_tag = services()["postgres"]["image"].split(":")[1].split("@")[0]
    redis_tag = services()["redis"]["image"].split(":")[1].split("@")[0]
    assert rds == {postgres_tag.split("-")[0].split(".")[0]}, (rds, postgres_tag)
    assert redis == {redis_tag.split("-")[0].split(".")[0]}, (redis, redis_tag)


def test_health_checks_and_dependencies_make_up_return_a_working_system() -> None:
    found = services()
    for name in ("postgres", "redis", "hello"):
        assert found[name]["healthcheck"]["test"], f"{name}: no health check"
    assert found["seed"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert found["hello"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "seed": {"condition": "service_completed_successfully"},
    }
    for name, service in found.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in found[dependency], f"{name} waits for {dependency}'s health, which it has none"
    assert found["seed"]["restart"] == "no"
    assert found["seed"]["command"] == ["seed"]


def test_every_service_is_hardened_and_not_root() -> None:
    for name, service in services().items():
        assert service.get("read_only") is True, f"{name}: root filesystem is writable"
        assert "no-new-privileges:true" in service.get("security_opt", []), f"{name}: no no-new-privileges"
        assert service.get("cap_drop") == ["ALL"], f"{name}: capabilities kept"
        user = str(service.get("user", ""))
        assert user and user.split(":")[0] not in ("0", "root"), f"{name}: runs as root"


def test_ports_listen_on_loopback_only_and_match_the_defaults() -> None:
    ports = {name: service.get("ports", []) for name, service in services().items()}
    assert ports == {
        "postgres": ["127.0.0.1:${POSTGRES_PORT:-5432}:5432"],
        "redis": ["127.0.0.1:${REDIS_PORT:-6379}:6379"],
        "seed": [],
        "hello": ["127.0.0.1:${HELLO_PORT:-3000}:8080"],
    }


def test_the_app_logs_in_as_app_user_everywhere() -> None:
    environment = services()["hello"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql://app_user:${QUALISYS_APP_USER_PASSWORD:?")
    assert environment["REDIS_URL"].startswith("redis://app_user:${REDIS_APP_PASSWORD:?")
    assert environment["PORT"] == "8080"


def test_no_secret_in_the_file_every_password_comes_from_env() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    # Credentials in a URL are variables, never literals.
    for match in re.finditer(r"://([^:/@\s]+):([^@\s]+)@", text):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", match.group(2)), f"literal password in {match.group(0)}"
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", str(value)), f"{name}: {key} is not from .env"


def test_every_variable_is_documented_in_env_example_and_nothing_more() -> None:
    used = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text(encoding="utf-8"))}
    documented: dict[str, str] = {}
    comment = ""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():  # a comment covers the lines below it
        if line.startswith("#"):
            comment = line
        elif "=" in line:
            key, _, value = line.partition("=")
            assert comment, f".env.example: {key} has no comment above it"
            documented[key] = value
        else:
            comment = ""
    assert used <= set(documented), f"undocumented: {sorted(used - set(documented))}"
    assert set(documented) <= used, f"documented but unused: {sorted(set(documented) - used)}"
    for key, value in documented.items():
        if "PASSWORD" in key:
            assert value == "", f".env.example holds a value for {key}"
