"""Plan JSON shaped like ``terraform show -json`` (format 1.2) for the cost tests: AWS resources
cannot be planned on this machine, so these documents are written by hand, field for field as
Terraform writes them (see tests/fixtures/plans for real ones)."""

from __future__ import annotations

from typing import Any

AWS = "registry.terraform.io/hashicorp/aws"


def change(
    address: str,
    actions: list[str],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    after_unknown: dict[str, Any] | None = None,
    provider: str = AWS,
) -> dict[str, Any]:
    """One ``resource_changes`` entry."""
    type_, name = address.split(".")[-2:]
    return {
        "address": address,
        "mode": "managed",
        "type": type_,
        "name": name,
        "provider_name": provider,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown if after_unknown is not None else ({"id": True} if before is None else {}),
            "before_sensitive": {} if before is not None else False,
            "after_sensitive": {} if after is not None else False,
        },
    }


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.0",
        "planned_values": {"root_module": {}},
        "resource_changes": list(changes),
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}}
        },
    }


EIP = {"domain": "vpc", "tags": {"Name": "nat-1"}, "public_ip": None}
NAT = {"connectivity_type": "public", "subnet_id": "subnet-0a1b2c", "tags": {"Name": "nat-1"}}
NAT_UNKNOWN = {"allocation_id": True, "id": True, "public_ip": True, "network_interface_id": True}


def nat_gateway_created() -> dict[str, Any]:
    """A plan that creates one NAT gateway with its Elastic IP, as the network stack declares them."""
    return plan(
        change("aws_eip.network_nat-ip-1", ["create"], None, EIP, after_unknown={"id": True, "public_ip": True}),
        change("aws_nat_gateway.network_nat-gateway-1", ["create"], None, NAT, after_unknown=NAT_UNKNOWN),
    )


def db_instance(multi_az: bool, **extra: Any) -> dict[str, Any]:
    return {
        "identifier": "qualisys-staging",
        "engine": "postgres",
        "engine_version": "16",
        "instance_class": "db.t3.medium",
        "allocated_storage": 50,
        "storage_type": "gp3",
        "multi_az": multi_az,
        "backup_retention_period": 7,
        "performance_insights_enabled": True,
        "performance_insights_retention_period": 7,
        "manage_master_user_password": True,
        "id": "db-ABCDEFG",
    } | extra


def db_made_multi_az() -> dict[str, Any]:
    """A plan that turns an existing Single-AZ PostgreSQL instance into a Multi-AZ one (an in-place update)."""
    return plan(
        change("aws_db_instance.postgres_instance", ["update"], db_instance(False), db_instance(True)),
    )
