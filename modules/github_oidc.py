"""GitHub Actions OIDC: the identity provider and deploy roles bound to one repository's refs.

A trust names the token's exact ``sub`` claims (``repo:OWNER/REPO:environment:staging``, no
wildcards) and ``aud`` = sts; a role guarded by a GitHub environment also names the workflow file
whose jobs may assume it, by the token's ``job_workflow_ref`` claim
(``OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main``; for a reusable workflow, the called
file). AWS STS evaluates that claim as the condition key ``token.actions.githubusercontent.com:job_workflow_ref``
since January 2026 (AWS What's New, "AWS STS supports validation of identity provider specific
claims", 2026-01; read 2026-12-06); a trust that names it refuses a token without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.policy import Condition, Statement
from modules.service_role import ServiceRole, ServiceRoleProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import iam_openid_connect_provider

ISSUER = "token.actions.githubusercontent.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployRoleProps:
    """A role GitHub Actions assumes: exact ``sub`` claims (no wildcards), ``aud`` = sts."""

    name: str
    description: str
    subjects: tuple[str, ...]  # e.g. "repo:OWNER/REPO:ref:refs/heads/main"
    statements: tuple[Statement, ...]
    # AWS managed policies attached besides the inline statements (``ReadOnlyAccess``); none by default.
    managed_policies: tuple[str, ...] = ()
    # The ARN of a policy set as the role's permissions boundary; without one the role has none.
    permissions_boundary_arn: str | None = None
    # The job_workflow_ref claims (:func:`job_workflow_ref`, exact) a token may carry; none: any workflow.
    job_workflow_refs: tuple[str, ...] = ()


def job_workflow_ref(repository: str, workflow: str, branch: str) -> str:
    """The ``job_workflow_ref`` claim of a job defined in ``.github/workflows/<workflow>`` of
    ``repository`` (``OWNER/REPO``) run from ``branch``."""
    return f"{repository}/.github/workflows/{workflow}@refs/heads/{branch}"


class GithubOidc(Construct):
    """``aws_iam_openid_connect_provider`` for GitHub and the roles it may assume."""

    def __init__(self, scope: Construct, id_: str, *, context: AccountContext) -> None:
        super().__init__(scope, id_)
        self.context = context
        self.provider = iam_openid_connect_provider.IamOpenidConnectProvider(
            self, "provider", url=f"https://{ISSUER}", client_id_list=["sts.amazonaws.com"]
        )

    def deploy_role(self, id_: str, *, props: DeployRoleProps) -> ServiceRole:
        conditions = [
            Condition(test="StringEquals", variable=f"{ISSUER}:aud", values=("sts.amazonaws.com",)),
            Condition(test="StringEquals", variable=f"{ISSUER}:sub", values=props.subjects),
        ]
        if props.job_workflow_refs:
            conditions.append(
                Condition(test="StringEquals", variable=f"{ISSUER}:job_workflow_ref", values=props.job_workflow_refs)
            )
        trust = Statement(
            sid="GithubActionsOfOneRepository",
            actions=("sts:AssumeRoleWithWebIdentity",),
            resources=(),
            principals={"Federated": [self.provider.arn]},
            conditions=tuple(conditions),
        )
        role = ServiceRole(
            self,
            id_,
            props=ServiceRoleProps(
                name=props.name,
                description=props.description,
                context=self.context,
                trust=trust,
                managed_policies=props.managed_policies,
                statements=props.statements,
            ),
        )
        if props.permissions_boundary_arn is not None:
            role.role.permissions_boundary = props.permissions_boundary_arn
        return role
