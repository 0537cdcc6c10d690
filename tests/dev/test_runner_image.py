"""dev/runner.Dockerfile, the cluster runners' image: GitHub's runner image pinned by digest, plus what
every job needs there (make for `make setup`, the AWS CLI for `aws eks get-token`), as the runner's
non-root user; its AWS CLI lock installs and makes an EKS token on Python 3.12 (the image's); the tag
the workflow pushes is the one account.tfvars names."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from modules.platform.runners import RUNNER_UID
from qualisys_infra.config import load_account
from qualisys_infra.core.runtime import PROJECT_ROOT

ROOT = PROJECT_ROOT
DOCKERFILE = ROOT / "dev" / "runner.Dockerfile"
LOCK = ROOT / "dev" / "runner-requirements.txt"
WORKFLOW = ROOT / ".github" / "workflows" / "runner-image.yml"
HADOLINT = Path(sys.executable).parent / "hadolint"
BASE = re.compile(r"^FROM ghcr\.io/actions/actions-runner:(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}$", re.M)


def _instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_the_base_is_githubs_runner_image_pinned_by_digest() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = [i for i in _instructions(text) if i.startswith("FROM ")]
    assert len(froms) == 1 and BASE.match(froms[0]), froms


def test_the_image_installs_make_and_the_aws_cli_and_runs_as_the_runner_uid() -> None:
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    runs = " ".join(i for i in instructions if i.startswith("RUN "))
    assert re.search(r"apt-get install -y --no-install-recommends .*\bmake=\S+", runs), "make, pinned"
    assert re.search(r"pip install [^&]*--require-hashes [^&]*-r /tmp/aws-cli-requirements\.txt", runs)
    assert "COPY runner-requirements.txt /tmp/aws-cli-requirements.txt" in instructions
    assert "ln -s /opt/aws-cli/bin/aws /usr/local/bin/aws" in runs
    assert "make --version" in runs and "aws --version" in runs  # the build fails without either
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users[-1] == str(RUNNER_UID), users
    # No tool downloaded from outside a package registry at build time.
    assert not re.search(r"\b(curl|wget)\b", runs)
    assert re.fullmatch(r"awscli==1\.\d+\.\d+", LOCK.read_text(encoding="utf-8").split(" \\")[0].splitlines()[-1])


@pytest.mark.parametrize(
    ("original", "planted", "rule"),
    [
        ("USER 1001\n", "", "DL3002"),  # the last USER is then 0: root
        ("make=4.3-4.1build2", "make", "DL3008"),
        (
            "FROM ghcr.io/actions/actions-runner:2.335.1@sha256:",
            "FROM ghcr.io/actions/actions-runner:latest\n# ",
            "DL3007",
        ),
    ],
)
def test_hadolint_catches_a_planted_mistake(tmp_path: Path, original: str, planted: str, rule: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert original in text
    broken = tmp_path / "runner.Dockerfile"
    broken.write_text(text.replace(original, planted, 1), encoding="utf-8")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(broken)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1 and rule in result.stdout, result.stdout


# --- the tag: what the workflow pushes is what the settings name --------------------------------------------


def _workflow_tag(root: Path, tmp_path: Path) -> str:
    """Run the workflow's `tag` step, as written, on the files under ``root``."""
    (step,) = [
        s
        for s in yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["build"]["steps"]
        if s.get("id") == "tag"
    ]
    output = tmp_path / "github_output"
    env = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "ECR_REPOSITORY": "qualisys-actions-runner"}
    subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=root, env=env, check=True, timeout=30)
    values = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    assert values["image"] == f"qualisys-actions-runner:{values['tag']}"
    return values["tag"]


def test_account_tfvars_names_the_tag_the_workflow_pushes_for_the_committed_files(tmp_path: Path) -> None:
    account = load_account(ROOT / "environments" / "account.tfvars")
    tag = _workflow_tag(ROOT, tmp_path)
    version = BASE.search(DOCKERFILE.read_text(encoding="utf-8"))
    assert version is not None and tag.startswith(f"{version[1]}-") and re.fullmatch(r"[\d.]+-[0-9a-f]{12}", tag)
    assert account.github_runner_image_tag == tag, (
        f"environments/account.tfvars: github_runner_image_tag = {account.github_runner_image_tag!r}, "
        f"but dev/runner.Dockerfile and dev/runner-requirements.txt build {tag!r}"
    )


@pytest.mark.parametrize("changed", ["runner.Dockerfile", "runner-requirements.txt"])
def test_fails_if_the_image_changes_and_the_tag_does_not(tmp_path: Path, changed: str) -> None:
    copy = tmp_path / "copy"
    (copy / "dev").mkdir(parents=True)
    for name in ("runner.Dockerfile", "runner-requirements.txt"):
        shutil.copy2(ROOT / "dev" / name, copy / "dev" / name)
    assert (
        _workflow_tag(copy, tmp_path) == load_account(ROOT / "environments" / "account.tfvars").github_runner_image_tag
    )
    with (copy / "dev" / changed).open("a", encoding="utf-8") as f:
        f.write("# changed\n")
    assert (
        _workflow_tag(copy, tmp_path) != load_account(ROOT / "environments" / "account.tfvars").github_runner_image_tag
    )


# --- the AWS CLI lock, installed for real on the image's Python (3.12) ---------------------------------------


def _python_312() -> str | None:
    candidates = [
        shutil.which("python3.12"),
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"], capture_output=True, text=True
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


def test_the_aws_cli_lock_installs_with_hashes_and_makes_an_eks_token(tmp_path: Path) -> None:
    python = _python_312()
    if python is None:
        pytest.skip("no Python 3.12 here (PATH or ~/.pyenv): the runner image's Python")
    venv = tmp_path / "aws-cli"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check",
         "--require-hashes", "--only-binary=:all:", "-r", str(LOCK)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS's documented example
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [str(venv / "bin" / "aws"), "eks", "get-token", "--cluster-name", "qualisys-staging", "--region", "us-east-1"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    url = urlparse(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode())
    query = parse_qs(url.query)
    assert url.hostname == "sts.us-east-1.amazonaws.com" and query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0]  # the cluster's name is signed in
