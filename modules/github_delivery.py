"""The infrastructure pipeline's AWS identities: one plan role, one apply role per environment, and
the permissions boundaries that keep each apply role inside its environment.

- The plan role reads the account (``ReadOnlyAccess``), the state and the lock table's state digests,
  and writes nothing, not even a lock: GitHub hands it to every pull request of this repository
  (unreviewed workflow code), which must not be able to take or break the lock of a running apply.
  Its plans run ``qualisys-infra plan --no-state-lock`` (``-lock=false``); a plan is safe without
  the lock because applying it refuses a state that moved on since.
- An apply role manages one environment's stacks: ``PowerUserAccess`` (everything but IAM and
  Organizations), IAM limited to roles, policies and instance profiles named
  ``<project>-<env>-*``, and the state keys ``<env>/*``. Only the GitHub environment of the same
  name may assume it.
- Each apply role carries its environment's permissions boundary, a policy that caps it (and every
  role it creates) at the services the stacks use and denies what would widen its rights: creating
  or changing a role that does not carry the same boundary, removing a boundary, changing a boundary
  policy or a deploy role, touching another environment's (or the account's) state, reconfiguring
  the state bucket, the state key or the lock table, or stopping CloudTrail.
- Only ``deploy.yml``'s jobs in the GitHub environment of the same name may assume an apply role: its
  trust names both the ``sub`` of the environment and the workflow file (``job_workflow_ref``), so a
  job of another workflow that declares the environment gets no cluster admin.
- A release role (one per applied environment) runs ``qualisys-infra release``: only
  ``service-release.yml``'s job in the environment's GitHub environment may assume it. It reads the
  states the apps stack reads (:data:`RELEASE_READS`) and writes only the apps stack's state and its
  lock, finds the environment's cluster, reads the project's images, and is denied every secret read;
  in the cluster it is :data:`~qualisys_infra.core.naming.CI_DEPLOYERS_GROUP`, which the platform
  stack lets edit the apps stack's kinds of object in the environment's namespace and nothing else.
- The image pusher (:func:`image_pusher_role`) pushes the project's images from the deploy branches,
  in no environment, and reads no secret.

Which environments get an apply role, a boundary and a release role is data: every environment
whose ``delivery`` is ``pipeline`` (:func:`pipeline_environments`); a ``manual`` one (applied from a
workstation) gets none. :func:`actions_variables` and :func:`required_checks` say what the ``github``
stack sets for a set of environments, so the account stack, the github stack and the workflows'
computed environment list (``.github/actions/environments``) agree for any set of environments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.github_oidc import DeployRoleProps, GithubOidc, job_workflow_ref
from modules.policy import Condition, Effect, Statement, policy_document
from modules.service_role import ServiceRole
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import iam_policy
from qualisys_infra.core.naming import (
    APPLY_WORKFLOW,
    BOOTSTRAP_STACK,
    RELEASE_WORKFLOW,
    apply_boundary_name,
    apply_role_name,
    plan_role_name,
    release_role_name,
)
from qualisys_infra.core.naming import state_key as state_object
from qualisys_infra.core.settings import Delivery, EnvironmentDelivery

# What a boundary lets through at most: the services the environment stacks (and the workload roles
# they create, which carry the same boundary) use. A stack that starts using another service adds it
# here; the boundary refuses it until then.
BOUNDED_SERVICES = (
    "acm",
    "application-autoscaling",
    "autoscaling",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "eks",
    "elasticache",
    "elasticloadbalancing",
    "events",
    "kms",
    "logs",
    "pi",
    "rds",
    "rds-db",
    "route53",
    "s3",
    "secretsmanager",
    "shield",
    "sns",
    "sqs",
    "ssm",
    "sts",
    "tag",
    "wafv2",
)
# Actions whose ``iam:PermissionsBoundary`` condition key names the boundary of the role (or user)
# being created or changed: each is refused unless that is this boundary.
BOUNDED_IAM_WRITES = (
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:CreateUser",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
)
IAM_CHANGES = ("iam:Add*", "iam:Attach*", "iam:Create*", "iam:Delete*", "iam:Detach*", "iam:Put*", "iam:Remove*")
IAM_CHANGES_AND_TAGS = (*IAM_CHANGES, "iam:Set*", "iam:Tag*", "iam:Untag*", "iam:Update*")
ENVIRONMENT_IAM = (
    *IAM_CHANGES_AND_TAGS,
    "iam:PassRole",
)
STATE_OBJECT_WRITES = ("s3:PutObject", "s3:DeleteObject")
LOCK_TABLE_READS = ("dynamodb:DescribeTable", "dynamodb:GetItem")  # the state's digest entry
LOCK_TABLE_USE = (*LOCK_TABLE_READS, "dynamodb:PutItem", "dynamodb:DeleteItem")
STATE_KEY_READS = ("kms:Decrypt", "kms:DescribeKey")
STATE_KEY_USE = (*STATE_KEY_READS, "kms:Encrypt", "kms:GenerateDataKey")
# Every way to read a secret's value: Secrets Manager and SSM parameters (SecureString), and the KMS
# decryption behind both. Denied outright to the roles that must never read one and read no state;
# a role that reads the (KMS-encrypted) state is denied kms:Decrypt except through S3 instead.
SECRET_VALUE_READS = ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "ssm:GetParameter*")
SECRET_READS = (*SECRET_VALUE_READS, "kms:Decrypt")
STATE_DECRYPTION_SERVICE = "s3.*.amazonaws.com"
# The stacks (of the same environment) whose outputs the apps stack reads through terraform_remote_state,
# besides the bootstrap stack `release` checks the backend against: a release reads their states and
# writes only the apps stack's. tests/synth/test_identities.py holds this to the synthesized apps stacks.
APPS_STACK = "apps"
RELEASE_READS = ("cluster", "platform")
# What a release checks in ECR: that the image (its tag) exists.
ECR_IMAGE_READS = ("ecr:DescribeImages", "ecr:BatchGetImage")
# The environment whose healthy releases are recorded as a second tag on the image
# (qualisys_infra/delivery/verified.py, which production releases check): its release role may put an
# image's manifest again under a new tag; the repositories' policies refuse it every other push.
RECORDING_ENVIRONMENT = "staging"
ECR_TAGGING = ("ecr:PutImage",)
# What the image pusher does in ECR (service-build.yml): upload layers and put images.
ECR_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
# The pull request workflow's checks the branch ruleset requires besides one plan per environment
# (:func:`required_checks`); tests/delivery holds them to pull-request.yml's jobs.
PULL_REQUEST_CHECKS = ("test", "synth-and-scan")


def pipeline_environments(deliveries: Iterable[EnvironmentDelivery]) -> tuple[str, ...]:
    """The environments CI applies (``delivery = "pipeline"``), in the project's order: each has an
    apply role, a permissions boundary, a release role and a GitHub environment of its name."""
    return tuple(d.name for d in deliveries if d.delivery is Delivery.PIPELINE)


def variable_suffix(environment: str) -> str:
    """The environment's part of an Actions variable name: ``STAGING``; GitHub allows only letters,
    digits and ``_`` in a variable's name, so a ``-`` of the environment's name becomes ``_``."""
    return environment.upper().replace("-", "_")


def role_variable(kind: str, environment: str) -> str:
    """The Actions variable holding an environment's role of ``kind`` (``APPLY``, ``RELEASE``):
    ``AWS_APPLY_ROLE_ARN_STAGING``."""
    return f"AWS_{kind}_ROLE_ARN_{variable_suffix(environment)}"


def actions_variables(deliveries: Iterable[EnvironmentDelivery]) -> dict[str, str]:
    """The Actions variables the github stack sets from the account stack's outputs, each the output
    it holds: the plan role, each pipeline environment's apply and release roles, the region and
    the image pusher (the workflows read them as ``vars.NAME``)."""
    environments = pipeline_environments(deliveries)
    return {
        "AWS_PLAN_ROLE_ARN": "plan_role_arn",
        **{role_variable("APPLY", env): f"apply_role_arn_{env}" for env in environments},
        "AWS_REGION": "region",
        "AWS_CI_DEPLOYER_ROLE_ARN": "ci_deployer_role_arn",
        **{role_variable("RELEASE", env): f"release_role_arn_{env}" for env in environments},
    }


def plan_check(environment: str) -> str:
    """The status check of a pull request's plan of one environment (pull-request.yml's matrix job)."""
    return f"plan ({environment})"


def required_checks(deliveries: Iterable[EnvironmentDelivery]) -> tuple[str, ...]:
    """What the ruleset of the main branch requires: the tests, the scan, and a plan of every
    environment, whichever its delivery (pull requests plan them all with the read-only plan role)."""
    return (*PULL_REQUEST_CHECKS, *(plan_check(d.name) for d in deliveries))


def image_pusher_role(
    oidc: GithubOidc, id_: str, *, name: str, project: str, repository: str, branches: Iterable[str]
) -> ServiceRole:
    """The role GitHub Actions pushes the project's images (``<project>-*`` repositories) with, from
    ``branches`` only and in no environment (the environments' subjects belong to the apply and
    release roles); it reaches no cluster and is denied every secret read."""
    ctx = oidc.context
    repositories = f"arn:{ctx.partition}:ecr:{ctx.region}:{ctx.account_id}:repository/{project}-*"
    return oidc.deploy_role(
        id_,
        props=DeployRoleProps(
            name=name,
            description=f"GitHub Actions of {repository}: push {project}-* images from the deploy branches",
            subjects=tuple(f"repo:{repository}:ref:refs/heads/{branch}" for branch in branches),
            statements=(
                # GetAuthorizationToken has no resource-level permissions: "*" is the only form.
                Statement(sid="EcrLogin", actions=("ecr:GetAuthorizationToken",), resources=("*",)),
                Statement(sid="PushProjectImages", actions=ECR_PUSH, resources=(repositories,)),
                Statement(sid="NeverReadSecrets", effect=Effect.DENY, actions=SECRET_READS, resources=("*",)),
            ),
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRolesProps:
    """Who the pipeline's roles trust and what they reach.

    ``environments`` (the pipeline environments, :func:`pipeline_environments`) get an apply role
    each; ``state_prefixes`` are every top-level folder of the state bucket (every environment,
    whatever its delivery, ``account``, ``bootstrap``): an apply role is denied all but its own.
    ``protected_role_names`` are further roles no apply role may change or pass (the app deploy
    roles); the pipeline's own roles are always protected.
    """

    project: str
    context: AccountContext
    oidc: GithubOidc
    repository: str  # "OWNER/REPO"
    main_branch: str
    environments: tuple[str, ...]
    state_bucket_name: str
    state_prefixes: tuple[str, ...]
    state_key_alias: str
    lock_table_name: str
    protected_role_names: tuple[str, ...] = ()


class DeliveryRoles(Construct):
    """``plan_role``, ``apply_roles[env]``, ``boundaries[env]`` (``aws_iam_policy``) and
    ``release_roles[env]``."""

    def __init__(self, scope: Construct, id_: str, *, props: DeliveryRolesProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        iam = ctx.iam_arn("")
        bucket = f"arn:{ctx.partition}:s3:::{props.state_bucket_name}"
        table = ctx.arn("dynamodb", f"table/{props.lock_table_name}")
        # The key is the bootstrap stack's: found by its alias, which fixes it, not by an id.
        state_key_alias = Condition(
            test="ForAnyValue:StringEquals", variable="kms:ResourceAliases", values=(props.state_key_alias,)
        )
        state_key = Statement(
            sid="UseTheStateKey",
            actions=STATE_KEY_USE,
            resources=(ctx.arn("kms", "key/*"),),
            conditions=(state_key_alias,),
        )
        lock_table = Statement(sid="HoldTheLockTable", actions=LOCK_TABLE_USE, resources=(table,))
        self.plan_role_name = plan_role_name(props.project)
        self.apply_role_names = {env: apply_role_name(props.project, env) for env in props.environments}
        self.release_role_names = {env: release_role_name(props.project, env) for env in props.environments}
        pipeline_roles = (
            self.plan_role_name,
            *self.apply_role_names.values(),
            *self.release_role_names.values(),
            *props.protected_role_names,
        )

        self.plan_role = props.oidc.deploy_role(
            "plan",
            props=DeployRoleProps(
                name=self.plan_role_name,
                description=f"GitHub Actions of {props.repository}, pull requests and {props.main_branch}: "
                "terraform plan without state locks (read-only)",
                subjects=(
                    f"repo:{props.repository}:pull_request",
                    f"repo:{props.repository}:ref:refs/heads/{props.main_branch}",
                ),
                managed_policies=("ReadOnlyAccess",),
                statements=(
                    Statement(sid="ListTheState", actions=("s3:ListBucket",), resources=(bucket,)),
                    Statement(sid="ReadTheState", actions=("s3:GetObject",), resources=(f"{bucket}/*",)),
                    # No lock writes (no *.tflock object, no lock item): every plan on this role runs
                    # with -lock=false. The S3 backend still reads the state's digest from the table.
                    Statement(sid="ReadTheLockTable", actions=LOCK_TABLE_READS, resources=(table,)),
                    Statement(
                        sid="DecryptTheState",
                        actions=STATE_KEY_READS,
                        resources=(ctx.arn("kms", "key/*"),),
                        conditions=(state_key_alias,),
                    ),
                ),
            ),
        )
        self.boundaries: dict[str, iam_policy.IamPolicy] = {}
        self.apply_roles: dict[str, ServiceRole] = {}
        for env in props.environments:
            boundary_name = apply_boundary_name(props.project, env)
            boundary_arn = f"{iam}policy/{boundary_name}"
            env_roles = f"{iam}role/{props.project}-{env}-*"
            document = policy_document(
                self,
                f"{env}-boundary-document",
                [
                    Statement(
                        sid="AtMostTheStacksServices",
                        # IAM by verb rather than iam:*, which would also let through account-wide
                        # settings (password policy, aliases) no stack manages.
                        actions=(
                            *(f"{service}:*" for service in BOUNDED_SERVICES),
                            "iam:Get*",
                            "iam:List*",
                            *ENVIRONMENT_IAM,
                        ),
                        resources=("*",),
                    ),
                    Statement(
                        sid="DenyRolesWithoutThisBoundary",
                        effect=Effect.DENY,
                        actions=BOUNDED_IAM_WRITES,
                        resources=("*",),
                        conditions=(
                            Condition(
                                test="StringNotEquals", variable="iam:PermissionsBoundary", values=(boundary_arn,)
                            ),
                        ),
                    ),
                    Statement(
                        sid="DenyRemovingBoundaries",
                        effect=Effect.DENY,
                        actions=("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"),
                        resources=("*",),
                    ),
                    Statement(
                        sid="DenyChangingBoundaries",
                        effect=Effect.DENY,
                        actions=(
                            "iam:CreatePolicy",
                            "iam:CreatePolicyVersion",
                            "iam:DeletePolicy",
                            "iam:DeletePolicyVersion",
                            "iam:SetDefaultPolicyVersion",
                            "iam:TagPolicy",
                            "iam:UntagPolicy",
                        ),
                        resources=(f"{iam}policy/{props.project}-github-*",),
                    ),
                    Statement(
                        sid="DenyChangingDeployRoles",
                        effect=Effect.DENY,
                        actions=ENVIRONMENT_IAM,
                        resources=tuple(f"{iam}role/{name}" for name in pipeline_roles),
                    ),
                    Statement(
                        sid="DenyOtherStateKeys",
                        effect=Effect.DENY,
                        actions=("s3:*",),
                        resources=tuple(f"{bucket}/{prefix}/*" for prefix in props.state_prefixes if prefix != env),
                    ),
                    Statement(
                        sid="DenyReconfiguringTheStateBackend",
                        effect=Effect.DENY,
                        actions=(
                            "s3:DeleteBucket*",
                            "s3:PutBucket*",
                            "s3:PutEncryptionConfiguration",
                            "s3:PutLifecycleConfiguration",
                            "s3:PutReplicationConfiguration",
                            "dynamodb:DeleteTable",
                            "dynamodb:UpdateTable",
                            "dynamodb:UpdateContinuousBackups",
                        ),
                        resources=(bucket, table),
                    ),
                    Statement(
                        sid="DenyDisablingTheStateKey",
                        effect=Effect.DENY,
                        actions=(
                            "kms:DisableKey",
                            "kms:ScheduleKeyDeletion",
                            "kms:PutKeyPolicy",
                            "kms:DeleteAlias",
                            "kms:UpdateAlias",
                        ),
                        resources=("*",),
                        conditions=(
                            Condition(
                                test="ForAnyValue:StringEquals",
                                variable="kms:ResourceAliases",
                                values=(props.state_key_alias,),
                            ),
                        ),
                    ),
                    Statement(
                        sid="DenyStoppingTheAuditTrail",
                        effect=Effect.DENY,
                        actions=(
                            "cloudtrail:DeleteTrail",
                            "cloudtrail:StopLogging",
                            "cloudtrail:UpdateTrail",
                            "cloudtrail:PutEventSelectors",
                        ),
                        resources=("*",),
                    ),
                ],
            )
            waive(
                document,
                ("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356"),
                "a permissions boundary grants nothing: it is the ceiling of what the apply role's own "
                "policies (PowerUserAccess and IAM scoped to the environment) may allow, listed by service, "
                "and its Deny statements are what stops the role from widening its rights",
            )
            self.boundaries[env] = iam_policy.IamPolicy(
                self,
                f"{env}-boundary",
                name=boundary_name,
                description=f"Ceiling of the {env} apply role and every role it creates",
                policy=document.json,
            )
            apply_role = props.oidc.deploy_role(
                f"apply-{env}",
                props=DeployRoleProps(
                    name=self.apply_role_names[env],
                    description=f"GitHub Actions of {props.repository}, environment {env} only: terraform apply "
                    f"of the {env} stacks, inside {boundary_name}",
                    subjects=(f"repo:{props.repository}:environment:{env}",),
                    job_workflow_refs=(job_workflow_ref(props.repository, APPLY_WORKFLOW, props.main_branch),),
                    managed_policies=("PowerUserAccess",),
                    permissions_boundary_arn=self.boundaries[env].arn,
                    statements=(
                        Statement(sid="ReadIam", actions=("iam:Get*", "iam:List*"), resources=("*",)),
                        Statement(
                            sid="ManageEnvironmentIam",
                            actions=ENVIRONMENT_IAM,
                            resources=(
                                env_roles,
                                f"{iam}policy/{props.project}-{env}-*",
                                f"{iam}instance-profile/{props.project}-{env}-*",
                            ),
                        ),
                        Statement(
                            sid="CreateEnvironmentOidcProviders",
                            actions=("iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"),
                            resources=(f"{iam}oidc-provider/*",),
                            conditions=(
                                Condition(test="StringEquals", variable="aws:RequestTag/Environment", values=(env,)),
                            ),
                        ),
                        Statement(
                            sid="ManageEnvironmentOidcProviders",
                            actions=(
                                "iam:DeleteOpenIDConnectProvider",
                                "iam:UpdateOpenIDConnectProviderThumbprint",
                                "iam:AddClientIDToOpenIDConnectProvider",
                                "iam:RemoveClientIDFromOpenIDConnectProvider",
                                "iam:UntagOpenIDConnectProvider",
                            ),
                            resources=(f"{iam}oidc-provider/*",),
                            conditions=(
                                Condition(test="StringEquals", variable="aws:ResourceTag/Environment", values=(env,)),
                            ),
                        ),
                        Statement(sid="ListTheState", actions=("s3:ListBucket",), resources=(bucket,)),
                        Statement(
                            sid="ReadAndWriteOwnState",
                            actions=("s3:GetObject", *STATE_OBJECT_WRITES),
                            resources=(f"{bucket}/{env}/*",),
                        ),
                        lock_table,
                        state_key,
                    ),
                ),
            )
            if apply_role.permissions is not None:
                waive(
                    apply_role.permissions,
                    "CKV_AWS_356",
                    "only iam:Get* and iam:List* have the resource *: Terraform refreshes every IAM object the "
                    "stacks read, and several IAM list actions support no narrower resource; every IAM write "
                    "is limited to the environment's names",
                )
            self.apply_roles[env] = apply_role
        self.release_roles: dict[str, ServiceRole] = {
            env: self._release_role(props, env, bucket=bucket, table=table, state_key=state_key)
            for env in props.environments
        }

    def _release_role(
        self, props: DeliveryRolesProps, env: str, *, bucket: str, table: str, state_key: Statement
    ) -> ServiceRole:
        """The release role of ``env``: the apps stack's state and lock, its upstream states, the
        cluster's endpoint, the project's images; every secret read denied."""
        ctx = props.context
        own = state_object(env, APPS_STACK)
        lock_items = (f"{props.state_bucket_name}/{own}", f"{props.state_bucket_name}/{own}-md5")
        return props.oidc.deploy_role(
            f"release-{env}",
            props=DeployRoleProps(
                name=self.release_role_names[env],
                description=f"GitHub Actions of {props.repository}, {RELEASE_WORKFLOW} in environment {env} only: "
                f"release a service (the {env}-apps stack's state; the {env} namespace through RBAC)",
                subjects=(f"repo:{props.repository}:environment:{env}",),
                job_workflow_refs=(job_workflow_ref(props.repository, RELEASE_WORKFLOW, props.main_branch),),
                statements=(
                    Statement(sid="ListTheState", actions=("s3:ListBucket",), resources=(bucket,)),
                    Statement(
                        sid="ReadTheStatesTheAppsStackReads",
                        actions=("s3:GetObject",),
                        resources=tuple(
                            f"{bucket}/{key}"
                            for key in (
                                state_object(BOOTSTRAP_STACK, BOOTSTRAP_STACK),
                                *(state_object(env, kind) for kind in RELEASE_READS),
                            )
                        ),
                    ),
                    Statement(
                        sid="WriteTheAppsStateAndItsLock",
                        actions=("s3:GetObject", "s3:PutObject"),
                        resources=(f"{bucket}/{own}",),
                    ),
                    Statement(
                        sid="HoldTheAppsLockFile",
                        actions=("s3:GetObject", *STATE_OBJECT_WRITES),
                        resources=(f"{bucket}/{own}.tflock",),
                    ),
                    # For a client that adds the DynamoDB lock table (StateBackend's docstring): its
                    # lock and digest items of the apps stack only.
                    Statement(
                        sid="HoldTheAppsLockItems",
                        actions=LOCK_TABLE_USE,
                        resources=(table,),
                        conditions=(
                            Condition(
                                test="ForAllValues:StringEquals", variable="dynamodb:LeadingKeys", values=lock_items
                            ),
                        ),
                    ),
                    state_key,
                    Statement(
                        sid="FindTheCluster",
                        actions=("eks:DescribeCluster",),
                        # The environment's cluster in whichever region its tfvars name.
                        resources=(f"arn:{ctx.partition}:eks:*:{ctx.account_id}:cluster/{props.project}-{env}",),
                    ),
                    Statement(
                        sid="ReadProjectImages",
                        actions=(*ECR_IMAGE_READS, *(ECR_TAGGING if env == RECORDING_ENVIRONMENT else ())),
                        resources=(ctx.arn("ecr", f"repository/{props.project}-*"),),
                    ),
                    Statement(sid="NeverReadSecrets", effect=Effect.DENY, actions=SECRET_VALUE_READS, resources=("*",)),
                    # The state is decrypted by S3 on the role's behalf; no key decrypts anything else for it.
                    Statement(
                        sid="DecryptOnlyThroughS3",
                        effect=Effect.DENY,
                        actions=("kms:Decrypt",),
                        resources=("*",),
                        conditions=(
                            Condition(
                                test="StringNotLike", variable="kms:ViaService", values=(STATE_DECRYPTION_SERVICE,)
                            ),
                        ),
                    ),
                ),
            ),
        )
