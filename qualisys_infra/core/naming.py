"""Names derived from settings: stack names, state keys and resource name prefixes.

Stack and construct names are a public contract: renaming one moves state or replaces resources.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qualisys_infra.core.playwright_pool import NAMESPACE as PLAYWRIGHT_POOL_NAMESPACE

BOOTSTRAP_STACK = "bootstrap"
ACCOUNT_STACK = "account"
# In dependency order: each kind may use the outputs of the kinds before it.
ENVIRONMENT_STACK_KINDS = ("network", "cluster", "data", "platform", "apps")
# The platform's services, each run by the apps stack and released by `qualisys-infra release`; each
# has the ECR repository `<project>-<service>` and the folder `services/<service>`.
SERVICES = ("hello",)
# Where a construct's checkov waivers sit in the synthesized JSON (`//` metadata); the security gate
# reads them there.
WAIVER_KEY = "checkov_waivers"
# The Kubernetes RBAC group the service-release roles are mapped to: the cluster stack's access entry
# names it and the platform stack's RoleBinding (in the environment's own namespace) binds it, so it is
# defined here, once.
CI_DEPLOYERS_GROUP = "ci-deployers"
# The Kubernetes RBAC group the pipeline's plan role is mapped to, the same way: the platform stack
# binds it to a read-only ClusterRole over exactly the kinds of object the in-cluster stacks manage.
PLAN_READERS_GROUP = "pipeline-plan-readers"
# The repository's own settings (rulesets, environments, Actions variables): an account-level stack,
# like `account`, kept in the state bucket beside it (`account/github.tfstate`).
GITHUB_STACK = "github"
# The branch pull requests merge into, the only one that may deploy: the plan role trusts it, the
# ruleset protects it, and the deployment environments accept no other.
MAIN_BRANCH = "main"
# The status checks a pull request must pass and the repository's Actions variables depend on the
# environments: modules/github_delivery.py computes them from Settings.deliveries.
# The workflow files whose jobs may assume a role that an environment guards, each named in that
# role's trust policy (the OIDC token's job_workflow_ref claim): the apply roles trust deploy.yml's
# jobs only, the release roles service-release.yml's (a reusable workflow: its own file is the claim).
APPLY_WORKFLOW = "deploy.yml"
RELEASE_WORKFLOW = "service-release.yml"


# Which environments the pipeline applies is each one's `delivery` (EnvironmentConfig.pipeline,
# Settings.pipeline_environments): each such has an apply role, a permissions boundary and a GitHub
# environment of the same name; a manual one (dev) is applied by hand.

# The environments whose every deploy proves tenant isolation on the environment's own database
# (sign-off test 6, the spec's pre-mortem: "isolation verification tests pass on STAGING database, not
# just test DB"): deploy.yml runs `signoff --only 6 --aws-database` after the apply, as that
# environment's apply role, which is therefore the one role besides the administrators that may read
# the environment's RDS master secret (it could already reset that password with rds:ModifyDBInstance).
ISOLATION_VERIFIED_ENVIRONMENTS = ("staging",)


# The namespaces the platform itself runs in every cluster: its monitoring and the Playwright runner
# pool. Every other namespace of an environment's `namespaces` is an environment's (the rules check it),
# where that environment's apps run: the platform stack gives those the app traffic and the RBAC.
MONITORING_NAMESPACE = "monitoring"
PLATFORM_NAMESPACES = (MONITORING_NAMESPACE, PLAYWRIGHT_POOL_NAMESPACE)


# The duties of the self-hosted runners each cluster runs (the platform stack's runner scale sets):
# "plan" takes pull requests' plans (workflow code nobody has reviewed yet); "apply" takes the jobs of
# reviewed code on main that reach the cluster (deploy's plans and applies, drift, service releases).
# Each is its own scale set, namespace and service account, and every runner pod serves one job.
RUNNER_DUTIES = ("plan", "apply")
# The runner controller's namespace and each duty's scale-set namespace (modules/platform/runners.py).
RUNNER_CONTROLLER_NAMESPACE = "arc-systems"


def runner_namespace(duty: str) -> str:
    """The namespace of the scale set of ``duty``: ``arc-runners-plan``."""
    return f"arc-runners-{duty}"


RUNNER_NAMESPACES = (RUNNER_CONTROLLER_NAMESPACE, *(runner_namespace(duty) for duty in RUNNER_DUTIES))
# Namespaces every cluster has or the platform makes besides the environments': an environment's name
# (its namespace) may be none of them, nor start with kube- (Kubernetes' own).
CLUSTER_NAMESPACES = ("default", *PLATFORM_NAMESPACES, *RUNNER_NAMESPACES)


def runner_label(project: str, environment: str, duty: str) -> str:
    """The label (``runs-on``) of an environment's runner scale set of ``duty``, inside its cluster's
    VPC: ``qualisys-staging-plan``. It is also the scale set's name, at most 45 characters (ARC)."""
    return f"{project}-{environment}-{duty}"


def runner_variable(environment: str, duty: str) -> str:
    """The Actions variable holding :func:`runner_label`, set by the github stack:
    ``CLUSTER_RUNNER_PLAN_STAGING``; a job reaching staging's API runs on ``vars.CLUSTER_RUNNER_PLAN_STAGING``."""
    return f"CLUSTER_RUNNER_{duty.upper()}_{environment.upper().replace('-', '_')}"


def plan_role_name(project: str) -> str:
    """The pipeline's read-only plan role (pull requests and the main branch)."""
    return f"{project}-github-plan"


def apply_role_name(project: str, environment: str) -> str:
    """The pipeline's apply role of one environment (its GitHub environment only)."""
    return f"{project}-github-apply-{environment}"


def release_role_name(project: str, environment: str) -> str:
    """The service-release role of one environment: service-release.yml's job in that GitHub
    environment only; edits the apps stack's objects in the environment's namespace, nothing else."""
    return f"{project}-github-release-{environment}"


def apply_boundary_name(project: str, environment: str) -> str:
    """The permissions boundary of an environment's apply role, which every role the apply role
    creates must carry too: the environment stacks put it on each of their roles."""
    return f"{project}-github-apply-{environment}-boundary"


# An environment's name (the file environments/<name>.tfvars, its namespace, its GitHub environment):
# a DNS label from a letter, without "--" (ElastiCache refuses two hyphens in a row in the ids built
# from it); config.environments also checks that the names built from it fit (below).
ENVIRONMENT_NAME = re.compile(r"^(?!.*--)[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")

# The names built from an environment's name that a service limits the most, each with its limit
# (read 2026-12-06: IAM User Guide "IAM object quotas", role names 64 characters; ElastiCache API
# Reference CreateReplicationGroup, ReplicationGroupId 1-40 characters, no "--"; actions-runner-
# controller, a runner scale set's name 45 characters). The platform stack's longest role name is
# `<prefix>-lb-controller-role` (modules/platform/add_ons.py). An environment's name must fit every one.
LONGEST_ROLE_SUFFIX = "-lb-controller-role"


def environment_name_limits(project: str, environment: str) -> tuple[tuple[str, int, str], ...]:
    """``(name, limit, what it names)`` for each name of ``environment`` a service limits."""
    prefix = resource_prefix(project, environment)
    runner = max((runner_label(project, environment, duty) for duty in RUNNER_DUTIES), key=len)
    return (
        (prefix, 40, "the data stack's ElastiCache replication group id"),
        (runner, 45, "a runner scale set's name (actions-runner-controller)"),
        (f"{prefix}{LONGEST_ROLE_SUFFIX}", 64, "the platform stack's longest IAM role name"),
        (release_role_name(project, environment), 64, "the account stack's release role name"),
        (apply_boundary_name(project, environment), 128, "the account stack's boundary policy name"),
    )


# What an image tag may be: a git commit (what the service workflows tag images with) or a release
# version. The apps stack's variables validate it in HCL and the CLI before anything runs, so it is
# written once: `[.]`, not `\.`, because the pattern also sits in an HCL string, where `\.` is no
# valid escape.
IMAGE_TAG_PATTERN = r"[0-9a-f]{7,40}|v?[0-9]+[.][0-9]+[.][0-9]+"
IMAGE_TAG_EXPECTED = "expected a git commit (7-40 hex digits) or a version like v1.2.3"


def image_tag_variable(service: str) -> str:
    """The apps stack's input variable holding the image tag ``service`` runs: a plan input."""
    return f"{service}_image_tag"


def stack_name(environment: str, kind: str) -> str:
    """``<env>-<kind>``, e.g. ``dev-network``."""
    return f"{environment}-{kind}"


def state_key(environment: str, kind: str) -> str:
    """The stack's state object in the state bucket: ``<env>/<kind>.tfstate``."""
    return f"{environment}/{kind}.tfstate"


def resource_prefix(project: str, environment: str) -> str:
    """The prefix of every named resource of an environment, e.g. ``qualisys-dev``."""
    return f"{project}-{environment}"


_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def id_part(text: str) -> str:
    """``text`` as a piece of a construct id: letters, digits, ``-`` and ``_`` only
    (``platform-alerts@qualisys.example`` -> ``platform-alerts-qualisys-example``)."""
    return _NOT_IN_A_NAME.sub("-", text).strip("-") or "_"


def logical_id(path: Sequence[str]) -> str:
    """The Terraform name of a resource at construct ``path`` (below its stack): the path's parts
    joined by ``_``, with no hash suffix, so an address reads like ``aws_s3_bucket.state_bucket``
    and depends only on the names of the constructs, never on their order."""
    name = "_".join(id_part(p) for p in path) or "_"
    return name if name[0].isalpha() or name[0] == "_" else f"_{name}"
