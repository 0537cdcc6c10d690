"""Kubernetes versions of EKS clusters in a plan: the guardrail and the review's notes.

- **G016** (blocking): a plan moves an ``aws_eks_cluster``'s version by more than one minor, or back.
  EKS upgrades one minor at a time and never downgrades; it refuses both, late (during the apply)
  and confusingly. A plan going back is what follows an upgrade AWS made by itself at the end of
  standard support (``support_type = "STANDARD"``): the tfvars must follow the cluster instead.
- **G017** (warning): the cluster's version changed outside Terraform (drift): AWS upgraded it.
- Review notes: any change of a cluster on an ageing minor (within the lifecycle table's warning
  window of the end of standard support, or past it) names that date; a version change says it is
  an in-place update and from which minor to which.

Plain Python on the plan model and the lifecycle table; ``today`` is a parameter (the clock's date
when not given).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from qualisys_infra.core.lifecycle import Support, kubernetes_minor, minor_key, minor_of
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.model import Kind, Plan, ResourceChange

CLUSTER_TYPE = "aws_eks_cluster"
_UPDATING = frozenset({Kind.UPDATE, Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET})


def _version(state: Any) -> str | None:
    value = state.get("version") if isinstance(state, dict) else None
    return value if isinstance(value, str) and minor_key(value) != (-1, -1) else None


def versions(change: ResourceChange) -> tuple[str | None, str | None]:
    """The cluster's Kubernetes version before and after ``change`` (``None`` where unknown or absent)."""
    return _version(change.before), _version(change.after)


def findings(plan: Plan) -> Iterator[Finding]:
    """G016 for every cluster moved by more than one minor or back; G017 for every version drift."""
    for change in plan.changes:
        if change.type != CLUSTER_TYPE or change.kind not in _UPDATING:
            continue
        before, after = versions(change)
        if before is None or after is None:
            continue
        (major_b, minor_b), (major_a, minor_a) = minor_key(before), minor_key(after)
        if major_a != major_b or minor_a - minor_b > 1:
            step = f"{major_b}.{minor_b + 1}"
            yield Finding(
                "G016",
                Severity.CRITICAL,
                change.address,
                f"Kubernetes version {before} -> {after} skips minors: EKS upgrades one minor at a time "
                f"(and refuses the rest during the apply); plan {before} -> {step} first",
                True,
            )
        elif minor_a < minor_b:
            yield Finding(
                "G016",
                Severity.CRITICAL,
                change.address,
                f"Kubernetes version {before} -> {after} goes back: EKS never downgrades a cluster; if AWS upgraded "
                f"it (end of standard support), set eks_kubernetes_version to {minor_of(before)}",
                True,
            )
    for change in plan.drift:
        if change.type != CLUSTER_TYPE:
            continue
        before, after = versions(change)
        if before is not None and after is not None and minor_of(before) != minor_of(after):
            yield Finding(
                "G017",
                Severity.WARNING,
                change.address,
                f"Kubernetes version changed outside Terraform: {before} -> {after} (AWS upgrades a cluster with "
                f"support_type STANDARD at the end of standard support); set eks_kubernetes_version to "
                f"{minor_of(after)} and follow the upgrade runbook for add-ons, node groups and charts",
                False,
            )


def change_notes(change: ResourceChange, today: date | None = None) -> list[str]:
    """The review's notes on a change of an EKS cluster: the version move, and the end of standard
    support of an ageing minor; nothing for any other resource."""
    if change.type != CLUSTER_TYPE:
        return []
    before, after = versions(change)
    notes = []
    if before is not None and after is not None and minor_of(before) != minor_of(after):
        notes.append(f"Kubernetes {minor_of(before)} -> {minor_of(after)}, an in-place version update")
    day = today or date.today()
    for version in dict.fromkeys(v for v in (before, after) if v is not None):
        row = kubernetes_minor(version)
        if row is None:
            continue
        state = row.support(day)
        end = row.end_of_standard_support.isoformat()
        if state is Support.ENDING:
            notes.append(f"Kubernetes {row.minor}: EKS standard support ends {end}")
        elif state is Support.EXTENDED:
            notes.append(f"Kubernetes {row.minor}: EKS standard support ended {end} (AWS upgrades STANDARD clusters)")
        elif state is Support.ENDED:
            notes.append(
                f"Kubernetes {row.minor}: past the end of EKS extended support ({row.end_of_extended_support})"
            )
    return notes
