"""One source of truth, checked for any set of environments: the workflows, the OIDC trust policies
of the account stack and the github stack cannot disagree (issue "Delivery pipeline", item 5; issue 25,
"Environments are data").

No workflow lists environments: each job's matrix is computed from ``qualisys-infra environments
--json`` (.github/actions/environments). So the check runs for sets of environments, today's three and
a generated set (a reviewed ``qa`` in another region, a ``sandbox`` applied by hand): for each, the
account and github stacks are synthesized in-process with those deliveries, the workflows are
expanded for the lists the environments job computes (tests/delivery/expand.py), and

- every pipeline environment has an apply role inside its own permissions boundary and a release
  role, each trusting exactly ``repo:<repo>:environment:<name>``; a manual one has neither, and no
  role trusts its subject; every boundary fences off every other environment's state;
- the github stack has a GitHub environment for each pipeline environment, with reviewers iff its
  ``approval``, and requires a plan of every environment;
- every ``environment:`` a job runs in exists in the github stack, and the role the job assumes trusts
  exactly that environment's subject from that job's workflow file (the token's job_workflow_ref), as
  the only pipeline role that does; a job without an environment assumes only roles trusted for pull
  requests and main;
- every ``vars.NAME`` a job reads is an Actions variable the github stack sets;
- pull requests plan and drift checks every environment, deploy applies exactly the pipeline ones,
  and an environment with approval only after every one without;
- no job names an environment or keeps a list of them by hand.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.core.naming import GITHUB_STACK, MAIN_BRANCH
from qualisys_infra.core.settings import Delivery, EnvironmentDelivery, Settings
from tests.conftest import ROOT, Synthesized
from tests.delivery.checks import load
from tests.delivery.environments import GENERATED, SETS, TODAY, synth_account_stacks
from tests.delivery.expand import Instance, expand, matrices
from tests.synth.helpers import ref

WORKFLOWS = ROOT / ".github" / "workflows"
# A github stack variable holding an account role's ARN (a cross-stack reference).
ROLE_OUTPUT = re.compile(r"cross-stack-output-aws_iam_role-(.+)-arn\}$")


def _trusts(account: Mapping[str, Any], role_key: str) -> set[tuple[str, str | None]]:
    """(sub, job_workflow_ref) pairs the role's trust admits; None: any workflow."""
    role = account["resource"]["aws_iam_role"][role_key]
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


def _roles_of_variables(github: Mapping[str, Any]) -> dict[str, str]:
    """Actions variable -> the account stack's role (resource key) whose ARN it holds."""
    roles = {}
    for variable in github["resource"]["github_actions_variable"].values():
        match = ROLE_OUTPUT.search(str(variable["value"]))
        if match:
            roles[variable["variable_name"]] = match[1]
    return roles


def _job_problems(instance: Instance, stacks: Mapping[str, Any], repo: str) -> list[str]:
    """One job, as it runs for one environment, against the stacks."""
    account, github = stacks["account"], stacks[GITHUB_STACK]
    where = instance.where
    variables = {v["variable_name"] for v in github["resource"]["github_actions_variable"].values()}
    environments = {e["environment"] for e in github["resource"]["github_repository_environment"].values()}
    role_of = _roles_of_variables(github)
    problems = [f"{where}: reads vars[{d}], a name no computed entry gives" for d in instance.dynamic]
    problems += [
        f"{where}: reads vars.{name}, which the github stack does not set"
        for name in sorted(instance.variables - variables)
    ]
    if instance.literal_environment:
        problems.append(f"{where}: names environment {instance.environment!r} literally, not from the computed list")
    roles = {role_of[v] for v in instance.variables if v in role_of}
    if instance.environment is not None:
        env = instance.environment
        if env not in environments:
            problems.append(f"{where}: environment {env!r} is not in the github stack")
        subject, workflow = f"repo:{repo}:environment:{env}", _workflow_ref(repo, instance.file)
        trusting = {
            r
            for r in set(role_of.values())
            if any(s == subject and w in (None, workflow) for s, w in _trusts(account, r))
        }
        if len(trusting) != 1 or trusting != roles:
            problems.append(
                f"{where}: environment {env!r} is trusted by {sorted(trusting)}, but the job assumes {sorted(roles)}"
            )
    else:
        allowed = {f"repo:{repo}:pull_request", f"repo:{repo}:ref:refs/heads/{MAIN_BRANCH}"}
        for role in sorted(roles):
            if not {s for s, _ in _trusts(account, role)} <= allowed:
                problems.append(
                    f"{where}: assumes {role} without an environment; only roles of pull requests and {MAIN_BRANCH} may"
                )
    return problems


def _identity_problems(
    deliveries: tuple[EnvironmentDelivery, ...], stacks: Mapping[str, Any], settings: Settings
) -> list[str]:
    """The account and github stacks against the environments' deliveries."""
    account, github = stacks["account"], stacks[GITHUB_STACK]
    project, repo, bucket = (
        settings.account.project,
        settings.account.github_repository,
        settings.account.state_bucket_name,
    )
    roles = {r["name"]: (key, r) for key, r in account["resource"]["aws_iam_role"].items()}
    policies = {p["name"]: (key, p) for key, p in account["resource"].get("aws_iam_policy", {}).items()}
    problems: list[str] = []
    names = [d.name for d in deliveries]
    for d in deliveries:
        subject = f"repo:{repo}:environment:{d.name}"
        apply_name, release_name = f"{project}-github-apply-{d.name}", f"{project}-github-release-{d.name}"
        boundary_name = f"{apply_name}-boundary"
        trusting = sorted(
            name for name, (key, _) in roles.items() if any(s == subject for s, _ in _trusts(account, key))
        )
        if d.delivery is Delivery.MANUAL:
            if trusting or boundary_name in policies:
                problems.append(
                    f"{d.name}: applied by hand, yet roles {trusting} trust it (boundary: {boundary_name in policies})"
                )
            continue
        if trusting != sorted((apply_name, release_name)):
            problems.append(f"{d.name}: {subject} is trusted by {trusting}, expected {apply_name} and {release_name}")
        if apply_name not in roles or boundary_name not in policies:
            problems.append(f"{d.name}: no apply role {apply_name} inside a boundary {boundary_name}")
            continue
        boundary_key, boundary = policies[boundary_name]
        if roles[apply_name][1].get("permissions_boundary") != f"${{aws_iam_policy.{boundary_key}.arn}}":
            problems.append(f"{d.name}: the apply role is not inside {boundary_name}")
        document = account["data"]["aws_iam_policy_document"][ref(boundary["policy"])[1]]
        fenced = {s.get("sid"): s for s in document["statement"]}.get("DenyOtherStateKeys", {}).get("resources", [])
        for other in names:
            if other != d.name and not any(r.endswith(f":::{bucket}/{other}/*") for r in fenced):
                problems.append(f"{d.name}: its boundary leaves {other}'s state open")
    envs = {e["environment"]: e for e in github["resource"]["github_repository_environment"].values()}
    expected = {d.name: d.approval for d in deliveries if d.delivery is Delivery.PIPELINE}
    if set(envs) != set(expected):
        problems.append(f"github stack has environments {sorted(envs)}, expected the pipeline ones {sorted(expected)}")
    for name, approval in expected.items():
        if name in envs and ("reviewers" in envs[name]) != approval:
            problems.append(
                f"{name}: reviewers {'missing' if approval else 'set'} for approval = {str(approval).lower()}"
            )
    checks = {
        c["context"]
        for r in github["resource"]["github_repository_ruleset"].values()
        for c in r["rules"]["required_status_checks"]["required_check"]
    }
    wanted = {"test", "synth-and-scan", *(f"plan ({n})" for n in names)}
    if checks != wanted:
        problems.append(f"ruleset requires {sorted(checks)}, expected {sorted(wanted)}")
    return problems


def _needs(job: Mapping[str, Any]) -> set[str]:
    needs = job.get("needs") or []
    return {needs} if isinstance(needs, str) else set(needs)


def _coverage_problems(
    deliveries: tuple[EnvironmentDelivery, ...],
    instances: list[Instance],
    workflows: Mapping[str, Any],
    checks: set[str],
) -> list[str]:
    """Which environments each workflow reaches, and in which order deploy applies them."""
    problems: list[str] = []
    every = sorted(d.name for d in deliveries)
    pipeline = sorted(d.name for d in deliveries if d.delivery is Delivery.PIPELINE)

    def reached(file: str, job_id: str) -> list[str]:
        return sorted(i.entry["name"] for i in instances if i.file == file and i.job_id == job_id and i.entry)

    for file, job_id, wanted in (("pull-request.yml", "plan", every), ("drift.yml", "drift", every)):
        if reached(file, job_id) != wanted:
            problems.append(f"{file}: {job_id} reaches {reached(file, job_id)}, expected every environment {wanted}")
    applies = [i for i in instances if i.file == "deploy.yml" and i.environment is not None]
    if sorted(i.environment or "" for i in applies) != pipeline:
        problems.append(f"deploy.yml applies {sorted(i.environment or '' for i in applies)}, expected {pipeline}")
    jobs = workflows["deploy.yml"]["jobs"]

    def before(job_id: str) -> set[str]:
        seen: set[str] = set()
        todo = list(_needs(jobs[job_id]))
        while todo:
            need = todo.pop()
            if need not in seen:
                seen.add(need)
                todo += list(_needs(jobs.get(need, {})))
        return seen

    unreviewed = {i.job_id for i in applies if i.entry and not i.entry["approval"]}
    for i in applies:
        if i.entry and i.entry["approval"] and not unreviewed <= before(i.job_id):
            problems.append(
                f"deploy.yml: {i.job_id} applies {i.environment} (approval) without waiting for {sorted(unreviewed)}"
            )
    names = {i.name for i in instances if i.file == "pull-request.yml"}
    problems += [f"ruleset requires {c!r}, which no job of pull-request.yml reports" for c in sorted(checks - names)]
    for file, doc in workflows.items():
        for job_id, job in (doc.get("jobs") or {}).items():
            env = ((job.get("strategy") or {}).get("matrix") or {}).get("env")
            if isinstance(env, list):
                problems.append(
                    f"{file}: {job_id}: a hand-kept environment list {env}; compute it (.github/actions/environments)"
                )
    return problems


def crosscheck(
    workflows: Mapping[str, dict[str, Any]],
    stacks: Mapping[str, Any],
    deliveries: tuple[EnvironmentDelivery, ...],
    settings: Settings,
) -> list[str]:
    """Every disagreement between ``workflows`` (file name -> parsed YAML), the stacks and ``deliveries``."""
    instances = expand(workflows, matrices(deliveries))
    repo = settings.account.github_repository
    problems = [p for i in instances for p in _job_problems(i, stacks, repo)]
    problems += _identity_problems(deliveries, stacks, settings)
    checks = {
        c["context"]
        for r in stacks[GITHUB_STACK]["resource"]["github_repository_ruleset"].values()
        for c in r["rules"]["required_status_checks"]["required_check"]
    }
    problems += _coverage_problems(deliveries, instances, workflows, checks)
    return problems


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


@pytest.fixture(scope="module")
def stacks_of(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Set name -> the account and github stacks synthesized with that set's deliveries (in-process)."""
    made = {
        name: synth_account_stacks(settings, deliveries, tmp_path_factory.mktemp(f"account-{name}"))
        for name, deliveries in SETS.items()
    }
    yield made


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_workflows_roles_and_the_github_stack_agree_for_any_environments(
    workflows: dict[str, dict[str, Any]], stacks_of: dict[str, dict[str, Any]], settings: Settings, set_name: str
) -> None:
    assert crosscheck(workflows, stacks_of[set_name], SETS[set_name], settings) == []


def test_todays_three_synthesize_as_the_session_does(
    stacks_of: dict[str, dict[str, Any]], synthesized: Synthesized
) -> None:
    """Today's deliveries give the account and github stacks the project's own synth writes."""
    for name in ("account", GITHUB_STACK):
        assert stacks_of["today"][name] == synthesized.stacks[name], name


def test_the_deploying_branch_is_the_protected_one(stacks_of: dict[str, dict[str, Any]], settings: Settings) -> None:
    assert MAIN_BRANCH in settings.account.github_deploy_branches
    github = stacks_of["generated"][GITHUB_STACK]["resource"]
    assert {p["branch_pattern"] for p in github["github_repository_environment_deployment_policy"].values()} == {
        MAIN_BRANCH
    }
    for ruleset in github["github_repository_ruleset"].values():
        assert ruleset["conditions"]["ref_name"]["include"] == [f"refs/heads/{MAIN_BRANCH}"]


def _set_job(planted: dict[str, Any], file: str, job_id: str, old: str, new: str) -> None:
    text = repr(planted[file]["jobs"][job_id])
    assert old in text, f"{file}: {job_id} has no {old!r}"
    planted[file]["jobs"][job_id] = _replace(planted[file]["jobs"][job_id], old, new)


def _replace(value: Any, old: str, new: str) -> Any:
    """``value`` (parsed YAML) with ``old`` replaced by ``new`` in every string."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _changed(deliveries: tuple[EnvironmentDelivery, ...], name: str, **changes: Any) -> tuple[EnvironmentDelivery, ...]:
    import dataclasses

    return tuple(dataclasses.replace(d, **changes) if d.name == name else d for d in deliveries)


PLANTS = {
    # The files list an environment the stacks were never given: the workflows reach it, nothing trusts it.
    "stacks of fewer environments": (
        "today",
        GENERATED,
        "deploy.yml: apply-approved (qa): environment 'qa' is not in the github stack",
    ),
    "variable the stacks lack": (
        "today",
        GENERATED,
        "reads vars.AWS_APPLY_ROLE_ARN_QA, which the github stack does not set",
    ),
    "sandbox claimed by CI": (
        "generated",
        _changed(GENERATED, "sandbox", delivery=Delivery.PIPELINE),
        "sandbox: no apply role qualisys-github-apply-sandbox inside a boundary",
    ),
    "staging claimed by hand": (
        "generated",
        _changed(GENERATED, "staging", delivery=Delivery.MANUAL),
        "staging: applied by hand, yet roles",
    ),
    "approval without reviewers": (
        "generated",
        _changed(GENERATED, "staging", approval=True),
        "staging: reviewers missing for approval = true",
    ),
    "apply takes the release role": ("generated", GENERATED, "but the job assumes ['github_release-qa_role']"),
    "release takes the apply role": (
        "generated",
        GENERATED,
        "service-release.yml: release (qa): environment 'qa' is trusted by ['github_release-qa_role'], but the job assumes ['github_apply-qa_role']",
    ),
    "hand-kept plan list": (
        "generated",
        GENERATED,
        "pull-request.yml: plan reaches ['dev', 'production', 'staging'], expected every environment",
    ),
    "literal environment": (
        "today",
        TODAY,
        "deploy.yml: apply-approved (production): names environment 'production' literally",
    ),
    "approved before the first wave": (
        "generated",
        GENERATED,
        "deploy.yml: apply-approved applies qa (approval) without waiting for ['apply-first']",
    ),
    "extra required check": (
        "today",
        TODAY,
        "ruleset requires 'plan (nope)', which no job of pull-request.yml reports",
    ),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_fails_if_workflows_stacks_and_deliveries_disagree(
    workflows: dict[str, dict[str, Any]], stacks_of: dict[str, dict[str, Any]], settings: Settings, plant: str
) -> None:
    stacks_name, deliveries, message = PLANTS[plant]
    planted = copy.deepcopy(workflows)
    stacks = dict(stacks_of[stacks_name])
    if plant == "apply takes the release role":
        _set_job(
            planted, "deploy.yml", "apply-approved", "vars[matrix.env.apply_role]", "vars[matrix.env.release_role]"
        )
    elif plant == "release takes the apply role":
        _set_job(planted, "service-release.yml", "release", ".release_role]", ".apply_role]")
    elif plant == "hand-kept plan list":
        planted["pull-request.yml"]["jobs"]["plan"]["strategy"]["matrix"]["env"] = ["dev", "staging", "production"]
    elif plant == "literal environment":
        planted["deploy.yml"]["jobs"]["apply-approved"]["environment"] = "production"
    elif plant == "approved before the first wave":
        planted["deploy.yml"]["jobs"]["plan-approved"]["needs"] = ["environments"]
    elif plant == "extra required check":
        github = copy.deepcopy(stacks[GITHUB_STACK])
        for ruleset in github["resource"]["github_repository_ruleset"].values():
            ruleset["rules"]["required_status_checks"]["required_check"].append({"context": "plan (nope)"})
        stacks[GITHUB_STACK] = github
    problems = crosscheck(planted, stacks, deliveries, settings)
    assert any(message in p for p in problems), problems


def test_the_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        *("deploy.yml", "drift.yml", "hello.yml", "pull-request.yml", "runner-image.yml"),
        *("service-build.yml", "service-pull-request.yml", "service-release.yml"),
    ]


def test_the_generated_set_has_every_kind_of_environment() -> None:
    """The generated set exercises each case: manual, pipeline with and without approval, another region."""
    kinds = {(d.delivery, d.approval) for d in GENERATED}
    assert {(Delivery.MANUAL, False), (Delivery.PIPELINE, False), (Delivery.PIPELINE, True)} <= kinds
    assert len({d.region for d in GENERATED}) > 1
    assert Path(ROOT / ".github" / "actions" / "environments" / "action.yml").is_file()


def test_a_copy_with_qa_tfvars_is_delivered_as_its_file_says(
    workflows: dict[str, dict[str, Any]], settings: Settings, tmp_path: Path
) -> None:
    """Issue 25's "done when": a copy of the project with a qa.tfvars (staging's file with its own
    name and network) and nothing else changed. Its loaded deliveries give account and github stacks
    with qa's roles, boundary and GitHub environment, the workflows' computed lists hold qa as its
    delivery says, and all of it agrees; today's three keep their addresses."""
    import subprocess

    from qualisys_infra.config import environment_names, load_settings
    from tests.config.test_environments import qa_text

    env_dir = tmp_path / "project" / "environments"
    env_dir.mkdir(parents=True)
    for path in (ROOT / "environments").glob("*.tfvars"):
        (env_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (env_dir / "qa.tfvars").write_text(qa_text(), encoding="utf-8")
    copy_settings = load_settings(env_dir, environment_names(env_dir), root=env_dir.parent)
    deliveries = copy_settings.deliveries
    names = [d.name for d in deliveries]
    assert "qa" in names and [n for n in names if n != "qa"] == ["dev", "staging", "production"], names
    qa = next(d for d in deliveries if d.name == "qa")
    assert (qa.delivery, qa.approval) == (Delivery.PIPELINE, False), "staging's copy is delivered as staging is"
    stacks = synth_account_stacks(copy_settings, deliveries, tmp_path / "out")
    assert crosscheck(workflows, stacks, deliveries, copy_settings) == []
    assert "github_apply-qa_role" in stacks["account"]["resource"]["aws_iam_role"]
    # The workflows' list, computed as the environments job does: the real command on the copy.
    listed = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "qualisys-infra"),
            "environments",
            "--json",
            "--project-dir",
            str(env_dir.parent),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    first = [e["name"] for e in matrices_of(listed.stdout)["first"]]
    assert "qa" in first and "staging" in first
    # Today's three: the same addresses as without qa (only qa's are added).
    today = synth_account_stacks(settings, settings.deliveries, tmp_path / "today")
    for name in ("account", GITHUB_STACK):
        for kind, resources in today[name]["resource"].items():
            assert set(resources) <= set(stacks[name]["resource"][kind]), (name, kind)


def matrices_of(text: str) -> dict[str, Any]:
    """matrix.py's lists of the JSON the command printed."""
    import json

    from tests.delivery.expand import matrix_module

    result: dict[str, Any] = matrix_module().matrices(json.loads(text))
    return result
