"""Network arithmetic for the public-exposure gates: sets of networks, not strings.

Every gate that asks "is this open to the internet?" (the tfvars rules, the checkov waiver of the
EKS public endpoint, the review guardrails G003 and G007) asks it here, so ``0.0.0.0/0``,
``["0.0.0.0/1", "128.0.0.0/1"]`` and sixty-four ``/6`` networks get the same answer.

A set of networks is *internet-wide* when the public addresses it covers, after the union is taken
and the special-purpose ranges (private, loopback, link-local, documentation, multicast, ...) are
removed, number more than :data:`MAX_PUBLIC_IPV4` IPv4 addresses or :data:`MAX_PUBLIC_IPV6` IPv6
addresses: wider than any office or VPN range a platform team lists on purpose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A /16 of public IPv4 addresses, a /48 of global IPv6: more than that is "the internet".
MAX_PUBLIC_IPV4 = 2**16
MAX_PUBLIC_IPV6 = 2**80

# IANA's special-purpose IPv4 registry: none of these is reachable from the public internet.
_NON_PUBLIC_V4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
# Global unicast IPv6 is 2000::/3; the documentation prefix inside it is not routed.
_PUBLIC_V6 = ("2000::/3",)
_NON_PUBLIC_V6 = ("2001:db8::/32",)


def _subtract(space: list[IPNetwork], holes: Iterable[IPNetwork]) -> tuple[IPNetwork, ...]:
    for hole in holes:
        kept: list[IPNetwork] = []
        for net in space:
            if hole.version != net.version or not net.overlaps(hole):
                kept.append(net)
            elif net.subnet_of(hole):  # type: ignore[arg-type]
                continue
            else:
                kept.extend(net.address_exclude(hole))  # type: ignore[arg-type]
        space = kept
    return tuple(space)


@cache
def public_space() -> tuple[IPNetwork, ...]:
    """The public IPv4 and IPv6 address space as disjoint networks."""
    v4 = _subtract([ipaddress.ip_network("0.0.0.0/0")], (ipaddress.ip_network(n) for n in _NON_PUBLIC_V4))
    v6 = _subtract([ipaddress.ip_network(n) for n in _PUBLIC_V6], (ipaddress.ip_network(n) for n in _NON_PUBLIC_V6))
    return v4 + v6


@dataclass(frozen=True, slots=True)
class Exposure:
    """How much of the public address space a set of networks covers."""

    public_ipv4: int
    public_ipv6: int
    networks: tuple[IPNetwork, ...]  # the union, collapsed

    @property
    def internet_wide(self) -> bool:
        return self.public_ipv4 > MAX_PUBLIC_IPV4 or self.public_ipv6 > MAX_PUBLIC_IPV6

    @property
    def public(self) -> bool:
        return self.public_ipv4 > 0 or self.public_ipv6 > 0

    def describe(self) -> str:
        """``"0.0.0.0/1, 128.0.0.0/1 (every public IPv4 address)"``, for messages."""
        shown = ", ".join(str(n) for n in self.networks)
        total_v4 = sum(n.num_addresses for n in public_space() if n.version == 4)
        parts = []
        if self.public_ipv4:
            share = self.public_ipv4 / total_v4
            parts.append("every public IPv4 address" if share >= 1 else f"{self.public_ipv4:,} public IPv4 addresses")
        if self.public_ipv6:
            parts.append(f"2^{self.public_ipv6.bit_length() - 1} public IPv6 addresses")
        return f"{shown} ({'; '.join(parts)})" if parts else shown


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse ``cidrs`` (host bits allowed, as AWS accepts them); a malformed entry raises ValueError."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def exposure(cidrs: Iterable[str | IPNetwork]) -> Exposure:
    """The union of ``cidrs`` and how many public addresses it reaches. Malformed entries raise
    ValueError; callers that read untrusted plans use :func:`exposure_of_strings`."""
    nets = [c if not isinstance(c, str) else ipaddress.ip_network(c, strict=False) for c in cidrs]
    v4: list[IPNetwork] = list(ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv4Network)))
    v6: list[IPNetwork] = list(ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv6Network)))
    counts = {4: 0, 6: 0}
    for net in (*v4, *v6):
        for space in public_space():
            if space.version != net.version or not net.overlaps(space):
                continue
            counts[net.version] += min(net.num_addresses, space.num_addresses)
    return Exposure(public_ipv4=counts[4], public_ipv6=counts[6], networks=(*v4, *v6))


def exposure_of_strings(values: Iterable[object]) -> Exposure:
    """Like :func:`exposure` over values read from a plan: non-strings and malformed entries are
    skipped (Terraform would have rejected them; the plan's other gates report errors)."""
    nets: list[IPNetwork] = []
    for value in values:
        if isinstance(value, str):
            try:
                nets.append(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                continue
    return exposure(nets)


def internet_wide(cidrs: Iterable[str | IPNetwork]) -> bool:
    """True when the union of ``cidrs`` reaches more public address space than an office range."""
    return exposure(cidrs).internet_wide
