"""EKS cluster versions in plans (qualisys_infra/plan/eks_versions.py): a move of more than one minor
or back is a blocking finding (G016), AWS's own upgrade seen as drift a warning (G017), and the review
notes name the in-place update and the end of standard support of an ageing minor (fixed days)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from qualisys_infra.plan.eks_versions import change_notes, findings
from qualisys_infra.plan.model import parse_plan

ADDRESS = "module.eks.aws_eks_cluster.cluster"


def _entry(before: str | None, after: str | None, actions: list[str], kind: str = "aws_eks_cluster") -> dict[str, Any]:
    return {
        "address": ADDRESS if kind == "aws_eks_cluster" else f"{kind}.x",
        "mode": "managed",
        "type": kind,
        "name": "cluster",
        "change": {
            "actions": actions,
            "before": None if before is None else {"name": "qualisys-dev", "version": before},
            "after": None if after is None else {"name": "qualisys-dev", "version": after},
            "after_unknown": {},
        },
    }


def _plan(*entries: dict[str, Any], drift: tuple[dict[str, Any], ...] = ()) -> Any:
    return parse_plan(
        {"format_version": "1.2", "resource_changes": list(entries), "resource_drift": list(drift)}, "crafted"
    )


def _rules(plan: Any) -> list[tuple[str, bool]]:
    return [(f.rule, f.blocking) for f in findings(plan)]


def test_one_minor_up_in_place_is_allowed() -> None:
    assert _rules(_plan(_entry("1.35", "1.36", ["update"]))) == []


@pytest.mark.parametrize(("before", "after"), [("1.33", "1.36"), ("1.34", "1.36"), ("1.36", "2.0")])
def test_fails_if_a_plan_moves_a_cluster_by_more_than_one_minor(before: str, after: str) -> None:
    (finding,) = findings(_plan(_entry(before, after, ["update"])))
    assert (finding.rule, finding.blocking, finding.address) == ("G016", True, ADDRESS)
    assert finding.message.startswith(f"Kubernetes version {before} -> {after} skips minors: EKS upgrades one minor")
    if before == "1.33":
        assert finding.message.endswith("plan 1.33 -> 1.34 first")


def test_fails_if_a_replacement_skips_minors_too() -> None:
    assert _rules(_plan(_entry("1.33", "1.35", ["delete", "create"]))) == [("G016", True)]


def test_fails_if_a_plan_takes_a_cluster_back_a_minor() -> None:
    """What every plan proposes after AWS upgraded a STANDARD cluster by itself."""
    (finding,) = findings(_plan(_entry("1.37", "1.36", ["update"])))
    assert finding.rule == "G016" and finding.blocking
    assert "goes back: EKS never downgrades a cluster" in finding.message
    assert finding.message.endswith("set eks_kubernetes_version to 1.37")


def test_a_new_cluster_and_other_resources_are_not_judged() -> None:
    assert _rules(_plan(_entry(None, "1.36", ["create"]), _entry("1.30", "1.36", ["update"], kind="aws_x"))) == []


def test_warns_when_aws_upgraded_a_cluster_outside_terraform() -> None:
    drift = _entry("1.36", "1.37", ["update"])
    (finding,) = findings(_plan(drift=(drift,)))
    assert (finding.rule, finding.blocking) == ("G017", False)
    assert "changed outside Terraform: 1.36 -> 1.37" in finding.message and "set eks_kubernetes_version to 1.37" in (
        finding.message
    )


def _notes(before: str | None, after: str | None, today: date) -> list[str]:
    (change,) = _plan(_entry(before, after, ["update"] if before else ["create"])).changes
    return change_notes(change, today=today)


def test_review_notes_an_in_place_update_and_nothing_else_in_standard_support() -> None:
    assert _notes("1.35", "1.36", date(2026, 9, 1)) == ["Kubernetes 1.35 -> 1.36, an in-place version update"]


def test_review_names_the_end_of_standard_support_of_an_ageing_minor() -> None:
    assert _notes("1.35", "1.36", date(2027, 1, 15)) == [
        "Kubernetes 1.35 -> 1.36, an in-place version update",
        "Kubernetes 1.35: EKS standard support ends 2027-03-27",
    ]


def test_review_names_a_minor_past_standard_and_past_extended_support() -> None:
    assert _notes("1.33", "1.33", date(2026, 12, 6)) == [
        "Kubernetes 1.33: EKS standard support ended 2026-07-29 (AWS upgrades STANDARD clusters)"
    ]
    assert _notes("1.33", "1.33", date(2027, 7, 29)) == [
        "Kubernetes 1.33: past the end of EKS extended support (2027-07-29)"
    ]


def test_review_says_nothing_for_other_resources() -> None:
    (change,) = _plan(_entry("1.33", "1.36", ["update"], kind="aws_x")).changes
    assert change_notes(change, today=date(2027, 1, 1)) == []


def test_guardrails_block_a_plan_that_skips_minors() -> None:
    from qualisys_infra.plan.guardrails import blocking, check

    plan = _plan(_entry("1.34", "1.36", ["update"]))
    assert [(f.rule, f.address) for f in blocking(check(plan, stack="dev-cluster"))] == [("G016", ADDRESS)]


def test_review_shows_the_in_place_update_and_the_end_of_support_of_an_ageing_minor() -> None:
    """1.33 is past standard support on every day from 2026-07-29 on: the review names the date."""
    from qualisys_infra.plan.guardrails import check
    from qualisys_infra.plan.review import StackReview
    from qualisys_infra.plan.review_markdown import render_markdown

    plan = _plan(_entry("1.33", "1.34", ["update"]))
    (comment,) = render_markdown([StackReview("dev-cluster", plan, check(plan))])
    (line,) = [line for line in comment.splitlines() if "aws_eks_cluster.cluster" in line]
    assert "Kubernetes 1.33 -&gt; 1.34, an in-place version update" in line
    # Past standard support (until 2027-07-29) or past extended support after: the date is named either way.
    assert "Kubernetes 1.33: EKS standard support ended 2026-07-29" in line or "(2027-07-29)" in line
