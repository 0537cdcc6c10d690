"""The IAM waivers: the only findings of :mod:`qualisys_infra.plan.iam` a plan may carry, each at one
exact address in one stack, for a resource that does exactly what it names (the role an attachment
attaches to, the policy ARN, a principal in the plan's own account, the one statement a waived document
may have, and the premises of its reason, checked in the same plan). Made of the project's own names
from its reviewed settings (:class:`OwnNames`); without them no waiver holds. A value known only after
apply counts only through the configuration's reference to the expected resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qualisys_infra.core.naming import (
    apply_boundary_name,
    apply_role_name,
    id_part,
    resource_prefix,
)
from qualisys_infra.plan.iam import allows, shown_values, strings_of


@dataclass(frozen=True, slots=True)
class OwnNames:
    """The names of a project's own privileged resources, from its reviewed settings
    (``environments/*.tfvars`` and :mod:`qualisys_infra.core.naming`): what the waivers are made of.
    ``environments``: every environment (each has a cluster); ``apply_environments``: those the pipeline
    applies (each has an apply role and its boundary). ``terraform.pipeline.own_names`` fills both from
    ``Settings.deliveries``; without them no environment's waiver applies."""

    project: str
    admin_role: str
    environments: tuple[str, ...] = ()
    apply_environments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Expect:
    """One planned value a waiver requires.

    ``value`` is the string it must be; ``{partition}`` and ``{account}`` stand for the plan's own
    (what its ``aws_partition`` and ``aws_caller_identity`` data sources read), and a plan that does not
    say its account satisfies no ``{account}``. A value known only after apply satisfies it only through
    the configuration: its expression must reference an attribute in ``via`` of a resource of type ``of``
    in the same plan whose own planned ``name`` is ``name`` (Terraform knows a configured name at plan).
    """

    value: str
    of: str = ""
    name: str = ""
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Statement:
    """The one statement of a policy document a waiver allows, exactly: ``Allow`` of ``actions`` (compared
    without regard to case or order) on ``resources`` (``{partition}``/``{account}`` as in :class:`Expect`),
    with no ``NotAction``, ``NotResource``, ``Condition`` or principal."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Waiver:
    """A reviewed exception: the findings in ``problems`` (rule and subject) at exactly ``address``, in one of
    ``stacks``, when the resource there does exactly what the waiver names: each of ``attributes`` has
    its expected planned value, and a policy document's offending statement is ``statement``. The finding
    stays in the review as a warning that carries ``reason``; anything else blocks.

    The reason's premises are checked in the same plan, where a waiver names them: ``role_boundary``,
    the role the ``role`` attribute names carries that permissions boundary; ``role_mfa``, that role's
    trust admits only sessions with MFA; ``boundary_only``, the policy is attached nowhere as a
    permission policy (a boundary grants nothing; attached, it grants everything it lists).
    """

    address: str
    stacks: tuple[str, ...]
    problems: frozenset[tuple[str, str]]
    reason: str
    attributes: tuple[tuple[str, Expect], ...] = ()
    statement: Statement | None = None
    role_boundary: str = ""
    role_mfa: bool = False
    boundary_only: bool = False

    def names(self, address: str, rule: str, subject: str) -> bool:
        """Whether this waiver is about that finding (whether it holds is asked of the plan)."""
        return address == self.address and (rule, subject) in self.problems


def _managed(name: str) -> Expect:
    return Expect(f"arn:{{partition}}:iam::aws:policy/{name}")


def _role(name: str) -> Expect:
    return Expect(name, of="aws_iam_role", name=name, via=("name", "id"))


_EKS_ADMIN = Expect("arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
_ACCOUNT_STACK = "account"
# The apply role's boundary grants, on "*": each service the environment stacks use, IAM by verb, and
# the pipeline's own bookkeeping. modules/github_delivery.py writes it; changing it there changes what
# this waiver allows, so it must change here too (tests/plan/test_own_stacks.py says so, with the new one).
BOUNDARY_SERVICES = (
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
ENVIRONMENT_IAM = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:PassRole",
)
BOUNDARY_STATEMENT = Statement(
    actions=(*(f"{service}:*" for service in BOUNDARY_SERVICES), "iam:Get*", "iam:List*", *ENVIRONMENT_IAM),
    resources=("*",),
)


def waivers(own: OwnNames | None) -> tuple[Waiver, ...]:
    """Our own stacks' IAM that the rules would block, each with why it is right, made of the project's
    own names; none without them. tests/plan/test_own_stacks.py fails when one no longer matches a
    synthesized resource exactly."""
    if own is None:
        return ()
    found: list[Waiver] = []
    admin = own.admin_role
    for env in own.apply_environments:
        role, boundary = apply_role_name(own.project, env), apply_boundary_name(own.project, env)
        prefix = resource_prefix(own.project, env)
        found += [
            Waiver(
                f"aws_iam_role_policy_attachment.github_apply-{env}_managed-PowerUserAccess",
                (_ACCOUNT_STACK,),
                frozenset({("G013", "PowerUserAccess")}),
                f"the {env} apply role runs terraform apply of its stacks; its permissions boundary ({boundary}) "
                "caps it at the services those stacks use and denies widening its rights, and only the GitHub "
                "environment of the same name may assume it",
                attributes=(("role", _role(role)), ("policy_arn", _managed("PowerUserAccess"))),
                role_boundary=boundary,
            ),
            Waiver(
                f"aws_iam_policy.delivery_{env}-boundary",
                (_ACCOUNT_STACK,),
                frozenset({("G012", "privilege escalation"), ("G004", "full service access")}),
                f"the permissions boundary of the {env} apply role grants nothing itself: it is the ceiling of "
                "that role and of every role it creates, and its Deny statements refuse roles without it",
                attributes=(("name", Expect(boundary)),),
                statement=BOUNDARY_STATEMENT,
                boundary_only=True,
            ),
            Waiver(
                f"aws_iam_role_policy.github_apply-{env}_inline",
                (_ACCOUNT_STACK,),
                frozenset({("G012", "privilege escalation")}),
                f"the {env} apply role creates and changes the environment's own roles, policies and instance "
                f"profiles ({prefix}-*); its permissions boundary ({boundary}) refuses any role it makes "
                "without that same boundary, so none can hold more than the boundary allows",
                attributes=(("role", _role(role)),),
                statement=Statement(
                    actions=ENVIRONMENT_IAM,
                    resources=tuple(
                        f"arn:{{partition}}:iam::{{account}}:{kind}/{prefix}-*"
                        for kind in ("role", "policy", "instance-profile")
                    ),
                ),
                role_boundary=boundary,
            ),
            Waiver(
                f"aws_eks_access_policy_association.eks_access-{id_part(role)}-policy",
                (f"{env}-cluster",),
                frozenset({("G013", "AmazonEKSClusterAdminPolicy")}),
                f"the {env} apply role manages the in-cluster stacks (namespaces, RBAC, CRDs, Helm releases), "
                "which takes cluster-admin; only that environment's GitHub environment may assume it",
                attributes=(
                    ("principal_arn", Expect(f"arn:{{partition}}:iam::{{account}}:role/{role}")),
                    ("policy_arn", _EKS_ADMIN),
                ),
            ),
        ]
    found += [
        Waiver(
            f"aws_iam_role_policy_attachment.iam_role-{id_part(own.project)}-administrators_managed-AdministratorAccess",
            (_ACCOUNT_STACK,),
            frozenset({("G013", "AdministratorAccess")}),
            f"the break-glass administrators role ({admin}): assumable only by members of the administrators "
            "group, with MFA used within the hour",
            attributes=(("role", _role(admin)), ("policy_arn", _managed("AdministratorAccess"))),
            role_mfa=True,
        ),
        Waiver(
            f"aws_eks_access_policy_association.eks_access-{id_part(admin)}-policy",
            tuple(f"{env}-cluster" for env in own.environments),
            frozenset({("G013", "AmazonEKSClusterAdminPolicy")}),
            f"the break-glass administrators role ({admin}, MFA only) is each cluster's administrator",
            attributes=(
                ("principal_arn", Expect(f"arn:{{partition}}:iam::{{account}}:role/{admin}")),
                ("policy_arn", _EKS_ADMIN),
            ),
        ),
    ]
    return tuple(found)


def fill(template: str, partition: str | None, account: str | None) -> str | None:
    """``template`` with the plan's own partition and account; ``None`` when it needs one the plan does not say."""
    if ("{partition}" in template and partition is None) or ("{account}" in template and account is None):
        return None
    return template.replace("{partition}", partition or "").replace("{account}", account or "")


def statement_differs(expected: Statement, statement: Any, partition: str | None, account: str | None) -> str:
    """How ``statement`` differs from the one a waiver allows, in words; empty when it is exactly that one."""
    if not isinstance(statement, dict):
        return "it is not one statement"
    extra = sorted(
        k for k in ("NotAction", "NotResource", "Condition", "Principal", "NotPrincipal") if statement.get(k)
    )
    if extra or not allows(statement):
        return f"it has {', '.join(extra) or 'another Effect'}"
    actions = {a.lower() for a in strings_of(statement.get("Action"))}
    wanted = {a.lower() for a in expected.actions}
    if actions != wanted:
        more, fewer = sorted(actions - wanted), sorted(wanted - actions)
        differences = [f"{shown_values(more, 10)} beyond the waiver's"] if more else []
        differences += [f"the waiver's {shown_values(fewer, 10)} missing"] if fewer else []
        return f"its actions differ: {'; '.join(differences)}"
    resources = set(strings_of(statement.get("Resource")))
    filled = {fill(r, partition, account) for r in expected.resources}
    if None in filled:
        return "the plan does not say its own partition and account"
    if resources != filled:
        named = shown_values(sorted(r for r in filled if r))
        return f"its resources differ: {shown_values(sorted(resources))}, the waiver names {named}"
    return ""


def requires_mfa(statement: dict[str, Any]) -> bool:
    """The statement's condition requires a session authenticated with MFA (``Bool`` ``aws:MultiFactorAuthPresent``
    ``true``; ``BoolIfExists`` would also admit a session without the key, so it does not count)."""
    conditions = statement.get("Condition")
    for operator, by_key in conditions.items() if isinstance(conditions, dict) else ():
        if not isinstance(operator, str) or operator.lower() != "bool" or not isinstance(by_key, dict):
            continue
        for key, raw in by_key.items():
            values = raw if isinstance(raw, list) else [raw]
            if isinstance(key, str) and key.lower() == "aws:multifactorauthpresent":
                return bool(values) and all(str(v).lower() == "true" for v in values)
    return False
