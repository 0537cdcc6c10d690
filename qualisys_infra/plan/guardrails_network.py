"""G003: security groups open to the internet on a port other than 80 and 443, by port span, whichever
way the rule is written (inline blocks, separate rule resources, the VPC rule resources)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from qualisys_infra.core.networks import Exposure, exposure_of_strings, parse_networks
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.guardrail_values import INSTANCE_KEY, Value, writes
from qualisys_infra.plan.model import Kind, Plan, ResourceChange
from qualisys_infra.plan.words import plural

LOAD_BALANCER_PORTS = (80, 443)


SECURITY_GROUP_TYPES = ("aws_security_group", "aws_default_security_group")


PROTOCOL_NAMES = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


ALL_PORTS = (0, 65535)


@dataclass(frozen=True, slots=True)
class _Ingress:
    """One ingress rule, from a rule resource or an inline ``ingress`` block of a security group."""

    group: str  # the security group it belongs to: its id, else its address, else the rule's own address
    protocol: str  # "all", "tcp", "udp", "icmp", ... (names for numbers)
    ports: tuple[int, int]
    cidrs: tuple[str, ...]
    change: ResourceChange


_GROUP_REFERENCE = re.compile(r"^(?:aws_security_group|aws_default_security_group)\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?$")


def _protocol(value: Value) -> str | None:
    raw = value.scalar(str, int)
    return None if raw is None else PROTOCOL_NAMES.get(str(raw).lower(), str(raw).lower())


def _ports(rule: Value, low_key: str, high_key: str) -> tuple[int, int] | None:
    """The port range; the whole range when null (protocol "all"); ``None`` when not known yet."""
    low, high = rule[low_key], rule[high_key]
    if low.is_unknown or high.is_unknown:
        return None
    first, last = low.scalar(int, float), high.scalar(int, float)
    if first is None and last is None:
        return ALL_PORTS
    first = int(first if first is not None else ALL_PORTS[0])
    last = int(last if last is not None else ALL_PORTS[1])
    return (min(first, last), max(first, last))


def _group_of(change: ResourceChange, plan: Plan, groups: dict[str, str]) -> str:
    """The security group a rule resource belongs to, as the key its security group's rules use."""
    known = Value.after(change)["security_group_id"].scalar(str)
    if known:
        return f"id:{known}"
    # Not known until apply: follow the configuration's reference to a security group of this plan.
    config_address = INSTANCE_KEY.sub("", change.address)
    references = plan.references.get(config_address, {}).get("security_group_id", ())
    prefix = f"{change.module_address}." if change.module_address else ""
    for reference in sorted((r for r in references if _GROUP_REFERENCE.match(r)), key=len, reverse=True):
        if prefix + reference in groups:
            return groups[prefix + reference]
    return f"address:{change.address}"


def _ingress_rules(plan: Plan) -> list[tuple[_Ingress, bool]]:
    """Every ingress rule the plan leaves in place, with whether this plan writes it."""
    present = [c for c in plan.changes if c.mode == "managed" and (writes(c) or c.kind is Kind.NOOP)]
    groups: dict[str, str] = {}
    for change in present:
        if change.type in SECURITY_GROUP_TYPES:
            known = Value.after(change)["id"].scalar(str)
            groups[change.address] = f"id:{known}" if known else f"address:{change.address}"
    rules: list[tuple[_Ingress, bool]] = []
    for change in present:
        after = Value.after(change)
        found: list[tuple[Value, str, str, tuple[str, ...]]] = []  # (rule, from key, to key, cidrs)
        if change.type == "aws_vpc_security_group_ingress_rule":
            cidrs: tuple[str, ...] = tuple(
                c for c in (after["cidr_ipv4"].scalar(str), after["cidr_ipv6"].scalar(str)) if c
            )
            found.append((after, "from_port", "to_port", cidrs))
            protocol_key = "ip_protocol"
        elif change.type == "aws_security_group_rule":
            if after["type"].scalar(str) != "ingress":
                continue
            cidrs = (*after["cidr_blocks"].strings(), *after["ipv6_cidr_blocks"].strings())
            found.append((after, "from_port", "to_port", cidrs))
            protocol_key = "protocol"
        elif change.type in SECURITY_GROUP_TYPES:
            for rule in after["ingress"].items():
                if not isinstance(rule.value, dict):
                    raise rule.at.wrong(rule.value, dict)
                cidrs = (*rule["cidr_blocks"].strings(), *rule["ipv6_cidr_blocks"].strings())
                found.append((rule, "from_port", "to_port", cidrs))
            protocol_key = "protocol"
        else:
            continue
        group = groups[change.address] if change.type in SECURITY_GROUP_TYPES else _group_of(change, plan, groups)
        for rule, low_key, high_key, cidrs in found:
            protocol, ports = _protocol(rule[protocol_key]), _ports(rule, low_key, high_key)
            if protocol == "all":
                ports = ALL_PORTS  # AWS ignores the ports of an all-protocols rule (often written 0-0)
            if protocol is None or ports is None or not cidrs:
                continue  # known only after apply: not guessed at
            rules.append((_Ingress(group, protocol, ports, cidrs, change), writes(change)))
    return rules


def _port_text(protocol: str, ports: tuple[int, int]) -> str:
    if protocol == "all":
        return "all ports (all protocols)"
    named = "" if protocol == "tcp" else f"{protocol} "
    if ports == ALL_PORTS:
        return f"all {protocol} ports"
    low, high = ports
    return f"{named}port {low}" if low == high else f"{named}ports {low}-{high}"


def reach(cidrs: Iterable[str], wide: Exposure) -> str:
    """``0.0.0.0/1, 128.0.0.0/1 (every public IPv4 address)``: the networks as written, then how far they reach."""
    written: list[str] = []
    for cidr in cidrs:
        try:
            parse_networks([cidr])
        except ValueError:
            continue  # not a network: Terraform refuses it, it reaches nothing
        if cidr.strip() not in written:
            written.append(cidr.strip())
    collapsed = ", ".join(str(n) for n in wide.networks)
    described = wide.describe()
    reach = described[len(collapsed) :].strip() if described.startswith(collapsed) else f"({described})"
    return f"{', '.join(written)} {reach}".strip()


@dataclass
class _Open:
    """A port range of one protocol open to internet-wide networks, as reported for one rule resource."""

    protocol: str
    span: tuple[int, int]
    wide: Exposure
    cidrs: list[str]
    others: set[str]

    def text(self) -> str:
        with_others = f" (with {', '.join(sorted(self.others))})" if self.others else ""
        return f"ingress on {_port_text(self.protocol, self.span)} from {reach(self.cidrs, self.wide)}{with_others}"


def _open_spans(rules: list[tuple[_Ingress, bool]]) -> dict[str, list[_Open]]:
    """Per written rule resource of one security group: where the group's union of networks is internet-wide."""
    flagged: dict[str, list[_Open]] = defaultdict(list)
    for protocol in sorted({r.protocol for r, _ in rules}):
        same = [(r, w) for r, w in rules if r.protocol in (protocol, "all")]
        edges = sorted({r.ports[0] for r, _ in same} | {r.ports[1] + 1 for r, _ in same})
        for low, next_low in itertools.pairwise(edges):
            span = (low, next_low - 1)
            covering = [(r, w) for r, w in same if r.ports[0] <= span[0] and span[1] <= r.ports[1]]
            if not covering or (protocol != "all" and all(r.protocol == "all" for r, _ in covering)):
                continue  # nothing here, or reported once as all protocols
            if protocol != "all" and span[0] == span[1] and span[0] in LOAD_BALANCER_PORTS:
                continue  # a load balancer's HTTP/HTTPS listener
            cidrs = [c for r, _ in covering for c in r.cidrs]
            wide = exposure_of_strings(cidrs)
            if not wide.internet_wide:
                continue
            addresses = {r.change.address for r, _ in covering}
            for address in sorted({r.change.address for r, w in covering if w}):
                problems = flagged[address]
                last = problems[-1] if problems else None
                if last and last.protocol == protocol and last.span[1] + 1 == low and last.wide == wide:
                    last.span = (last.span[0], span[1])
                    last.others |= addresses - {address}
                    last.cidrs += cidrs
                elif not any(p.protocol == protocol and p.span == span for p in problems):
                    problems.append(_Open(protocol, span, wide, cidrs, addresses - {address}))
    return flagged


def public_ingress(plan: Plan) -> Iterator[Finding]:
    """G003: the union of a security group's ingress networks, per protocol and port, reaches the internet.

    Splitting ``0.0.0.0/0`` into several rules (of one resource or of several) does not escape: every
    rule of one group that covers a port counts for that port.
    """
    by_group: dict[str, list[tuple[_Ingress, bool]]] = defaultdict(list)
    for rule, written in _ingress_rules(plan):
        by_group[rule.group].append((rule, written))
    findings: dict[str, list[_Open]] = defaultdict(list)
    for rules in by_group.values():
        if any(written for _, written in rules):
            for address, problems in _open_spans(rules).items():
                findings[address].extend(problems)
    for change in plan.changes:  # in plan order
        problems = findings.pop(change.address, [])
        if problems:
            shown = [p.text() for p in problems[:3]]
            more = f"; and {plural(len(problems) - 3, 'more port range')}" if len(problems) > 3 else ""
            yield Finding(
                "G003",
                Severity.CRITICAL,
                change.address,
                "; ".join(shown) + more + " (only ports 80 and 443 may be open to the internet)",
                True,
            )
