"""The DynamoDB table Terraform's S3 backend uses for state locks."""

from __future__ import annotations

from dataclasses import dataclass

from modules.encryption_key import EncryptionKey
from qualisys_infra.core.engine import Construct, TerraformResourceLifecycle
from qualisys_infra.core.engine.aws import dynamodb_table as ddb


@dataclass(frozen=True, slots=True, kw_only=True)
class LockTableProps:
    """The table's name and the customer key that encrypts it.

    On-demand billing (no capacity to tune, no autoscaling to configure), point-in-time recovery,
    deletion protection and ``prevent_destroy`` are always on.
    """

    table_name: str
    kms_key: EncryptionKey


class LockTable(Construct):
    """``aws_dynamodb_table`` keyed by ``LockID`` (the attribute Terraform writes)."""

    def __init__(self, scope: Construct, id_: str, *, props: LockTableProps) -> None:
        super().__init__(scope, id_)
        self.table = ddb.DynamodbTable(
            self,
            "table",
            name=props.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="LockID",
            attribute=[ddb.DynamodbTableAttribute(name="LockID", type="S")],
            server_side_encryption=ddb.DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=props.kms_key.arn),
            point_in_time_recovery=ddb.DynamodbTablePointInTimeRecovery(enabled=True),
            deletion_protection_enabled=True,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        self.name: str = self.table.name
        self.arn: str = self.table.arn
