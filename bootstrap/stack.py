"""``bootstrap``: everything the other stacks' S3 backend needs, applied first with local state."""

from __future__ import annotations

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.lock_table import LockTable, LockTableProps
from modules.secure_bucket import BucketRole, SecureBucket, SecureBucketProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import BOOTSTRAP_STACK
from qualisys_infra.core.settings import AccountConfig
from stacks.base import BaseStack, StateBackend


class BootstrapStack(BaseStack):
    """State bucket (SSE-KMS, versioned, TLS-only, logged), access-log bucket, lock table, KMS key."""

    def __init__(self, scope: Construct, *, account: AccountConfig) -> None:
        # The backend is the bucket this stack creates. `qualisys-infra bootstrap` applies the
        # first time with a local-state override, then migrates the state into the bucket.
        super().__init__(
            scope,
            BOOTSTRAP_STACK,
            region=account.region,
            tags={**account.tags, "Stack": BOOTSTRAP_STACK},
            backend=StateBackend(account=account, key=f"{BOOTSTRAP_STACK}/{BOOTSTRAP_STACK}.tfstate"),
        )
        context = AccountContext(self, "account")
        self.state_key = EncryptionKey(
            self,
            "state-key",
            props=EncryptionKeyProps(
                alias_name=account.state_key_alias.removeprefix("alias/"),
                description=f"{account.project}: Terraform state bucket and lock table",
                context=context,
                prevent_destroy=True,
            ),
        )
        self.access_logs = SecureBucket(
            self,
            "access-logs",
            props=SecureBucketProps(
                bucket_name=account.access_log_bucket_name,
                role=BucketRole.ACCESS_LOGS,
                context=context,
                expiration_days=account.access_log_retention_days,
                noncurrent_version_expiration_days=account.state_noncurrent_version_retention_days,
            ),
        )
        self.state_bucket = SecureBucket(
            self,
            "state",
            props=SecureBucketProps(
                bucket_name=account.state_bucket_name,
                role=BucketRole.DATA,
                context=context,
                kms_key=self.state_key,
                access_log_bucket=self.access_logs,
                noncurrent_version_expiration_days=account.state_noncurrent_version_retention_days,
            ),
        )
        self.lock_table = LockTable(
            self, "lock", props=LockTableProps(table_name=account.lock_table_name, kms_key=self.state_key)
        )
        outputs = {
            "region": (account.region, "Region of the state bucket and lock table"),
            "state_bucket_name": (self.state_bucket.name, "S3 bucket holding every stack's state"),
            "state_bucket_arn": (self.state_bucket.arn, "ARN of the state bucket"),
            "state_kms_key_arn": (self.state_key.arn, "KMS key encrypting state and locks"),
            "state_kms_key_alias": (self.state_key.alias.name, "Alias the backends name as kms_key_id"),
            "lock_table_name": (self.lock_table.name, "DynamoDB table for state locks"),
            "lock_table_arn": (self.lock_table.arn, "ARN of the lock table"),
            "access_log_bucket_name": (
                self.access_logs.name,
                "Bucket receiving the state bucket's access logs",
            ),
        }
        self.outputs(outputs)
