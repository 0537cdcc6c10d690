"""Review of one or more plans: Markdown for a pull request, text for a terminal, JSON for machines.

The Markdown is laid out against a budget (GitHub's 65,536 characters per comment). What is
always kept: the summary, every guardrail finding, and every change that destroys, replaces,
forgets or moves an object, by name. Then, while room is left, in this order: the diffs of those
changes, the names of the other changes (updates, creates, imports, reads, drift; long lists
folded), and their diffs. Whatever is left over is counted per resource type, never dropped
silently, and one note says how much is shown in full. When even the names of the destructive
changes do not fit in one comment, the review is split into numbered comments ("part 1 of N"),
the way Atlantis splits long plans, rather than cut: a destroy must never be left out of review.

Sensitive values are masked and unknown values named by the plan model before any rendering
sees them; every value from the plan is escaped for the exact place it lands.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import jinja2

from qualisys_infra.plan import eks_versions
from qualisys_infra.plan.guardrails import Finding
from qualisys_infra.plan.jsondiff import DiffLine, json_string_diff
from qualisys_infra.plan.model import SYMBOL, Kind, Plan, ResourceChange, without_gc
from qualisys_infra.plan.words import ACTION_WORDS, change_notes, plural
from qualisys_infra.plan.words import shown as visible

GITHUB_COMMENT_LIMIT = 65_536
BUDGET = GITHUB_COMMENT_LIMIT - 1_536  # margin for a CI link or a footer the caller adds
VALUE_LIMIT = 400  # characters of one attribute value in a diff
NAME_LIMIT = 1_000  # characters of one address in a name list (a real address is far shorter)
MARKER = "<!-- qualisys-infra:plan-review -->"
# Where the note sends a reader for what the comment leaves out; `plan` writes this file.
FULL_REVIEW = "`review-full.md` beside `review.md` (the plan job's summary and artifact)"
FOLD_DESTRUCTIVE_AT = 50  # longer lists of destructive changes' names are folded
FOLD_OTHERS_AT = 10  # longer lists of other changes' names are folded


class Level(IntEnum):
    """How much of one change a comment shows."""

    COUNTED = 0  # only in a count per resource type
    NAMED = 1  # its address and notes on one line
    FULL = 2  # a collapsible attribute diff


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
_SECTION = {s.key: s for s in SECTIONS}
_NOTED_KINDS = frozenset({Kind.REPLACE_CBD, Kind.REPLACE_FORGET, Kind.UNKNOWN})  # see words.change_notes
_KIND_SECTION = {
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


def _clip(text: str, limit: int = VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- attribute diffs, shared by the Markdown and the text rendering -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pair:
    """One attribute whose value changes as a whole: ``path = before -> after``."""

    path: str
    before: str
    after: str
    forces: bool


_DiffItem = _Pair | list[DiffLine]
_JSON_STRING = ('"{', '"[')  # how a JSON object or array held in a string starts, as displayed


def resource_diff(change: ResourceChange) -> list[_DiffItem]:
    """The attribute changes of one resource; a JSON document held in a string is diffed key by key."""
    if change.kind is Kind.READ:
        return []
    items: list[_DiffItem] = []
    for a in change.attribute_changes():
        before, after = _clip(a.before), _clip(a.after)
        if change.kind is Kind.CREATE:
            items.append(_Pair(a.path, "", after, a.forces_replacement))
        elif change.kind in (Kind.DELETE, Kind.FORGET):
            items.append(_Pair(a.path, before, "", a.forces_replacement))
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
                items.append(_Pair(a.path, before, after, a.forces_replacement))
    return items


# Markdown diff blocks colour by the first character (GitHub's diff grammar): ``+`` green, ``-`` red,
# ``!`` orange. Terraform's ``~`` becomes ``!`` on a changed value; a line that only opens a nested
# value keeps no colour, so the one changed value stands out.
_MD_MARK = {"+": "+", "-": "-", "~": "!", " ": " "}


def _md_diff_lines(change: ResourceChange, items: list[_DiffItem]) -> list[str]:
    lines: list[str] = []
    for item in items:
        if isinstance(item, _Pair):
            forces = "   # forces replacement" if item.forces else ""
            if change.kind is Kind.CREATE:
                lines.append(diff_line(f"+ {item.path} = {item.after}{forces}"))
            elif change.kind in (Kind.DELETE, Kind.FORGET):
                lines.append(diff_line(f"- {item.path} = {item.before}"))
            else:
                lines.append(diff_line(f"- {item.path} = {item.before}"))
                lines.append(diff_line(f"+ {item.path} = {item.after}{forces}"))
        else:
            for line in item:
                mark = " " if line.opens else _MD_MARK[line.marker]
                lines.append(diff_line(f"{mark} {'    ' * line.depth}{line.text}"))
    return lines


def _text_diff_lines(change: ResourceChange, items: list[_DiffItem]) -> list[tuple[str, str, bool]]:
    """``(colour, line, forces replacement)`` per line, in Terraform's style: marker, then ``a -> b``."""
    lines: list[tuple[str, str, bool]] = []
    for item in items:
        if isinstance(item, _Pair):
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


def _notes(change: ResourceChange, drift: bool = False) -> list[str]:
    notes = change_notes(change) + eks_versions.change_notes(change)  # EKS: version move, end of support
    if drift:
        notes.insert(0, ACTION_WORDS[change.kind])
    return notes


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("qualisys_infra.plan", "templates"),
    autoescape=False,  # noqa: S701 - Markdown and text: each value is escaped by the filter for its context
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


# --- escaping: every value from a plan is escaped for the exact place it is put --------------------------

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_BACKTICKS = re.compile(r"`+")
_MD_ESCAPES = {ord(c): "\\" + c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"} | {ord("@"): "\\@" + "\u2060"}
_PLAIN = re.compile(r"[\w.\[\]\"\-/:=+,() ]*")  # no backtick, control or line-break character


# One line of printable text: line breaks read ``\\n``, control and bidirectional characters their escape.
_one_line = visible


NO_MENTION = "\u2060"  # a word joiner after "@": GitHub links no @user or @org/team outside code


def md_text(text: object) -> str:
    """Markdown inline text (a table cell, a list item): every punctuation character backslash-escaped,
    so no link, image, emphasis, HTML tag, table pipe or heading can come from the value, and no
    mention (GitHub finds those in the rendered text, so ``@`` is followed by an invisible joiner)."""
    return _one_line(text).translate(_MD_ESCAPES)


def md_code(text: object, *, in_table: bool = False) -> str:
    """A whole Markdown code span holding ``text`` literally: a backtick fence longer than any run inside."""
    if (
        isinstance(text, str)
        and text
        and text.isascii()
        and _PLAIN.fullmatch(text)
        and text[0] != " "
        and text[-1] != " "
    ):
        return f"`{text}`"  # an ordinary address: nothing to escape
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


# --- the Markdown comment: a budget decides what each change gets -------------------------------------------


@dataclass(slots=True)
class _Item:
    """One listed change and the level the layout gives it; its Markdown is made once, when first asked."""

    change: ResourceChange
    stack: int
    section: str
    tier: int
    must: bool
    level: Level = Level.COUNTED
    _name: str | None = None
    _full: str | None = None

    @property
    def drift(self) -> bool:
        return self.section == "drift"

    @property
    def name_text(self) -> str:
        if self._name is None:
            change = self.change
            plain = not (change.action_reason or change.replace_paths or change.previous_address or change.importing)
            if plain and not change.deposed and not self.drift and change.kind not in _NOTED_KINDS:
                self._name = f"- {md_code(change.address)}\n"  # no notes: the common case of a long list
            else:
                notes = _notes(change, self.drift)
                shown = " · " + md_text(" · ".join(notes)) if notes else ""
                self._name = f"- {md_code(_clip(change.label, NAME_LIMIT))}{shown}\n"
        return self._name

    @property
    def full_text(self) -> str:
        if self._full is None:
            notes = _notes(self.change, self.drift)
            shown = " · " + html_text(" · ".join(notes)) if notes else ""
            summary = (
                f"<details><summary><code>{html_text(self.change.label, in_code=True)}</code>{shown}</summary>\n\n"
            )
            lines = _md_diff_lines(self.change, resource_diff(self.change))
            if lines:
                fence = fence_for(lines)
                body = f"{fence}diff\n" + "\n".join(lines) + f"\n{fence}\n"
            else:
                body = "_No attribute changes._\n"
            self._full = f"{summary}{body}\n</details>\n"
        return self._full


@dataclass(frozen=True, slots=True)
class _Group:
    """Markdown around consecutive blocks (a fold, an alert); reopened with ``again`` in the next comment."""

    opener: str
    closer: str
    again: str


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    group: _Group | None = None


class Comments(list[str]):
    """The comment bodies of one review, in order; most reviews are one comment (``comments.single``)."""

    def __init__(self, parts: Iterable[str], *, full: int, named: int, counted: int) -> None:
        super().__init__(parts)
        self.full, self.named, self.counted = full, named, counted

    @property
    def single(self) -> str:
        """The one comment body; a review split into several has no single body."""
        if len(self) != 1:
            raise ValueError(f"the review is split into {len(self)} comments; post each of them")
        return self[0]


def _items(reviews: Sequence[StackReview]) -> list[_Item]:
    items: list[_Item] = []
    tiers = {s.key: s.tier for s in SECTIONS}
    section = _KIND_SECTION.get
    for index, review in enumerate(reviews):
        for change in review.plan.changes:
            key = section(change.kind, "move")
            if key == "move" and not (change.is_move or change.is_import):
                continue  # a no-op: not listed
            must = must_name(change)
            items.append(_Item(change, index, key, 0 if must else tiers[key], must))
        items.extend(_Item(c, index, "drift", _SECTION["drift"].tier, False) for c in review.plan.drift)
    return items


def _banners(counts: dict[str, int], blocking: list[Finding], warnings: list[Finding]) -> list[_Block]:
    blocks: list[_Block] = []
    if blocking:
        alert = "> [!CAUTION]\n"
        head = f"> **{plural(len(blocking), 'blocking guardrail finding')}:** `deploy` refuses "
        head += "this plan as it is.\n>\n" if len(blocking) == 1 else "these plans as they are.\n>\n"
        group = _Group(alert + head, "\n", alert + "> **Blocking guardrail findings, continued:**\n>\n")
        blocks += [_Block(_finding(f), group) for f in blocking]
    destroyed, replaced = counts["destroy"], counts["replace"]
    if destroyed or replaced:
        if destroyed and replaced:
            what = f"{plural(destroyed, 'resource')} will be destroyed and {replaced:,} replaced"
            where = "the Destroy and Replace sections"
        elif destroyed:
            what, where = f"{plural(destroyed, 'resource')} will be destroyed", "the Destroy section"
        else:
            what, where = f"{plural(replaced, 'resource')} will be replaced", "the Replace section"
        blocks.append(_Block(f"> [!CAUTION]\n> **{what}.** Read {where} before approving.\n\n"))
    if counts["forget"]:
        leaves = "leaves" if counts["forget"] == 1 else "leave"
        blocks.append(
            _Block(
                f"> [!WARNING]\n> **{plural(counts['forget'], 'resource')} {leaves} Terraform management "
                "(forget):** not destroyed, but no longer managed by Terraform.\n\n"
            )
        )
    if warnings:
        alert = "> [!WARNING]\n"
        group = _Group(
            alert + f"> **{plural(len(warnings), 'guardrail warning')}:**\n>\n",
            "\n",
            alert + "> **Guardrail warnings, continued:**\n>\n",
        )
        blocks += [_Block(_finding(f), group) for f in warnings]
    return blocks


def _finding(f: Finding) -> str:
    where = [md_code(f.stack)] if f.stack else []
    where.append(md_code(f.address))
    line = f"> - **{md_text(f.rule)}** · {' · '.join(where)}: {md_text(f.message)}"
    if not f.hint:
        return line + "\n"
    fence = fence_for([f.hint])
    hint = diff_line(f.hint)
    return f"{line}. If that is intended, re-run with:\n>   {fence}\n>   {hint}\n>   {fence}\n"


def _counted_line(items: Sequence[_Item]) -> str:
    by_type = Counter(i.change.type for i in items)
    ordered = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = " · ".join(f"{n:,} × {md_code(t)}" for t, n in ordered)  # noqa: RUF001 - a multiplication sign
    return f"_Counted by type, not listed:_ {shown}\n\n"


def _section_blocks(section: Section, items: list[_Item]) -> list[_Block]:
    heading = f"#### {section.icon} {section.title} ({len(items):,})\n\n"
    again = f"#### {section.icon} {section.title}, continued\n\n"
    blocks = [_Block(heading)]
    full = [i for i in items if i.level is Level.FULL]
    named = [i for i in items if i.level is Level.NAMED]
    counted = [i for i in items if i.level is Level.COUNTED]
    if full:
        group = _Group("", "\n", again)
        blocks += [_Block(i.full_text, group) for i in full]
    if named:
        fold_at = FOLD_DESTRUCTIVE_AT if section.tier == 0 else FOLD_OTHERS_AT
        if section.key == "drift":
            fold_at = 0
        more = "more " if full else ""
        if len(named) > fold_at:
            label = f"{plural(len(named), more + 'change')} {section.verb}, by name"
            opener = f"<details><summary>{label}</summary>\n\n"
            group = _Group(opener, "\n</details>\n\n", again + f"<details><summary>{label}, continued</summary>\n\n")
        else:
            group = _Group("", "\n", again)
        blocks += [_Block(i.name_text, group) for i in named]
    if counted:
        blocks.append(_Block(_counted_line(counted)))
    return blocks


def _stack_blocks(prepared: _Prepared, index: int, with_outputs: bool) -> list[_Block]:
    review = prepared.reviews[index]
    plan = review.plan
    summary = summary_line(prepared.stack_counts[index]) + ("" if plan.has_changes else " · no changes")
    inputs = "".join(f" · {md_code(name)} = {md_code(value)}" for name, value in plan.inputs.items())
    inputs = f"Inputs{inputs.replace(' · ', ': ', 1)}\n\n" if inputs else ""
    scope = scope_note(review, address=md_code)
    note = f"> [!NOTE]\n> {scope[0].upper()}{scope[1:]}.\n\n" if scope else ""
    blocks = [_Block(f"### {md_code(review.name)}\n\n{summary}\n\n{inputs}{note}")]
    for section, mine in prepared.sections[index]:
        blocks += _section_blocks(section, mine)
    outputs = [o for o in plan.outputs if o.kind is not Kind.NOOP]
    if outputs and with_outputs:
        blocks.append(_Block(_outputs_table(outputs)))
    elif outputs:
        blocks.append(_Block(f"_{plural(len(outputs), 'output')} change; not listed to fit the comment._\n\n"))
    return blocks


def _outputs_table(outputs: Sequence[Any]) -> str:
    rows = "".join(
        f"| {md_code(o.name, in_table=True)} | {md_text(ACTION_WORDS[o.kind])} | "
        f"{md_code(_clip(o.before), in_table=True)} | {md_code(_clip(o.after), in_table=True)} |\n"
        for o in outputs
    )
    return "#### Outputs\n\n| output | change | before | after |\n|---|---|---|---|\n" + rows + "\n"


def _note(items: Sequence[_Item], parts: int, full_review: str) -> str:
    total = len(items)
    full = sum(1 for i in items if i.level is Level.FULL)
    named = sum(1 for i in items if i.level is Level.NAMED)
    counted = total - full - named
    if full == total:
        return ""
    limit = f"GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment limit"
    if parts > 1:
        text = (
            f"This review is split into {parts} comments to fit {limit}. Every change that destroys, "
            f"replaces, forgets or moves something is listed by name"
        )
        text += f"; the other {counted:,} are counted by type" if counted else ""
    else:
        shown = (
            f"Showing full diffs for {full:,} of {plural(total, 'change')}"
            if full
            else f"Showing no full diffs of {plural(total, 'change')}"
        )
        rest = []
        if named:
            rest.append(f"{named:,} listed by name")
        if counted:
            rest.append(f"{counted:,} counted by type")
        text = f"{shown}; {' and '.join(rest)}, to fit {limit}"
    return f"> [!NOTE]\n> {text}. Full review: {full_review}.\n\n"


NOTE_RESERVE = 700  # room kept for the note while the layout is decided (its numbers are not known yet)


@dataclass(frozen=True)
class _Prepared:
    """What every layout of one review shares: its changes by stack and section, and its counts."""

    reviews: Sequence[StackReview]
    items: list[_Item]
    counts: dict[str, int]
    stack_counts: list[dict[str, int]]
    sections: list[list[tuple[Section, list[_Item]]]]

    @classmethod
    def of(cls, reviews: Sequence[StackReview]) -> _Prepared:
        items = _items(reviews)
        grouped: list[dict[str, list[_Item]]] = [{s.key: [] for s in SECTIONS} for _ in reviews]
        for item in items:
            grouped[item.stack][item.section].append(item)
        stack_counts = [summary_counts([r.plan]) for r in reviews]
        total = dict.fromkeys(stack_counts[0] if stack_counts else summary_counts([]), 0)
        for counts in stack_counts:
            for key, n in counts.items():
                total[key] += n
        sections = [[(s, g[s.key]) for s in SECTIONS if g[s.key]] for g in grouped]
        return cls(reviews, items, total, stack_counts, sections)


def _layout(prepared: _Prepared, *, with_outputs: bool, full_review: str, parts: int = 1) -> list[_Block]:
    reviews = prepared.reviews
    findings = [f for r in reviews for f in r.findings]
    stacks = plural(len(reviews), "stack")
    changed = sum(1 for r in reviews if r.plan.has_changes)
    head = f"**{summary_line(prepared.counts)}** · {stacks}, {changed:,} with changes\n\n"
    blocks = [_Block(head)]
    cost = _cost_markdown(reviews)  # a short table under the summary (cost_review.markdown_block)
    if cost:
        blocks.append(_Block(cost))
    blocks += _banners(prepared.counts, [f for f in findings if f.blocking], [f for f in findings if not f.blocking])
    note = _note(prepared.items, parts, full_review)
    if note:
        blocks.append(_Block(note))
    for index in range(len(reviews)):
        blocks += _stack_blocks(prepared, index, with_outputs)
    return blocks


def _title(part: int, parts: int) -> str:
    if parts == 1:
        return f"{MARKER}\n## Terraform plan review\n\n"
    extra = "" if part == 1 else f"\n<!-- qualisys-infra:plan-review part {part} of {parts} -->"
    return f"{MARKER}{extra}\n## Terraform plan review, part {part} of {parts}\n\n"


def _pack(blocks: Sequence[_Block], limit: float) -> list[str]:
    """Blocks into comment bodies of at most ``limit`` characters; a group cut by a new comment is
    closed there and reopened (with its ``again`` text) in the next."""
    cap = limit - len(_title(99_999, 99_999))
    parts: list[list[str]] = []
    current: list[str] = []
    size = 0
    group: _Group | None = None
    for block in blocks:
        text = block.text
        if block.group is group and group is not None and size + len(text) + len(group.closer) <= cap:
            current.append(text)  # the common case: the next line of a list
            size += len(text)
            continue
        switching = block.group is not group
        closing = group.closer if group is not None and switching else ""
        opening = block.group.opener if block.group is not None and switching else ""
        keep_to_close = block.group.closer if block.group is not None else ""
        need = len(closing) + len(opening) + len(text) + len(keep_to_close)
        if size + need > cap and current:
            if group is not None:
                current.append(group.closer)
            parts.append(current)
            current, size, group = [], 0, None
            closing = ""
            opening = block.group.again if block.group is not None else ""
        room = cap - size - len(closing) - len(opening) - len(keep_to_close)
        if len(text) > room:  # one block longer than a whole comment: cut, never over the limit
            text = text[: max(0, int(room) - 2)] + "…\n"
        current += [closing, opening, text]
        size += len(closing) + len(opening) + len(text)
        group = block.group
    if group is not None:
        current.append(group.closer)
    parts.append(current)
    return [_title(n, len(parts)) + "".join(p).rstrip("\n") + "\n" for n, p in enumerate(parts, 1)]


def _fixed_size(prepared: _Prepared, full_review: str) -> int:
    """The characters the layout needs with every change counted, plus room for what grows around names."""
    blocks = _layout(prepared, with_outputs=False, full_review=full_review)
    sections = sum(len(s) for s in prepared.sections)
    # a fold and a "continued" per section, and the note, whose numbers are not known yet
    reserve = 300 * sections + NOTE_RESERVE + len(_title(1, 1))
    return sum(len(b.text) + (len(b.group.opener) + len(b.group.closer) if b.group else 0) for b in blocks) + reserve


def _allocate(items: list[_Item], budget: int, used: int) -> bool:
    """Give each change a level within ``budget`` characters; False when the names that must be
    shown do not fit in one comment."""
    for item in items:
        item.level = Level.COUNTED
    must = [i for i in items if i.must]
    used += sum(len(i.name_text) for i in must)
    if used > budget:
        for item in must:
            item.level = Level.NAMED
        return False
    for item in must:
        item.level = Level.NAMED
    others = sorted((i for i in items if not i.must), key=lambda i: i.tier)
    # Destructive changes' diffs come first, but take at most half of what is left, so that the
    # other changes can still be named; what they leave over goes to the remaining diffs.
    used = _diffs(must, min(budget, used + (budget - used) // 2), used)
    for item in others:  # the names of everything else, by priority
        cost = len(item.name_text)
        if used + cost <= budget:
            item.level, used = Level.NAMED, used + cost
    used = _diffs(must, budget, used)
    _diffs(others, budget, used)
    return True


def _diffs(items: Sequence[_Item], budget: int, used: int) -> int:
    """Upgrade named items to full diffs, first fit in order, within ``budget``; the characters then used."""
    minimum = 120  # the smallest <details> block with a diff
    for item in items:
        if budget - used < minimum:
            break
        if item.level is Level.NAMED:
            extra = len(item.full_text) - len(item.name_text)
            if used + extra <= budget:
                item.level, used = Level.FULL, used + extra
    return used
    return True


def render_markdown(
    reviews: Sequence[StackReview], *, limit: int | None = BUDGET, full_review: str = FULL_REVIEW
) -> Comments:
    """The pull-request comment(s): each body at most ``limit`` characters (``None``: one body, every diff).

    Every destroy, replace, forget and move is named in the comments, whatever the plan's size.
    """
    with without_gc():
        return _render_markdown(reviews, limit=limit, full_review=full_review)


def _render_markdown(reviews: Sequence[StackReview], *, limit: int | None, full_review: str) -> Comments:
    prepared = _Prepared.of(reviews)
    items = prepared.items
    if limit is None:
        for item in items:
            item.level = Level.FULL
        blocks = _layout(prepared, with_outputs=True, full_review=full_review)
        return _comments(_pack(blocks, float("inf")), items)
    budget = limit
    must = [i for i in items if i.must]
    if sum(len(i.name_text) for i in must) < limit:  # else even the names need several comments
        for _ in range(4):
            for item in items:
                item.level = Level.COUNTED
            if not _allocate(items, budget, _fixed_size(prepared, full_review)):
                break
            with_outputs = _outputs_fit(prepared, limit)
            parts = _pack(_layout(prepared, with_outputs=with_outputs, full_review=full_review), limit)
            if len(parts) == 1:
                return _comments(parts, items)
            budget -= max(2_000, sum(len(p) for p in parts) - limit)  # an estimate was short: leave more room
    # Split: the names that must be shown fill numbered comments; the rest is counted by type.
    for item in items:
        item.level = Level.NAMED if item.must else Level.COUNTED
    guess = 2
    for _ in range(4):  # the note says how many comments there are
        parts = _pack(_layout(prepared, with_outputs=False, full_review=full_review, parts=guess), limit)
        if len(parts) == guess:
            break
        if len(str(len(parts))) == len(str(guess)):  # as many digits: the same layout but for that number
            parts[0] = parts[0].replace(_note(items, guess, full_review), _note(items, len(parts), full_review), 1)
            break
        guess = len(parts)
    return _comments(parts, items)


def _outputs_fit(prepared: _Prepared, limit: int) -> bool:
    outputs = [o for r in prepared.reviews for o in r.plan.outputs if o.kind is not Kind.NOOP]
    if not outputs:
        return False
    blocks = _layout(prepared, with_outputs=False, full_review=FULL_REVIEW)
    size = sum(len(b.text) + (len(b.group.opener) + len(b.group.closer) if b.group else 0) for b in blocks)
    return size + NOTE_RESERVE + len(_outputs_table(outputs)) + 2_000 <= limit


def _comments(parts: list[str], items: Sequence[_Item]) -> Comments:
    full = sum(1 for i in items if i.level is Level.FULL)
    named = sum(1 for i in items if i.level is Level.NAMED)
    return Comments(parts, full=full, named=named, counted=len(items) - full - named)


def render_comment(reviews: Sequence[StackReview], *, limit: int = BUDGET) -> str:
    """The review as one comment body, for the common case; raises ValueError when it needs several."""
    return render_markdown(reviews, limit=limit).single


# --- the text and JSON renderings: every change in full ----------------------------------------------------


def _resource_view(change: ResourceChange, drift: bool = False) -> dict[str, Any]:
    items = resource_diff(change)
    rows = [
        {"path": visible(i.path), "before": i.before, "after": i.after, "forces": i.forces}
        if isinstance(i, _Pair)
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
        "notes": [visible(n) for n in _notes(change, drift)],
        "attributes": rows,
        "text_lines": _text_diff_lines(change, items) if change.kind not in (Kind.DELETE, Kind.FORGET) else [],
    }


def _stack_view(review: StackReview) -> dict[str, Any]:
    plan = review.plan
    order = {s.key: n for n, s in enumerate(SECTIONS)}
    changes = sorted(listed_changes(plan), key=lambda c: order[_KIND_SECTION.get(c.kind, "move")])
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
                "before": _clip(o.before),  # values are JSON-escaped by the plan model
                "after": _clip(o.after),
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
    return _ENV.get_template("review.txt.j2").render(**_context(reviews), c=colors) + _cost_text(reviews)


def _cost_markdown(reviews: Sequence[StackReview]) -> str:
    if not any(r.cost is not None for r in reviews):
        return ""
    from qualisys_infra.plan.cost_review import markdown_block

    return markdown_block(reviews)


def _cost_text(reviews: Sequence[StackReview]) -> str:
    if not any(r.cost is not None for r in reviews):
        return ""
    from qualisys_infra.plan.cost_review import text_section

    return "\n" + text_section(reviews)


def render_json(reviews: Sequence[StackReview]) -> str:
    """Everything the review knows, for machines; sensitive values masked as in the other formats."""
    context = _context(reviews)
    return json.dumps(
        {
            "summary": context["summary"],
            "counts": context["counts"],
            "blocking": len(context["blocking"]),
            **({"cost": _cost_json(reviews)} if any(r.cost is not None for r in reviews) else {}),
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


def _cost_json(reviews: Sequence[StackReview]) -> Any:
    from qualisys_infra.plan.cost_review import json_view

    return json_view(reviews)


def stack_name(path: Path) -> str:
    """A plan file's stack name: ``plans/dev/dev-network.json`` -> ``dev-network``."""
    return path.name.removesuffix(".json").removesuffix(".plan")
