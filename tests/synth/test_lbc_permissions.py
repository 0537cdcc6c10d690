"""The AWS Load Balancer Controller's IRSA policy is upstream's policy for the pinned release.

``tests/fixtures/aws-load-balancer-controller/iam_policy-<appVersion>.json`` is upstream's
``docs/install/iam_policy.json`` at the pinned controller's tag (see ``SOURCES.md`` there). The
policy synthesized for the controller's role must grant every (action, resource pattern) pair that
file grants, and nothing it does not, under conditions at least as strict as upstream's: the same
condition keys, where a ``Null: "false"`` check may become a ``StringEquals`` on this cluster's
value. A pin bump whose upstream policy gains actions fails here until the policy follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml

from modules.platform.charts import every_pin
from tests.conftest import ENVIRONMENT_NAMES, ROOT, Synthesized
from tests.synth.helpers import one, ref

FIXTURES = ROOT / "tests" / "fixtures" / "aws-load-balancer-controller"
CHART = "aws-load-balancer-controller"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
# Tests that can only hold when the key is present: they may stand in for upstream's Null "false".
_PRESENCE_IMPLYING = frozenset({"StringEquals", "StringLike", "ArnEquals", "ArnLike"})


@dataclass(frozen=True)
class Cond:
    test: str
    variable: str  # lower case: IAM condition keys are case-insensitive
    values: frozenset[str]


@dataclass(frozen=True)
class Grant:
    """One Allow statement: its actions and resources (lower case) and its conditions."""

    name: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: frozenset[Cond]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def upstream_grants(policy: dict[str, Any]) -> list[Grant]:
    """The Allow statements of an IAM policy JSON document (upstream's form)."""
    grants = []
    for index, s in enumerate(policy["Statement"]):
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s, s
        conditions = frozenset(
            Cond(test, variable.lower(), frozenset(_as_list(values)))
            for test, pairs in s.get("Condition", {}).items()
            for variable, values in pairs.items()
        )
        grants.append(
            Grant(
                name=s.get("Sid") or f"upstream statement {index}",
                actions=tuple(a.lower() for a in _as_list(s["Action"])),
                resources=tuple(_as_list(s["Resource"])),
                conditions=conditions,
            )
        )
    return grants


def document_grants(document: dict[str, Any]) -> list[Grant]:
    """The Allow statements of a synthesized ``aws_iam_policy_document`` data source."""
    grants = []
    for s in document["statement"]:
        if s.get("effect", "Allow") != "Allow":
            continue
        assert not s.get("not_actions") and not s.get("not_resources"), s["sid"]
        grants.append(
            Grant(
                name=s["sid"],
                actions=tuple(a.lower() for a in s["actions"]),
                resources=tuple(s["resources"]),
                conditions=frozenset(
                    Cond(c["test"], c["variable"].lower(), frozenset(c["values"])) for c in s.get("condition", [])
                ),
            )
        )
    return grants


def _covers(pattern: str, resource: str) -> bool:
    """Whether every ARN ``resource`` (itself a pattern) matches is also matched by ``pattern``.

    ``*`` in ``pattern`` matches any run of characters, including the ``*`` of ``resource``;
    patterns with ``?`` are only compared for equality.
    """
    if pattern in ("*", resource):
        return True
    return "?" not in pattern and "?" not in resource and fnmatchcase(resource, pattern)


def _allows(grant: Grant, action: str, resource: str) -> bool:
    return any(fnmatchcase(action, a) for a in grant.actions) and any(_covers(r, resource) for r in grant.resources)


def _implies(ours: Cond, theirs: Cond) -> bool:
    if ours.variable != theirs.variable:
        return False
    if ours.test == theirs.test:
        return ours.values <= theirs.values
    return theirs.test == "Null" and theirs.values == {"false"} and ours.test in _PRESENCE_IMPLYING


def at_least_as_strict(ours: Grant, theirs: Grant) -> bool:
    """Every condition of ``theirs`` is implied by one of ``ours`` (ours may add more)."""
    return all(any(_implies(o, t) for o in ours.conditions) for t in theirs.conditions)


def missing(ours: list[Grant], upstream: list[Grant]) -> list[str]:
    """Upstream's (action, resource) pairs no statement of ``ours`` grants."""
    return sorted(
        {
            f"{action} on {resource}"
            for u in upstream
            for action in u.actions
            for resource in u.resources
            if not any(_allows(g, action, resource) for g in ours)
        }
    )


def beyond(ours: list[Grant], upstream: list[Grant]) -> list[str]:
    """What ``ours`` grants that no upstream statement grants under conditions as loose or looser."""
    return sorted(
        f"{g.name}: {action} on {resource}"
        for g in ours
        for action in g.actions
        for resource in g.resources
        if not any(_allows(u, action, resource) and at_least_as_strict(g, u) for u in upstream)
    )


def _pinned_app_version() -> str:
    return every_pin()[CHART].app_version


def _upstream_policy() -> dict[str, Any]:
    path = FIXTURES / f"iam_policy-{_pinned_app_version()}.json"
    assert path.is_file(), (
        f"{path.relative_to(ROOT)} is missing: vendor docs/install/iam_policy.json of the pinned controller "
        f"tag {_pinned_app_version()} (see SOURCES.md beside it)"
    )
    policy: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return policy


def _controller(synthesized: Synthesized, environment: str) -> tuple[str, list[Grant]]:
    """The cluster name the controller runs with, and every Allow statement of its role's policies.

    The role is found from the Helm release's service-account annotation, not by name.
    """
    stack = f"{environment}-platform"
    release = one([r for r in synthesized.resources(stack, "helm_release").values() if r["name"] == CHART])
    (text,) = release["values"]
    values = yaml.safe_load(text)
    role_type, role_name, _ = ref(values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"])
    assert role_type == "aws_iam_role"
    attached = [
        a
        for a in synthesized.resources(stack, "aws_iam_role_policy_attachment").values()
        if ref(a["role"])[:2] == (role_type, role_name)
    ]
    assert attached == [], "the controller's role must get its rights from its inline policy alone"
    documents = synthesized.data(stack, "aws_iam_policy_document")
    grants: list[Grant] = []
    for policy in synthesized.resources(stack, "aws_iam_role_policy").values():
        if ref(policy["role"])[:2] == (role_type, role_name):
            doc_type, doc_name, _ = ref(policy["policy"])
            assert doc_type == "data.aws_iam_policy_document"
            grants.extend(document_grants(documents[doc_name]))
    assert grants, f"no inline policy found for {role_name}"
    return str(values["clusterName"]), grants


def test_the_vendored_policy_is_the_pinned_controllers() -> None:
    policy = _upstream_policy()
    assert policy["Version"] == "2012-10-17"
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    assert f"`{_pinned_app_version()}`" in sources and "Apache-2.0" in sources


def test_the_comparison_catches_a_missing_action_and_a_loosened_condition() -> None:
    upstream = upstream_grants(_upstream_policy())
    assert missing(upstream, upstream) == [] and beyond(upstream, upstream) == []
    # Planted: one action dropped from a statement, one condition key dropped from another.
    first, *rest = upstream
    dropped = Grant(first.name, (), first.resources, first.conditions)
    assert missing([dropped, *rest], upstream) == ["iam:createservicelinkedrole on *"]
    tagging = next(u for u in upstream if "ec2:createtags" in u.actions and len(u.conditions) == 2)
    loose = Grant("loose", tagging.actions, tagging.resources, frozenset(list(tagging.conditions)[:1]))
    assert beyond([loose], upstream) != []
    # A Null "false" check narrowed to one value is as strict; a different value set is not.
    theirs = Cond("Null", f"aws:resourcetag/{CLUSTER_TAG}", frozenset({"false"}))
    assert _implies(Cond("StringEquals", theirs.variable, frozenset({"c"})), theirs)
    assert not _implies(Cond("StringNotEquals", theirs.variable, frozenset({"c"})), theirs)
    assert not _implies(Cond("Null", theirs.variable, frozenset({"true"})), theirs)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_controller_role_grants_every_upstream_action_on_every_upstream_resource(
    synthesized: Synthesized, environment: str
) -> None:
    _, ours = _controller(synthesized, environment)
    gaps = missing(ours, upstream_grants(_upstream_policy()))
    assert not gaps, "upstream grants, the controller's role does not:\n" + "\n".join(gaps)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_controller_role_grants_nothing_beyond_upstream_nor_under_looser_conditions(
    synthesized: Synthesized, environment: str
) -> None:
    _, ours = _controller(synthesized, environment)
    extra = beyond(ours, upstream_grants(_upstream_policy()))
    assert not extra, "granted beyond upstream, or under looser conditions:\n" + "\n".join(extra)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_ownership_conditions_name_the_controllers_own_cluster(synthesized: Synthesized, environment: str) -> None:
    cluster, ours = _controller(synthesized, environment)
    assert cluster == f"qualisys-{environment}"
    tag_conditions = [
        c for g in ours for c in g.conditions if c.variable.endswith(f"tag/{CLUSTER_TAG}") and c.test != "Null"
    ]
    assert tag_conditions, "expected ownership conditions on the cluster tag"
    assert {(c.test, c.values) for c in tag_conditions} == {("StringEquals", frozenset({cluster}))}
