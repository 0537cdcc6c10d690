"""The ingress hosts in Route 53 when an environment names its hosted zone (issue 23, item 3): each
edge certificate validated by DNS records Terraform writes, and ExternalDNS writing the hosts' records,
allowed to change only those hosts' records in that zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modules.platform.charts import CHARTS
from modules.platform.dns import EXTERNAL_DNS_RELEASE, EXTERNAL_DNS_SERVICE_ACCOUNT, RECORD_CHANGES
from qualisys_infra.config import load_environment
from qualisys_infra.core.errors import ConfigError
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, Synthesized
from tests.synth.helpers import ref, statements


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _stack(s: Synthesized, env: EnvironmentConfig) -> dict[str, Any]:
    return s.stacks[f"{env.environment}-platform"]


def test_every_shipped_environment_names_the_zone_of_its_hosts(env: EnvironmentConfig) -> None:
    zone = env.route53_zone_name
    assert zone, "the committed settings validate certificates and write records: sign-off test 1 needs no hand step"
    for host in (env.ingress_domain, env.grafana_domain):
        assert host.endswith(f".{zone}"), host


def test_every_edge_certificate_is_validated_in_the_zone(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(synthesized, env)
    resources = stack["resource"]
    ((zone_key, zone),) = stack["data"]["aws_route53_zone"].items()
    assert zone == {**zone, "name": env.route53_zone_name, "private_zone": False}
    certificates = resources["aws_acm_certificate"]
    assert {c["domain_name"] for c in certificates.values()} == {env.ingress_domain, env.grafana_domain}
    validations = resources["aws_acm_certificate_validation"]
    assert len(validations) == len(certificates)
    for validation in validations.values():
        _, certificate, _ = ref(validation["certificate_arn"])
        assert certificates[certificate]["validation_method"] == "DNS"
        ((_, record_key),) = [d.split(".") for d in validation["depends_on"]]
        record = resources["aws_route53_record"][record_key]
        # One record per validation option of that very certificate, in the zone.
        assert f"aws_acm_certificate.{certificate}.domain_validation_options" in record["for_each"]
        assert record["zone_id"] == f"${{data.aws_route53_zone.{zone_key}.zone_id}}"
        assert (record["name"], record["type"], record["records"]) == (
            "${each.value.resource_record_name}",
            "${each.value.resource_record_type}",
            ["${each.value.resource_record_value}"],
        )


def test_external_dns_writes_only_the_hosts_records_in_the_zone(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(synthesized, env)
    releases = {r["name"]: r for r in stack["resource"]["helm_release"].values()}
    release, chart = releases[EXTERNAL_DNS_RELEASE], CHARTS[EXTERNAL_DNS_RELEASE]
    assert (release["repository"], release["chart"], release["version"]) == (
        chart.repository,
        chart.chart,
        chart.version,
    )
    (text,) = release["values"]
    values = yaml.safe_load(text)
    assert values["policy"] == "upsert-only" and values["sources"] == ["ingress"] and values["registry"] == "txt"
    assert values["txtOwnerId"] == f"qualisys-{env.environment}"
    assert values["domainFilters"] == [env.route53_zone_name]
    (zone_key,) = stack["data"]["aws_route53_zone"]
    assert f"--zone-id-filter=${{data.aws_route53_zone.{zone_key}.zone_id}}" in values["extraArgs"]
    role_arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    role = stack["resource"]["aws_iam_role"][ref(role_arn)[1]]
    documents = stack["data"]["aws_iam_policy_document"]
    trust = statements(documents[ref(role["assume_role_policy"])[1]])["TrustedServiceAccount"]
    (sub,) = [c for c in trust["condition"] if c["variable"].endswith(":sub")]
    assert sub["values"] == [f"system:serviceaccount:kube-system:{EXTERNAL_DNS_SERVICE_ACCOUNT}"]
    (policy,) = [p for p in stack["resource"]["aws_iam_role_policy"].values() if ref(p["role"])[1] == ref(role_arn)[1]]
    by_sid = statements(documents[ref(policy["policy"])[1]])
    change = by_sid["ChangeTheHostsRecordsInTheZone"]
    assert change["resources"] == [f"${{data.aws_route53_zone.{zone_key}.arn}}"]
    conditions = {c["variable"]: c["values"] for c in change["condition"]}
    hosts = (env.ingress_domain, env.grafana_domain)
    assert sorted(conditions["route53:ChangeResourceRecordSetsNormalizedRecordNames"]) == sorted(
        [*hosts, *(f"*-{h}" for h in hosts)]
    )
    assert conditions["route53:ChangeResourceRecordSetsActions"] == list(RECORD_CHANGES)  # never DELETE
    assert by_sid["FindTheZone"]["actions"] == ["route53:ListHostedZones"]
    assert {s["effect"] for s in by_sid.values()} == {"Allow"} and len(by_sid) == 2


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (
            '"qualisys.io"',
            'route53_zone_name: got "qualisys.io", which does not hold ingress_domain "dev.qualisys.dev": '
            "expected the zone of every host",
        ),
        ('"Qualisys Dev"', 'route53_zone_name: got "Qualisys Dev", expected a hosted zone\'s DNS name'),
    ],
)
def test_fails_if_the_zone_does_not_hold_the_hosts(tmp_path: Path, zone: str, message: str) -> None:
    text = (ENV_DIR / "dev.tfvars").read_text(encoding="utf-8")
    assert 'route53_zone_name         = "qualisys.dev"' in text
    path = tmp_path / "dev.tfvars"
    path.write_text(text.replace('"qualisys.dev"', zone, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_environment(path, "environments/dev.tfvars")
    assert any(message in line for line in info.value.lines()), info.value.lines()
