"""Cost in the plan review: monthly before, after and delta of each stack and in total, from each
plan's before and after values, the largest changes, and each environment's ``monthly_cost_limit``.

:func:`add_costs` prices every plan of a review and returns the reviews with their
:class:`StackCost` and, where a plan takes an environment's estimate over its limit, a blocking
finding (C001) naming the limit, the estimate and the largest contributors. The review renders the
cost as a short table under its summary (Markdown, within the comment budget), a section of the text
review, and ``cost`` in its JSON (``monthly_before``, ``monthly_after``, ``monthly_delta``,
``currency``, ``resources`` as ``{address, monthly_delta}``). A cost known only after apply is
``null`` there and named, never counted as zero.

The estimate of an environment in a review is the sum of its stacks' plans in that review: a review
that holds only some of its stacks says so, and its limit is judged on the stacks it holds.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from qualisys_infra.core.github_text import md_code, md_text, shown
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS
from qualisys_infra.plan.cost import ChangeCost, Totals, plan_costs, totals
from qualisys_infra.plan.cost_model import Context, money
from qualisys_infra.plan.cost_report import BUDGETS_SOURCE, assumptions, prices_json, scope_of, usage_json
from qualisys_infra.plan.findings import Finding, Severity
from qualisys_infra.plan.json_safety import without_gc
from qualisys_infra.plan.prices import ACCOUNT_SCOPE, PriceTable, UsageTable
from qualisys_infra.plan.words import plural

if TYPE_CHECKING:
    from qualisys_infra.plan.review import StackReview

RULE = "C001"
TOP_CHANGES = 5
NAMED = 5  # names of unknown or unpriced resources shown in the comment before "and N more"


@dataclass(frozen=True)
class CostContext:
    """What every stack's cost in one review shares: prices, assumptions, the day, limits and budgets."""

    prices: PriceTable
    usage: UsageTable
    today: date
    regions: Mapping[str, str]  # scope -> region
    region_sources: Mapping[str, str] = field(default_factory=dict)  # scope -> where its region was read
    limits: Mapping[str, int] = field(default_factory=dict)  # scope -> monthly_cost_limit (USD), 0: none
    budgets: tuple[int, ...] = ()
    environments: tuple[str, ...] = ()  # every environment of the project, for "all of them"
    _rendered: dict[tuple[int, ...], Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class StackCost:
    """The cost of one stack's plan: every managed resource before and after."""

    stack: str
    scope: str
    region: str
    changes: tuple[ChangeCost, ...]
    context: CostContext

    @functools.cached_property
    def totals(self) -> Totals:
        return totals(self.changes)


def region_for(scope: str, context_regions: Mapping[str, str], prices: PriceTable) -> tuple[str, str]:
    """``(region, where it came from)``: the environment's, else the price table's only region."""
    if scope in context_regions:
        return context_regions[scope], ""
    only = list(prices.regions)
    if len(only) == 1:
        return only[0], f"no environments/{scope}.tfvars: the price table's only region assumed"
    return "", f"no environments/{scope}.tfvars and several regions priced: region unknown"


def add_costs(reviews: Sequence[StackReview], context: CostContext) -> list[StackReview]:
    """Each review with its stack's cost, and budget findings on the first stack of each environment."""
    with without_gc():  # thousands of small objects and no cycle: the collector would walk the plans again
        return _add_costs(reviews, context)


def _add_costs(reviews: Sequence[StackReview], context: CostContext) -> list[StackReview]:
    costs: list[StackCost] = []
    for review in reviews:
        scope = scope_of(review.name)
        region, _ = region_for(scope, context.regions, context.prices)
        ctx = Context(scope, region, context.prices, context.usage, context.today)
        costs.append(StackCost(review.name, scope, region, plan_costs(review.plan, ctx), context))
    findings = budget_findings(costs, context)
    out: list[StackReview] = []
    for review, cost in zip(reviews, costs, strict=True):
        extra = findings.pop(review.name, ())
        out.append(dataclasses.replace(review, cost=cost, findings=(*review.findings, *extra)))
    return out


def _scopes(costs: Sequence[StackCost]) -> dict[str, list[StackCost]]:
    grouped: dict[str, list[StackCost]] = {}
    for cost in costs:
        grouped.setdefault(cost.scope, []).append(cost)
    return grouped


def _all_changes(costs: Sequence[StackCost]) -> list[ChangeCost]:
    return [c for cost in costs for c in cost.changes]


def budget_findings(costs: Sequence[StackCost], context: CostContext) -> dict[str, list[Finding]]:
    """Stack name -> the cost findings to add to it (on the first stack of each environment)."""
    found: dict[str, list[Finding]] = {}
    for scope, mine in _scopes(costs).items():
        limit = context.limits.get(scope, 0)
        if not limit or scope == ACCOUNT_SCOPE:
            continue
        changes = _all_changes(mine)
        result = totals(changes)
        where = f"environments/{scope}.tfvars monthly_cost_limit"
        part = _partial(scope, [c.stack for c in mine])
        largest = sorted((c for c in changes if c.monthly_after), key=lambda c: (-c.monthly_after, c.address))[:3]
        contributors = ", ".join(f"{shown(c.address)} {money(c.monthly_after)}" for c in largest)
        estimate = f"{money(result.after)} a month ({money(result.delta, sign=True)} by this plan{part})"
        if result.after > limit and result.delta > 0:
            message = (
                f"this plan takes the estimated cost of {scope} to {estimate}, over its limit of ${limit:,}"
                f" ({where}); largest contributors: {contributors}"
            )
            finding = Finding(RULE, Severity.HIGH, f"{scope} (monthly cost)", message, True, stack=mine[0].stack)
        elif result.after > limit:
            message = (
                f"the estimated cost of {scope} is {estimate}, already over its limit of ${limit:,} ({where}); this"
                f" plan does not raise it; largest contributors: {contributors}"
            )
            finding = Finding(RULE, Severity.WARNING, f"{scope} (monthly cost)", message, False, stack=mine[0].stack)
        elif result.unknown:
            message = (
                f"the estimated cost of {scope} is {estimate}, under its limit of ${limit:,} ({where}), but the cost"
                f" of {plural(len(result.unknown), 'resource')} is known only after apply:"
                f" {', '.join(shown(a) for a in result.unknown[:NAMED])}"
            )
            finding = Finding(RULE, Severity.WARNING, f"{scope} (monthly cost)", message, False, stack=mine[0].stack)
        else:
            continue
        found.setdefault(mine[0].stack, []).append(finding)
    return found


def _partial(scope: str, stacks: Sequence[str]) -> str:
    """What part of the environment the review's plans are, when not all of it."""
    if scope == ACCOUNT_SCOPE:
        return ""
    held = [k for k in ENVIRONMENT_STACK_KINDS if any(s.rpartition("-")[2] == k for s in stacks)]
    missing = [k for k in ENVIRONMENT_STACK_KINDS if k not in held]
    if not missing:
        return ""
    return f"; from its {', '.join(held)} plan{'s' if len(held) > 1 else ''} only, without {', '.join(missing)}"


def _costs_of(reviews: Sequence[Any]) -> list[StackCost]:
    return [r.cost for r in reviews if getattr(r, "cost", None) is not None]


# --- renderings -------------------------------------------------------------------------------------------------


def _arrow(result: Totals) -> str:
    delta = result.delta
    trend = " 📈" if delta > 0 else " 📉" if delta < 0 else ""
    more = "+" if result.unknown else ""
    return f"{money(result.before)} → {money(result.after)}{more} ({money(delta, sign=True)}{more}{trend})"


def _limits(costs: Sequence[StackCost], context: CostContext) -> list[str]:
    lines = []
    for scope, mine in _scopes(costs).items():
        limit = context.limits.get(scope, 0)
        if limit:
            after = totals(_all_changes(mine)).after
            lines.append(f"{scope}: {money(after)} of its ${limit:,} monthly_cost_limit ({after / limit:.0%})")
    return lines


def _budgets(costs: Sequence[StackCost], context: CostContext) -> str:
    """The account's budgets beside the total, when the review holds the plans of every environment."""
    scopes = {c.scope for c in costs}
    if not context.budgets or not context.environments or not set(context.environments) <= scopes:
        return ""
    after = totals(_all_changes(costs)).after
    parts = " · ".join(f"${b:,} ({after / b:.0%})" for b in context.budgets if b)
    return f"account budgets ({BUDGETS_SOURCE}) beside the total of every environment, {money(after)}: {parts}"


def _top(costs: Sequence[StackCost]) -> list[tuple[str, ChangeCost]]:
    """The changes that move the monthly cost most, with their stacks (an address repeats across stacks)."""
    moved = [(cost.stack, c) for cost in costs for c in cost.changes if c.monthly_delta]
    moved.sort(key=lambda sc: (-abs(sc[1].monthly_delta or 0.0), sc[0], sc[1].address))
    return moved[:TOP_CHANGES]


def _names(addresses: Sequence[str], code: Any) -> str:
    shown_names = ", ".join(code(a) for a in addresses[:NAMED])
    return shown_names + (f" and {len(addresses) - NAMED:,} more" if len(addresses) > NAMED else "")


def markdown_block(reviews: Sequence[Any]) -> str:
    """The short cost table under the review's summary ("" when the reviews carry no cost)."""
    costs = _costs_of(reviews)
    if not costs:
        return ""
    context = costs[0].context
    key = tuple(id(c) for c in costs)
    if key not in context._rendered:
        context._rendered[key] = _markdown(costs, context)
    text: str = context._rendered[key]
    return text


def _markdown(costs: Sequence[StackCost], context: CostContext) -> str:
    everything = totals(_all_changes(costs))
    head = f"**Monthly cost ({context.prices.currency}, on-demand):** {_arrow(everything)}\n\n"
    changed = [c for c in costs if c.totals.delta or c.totals.unknown]
    rows = "".join(
        f"| {md_code(c.stack, in_table=True)} | {money(c.totals.before)} | {money(c.totals.after)} |"
        f" {money(c.totals.delta, sign=True)}{'+' if c.totals.unknown else ''} |\n"
        for c in changed
    )
    same = len(costs) - len(changed)
    if same:
        rows += f"| _{plural(same, 'stack')} unchanged_ | | | $0.00 |\n"
    table = "| stack | before | after | change |\n|---|---:|---:|---:|\n" + rows
    more = "+" if everything.unknown else ""
    before, after, delta = money(everything.before), money(everything.after), money(everything.delta, sign=True)
    table += f"| **total** | **{before}** | **{after}{more}** | **{delta}{more}** |\n\n"
    notes = []
    top = _top(costs)
    if top:
        named = (f"{md_code(stack)} {md_code(c.address)} {money(c.monthly_delta or 0, sign=True)}" for stack, c in top)
        notes.append("Largest changes: " + " · ".join(named))
    if everything.unknown:
        notes.append(f"Known only after apply (not counted): {_names(everything.unknown, md_code)}")
    if everything.unpriced:
        notes.append(f"Not priced: {_names(everything.unpriced, md_code)}")
    notes += [md_text(line) for line in _limits(costs, context)]
    budgets = _budgets(costs, context)
    if budgets:
        notes.append(md_text(budgets))
    notes.append("_" + md_text(_made_from(costs, context, limit=4)) + "_")
    return head + table + "".join(f"{n}\n\n" for n in notes)


def _made_from(costs: Sequence[StackCost], context: CostContext, *, limit: int = 0) -> str:
    prices = context.prices
    oldest = prices.read_on()
    age = (context.today - oldest).days
    stale = prices.stale(context.today)
    text = f"prices read {oldest.isoformat()} ({age} days ago"
    text += f"; STALE: {len(stale)} older than 180 days, update the table)" if stale else ")"
    unchecked = prices.unchecked()
    if unchecked:
        text += f", {plural(len(unchecked), 'price')} not confirmed at a source"
    used = assumptions(c.after or c.before for cost in costs for c in cost.changes)
    parts = [f"{k} = {v:g} ({o})" for k, v, o, _ in used]
    if limit and len(parts) > limit:
        parts = [*parts[:limit], f"{len(parts) - limit} more in review.json"]
    text += "; usage: " + ("; ".join(parts) if parts else "none used")
    regions = sorted({(c.scope, c.region) for c in costs})
    notes = [why for scope, _ in regions for why in [region_for(scope, context.regions, prices)[1]] if why]
    text += f"; region: {', '.join(sorted({r for _, r in regions if r}))}" + (
        f" ({'; '.join(sorted(set(notes)))})" if notes else ""
    )
    return text


def text_section(reviews: Sequence[Any]) -> str:
    """The cost section of the text review ("" when the reviews carry no cost)."""
    costs = _costs_of(reviews)
    if not costs:
        return ""
    context = costs[0].context
    everything = totals(_all_changes(costs))
    out = [f"Monthly cost ({context.prices.currency}, on-demand): {_arrow(everything)}"]
    for cost in costs:
        t = cost.totals
        more = "+" if t.unknown else ""
        out.append(
            f"  {shown(cost.stack)}: {money(t.before)} -> {money(t.after)}{more} ({money(t.delta, sign=True)}{more})"
        )
    out += [
        f"  largest change: {shown(s)} {shown(c.address)} {money(c.monthly_delta or 0, sign=True)}"
        for s, c in _top(costs)
    ]
    out += [f"  known only after apply (not counted): {shown(a)}" for a in everything.unknown]
    out += [f"  not priced: {shown(a)}" for a in everything.unpriced[:50]]
    if len(everything.unpriced) > 50:
        out.append(f"  not priced: and {len(everything.unpriced) - 50:,} more (review JSON lists them all)")
    out += [f"  {line}" for line in _limits(costs, context)]
    budgets = _budgets(costs, context)
    out += [f"  {budgets}"] if budgets else []
    out.append(f"  {_made_from(costs, context)}")
    return "\n".join(out) + "\n"


def json_view(reviews: Sequence[Any]) -> dict[str, Any] | None:
    """``cost`` of the review JSON (None when the reviews carry no cost)."""
    costs = _costs_of(reviews)
    if not costs:
        return None
    context = costs[0].context
    everything = totals(_all_changes(costs))
    every_side = [side for cost in costs for c in cost.changes for side in (c.before, c.after)]
    return {
        "currency": context.prices.currency,
        "monthly_before": everything.before,
        "monthly_after": everything.after,
        "monthly_delta": everything.delta,
        "complete": not everything.unknown,
        "resources": [
            {"address": shown(c.address), "monthly_delta": c.monthly_delta, "stack": shown(cost.stack)}
            for cost in costs
            for c in cost.changes
            if c.monthly_delta != 0.0  # unchanged cost is left out; unknown (None) is kept
        ],
        "stacks": [
            {
                "name": shown(cost.stack),
                "environment": cost.scope,
                "region": cost.region,
                "monthly_before": cost.totals.before,
                "monthly_after": cost.totals.after,
                "monthly_delta": cost.totals.delta,
            }
            for cost in costs
        ],
        "unknown": [shown(a) for a in everything.unknown],
        "unpriced": [
            {"address": shown(c.address), "why": c.unpriced} for cost in costs for c in cost.changes if c.unpriced
        ],
        "limits": _limits(costs, context),
        "budgets": _budgets(costs, context) or None,
        "prices": prices_json(context.prices, context.today),
        "usage": usage_json(context.usage, every_side),
    }
