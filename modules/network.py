"""A VPC with public, private and isolated database subnets, NAT, flow logs and locked-down defaults."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey
from modules.log_group import log_group
from modules.policy import Condition, Statement, policy_document
from modules.security_group import rule_id
from modules.waivers import waive
from qualisys_infra.core.engine import Construct, Fn
from qualisys_infra.core.engine.aws import (
    data_aws_availability_zones,
    db_subnet_group,
    default_network_acl,
    default_route_table,
    default_security_group,
    eip,
    elasticache_subnet_group,
    flow_log,
    iam_role,
    iam_role_policy,
    internet_gateway,
    nat_gateway,
    network_acl,
    network_acl_rule,
    route,
    route_table,
    route_table_association,
    subnet,
    vpc,
)
from qualisys_infra.core.settings import NatMode

ANYWHERE = "0.0.0.0/0"
# Return traffic of connections opened from inside (through NAT or to the load balancer) arrives on
# ephemeral ports. The range skips 3389 (RDP) so no rule admits RDP from the internet.
EPHEMERAL_PORT_RANGES = ((1024, 3388), (3390, 65535))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkProps:
    """The VPC's networks, NAT layout and flow-log settings.

    The three subnet lists hold one network per availability zone, in AZ order. Database subnets
    get a route table with no routes at all (no internet gateway, no NAT) and a network ACL that
    admits only ``database_ports`` from the private and database subnets. The VPC's default
    security group, network ACL and route table are taken over with no rules, so anything that
    falls back to them gets no traffic. Every flow (accepted and rejected) is logged to a
    CloudWatch log group encrypted with ``flow_log_key``.
    """

    name: str
    context: AccountContext
    vpc_cidr: str
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]
    database_subnet_cidrs: tuple[str, ...]
    nat_mode: NatMode
    availability_zones: tuple[str, ...]
    flow_log_key: EncryptionKey
    flow_log_retention_days: int
    database_ports: tuple[int, ...] = (5432, 6379)


class Network(Construct):
    """VPC, subnets, gateways, routes, network ACLs, flow logs and the data-tier subnet groups."""

    def __init__(self, scope: Construct, id_: str, *, props: NetworkProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        self.vpc_cidr: str = props.vpc_cidr
        name = props.name
        self.availability_zones = data_aws_availability_zones.DataAwsAvailabilityZones(
            self,
            "azs",
            state="available",
            # An allowlist of zone names: the set cannot grow when AWS adds a zone, and a name
            # that does not exist in the account fails the plan instead of shifting subnets.
            filter=[
                data_aws_availability_zones.DataAwsAvailabilityZonesFilter(
                    name="zone-name", values=list(props.availability_zones)
                )
            ],
        )
        self.vpc = vpc.Vpc(
            self,
            "vpc",
            cidr_block=props.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": name},
        )
        # Ids read once: every read of a resource's attribute is a round trip to the engine.
        self.vpc_id: str = self.vpc.id
        self._take_over_defaults()
        self.public_subnets = self._subnets("public", props.public_subnet_cidrs, {"kubernetes.io/role/elb": "1"})
        self.private_subnets = self._subnets(
            "private", props.private_subnet_cidrs, {"kubernetes.io/role/internal-elb": "1"}
        )
        self.database_subnets = self._subnets("database", props.database_subnet_cidrs, {})
        self.public_subnet_ids: list[str] = [s.id for s in self.public_subnets]
        self.private_subnet_ids: list[str] = [s.id for s in self.private_subnets]
        self.database_subnet_ids: list[str] = [s.id for s in self.database_subnets]
        self._routes()
        self._network_acls()
        self._flow_logs()
        self.db_subnet_group = db_subnet_group.DbSubnetGroup(
            self,
            "db-subnet-group",
            name=f"{name}-database",
            description=f"{name} isolated database subnets",
            subnet_ids=self.database_subnet_ids,
        )
        self.cache_subnet_group = elasticache_subnet_group.ElasticacheSubnetGroup(
            self,
            "cache-subnet-group",
            name=f"{name}-cache",
            description=f"{name} isolated database subnets",
            subnet_ids=self.database_subnet_ids,
        )

    def _take_over_defaults(self) -> None:
        # Declared with no rules: Terraform removes every rule AWS put on them.
        default_security_group.DefaultSecurityGroup(
            self,
            "default-security-group",
            vpc_id=self.vpc_id,
            tags={"Name": f"{self._props.name}-default-deny"},
        )
        default_network_acl.DefaultNetworkAcl(
            self,
            "default-network-acl",
            default_network_acl_id=self.vpc.default_network_acl_id,
            tags={"Name": f"{self._props.name}-default-deny"},
            lifecycle={"ignore_changes": ["subnet_ids"]},
        )
        default_route_table.DefaultRouteTable(
            self,
            "default-route-table",
            default_route_table_id=self.vpc.default_route_table_id,
            route=[],
            tags={"Name": f"{self._props.name}-default-no-routes"},
        )

    def _subnets(self, tier: str, cidrs: tuple[str, ...], tags: dict[str, str]) -> list[subnet.Subnet]:
        zones = Fn.sort(self.availability_zones.names)
        return [
            subnet.Subnet(
                self,
                f"{tier}-subnet-{i + 1}",
                vpc_id=self.vpc_id,
                cidr_block=cidr,
                availability_zone=Fn.element(zones, i),
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._props.name}-{tier}-{i + 1}", "Tier": tier, **tags},
            )
            for i, cidr in enumerate(cidrs)
        ]

    def _route_table(self, id_: str, subnet_ids: list[str]) -> route_table.RouteTable:
        table = route_table.RouteTable(self, id_, vpc_id=self.vpc_id, tags={"Name": f"{self._props.name}-{id_}"})
        table_id = table.id
        for i, subnet_id in enumerate(subnet_ids):
            route_table_association.RouteTableAssociation(
                self, f"{id_}-association-{i + 1}", subnet_id=subnet_id, route_table_id=table_id
            )
        return table

    def _routes(self) -> None:
        name = self._props.name
        self.internet_gateway = internet_gateway.InternetGateway(
            self, "internet-gateway", vpc_id=self.vpc_id, tags={"Name": name}
        )
        public = self._route_table("public-routes", self.public_subnet_ids)
        route.Route(
            self,
            "public-default-route",
            route_table_id=public.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=self.internet_gateway.id,
        )
        nat_count = 1 if self._props.nat_mode is NatMode.SINGLE else len(self.public_subnets)
        self.nat_ips: list[eip.Eip] = []
        self.nat_gateways: list[nat_gateway.NatGateway] = []
        for i in range(nat_count):
            ip = eip.Eip(self, f"nat-ip-{i + 1}", domain="vpc", tags={"Name": f"{name}-nat-{i + 1}"})
            gateway = nat_gateway.NatGateway(
                self,
                f"nat-gateway-{i + 1}",
                allocation_id=ip.allocation_id,
                subnet_id=self.public_subnet_ids[i],
                tags={"Name": f"{name}-nat-{i + 1}"},
                depends_on=[self.internet_gateway],
            )
            self.nat_ips.append(ip)
            self.nat_gateways.append(gateway)
        for i, subnet_id in enumerate(self.private_subnet_ids):
            table = self._route_table(f"private-routes-{i + 1}", [subnet_id])
            route.Route(
                self,
                f"private-default-route-{i + 1}",
                route_table_id=table.id,
                destination_cidr_block=ANYWHERE,
                nat_gateway_id=self.nat_gateways[i % nat_count].id,
            )
        # No route at all: the database tier can reach only the VPC's own networks.
        self.database_route_table = self._route_table("database-routes", self.database_subnet_ids)

    def _network_acls(self) -> None:
        p = self._props
        public_rules: list[tuple[bool, str, int, int, str]] = [
            (False, "tcp", 443, 443, ANYWHERE),
            (False, "tcp", 80, 80, ANYWHERE),  # the load balancer redirects HTTP to HTTPS
            (False, "-1", 0, 0, p.vpc_cidr),
            *[(False, "tcp", lo, hi, ANYWHERE) for lo, hi in EPHEMERAL_PORT_RANGES],
            (True, "-1", 0, 0, ANYWHERE),
        ]
        private_rules: list[tuple[bool, str, int, int, str]] = [
            (False, "-1", 0, 0, p.vpc_cidr),
            *[(False, "tcp", lo, hi, ANYWHERE) for lo, hi in EPHEMERAL_PORT_RANGES],
            (True, "-1", 0, 0, ANYWHERE),
        ]
        database_rules: list[tuple[bool, str, int, int, str]] = [
            *[(False, "tcp", port, port, cidr) for cidr in p.private_subnet_cidrs for port in p.database_ports],
            # Replication between database nodes (Redis cluster bus 16379 included) and replies.
            *[(False, "tcp", 1024, 65535, cidr) for cidr in p.database_subnet_cidrs],
            *[(True, "tcp", 1024, 65535, cidr) for cidr in p.private_subnet_cidrs],
            *[(True, "-1", 0, 0, cidr) for cidr in p.database_subnet_cidrs],
        ]
        self.network_acls = {
            tier: self._network_acl(tier, subnets, rules)
            for tier, subnets, rules in (
                ("public", self.public_subnet_ids, public_rules),
                ("private", self.private_subnet_ids, private_rules),
                ("database", self.database_subnet_ids, database_rules),
            )
        }

    def _network_acl(
        self, tier: str, subnet_ids: list[str], rules: list[tuple[bool, str, int, int, str]]
    ) -> network_acl.NetworkAcl:
        acl = network_acl.NetworkAcl(
            self,
            f"{tier}-network-acl",
            vpc_id=self.vpc_id,
            subnet_ids=subnet_ids,
            tags={"Name": f"{self._props.name}-{tier}"},
        )
        acl_id = acl.id
        # Every rule allows, so their order means nothing: numbered in sorted order of what they
        # admit, the same whatever order the settings list networks in.
        numbers = {False: 100, True: 100}
        ordered = sorted(rules, key=lambda r: (r[0], r[1], r[2], r[3], ipaddress.ip_network(r[4])))
        for egress, protocol, from_port, to_port, cidr in ordered:
            number = numbers[egress]
            numbers[egress] += 10
            every = protocol == "-1"
            ports: dict[str, Any] = {} if every else {"from_port": from_port, "to_port": to_port}
            direction = "egress" if egress else "ingress"
            rule = network_acl_rule.NetworkAclRule(
                self,
                f"{tier}-acl-"
                + rule_id(direction, protocol, None if every else from_port, None if every else to_port, cidr),
                network_acl_id=acl_id,
                rule_number=number,
                egress=egress,
                protocol=protocol,
                rule_action="allow",
                cidr_block=cidr,
                **ports,
            )
            if not egress and protocol == "-1":
                waive(
                    rule,
                    "CKV_AWS_352",
                    f"all ports only from inside the VPC ({cidr}): NAT forwards any port and nodes talk on any "
                    "port; security groups restrict each port",
                )
        return acl

    def _flow_logs(self) -> None:
        p = self._props
        ctx = p.context
        self.flow_log_group = log_group(
            self,
            "flow-log-group",
            name=f"/aws/vpc/{p.name}/flow-logs",
            retention_days=p.flow_log_retention_days,
            key=p.flow_log_key,
        )
        trust = policy_document(
            self,
            "flow-log-trust",
            [
                Statement(
                    sid="VpcFlowLogsFromThisAccount",
                    actions=("sts:AssumeRole",),
                    resources=(),
                    principals={"Service": ["vpc-flow-logs.amazonaws.com"]},
                    conditions=(
                        Condition(test="StringEquals", variable="aws:SourceAccount", values=(ctx.account_id,)),
                        Condition(
                            test="ArnLike",
                            variable="aws:SourceArn",
                            values=(ctx.arn("ec2", "vpc-flow-log/*"),),
                        ),
                    ),
                )
            ],
        )
        role = iam_role.IamRole(
            self,
            "flow-log-role",
            name=f"{p.name}-vpc-flow-logs",
            description=f"Lets VPC Flow Logs write {p.name}'s flow log group",
            assume_role_policy=trust.json,
            permissions_boundary=ctx.permissions_boundary_arn,
        )
        write = policy_document(
            self,
            "flow-log-write",
            [
                Statement(
                    sid="WriteOwnFlowLogGroup",
                    actions=("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                    resources=(self.flow_log_group.arn, f"{self.flow_log_group.arn}:*"),
                )
            ],
        )
        iam_role_policy.IamRolePolicy(
            self, "flow-log-role-policy", role=role.id, name="write-flow-logs", policy=write.json
        )
        self.flow_log = flow_log.FlowLog(
            self,
            "flow-log",
            vpc_id=self.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{p.name}-flow-log"},
        )
