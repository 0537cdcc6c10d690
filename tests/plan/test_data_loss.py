"""Data lost or the audit trail stopped without destroying a protected resource (G021), and the audit
and cluster types destroying which loses data (G001). One test per shape; safe changes pass; both are
allowed the way a destroy is."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import PROTECTED_TYPES, blocking, check
from qualisys_infra.plan.model import Plan, parse_plan


def _change(type_: str, actions: list[str], before: Any, after: Any, address: str = "") -> dict[str, Any]:
    return {
        "address": address or f"{type_}.x",
        "mode": "managed",
        "type": type_,
        "name": (address or f"{type_}.x").split(".")[1],
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


def _update(type_: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return _change(type_, ["update"], before, after)


def _plan(*changes: dict[str, Any], references: dict[str, dict[str, list[str]]] | None = None) -> Plan:
    configured = [
        {"address": address, "expressions": {key: {"references": refs} for key, refs in by_key.items()}}
        for address, by_key in (references or {}).items()
    ]
    document = {
        "format_version": "1.2",
        "resource_changes": list(changes),
        "configuration": {"root_module": {"resources": configured}},
    }
    return parse_plan(document, "crafted")


def _losses(plan: Plan, **options: Any) -> list[Finding]:
    return [f for f in check(plan, **options) if f.rule == "G021"]


ENABLED = {"bucket": "qualisys-terraform-state", "versioning_configuration": [{"status": "Enabled"}]}
SUSPENDED = {"bucket": "qualisys-terraform-state", "versioning_configuration": [{"status": "Suspended"}]}


def _lifecycle(days: int | None = None, date: str | None = None, status: str = "Enabled") -> dict[str, Any]:
    expiration = {"days": days} if days is not None else {"date": date}
    rule = {"id": "x", "status": status, "filter": [{"prefix": ""}], "expiration": [expiration]}
    return {"bucket": "qualisys-terraform-state", "rule": [rule]}


LOSSES: dict[str, tuple[dict[str, Any], str]] = {
    "trail_logging_stopped": (
        _update("aws_cloudtrail", {"name": "t", "enable_logging": True}, {"name": "t", "enable_logging": False}),
        "CloudTrail logging stopped: enable_logging = false",
    ),
    "key_disabled": (
        _update("aws_kms_key", {"is_enabled": True}, {"is_enabled": False}),
        "KMS key disabled (is_enabled = false): whatever it encrypts can no longer be read",
    ),
    "versioning_suspended": (
        _update("aws_s3_bucket_versioning", ENABLED, SUSPENDED),
        "versioning suspended on a bucket that holds data: overwritten and deleted objects are lost",
    ),
    "versioning_created_suspended_on_an_existing_bucket": (
        _change("aws_s3_bucket_versioning", ["create"], None, SUSPENDED),
        "versioning suspended on a bucket",
    ),
    "versioning_resource_destroyed": (
        _change("aws_s3_bucket_versioning", ["delete"], ENABLED, None),
        "destroying aws_s3_bucket_versioning suspends the bucket's versioning (the provider's delete)",
    ),
    "legacy_bucket_versioning_off": (
        _update("aws_s3_bucket", {"versioning": [{"enabled": True}]}, {"versioning": [{"enabled": False}]}),
        "versioning suspended (versioning.enabled = false)",
    ),
    "every_object_of_an_existing_bucket_expires": (
        _change("aws_s3_bucket_lifecycle_configuration", ["create"], None, _lifecycle(days=1)),
        "lifecycle expires the bucket's current objects after 1 day: an existing bucket's data is deleted",
    ),
    "expiration_shortened": (
        _update("aws_s3_bucket_lifecycle_configuration", _lifecycle(days=365), _lifecycle(days=7)),
        "lifecycle expires the bucket's current objects after 7 days",
    ),
    "expiration_on_a_date": (
        _change("aws_s3_bucket_lifecycle_configuration", ["create"], None, _lifecycle(date="2027-01-01T00:00:00Z")),
        "lifecycle expires the bucket's current objects on 2027-01-01T00:00:00Z",
    ),
    "database_backups_off": (
        _update("aws_db_instance", {"backup_retention_period": 7}, {"backup_retention_period": 0}),
        "automated backups off: backup_retention_period 7 -> 0",
    ),
    "no_final_snapshot": (
        _update("aws_db_instance", {"skip_final_snapshot": False}, {"skip_final_snapshot": True}),
        "skip_final_snapshot turned on: no final snapshot when it is deleted",
    ),
    "backups_deleted_with_the_cluster": (
        _update("aws_rds_cluster", {"delete_automated_backups": False}, {"delete_automated_backups": True}),
        "delete_automated_backups turned on: its automated backups deleted with it",
    ),
    "cache_snapshots_off": (
        _update("aws_elasticache_replication_group", {"snapshot_retention_limit": 5}, {"snapshot_retention_limit": 0}),
        "automatic snapshots off: snapshot_retention_limit 5 -> 0",
    ),
    "table_recovery_off": (
        _update(
            "aws_dynamodb_table",
            {"point_in_time_recovery": [{"enabled": True}]},
            {"point_in_time_recovery": [{"enabled": False}]},
        ),
        "point-in-time recovery switched off",
    ),
    "bucket_force_destroy": (
        _update("aws_s3_bucket", {"force_destroy": False}, {"force_destroy": True}),
        "force_destroy turned on: deleted with everything in it",
    ),
    "repository_force_delete": (
        _update("aws_ecr_repository", {"force_delete": False}, {"force_delete": True}),
        "force_delete turned on: deleted with every image in it",
    ),
    "audit_log_retention_shortened": (
        _update("aws_cloudwatch_log_group", {"retention_in_days": 365}, {"retention_in_days": 1}),
        "log retention shortened: 365 days -> 1 day (older events are deleted)",
    ),
    "never_expiring_logs_made_to_expire": (
        _update("aws_cloudwatch_log_group", {"retention_in_days": 0}, {"retention_in_days": 30}),
        "log retention shortened: never expiring -> 30 days",
    ),
}


@pytest.mark.parametrize("shape", sorted(LOSSES))
def test_fails_if_data_is_lost_without_a_destroy(shape: str) -> None:
    change, message = LOSSES[shape]
    (finding,) = _losses(_plan(change))
    assert (finding.blocking, finding.address) == (True, change["address"])
    assert finding.message.startswith(message), finding.message
    assert finding.hint == f"--allow-destroy {change['address']}"


def test_a_loss_is_allowed_the_way_a_destroy_is() -> None:
    change, message = LOSSES["trail_logging_stopped"]
    (finding,) = _losses(_plan(change), allow_destroy=["aws_cloudtrail.x"])
    assert (finding.blocking, finding.severity.value) == (False, "warning")
    assert finding.message.startswith(message)


@pytest.mark.parametrize(
    "type_",
    [
        "aws_cloudtrail",
        "aws_cloudwatch_log_group",
        "kubernetes_namespace",
        "kubernetes_namespace_v1",
        "github_repository",
    ],
)
@pytest.mark.parametrize("actions", [["delete"], ["delete", "create"], ["create", "delete"]])
def test_fails_if_an_audit_or_cluster_resource_is_destroyed(type_: str, actions: list[str]) -> None:
    after = None if actions == ["delete"] else {"name": "x"}
    (finding,) = blocking(check(_plan(_change(type_, actions, {"name": "x"}, after))))
    assert (finding.rule, finding.address) == ("G001", f"{type_}.x")
    assert finding.message.startswith(f"protected {type_} would be ")
    assert type_ in PROTECTED_TYPES


BUCKET = "aws_s3_bucket.state"
SAFE = {
    "expiration_on_a_bucket_made_by_this_plan_by_reference": (
        [
            _change("aws_s3_bucket", ["create"], None, {"bucket": None}, BUCKET),
            _change("aws_s3_bucket_lifecycle_configuration", ["create"], None, {**_lifecycle(days=1), "bucket": None}),
        ],
        {"aws_s3_bucket_lifecycle_configuration.x": {"bucket": [f"{BUCKET}.id", BUCKET]}},
    ),
    "expiration_on_a_bucket_made_by_this_plan_by_name": (
        [
            _change("aws_s3_bucket", ["create"], None, {"bucket": "qualisys-terraform-state"}, BUCKET),
            _change("aws_s3_bucket_lifecycle_configuration", ["create"], None, _lifecycle(days=1)),
        ],
        None,
    ),
    "expiration_lengthened": ([_update("aws_s3_bucket_lifecycle_configuration", _lifecycle(30), _lifecycle(90))], None),
    "expiration_rule_disabled": (
        [_change("aws_s3_bucket_lifecycle_configuration", ["create"], None, _lifecycle(1, status="Disabled"))],
        None,
    ),
    "versioning_enabled": ([_update("aws_s3_bucket_versioning", SUSPENDED, ENABLED)], None),
    "a_new_database_without_final_snapshot": (
        [_change("aws_db_instance", ["create"], None, {"skip_final_snapshot": True, "backup_retention_period": 0})],
        None,
    ),
    "backups_kept_longer": (
        [_update("aws_db_instance", {"backup_retention_period": 7}, {"backup_retention_period": 14})],
        None,
    ),
    "log_retention_lengthened": (
        [_update("aws_cloudwatch_log_group", {"retention_in_days": 30}, {"retention_in_days": 90})],
        None,
    ),
    "trail_logging_unchanged": (
        [_update("aws_cloudtrail", {"enable_logging": True}, {"enable_logging": True, "name": "t"})],
        None,
    ),
    "key_enabled": ([_update("aws_kms_key", {"is_enabled": False}, {"is_enabled": True})], None),
    "unversioned_resource_removed": (
        [_change("aws_s3_bucket_versioning", ["delete"], SUSPENDED, None)],
        None,
    ),
}


@pytest.mark.parametrize("shape", sorted(SAFE))
def test_lets_changes_that_keep_data_through(shape: str) -> None:
    changes, references = SAFE[shape]
    assert _losses(_plan(*changes, references=references)) == []
