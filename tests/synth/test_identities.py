"""Identities by duty (issue 23, item 4), computed and held to the spec's sentence: "CI/CD can deploy
to staging namespace ONLY, cannot read secrets, cannot exec into pods".

For each identity (the pipeline's plan role, each apply role, each release role, the image-pushing
ci-deployer role and the administrators' role) :mod:`tests.synth.identities` computes from the
synthesized stacks what it may do in each cluster (EKS access policies plus the RBAC bound to its
groups) and in AWS (its policies, its boundary, the secrets' own policies), and :func:`problems`
names every way that breaks the duties:

- a release role reads no Secret, creates no pod, execs, attaches or port-forwards into none, writes
  no RBAC, touches no namespace but its environment's, writes no state but its apps stack's, reads
  no secret value in AWS; and it can do what a release does;
- the plan role writes nothing in a cluster and reads no Secret; the ci-deployer role reaches no
  cluster; none of the pipeline's roles reads a secret value;
- only the administrators and the environment's apply role administer a cluster, and an apply role
  is assumed only by deploy.yml's job in the protected GitHub environment of its name (its trust and
  the workflows, read here, agree);
- only the administrators read the RDS master secret, and where each deploy proves isolation on the
  environment's database (sign-off 6, naming.ISOLATION_VERIFIED_ENVIRONMENTS) that environment's apply role.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from modules.github_delivery import APPS_STACK, RECORDING_ENVIRONMENT, RELEASE_READS, pipeline_environments
from modules.platform.kinds import MANIFEST_RESOURCES
from qualisys_infra.core.naming import (
    APPLY_WORKFLOW,
    BOOTSTRAP_STACK,
    ENVIRONMENT_STACK_KINDS,
    GITHUB_STACK,
    ISOLATION_VERIFIED_ENVIRONMENTS,
    MAIN_BRANCH,
    RELEASE_WORKFLOW,
    apply_role_name,
    plan_role_name,
    release_role_name,
    state_key,
)
from qualisys_infra.core.settings import Settings
from tests.conftest import ENVIRONMENT_NAMES, ROOT, Synthesized
from tests.delivery.checks import load
from tests.delivery.expand import expand, matrices
from tests.synth.identities import (
    ACCESS_POLICIES,
    ACCOUNT_ID,
    ALL,
    CLUSTER,
    REGION,
    Cluster,
    Grant,
    Identity,
    allowing,
    identity,
    secret_policies,
    trust,
)

WORKFLOWS = ROOT / ".github" / "workflows"
STATE_BUCKET = "arn:aws:s3:::{bucket}"
STATE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0a1b2c3d-0000-0000-0000-000000000000"
# What a pod may be entered or driven through: exec, attach, port-forward, proxy (any verb: exec is a
# create, or a get over WebSockets).
POD_ENTRY = ("pods/exec", "pods/attach", "pods/portforward", "pods/proxy")
RBAC = "rbac.authorization.k8s.io"
ESCALATING_VERBS = ("bind", "escalate", "impersonate")


def _pipeline(settings: Settings) -> tuple[str, ...]:
    """The environments CI applies (``delivery = "pipeline"``), each with an apply and a release role."""
    return pipeline_environments(settings.deliveries)


def _roles(settings: Settings) -> dict[str, str]:
    """Every identity by duty -> its IAM role name."""
    project = settings.account.project
    return {
        "plan": plan_role_name(project),
        **{f"apply-{env}": apply_role_name(project, env) for env in _pipeline(settings)},
        **{f"release-{env}": release_role_name(project, env) for env in _pipeline(settings)},
        "ci-deployer": settings.account.ci_deployer_role_name,
        "admin": settings.account.admin_role_name,
    }


def _identities(stacks: Mapping[str, Any], settings: Settings) -> dict[str, Identity]:
    return {duty: identity(stacks["account"], name) for duty, name in _roles(settings).items()}


def _clusters(stacks: Mapping[str, Any]) -> dict[str, Cluster]:
    return {env: Cluster(stacks[f"{env}-cluster"], stacks[f"{env}-platform"]) for env in ENVIRONMENT_NAMES}


def _namespaces(cluster: Cluster) -> list[str]:
    return sorted(set(cluster.namespaces.values()))


def _every_secret(stacks: Mapping[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for name, stack in stacks.items():
        found.update(secret_policies(stack, name))
    return found


def _state_object(settings: Settings, key: str) -> str:
    return f"{STATE_BUCKET.format(bucket=settings.account.state_bucket_name)}/{key}"


def _every_state_key() -> list[str]:
    return [
        state_key(BOOTSTRAP_STACK, BOOTSTRAP_STACK),
        "account/account.tfstate",
        f"account/{GITHUB_STACK}.tfstate",
        *(state_key(env, kind) for env in ENVIRONMENT_NAMES for kind in ENVIRONMENT_STACK_KINDS),
    ]


def _shown(grants: list[Grant]) -> str:
    return "; ".join(sorted({g.source for g in grants}))


def _cluster_problems(who: str, grants: list[Grant], cluster: Cluster, *, own_namespace: str | None) -> list[str]:
    """What ``grants`` allow that no pipeline identity may: Secrets, entering pods, creating pods, RBAC
    writes or escalation; and with ``own_namespace``, anything outside it but reading CRDs."""
    problems = []
    spaces = ["", *_namespaces(cluster)]
    secrets = [
        g for ns in spaces for verb in ("get", "list", "watch") for g in allowing(grants, verb, "", "secrets", ns)
    ]
    if secrets:
        problems.append(f"{who} can read Secrets ({_shown(secrets)})")
    entering = [
        g for ns in spaces for r in POD_ENTRY for verb in ("create", "get") for g in allowing(grants, verb, "", r, ns)
    ]
    if entering:
        problems.append(f"{who} can exec into, attach to or port-forward pods ({_shown(entering)})")
    creating = [g for ns in spaces for g in allowing(grants, "create", "", "pods", ns)]
    if creating:
        problems.append(f"{who} can create pods ({_shown(creating)})")
    rbac = [
        g
        for ns in spaces
        for r in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
        for verb in ("create", "update", "patch", *ESCALATING_VERBS)
        for g in allowing(grants, verb, RBAC, r, ns)
    ] + [g for g in grants if {ALL, *ESCALATING_VERBS} & g.verbs]
    if rbac:
        problems.append(f"{who} can write RBAC or escalate ({_shown(rbac)})")
    if own_namespace is not None:
        outside = [g for g in grants if g.scope not in (own_namespace, CLUSTER) or g.touches_namespaces()]
        if outside:
            problems.append(f"{who} reaches beyond namespace {own_namespace} ({_shown(outside)})")
    return problems


def problems(stacks: Mapping[str, Any], settings: Settings, workflows: Mapping[str, dict[str, Any]]) -> list[str]:
    """Every way the synthesized identities (and the workflows that assume them) break the duties."""
    roles = _roles(settings)
    identities = _identities(stacks, settings)
    clusters = _clusters(stacks)
    secrets = _every_secret(stacks)
    found: list[str] = []

    for env, cluster in clusters.items():
        principals = cluster.principals()
        for duty, role in roles.items():
            if role not in principals:
                continue
            grants = cluster.grants(role)
            who = f"{env} cluster: {duty} ({role})"
            if duty.startswith("release-"):
                found += _cluster_problems(who, grants, cluster, own_namespace=env)
                found += _release_needs(who, grants, env)
                if duty != f"release-{env}":
                    found.append(f"{who} is another environment's release role")
            elif duty == "plan":
                found += _cluster_problems(who, grants, cluster, own_namespace=None)
                writes = [g for g in grants if g.verbs - {"get", "list", "watch"}]
                if writes:
                    found.append(f"{who} can change objects ({_shown(writes)})")
            elif duty == "ci-deployer":
                found.append(f"{who} reaches a cluster: only the release roles deploy")
            # Administering the cluster (every verb on everything): the administrators, and the
            # environment's apply role.
            admin = [
                g for g in grants if g.scope == CLUSTER and g.group == ALL and g.resource == ALL and ALL in g.verbs
            ]
            allowed = {"admin", f"apply-{env}"}
            if admin and duty not in allowed:
                found.append(f"{who} administers the cluster ({_shown(admin)})")

    for duty in roles:
        me = identities[duty]
        if duty == "admin":
            continue
        for arn, policy in secrets.items():
            if "secret:rds!" in arn:
                continue  # the RDS master secrets: who reads each is checked below, per environment
            if me.may("secretsmanager:GetSecretValue", arn, resource_policy=policy):
                found.append(
                    f"{duty} ({me.name}) can read the secret {arn}: {me.decide('secretsmanager:GetSecretValue', arn, resource_policy=policy)[1]}"
                )

    for stack_name, stack in stacks.items():
        env = stack_name.rsplit("-", 1)[0]
        for arn, policy in secret_policies(stack, stack_name).items():
            if "secret:rds!" not in arn:
                continue
            readers = {
                d
                for d, me in identities.items()
                if me.may("secretsmanager:GetSecretValue", arn, resource_policy=policy)
            }
            # sign-off 6 after each deploy of this environment reads it as the environment's apply role
            expected = {"admin"} | ({f"apply-{env}"} if env in ISOLATION_VERIFIED_ENVIRONMENTS else set())
            if readers != expected:
                found.append(f"the RDS master secret is read by {sorted(readers)}, expected {sorted(expected)}")

    for env in _pipeline(settings):
        found += _release_aws(identities[f"release-{env}"], settings, env)
    found += _workflow_problems(stacks, settings, workflows)
    return found


def _release_needs(who: str, grants: list[Grant], env: str) -> list[str]:
    """What a release does in its namespace: apply the apps stack's kinds, follow the rollout."""
    needs = [
        *(
            (verb, group, resource)
            for (group, _kind), resource in MANIFEST_RESOURCES.items()
            for verb in ("get", "patch", "create", "delete")
        ),
        ("patch", "argoproj.io", "rollouts/status"),
        ("list", "argoproj.io", "analysisruns"),
        ("list", "", "pods"),
        ("get", "apiextensions.k8s.io", "customresourcedefinitions"),
    ]
    missing = []
    for verb, group, resource in needs:
        namespace = "" if resource == "customresourcedefinitions" else env
        if not allowing(grants, verb, group, resource, namespace):
            missing.append(f"{verb} {group or 'core'}/{resource}")
    return [f"{who} cannot {', '.join(missing)}, which a release needs"] if missing else []


def _release_aws(me: Identity, settings: Settings, env: str) -> list[str]:
    """The release role writes the apps stack's state alone, reads the states it needs through S3's
    decryption, and decrypts nothing directly."""
    found = []
    own = state_key(env, APPS_STACK)
    via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "kms:ResourceAliases": [settings.account.state_key_alias]}
    reads = [state_key(BOOTSTRAP_STACK, BOOTSTRAP_STACK), own, *(state_key(env, k) for k in RELEASE_READS)]
    for key in _every_state_key():
        obj = _state_object(settings, key)
        if me.may("s3:PutObject", obj) != (key == own):
            found.append(f"release-{env} ({me.name}) {'cannot' if key == own else 'can'} write the state {key}")
        if me.may("s3:GetObject", obj) != (key in reads):
            found.append(f"release-{env} ({me.name}) {'cannot' if key in reads else 'can'} read the state {key}")
    if not me.may("kms:Decrypt", STATE_KEY_ARN, context=via_s3):
        found.append(
            f"release-{env} ({me.name}) cannot decrypt the state through S3: {me.decide('kms:Decrypt', STATE_KEY_ARN, context=via_s3)[1]}"
        )
    direct = {"kms:ViaService": None, "kms:ResourceAliases": [settings.account.state_key_alias]}
    if me.may("kms:Decrypt", STATE_KEY_ARN, context=direct):
        found.append(f"release-{env} ({me.name}) can decrypt with KMS directly")
    # Images: read them; the staging release role also adds the tag recording a healthy release
    # (qualisys_infra/delivery/verified.py); no release role uploads a layer or deletes an image.
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{settings.account.project}-hello"
    if not me.may("ecr:BatchGetImage", repository):
        found.append(f"release-{env} ({me.name}) cannot read the service's image")
    if me.may("ecr:PutImage", repository) != (env == RECORDING_ENVIRONMENT):
        found.append(f"release-{env} ({me.name}) {'cannot' if env == RECORDING_ENVIRONMENT else 'can'} tag images")
    for action in ("ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage"):
        if me.may(action, repository):
            found.append(f"release-{env} ({me.name}) can {action}")
    cluster = f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/{settings.account.project}-{env}"
    if not me.may("eks:DescribeCluster", cluster):
        found.append(f"release-{env} ({me.name}) cannot find its cluster")
    return found


def _workflow_problems(
    stacks: Mapping[str, Any], settings: Settings, workflows: Mapping[str, dict[str, Any]]
) -> list[str]:
    """An apply role (cluster admin) is assumed only by deploy.yml's job in the protected GitHub
    environment of its name, a release role only by service-release.yml's job; the trusts say so too."""
    found = []
    repo = settings.account.github_repository
    github = stacks[GITHUB_STACK]["resource"]
    environments = {e["environment"]: e for e in github["github_repository_environment"].values()}
    # Each job as it runs for each environment the environments job computes (tests/delivery/expand.py).
    instances = expand(workflows, matrices(settings.deliveries))
    approval = {d.name: d.approval for d in settings.deliveries}
    for env in _pipeline(settings):
        entry = next(e for e in matrices(settings.deliveries)["all"] if e["name"] == env)
        for duty, variable, workflow in (
            ("apply", entry["apply_role"], APPLY_WORKFLOW),
            ("release", entry["release_role"], RELEASE_WORKFLOW),
        ):
            role = (apply_role_name if duty == "apply" else release_role_name)(settings.account.project, env)
            claims = trust(stacks["account"], role)
            expected = {
                "aud": ("sts.amazonaws.com",),
                "sub": (f"repo:{repo}:environment:{env}",),
                "job_workflow_ref": (f"{repo}/.github/workflows/{workflow}@refs/heads/{MAIN_BRANCH}",),
            }
            if claims != expected:
                found.append(f"{role} trusts {claims}, expected {expected}")
            users = [i for i in instances if variable in i.variables]
            if not users:
                found.append(f"no workflow job assumes {role} (vars.{variable})")
            for instance in users:
                file, where, declared = instance.file, instance.where, instance.environment
                if file != workflow:
                    found.append(f"{where} assumes {role}, which only {workflow}'s jobs may")
                elif duty == "apply" and declared != env:
                    found.append(f"{where} assumes {role} outside the GitHub environment {env} (got {declared!r})")
        environment = environments.get(env)
        if environment is None:
            found.append(f"the github stack has no environment {env}")
            continue
        if environment.get("can_admins_bypass") is not False:
            found.append(f"environment {env}: administrators may bypass its protection")
        if approval[env] and not (environment.get("reviewers") and environment.get("prevent_self_review") is True):
            found.append(f"environment {env}: no required reviewer, or one may approve their own deployment")
    policies = {
        p["environment"]: p["branch_pattern"]
        for p in github["github_repository_environment_deployment_policy"].values()
    }
    if set(policies.values()) != {MAIN_BRANCH}:
        found.append(f"the environments deploy from {sorted(set(policies.values()))}, expected {MAIN_BRANCH} only")
    return found


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_every_access_policy_a_cluster_associates_is_in_the_computed_table(synthesized: Synthesized) -> None:
    used = {
        a["policy_arn"].rsplit("/", 1)[-1]
        for env in ENVIRONMENT_NAMES
        for a in synthesized.resources(f"{env}-cluster", "aws_eks_access_policy_association").values()
    }
    assert used == {"AmazonEKSClusterAdminPolicy"}  # the administrators and the apply roles
    assert used <= set(ACCESS_POLICIES)


def test_identities_hold_to_their_duties(workflows: dict[str, dict[str, Any]], synthesized: Synthesized) -> None:
    assert problems(synthesized.stacks, synthesized.settings, workflows) == []


def test_what_each_identity_may_do(synthesized: Synthesized) -> None:
    """The computed table itself, for the README's threat model: per identity and cluster, whether it
    administers the cluster, reads Secrets, enters pods, and which namespaces it writes in."""
    identities = _identities(synthesized.stacks, synthesized.settings)
    roles = _roles(synthesized.settings)
    table: dict[tuple[str, str], tuple[bool, bool, bool, tuple[str, ...]]] = {}
    for env, cluster in _clusters(synthesized.stacks).items():
        principals = cluster.principals()
        for duty, role in roles.items():
            if role not in principals:
                continue
            grants = cluster.grants(role)
            spaces = ["", *_namespaces(cluster)]
            admin = any(g.scope == CLUSTER and g.group == ALL and g.resource == ALL and ALL in g.verbs for g in grants)
            secrets = any(allowing(grants, "get", "", "secrets", ns) for ns in spaces)
            enter = any(allowing(grants, "create", "", "pods/exec", ns) for ns in spaces)
            writes = tuple(sorted({g.scope or "*" for g in grants if g.verbs - {"get", "list", "watch"}}))
            table[(env, duty)] = (admin, secrets, enter, writes)
    assert table == {
        **{(env, "admin"): (True, True, True, ("*",)) for env in ENVIRONMENT_NAMES},
        **{(env, "plan"): (False, False, False, ()) for env in ENVIRONMENT_NAMES},
        **{(env, f"apply-{env}"): (True, True, True, ("*",)) for env in _pipeline(synthesized.settings)},
        **{(env, f"release-{env}"): (False, False, False, (env,)) for env in _pipeline(synthesized.settings)},
    }
    # Who reads each secret's value: the RDS master secrets the administrators alone, the third-party
    # keys none of these identities (their readers are the applications' roles).
    readers = {
        arn.rsplit(":", 1)[-1].rsplit("-", 1)[0]: sorted(
            d for d, me in identities.items() if me.may("secretsmanager:GetSecretValue", arn, resource_policy=policy)
        )
        for arn, policy in _every_secret(synthesized.stacks).items()
    }
    masters = {name: who for name, who in readers.items() if name.startswith("rds!")}
    assert len(masters) == len(ENVIRONMENT_NAMES)
    assert sorted(map(tuple, masters.values())) == sorted(
        [("admin",)] * (len(ENVIRONMENT_NAMES) - len(ISOLATION_VERIFIED_ENVIRONMENTS))
        + [("admin", f"apply-{env}") for env in ISOLATION_VERIFIED_ENVIRONMENTS]
    )
    assert len(readers) > len(masters) and all(who == [] for name, who in readers.items() if name not in masters)


# --- each way to break the duties is caught -------------------------------------------------------


def _association(env: str, role: str, policy: str, namespaces: list[str] | None) -> dict[str, Any]:
    scope: dict[str, Any] = (
        {"type": "cluster"} if namespaces is None else {"type": "namespace", "namespaces": namespaces}
    )
    return {
        "principal_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
        "policy_arn": f"arn:aws:eks::aws:cluster-access-policy/{policy}",
        "access_scope": scope,
        "cluster_name": f"qualisys-{env}",
    }


def _planted(synthesized: Synthesized, plant: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    stacks = copy.deepcopy(synthesized.stacks)
    workflows = {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}
    project = synthesized.settings.account.project
    release = release_role_name(project, "staging")
    cluster = stacks["staging-cluster"]["resource"]
    platform = stacks["staging-platform"]["resource"]
    if plant == "edit policy":
        # "the namespace-scoped Edit policy": it reads Secrets and execs into pods in that namespace.
        cluster["aws_eks_access_policy_association"]["planted"] = _association(
            "staging", release, "AmazonEKSEditPolicy", ["staging"]
        )
    elif plant == "view policy elsewhere":
        cluster["aws_eks_access_policy_association"]["planted"] = _association(
            "staging", release, "AmazonEKSViewPolicy", ["production"]
        )
    elif plant == "secrets in the role":
        (role,) = platform["kubernetes_role_v1"].values()
        role["rule"].append({"api_groups": [""], "resources": ["secrets"], "verbs": ["get"]})
    elif plant == "exec in the role":
        (role,) = platform["kubernetes_role_v1"].values()
        role["rule"].append({"api_groups": [""], "resources": ["pods/exec"], "verbs": ["create"]})
    elif plant == "bound cluster-wide":
        binding = copy.deepcopy(
            next(
                b
                for b in platform["kubernetes_cluster_role_binding_v1"].values()
                if b["metadata"]["name"] == "ci-deployer-crd-reader"
            )
        )
        binding["role_ref"]["name"] = "qualisys-namespace-admin"
        platform["kubernetes_cluster_role_binding_v1"]["planted"] = binding
    elif plant == "apply role in the release":
        # A job of another workflow, in the same GitHub environment, taking the cluster-admin role.
        workflows[RELEASE_WORKFLOW]["jobs"]["planted"] = {
            "environment": "staging",
            "steps": [{"with": {"role-to-assume": "${{ vars.AWS_APPLY_ROLE_ARN_STAGING }}"}}],
        }
    elif plant == "apply job outside its environment":
        # The first wave's apply (staging's), its environment dropped: it still takes the entry's apply role.
        workflows[APPLY_WORKFLOW]["jobs"]["apply-first"].pop("environment")
    elif plant == "production without reviewers":
        for environment in stacks[GITHUB_STACK]["resource"]["github_repository_environment"].values():
            environment.pop("reviewers", None)
    elif plant == "apply trust without the workflow":
        documents = stacks["account"]["data"]["aws_iam_policy_document"]
        for statement in documents["github_apply-staging_trust"]["statement"]:
            statement["condition"] = [
                c for c in statement["condition"] if not c["variable"].endswith("job_workflow_ref")
            ]
    elif plant == "master secret open":
        # production's deploy does not run sign-off 6, so its apply role has no business with the password
        for document in stacks["production-data"]["data"]["aws_iam_policy_document"].values():
            for statement in document.get("statement") or []:
                if statement.get("sid") == "OnlyProvisionersRead":
                    statement["condition"][0]["values"].append(
                        f"arn:aws:iam::{ACCOUNT_ID}:role/{apply_role_name(project, 'production')}"
                    )
    elif plant == "release writes the cluster state":
        document = stacks["account"]["data"]["aws_iam_policy_document"]["github_release-staging_permissions"]
        for statement in document["statement"]:
            if statement.get("sid") == "WriteTheAppsStateAndItsLock":
                statement["resources"].append(statement["resources"][0].replace("apps.tfstate", "cluster.tfstate"))
    elif plant == "no decryption through S3":
        document = stacks["account"]["data"]["aws_iam_policy_document"]["github_release-staging_permissions"]
        for statement in document["statement"]:
            if statement.get("sid") == "DecryptOnlyThroughS3":
                statement.pop("condition")
    elif plant == "production release tags images":
        document = stacks["account"]["data"]["aws_iam_policy_document"]["github_release-production_permissions"]
        for statement in document["statement"]:
            if statement.get("sid") == "ReadProjectImages":
                statement["actions"].append("ecr:PutImage")
    elif plant == "ci-deployer in the cluster":
        entries = cluster["aws_eks_access_entry"]
        entries["planted"] = {
            "principal_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{synthesized.settings.account.ci_deployer_role_name}",
            "kubernetes_groups": ["ci-deployers"],
        }
    else:
        raise AssertionError(plant)
    return stacks, workflows


@pytest.mark.parametrize(
    ("plant", "message"),
    [
        (
            "edit policy",
            "release-staging (qualisys-github-release-staging) can read Secrets (EKS access policy AmazonEKSEditPolicy (namespace))",
        ),
        (
            "edit policy",
            "can exec into, attach to or port-forward pods (EKS access policy AmazonEKSEditPolicy (namespace))",
        ),
        (
            "view policy elsewhere",
            "reaches beyond namespace staging (EKS access policy AmazonEKSViewPolicy (namespace))",
        ),
        (
            "secrets in the role",
            "release-staging (qualisys-github-release-staging) can read Secrets (Role ci-deployer bound in staging)",
        ),
        ("exec in the role", "can exec into, attach to or port-forward pods (Role ci-deployer bound in staging)"),
        (
            "bound cluster-wide",
            "reaches beyond namespace staging (ClusterRole qualisys-namespace-admin bound in the cluster)",
        ),
        (
            "apply role in the release",
            "service-release.yml: planted (staging) assumes qualisys-github-apply-staging, which only",
        ),
        ("apply job outside its environment", "outside the GitHub environment staging (got None)"),
        ("production without reviewers", "environment production: no required reviewer"),
        ("apply trust without the workflow", "qualisys-github-apply-staging trusts"),
        (
            "master secret open",
            "the RDS master secret is read by ['admin', 'apply-production'], expected ['admin']",
        ),
        (
            "release writes the cluster state",
            "release-staging (qualisys-github-release-staging) can write the state staging/cluster.tfstate",
        ),
        (
            "no decryption through S3",
            "release-staging (qualisys-github-release-staging) cannot decrypt the state through S3",
        ),
        ("production release tags images", "release-production (qualisys-github-release-production) can tag images"),
        (
            "ci-deployer in the cluster",
            "staging cluster: ci-deployer (qualisys-github-deploy-staging) reaches a cluster",
        ),
    ],
)
def test_fails_if_an_identity_breaks_its_duty(synthesized: Synthesized, plant: str, message: str) -> None:
    stacks, workflows = _planted(synthesized, plant)
    found = problems(stacks, synthesized.settings, workflows)
    assert any(message in p for p in found), found
