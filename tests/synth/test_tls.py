"""TLS per service, held to the spec's words (TLS 1.3 for the ALB, RDS and ElastiCache connections)
where AWS offers a setting, and to what AWS allows where it does not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from modules.database import min_tls_version
from modules.platform.edge import TLS13_ONLY_POLICIES, TLS_POLICY
from qualisys_infra.gates.schema.index import load_index
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

SSL_POLICY = "alb.ingress.kubernetes.io/ssl-policy"
# The annotation inside Helm values, which reach Terraform as YAML strings.
SSL_POLICY_IN_TEXT = re.compile(re.escape(SSL_POLICY) + r"""["']?\s*:\s*["']?([A-Za-z0-9-]+)""")


def _ssl_policies(value: Any) -> Iterator[str]:
    """Every ALB security policy named anywhere in ``value`` (objects, lists, and YAML text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == SSL_POLICY:
                yield str(item)
            else:
                yield from _ssl_policies(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ssl_policies(item)
    elif isinstance(value, str):
        yield from SSL_POLICY_IN_TEXT.findall(value)


def test_every_load_balancer_listener_accepts_tls_1_3_only(synthesized: Synthesized) -> None:
    found = {name: list(_ssl_policies(config)) for name, config in synthesized.stacks.items()}
    for env in ENVIRONMENT_NAMES:
        assert found[f"{env}-apps"], f"{env}-apps: its ingress names no ALB security policy"
    wrong = {name: policies for name, policies in found.items() if set(policies) - TLS13_ONLY_POLICIES}
    assert wrong == {}, "an ALB policy that admits TLS 1.2 or older"
    assert TLS_POLICY in TLS13_ONLY_POLICIES


def test_the_policy_finder_sees_the_annotation_in_helm_values_text() -> None:
    values = 'ingress:\n  annotations:\n    alb.ingress.kubernetes.io/ssl-policy: "ELBSecurityPolicy-2016-08"\n'
    assert list(_ssl_policies({"values": [values]})) == ["ELBSecurityPolicy-2016-08"]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_postgres_refuses_tls_older_than_the_newest_the_engine_offers(synthesized: Synthesized, env: str) -> None:
    (db,) = synthesized.resources(f"{env}-data", "aws_db_instance").values()
    (group,) = synthesized.resources(f"{env}-data", "aws_db_parameter_group").values()
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params["rds.force_ssl"] == "1"
    assert params["ssl_min_protocol_version"] == min_tls_version(db["engine_version"])
    # Every environment file runs PostgreSQL 16 or newer, so the spec's TLS 1.3 holds everywhere.
    assert params["ssl_min_protocol_version"] == "TLSv1.3", db["engine_version"]


@pytest.mark.parametrize(
    ("version", "minimum"), [("15", "TLSv1.2"), ("15.8", "TLSv1.2"), ("16", "TLSv1.3"), ("17.2", "TLSv1.3")]
)
def test_tls_1_3_is_required_from_postgresql_16(version: str, minimum: str) -> None:
    assert min_tls_version(version) == minimum


def test_elasticache_has_no_tls_version_setting_only_transit_encryption_required(synthesized: Synthesized) -> None:
    """ElastiCache negotiates the version itself (TLS 1.2 or newer since 2025-05-08): the README says so.

    If a provider release adds a TLS-version argument, this test fails, so the setting gets used.
    """
    block = load_index("aws").block("resource", "aws_elasticache_replication_group")
    assert block is not None
    assert sorted(name for name in block if "tls" in name or "transit" in name or "ssl" in name) == [
        "transit_encryption_enabled",
        "transit_encryption_mode",
    ]
    for env in ENVIRONMENT_NAMES:
        (group,) = synthesized.resources(f"{env}-data", "aws_elasticache_replication_group").values()
        assert (group["transit_encryption_enabled"], group["transit_encryption_mode"]) == (True, "required")
