"""The plan review as pull-request comments: Markdown laid out against GitHub's comment limit.

The Markdown is laid out against a budget (GitHub's 65,536 characters per comment,
:data:`qualisys_infra.core.github_text.COMMENT_LIMIT`). What is always kept: the summary, every
guardrail finding, and every change that destroys, replaces, forgets or moves an object, by name.
Then, while room is left, in this order: the diffs of those changes, the names of the other changes
(updates, creates, imports, reads, drift; long lists folded), and their diffs. Whatever is left over
is counted per resource type, never dropped silently, and one note says how much is shown in full.
When even the names of the destructive changes do not fit in one comment, the review is split into
numbered comments ("part 1 of N", :mod:`qualisys_infra.plan.comment_parts`), rather than cut: a
destroy must never be left out of review.

Every value from a plan is escaped for the exact place it lands (:mod:`qualisys_infra.core.github_text`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from qualisys_infra.core.github_text import COMMENT_LIMIT, code_line, fence_for, html_text, md_code, md_text
from qualisys_infra.plan.comment_parts import Block, Comments, Group, pack
from qualisys_infra.plan.cost_review import markdown_block
from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.json_safety import without_gc
from qualisys_infra.plan.model import Kind, ResourceChange
from qualisys_infra.plan.review import (
    KIND_SECTION,
    NOTED_KINDS,
    SECTION_BY_KEY,
    SECTIONS,
    DiffItem,
    Pair,
    Section,
    StackReview,
    clip,
    must_name,
    resource_diff,
    review_notes,
    scope_note,
    summary_counts,
    summary_line,
)
from qualisys_infra.plan.words import ACTION_WORDS, plural

BUDGET = COMMENT_LIMIT - 1_536  # margin for a CI link or a footer the caller adds
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


# Markdown diff blocks colour by the first character (GitHub's diff grammar): ``+`` green, ``-`` red,
# ``!`` orange. Terraform's ``~`` becomes ``!`` on a changed value; a line that only opens a nested
# value keeps no colour, so the one changed value stands out.
_MD_MARK = {"+": "+", "-": "-", "~": "!", " ": " "}


def _md_diff_lines(change: ResourceChange, items: list[DiffItem]) -> list[str]:
    lines: list[str] = []
    for item in items:
        if isinstance(item, Pair):
            forces = "   # forces replacement" if item.forces else ""
            if change.kind is Kind.CREATE:
                lines.append(code_line(f"+ {item.path} = {item.after}{forces}"))
            elif change.kind in (Kind.DELETE, Kind.FORGET):
                lines.append(code_line(f"- {item.path} = {item.before}"))
            else:
                lines.append(code_line(f"- {item.path} = {item.before}"))
                lines.append(code_line(f"+ {item.path} = {item.after}{forces}"))
        else:
            for line in item:
                mark = " " if line.opens else _MD_MARK[line.marker]
                lines.append(code_line(f"{mark} {'    ' * line.depth}{line.text}"))
    return lines


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
            if plain and not change.deposed and not self.drift and change.kind not in NOTED_KINDS:
                self._name = f"- {md_code(change.address)}\n"  # no notes: the common case of a long list
            else:
                notes = review_notes(change, self.drift)
                shown = " · " + md_text(" · ".join(notes)) if notes else ""
                self._name = f"- {md_code(clip(change.label, NAME_LIMIT))}{shown}\n"
        return self._name

    @property
    def full_text(self) -> str:
        if self._full is None:
            notes = review_notes(self.change, self.drift)
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


def _items(reviews: Sequence[StackReview]) -> list[_Item]:
    items: list[_Item] = []
    tiers = {s.key: s.tier for s in SECTIONS}
    section = KIND_SECTION.get
    for index, review in enumerate(reviews):
        for change in review.plan.changes:
            key = section(change.kind, "move")
            if key == "move" and not (change.is_move or change.is_import):
                continue  # a no-op: not listed
            must = must_name(change)
            items.append(_Item(change, index, key, 0 if must else tiers[key], must))
        items.extend(_Item(c, index, "drift", SECTION_BY_KEY["drift"].tier, False) for c in review.plan.drift)
    return items


def _banners(counts: dict[str, int], blocking: list[Finding], warnings: list[Finding]) -> list[Block]:
    blocks: list[Block] = []
    if blocking:
        alert = "> [!CAUTION]\n"
        head = f"> **{plural(len(blocking), 'blocking guardrail finding')}:** `deploy` refuses "
        head += "this plan as it is.\n>\n" if len(blocking) == 1 else "these plans as they are.\n>\n"
        group = Group(alert + head, "\n", alert + "> **Blocking guardrail findings, continued:**\n>\n")
        blocks += [Block(_finding(f), group) for f in blocking]
    destroyed, replaced = counts["destroy"], counts["replace"]
    if destroyed or replaced:
        if destroyed and replaced:
            what = f"{plural(destroyed, 'resource')} will be destroyed and {replaced:,} replaced"
            where = "the Destroy and Replace sections"
        elif destroyed:
            what, where = f"{plural(destroyed, 'resource')} will be destroyed", "the Destroy section"
        else:
            what, where = f"{plural(replaced, 'resource')} will be replaced", "the Replace section"
        blocks.append(Block(f"> [!CAUTION]\n> **{what}.** Read {where} before approving.\n\n"))
    if counts["forget"]:
        leaves = "leaves" if counts["forget"] == 1 else "leave"
        blocks.append(
            Block(
                f"> [!WARNING]\n> **{plural(counts['forget'], 'resource')} {leaves} Terraform management "
                "(forget):** not destroyed, but no longer managed by Terraform.\n\n"
            )
        )
    if warnings:
        alert = "> [!WARNING]\n"
        group = Group(
            alert + f"> **{plural(len(warnings), 'guardrail warning')}:**\n>\n",
            "\n",
            alert + "> **Guardrail warnings, continued:**\n>\n",
        )
        blocks += [Block(_finding(f), group) for f in warnings]
    return blocks


def _finding(f: Finding) -> str:
    where = [md_code(f.stack)] if f.stack else []
    where.append(md_code(f.address))
    line = f"> - **{md_text(f.rule)}** · {' · '.join(where)}: {md_text(f.message)}"
    if not f.hint:
        return line + "\n"
    fence = fence_for([f.hint])
    hint = code_line(f.hint)
    return f"{line}. If that is intended, re-run with:\n>   {fence}\n>   {hint}\n>   {fence}\n"


def _counted_line(items: Sequence[_Item]) -> str:
    by_type = Counter(i.change.type for i in items)
    ordered = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = " · ".join(f"{n:,} × {md_code(t)}" for t, n in ordered)  # noqa: RUF001 - a multiplication sign
    return f"_Counted by type, not listed:_ {shown}\n\n"


def _section_blocks(section: Section, items: list[_Item]) -> list[Block]:
    heading = f"#### {section.icon} {section.title} ({len(items):,})\n\n"
    again = f"#### {section.icon} {section.title}, continued\n\n"
    blocks = [Block(heading)]
    full = [i for i in items if i.level is Level.FULL]
    named = [i for i in items if i.level is Level.NAMED]
    counted = [i for i in items if i.level is Level.COUNTED]
    if full:
        group = Group("", "\n", again)
        blocks += [Block(i.full_text, group) for i in full]
    if named:
        fold_at = FOLD_DESTRUCTIVE_AT if section.tier == 0 else FOLD_OTHERS_AT
        if section.key == "drift":
            fold_at = 0
        more = "more " if full else ""
        if len(named) > fold_at:
            label = f"{plural(len(named), more + 'change')} {section.verb}, by name"
            opener = f"<details><summary>{label}</summary>\n\n"
            group = Group(opener, "\n</details>\n\n", again + f"<details><summary>{label}, continued</summary>\n\n")
        else:
            group = Group("", "\n", again)
        blocks += [Block(i.name_text, group) for i in named]
    if counted:
        blocks.append(Block(_counted_line(counted)))
    return blocks


def _stack_blocks(prepared: _Prepared, index: int, with_outputs: bool) -> list[Block]:
    review = prepared.reviews[index]
    plan = review.plan
    summary = summary_line(prepared.stack_counts[index]) + ("" if plan.has_changes else " · no changes")
    inputs = "".join(f" · {md_code(name)} = {md_code(value)}" for name, value in plan.inputs.items())
    inputs = f"Inputs{inputs.replace(' · ', ': ', 1)}\n\n" if inputs else ""
    scope = scope_note(review, address=md_code)
    note = f"> [!NOTE]\n> {scope[0].upper()}{scope[1:]}.\n\n" if scope else ""
    blocks = [Block(f"### {md_code(review.name)}\n\n{summary}\n\n{inputs}{note}")]
    for section, mine in prepared.sections[index]:
        blocks += _section_blocks(section, mine)
    outputs = [o for o in plan.outputs if o.kind is not Kind.NOOP]
    if outputs and with_outputs:
        blocks.append(Block(_outputs_table(outputs)))
    elif outputs:
        blocks.append(Block(f"_{plural(len(outputs), 'output')} change; not listed to fit the comment._\n\n"))
    return blocks


def _outputs_table(outputs: Sequence[Any]) -> str:
    rows = "".join(
        f"| {md_code(o.name, in_table=True)} | {md_text(ACTION_WORDS[o.kind])} | "
        f"{md_code(clip(o.before), in_table=True)} | {md_code(clip(o.after), in_table=True)} |\n"
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
    limit = f"GitHub's {COMMENT_LIMIT:,}-character comment limit"
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


def _layout(prepared: _Prepared, *, with_outputs: bool, full_review: str, parts: int = 1) -> list[Block]:
    reviews = prepared.reviews
    findings = [f for r in reviews for f in r.findings]
    stacks = plural(len(reviews), "stack")
    changed = sum(1 for r in reviews if r.plan.has_changes)
    head = f"**{summary_line(prepared.counts)}** · {stacks}, {changed:,} with changes\n\n"
    blocks = [Block(head)]
    cost = _cost_markdown(reviews)  # a short table under the summary (cost_review.markdown_block)
    if cost:
        blocks.append(Block(cost))
    blocks += _banners(prepared.counts, [f for f in findings if f.blocking], [f for f in findings if not f.blocking])
    note = _note(prepared.items, parts, full_review)
    if note:
        blocks.append(Block(note))
    for index in range(len(reviews)):
        blocks += _stack_blocks(prepared, index, with_outputs)
    return blocks


def _title(part: int, parts: int) -> str:
    if parts == 1:
        return f"{MARKER}\n## Terraform plan review\n\n"
    extra = "" if part == 1 else f"\n<!-- qualisys-infra:plan-review part {part} of {parts} -->"
    return f"{MARKER}{extra}\n## Terraform plan review, part {part} of {parts}\n\n"


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
        return _comments(pack(blocks, float("inf"), _title), items)
    budget = limit
    must = [i for i in items if i.must]
    if sum(len(i.name_text) for i in must) < limit:  # else even the names need several comments
        for _ in range(4):
            for item in items:
                item.level = Level.COUNTED
            if not _allocate(items, budget, _fixed_size(prepared, full_review)):
                break
            with_outputs = _outputs_fit(prepared, limit)
            parts = pack(_layout(prepared, with_outputs=with_outputs, full_review=full_review), limit, _title)
            if len(parts) == 1:
                return _comments(parts, items)
            budget -= max(2_000, sum(len(p) for p in parts) - limit)  # an estimate was short: leave more room
    # Split: the names that must be shown fill numbered comments; the rest is counted by type.
    for item in items:
        item.level = Level.NAMED if item.must else Level.COUNTED
    guess = 2
    for _ in range(4):  # the note says how many comments there are
        parts = pack(_layout(prepared, with_outputs=False, full_review=full_review, parts=guess), limit, _title)
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


def _cost_markdown(reviews: Sequence[StackReview]) -> str:
    """A short table of monthly costs under the summary, when the review is priced."""
    return markdown_block(reviews) if any(r.cost is not None for r in reviews) else ""
