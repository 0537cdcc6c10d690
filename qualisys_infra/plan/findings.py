"""A guardrail finding: one rule's result on one resource, with its severity and whether it blocks.

The guardrails (:mod:`qualisys_infra.plan.guardrails`), the EKS version rules
(:mod:`qualisys_infra.plan.eks_versions`) and the cost budget (:mod:`qualisys_infra.plan.cost_review`)
all report through :class:`Finding`, so the review shows every one of them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qualisys_infra.core.github_text import shown


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One guardrail result on one resource."""

    rule: str
    severity: Severity
    address: str
    message: str
    blocking: bool
    stack: str = ""
    # What makes a person's decision explicit, e.g. ``--allow-destroy aws_s3_bucket.state``; shown on its own line,
    # the address as one shell word (quoted, and with $'\u202e' escapes for characters a reader must not get raw).
    hint: str = ""

    def __str__(self) -> str:
        """The finding on one line, every name from the plan escaped (an error message prints it as is)."""
        where = f"{shown(self.stack)}: " if self.stack else ""
        return f"[{self.rule} {self.severity}] {where}{shown(self.address)}: {shown(self.message)}"

    @property
    def hint_text(self) -> str:
        """The hint as a sentence for people, or nothing."""
        return f"if that is intended, re-run with {shown(self.hint)}" if self.hint else ""
