"""Checks of .github/ that the linters cannot know: names this project agreed on.

actionlint, zizmor and check-jsonschema know GitHub Actions; they do not know that the protected
environments are called ``staging`` and ``production``, which Actions variables hold the roles, or
which job names the branch ruleset requires. A typo there passes every linter and fails only in
the cloud (a job that waits for an environment nobody protects, a role ARN that is empty).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# GitHub environments the apply jobs run in; the OIDC trust policies name them in their `sub`.
ENVIRONMENTS = frozenset({"staging", "production"})
# Actions variables holding role ARNs, and the job environment each apply role may be used in
# (None: a read-only role, used without an environment).
ROLE_VARIABLES: Mapping[str, str | None] = {
    "AWS_PLAN_ROLE_ARN": None,
    "AWS_CI_DEPLOYER_ROLE_ARN": None,  # pushes images from main (service-build.yml), never in an environment
    "AWS_APPLY_ROLE_ARN_STAGING": "staging",
    "AWS_APPLY_ROLE_ARN_PRODUCTION": "production",
}
# Required status checks of the branch ruleset, by workflow file and job id.
REQUIRED_CHECKS: Mapping[str, tuple[str, ...]] = {
    "pull-request.yml": ("test", "synth-and-scan", "plan"),
}
# `environment: ${{ inputs.NAME }}` in a reusable workflow: its callers name the environment and the
# job picks the role by that input; tests/delivery/test_service_workflows.py checks both.
INPUT_ENVIRONMENT = re.compile(r"^\$\{\{\s*inputs\.[\w-]+\s*\}\}$")
ROLE_REFERENCE = re.compile(r"vars\.(AWS_[A-Z0-9_]*ROLE[A-Z0-9_]*)")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return data


def _jobs(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    jobs = doc.get("jobs") or {}
    return {str(k): v for k, v in jobs.items() if isinstance(v, dict)}


def _environment_name(job: Mapping[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    return None if env is None else str(env)


def check_workflow(path: Path) -> list[str]:
    """Problems in one workflow file, as ``file: job: message`` lines."""
    doc = load(path)
    problems: list[str] = []
    if doc.get("permissions") != {}:
        problems.append(f"{path.name}: the top level must say `permissions: {{}}` (grants go per job)")
    for name, job in _jobs(doc).items():
        where = f"{path.name}: {name}"
        environment = _environment_name(job)
        by_input = INPUT_ENVIRONMENT.match(environment or "") is not None
        if environment is not None and not by_input and environment not in ENVIRONMENTS:
            problems.append(f"{where}: environment {environment!r} is not one of {sorted(ENVIRONMENTS)}")
        if "permissions" not in job:
            problems.append(f"{where}: no `permissions:` of its own")
        if "timeout-minutes" not in job and "uses" not in job:  # a called workflow's jobs have their own
            problems.append(f"{where}: no `timeout-minutes`")
        for role in ROLE_REFERENCE.findall(yaml.safe_dump(job)):
            if role not in ROLE_VARIABLES:
                problems.append(f"{where}: role variable {role!r} is not one of {sorted(ROLE_VARIABLES)}")
            elif not by_input and ROLE_VARIABLES[role] not in (None, environment):
                problems.append(f"{where}: {role} belongs in environment {ROLE_VARIABLES[role]!r}")
        problems += _plan_role_plans(where, job)
        concurrency = job.get("concurrency")
        if environment is not None and (not isinstance(concurrency, dict) or concurrency.get("cancel-in-progress")):
            problems.append(f"{where}: an apply needs `concurrency` with `cancel-in-progress: false`")
    for required in REQUIRED_CHECKS.get(path.name, ()):
        if required not in _jobs(doc):
            problems.append(f"{path.name}: required check job {required!r} is missing")
    return problems


def _plan_role_plans(where: str, job: Mapping[str, Any]) -> list[str]:
    """A job on the plan role (which may not read Kubernetes Secrets) plans with --no-secret-reads or
    --leave-out-secret-readers, else its plan stops at the first Helm release whose record it may not read."""
    if "vars.AWS_PLAN_ROLE_ARN" not in yaml.safe_dump(job):
        return []
    runs = [str(step.get("run", "")) for step in job.get("steps") or [] if isinstance(step, dict)]
    return [
        f"{where}: `qualisys-infra plan` on the plan role needs --no-secret-reads or --leave-out-secret-readers"
        for run in runs
        if re.search(r"qualisys-infra plan\b", run)
        and not re.search(r"--(no-secret-reads|leave-out-secret-readers)", run)
    ]


def check_pins(path: Path) -> list[str]:
    """Every action from another repository pinned to a full SHA with a ``# vX.Y.Z`` comment."""
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match or match[1].startswith("./"):
            continue
        if not PINNED.match(match[1]) or not VERSION_COMMENT.search(match[2]):
            problems.append(f"{path.name}:{number}: {match[1]} is not pinned as OWNER/REPO@<40-hex SHA> # vX.Y.Z")
    return problems


def check_checkouts(path: Path) -> list[str]:
    problems = []
    doc = load(path)
    steps: Iterable[Any] = [s for job in _jobs(doc).values() for s in job.get("steps") or []]
    if "runs" in doc:
        steps = doc["runs"].get("steps") or []
    for step in steps:
        checkout = str(step.get("uses", "")).startswith("actions/checkout@")
        if checkout and (step.get("with") or {}).get("persist-credentials") is not False:
            problems.append(f"{path.name}: actions/checkout without `persist-credentials: false`")
    return problems


def check_all(github: Path) -> list[str]:
    """Every problem under a .github folder."""
    problems: list[str] = []
    for path in sorted((github / "workflows").glob("*.yml")):
        problems += check_workflow(path) + check_pins(path) + check_checkouts(path)
    for path in sorted((github / "actions").glob("*/action.yml")):
        problems += check_pins(path) + check_checkouts(path)
    return problems
