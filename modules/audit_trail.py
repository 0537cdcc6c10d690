"""CloudTrail: multi-region, validated, KMS-encrypted, to a dedicated bucket and to CloudWatch Logs."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.log_group import log_group
from modules.policy import Condition, Statement
from modules.secure_bucket import BucketRole, SecureBucket, SecureBucketProps
from modules.service_role import ServiceRole, ServiceRoleProps, service_trust
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import cloudtrail


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditTrailProps:
    """Names and retention. Every management event of every region is recorded (reads included,
    so each ``GetSecretValue`` is audited: story 0.7 AC5), and so is every object read and write in
    ``data_event_bucket_names`` (S3 data events: who read or wrote which Terraform state, and
    when). Log files are digest-validated, and logs are kept ``retention_days`` in S3 and in
    CloudWatch Logs (story 0.1 AC9: 90 days)."""

    name: str
    context: AccountContext
    bucket_name: str
    access_log_bucket: SecureBucket
    retention_days: int
    data_event_bucket_names: tuple[str, ...]


class AuditTrail(Construct):
    """Its KMS key, its bucket, its log group and role, and ``aws_cloudtrail``."""

    def __init__(self, scope: Construct, id_: str, *, props: AuditTrailProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        trail_arn = ctx.arn("cloudtrail", f"trail/{props.name}")
        self.key = EncryptionKey(
            self,
            "key",
            props=EncryptionKeyProps(
                alias_name=f"{props.name}-cloudtrail",
                description=f"{props.name}: CloudTrail log files and their log group",
                context=ctx,
                log_group_name_prefix=f"/aws/cloudtrail/{props.name}",
                extra_statements=(
                    Statement(
                        sid="CloudTrailEncryptsLogsOfThisTrail",
                        actions=("kms:GenerateDataKey*",),
                        resources=("*",),
                        principals={"Service": ["cloudtrail.amazonaws.com"]},
                        conditions=(
                            Condition(test="StringEquals", variable="aws:SourceArn", values=(trail_arn,)),
                            Condition(
                                test="StringLike",
                                variable="kms:EncryptionContext:aws:cloudtrail:arn",
                                values=(f"arn:{ctx.partition}:cloudtrail:*:{ctx.account_id}:trail/*",),
                            ),
                        ),
                    ),
                    Statement(
                        sid="CloudTrailDescribesKey",
                        actions=("kms:DescribeKey",),
                        resources=("*",),
                        principals={"Service": ["cloudtrail.amazonaws.com"]},
                    ),
                ),
            ),
        )
        bucket_arn = f"arn:{ctx.partition}:s3:::{props.bucket_name}"
        self.bucket = SecureBucket(
            self,
            "bucket",
            props=SecureBucketProps(
                bucket_name=props.bucket_name,
                role=BucketRole.DATA,
                context=ctx,
                kms_key=self.key,
                access_log_bucket=props.access_log_bucket,
                expiration_days=props.retention_days,
                noncurrent_version_expiration_days=props.retention_days,
                # CloudTrail sends no encryption header; the bucket's SSE-KMS default encrypts.
                require_encryption_header=False,
                extra_statements=(
                    Statement(
                        sid="CloudTrailChecksBucketAcl",
                        actions=("s3:GetBucketAcl",),
                        resources=(bucket_arn,),
                        principals={"Service": ["cloudtrail.amazonaws.com"]},
                        conditions=(Condition(test="StringEquals", variable="aws:SourceArn", values=(trail_arn,)),),
                    ),
                    Statement(
                        sid="CloudTrailWritesThisTrailOnly",
                        actions=("s3:PutObject",),
                        resources=(f"{bucket_arn}/AWSLogs/{ctx.account_id}/*",),
                        principals={"Service": ["cloudtrail.amazonaws.com"]},
                        conditions=(
                            Condition(test="StringEquals", variable="aws:SourceArn", values=(trail_arn,)),
                            Condition(
                                test="StringEquals", variable="s3:x-amz-acl", values=("bucket-owner-full-control",)
                            ),
                        ),
                    ),
                ),
            ),
        )
        self.log_group = log_group(
            self,
            "log-group",
            name=f"/aws/cloudtrail/{props.name}",
            retention_days=props.retention_days,
            key=self.key,
        )
        self.role = ServiceRole(
            self,
            "logs-role",
            props=ServiceRoleProps(
                name=f"{props.name}-cloudtrail-logs",
                description="Lets CloudTrail deliver to its log group",
                context=ctx,
                trust=service_trust(ctx, "cloudtrail.amazonaws.com", source_arn=trail_arn),
                statements=(
                    Statement(
                        sid="DeliverToOwnLogGroup",
                        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                        resources=(f"{self.log_group.arn}:*",),
                    ),
                ),
            ),
        )
        self.trail = cloudtrail.Cloudtrail(
            self,
            "trail",
            name=props.name,
            s3_bucket_name=self.bucket.name,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=self.key.arn,
            cloud_watch_logs_group_arn=f"{self.log_group.arn}:*",
            cloud_watch_logs_role_arn=self.role.arn,
            # Advanced selectors replace event_selector (the two cannot be combined); without a
            # readOnly field each selector records reads and writes.
            advanced_event_selector=[
                cloudtrail.CloudtrailAdvancedEventSelector(
                    name="Every management event",
                    field_selector=[_field("eventCategory", equal_to=["Management"])],
                ),
                *(
                    [
                        cloudtrail.CloudtrailAdvancedEventSelector(
                            name="Object reads and writes in the named buckets",
                            field_selector=[
                                _field("eventCategory", equal_to=["Data"]),
                                _field("resources.type", equal_to=["AWS::S3::Object"]),
                                _field(
                                    "resources.ARN",
                                    starts_with=[
                                        f"arn:{ctx.partition}:s3:::{bucket}/"
                                        for bucket in props.data_event_bucket_names
                                    ],
                                ),
                            ],
                        )
                    ]
                    if props.data_event_bucket_names
                    else []
                ),
            ],
            depends_on=[self.bucket.policy],
        )
        waive(
            self.trail,
            "CKV_AWS_252",
            "per-file delivery notifications have no consumer; alerting reads the trail's CloudWatch log group",
        )


def _field(
    name: str, *, equal_to: list[str] | None = None, starts_with: list[str] | None = None
) -> cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector:
    return cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector(
        field=name, equal_to=equal_to, starts_with=starts_with
    )
