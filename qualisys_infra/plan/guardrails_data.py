"""G021: data lost or the audit trail stopped without a destroy: logging off, a key disabled, versioning
suspended, current objects expired, backups or final snapshots off, log retention shortened,
force-destroy on; allowed the way a destroy is."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.guardrail_values import (
    Value,
    before_value,
    before_values,
    is_false,
    is_true,
    number,
    planned_keys,
    status_of,
)
from qualisys_infra.plan.guardrails_iam import Context
from qualisys_infra.plan.model import Kind, ResourceChange
from qualisys_infra.plan.words import plural, shell_word


def data_loss(change: ResourceChange, context: Context, allowed: Mapping[str, str]) -> Iterator[Finding]:
    """G021: a change that loses data or stops the audit trail without destroying anything: logging
    stopped, a key disabled, versioning suspended, current objects expired, backups or final snapshots
    turned off, log retention shortened, force-destroy turned on. Allowed the way a destroy is
    (``allow_destroy``), then a warning."""
    losses = list(_losses(change, context))
    for loss in losses:
        if change.address in allowed:
            yield Finding(
                "G021", Severity.WARNING, change.address, f"{loss} (allowed by {allowed[change.address]})", False
            )
        else:
            hint = f"--allow-destroy {shell_word(change.address)}"
            yield Finding("G021", Severity.CRITICAL, change.address, loss, True, hint=hint)


LOSS_TYPES = frozenset(
    {
        "aws_cloudtrail",
        "aws_kms_key",
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_dynamodb_table",
        "aws_cloudwatch_log_group",
    }
)


LOSS_KEYS = frozenset(
    {
        "skip_final_snapshot",
        "delete_automated_backups",
        "force_destroy",
        "force_delete",
        "backup_retention_period",
        "snapshot_retention_limit",
    }
)


def _losses(change: ResourceChange, context: Context) -> Iterator[str]:
    kind, type_ = change.kind, change.type
    if kind is Kind.DELETE:
        if type_ == "aws_s3_bucket_versioning" and status_of(change.before) == "enabled":
            yield "destroying aws_s3_bucket_versioning suspends the bucket's versioning (the provider's delete)"
        return
    planned = planned_keys(change)
    after = Value.after(change)
    if (
        type_ == "aws_cloudtrail"
        and "enable_logging" in planned
        and is_false(after["enable_logging"].scalar(bool, str))
    ):
        yield "CloudTrail logging stopped: enable_logging = false"
    if type_ == "aws_kms_key" and "is_enabled" in planned and is_false(after["is_enabled"].scalar(bool, str)):
        yield "KMS key disabled (is_enabled = false): whatever it encrypts can no longer be read"
    if type_ == "aws_s3_bucket_versioning" and not context.bucket_is_new(change):
        status = status_of(change.after)
        if status in ("suspended", "disabled"):
            yield f"versioning {status} on a bucket that holds data: overwritten and deleted objects are lost"
    if type_ == "aws_s3_bucket" and "versioning" in planned:
        flags = [v["enabled"].scalar(bool, str) for v in after["versioning"].items()]
        were = [v.get("enabled") for v in before_values(change, "versioning") if isinstance(v, dict)]
        if any(is_false(v) for v in flags) and any(is_true(v) for v in were):
            yield "versioning suspended (versioning.enabled = false)"
    if type_ == "aws_s3_bucket_lifecycle_configuration" and not context.bucket_is_new(change):
        days, dates = _expirations(after["rule"].items())
        earlier_days, earlier_dates = _expirations_before(change)
        if (days and (not earlier_days or min(days) < min(earlier_days))) or (dates - earlier_dates):
            when = (
                f"after {plural(int(min(days)), 'day')}" if days else f"on {', '.join(sorted(dates - earlier_dates))}"
            )
            yield f"lifecycle expires the bucket's current objects {when}: an existing bucket's data is deleted"
    for flag, what in (
        ("skip_final_snapshot", "no final snapshot when it is deleted"),
        ("delete_automated_backups", "its automated backups deleted with it"),
        ("force_destroy", "deleted with everything in it"),
        ("force_delete", "deleted with every image in it"),
    ):
        if flag in planned and is_true(after[flag].scalar(bool, str)) and is_false(before_value(change, flag)):
            yield f"{flag} turned on: {what}"
    for key, what in (
        ("backup_retention_period", "automated backups off"),
        ("snapshot_retention_limit", "automatic snapshots off"),
    ):
        now_days, earlier = (
            number(after[key].scalar(int, float)) if key in planned else None,
            number(before_value(change, key)),
        )
        if now_days == 0 and earlier:
            yield f"{what}: {key} {int(earlier)} -> 0"
    if type_ == "aws_dynamodb_table" and "point_in_time_recovery" in planned:
        flags = [p["enabled"].scalar(bool, str) for p in after["point_in_time_recovery"].items()]
        were = [p.get("enabled") for p in before_values(change, "point_in_time_recovery") if isinstance(p, dict)]
        if any(is_false(v) for v in flags) and any(is_true(v) for v in were):
            yield "point-in-time recovery switched off"
    if type_ == "aws_cloudwatch_log_group" and "retention_in_days" in planned:
        now_days, earlier = (
            number(after["retention_in_days"].scalar(int, float)),
            number(before_value(change, "retention_in_days")),
        )
        if now_days and (earlier == 0 or (earlier and now_days < earlier)):
            before_text = "never expiring" if earlier == 0 else plural(int(earlier or 0), "day")
            yield f"log retention shortened: {before_text} -> {plural(int(now_days), 'day')} (older events are deleted)"


def _expirations(rules: Sequence[Value]) -> tuple[list[float], set[str]]:
    """The days and dates after which enabled rules expire current objects."""
    days: list[float] = []
    dates: set[str] = set()
    for rule in rules:
        status = rule["status"].scalar(str)
        if status is None or status.strip().lower() != "enabled":
            continue
        for expiration in rule["expiration"].items():
            if (n := number(expiration["days"].scalar(int, float))) is not None and n > 0:
                days.append(n)
            if date := expiration["date"].scalar(str):
                dates.add(date)
    return days, dates


def _expirations_before(change: ResourceChange) -> tuple[list[float], set[str]]:
    days: list[float] = []
    dates: set[str] = set()
    for rule in before_values(change, "rule"):
        if not isinstance(rule, dict) or str(rule.get("status", "")).lower() != "enabled":
            continue
        expirations = rule.get("expiration")
        for expiration in expirations if isinstance(expirations, list) else [expirations]:
            if isinstance(expiration, dict):
                if (n := number(expiration.get("days"))) is not None and n > 0:
                    days.append(n)
                if isinstance(expiration.get("date"), str) and expiration["date"]:
                    dates.add(expiration["date"])
    return days, dates
