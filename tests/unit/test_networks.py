"""Network arithmetic of the public-exposure gates: unions of networks, not strings."""

from __future__ import annotations

import pytest

from qualisys_infra.core.networks import MAX_PUBLIC_IPV4, exposure, exposure_of_strings, internet_wide

WIDE = [
    pytest.param(["0.0.0.0/0"], id="the-internet"),
    pytest.param(["0.0.0.0/1", "128.0.0.0/1"], id="two-halves"),
    pytest.param([f"{i * 4}.0.0.0/6" for i in range(64)], id="sixty-four-sixths"),
    pytest.param(["1.0.0.0/8"], id="one-public-slash-8"),
    pytest.param(["0.0.0.0/1"], id="one-half"),
    pytest.param(["::/0"], id="ipv6-internet"),
    pytest.param(["2000::/4", "3000::/4"], id="ipv6-global-halves"),
    pytest.param(["10.0.0.0/8", "8.0.0.0/7"], id="private-plus-public"),
    pytest.param(["1.2.0.0/17", "1.2.128.0/17", "1.3.0.0/24"], id="adjacent-ranges-over-the-limit"),
]
NARROW = [
    pytest.param([], id="nothing"),
    pytest.param(["203.0.113.10/32"], id="documentation-host"),
    pytest.param(["198.51.100.0/24", "1.2.3.4/32"], id="office-and-vpn"),
    pytest.param(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], id="private-ranges"),
    pytest.param(["1.2.0.0/16"], id="exactly-the-limit"),
    pytest.param(["2001:db8::/32"], id="ipv6-documentation"),
]


@pytest.mark.parametrize("cidrs", WIDE)
def test_recognises_internet_wide_unions(cidrs: list[str]) -> None:
    assert internet_wide(cidrs)


@pytest.mark.parametrize("cidrs", NARROW)
def test_leaves_narrow_or_private_sets_alone(cidrs: list[str]) -> None:
    assert not internet_wide(cidrs)


def test_counts_overlapping_networks_once() -> None:
    reach = exposure(["1.2.0.0/16", "1.2.3.0/24", "1.2.0.0/17"])
    assert reach.public_ipv4 == MAX_PUBLIC_IPV4
    assert [str(n) for n in reach.networks] == ["1.2.0.0/16"]


def test_describes_the_union_in_a_message() -> None:
    assert exposure(["0.0.0.0/1", "128.0.0.0/1"]).describe() == "0.0.0.0/0 (every public IPv4 address)"
    assert exposure(["1.0.0.0/8"]).describe() == "1.0.0.0/8 (16,777,216 public IPv4 addresses)"


def test_plan_values_skip_what_is_not_a_network() -> None:
    reach = exposure_of_strings(["0.0.0.0/1", None, 5, "not-a-cidr", " 128.0.0.0/1 "])
    assert reach.internet_wide


def test_fails_if_a_configured_network_is_malformed() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        exposure(["10.0.0/33x"])
