"""A security group whose rules are separate resources, each with a description.

Inline ``ingress``/``egress`` blocks hide open ingress from checkov's JSON runner
(``security-checks.md`` §0), so this construct never writes them. Ingress from the internet is not
offered at all: only from other security groups or from networks inside the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import (
    security_group,
)
from qualisys_infra.core.engine.aws import (
    vpc_security_group_egress_rule as egress,
)
from qualisys_infra.core.engine.aws import (
    vpc_security_group_ingress_rule as ingress,
)
from qualisys_infra.core.naming import id_part
from qualisys_infra.core.networks import exposure

# The port-specific "no ingress from 0.0.0.0/0" checks (SSH, RDP, HTTP).
SCANNER_PORT_CHECKS = (("CKV_AWS_24", 22), ("CKV_AWS_25", 3389), ("CKV_AWS_260", 80))


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityGroupProps:
    """The group's name, purpose and VPC.

    It starts with no rules: no ingress, and no egress either (Terraform removes the allow-all
    egress rule AWS adds to a new group).
    """

    name: str
    description: str
    vpc_id: str


def rule_id(direction: str, protocol: str, port: int | None, to_port: int | None, peer: str) -> str:
    """``ingress-tcp-443-from-node-sg``: what the rule admits, never its position among the others,
    so adding or reordering rules never replaces a live one."""
    ports = "all" if port is None else (str(port) if to_port in (None, port) else f"{port}-{to_port}")
    proto = "any" if protocol == "-1" else protocol
    word = "from" if direction == "ingress" else "to"
    peer = "internet" if peer in ("0.0.0.0/0", "::/0") else peer
    return f"{direction}-{proto}-{ports}-{word}-{id_part(peer)}"


class SecurityGroup(Construct):
    """``aws_security_group`` plus ``aws_vpc_security_group_{ingress,egress}_rule`` resources."""

    def __init__(self, scope: Construct, id_: str, *, props: SecurityGroupProps) -> None:
        super().__init__(scope, id_)
        self.group = security_group.SecurityGroup(
            self,
            "group",
            name=props.name,
            description=props.description,
            vpc_id=props.vpc_id,
            tags={"Name": props.name},
        )
        self.id: str = self.group.id  # read once: every read is a round trip to the engine
        self.peer_name: str = self.node.id  # what rules of other groups call this one (_peer)

    def allow_from(
        self, source: SecurityGroup | str, *, port: int, description: str, to_port: int | None = None
    ) -> None:
        """Admit TCP ``port`` (to ``to_port``) from members of ``source`` (a group or a group id)."""
        rule = ingress.VpcSecurityGroupIngressRule(
            self,
            rule_id("ingress", "tcp", port, to_port, _peer(source)),
            security_group_id=self.id,
            referenced_security_group_id=source.id if isinstance(source, SecurityGroup) else source,
            ip_protocol="tcp",
            from_port=port,
            to_port=to_port or port,
            description=description,
        )
        for check, checked_port in SCANNER_PORT_CHECKS:
            if port <= checked_port <= (to_port or port):
                waive(
                    rule,
                    check,
                    "the source is a security group (referenced_security_group_id), not a network; checkov "
                    "3.3.30 does not read that attribute and reports any rule without a CIDR as open",
                )

    def allow_all_from_self(self, *, description: str) -> None:
        """Admit everything from members of this same group (node-to-node, pod-to-pod)."""
        ingress.VpcSecurityGroupIngressRule(
            self,
            rule_id("ingress", "-1", None, None, "self"),
            security_group_id=self.id,
            referenced_security_group_id=self.id,
            ip_protocol="-1",
            description=description,
        )

    def allow_from_network(self, cidr: str, *, port: int, description: str, to_port: int | None = None) -> None:
        """Admit TCP from a private network (never the internet)."""
        if exposure([cidr]).public:
            raise ValueError(
                f"{self.node.path}: ingress from {cidr} reaches public addresses, expected a private network"
            )
        ingress.VpcSecurityGroupIngressRule(
            self,
            rule_id("ingress", "tcp", port, to_port, cidr),
            security_group_id=self.id,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=port,
            to_port=to_port or port,
            description=description,
        )

    def allow_to(self, target: SecurityGroup | str, *, port: int, description: str, to_port: int | None = None) -> None:
        """Allow TCP egress to members of ``target``."""
        egress.VpcSecurityGroupEgressRule(
            self,
            rule_id("egress", "tcp", port, to_port, _peer(target)),
            security_group_id=self.id,
            referenced_security_group_id=target.id if isinstance(target, SecurityGroup) else target,
            ip_protocol="tcp",
            from_port=port,
            to_port=to_port or port,
            description=description,
        )

    def allow_egress_to_network(
        self,
        cidr: str,
        *,
        description: str,
        protocol: str = "tcp",
        port: int | None = None,
        to_port: int | None = None,
    ) -> None:
        """Allow egress to ``cidr``: TCP/UDP ``port`` (to ``to_port``), or every protocol with ``"-1"``."""
        every = protocol == "-1"
        egress.VpcSecurityGroupEgressRule(
            self,
            rule_id("egress", protocol, None if every else port, None if every else to_port, cidr),
            security_group_id=self.id,
            cidr_ipv4=cidr,
            ip_protocol=protocol,
            description=description,
            from_port=None if every else port,
            to_port=None if every else (to_port or port),
        )


def _peer(group: SecurityGroup | str) -> str:
    """The name a rule's address gives its peer: the peer group's construct id (``node-sg``), or
    ``group`` for a group known only by its id (one such peer per port and direction)."""
    return group.peer_name if isinstance(group, SecurityGroup) else "group"
