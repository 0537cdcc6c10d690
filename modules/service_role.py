"""IAM roles for AWS services and for Kubernetes service accounts (IRSA), least privilege."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.policy import Condition, Statement, policy_document
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import data_aws_iam_policy_document as doc
from qualisys_infra.core.engine.aws import iam_role, iam_role_policy, iam_role_policy_attachment


def service_trust(context: AccountContext, service: str, *, source_arn: str | None = None) -> Statement:
    """Trust ``service`` (e.g. ``eks.amazonaws.com``), only on behalf of this account."""
    conditions = [Condition(test="StringEquals", variable="aws:SourceAccount", values=(context.account_id,))]
    if source_arn is not None:
        conditions.append(Condition(test="ArnLike", variable="aws:SourceArn", values=(source_arn,)))
    return Statement(
        sid="TrustedService",
        actions=("sts:AssumeRole",),
        resources=(),
        principals={"Service": [service]},
        conditions=tuple(conditions),
    )


def ec2_trust() -> Statement:
    """Trust EC2 (node instance profiles). EC2 sends no source account, so no condition applies."""
    return Statement(
        sid="TrustedService",
        actions=("sts:AssumeRole",),
        resources=(),
        principals={"Service": ["ec2.amazonaws.com"]},
    )


def service_account_trust(*, provider_arn: str, issuer_host: str, namespace: str, service_account: str) -> Statement:
    """Trust one Kubernetes service account through the cluster's OIDC provider (IRSA)."""
    return Statement(
        sid="TrustedServiceAccount",
        actions=("sts:AssumeRoleWithWebIdentity",),
        resources=(),
        principals={"Federated": [provider_arn]},
        conditions=(
            Condition(
                test="StringEquals",
                variable=f"{issuer_host}:sub",
                values=(f"system:serviceaccount:{namespace}:{service_account}",),
            ),
            Condition(test="StringEquals", variable=f"{issuer_host}:aud", values=("sts.amazonaws.com",)),
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRoleProps:
    """A role's name, who may assume it, and what it may do.

    ``managed_policies`` are names of AWS managed policies (``AmazonEKSClusterPolicy``), attached
    one per resource; ``statements`` form one inline policy. Neither is required.
    """

    name: str
    description: str
    context: AccountContext
    trust: Statement
    managed_policies: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()


class ServiceRole(Construct):
    """``aws_iam_role`` with a policy-document trust, managed-policy attachments and one inline policy."""

    def __init__(self, scope: Construct, id_: str, *, props: ServiceRoleProps) -> None:
        super().__init__(scope, id_)
        trust = policy_document(self, "trust", [props.trust])
        self.role = iam_role.IamRole(
            self,
            "role",
            name=props.name,
            description=props.description,
            assume_role_policy=trust.json,
            max_session_duration=3600,
            permissions_boundary=props.context.permissions_boundary_arn,
        )
        # Read once: every read of an attribute is a round trip to the engine.
        self.arn: str = self.role.arn
        self.name: str = self.role.name
        self.attachments = [
            iam_role_policy_attachment.IamRolePolicyAttachment(
                self,
                f"managed-{policy.rsplit('/', 1)[-1]}",
                role=self.name,
                policy_arn=f"arn:{props.context.partition}:iam::aws:policy/{policy}",
            )
            for policy in props.managed_policies
        ]
        self.permissions: doc.DataAwsIamPolicyDocument | None = None
        if props.statements:
            document = policy_document(self, "permissions", list(props.statements))
            self.permissions = document
            iam_role_policy.IamRolePolicy(
                self, "inline", role=self.role.id, name="least-privilege", policy=document.json
            )
