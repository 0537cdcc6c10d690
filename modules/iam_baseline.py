"""Account IAM baseline: password policy, groups that require MFA, and roles assumable only with MFA."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.policy import Condition, Effect, Statement, policy_document
from modules.service_role import ServiceRole, ServiceRoleProps
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import iam_account_password_policy, iam_group, iam_group_policy

MFA_SESSION_SECONDS = 3600
# What a user may do without MFA: look at and set up their own MFA device, change their password.
MFA_SELF_SERVICE = (
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetUser",
    "iam:ChangePassword",
    "iam:GetAccountPasswordPolicy",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanAccess:
    """One kind of person: a group whose members may assume one role, only with MFA."""

    group: str
    role: str
    managed_policies: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IamBaselineProps:
    """The groups and roles of people. No IAM user and no access key is created here."""

    context: AccountContext
    access: tuple[HumanAccess, ...]


def mfa_trust(context: AccountContext) -> Statement:
    """Trust principals of this account (as their IAM policies allow) only with a recent MFA sign-in."""
    return Statement(
        sid="AccountPrincipalsWithMfa",
        actions=("sts:AssumeRole",),
        resources=(),
        principals={"AWS": [context.root_arn]},
        conditions=(
            Condition(test="Bool", variable="aws:MultiFactorAuthPresent", values=("true",)),
            Condition(test="NumericLessThan", variable="aws:MultiFactorAuthAge", values=(str(MFA_SESSION_SECONDS),)),
        ),
    )


class IamBaseline(Construct):
    """``aws_iam_account_password_policy``, a group and an MFA-only role per kind of person."""

    def __init__(self, scope: Construct, id_: str, *, props: IamBaselineProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        self.password_policy = iam_account_password_policy.IamAccountPasswordPolicy(
            self,
            "password-policy",
            minimum_password_length=14,
            require_lowercase_characters=True,
            require_uppercase_characters=True,
            require_numbers=True,
            require_symbols=True,
            allow_users_to_change_password=True,
            max_password_age=90,
            password_reuse_prevention=24,
        )
        self.roles: dict[str, ServiceRole] = {}
        self.groups: dict[str, iam_group.IamGroup] = {}
        for access in props.access:
            role = ServiceRole(
                self,
                f"role-{access.group}",
                props=ServiceRoleProps(
                    name=access.role,
                    description=access.description,
                    context=ctx,
                    trust=mfa_trust(ctx),
                    managed_policies=access.managed_policies,
                ),
            )
            self.roles[access.group] = role
            group = iam_group.IamGroup(self, f"group-{access.group}", name=access.group, path="/people/")
            self.groups[access.group] = group
            document = policy_document(
                self,
                f"group-{access.group}-policy",
                [
                    Statement(
                        sid="AssumeOwnRoleWithMfa",
                        actions=("sts:AssumeRole",),
                        resources=(role.arn,),
                        conditions=(Condition(test="Bool", variable="aws:MultiFactorAuthPresent", values=("true",)),),
                    ),
                    Statement(
                        sid="ManageOwnMfaAndPassword",
                        actions=MFA_SELF_SERVICE,
                        resources=(
                            f"arn:{ctx.partition}:iam::{ctx.account_id}:user/$${{aws:username}}",
                            f"arn:{ctx.partition}:iam::{ctx.account_id}:mfa/$${{aws:username}}",
                        ),
                    ),
                    Statement(
                        sid="DenyEverythingElseWithoutMfa",
                        effect=Effect.DENY,
                        actions=(),
                        not_actions=MFA_SELF_SERVICE,
                        resources=("*",),
                        conditions=(
                            Condition(test="BoolIfExists", variable="aws:MultiFactorAuthPresent", values=("false",)),
                        ),
                    ),
                ],
            )
            waive(
                document,
                "CKV_AWS_107",
                "members manage only their own password and MFA device (resources scoped to ${aws:username}); "
                "that self-service is what lets the MFA requirement be enforced",
            )
            iam_group_policy.IamGroupPolicy(
                self, f"group-{access.group}-inline", group=group.name, name="mfa-and-role", policy=document.json
            )
