"""Our own synthesized stacks pass the guardrails: every IAM document they carry is judged, and every
finding is either absent or waived exactly by qualisys_infra.plan.iam_waivers.waivers (made of the project's
own names) with a reason.

No AWS provider runs here, so the plan is made from each stack's ``cdk.tf.json`` the way Terraform
would plan a first apply: every resource created, with ``data.aws_iam_policy_document`` rendered
to the JSON the provider makes of it, and the partition, account and region filled in (and read into
``prior_state``, as Terraform reads data sources while planning). An argument that is one reference to
another resource's attribute is that attribute's configured value when it has one (Terraform knows a
configured name at plan), else known only after apply, with the reference in the plan's
``configuration``. A reference inside a policy document (which would leave the whole document unknown
and unjudged in a real first plan) becomes a literal placeholder instead, so each document is judged in
full here: stricter than a real plan.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from qualisys_infra.plan import iam, iam_waivers
from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.guardrails_iam import POLICY_ATTRIBUTES
from qualisys_infra.plan.model import parse_plan
from tests.conftest import Synthesized

ACCOUNT = "123456789012"
REGION = "eu-central-1"
_READ_AT_PLAN = {
    "aws_caller_identity": {"account_id": ACCOUNT},
    "aws_partition": {"partition": "aws"},
    "aws_region": {"region": REGION, "name": REGION},
}
_REFERENCE = re.compile(r"\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}")
_TOKEN = re.compile(r"\$\{([^{}]*)\}")
_WHOLE_DOCUMENT = re.compile(r"\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}")
_META = frozenset({"//", "lifecycle", "depends_on", "provider", "count", "for_each", "provisioner", "connection"})


def _scalar(expression: str) -> str:
    if expression.startswith("data.aws_partition."):
        return "aws"
    if expression.startswith("data.aws_caller_identity."):
        return ACCOUNT
    if expression.startswith("data.aws_region."):
        return REGION
    return f"REF[{expression}]"  # another resource's attribute: a literal that matches no wildcard


class _Stack:
    """One stack's configuration, with its policy documents rendered as the AWS provider renders them."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.documents: dict[str, dict[str, Any]] = (config.get("data") or {}).get("aws_iam_policy_document") or {}
        self.rendered: dict[str, str] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = _WHOLE_DOCUMENT.fullmatch(value)
            if whole:
                return self.document(whole[1])
            assert "${data.aws_iam_policy_document." not in value, f"a document inside a longer string: {value}"
            return _TOKEN.sub(lambda m: _scalar(m[1]), value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items() if k not in _META}
        return value

    def document(self, name: str) -> str:
        if name not in self.rendered:
            body = self.documents[name]
            statements: list[dict[str, Any]] = []
            for source in body.get("source_policy_documents") or []:
                statements += json.loads(self.resolve(source))["Statement"]
            statements += [_statement(self.resolve(s)) for s in body.get("statement") or []]
            assert not body.get("override_policy_documents"), "override documents are not rendered here"
            self.rendered[name] = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return self.rendered[name]


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _statement(block: dict[str, Any]) -> dict[str, Any]:
    """A ``statement`` block of ``aws_iam_policy_document`` as the JSON statement the provider writes."""
    out: dict[str, Any] = {"Effect": block.get("effect", "Allow")}
    if block.get("sid"):
        out["Sid"] = block["sid"]
    for key, name in (("actions", "Action"), ("not_actions", "NotAction")):
        if block.get(key):
            out[name] = _one_or_list(block[key])
    for key, name in (("resources", "Resource"), ("not_resources", "NotResource")):
        if block.get(key):
            out[name] = _one_or_list(block[key])
    for key, name in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        for principal in block.get(key) or []:
            if principal["type"] == "*" and principal["identifiers"] == ["*"]:
                out[name] = "*"
            else:
                out.setdefault(name, {})[principal["type"]] = _one_or_list(principal["identifiers"])
    for condition in block.get("condition") or []:
        out.setdefault("Condition", {}).setdefault(condition["test"], {})[condition["variable"]] = _one_or_list(
            condition["values"]
        )
    return out


def _plan_of(config: dict[str, Any], source: str) -> Any:
    stack = _Stack(config)
    resources: dict[str, dict[str, Any]] = config.get("resource") or {}
    changes, configured = [], []
    for type_, by_name in resources.items():
        for name, body in by_name.items():
            after: dict[str, Any] = {}
            unknown: dict[str, bool] = {}
            references: dict[str, list[str]] = {}
            for key, value in body.items():
                if key in _META:
                    continue
                whole = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
                if whole and whole[1] not in ("data", "var", "local", "module"):
                    target = (resources.get(whole[1]) or {}).get(whole[2]) or {}
                    known = stack.resolve(target.get(whole[3]))
                    if isinstance(known, str) and "REF[" not in known:
                        after[key] = known  # a configured value: known at plan
                    else:
                        unknown[key] = True
                    references[key] = [f"{whole[1]}.{whole[2]}.{whole[3]}", f"{whole[1]}.{whole[2]}"]
                else:
                    after[key] = stack.resolve(value)
            changes.append(
                {
                    "address": f"{type_}.{name}",
                    "mode": "managed",
                    "type": type_,
                    "name": name,
                    "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown},
                }
            )
            expressions = {key: {"references": refs} for key, refs in references.items()}
            configured.append(
                {
                    "address": f"{type_}.{name}",
                    "mode": "managed",
                    "type": type_,
                    "name": name,
                    "expressions": expressions,
                }
            )
    read = [
        {"address": f"data.{type_}.{name}", "mode": "data", "type": type_, "name": name, "values": values}
        for type_, values in _READ_AT_PLAN.items()
        for name in (config.get("data") or {}).get(type_) or {}
    ]
    document = {
        "format_version": "1.2",
        "resource_changes": changes,
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": read}}},
        "configuration": {"root_module": {"resources": configured}},
    }
    return parse_plan(document, source)


def _own(synthesized: Synthesized) -> iam_waivers.OwnNames:
    settings = synthesized.settings
    return iam_waivers.OwnNames(
        project=settings.account.project,
        admin_role=settings.account.admin_role_name,
        environments=settings.environment_names,
        apply_environments=settings.pipeline_environments,
    )


def _iam_findings(synthesized: Synthesized) -> dict[str, list[Finding]]:
    own = _own(synthesized)
    return {name: check(_plan_of(config, name), stack=name, own=own) for name, config in synthesized.stacks.items()}


@pytest.fixture(scope="module")
def findings(synthesized: Synthesized) -> dict[str, list[Finding]]:
    return _iam_findings(synthesized)


def test_our_stacks_have_no_blocking_finding(findings: dict[str, list[Finding]]) -> None:
    assert {name: [str(f) for f in blocking(found)] for name, found in findings.items() if blocking(found)} == {}


def test_every_waiver_still_covers_a_resource_of_our_stacks(
    synthesized: Synthesized, findings: dict[str, list[Finding]]
) -> None:
    waived = [f for found in findings.values() for f in found if not f.blocking]
    assert all("(waived: " in f.message for f in waived), waived
    waivers = iam_waivers.waivers(_own(synthesized))
    assert len(waivers) == 4 * 2 + 2  # 4 per apply environment, 2 for the administrators role
    for waiver in waivers:
        used = [
            f
            for f in waived
            if f.stack in waiver.stacks
            and f.address == waiver.address
            and f.rule in {r for r, _ in waiver.problems}
            and waiver.reason in f.message
        ]
        assert used, f"waiver no longer matches anything, remove it: {waiver.address}"


def test_every_policy_of_our_stacks_is_read_as_a_document(synthesized: Synthesized) -> None:
    """The test above must not pass because documents went unread: each policy attribute parses, and
    the shapes that matter are all present (trusts, GitHub trusts, resource policies, attachments)."""
    seen: dict[str, int] = {}
    for name, config in synthesized.stacks.items():
        for change in _plan_of(config, name).changes:
            for key in POLICY_ATTRIBUTES:
                value = change.after.get(key)
                if isinstance(value, str) and key in change.after:
                    assert iam.document_of(value) is not None, f"{name}: {change.address}.{key} is not JSON"
                    seen[change.type] = seen.get(change.type, 0) + 1
    for type_ in (
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_s3_bucket_policy",
        "aws_kms_key",
        "aws_ecr_repository_policy",
    ):
        assert seen.get(type_), f"no {type_} policy was judged"
    assert seen.get("aws_secretsmanager_secret_policy") and seen.get("aws_sns_topic_policy")


def test_fails_if_a_wildcard_planted_in_our_stacks_passes(synthesized: Synthesized) -> None:
    config = copy.deepcopy(synthesized.stacks["account"])
    documents = config["data"]["aws_iam_policy_document"]
    (name,) = [n for n in documents if n.endswith("apply-staging_permissions")]
    documents[name]["statement"][0] = {"effect": "Allow", "actions": ["*"], "resources": ["arn:aws:*:*:*:*"]}
    trust = next(n for n in documents if n.endswith("apply-staging_trust"))
    documents[trust]["statement"][0]["condition"][1] = {
        "test": "StringLike",
        "variable": "token.actions.githubusercontent.com:sub",
        "values": ["repo:qualisys/*"],
    }
    found = {
        (f.rule, f.address.split(".")[0])
        for f in blocking(check(_plan_of(config, "account"), stack="account", own=_own(synthesized)))
    }
    assert ("G004", "aws_iam_role_policy") in found
    assert ("G015", "aws_iam_role") in found
