"""Addresses are a public contract: readable, with no hash suffix, and independent of the order of
anything in the settings (reordering a list must never replace a live resource)."""

from __future__ import annotations

import dataclasses
import json
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.core.naming import id_part, logical_id
from qualisys_infra.core.settings import Settings
from tests.conftest import ENV_DIR, Synthesized

HASH_SUFFIX = re.compile(r"_[0-9A-F]{8}$")
# Numbers that are what a resource is, not where it stands: an availability zone's position (subnet 1
# is in the region's first AZ, whatever order a list has), a budget's amount, a rule's ports, a
# network's address.
MEANINGFUL_NUMBERS = re.compile(
    r"(subnet|routes|route|association|nat-ip|nat-gateway)-\d+"
    r"|budget-\d+"
    r"|-(tcp|udp|any)-\d+(-\d+)?-"
    r"|\d+-\d+-\d+-\d+-\d+"
)


def _addresses(config: dict[str, Any]) -> set[str]:
    found = set()
    for block, prefix in (("resource", ""), ("data", "data.")):
        for type_, items in (config.get(block) or {}).items():
            found |= {f"{prefix}{type_}.{name}" for name in items}
    return found


def test_no_address_has_a_hash_suffix_or_a_counter(synthesized: Synthesized) -> None:
    for stack, config in synthesized.stacks.items():
        for address in _addresses(config):
            name = address.rsplit(".", 1)[1]
            assert not HASH_SUFFIX.search(name), f"{stack}: {address}"
            assert not re.search(r"-\d+(_|$)", MEANINGFUL_NUMBERS.sub("", name)), (
                f"{stack}: {address} numbers by position"
            )


def test_addresses_read_like_the_construct_path(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("bootstrap", "aws_s3_bucket")
    assert sorted(buckets) == ["access-logs_bucket", "state_bucket"]
    rules = synthesized.resources("dev-cluster", "aws_vpc_security_group_ingress_rule")
    assert "eks_cluster-sg_ingress-tcp-443-from-node-sg" in rules
    assert "eks_access-qualisys-platform-admin" in synthesized.resources("dev-cluster", "aws_eks_access_entry")


def _reordered(value: Any) -> Any:
    """``value`` with every list reversed and every map's keys in reverse order, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _reordered(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_reordered(v) for v in reversed(value))
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _reordered(v) for k, v in reversed(list(value.items()))})
    return value


def test_addresses_do_not_depend_on_the_order_of_any_setting(synthesized: Synthesized, tmp_path: Path) -> None:
    """One more synth (dev only, in this process's engine) with every list and map reversed."""
    from qualisys_infra.terraform.synth import synth

    settings = synthesized.settings
    dev = next(e for e in settings.environments if e.environment == "dev")
    shuffled = Settings(
        account=_reordered(settings.account), environments=(_reordered(dev),), deliveries=settings.deliveries
    )
    assert shuffled.environments[0].public_subnet_cidrs == tuple(reversed(dev.public_subnet_cidrs))
    result = synth(shuffled, environments_dir=ENV_DIR, outdir=tmp_path / "out", check_with_terraform=False)
    for stack in result.stacks:
        config = json.loads((tmp_path / "out" / "stacks" / stack / "cdk.tf.json").read_text(encoding="utf-8"))
        assert _addresses(config) == _addresses(synthesized.stacks[stack]), stack


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("state", "bucket"), "state_bucket"),
        (("eks", "access-platform-admin@x"), "eks_access-platform-admin-x"),
        (("1st",), "_1st"),
        ((), "_"),
    ],
)
def test_logical_ids_are_valid_terraform_names(path: tuple[str, ...], expected: str) -> None:
    assert logical_id(path) == expected
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", logical_id(path))


def test_id_parts_keep_only_name_characters() -> None:
    assert id_part("platform-alerts@qualisys.example") == "platform-alerts-qualisys-example"
    assert id_part("10.0.0.0/16") == "10-0-0-0-16"
