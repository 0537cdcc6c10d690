"""An S3 bucket with every control on: versioned, encrypted, private, TLS-only, logged, expiring."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey
from modules.policy import Condition, Effect, Statement, deny_insecure_transport, policy_document
from modules.waivers import waive
from qualisys_infra.core.engine import Construct, TerraformResourceLifecycle
from qualisys_infra.core.engine.aws import (
    s3_bucket,
    s3_bucket_logging,
    s3_bucket_policy,
    s3_bucket_public_access_block,
    s3_bucket_versioning,
)
from qualisys_infra.core.engine.aws import (
    s3_bucket_lifecycle_configuration as lifecycle,
)
from qualisys_infra.core.engine.aws import (
    s3_bucket_ownership_controls as ownership,
)
from qualisys_infra.core.engine.aws import (
    s3_bucket_server_side_encryption_configuration as sse,
)

ABORT_INCOMPLETE_UPLOADS_DAYS = 7


class BucketRole(StrEnum):
    """What the bucket is for, which decides its encryption."""

    DATA = "data"  # SSE-KMS with a customer key; uploads without that encryption are denied
    # S3 server access logs can only be delivered to a bucket whose default encryption is SSE-S3
    # (AES256): SSE-KMS is not supported for the target of server access logging.
    ACCESS_LOGS = "access_logs"


@dataclass(frozen=True, slots=True, kw_only=True)
class SecureBucketProps:
    """A bucket's name, role and retention.

    ``kms_key`` is required for ``BucketRole.DATA``. ``access_log_bucket`` receives this bucket's
    server access logs (required for DATA buckets: turning logging off is not offered).
    ``noncurrent_version_expiration_days`` deletes old versions after that many days;
    ``expiration_days`` deletes current objects too (log buckets). ``prevent_destroy`` makes
    Terraform refuse any plan that would delete the bucket.
    """

    bucket_name: str
    role: BucketRole
    context: AccountContext
    kms_key: EncryptionKey | None = None
    access_log_bucket: SecureBucket | None = None
    noncurrent_version_expiration_days: int = 30
    expiration_days: int | None = None
    prevent_destroy: bool = True
    # Writers that send no encryption header (AWS services delivering logs) rely on the bucket's
    # default encryption; for such buckets the header-based upload denials are left out.
    require_encryption_header: bool = True
    extra_statements: tuple[Statement, ...] = ()


class SecureBucket(Construct):
    """``aws_s3_bucket`` plus versioning, encryption, public-access block, ownership, policy,
    access logging and lifecycle, each as its own resource."""

    def __init__(self, scope: Construct, id_: str, *, props: SecureBucketProps) -> None:
        super().__init__(scope, id_)
        if props.role is BucketRole.DATA and (props.kms_key is None or props.access_log_bucket is None):
            raise ValueError(f"{id_}: a DATA bucket needs kms_key and access_log_bucket")
        self.bucket = s3_bucket.S3Bucket(
            self,
            "bucket",
            bucket=props.bucket_name,
            force_destroy=False,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if props.prevent_destroy else None,
        )
        bucket_id = self.bucket.id
        # Read once: every read of an attribute is a round trip to the engine.
        self.arn: str = self.bucket.arn
        self.name: str = self.bucket.bucket
        waive(
            self.bucket,
            "CKV_AWS_144",
            "single-region platform (spec: one region); versioning with noncurrent-version retention is "
            "the recovery path, and a replica would double the cost of every state write",
        )
        waive(
            self.bucket,
            "CKV2_AWS_62",
            "no consumer of object events; access is audited through server access logs and CloudTrail",
        )
        if props.role is BucketRole.ACCESS_LOGS:
            waive(
                self.bucket,
                "CKV_AWS_145",
                "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3 (AES256)",
            )
        s3_bucket_versioning.S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=s3_bucket_versioning.S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        if props.role is BucketRole.DATA and props.kms_key is not None:
            default = sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=props.kms_key.arn
            )
            bucket_key = True
        else:
            default = sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256"
            )
            bucket_key = False
        sse.S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                sse.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=bucket_key
                )
            ],
        )
        self.public_access_block = s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        ownership.S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=ownership.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        self._policy(props)
        if props.access_log_bucket is not None:
            s3_bucket_logging.S3BucketLoggingA(
                self,
                "logging",
                bucket=bucket_id,
                target_bucket=props.access_log_bucket.bucket.id,
                target_prefix=f"s3/{props.bucket_name}/",
            )
        self._lifecycle(props)

    def _policy(self, props: SecureBucketProps) -> None:
        arn = self.bucket.arn
        objects = f"{arn}/*"
        statements = [deny_insecure_transport((arn, objects))]
        if props.role is BucketRole.DATA and props.kms_key is not None and props.require_encryption_header:
            statements += [
                Statement(
                    sid="DenyObjectsNotEncryptedWithKms",
                    effect=Effect.DENY,
                    actions=("s3:PutObject",),
                    resources=(objects,),
                    principals={"*": ["*"]},
                    conditions=(
                        Condition(
                            test="StringNotEquals",
                            variable="s3:x-amz-server-side-encryption",
                            values=("aws:kms",),
                        ),
                    ),
                ),
                Statement(
                    sid="DenyObjectsWithoutEncryptionHeader",
                    effect=Effect.DENY,
                    actions=("s3:PutObject",),
                    resources=(objects,),
                    principals={"*": ["*"]},
                    conditions=(Condition(test="Null", variable="s3:x-amz-server-side-encryption", values=("true",)),),
                ),
            ]
        if props.role is BucketRole.ACCESS_LOGS:
            statements.append(
                Statement(
                    sid="S3ServerAccessLogsFromThisAccount",
                    actions=("s3:PutObject",),
                    resources=(objects,),
                    principals={"Service": ["logging.s3.amazonaws.com"]},
                    conditions=(
                        Condition(
                            test="StringEquals",
                            variable="aws:SourceAccount",
                            values=(props.context.account_id,),
                        ),
                    ),
                )
            )
        statements += list(props.extra_statements)
        document = policy_document(self, "policy-document", statements)
        self.policy = s3_bucket_policy.S3BucketPolicy(
            self,
            "policy",
            bucket=self.bucket.id,
            policy=document.json,
            # A policy written before the public-access block exists can briefly be public.
            depends_on=[self.public_access_block],
        )

    def _lifecycle(self, props: SecureBucketProps) -> None:
        rules = [
            lifecycle.S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter()],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=props.noncurrent_version_expiration_days
                    )
                ],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS
                    )
                ],
            )
        ]
        if props.expiration_days is not None:
            rules.append(
                lifecycle.S3BucketLifecycleConfigurationRule(
                    id="expire-objects",
                    status="Enabled",
                    filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter()],
                    expiration=[lifecycle.S3BucketLifecycleConfigurationRuleExpiration(days=props.expiration_days)],
                )
            )
        lifecycle.S3BucketLifecycleConfiguration(self, "lifecycle", bucket=self.bucket.id, rule=rules)
