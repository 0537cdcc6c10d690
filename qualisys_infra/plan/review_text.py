"""The plan review for a terminal (text, optionally coloured) and for machines (JSON): every change in full.

The text comes from ``templates/review.txt.j2``. Its one rule for line ends: every block tag
(``{% if %}``, ``{% for %}``, ...) stands alone on its line, and a condition inside a line of output
is an expression (``{{ " (no changes)" if ... else "" }}``). With ``trim_blocks`` a block tag's
own line leaves nothing behind, so each line of the template that holds output is exactly one line
of the review; ``tests/plan/test_review_text.py`` checks the rule and the result on every fixture.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jinja2

from qualisys_infra.core.github_text import shown as visible
from qualisys_infra.plan.cost_review import json_view, text_section
from qualisys_infra.plan.model import SYMBOL, Kind, ResourceChange
from qualisys_infra.plan.review import (
    KIND_SECTION,
    SECTIONS,
    DiffItem,
    Pair,
    StackReview,
    clip,
    listed_changes,
    resource_diff,
    review_notes,
    scope_note,
    summary_counts,
    summary_line,
)
from qualisys_infra.plan.words import ACTION_WORDS, plural

TEMPLATE = "review.txt.j2"
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("qualisys_infra.plan", "templates"),
    autoescape=False,  # noqa: S701 - plain text: each value is made one printable line by the `term` filter
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["term"] = visible  # control characters (escape sequences) shown as escapes, never sent


def _text_diff_lines(change: ResourceChange, items: list[DiffItem]) -> list[tuple[str, str, bool]]:
    """``(colour, line, forces replacement)`` per line, in Terraform's style: marker, then ``a -> b``."""
    lines: list[tuple[str, str, bool]] = []
    for item in items:
        if isinstance(item, Pair):
            if change.kind is Kind.CREATE:
                lines.append(("green", f"+ {item.path} = {item.after}", item.forces))
            elif change.kind in (Kind.DELETE, Kind.FORGET):
                lines.append(("red", f"- {item.path} = {item.before}", item.forces))
            else:
                lines.append(("yellow", f"~ {item.path} = {item.before} -> {item.after}", item.forces))
        else:
            colour = {"+": "green", "-": "red", "~": "yellow", " ": "reset"}
            lines.extend(
                (colour[line.marker], f"{'    ' * line.depth}{line.marker} {line.text}", False) for line in item
            )
    return lines


def _resource_view(change: ResourceChange, drift: bool = False) -> dict[str, Any]:
    items = resource_diff(change)
    rows = [
        {"path": visible(i.path), "before": i.before, "after": i.after, "forces": i.forces}
        if isinstance(i, Pair)
        else {
            "path": visible(i[0].text.split(" = ", 1)[0]),
            "lines": [visible(f"{'    ' * d.depth}{d.marker} {d.text}") for d in i],
        }
        for i in items
    ]
    # Names are shown escaped in every format, JSON too: a reader of the JSON sees what the others show.
    return {
        "address": visible(change.address),
        "label": visible(change.label),
        "symbol": SYMBOL[change.kind],
        "kind": change.kind.value,
        "action": ACTION_WORDS[change.kind],
        "notes": [visible(n) for n in review_notes(change, drift)],
        "attributes": rows,
        "text_lines": _text_diff_lines(change, items) if change.kind not in (Kind.DELETE, Kind.FORGET) else [],
    }


def _stack_view(review: StackReview) -> dict[str, Any]:
    plan = review.plan
    order = {s.key: n for n, s in enumerate(SECTIONS)}
    changes = sorted(listed_changes(plan), key=lambda c: order[KIND_SECTION.get(c.kind, "move")])
    return {
        "name": visible(review.name),
        "inputs": {visible(k): visible(v) for k, v in plan.inputs.items()},
        "refreshed": review.refreshed,
        "left_out": [visible(a) for a in review.left_out],
        "scope_note": scope_note(review),
        "summary": summary_line(summary_counts([plan])),
        "counts": summary_counts([plan]),
        "has_changes": plan.has_changes,
        "changes": [_resource_view(c) for c in changes],
        "outputs": [
            {
                "name": visible(o.name),
                "kind": o.kind.value,
                "before": clip(o.before),  # values are JSON-escaped by the plan model
                "after": clip(o.after),
            }
            for o in plan.outputs
            if o.kind is not Kind.NOOP
        ],
        "drift": [_resource_view(c, drift=True) for c in plan.drift],
        "findings": list(review.findings),
        "errored": plan.errored,
    }


def _context(reviews: Sequence[StackReview]) -> dict[str, Any]:
    plans = [r.plan for r in reviews]
    counts = summary_counts(plans)
    findings = [f for r in reviews for f in r.findings]
    return {
        "summary": summary_line(counts),
        "counts": counts,
        "stacks": [_stack_view(r) for r in reviews],
        "stack_count": plural(len(reviews), "stack"),
        "with_changes": sum(1 for p in plans if p.has_changes),
        "findings": findings,
        "blocking": [f for f in findings if f.blocking],
    }


_PALETTE = {
    "red": "\033[31m",
    "green": "\033[32m",
    "yellow": "\033[33m",
    "cyan": "\033[36m",
    "bold": "\033[1m",
    "reset": "\033[0m",
}


def render_text(reviews: Sequence[StackReview], *, color: bool = False) -> str:
    """A terminal rendering: one line per changed resource, attribute diffs indented below it."""
    colors = _PALETTE if color else dict.fromkeys(_PALETTE, "")
    return _ENV.get_template(TEMPLATE).render(**_context(reviews), c=colors) + _cost_text(reviews)


def _cost_text(reviews: Sequence[StackReview]) -> str:
    return "\n" + text_section(reviews) if any(r.cost is not None for r in reviews) else ""


def render_json(reviews: Sequence[StackReview]) -> str:
    """Everything the review knows, for machines; sensitive values masked as in the other formats."""
    context = _context(reviews)
    return json.dumps(
        {
            "summary": context["summary"],
            "counts": context["counts"],
            "blocking": len(context["blocking"]),
            **({"cost": json_view(reviews)} if any(r.cost is not None for r in reviews) else {}),
            "stacks": [
                {
                    "name": s["name"],
                    "inputs": s["inputs"],
                    "refreshed": s["refreshed"],
                    "left_out": s["left_out"],
                    "summary": s["summary"],
                    "has_changes": s["has_changes"],
                    "errored": s["errored"],
                    "changes": [{k: v for k, v in c.items() if k != "text_lines"} for c in s["changes"]],
                    "outputs": s["outputs"],
                    "drift": [{k: v for k, v in c.items() if k != "text_lines"} for c in s["drift"]],
                    "findings": [
                        {
                            "rule": f.rule,
                            "severity": f.severity.value,
                            "address": visible(f.address),
                            "message": visible(f.message),
                            "hint": visible(f.hint),
                            "blocking": f.blocking,
                        }
                        for f in s["findings"]
                    ],
                }
                for s in context["stacks"]
            ],
        },
        indent=2,
    )
