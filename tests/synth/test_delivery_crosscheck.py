"""One source of truth, checked: the workflows, the OIDC trust policies of the account stack and the
github stack cannot disagree (issue "Delivery pipeline", item 5).

- every `environment:` a job declares exists in the github stack, and the role the job assumes
  trusts exactly that environment's subject from that job's workflow file (the token's
  job_workflow_ref), as the only pipeline role that does;
- a job without an environment assumes only roles trusted for pull requests and main (the plan
  role; the deployer role that pushes service images), never a role an environment guards;
- every `vars.NAME` a workflow reads is an Actions variable the github stack sets, from the account
  output of the same meaning;
- the ruleset's required checks are jobs of the pull-request workflow;
- the protected and deploying branch is the one account.tfvars lets deploy.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import pytest

from qualisys_infra.core.naming import ACTIONS_VARIABLES, GITHUB_STACK, MAIN_BRANCH, REQUIRED_CHECKS
from tests.conftest import ROOT, Synthesized
from tests.delivery.checks import load
from tests.synth.helpers import ref

WORKFLOWS = ROOT / ".github" / "workflows"
VARIABLE = re.compile(r"vars\.([A-Z0-9_]+)")
# A reusable workflow's job in the environment its callers name (service-release.yml), and the role
# it picks for each: `inputs.environment == 'production' && vars.AWS_APPLY_ROLE_ARN_PRODUCTION`.
INPUT_ENVIRONMENT = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")
CHOSEN_ROLE = re.compile(r"inputs\.([\w-]+)\s*==\s*'([^']*)'\s*&&\s*vars\.([A-Z0-9_]+)")
LOCAL_WORKFLOW = "./.github/workflows/"


def _job_name(job_id: str, job: Mapping[str, Any]) -> list[str]:
    name = str(job.get("name", job_id))
    envs = ((job.get("strategy") or {}).get("matrix") or {}).get("env") or [None]
    return [name.replace("${{ matrix.env }}", str(env)) for env in envs]


def _trusted_subjects(account: Mapping[str, Any], role_name: str) -> set[str]:
    return {subject for subject, _ in _trusts(account, role_name)}


def _trusts(account: Mapping[str, Any], role_name: str) -> set[tuple[str, str | None]]:
    """(sub, job_workflow_ref) pairs the role's trust admits; None: any workflow."""
    role = account["resource"]["aws_iam_role"][role_name]
    document = account["data"]["aws_iam_policy_document"][ref(role["assume_role_policy"])[1]]
    pairs: set[tuple[str, str | None]] = set()
    for statement in document["statement"]:
        values: dict[str, list[str]] = {}
        for condition in statement.get("condition") or []:
            values.setdefault(condition["variable"].rsplit(":", 1)[-1], []).extend(condition["values"])
        workflows: list[str | None] = list(values.get("job_workflow_ref", [])) or [None]
        pairs |= {(subject, workflow) for subject in values.get("sub", []) for workflow in workflows}
    return pairs


def _workflow_ref(repo: str, file: str) -> str:
    """The job_workflow_ref of a job defined in ``file``, run from the main branch."""
    return f"{repo}/.github/workflows/{file}@refs/heads/{MAIN_BRANCH}"


def _passed_inputs(workflows: Mapping[str, dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(called workflow file, input) -> every value its callers pass."""
    passed: dict[tuple[str, str], set[str]] = {}
    for doc in workflows.values():
        for job in (doc.get("jobs") or {}).values():
            uses = str(job.get("uses", ""))
            if uses.startswith(LOCAL_WORKFLOW):
                for name, value in (job.get("with") or {}).items():
                    passed.setdefault((uses.removeprefix(LOCAL_WORKFLOW), str(name)), set()).add(str(value))
    return passed


def _environment_problems(
    where: str,
    file: str,
    environment: str | None,
    roles: set[str],
    environments: set[str],
    pipeline_roles: set[str],
    account: Mapping[str, Any],
    repo: str,
) -> list[str]:
    """A job running in ``environment`` (None: none) that assumes ``roles``."""
    problems = []
    if environment is not None:
        if environment not in environments:
            problems.append(f"{where}: environment {environment!r} is not in the github stack")
        subject, workflow = f"repo:{repo}:environment:{environment}", _workflow_ref(repo, file)
        trusting = {
            r for r in pipeline_roles if any(s == subject and w in (None, workflow) for s, w in _trusts(account, r))
        }
        if len(trusting) != 1 or trusting != roles:
            problems.append(
                f"{where}: environment {environment!r} is trusted by {sorted(trusting)}, "
                f"but the job assumes {sorted(roles)}"
            )
    else:
        # Without an environment a job may assume only roles trusted for pull requests or
        # the main branch (the plan role, the image-pushing deployer role), never one an
        # environment's approval guards.
        allowed = {f"repo:{repo}:pull_request", f"repo:{repo}:ref:refs/heads/{MAIN_BRANCH}"}
        for role in sorted(roles):
            if not _trusted_subjects(account, role) <= allowed:
                problems.append(
                    f"{where}: assumes {role} without an environment; only roles of pull requests and {MAIN_BRANCH} may"
                )
    return problems


def crosscheck(workflows: Mapping[str, dict[str, Any]], stacks: Mapping[str, Any], repo: str) -> list[str]:
    """Every disagreement between ``workflows`` (file name -> parsed YAML) and the stacks."""
    account, github = stacks["account"], stacks[GITHUB_STACK]
    problems: list[str] = []
    environments = {e["environment"] for e in github["resource"]["github_repository_environment"].values()}
    variables = {v["variable_name"] for v in github["resource"]["github_actions_variable"].values()}
    role_of_output = {
        name: ref(output["value"])[1]
        for name, output in account["output"].items()
        if str(output.get("value", "")).startswith("${aws_iam_role.")
    }
    pipeline_roles = {role_of_output[o] for v, o in ACTIONS_VARIABLES.items() if "ROLE" in v}
    jobs: set[str] = set()
    passed = _passed_inputs(workflows)
    for file, doc in workflows.items():
        for job_id, job in (doc.get("jobs") or {}).items():
            if file == "pull-request.yml":
                jobs.update(_job_name(job_id, job))
            where = f"{file}: {job_id}"
            text = str(job)
            used = set(VARIABLE.findall(text))
            for name in sorted(used - variables):
                problems.append(f"{where}: reads vars.{name}, which the github stack does not set")
            environment = job.get("environment")
            environment = environment.get("name") if isinstance(environment, dict) else environment
            by_input = INPUT_ENVIRONMENT.match(str(environment or ""))
            # Each environment the job can run in, with the role variables it assumes there.
            cases: list[tuple[str | None, set[str]]] = [(None if environment is None else str(environment), used)]
            if by_input:
                cases = [
                    (value, {v for i, e, v in CHOSEN_ROLE.findall(text) if i == by_input[1] and e == value})
                    for value in sorted(passed.get((file, by_input[1]), set()))
                ]
            for environment, variables_here in cases:
                roles = {
                    role_of_output[ACTIONS_VARIABLES[v]]
                    for v in variables_here
                    if v in ACTIONS_VARIABLES and "ROLE" in v
                }
                problems += _environment_problems(
                    where, file, environment, roles, environments, pipeline_roles, account, repo
                )
    checks = {
        c["context"]
        for r in github["resource"]["github_repository_ruleset"].values()
        for c in r["rules"]["required_status_checks"]["required_check"]
    }
    if checks != set(REQUIRED_CHECKS):
        problems.append(f"ruleset requires {sorted(checks)}, expected {sorted(REQUIRED_CHECKS)}")
    for missing in sorted(checks - jobs):
        problems.append(f"ruleset requires {missing!r}, which no job of pull-request.yml reports")
    return problems


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_workflows_roles_and_the_github_stack_agree(
    workflows: dict[str, dict[str, Any]], synthesized: Synthesized
) -> None:
    account = synthesized.settings.account
    assert crosscheck(workflows, synthesized.stacks, account.github_repository) == []
    assert MAIN_BRANCH in account.github_deploy_branches
    github = synthesized.stacks[GITHUB_STACK]["resource"]
    assert {p["branch_pattern"] for p in github["github_repository_environment_deployment_policy"].values()} == {
        MAIN_BRANCH
    }
    for ruleset in github["github_repository_ruleset"].values():
        assert ruleset["conditions"]["ref_name"]["include"] == [f"refs/heads/{MAIN_BRANCH}"]


def _replace(value: Any, old: str, new: str) -> Any:
    """``value`` (parsed YAML) with ``old`` replaced by ``new`` in every string."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


@pytest.mark.parametrize(
    ("plant", "message"),
    [
        ("environment", "environment 'prod' is not in the github stack"),
        ("role", "is trusted by ['github_apply-production_role'], but the job assumes ['github_apply-staging_role']"),
        ("variable", "reads vars.AWS_APPLY_ROLE_ARN_QA, which the github stack does not set"),
        ("check", "ruleset requires 'plan (qa)', which no job of pull-request.yml reports"),
        (
            "release role",
            "service-release.yml: release: environment 'production' is trusted by ['github_release-production_role'], "
            "but the job assumes ['github_release-staging_role']",
        ),
        (
            "apply role in a release",
            "service-release.yml: release: environment 'production' is trusted by ['github_release-production_role'], "
            "but the job assumes ['github_apply-production_role']",
        ),
        ("release environment", "service-release.yml: release: environment 'prod' is not in the github stack"),
    ],
)
def test_fails_if_workflows_and_stacks_disagree(
    workflows: dict[str, dict[str, Any]], synthesized: Synthesized, plant: str, message: str
) -> None:
    planted = copy.deepcopy(workflows)
    stacks = dict(synthesized.stacks)
    if plant in ("environment", "role", "variable"):
        for doc in planted.values():
            for job in (doc.get("jobs") or {}).values():
                environment = job.get("environment")
                name = environment.get("name") if isinstance(environment, dict) else environment
                if name != "production":
                    continue
                if plant == "environment":
                    job["environment"] = "prod"
                new = {"role": "AWS_APPLY_ROLE_ARN_STAGING", "variable": "AWS_APPLY_ROLE_ARN_QA"}.get(plant)
                if new:
                    job.update(_replace(dict(job), "AWS_APPLY_ROLE_ARN_PRODUCTION", new))
    elif plant == "release role":
        release = planted["service-release.yml"]["jobs"]["release"]
        assert "&& vars.AWS_RELEASE_ROLE_ARN_PRODUCTION" in str(release), "the release job takes the release role"
        release.update(
            _replace(dict(release), "&& vars.AWS_RELEASE_ROLE_ARN_PRODUCTION", "&& vars.AWS_RELEASE_ROLE_ARN_STAGING")
        )
    elif plant == "apply role in a release":
        # The release job taking the cluster-admin apply role: its trust names deploy.yml only.
        release = planted["service-release.yml"]["jobs"]["release"]
        assert "&& vars.AWS_RELEASE_ROLE_ARN_PRODUCTION" in str(release), "the release job takes the release role"
        release.update(
            _replace(dict(release), "&& vars.AWS_RELEASE_ROLE_ARN_PRODUCTION", "&& vars.AWS_APPLY_ROLE_ARN_PRODUCTION")
        )
    elif plant == "release environment":
        planted["hello.yml"]["jobs"]["production"]["with"]["environment"] = "prod"
    else:
        github = copy.deepcopy(stacks[GITHUB_STACK])
        for ruleset in github["resource"]["github_repository_ruleset"].values():
            ruleset["rules"]["required_status_checks"]["required_check"].append({"context": "plan (qa)"})
        stacks[GITHUB_STACK] = github
    problems = crosscheck(planted, stacks, synthesized.settings.account.github_repository)
    assert any(message in p for p in problems), problems


def test_the_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        *("deploy.yml", "drift.yml", "hello.yml", "pull-request.yml", "runner-image.yml"),
        *("service-build.yml", "service-pull-request.yml", "service-release.yml"),
    ]
