"""The <env>-network stacks (story 0.2): subnets, NAT, isolation of the database tier, flow logs."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from qualisys_infra.core.settings import EnvironmentConfig, NatMode
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.synth.helpers import one, points_to, ref, statements

ANYWHERE = ("0.0.0.0/0", "::/0")


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _stack(env: EnvironmentConfig) -> str:
    return f"{env.environment}-network"


def _subnets_by_tier(s: Synthesized, env: EnvironmentConfig) -> dict[str, dict[str, dict[str, Any]]]:
    tiers: dict[str, dict[str, dict[str, Any]]] = {"public": {}, "private": {}, "database": {}}
    for name, subnet in s.resources(_stack(env), "aws_subnet").items():
        tiers[subnet["tags"]["Tier"]][name] = subnet
    return tiers


def _route_table_of(s: Synthesized, env: EnvironmentConfig, subnet: str) -> str:
    associations = s.resources(_stack(env), "aws_route_table_association").values()
    (table,) = [ref(a["route_table_id"])[1] for a in associations if points_to(a["subnet_id"], "aws_subnet", subnet)]
    return table


def test_vpc_uses_the_environment_network(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    vpc = one(synthesized.resources(_stack(env), "aws_vpc"))
    assert vpc["cidr_block"] == env.vpc_cidr
    assert vpc["enable_dns_support"] is True
    assert vpc["enable_dns_hostnames"] is True


def test_subnets_match_the_environment_file(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    tiers = _subnets_by_tier(synthesized, env)
    expected = {
        "public": env.public_subnet_cidrs,
        "private": env.private_subnet_cidrs,
        "database": env.database_subnet_cidrs,
    }
    for tier, cidrs in expected.items():
        got = sorted(s["cidr_block"] for s in tiers[tier].values())
        assert got == sorted(cidrs), tier
        zones = sorted(s["availability_zone"] for s in tiers[tier].values())
        assert len(set(zones)) == env.az_count, f"{tier} subnets must be spread over {env.az_count} AZs"


def test_no_subnet_assigns_public_ips(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    for name, subnet in synthesized.resources(_stack(env), "aws_subnet").items():
        assert subnet["map_public_ip_on_launch"] is False, name


def test_subnets_are_tagged_for_kubernetes_load_balancers(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    tiers = _subnets_by_tier(synthesized, env)
    assert all(s["tags"]["kubernetes.io/role/elb"] == "1" for s in tiers["public"].values())
    assert all(s["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in tiers["private"].values())
    assert not any(k.startswith("kubernetes.io/") for s in tiers["database"].values() for k in s["tags"])


def test_nat_gateways_follow_the_nat_mode(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    gateways = synthesized.resources(_stack(env), "aws_nat_gateway")
    expected = 1 if env.nat_mode is NatMode.SINGLE else env.az_count
    assert len(gateways) == expected
    public = _subnets_by_tier(synthesized, env)["public"]
    for gateway in gateways.values():
        assert ref(gateway["subnet_id"])[1] in public
        assert ref(gateway["allocation_id"])[0] == "aws_eip"
    assert len(synthesized.resources(_stack(env), "aws_eip")) == expected


def test_routes_by_tier(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    routes = list(synthesized.resources(stack, "aws_route").values())
    tiers = _subnets_by_tier(synthesized, env)
    nat_used = set()
    for tier, subnets in tiers.items():
        for subnet in subnets:
            table = _route_table_of(synthesized, env, subnet)
            own = [r for r in routes if points_to(r["route_table_id"], "aws_route_table", table)]
            if tier == "database":
                assert own == [], "database subnets must have no route out of the VPC"
            elif tier == "public":
                (route,) = own
                assert route["destination_cidr_block"] == "0.0.0.0/0"
                assert ref(route["gateway_id"])[0] == "aws_internet_gateway"
            else:
                (route,) = own
                assert route["destination_cidr_block"] == "0.0.0.0/0"
                assert ref(route["nat_gateway_id"])[0] == "aws_nat_gateway"
                assert "gateway_id" not in route
                nat_used.add(route["nat_gateway_id"])
    if env.nat_mode is NatMode.PER_AZ:
        assert len(nat_used) == env.az_count, "each private subnet uses the NAT gateway of its own AZ"


def test_database_subnets_share_a_route_table_no_other_tier_uses(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    tiers = _subnets_by_tier(synthesized, env)
    database = {_route_table_of(synthesized, env, s) for s in tiers["database"]}
    others = {_route_table_of(synthesized, env, s) for t in ("public", "private") for s in tiers[t]}
    assert len(database) == 1
    assert not database & others


def test_defaults_are_taken_over_with_no_rules(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    group = one(synthesized.resources(stack, "aws_default_security_group"))
    assert "ingress" not in group and "egress" not in group
    acl = one(synthesized.resources(stack, "aws_default_network_acl"))
    assert "ingress" not in acl and "egress" not in acl
    table = one(synthesized.resources(stack, "aws_default_route_table"))
    assert table["route"] == []


def test_every_subnet_has_its_own_tier_network_acl(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    acls = synthesized.resources(stack, "aws_network_acl")
    assert len(acls) == 3
    covered = sorted(ref(i)[1] for a in acls.values() for i in a["subnet_ids"])
    assert covered == sorted(synthesized.resources(stack, "aws_subnet"))


def _acl_rules(s: Synthesized, env: EnvironmentConfig, tier: str) -> list[dict[str, Any]]:
    stack = _stack(env)
    (acl,) = [n for n, a in s.resources(stack, "aws_network_acl").items() if a["tags"]["Name"].endswith(f"-{tier}")]
    return [
        r
        for r in s.resources(stack, "aws_network_acl_rule").values()
        if points_to(r["network_acl_id"], "aws_network_acl", acl)
    ]


def test_no_network_acl_admits_ssh_or_rdp_from_the_internet(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    for rule in synthesized.resources(_stack(env), "aws_network_acl_rule").values():
        if rule["egress"] or rule["cidr_block"] not in ANYWHERE:
            continue
        assert rule["protocol"] != "-1", rule
        for port in (20, 21, 22, 3389):
            assert not rule["from_port"] <= port <= rule["to_port"], (port, rule)


def test_database_tier_admits_only_database_ports_from_inside(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    rules = _acl_rules(synthesized, env, "database")
    inside = [ipaddress.IPv4Network(c) for c in (*env.private_subnet_cidrs, *env.database_subnet_cidrs)]
    assert rules
    for rule in rules:
        net = ipaddress.IPv4Network(rule["cidr_block"])
        assert any(net.subnet_of(i) for i in inside), rule
        if not rule["egress"] and str(net) in env.private_subnet_cidrs:
            assert rule["protocol"] == "tcp" and rule["from_port"] == rule["to_port"]
            assert rule["from_port"] in (5432, 6379)
    numbers = [(r["egress"], r["rule_number"]) for r in rules]
    assert len(numbers) == len(set(numbers)), "rule numbers must be unique per direction"


def test_flow_logs_capture_all_traffic_to_an_encrypted_log_group(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    flow = one(synthesized.resources(stack, "aws_flow_log"))
    assert flow["traffic_type"] == "ALL"
    assert flow["log_destination_type"] == "cloud-watch-logs"
    assert ref(flow["vpc_id"])[0] == "aws_vpc"
    ((group_name, group),) = synthesized.resources(stack, "aws_cloudwatch_log_group").items()
    assert points_to(flow["log_destination"], "aws_cloudwatch_log_group", group_name)
    assert group["retention_in_days"] == env.flow_log_retention_days
    assert ref(group["kms_key_id"])[0] == "aws_kms_key"
    key = one(synthesized.resources(stack, "aws_kms_key"))
    assert key["enable_key_rotation"] is True
    document = synthesized.data(stack, "aws_iam_policy_document")[ref(key["policy"])[1]]
    logs = statements(document)["CloudWatchLogsUsesKeyForOwnLogGroups"]
    assert logs["condition"][0]["variable"] == "kms:EncryptionContext:aws:logs:arn"
    assert f"log-group:/aws/vpc/qualisys-{env.environment}/*" in logs["condition"][0]["values"][0]


def test_flow_log_role_is_least_privilege(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    documents = synthesized.data(stack, "aws_iam_policy_document")
    role = one(synthesized.resources(stack, "aws_iam_role"))
    trust = statements(documents[ref(role["assume_role_policy"])[1]])["VpcFlowLogsFromThisAccount"]
    assert trust["principals"] == [{"type": "Service", "identifiers": ["vpc-flow-logs.amazonaws.com"]}]
    assert {c["variable"] for c in trust["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}
    policy = one(synthesized.resources(stack, "aws_iam_role_policy"))
    write = statements(documents[ref(policy["policy"])[1]])["WriteOwnFlowLogGroup"]
    assert "*" not in write["resources"]
    assert all(a.startswith("logs:") and "*" not in a for a in write["actions"])


def test_subnet_groups_use_the_database_subnets(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    database = sorted(_subnets_by_tier(synthesized, env)["database"])
    for type_ in ("aws_db_subnet_group", "aws_elasticache_subnet_group"):
        group = one(synthesized.resources(stack, type_))
        assert sorted(ref(i)[1] for i in group["subnet_ids"]) == database, type_


def test_network_outputs(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    outputs = synthesized.stacks[_stack(env)]["output"]
    for name in (
        "vpc_id",
        "vpc_cidr_block",
        "public_subnet_ids",
        "private_subnet_ids",
        "database_subnet_ids",
        "db_subnet_group_name",
        "elasticache_subnet_group_name",
        "nat_public_ips",
        "flow_log_group_name",
    ):
        assert outputs[name]["value"], name
    assert len(outputs["private_subnet_ids"]["value"]) == env.az_count
