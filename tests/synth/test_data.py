"""The <env>-data stacks (stories 0.4, 0.5, 0.7): RDS PostgreSQL and ElastiCache Redis."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.core.data_access import cloud_redis_access_string
from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS, apply_role_name
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.synth.helpers import one, points_to, ref


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _stack(env: EnvironmentConfig) -> str:
    return f"{env.environment}-data"


def _db(s: Synthesized, env: EnvironmentConfig) -> dict[str, Any]:
    return dict(one(s.resources(_stack(env), "aws_db_instance")))


def _redis(s: Synthesized, env: EnvironmentConfig) -> dict[str, Any]:
    return dict(one(s.resources(_stack(env), "aws_elasticache_replication_group")))


def _key_description(s: Synthesized, env: EnvironmentConfig, value: str) -> str:
    key = s.resources(_stack(env), "aws_kms_key")[ref(value)[1]]
    assert key["enable_key_rotation"] is True
    return str(key["description"])


def test_postgres_is_private_sized_and_encrypted_per_environment(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    db = _db(synthesized, env)
    assert db["engine"] == "postgres"
    assert int(db["engine_version"].split(".")[0]) >= 15
    assert db["instance_class"] == env.rds_instance_class
    assert db["multi_az"] is env.rds_multi_az
    assert db["publicly_accessible"] is False
    assert db["storage_type"] == "gp3"
    assert db["storage_encrypted"] is True
    assert _key_description(synthesized, env, db["kms_key_id"]).endswith("RDS storage and Performance Insights")
    assert db["allocated_storage"] == env.rds_allocated_storage_gib
    assert db["max_allocated_storage"] == env.rds_max_allocated_storage_gib
    assert (
        "network_db-subnet-group" in db["db_subnet_group_name"]
        and f"{env.environment}-network" in db["db_subnet_group_name"]
    )


def test_postgres_backups_protection_and_final_snapshot(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    db = _db(synthesized, env)
    assert db["backup_retention_period"] == 7
    assert db["backup_window"] == "03:00-04:00"
    assert db["maintenance_window"] == "sun:04:30-sun:05:30"
    assert db["copy_tags_to_snapshot"] is True
    protected = env.environment != "dev"
    assert db["deletion_protection"] is protected
    assert db["skip_final_snapshot"] is (not protected)
    if protected:
        assert db["final_snapshot_identifier"] == f"qualisys-{env.environment}-final"


def test_postgres_master_password_is_managed_and_rotated_every_90_days(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    db = _db(synthesized, env)
    assert db["manage_master_user_password"] is True
    assert "password" not in db and "password_wo" not in db
    assert _key_description(synthesized, env, db["master_user_secret_kms_key_id"]).endswith(
        "RDS master password in Secrets Manager"
    )
    rotation = one(synthesized.resources(stack, "aws_secretsmanager_secret_rotation"))
    assert rotation["rotation_rules"] == {"automatically_after_days": 90}
    assert rotation["secret_id"].endswith(".master_user_secret[0].secret_arn}")


def test_postgres_iam_auth_monitoring_and_logs(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    db = _db(synthesized, env)
    assert db["iam_database_authentication_enabled"] is True
    assert db["performance_insights_enabled"] is True
    assert ref(db["performance_insights_kms_key_id"])[0] == "aws_kms_key"
    assert db["monitoring_interval"] == 60
    assert ref(db["monitoring_role_arn"])[0] == "aws_iam_role"
    assert db["enabled_cloudwatch_logs_exports"] == ["postgresql", "upgrade"]
    groups = {g["name"]: g for g in synthesized.resources(stack, "aws_cloudwatch_log_group").values()}
    for kind in ("postgresql", "upgrade"):
        group = groups[f"/aws/rds/instance/qualisys-{env.environment}/{kind}"]
        assert group["retention_in_days"] == env.log_retention_days


def test_postgres_parameter_group_forces_tls_and_logs_slow_statements(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    db = _db(synthesized, env)
    ((name, group),) = synthesized.resources(stack, "aws_db_parameter_group").items()
    assert points_to(db["parameter_group_name"], "aws_db_parameter_group", name)
    assert group["family"] == f"postgres{db['engine_version'].split('.')[0]}"
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params["rds.force_ssl"] == "1"
    assert 0 < int(params["log_min_duration_statement"]) <= 1000


def _ingress(s: Synthesized, env: EnvironmentConfig, group_name: str) -> list[dict[str, Any]]:
    stack = _stack(env)
    (group,) = [n for n, g in s.resources(stack, "aws_security_group").items() if g["name"] == group_name]
    return [
        r
        for r in s.resources(stack, "aws_vpc_security_group_ingress_rule").values()
        if points_to(r["security_group_id"], "aws_security_group", group)
    ]


@pytest.mark.parametrize(("suffix", "port"), [("postgres", 5432), ("redis", 6379)])
def test_data_tier_admits_only_the_node_security_group(
    synthesized: Synthesized, env: EnvironmentConfig, suffix: str, port: int
) -> None:
    (rule,) = _ingress(synthesized, env, f"qualisys-{env.environment}-{suffix}")
    assert (rule["ip_protocol"], rule["from_port"], rule["to_port"]) == ("tcp", port, port)
    source = rule["referenced_security_group_id"]
    assert f"cross-stack-reference-input-{env.environment}-cluster" in source and "node-sg" in source
    egress = synthesized.resources(_stack(env), "aws_vpc_security_group_egress_rule")
    assert egress == {}, "the data tier opens no connections"


def test_redis_cluster_mode_shape_follows_the_environment_file(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    redis = _redis(synthesized, env)
    assert redis["engine"] == "redis" and redis["engine_version"].startswith("7")
    assert redis["cluster_mode"] == "enabled"
    assert redis["parameter_group_name"] == "default.redis7.cluster.on"
    assert redis["node_type"] == env.redis_node_type
    assert redis["num_node_groups"] == env.redis_num_shards
    assert redis["replicas_per_node_group"] == env.redis_replicas_per_shard
    assert redis["automatic_failover_enabled"] is True
    assert redis["multi_az_enabled"] is (env.environment != "dev")
    assert redis["snapshot_retention_limit"] == env.redis_snapshot_retention_days
    if env.environment != "dev":
        assert redis["snapshot_retention_limit"] > 0


def test_redis_is_encrypted_and_authenticates_without_a_secret(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    redis = _redis(synthesized, env)
    assert redis["at_rest_encryption_enabled"] == "true"
    assert _key_description(synthesized, env, redis["kms_key_id"]).endswith("ElastiCache data at rest")
    assert redis["transit_encryption_enabled"] is True
    assert redis["transit_encryption_mode"] == "required"
    assert "auth_token" not in redis and "auth_token_wo" not in redis
    ((group_name, _group),) = synthesized.resources(stack, "aws_elasticache_user_group").items()
    assert redis["user_group_ids"] == [f"${{aws_elasticache_user_group.{group_name}.user_group_id}}"]
    users = {u["user_name"]: u for u in synthesized.resources(stack, "aws_elasticache_user").values()}
    assert users["default"]["access_string"].startswith("off ")
    app = users[f"qualisys-{env.environment}-app"]
    assert app["authentication_mode"] == {"type": "iam"}
    assert app["user_id"] == app["user_name"]
    for user in users.values():
        assert "passwords" not in user


def test_redis_app_user_reaches_only_tenant_keys_with_data_commands(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    """What it may then do is asked of a real Redis in tests/tenancy/test_redis_cloud_user.py."""
    users = {u["user_name"]: u for u in synthesized.resources(_stack(env), "aws_elasticache_user").values()}
    tokens = users[f"qualisys-{env.environment}-app"]["access_string"].split(" ")
    assert tokens == cloud_redis_access_string().split(" ")
    assert [t for t in tokens if t[0] in "~&"] == ["~tenant_*:*", "&tenant_*:*"]
    assert "+@all" not in tokens and {"-@admin", "-@dangerous", "-@keyspace", "-scan", "-keys"} <= set(tokens)


def test_redis_slow_log_goes_to_cloudwatch(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    redis = _redis(synthesized, env)
    deliveries = {d["log_type"]: d for d in redis["log_delivery_configuration"]}
    assert deliveries["slow-log"]["destination_type"] == "cloudwatch-logs"
    assert deliveries["slow-log"]["log_format"] == "json"


def test_one_customer_key_per_purpose(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    descriptions = sorted(
        k["description"].split(": ", 1)[1] for k in synthesized.resources(_stack(env), "aws_kms_key").values()
    )
    assert descriptions == [
        "ElastiCache data at rest",
        "RDS master password in Secrets Manager",
        "RDS storage and Performance Insights",
        "database and cache logs",
    ]


def test_dev_is_cheaper_than_production_exactly_where_tfvars_says(synthesized: Synthesized) -> None:
    envs = {e.environment: e for e in synthesized.settings.environments}
    dev, prod = (_db(synthesized, envs[n]) for n in ("dev", "production"))
    differing = {k for k in dev.keys() | prod.keys() if dev.get(k) != prod.get(k) and k != "//"}
    assert differing == {
        "identifier",
        "instance_class",
        "multi_az",
        "allocated_storage",
        "max_allocated_storage",
        "deletion_protection",
        "skip_final_snapshot",
        "final_snapshot_identifier",
        # references to resources of each stack carry the same names; these differ by value only
    } | {k for k in dev if isinstance(dev[k], str) and dev[k].startswith("${") and dev[k] != prod.get(k)}
    dev_redis, prod_redis = (_redis(synthesized, envs[n]) for n in ("dev", "production"))
    assert dev_redis["node_type"] == envs["dev"].redis_node_type != prod_redis["node_type"]
    assert dev_redis["multi_az_enabled"] is False and prod_redis["multi_az_enabled"] is True


def _document(s: Synthesized, env: EnvironmentConfig, value: str) -> dict[str, Any]:
    type_, name, attr = ref(value)
    assert (type_, attr) == ("data.aws_iam_policy_document", "json")
    return dict(s.data(_stack(env), "aws_iam_policy_document")[name])


def test_app_user_has_no_password_and_connects_with_an_iam_token(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    """One way everywhere in the cloud: IAM database authentication, ``rds_iam`` granted by tenants init."""
    stack = _stack(env)
    ((db_name, db),) = synthesized.resources(stack, "aws_db_instance").items()
    assert db["iam_database_authentication_enabled"] is True
    ((_, policy),) = synthesized.resources(stack, "aws_iam_policy").items()
    assert policy["name"] == f"qualisys-{env.environment}-db-connect-app-user"
    (statement,) = _document(synthesized, env, policy["policy"])["statement"]
    assert statement["effect"] == "Allow" and statement["actions"] == ["rds-db:connect"]
    (resource,) = statement["resources"]
    assert resource.startswith("arn:${data.aws_partition.") and ":rds-db:${data.aws_region." in resource
    assert resource.endswith(f":dbuser:${{aws_db_instance.{db_name}.resource_id}}/app_user")
    outputs = synthesized.stacks[stack]["output"]
    assert outputs["db_app_user_connect_policy_arn"]["value"].endswith(".arn}")
    # No secret for the application's database login: the only database secret is RDS's master one.
    assert synthesized.resources(stack, "aws_secretsmanager_secret") == {}


def test_master_secret_is_read_only_by_the_administrators_and_aws(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    (policy,) = synthesized.resources(stack, "aws_secretsmanager_secret_policy").values()
    assert policy["secret_arn"].endswith(".master_user_secret[0].secret_arn}")
    assert policy["block_public_policy"] is True
    (statement,) = _document(synthesized, env, policy["policy"])["statement"]
    assert statement["effect"] == "Deny" and statement["actions"] == ["secretsmanager:GetSecretValue"]
    assert statement["principals"] == [{"type": "*", "identifiers": ["*"]}]
    conditions = {c["test"]: c for c in statement["condition"]}
    assert sorted(conditions) == ["ArnNotLike", "Bool"]
    assert conditions["Bool"]["variable"] == "aws:PrincipalIsAWSService" and conditions["Bool"]["values"] == ["false"]
    readers = conditions["ArnNotLike"]["values"]
    assert conditions["ArnNotLike"]["variable"] == "aws:PrincipalArn"
    # where each deploy proves isolation on this database (sign-off 6), the apply role that runs it too
    verifier = (
        [f"role/{apply_role_name(synthesized.settings.account.project, env.environment)}"]
        if env.environment in ISOLATION_VERIFIED_ENVIRONMENTS
        else []
    )
    assert [r.rsplit(":", 1)[1] for r in readers] == [
        f"role/{synthesized.settings.account.admin_role_name}",
        *verifier,
        "role/aws-service-role/*",
    ]
