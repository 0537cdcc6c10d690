"""Checks of .github/ that the linters cannot know: names this project agreed on.

actionlint, zizmor and check-jsonschema know GitHub Actions; they do not know that the protected
environments are called ``staging`` and ``production``, which Actions variables hold the roles, or
which job names the branch ruleset requires. A typo there passes every linter and fails only in
the cloud (a job that waits for an environment nobody protects, a role ARN that is empty).

No workflow lists environments (issue 25): a job runs for the entries the `environments` job computes
from environments/*.tfvars (.github/actions/environments), and reads its role and runner variables
from its entry. The checks expand every job for a set of environments (tests/delivery/expand.py: the
generated set, today's three plus a reviewed `qa` and a manual `sandbox`) and check each instance;
a literal environment, a hand-kept list or a variable name built by `format()` is a problem.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.delivery.environments import GENERATED
from tests.delivery.expand import Instance, expand, matrices

# The environments every job is expanded for (a superset of today's three: tests/delivery/environments.py).
CHECKED_ENVIRONMENTS = GENERATED
# Role variables read without an environment: the read-only plan role and the image pusher.
ACCOUNT_ROLE_VARIABLES = ("AWS_PLAN_ROLE_ARN", "AWS_CI_DEPLOYER_ROLE_ARN")
# Required status checks of the branch ruleset, by workflow file and job id.
REQUIRED_CHECKS: Mapping[str, tuple[str, ...]] = {
    "pull-request.yml": ("test", "synth-and-scan", "plan"),
}
ROLE_REFERENCE = re.compile(r"vars\.(AWS_[A-Z0-9_]*ROLE[A-Z0-9_]*)")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")
# The runner of a job that reaches a cluster's private API: an environment's runners of one duty,
# whose label the github stack sets as vars.CLUSTER_RUNNER_<DUTY>_<ENV> (naming.runner_variable), read
# through the job's entry (`vars[matrix.env.apply_runner]`). "PLAN" runners take pull requests'
# unreviewed code, "APPLY" runners reviewed code from main; the two never share a runner.
RUNNER_DUTY = re.compile(r"^CLUSTER_RUNNER_(?P<duty>[A-Z]+)_")
# Literal environment names where a computed one belongs: `--env staging`, `== 'production'`.
LITERAL_ENV = re.compile(r"--env\s+(?P<flag>[a-z][a-z0-9-]*)|==\s*'(?P<compared>[a-z][a-z0-9-]*)'")
# A container image by digest: NAME:TAG@sha256:<64 hex> (the tag says which, the digest what).
IMAGE_BY_DIGEST = re.compile(r"^(?P<name>[a-z0-9][a-z0-9./_-]*):(?P<tag>[\w][\w.-]*)@sha256:[0-9a-f]{64}$")
# Files a plan leaves in plans/<env>/ that hold a snapshot of the state (secrets included): a pull
# request's run never uploads them, only its reviews.
PLAN_FILES_WITH_STATE = ("plans/dev/dev-network.tfplan", "plans/staging/staging-data.tfplan", "plans/dev/dev-data.json")


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


def check_workflow(path: Path, instances: list[Instance] | None = None) -> list[str]:
    """Problems in one workflow file, as ``file: job: message`` lines; ``instances``: every job of
    every workflow expanded (:func:`expanded`), by default those of ``path``'s folder."""
    doc = load(path)
    if instances is None:
        instances = expanded(path.parent)
    problems: list[str] = []
    if doc.get("permissions") != {}:
        problems.append(f"{path.name}: the top level must say `permissions: {{}}` (grants go per job)")
    for name, job in _jobs(doc).items():
        where = f"{path.name}: {name}"
        environment = _environment_name(job)
        if "permissions" not in job:
            problems.append(f"{where}: no `permissions:` of its own")
        if "timeout-minutes" not in job and "uses" not in job:  # a called workflow's jobs have their own
            problems.append(f"{where}: no `timeout-minutes`")
        problems += _plan_role_plans(where, job)
        concurrency = job.get("concurrency")
        if environment is not None and not _queued_never_cancelled(concurrency):
            problems.append(
                f"{where}: an apply needs `concurrency` with `cancel-in-progress: false` and `queue: max`"
                " (the default queue cancels a waiting apply when another arrives)"
            )
        problems += _queue_problems(where, concurrency)
        problems += _service_image_problems(where, job)
        problems += _hand_kept_problems(where, job)
        if _on_pull_request(doc):
            problems += _upload_problems(where, job)
    untrusted = _on_pull_request(doc)
    for instance in instances:
        if instance.file == path.name:
            problems += _instance_problems(instance, instances, untrusted=untrusted)
    problems += _dispatch_problems(path.name, doc)
    problems += _queue_problems(f"{path.name}: (workflow)", doc.get("concurrency"))
    for required in REQUIRED_CHECKS.get(path.name, ()):
        if required not in _jobs(doc):
            problems.append(f"{path.name}: required check job {required!r} is missing")
    return sorted(set(problems), key=problems.index)


def expanded(workflows_dir: Path) -> list[Instance]:
    """Every job of the workflows in ``workflows_dir``, expanded for :data:`CHECKED_ENVIRONMENTS`."""
    docs = {p.name: load(p) for p in sorted(workflows_dir.glob("*.yml"))}
    return expand(docs, matrices(CHECKED_ENVIRONMENTS))


def _entries() -> list[dict[str, Any]]:
    computed: list[dict[str, Any]] = matrices(CHECKED_ENVIRONMENTS)["all"]
    return computed


def _instance_problems(instance: Instance, instances: list[Instance], *, untrusted: bool) -> list[str]:
    """One job as it runs for one environment: its environment, role and runner variables."""
    where = instance.where
    entries = _entries()
    names = {e["name"] for e in entries}
    problems = [
        f"{where}: reads vars[{d}]: a variable's name comes from the job's entry, not format()"
        for d in instance.dynamic
    ]
    if instance.literal_environment:
        problems.append(
            f"{where}: environment {instance.environment!r} is named literally; take it from the computed"
            " list (matrix.env.name, or the caller's input)"
        )
    if instance.environment is not None and instance.environment not in names:
        problems.append(f"{where}: environment {instance.environment!r} is not one of {sorted(names)}")
    owner = {e[kind]: e["name"] for e in entries for kind in ("apply_role", "release_role") if e[kind]}
    roles = {v for v in instance.variables if "ROLE" in v}
    for role in sorted(roles):
        if role not in owner and role not in ACCOUNT_ROLE_VARIABLES:
            known = sorted({*ACCOUNT_ROLE_VARIABLES, *owner})
            problems.append(f"{where}: role variable {role!r} is not one of {known}")
        elif role in owner and owner[role] != instance.environment:
            problems.append(f"{where}: {role} belongs in environment {owner[role]!r}")
    literal = yaml.safe_dump(dict(instance.job), width=1 << 20)
    for match in LITERAL_ENV.finditer(literal):
        name = match["flag"] or match["compared"]
        if name in names:
            problems.append(f"{where}: names environment {name!r} literally")
    if roles & {"AWS_PLAN_ROLE_ARN", *owner}:
        problems += _runner_problems(where, instance, untrusted=untrusted)
    return problems


def _runner_problems(where: str, instance: Instance, *, untrusted: bool) -> list[str]:
    """A job that assumes a role reaching a cluster runs on that environment's runners of its duty:
    "PLAN" for a pull request's code (unreviewed), "APPLY" for everything else; never both pools
    for one kind of code, so a pull request cannot leave anything behind on a runner that applies."""
    runner = instance.runner
    if runner is None:
        runs_on = str(instance.job.get("runs-on", ""))
        return [f"{where}: reaches a cluster from {runs_on!r}, not vars[matrix.env.<duty>_runner] (the entry's runner)"]
    runners = {e[kind] for e in _entries() for kind in ("plan_runner", "apply_runner")}
    if runner not in runners:
        return [f"{where}: runner variable {runner!r}, which no environment has"]
    match = RUNNER_DUTY.match(runner)
    duty = match["duty"] if match else "?"
    problems = []
    if untrusted and duty != "PLAN":
        problems.append(f"{where}: runs a pull request's unreviewed code on the {duty} runners, not the PLAN ones")
    if not untrusted and duty != "APPLY":
        problems.append(f"{where}: runs reviewed code that may apply on the {duty} runners, not the APPLY ones")
    entry = instance.entry
    if entry is not None and runner not in (entry["plan_runner"], entry["apply_runner"]):
        problems.append(f"{where}: runs on {runner}, not a runner of {entry['name']!r}")
    return problems


def _hand_kept_problems(where: str, job: Mapping[str, Any]) -> list[str]:
    """A matrix of environments is computed (`fromJSON(needs.environments.outputs.<list>)` of a job
    that runs .github/actions/environments), never written out."""
    env = ((job.get("strategy") or {}).get("matrix") or {}).get("env")
    if env is None:
        return []
    if isinstance(env, list):
        return [f"{where}: a hand-kept environment list {env}; compute it with .github/actions/environments"]
    needs = job.get("needs") or []
    if "fromJSON(needs.environments.outputs." not in str(env) or "environments" not in (
        [needs] if isinstance(needs, str) else needs
    ):
        return [f"{where}: matrix env {env!r} is not the environments job's computed list"]
    return []


def _dispatch_problems(file: str, doc: Mapping[Any, Any]) -> list[str]:
    """A dispatch input whose options list environments is a hand-kept list too."""
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
    dispatch = triggers.get("workflow_dispatch") if isinstance(triggers, dict) else None
    names = {e["name"] for e in _entries()}
    problems = []
    for name, spec in ((dispatch or {}).get("inputs") or {}).items():
        listed = sorted(names & set(map(str, (spec or {}).get("options") or [])))
        if listed:
            problems.append(f"{file}: workflow_dispatch input {name!r} lists environments {listed} by hand")
    return problems


def _on_pull_request(doc: Mapping[Any, Any]) -> bool:
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
    return "pull_request" in (triggers if isinstance(triggers, (dict, list)) else [triggers])


def _queued_never_cancelled(concurrency: Any) -> bool:
    """Every run that waits is kept and none is cancelled: GitHub's default queue holds one waiting
    run and cancels it when the next arrives; `queue: max` keeps them all, in order (up to 100)."""
    return (
        isinstance(concurrency, dict)
        and concurrency.get("cancel-in-progress") is False
        and concurrency.get("queue") == "max"
    )


def _queue_problems(where: str, concurrency: Any) -> list[str]:
    """`queue: max` with cancel-in-progress other than false is a workflow GitHub refuses to run
    (an expression counts: it may be true)."""
    if not isinstance(concurrency, dict) or concurrency.get("queue") != "max":
        return []
    cancel = concurrency.get("cancel-in-progress", False)
    return [] if cancel is False else [f"{where}: `queue: max` with cancel-in-progress {cancel!r}: GitHub refuses it"]


def _service_image_problems(where: str, job: Mapping[str, Any]) -> list[str]:
    """Service containers by digest, and PostgreSQL and Redis of the majors RDS and ElastiCache run."""
    problems: list[str] = []
    for name, service in (job.get("services") or {}).items():
        image = str((service or {}).get("image", ""))
        literal = re.search(r"'([^']+)'", image) if "${{" in image else None
        reference = literal[1] if literal else image
        match = IMAGE_BY_DIGEST.match(reference)
        if match is None:
            problems.append(f"{where}: service {name} image {reference!r} is not NAME:TAG@sha256:<digest>")
            continue
        image_name, major = match["name"].rsplit("/", 1)[-1], match["tag"].split(".")[0].split("-")[0]
        wanted = DATA_TIER_MAJORS.get(image_name)
        if wanted is not None and major not in wanted:
            problems.append(
                f"{where}: service {name} runs {image_name} {major}, the environments run {'/'.join(sorted(wanted))}"
            )
    return problems


def _data_tier_majors() -> dict[str, frozenset[str]]:
    """The PostgreSQL and Redis majors the environments' RDS and ElastiCache run: each tfvars' value,
    or the settings' default (read as data: these checks need two fields, not a valid environment)."""
    import dataclasses

    from qualisys_infra.config.hclfile import read_hcl
    from qualisys_infra.core.runtime import PROJECT_ROOT
    from qualisys_infra.core.settings import EnvironmentConfig
    from tests.conftest import ENVIRONMENT_NAMES

    defaults = {f.name: f.default for f in dataclasses.fields(EnvironmentConfig)}
    majors: dict[str, set[str]] = {"postgres": set(), "redis": set()}
    for name in ENVIRONMENT_NAMES:
        path = PROJECT_ROOT / "environments" / f"{name}.tfvars"
        values = read_hcl(path, path.name).values
        for image, key in (("postgres", "rds_engine_version"), ("redis", "redis_engine_version")):
            majors[image].add(str(values.get(key, defaults[key])).split(".")[0])
    return {image: frozenset(found) for image, found in majors.items()}


DATA_TIER_MAJORS = _data_tier_majors()


def _upload_problems(where: str, job: Mapping[str, Any]) -> list[str]:
    """An artifact of a pull request's run never holds a saved plan or a plan's JSON."""
    problems: list[str] = []
    for step in job.get("steps") or []:
        if not str(step.get("uses", "")).startswith("actions/upload-artifact@"):
            continue
        for raw in str((step.get("with") or {}).get("path", "")).splitlines():
            pattern = re.sub(r"\$\{\{[^}]*\}\}", "*", raw.strip())
            if not pattern:
                continue
            below = pattern.rstrip("/") + "/*"  # a folder uploads everything below it
            for planned in PLAN_FILES_WITH_STATE:
                if pattern in (".", "./") or any(fnmatch.fnmatch(planned, glob) for glob in (pattern, below)):
                    problems.append(f"{where}: uploads {raw.strip()!r}, which holds {planned} (a state snapshot)")
                    break
    return problems


def _plan_role_plans(where: str, job: Mapping[str, Any]) -> list[str]:
    """A job on the plan role (which may not read Kubernetes Secrets) plans with --no-secret-reads or
    --leave-out-secret-readers, else its plan stops at the first Helm release whose record it may not
    read; and with --no-state-lock: the plan role may not write state locks (pull requests assume it,
    and their code is unreviewed), so its plans take none."""
    if "vars.AWS_PLAN_ROLE_ARN" not in yaml.safe_dump(job):
        return []
    runs = [str(step.get("run", "")) for step in job.get("steps") or [] if isinstance(step, dict)]
    plans = [run for run in runs if re.search(r"qualisys-infra plan\b", run)]
    return [
        f"{where}: `qualisys-infra plan` on the plan role needs --no-secret-reads or --leave-out-secret-readers"
        for run in plans
        if not re.search(r"--(no-secret-reads|leave-out-secret-readers)", run)
    ] + [
        f"{where}: `qualisys-infra plan` on the plan role needs --no-state-lock (the role may not write locks)"
        for run in plans
        if not re.search(r"--no-state-lock\b", run)
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
    instances = expanded(github / "workflows")
    for path in sorted((github / "workflows").glob("*.yml")):
        problems += check_workflow(path, instances) + check_pins(path) + check_checkouts(path)
    for path in sorted((github / "actions").glob("*/action.yml")):
        problems += check_pins(path) + check_checkouts(path)
    return problems
