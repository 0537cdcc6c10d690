"""Review of one or more plans: Markdown for a pull request, text for a terminal, JSON for machines.

The Markdown always fits one GitHub comment (65,536 characters). It is rendered at the most
detailed level that fits: ``full`` (a collapsible attribute diff per resource), then ``list``
(addresses only), then ``counts`` (a table of counts); a note says which level was used and why.
Sensitive values are masked and unknown values named by the plan model before any template sees
them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2

from qualisys_infra.plan.guardrails import Finding
from qualisys_infra.plan.model import SYMBOL, AttributeChange, Kind, Plan, ResourceChange

GITHUB_COMMENT_LIMIT = 65_536
BUDGET = GITHUB_COMMENT_LIMIT - 1_536  # margin for a CI link or a footer the caller adds
VALUE_LIMIT = 400  # characters of one attribute value in a diff
MARKER = "<!-- qualisys-infra:plan-review -->"


class Detail(StrEnum):
    FULL = "full"
    LIST = "list"
    COUNTS = "counts"


# Sections in order of risk, with their heading and icon.
SECTIONS: tuple[tuple[str, str, tuple[Kind, ...]], ...] = (
    ("🗑️", "Destroy", (Kind.DELETE,)),
    ("♻️", "Replace", (Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET)),
    ("✏️", "Update", (Kind.UPDATE,)),
    ("🆕", "Create", (Kind.CREATE,)),
    ("🫥", "Forget (leaves Terraform, not destroyed)", (Kind.FORGET,)),
    ("📖", "Read", (Kind.READ,)),
    ("❓", "Unknown action", (Kind.UNKNOWN,)),
)


@dataclass(frozen=True)
class StackReview:
    """One plan with its name and guardrail findings."""

    name: str
    plan: Plan
    findings: Sequence[Finding] = field(default_factory=tuple)


def summary_counts(plans: Sequence[Plan]) -> dict[str, int]:
    """Counts in Terraform's wording plus the extras: add/change/destroy/replace/import/move/forget/read."""
    counts = dict.fromkeys(("add", "change", "destroy", "replace", "import", "move", "forget", "read"), 0)
    for plan in plans:
        for change in plan.changes:
            kind = change.kind
            if kind is Kind.CREATE:
                counts["add"] += 1
            elif kind is Kind.UPDATE:
                counts["change"] += 1
            elif kind is Kind.DELETE:
                counts["destroy"] += 1
            elif kind in (Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET, Kind.UNKNOWN):
                counts["replace"] += 1
            elif kind is Kind.FORGET:
                counts["forget"] += 1
            elif kind is Kind.READ:
                counts["read"] += 1
            if change.is_import:
                counts["import"] += 1
            if change.is_move:
                counts["move"] += 1
    return counts


def summary_line(counts: dict[str, int]) -> str:
    main = f"{counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy"
    extras = [
        f"{counts[k]} to {k}" if k == "replace" else f"{counts[k]} {k}"
        for k in ("replace", "import", "move", "forget")
        if counts[k]
    ]
    return "Plan: " + " · ".join([main, *extras])


def _clip(text: str) -> str:
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _resource_view(change: ResourceChange, with_attributes: bool = True) -> dict[str, Any]:
    notes = []
    if change.action_reason:
        notes.append(change.action_reason.replace("_", " "))
    if change.replace_paths:
        notes.append("forces replacement: " + ", ".join(".".join(str(s) for s in p) for p in change.replace_paths))
    if change.is_move:
        notes.append(f"moved from {change.previous_address}")
    if change.is_import:
        identity = change.importing.get("id") if change.importing else None
        notes.append(f"import {identity}" if identity else "import")
    if change.deposed:
        notes.append(f"deposed object {change.deposed}")
    attributes: list[AttributeChange] = (
        change.attribute_changes() if with_attributes and change.kind is not Kind.READ else []
    )
    rows = [
        {"path": a.path, "before": _clip(a.before), "after": _clip(a.after), "forces": a.forces_replacement}
        for a in attributes
    ]
    return {
        "address": change.address,
        "label": change.label,
        "fence": fence_for([diff_line(f"{r['path']} = {r['before']} {r['after']}") for r in rows]),
        "symbol": SYMBOL[change.kind],
        "kind": change.kind.value,
        "notes": notes,
        "attributes": rows,
    }


def _stack_view(review: StackReview, detail: Detail = Detail.FULL) -> dict[str, Any]:
    plan = review.plan
    full = detail is Detail.FULL
    listed = detail is not Detail.COUNTS
    sections = []
    for icon, title, kinds in SECTIONS if listed else ():
        items = [_resource_view(c, full) for c in plan.changes if c.kind in kinds]
        if items:
            sections.append({"icon": icon, "title": title, "items": items})
    moved_or_imported = [
        _resource_view(c, full) for c in plan.changes if listed and c.kind is Kind.NOOP and (c.is_move or c.is_import)
    ]
    if moved_or_imported:
        sections.append({"icon": "🚚", "title": "Move or import only", "items": moved_or_imported})
    counts = summary_counts([plan])
    return {
        "name": review.name,
        "summary": summary_line(counts),
        "counts": counts,
        "has_changes": plan.has_changes,
        "sections": sections,
        "outputs": [
            {"name": o.name, "kind": o.kind.value, "before": _clip(o.before), "after": _clip(o.after)}
            for o in plan.outputs
            if o.kind is not Kind.NOOP
        ],
        "drift": [_resource_view(c, full) for c in plan.drift] if listed else [],
        "findings": list(review.findings),
        "errored": plan.errored,
    }


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("qualisys_infra.plan", "templates"),
    autoescape=False,  # noqa: S701 - Markdown and text: each value is escaped by the filter for its context
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


# --- escaping: every value from a plan is escaped for the exact place it is put --------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_BACKTICKS = re.compile(r"`+")


def _one_line(text: object) -> str:
    """One line of printable text: line breaks read ``\\n``, control characters their escape."""
    line = str(text).replace("\r\n", "\\r\\n").replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


NO_MENTION = "\u2060"  # a word joiner after "@": GitHub links no @user or @org/team outside code


def md_text(text: object) -> str:
    """Markdown inline text (a table cell, a list item): every punctuation character backslash-escaped,
    so no link, image, emphasis, HTML tag, table pipe or heading can come from the value, and no
    mention (GitHub finds those in the rendered text, so ``@`` is followed by an invisible joiner)."""
    return _PUNCTUATION.sub(r"\\\1", _one_line(text)).replace("@", "@" + NO_MENTION)


def md_code(text: object, *, in_table: bool = False) -> str:
    """A whole Markdown code span holding ``text`` literally: a backtick fence longer than any run inside."""
    line = _one_line(text)
    longest = max((len(run) for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * (longest + 1)
    if not line.strip() or line.startswith(("`", " ")) or line.endswith(("`", " ")):
        line = f" {line} "
    if in_table:
        line = line.replace("|", "\\|")  # GitHub's table parser reads \| as a pipe, even inside code
    return f"{fence}{line}{fence}"


def html_text(text: object, *, in_code: bool = False) -> str:
    """Text inside an HTML element (``<summary>``, ``<code>``): entities for ``& < > " '``, one line, and
    outside ``<code>`` no mention."""
    escaped = html.escape(_one_line(text), quote=True)
    return escaped if in_code else escaped.replace("@", "@" + NO_MENTION)


def diff_line(text: object) -> str:
    """A value on one line inside a fenced diff block (the fence is longer than any backtick run)."""
    return _one_line(text)


def fence_for(lines: Sequence[str]) -> str:
    """A code fence that no line of ``lines`` can close: longer than any backtick run in them."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    return "`" * max(3, longest + 1)


def terminal_text(text: object) -> str:
    """Plan text for a terminal: control characters (escape sequences) shown as escapes, never sent."""
    return _one_line(text)


_ENV.filters["md"] = md_text
_ENV.filters["code"] = md_code
_ENV.filters["cell_code"] = lambda text: md_code(text, in_table=True)
_ENV.filters["html"] = html_text
_ENV.filters["html_code"] = lambda text: html_text(text, in_code=True)
_ENV.filters["diff_safe"] = diff_line
_ENV.filters["term"] = terminal_text


def _context(reviews: Sequence[StackReview], detail: Detail = Detail.FULL) -> dict[str, Any]:
    plans = [r.plan for r in reviews]
    counts = summary_counts(plans)
    findings = [f for r in reviews for f in r.findings]
    return {
        "marker": MARKER,
        "summary": summary_line(counts),
        "counts": counts,
        "stacks": [_stack_view(r, detail) for r in reviews],
        "with_changes": sum(1 for p in plans if p.has_changes),
        "destroyed": counts["destroy"],
        "replaced": counts["replace"],
        "findings": findings,
        "blocking": [f for f in findings if f.blocking],
    }


# The fewest characters one listed resource takes at each level: a level whose lower bound is
# already over the limit is not rendered at all (a 10,000-resource plan goes straight to counts).
MIN_CHARS_PER_RESOURCE = {Detail.FULL: 60, Detail.LIST: 8, Detail.COUNTS: 0}


def _listed(reviews: Sequence[StackReview]) -> int:
    return sum(
        1
        for r in reviews
        for c in (*r.plan.changes, *r.plan.drift)
        if c.kind is not Kind.NOOP or c.is_move or c.is_import
    )


def render_markdown(reviews: Sequence[StackReview], *, limit: int = BUDGET) -> tuple[str, Detail]:
    """The pull-request comment at the most detailed level that fits in ``limit`` characters."""
    template = _ENV.get_template("review.md.j2")
    listed = _listed(reviews)
    full_size = listed * MIN_CHARS_PER_RESOURCE[Detail.FULL]  # replaced by the real size once rendered
    exact = False
    note = ""
    for detail in Detail:
        if detail is not Detail.FULL:
            left_out = "attribute diffs are left out" if detail is Detail.LIST else "only counts are shown"
            size = f"{full_size:,} characters" if exact else f"at least {full_size:,} characters"
            note = (
                f"The full review is {size}, over GitHub's {GITHUB_COMMENT_LIMIT:,}-character "
                f"comment limit: {left_out}. Run `qualisys-infra review` on the plan files for every detail."
            )
        if listed * MIN_CHARS_PER_RESOURCE[detail] > limit:
            continue
        context = _context(reviews, detail)
        text = template.render(**context, detail=detail.value, note=note, finding_limit=None)
        if detail is Detail.FULL:
            full_size, exact = len(text), True
        if len(text) <= limit:
            return text, detail
    # Even counts do not fit: only an enormous list of findings can do that. Keep the first ones.
    keep = max(1, len(context["findings"]) // 2)
    while True:
        text = template.render(**context, detail=Detail.COUNTS.value, note=note, finding_limit=keep)
        if len(text) <= limit or keep == 1:
            return text[:limit], Detail.COUNTS
        keep //= 2


def render_text(reviews: Sequence[StackReview], *, color: bool = False) -> str:
    """A terminal rendering: one line per changed resource, attribute diffs indented below it."""
    context = _context(reviews)
    template = _ENV.get_template("review.txt.j2")
    palette = {
        "red": "\033[31m",
        "green": "\033[32m",
        "yellow": "\033[33m",
        "cyan": "\033[36m",
        "bold": "\033[1m",
        "reset": "\033[0m",
    }
    colors = palette if color else dict.fromkeys(palette, "")
    return template.render(**context, c=colors)


def render_json(reviews: Sequence[StackReview]) -> str:
    """Everything the review knows, for machines; sensitive values masked as in the other formats."""
    context = _context(reviews)
    return json.dumps(
        {
            "summary": context["summary"],
            "counts": context["counts"],
            "blocking": len(context["blocking"]),
            "stacks": [
                {
                    "name": s["name"],
                    "summary": s["summary"],
                    "has_changes": s["has_changes"],
                    "errored": s["errored"],
                    "changes": [item for section in s["sections"] for item in section["items"]],
                    "outputs": s["outputs"],
                    "drift": s["drift"],
                    "findings": [
                        {
                            "rule": f.rule,
                            "severity": f.severity.value,
                            "address": f.address,
                            "message": f.message,
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


def stack_name(path: Path) -> str:
    """A plan file's stack name: ``plans/dev/dev-network.json`` -> ``dev-network``."""
    return path.name.removesuffix(".json").removesuffix(".plan")
