"""Invariants over every synthesized stack: backends, provider tags, policies, encryption."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS
from tests.conftest import Synthesized
from tests.synth.helpers import ref

POLICY_ATTRIBUTES = ("policy", "assume_role_policy")
# An ECR lifecycle policy is ECR's own JSON rule format, not an IAM document.
NOT_IAM = {"aws_ecr_lifecycle_policy"}


def test_synth_produces_bootstrap_and_every_stack_of_every_environment(synthesized: Synthesized) -> None:
    kinds = ENVIRONMENT_STACK_KINDS
    expected = ["bootstrap", "account", "github"] + [
        f"{env}-{kind}" for env in ("dev", "staging", "production") for kind in kinds
    ]
    assert sorted(synthesized.stacks) == sorted(expected)
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["stacks"]) == sorted(synthesized.stacks)


def test_every_environment_stack_uses_the_locked_encrypted_s3_backend(synthesized: Synthesized) -> None:
    account = synthesized.settings.account
    for name, config in synthesized.stacks.items():
        env, kind = name.split("-", 1) if "-" in name else (name, name)
        if name == "github":  # the repository's settings belong to the account, beside its stack
            env = "account"
        backend = config["terraform"]["backend"]["s3"]
        assert backend == {
            "bucket": account.state_bucket_name,
            "key": f"{env}/{kind}.tfstate",
            "region": account.region,
            "encrypt": True,
            "kms_key_id": account.state_key_alias,
            "use_lockfile": True,
        }, name


def test_every_stack_pins_terraform_and_the_aws_provider(synthesized: Synthesized) -> None:
    from qualisys_infra.core.engine import REQUIRED_TERRAFORM_VERSION  # here: importing the engine starts it

    for name, config in synthesized.stacks.items():
        assert config["terraform"]["required_version"] == REQUIRED_TERRAFORM_VERSION, name
        aws = config["terraform"]["required_providers"]["aws"]
        assert aws["source"] == "hashicorp/aws"
        assert aws["version"].count(".") == 2 and aws["version"][0].isdigit(), "provider version is exact"


def test_every_stack_tags_every_resource_through_the_provider(synthesized: Synthesized) -> None:
    for name, config in synthesized.stacks.items():
        (provider,) = config["provider"]["aws"]
        (default_tags,) = provider["default_tags"]
        tags = default_tags["tags"]
        assert tags["Project"] == "qualisys" and tags["ManagedBy"] == "qualisys-infra", name
        if "-" in name:
            assert tags["Environment"] == name.split("-")[0]


def test_every_policy_is_a_policy_document_not_a_json_string(synthesized: Synthesized) -> None:
    for stack, config in synthesized.stacks.items():
        for type_, items in (config.get("resource") or {}).items():
            if type_ in NOT_IAM:
                continue
            for name, body in items.items():
                for attribute in POLICY_ATTRIBUTES:
                    if attribute in body:
                        r = ref(body[attribute])
                        assert r[0] == "data.aws_iam_policy_document", (stack, type_, name)


def test_no_policy_allows_every_action_on_every_resource_to_anyone_but_the_account(
    synthesized: Synthesized,
) -> None:
    for stack, config in synthesized.stacks.items():
        for name, document in ((config.get("data") or {}).get("aws_iam_policy_document") or {}).items():
            for statement in document["statement"]:
                if statement["effect"] != "Allow":
                    continue
                principals = [i for p in statement.get("principals", []) for i in p["identifiers"]]
                assert "*" not in principals, (stack, name, statement["sid"])
                if "*" in statement.get("actions", []) or "kms:*" in statement.get("actions", []):
                    assert all(p.endswith(":root") for p in principals), (stack, name, statement["sid"])


def test_every_kms_key_rotates_and_has_an_explicit_policy(synthesized: Synthesized) -> None:
    keys = [(s, n, k) for s in synthesized.stacks for n, k in synthesized.resources(s, "aws_kms_key").items()]
    # github manages GitHub, not AWS; the apps stacks hold only Kubernetes objects
    aws_stacks = {s for s in synthesized.stacks if s != "github" and not s.endswith("-apps")}
    assert {s for s, _, _ in keys} == aws_stacks, "every AWS stack encrypts with keys of its own"
    for stack, name, key in keys:
        assert key["enable_key_rotation"] is True, (stack, name)
        assert "policy" in key, (stack, name)


def test_every_log_group_is_encrypted_and_expires(synthesized: Synthesized) -> None:
    for stack in synthesized.stacks:
        for name, group in synthesized.resources(stack, "aws_cloudwatch_log_group").items():
            assert ref(group["kms_key_id"])[0] == "aws_kms_key", (stack, name)
            assert group["retention_in_days"] > 0, (stack, name)


# Attributes whose values are maps with keys of the user's choosing (tags, labels, quotas, ...).
MAP_ATTRIBUTES = {
    "tags",
    "tags_all",
    "labels",
    "annotations",
    "hard",
    "default",
    "default_request",
    "match_labels",
    "requests",
    "limits",
    "selector",
    "ecr_repository_urls",
    "third_party_secret_arns",
    "value",
    "manifest",  # kubernetes_manifest: a Kubernetes object, camelCase by its API (tests/apps validate it)
    "parameters",  # kubernetes_storage_class_v1: the CSI driver's own parameter names (kmsKeyId)
}
CAMEL_CASE = re.compile(r"^[a-z]+[A-Z]")


def _attribute_names(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "//":
                continue
            yield path, key
            if key not in MAP_ATTRIBUTES:
                yield from _attribute_names(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _attribute_names(item, path)


def test_no_attribute_is_written_in_camel_case(synthesized: Synthesized) -> None:
    """Terraform's attribute names are snake_case. A plain dict handed to an untyped binding field
    reaches the JSON as written, and Terraform core without providers cannot tell; this can."""
    for stack, config in synthesized.stacks.items():
        for kind in ("resource", "data"):
            for type_, items in (config.get(kind) or {}).items():
                for name, body in items.items():
                    wrong = [f"{p}.{k}" for p, k in _attribute_names(body, f"{type_}.{name}") if CAMEL_CASE.match(k)]
                    assert wrong == [], f"{stack}: {wrong}"
