"""The provider-schema gate over the synthesized stacks: today's pass, planted mistakes are caught."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.gates.schema import assert_matches_provider_schema, check_config, check_configs, ensure_indexes
from tests.conftest import Synthesized

# What the bindings leave untyped in today's stacks: WAF rule statements are typed `any` by
# cdktn-provider-aws (their nesting is recursive). A new entry here is a level the gate cannot see.
# kubernetes_manifest's `manifest` is a Kubernetes object, typed by the API server, not the provider:
# tests/apps validate those objects against Kubernetes' schemas and the Argo Rollouts CRDs.
KNOWN_UNTYPED = {
    "aws_wafv2_web_acl.rule[*].statement": "untyped: the binding types this level as any",
    "kubernetes_manifest.manifest": "untyped: the binding types this map's values as any",
}


def test_every_stack_matches_its_providers_schemas(synthesized: Synthesized) -> None:
    report = check_configs(synthesized.stacks)
    assert report.ok, "\n".join(str(v) for v in report.violations)
    expected = 0
    for config in synthesized.stacks.values():
        expected += sum(len(named) for kind in ("resource", "data") for named in (config.get(kind) or {}).values())
        expected += sum(len(bodies) for bodies in config["provider"].values())
        expected += len(config["terraform"]["backend"])
    assert report.checked == expected
    assert report.notes == ()


def test_untyped_levels_are_only_the_known_ones(synthesized: Synthesized) -> None:
    report = check_configs(synthesized.stacks)
    assert {u.pattern: u.reason for u in report.untyped} == KNOWN_UNTYPED
    # each platform stack has its WAF ACL, each apps stack its Kubernetes objects
    assert {u.stack for u in report.untyped} == {
        f"{env}-{kind}" for env in ("dev", "staging", "production") for kind in ("platform", "apps")
    }


def test_the_pytest_assertion_passes_every_stack(synthesized: Synthesized) -> None:
    for name, config in synthesized.stacks.items():
        assert_matches_provider_schema(config, name)


def test_checking_every_stack_costs_well_under_a_second(synthesized: Synthesized) -> None:
    ensure_indexes()
    started = time.perf_counter()
    check_configs(synthesized.stacks)
    # The benchmark (benchmarks/bench_schema.py) measures it against a cold synth; here a bound
    # loose enough for a busy CI machine still catches a gate that reparses the assemblies.
    assert time.perf_counter() - started < 1.0


def test_check_schema_passes_the_synth_output_folder(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--quiet", "check-schema", str(synthesized.outdir)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "untyped aws_wafv2_web_acl.rule[*].statement" in out
    assert out.splitlines()[-1].startswith(
        f"check-schema: ok: {check_configs(synthesized.stacks).checked} blocks in {len(synthesized.stacks)}"
    )


def _first(config: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    """The address and body of the first ``type_`` resource of a stack."""
    name, body = next(iter(config["resource"][type_].items()))
    return f"{type_}.{name}", body


Plant = Callable[[dict[str, Any]], tuple[str, str]]


def _misspelled(config: dict[str, Any]) -> tuple[str, str]:
    address, vpc = _first(config, "aws_vpc")
    vpc["enable_dns_hostname"] = vpc.pop("enable_dns_hostnames")
    return address, "enable_dns_hostname: unknown attribute; did you mean 'enable_dns_hostnames'?"


def _camel_case(config: dict[str, Any]) -> tuple[str, str]:
    address, db = _first(config, "aws_db_instance")
    db["storageEncrypted"] = db.pop("storage_encrypted")
    return address, "storageEncrypted: unknown attribute (camelCase?); Terraform's name is 'storage_encrypted'"


def _string_for_block(config: dict[str, Any]) -> tuple[str, str]:
    address, versioning = _first(config, "aws_s3_bucket_versioning")
    versioning["versioning_configuration"] = "Enabled"
    return address, "versioning_configuration: expected a block (an object), got the string 'Enabled'"


def _string_for_nested_block(config: dict[str, Any]) -> tuple[str, str]:
    address, namespace = _first(config, "kubernetes_namespace_v1")
    namespace["metadata"] = namespace["metadata"][0]["name"]
    shown = repr(namespace["metadata"])
    return address, f"metadata: expected a list of blocks, got the string {shown}"


def _missing_required(config: dict[str, Any]) -> tuple[str, str]:
    address, release = _first(config, "helm_release")
    del release["chart"]
    return address, "chart: missing required attribute"


def _missing_required_nested(config: dict[str, Any]) -> tuple[str, str]:
    address, table = _first(config, "aws_dynamodb_table")
    del table["attribute"][0]["type"]
    return address, "attribute[0].type: missing required attribute"


def _neighbours_attribute(config: dict[str, Any]) -> tuple[str, str]:
    address, bucket = _first(config, "aws_s3_bucket")
    bucket["versioning_configuration"] = {"status": "Enabled"}
    return address, (
        "versioning_configuration: unknown attribute; did you mean 'replication_configuration'? "
        "('versioning_configuration' is an attribute of aws_s3_bucket_versioning)"
    )


def _number_as_word(config: dict[str, Any]) -> tuple[str, str]:
    address, group = _first(config, "aws_cloudwatch_log_group")
    group["retention_in_days"] = "thirty"
    return address, "retention_in_days: expected a number, got the string 'thirty'"


PLANTS: list[tuple[str, Plant]] = [
    ("dev-network", _misspelled),
    ("dev-data", _camel_case),
    ("bootstrap", _string_for_block),
    ("dev-platform", _string_for_nested_block),
    ("dev-platform", _missing_required),
    ("bootstrap", _missing_required_nested),
    ("bootstrap", _neighbours_attribute),
    ("dev-cluster", _number_as_word),
]


@pytest.mark.parametrize(("stack", "plant"), PLANTS, ids=[p.__name__.strip("_") for _, p in PLANTS])
def test_fails_if_a_planted_mistake_is_in_a_real_stack(synthesized: Synthesized, stack: str, plant: Plant) -> None:
    config = copy.deepcopy(synthesized.stacks[stack])
    address, detail = plant(config)
    type_, name = address.split(".", 1)
    path = config["resource"][type_][name]["//"]["metadata"]["path"]
    assert [str(v) for v in check_config(config, stack).violations] == [f"{stack}: {path} ({address}): {detail}"]
    with pytest.raises(AssertionError, match="1 provider-schema violation"):
        assert_matches_provider_schema(config, stack)


def test_fails_if_the_backend_or_a_provider_is_misconfigured(synthesized: Synthesized) -> None:
    config = copy.deepcopy(synthesized.stacks["dev-platform"])
    config["terraform"]["backend"]["s3"]["useLockfile"] = config["terraform"]["backend"]["s3"].pop("use_lockfile")
    config["provider"]["helm"][0]["kubernetes"]["exec"]["api_versions"] = "v1"
    config["provider"]["kubernetes"][0]["host"] = ["a"]
    assert [str(v) for v in check_config(config, "dev-platform").violations] == [
        "dev-platform: provider.helm: kubernetes.exec.api_versions: unknown attribute; did you mean 'api_version'?",
        "dev-platform: provider.kubernetes: host: expected a string (an attribute), got a list of 1",
        "dev-platform: terraform.backend.s3: useLockfile: unknown attribute (camelCase?); "
        "Terraform's name is 'use_lockfile'",
    ]
