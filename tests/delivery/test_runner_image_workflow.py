"""runner-image.yml: the cluster runners' image (dev/runner.Dockerfile) built, scanned with Trivy and
pushed to the ECR repository the account stack creates, as service-build.yml does for services: on
GitHub's runners (no cluster runner exists before this image), pushed from main only by the CI
deployer role, in no environment. The linters and the project's checks run over it with every other
workflow (test_workflows.py, test_service_workflows.py); this file holds what is its own, and the
mistakes those checks must catch in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modules.container_registry import runner_image_repository
from qualisys_infra.config import load_account
from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.delivery.checks import check_all, load
from tests.delivery.linters import GITHUB, Mistake, findings_of, zizmor_findings
from tests.delivery.test_service_workflows import CI_DEPLOYER_ROLE, check_services

NAME = "runner-image.yml"
IMAGE_FILES = ("dev/runner.Dockerfile", "dev/runner.Dockerfile.dockerignore", "dev/runner-requirements.txt")


def _doc() -> dict[str, Any]:
    return load(GITHUB / "workflows" / NAME)


def _on(doc: dict[Any, Any]) -> dict[str, Any]:
    return dict(doc.get("on", doc.get(True)) or {})  # YAML 1.1 reads the key `on` as True


def test_it_runs_on_image_changes_on_main_and_by_hand_and_builds_pull_requests_without_pushing() -> None:
    doc = _doc()
    triggers = _on(doc)
    assert triggers["push"]["branches"] == ["main"]
    for event in ("push", "pull_request"):
        assert set(triggers[event]["paths"]) == {*IMAGE_FILES, f".github/workflows/{NAME}"}
    assert "workflow_dispatch" in triggers
    jobs = doc["jobs"]
    assert jobs["push"]["if"] == "${{ github.event_name != 'pull_request' }}"
    assert jobs["push"]["needs"] == "build"


def test_it_builds_the_runner_dockerfile_on_githubs_runners_and_scans_it() -> None:
    jobs = _doc()["jobs"]
    assert {job["runs-on"] for job in jobs.values()} == {"ubuntu-24.04"}
    build = next(s for s in jobs["build"]["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action@"))
    assert build["with"]["file"] == "dev/runner.Dockerfile" and build["with"]["context"] == "dev"
    assert build["with"]["tags"] == "${{ steps.tag.outputs.image }}"
    scans = [s for s in jobs["build"]["steps"] if str(s.get("uses", "")).startswith("aquasecurity/trivy-action@")]
    assert {s["with"]["scanners"] for s in scans} == {"vuln", "secret"}


def test_it_pushes_to_the_repository_the_account_stack_creates_with_the_ci_deployer_role_only() -> None:
    account = load_account(PROJECT_ROOT / "environments" / "account.tfvars")
    jobs = _doc()["jobs"]
    assert jobs["build"]["env"]["ECR_REPOSITORY"] == runner_image_repository(account.project)
    assert jobs["build"]["permissions"] == {"contents": "read"}, "the build and scan hold no OIDC token"
    push = jobs["push"]
    assert "environment" not in push
    assert push["permissions"] == {"id-token": "write"}
    (assume,) = [
        s for s in push["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
    ]
    assert assume["with"]["role-to-assume"] == f"${{{{ vars.{CI_DEPLOYER_ROLE} }}}}"
    assert 'if [ "$GITHUB_REF" != "refs/heads/main" ]' in push["steps"][0]["run"]


MISTAKES = [
    Mistake(
        "push in an environment",
        NAME,
        "    # No `environment:` here",
        "    environment: staging\n    # No `environment:` here",
        "services",
        "push: pushes images, so it declares no environment",
    ),
    Mistake(
        "push with an apply role",
        NAME,
        "role-to-assume: ${{ vars.AWS_CI_DEPLOYER_ROLE_ARN }}",
        "role-to-assume: ${{ vars.AWS_APPLY_ROLE_ARN_STAGING }}",
        "services",
        "push: pushes images with ['AWS_APPLY_ROLE_ARN_STAGING']",
    ),
    Mistake(
        "no vulnerability gate",
        NAME,
        '          ignore-unfixed: true\n          exit-code: "1"',
        '          ignore-unfixed: true\n          exit-code: "0"',
        "services",
        "no Trivy scan fails (exit-code 1) on HIGH and CRITICAL vulnerabilities",
    ),
    Mistake(
        "expression in a script",
        NAME,
        'if [ "$GITHUB_REF" != "refs/heads/main" ]',
        'if [ "${{ github.ref }}" != "refs/heads/main" ]',
        "services",
        "has `${{` inside `run:`",
    ),
    Mistake("job without a timeout", NAME, "    timeout-minutes: 15\n", "", "checks", "push: no `timeout-minutes`"),
    Mistake(
        "unpinned action",
        NAME,
        "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a # v7.3.0",
        "docker/build-push-action@v7",
        "zizmor",
        "unpinned-uses",
    ),
]


@pytest.mark.parametrize("index", range(len(MISTAKES)), ids=[m.name for m in MISTAKES])
def test_a_planted_mistake_is_caught(index: int, tmp_path: Path) -> None:
    mistake = MISTAKES[index]

    def services(github: Path) -> str:
        found = check_services(github)
        assert found and all(f.startswith(f"{NAME}: ") for f in found), found  # only the planted file
        return "\n".join(found)

    checkers = {"zizmor": zizmor_findings, "checks": lambda g: "\n".join(check_all(g)), "services": services}
    output = findings_of(mistake, index, tmp_path, {}, checkers)
    assert mistake.says in output, f"{mistake.name}: {mistake.caught_by} did not say {mistake.says!r}:\n{output}"
