"""A customer-managed KMS key with rotation on, an alias, and a least-privilege key policy."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.policy import Condition, Statement, policy_document
from modules.waivers import waive
from qualisys_infra.core.engine import Construct, TerraformResourceLifecycle
from qualisys_infra.core.engine.aws import kms_alias, kms_key

# What a principal that encrypts and decrypts with a key needs (AWS's "allow use of the key").
KEY_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
# AWS's service-linked role of EC2 Auto Scaling, which launches the nodes of managed node groups.
AUTO_SCALING_SERVICE_LINKED_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
_FOR_AWS_RESOURCES = Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=("true",))


def auto_scaling_may_use_key(context: AccountContext) -> tuple[Statement, ...]:
    """Key policy statements: EC2 Auto Scaling's service-linked role (managed node groups launch through
    it) may use the key for the nodes' encrypted root volumes, and grant it to AWS resources only."""
    autoscaling = context.iam_arn(AUTO_SCALING_SERVICE_LINKED_ROLE)
    return (
        Statement(
            sid="AutoScalingUsesKeyForNodeVolumes",
            actions=KEY_USE,
            resources=("*",),
            principals={"AWS": [autoscaling]},
        ),
        Statement(
            sid="AutoScalingAttachesPersistentResources",
            actions=("kms:CreateGrant",),
            resources=("*",),
            principals={"AWS": [autoscaling]},
            conditions=(_FOR_AWS_RESOURCES,),
        ),
    )


def ebs_csi_driver_may_use_key(role_arn: str) -> tuple[Statement, ...]:
    """Key policy statements: the EBS CSI driver's role (``role_arn``) may use the key, and let EBS hold
    grants on it for the volumes it attaches (AWS's EBS CSI driver guide, "customer managed KMS key")."""
    return (
        Statement(
            sid="EbsCsiDriverUsesKeyForVolumes",
            actions=KEY_USE,
            resources=("*",),
            principals={"AWS": [role_arn]},
        ),
        Statement(
            sid="EbsCsiDriverGrantsKeyToEbs",
            actions=("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"),
            resources=("*",),
            principals={"AWS": [role_arn]},
            conditions=(_FOR_AWS_RESOURCES,),
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptionKeyProps:
    """What the key protects and who may use it.

    By default only IAM principals of this account that IAM allows can use the key (the account
    root statement delegates to IAM). ``log_group_name_prefix`` additionally lets CloudWatch Logs in
    this region use the key, only for log groups whose names start with that prefix;
    ``extra_statements`` grant named principals (a service-linked role, a service) what they need,
    built by this module's intent helpers (:func:`auto_scaling_may_use_key`,
    :func:`ebs_csi_driver_may_use_key`) or the constructs that own the principal.
    """

    alias_name: str  # without the "alias/" prefix
    description: str
    context: AccountContext
    log_group_name_prefix: str | None = None
    extra_statements: tuple[Statement, ...] = ()
    deletion_window_days: int = 30  # the maximum: the longest time to notice a scheduled deletion
    prevent_destroy: bool = False


class EncryptionKey(Construct):
    """``aws_kms_key`` (rotation on, explicit policy) plus ``aws_kms_alias``."""

    def __init__(self, scope: Construct, id_: str, *, props: EncryptionKeyProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        statements = [
            Statement(
                sid="AccountAdministersKeyThroughIam",
                actions=("kms:*",),
                resources=("*",),
                principals={"AWS": [ctx.root_arn]},
            )
        ]
        if props.log_group_name_prefix is not None:
            statements.append(
                Statement(
                    sid="CloudWatchLogsUsesKeyForOwnLogGroups",
                    actions=(
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ),
                    resources=("*",),
                    principals={"Service": [f"logs.{ctx.region}.amazonaws.com"]},
                    conditions=(
                        Condition(
                            test="ArnLike",
                            variable="kms:EncryptionContext:aws:logs:arn",
                            values=(ctx.arn("logs", f"log-group:{props.log_group_name_prefix}*"),),
                        ),
                    ),
                )
            )
        statements.extend(props.extra_statements)
        policy = policy_document(self, "policy", statements)
        waive(
            policy,
            ("CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356"),
            'a key policy\'s Resource "*" means this key only, and kms:* for the account root only '
            "delegates to IAM (the AWS default key policy); services get narrow, conditioned statements",
        )
        self.key = kms_key.KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy.json,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if props.prevent_destroy else None,
        )
        self.alias = kms_alias.KmsAlias(self, "alias", name=f"alias/{props.alias_name}", target_key_id=self.key.key_id)
        self.arn: str = self.key.arn  # read once: every read is a round trip to the engine
