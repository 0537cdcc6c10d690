"""IAM policy documents built with ``DataAwsIamPolicyDocument``, never JSON strings.

checkov's IAM checks only run on policy-document data sources (``security-checks.md`` §0 item 3),
and a typed statement cannot be misspelled into an invalid policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import data_aws_iam_policy_document as doc


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """``test`` (e.g. ``Bool``, ``StringEquals``) on ``variable`` with any of ``values``."""

    test: str
    variable: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """One policy statement. ``principals`` maps a principal type (``AWS``, ``Service``, ``*``) to ids."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: Effect = Effect.ALLOW
    principals: Mapping[str, Sequence[str]] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    not_actions: tuple[str, ...] = ()  # with ``actions=()``: every action except these


def policy_document(scope: Construct, id_: str, statements: Sequence[Statement]) -> doc.DataAwsIamPolicyDocument:
    """A ``data "aws_iam_policy_document"`` holding ``statements``; use its ``.json``."""
    return doc.DataAwsIamPolicyDocument(
        scope,
        id_,
        statement=[
            doc.DataAwsIamPolicyDocumentStatement(
                sid=s.sid,
                effect=s.effect.value,
                actions=list(s.actions) or None,
                not_actions=list(s.not_actions) or None,
                resources=list(s.resources) or None,
                principals=[
                    doc.DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=list(ids))
                    for kind, ids in s.principals.items()
                ]
                or None,
                condition=[
                    doc.DataAwsIamPolicyDocumentStatementCondition(
                        test=c.test, variable=c.variable, values=list(c.values)
                    )
                    for c in s.conditions
                ]
                or None,
            )
            for s in statements
        ],
    )


def deny_insecure_transport(resources: Sequence[str]) -> Statement:
    """Deny every request that does not use TLS (``aws:SecureTransport`` false)."""
    return Statement(
        sid="DenyInsecureTransport",
        effect=Effect.DENY,
        actions=("s3:*",),
        resources=tuple(resources),
        principals={"*": ["*"]},
        conditions=(Condition(test="Bool", variable="aws:SecureTransport", values=("false",)),),
    )
