"""The bootstrap stack: state bucket, access-log bucket, lock table, KMS key (story 0.1 AC7)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Synthesized
from tests.synth.helpers import one, points_to, ref, statements

STACK = "bootstrap"


def _for_bucket(s: Synthesized, type_: str, bucket: str) -> Any:
    """The one ``type_`` resource attached to ``bucket`` (by reference)."""
    return one({k: v for k, v in s.resources(STACK, type_).items() if points_to(v["bucket"], "aws_s3_bucket", bucket)})


def _bucket_named(s: Synthesized, name: str) -> str:
    return str(one([k for k, v in s.resources(STACK, "aws_s3_bucket").items() if v["bucket"] == name]))


def test_has_state_and_access_log_buckets(synthesized: Synthesized) -> None:
    account = synthesized.settings.account
    names = sorted(b["bucket"] for b in synthesized.resources(STACK, "aws_s3_bucket").values())
    assert names == sorted([account.state_bucket_name, account.access_log_bucket_name])


def test_every_bucket_is_versioned_private_owned_and_protected(synthesized: Synthesized) -> None:
    for name, bucket in synthesized.resources(STACK, "aws_s3_bucket").items():
        assert bucket["lifecycle"]["prevent_destroy"] is True, name
        assert bucket["force_destroy"] is False, name
        assert "acl" not in bucket, name
        versioning = _for_bucket(synthesized, "aws_s3_bucket_versioning", name)
        assert versioning["versioning_configuration"] == {"status": "Enabled"}
        block = _for_bucket(synthesized, "aws_s3_bucket_public_access_block", name)
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert block[flag] is True, (name, flag)
        owner = _for_bucket(synthesized, "aws_s3_bucket_ownership_controls", name)
        assert owner["rule"] == {"object_ownership": "BucketOwnerEnforced"}
        lifecycle = _for_bucket(synthesized, "aws_s3_bucket_lifecycle_configuration", name)
        rules = {r["id"]: r for r in lifecycle["rule"]}
        assert rules["expire-noncurrent-versions"]["noncurrent_version_expiration"] == [{"noncurrent_days": 30}]
        assert rules["expire-noncurrent-versions"]["abort_incomplete_multipart_upload"] == [
            {"days_after_initiation": 7}
        ]
        assert all(r["status"] == "Enabled" for r in rules.values())


def test_every_bucket_policy_denies_insecure_transport(synthesized: Synthesized) -> None:
    documents = synthesized.data(STACK, "aws_iam_policy_document")
    for name in synthesized.resources(STACK, "aws_s3_bucket"):
        policy = _for_bucket(synthesized, "aws_s3_bucket_policy", name)
        r = ref(policy["policy"])
        assert r[0] == "data.aws_iam_policy_document" and r[2] == "json", policy["policy"]
        deny = statements(documents[r[1]])["DenyInsecureTransport"]
        assert deny["effect"] == "Deny"
        assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
        assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
        assert deny["resources"] == [f"${{aws_s3_bucket.{name}.arn}}", f"${{aws_s3_bucket.{name}.arn}}/*"]
        assert policy["depends_on"] == [
            f"aws_s3_bucket_public_access_block.{n}"
            for n, b in synthesized.resources(STACK, "aws_s3_bucket_public_access_block").items()
            if points_to(b["bucket"], "aws_s3_bucket", name)
        ]


def test_state_bucket_is_kms_encrypted_denies_unencrypted_uploads_and_logs_access(
    synthesized: Synthesized,
) -> None:
    account = synthesized.settings.account
    state = _bucket_named(synthesized, account.state_bucket_name)
    logs = _bucket_named(synthesized, account.access_log_bucket_name)
    sse = _for_bucket(synthesized, "aws_s3_bucket_server_side_encryption_configuration", state)
    (rule,) = sse["rule"]
    assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    key = ref(rule["apply_server_side_encryption_by_default"]["kms_master_key_id"])
    assert key[0] == "aws_kms_key"
    assert rule["bucket_key_enabled"] is True

    policy = _for_bucket(synthesized, "aws_s3_bucket_policy", state)
    document = synthesized.data(STACK, "aws_iam_policy_document")[ref(policy["policy"])[1]]
    by_sid = statements(document)
    assert by_sid["DenyObjectsNotEncryptedWithKms"]["condition"] == [
        {"test": "StringNotEquals", "variable": "s3:x-amz-server-side-encryption", "values": ["aws:kms"]}
    ]
    assert by_sid["DenyObjectsWithoutEncryptionHeader"]["condition"] == [
        {"test": "Null", "variable": "s3:x-amz-server-side-encryption", "values": ["true"]}
    ]
    assert all(s["effect"] == "Deny" for s in by_sid.values())

    logging = _for_bucket(synthesized, "aws_s3_bucket_logging", state)
    assert points_to(logging["target_bucket"], "aws_s3_bucket", logs)
    assert logging["target_prefix"] == f"s3/{account.state_bucket_name}/"


def test_access_log_bucket_accepts_only_this_accounts_log_delivery(synthesized: Synthesized) -> None:
    account = synthesized.settings.account
    logs = _bucket_named(synthesized, account.access_log_bucket_name)
    sse = _for_bucket(synthesized, "aws_s3_bucket_server_side_encryption_configuration", logs)
    # S3 server access logging can only deliver to SSE-S3 buckets.
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    policy = _for_bucket(synthesized, "aws_s3_bucket_policy", logs)
    document = synthesized.data(STACK, "aws_iam_policy_document")[ref(policy["policy"])[1]]
    allow = statements(document)["S3ServerAccessLogsFromThisAccount"]
    assert allow["principals"] == [{"type": "Service", "identifiers": ["logging.s3.amazonaws.com"]}]
    assert allow["actions"] == ["s3:PutObject"]
    assert allow["condition"][0]["variable"] == "aws:SourceAccount"
    lifecycle = _for_bucket(synthesized, "aws_s3_bucket_lifecycle_configuration", logs)
    expire = {r["id"]: r for r in lifecycle["rule"]}["expire-objects"]
    assert expire["expiration"] == [{"days": account.access_log_retention_days}]
    # No recursive logging: the log bucket does not log into itself.
    logged = [v["bucket"] for v in synthesized.resources(STACK, "aws_s3_bucket_logging").values()]
    assert not any(points_to(b, "aws_s3_bucket", logs) for b in logged)


def test_lock_table_is_on_demand_encrypted_recoverable_and_protected(synthesized: Synthesized) -> None:
    table = one(synthesized.resources(STACK, "aws_dynamodb_table"))
    assert table["name"] == synthesized.settings.account.lock_table_name
    assert table["hash_key"] == "LockID"
    assert table["attribute"] == [{"name": "LockID", "type": "S"}]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["server_side_encryption"]["enabled"] is True
    key = ref(table["server_side_encryption"]["kms_key_arn"])
    assert key[0] == "aws_kms_key"
    assert table["point_in_time_recovery"] == {"enabled": True}
    assert table["deletion_protection_enabled"] is True
    assert table["lifecycle"]["prevent_destroy"] is True


def test_state_key_rotates_has_policy_and_alias(synthesized: Synthesized) -> None:
    ((name, key),) = synthesized.resources(STACK, "aws_kms_key").items()
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    assert key["lifecycle"]["prevent_destroy"] is True
    assert ref(key["policy"])[0] == "data.aws_iam_policy_document"
    alias = one(synthesized.resources(STACK, "aws_kms_alias"))
    assert alias["name"] == synthesized.settings.account.state_key_alias
    assert points_to(alias["target_key_id"], "aws_kms_key", name)


def test_bootstrap_keeps_its_state_in_the_bucket_it_creates(synthesized: Synthesized) -> None:
    account = synthesized.settings.account
    backend = synthesized.stacks[STACK]["terraform"]["backend"]
    assert backend == {
        "s3": {
            "bucket": account.state_bucket_name,
            "key": "bootstrap/bootstrap.tfstate",
            "region": account.region,
            "encrypt": True,
            "kms_key_id": account.state_key_alias,
            "use_lockfile": True,
        }
    }


def test_bootstrap_outputs_what_the_backends_need(synthesized: Synthesized) -> None:
    outputs = synthesized.stacks[STACK]["output"]
    for name in (
        "region",
        "state_bucket_name",
        "state_bucket_arn",
        "state_kms_key_arn",
        "state_kms_key_alias",
        "lock_table_name",
        "lock_table_arn",
        "access_log_bucket_name",
    ):
        assert outputs[name]["value"], name
        assert outputs[name]["description"], name
