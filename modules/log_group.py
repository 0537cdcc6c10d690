"""CloudWatch log groups: always encrypted with a customer key, always expiring."""

from __future__ import annotations

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import cloudwatch_log_group

ONE_YEAR_DAYS = 365


def log_group(
    scope: Construct, id_: str, *, name: str, retention_days: int, key: EncryptionKey
) -> cloudwatch_log_group.CloudwatchLogGroup:
    """A log group named ``name`` kept ``retention_days``, encrypted with ``key``.

    Retention comes from the environment's tfvars (story 0.20 AC4: 30 days in staging, 90 in
    production); below a year, the scanner's one-year rule is waived with that reason.
    """
    group = cloudwatch_log_group.CloudwatchLogGroup(
        scope, id_, name=name, retention_in_days=retention_days, kms_key_id=key.arn
    )
    if retention_days < ONE_YEAR_DAYS:
        waive(
            group,
            "CKV_AWS_338",
            f"kept {retention_days} days as this environment's tfvars sets (story 0.20 AC4 retention per environment)",
        )
    return group


def container_log_group(
    scope: Construct, *, name: str, context: AccountContext, retention_days: int
) -> tuple[EncryptionKey, cloudwatch_log_group.CloudwatchLogGroup]:
    """The cluster's container log group ``/aws/eks/<name>/containers`` (fluent-bit ships every pod's
    logs there), with its own rotating key, which the WAF's logs share: construct ids ``logs-key`` and
    ``container-logs``, as the platform stack has always had them."""
    key = EncryptionKey(
        scope,
        "logs-key",
        props=EncryptionKeyProps(
            alias_name=f"{name}-platform-logs",
            description=f"{name}: container logs and WAF logs",
            context=context,
            log_group_name_prefix="",
        ),
    )
    group = log_group(
        scope, "container-logs", name=f"/aws/eks/{name}/containers", retention_days=retention_days, key=key
    )
    return key, group
