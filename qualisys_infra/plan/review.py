"""The review of one or more plans: what each stack's plan does, grouped and counted, and its attribute diffs.

:class:`StackReview` is one plan with its name, its guardrail findings and what its plan left out;
the sections (destroy, replace, forget, move, update, create, read, drift) order the changes by
risk; :func:`resource_diff` gives the attribute changes of one resource, a JSON document held in a
string diffed key by key. The renderings build on this: the pull-request comment
(:mod:`qualisys_infra.plan.review_markdown`, split into comments by
:mod:`qualisys_infra.plan.comment_parts`) and the terminal and JSON renderings
(:mod:`qualisys_infra.plan.review_text`). Every value from a plan is escaped for the place it lands
by :mod:`qualisys_infra.core.github_text`.

Sensitive values are masked and unknown values named by the plan model before any rendering
sees them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualisys_infra.core.github_text import clip as clip_text
from qualisys_infra.core.github_text import shown as visible
from qualisys_infra.plan import eks_versions
from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.jsondiff import DiffLine, json_string_diff
from qualisys_infra.plan.model import Kind, Plan, ResourceChange
from qualisys_infra.plan.words import ACTION_WORDS, change_notes, plural

VALUE_LIMIT = 400  # characters of one attribute value in a diff


@dataclass(frozen=True)
class Section:
    """A group of changes under one heading, in order of risk."""

    key: str
    icon: str
    title: str
    verb: str  # "to destroy": how a folded list of names is summarised
    tier: int  # budget priority: lower tiers get names and diffs first


SECTIONS: tuple[Section, ...] = (
    Section("unknown", "❓", "Unknown action", "with an unknown action", 0),
    Section("destroy", "🗑️", "Destroy", "to destroy", 0),
    Section("replace", "♻️", "Replace", "to replace", 0),
    Section("forget", "🫥", "Forget (leaves Terraform, not destroyed)", "to forget", 0),
    Section("move", "🚚", "Move or import only", "to move or import", 3),
    Section("update", "✏️", "Update", "to update", 1),
    Section("create", "🆕", "Create", "to create", 2),
    Section("read", "📖", "Read", "to read", 4),
    Section("drift", "ℹ️", "Changed outside Terraform (drift)", "changed outside Terraform", 5),  # noqa: RUF001
)
SECTION_BY_KEY = {s.key: s for s in SECTIONS}
NOTED_KINDS = frozenset({Kind.REPLACE_CBD, Kind.REPLACE_FORGET, Kind.UNKNOWN})  # see words.change_notes
KIND_SECTION = {
    Kind.UNKNOWN: "unknown",
    Kind.DELETE: "destroy",
    Kind.REPLACE: "replace",
    Kind.REPLACE_CBD: "replace",
    Kind.REPLACE_FORGET: "replace",
    Kind.FORGET: "forget",
    Kind.UPDATE: "update",
    Kind.CREATE: "create",
    Kind.READ: "read",
}


@dataclass(frozen=True)
class StackReview:
    """One plan with its name and guardrail findings."""

    name: str
    plan: Plan
    findings: Sequence[Finding] = field(default_factory=tuple)
    # False when the stack was planned with -refresh=false (see NOT_REFRESHED): its review says so.
    refreshed: bool = True
    # Resources the plan left out (-target on the rest; see LEFT_OUT): its review names them.
    left_out: Sequence[str] = ()
    # Its monthly cost before and after (qualisys_infra.plan.cost_review.StackCost), when the review is priced.
    cost: Any = None


# Why a stack was planned without refresh, or without some resources, in every format of its review.
NOT_REFRESHED = (
    "planned without refresh: refreshing this stack reads Kubernetes Secrets (Helm keeps each release's"
    " record as one), which this plan's identity may not read; the changes are against the state as last"
    " applied, and changes made outside Terraform are not shown"
)
LEFT_OUT = (
    "planned without {count}, whose refresh reads Kubernetes Secrets (Helm keeps each release's record as"
    " one) or which refer to those, since this plan's identity may not read Secrets; everything else was"
    " refreshed. Not for deploy. Left out: {addresses}"
)


def scope_note(review: StackReview, *, address: Callable[[str], str] = visible) -> str | None:
    """What the review must say about what its plan did not refresh, or None; ``address`` writes each
    left-out address for the place the note lands (escaped text by default, code spans in Markdown)."""
    if review.left_out:
        addresses = ", ".join(address(a) for a in review.left_out)
        return LEFT_OUT.format(count=plural(len(review.left_out), "resource"), addresses=addresses)
    return None if review.refreshed else NOT_REFRESHED


def must_name(change: ResourceChange) -> bool:
    """A change every comment names: it destroys, replaces, forgets or moves an object (or is unknown)."""
    return change.is_destructive or change.leaves_management or change.is_move


def listed_changes(plan: Plan) -> list[ResourceChange]:
    """The changes a review lists (no-ops only when they move or import)."""
    return [c for c in plan.changes if c.kind is not Kind.NOOP or c.is_move or c.is_import]


def summary_counts(plans: Sequence[Plan]) -> dict[str, int]:
    """Counts in Terraform's wording plus the extras: add/change/destroy/replace/import/move/forget/read."""
    counts = dict.fromkeys(("add", "change", "destroy", "replace", "import", "move", "forget", "read"), 0)
    for plan in plans:
        kinds = Counter(c.kind for c in plan.changes)
        counts["add"] += kinds[Kind.CREATE]
        counts["change"] += kinds[Kind.UPDATE]
        counts["destroy"] += kinds[Kind.DELETE]
        counts["replace"] += sum(kinds[k] for k in (Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET, Kind.UNKNOWN))
        counts["forget"] += kinds[Kind.FORGET]
        counts["read"] += kinds[Kind.READ]
        counts["import"] += sum(1 for c in plan.changes if c.importing is not None)
        counts["move"] += sum(1 for c in plan.changes if c.previous_address is not None and c.is_move)
    return counts


def summary_line(counts: dict[str, int]) -> str:
    """Terraform's own summary line (zeros included, as Terraform prints it) plus the non-zero extras."""
    main = f"{counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy"
    extras = [
        f"{counts[k]} to {k}" if k == "replace" else f"{counts[k]} {k}"
        for k in ("replace", "import", "move", "forget")
        if counts[k]
    ]
    return "Plan: " + " · ".join([main, *extras])


def clip(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (an attribute value's by default), an ellipsis marking the cut."""
    return clip_text(text, limit)


# --- attribute diffs, shared by the Markdown and the text rendering -------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """One attribute whose value changes as a whole: ``path = before -> after``."""

    path: str
    before: str
    after: str
    forces: bool


DiffItem = Pair | list[DiffLine]


def resource_diff(change: ResourceChange) -> list[DiffItem]:
    """The attribute changes of one resource; a JSON document held in a string is diffed key by key."""
    if change.kind is Kind.READ:
        return []
    items: list[DiffItem] = []
    for a in change.attribute_changes():
        before, after = clip(a.before), clip(a.after)
        if change.kind is Kind.CREATE:
            items.append(Pair(a.path, "", after, a.forces_replacement))
        elif change.kind in (Kind.DELETE, Kind.FORGET):
            items.append(Pair(a.path, before, "", a.forces_replacement))
        else:
            values = (
                change.json_values(a.path) if a.before[:2] in ('"{', '"[') and a.after[:2] in ('"{', '"[') else None
            )
            if values is not None:
                lines = json_string_diff(a.path, *values)
                if a.forces_replacement:
                    first = lines[0]
                    lines[0] = DiffLine(first.marker, first.depth, first.text + "   # forces replacement", first.opens)
                items.append(lines)
            else:
                items.append(Pair(a.path, before, after, a.forces_replacement))
    return items


# Markdown diff blocks colour by the first character (GitHub's diff grammar): ``+`` green, ``-`` red,


def review_notes(change: ResourceChange, drift: bool = False) -> list[str]:
    """What a review says about one change beside its name: how and why, EKS version moves, and for
    drift the action."""
    found = change_notes(change) + eks_versions.change_notes(change)  # EKS: version move, end of support
    if drift:
        found.insert(0, ACTION_WORDS[change.kind])
    return found


def stack_name(path: Path) -> str:
    """A plan file's stack name: ``plans/dev/dev-network.json`` -> ``dev-network``."""
    return path.name.removesuffix(".json").removesuffix(".plan")
