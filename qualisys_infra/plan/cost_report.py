"""The monthly estimate of environments from their synthesized configuration: by environment, stack,
resource and line, with totals, the account's budget thresholds beside the total of every
environment, and everything not priced or not known by name.

Every figure is rounded to the cent where it is made (a line), and every total is the sum of what it
totals, so the JSON's totals are exactly the sums of its lines. Every estimate says which price table
it used and how old it is (a table older than 180 days is named stale) and which usage assumptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from qualisys_infra.core.github_text import md_code, md_text, shown
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS
from qualisys_infra.plan.cost import StackEstimate, estimate_config
from qualisys_infra.plan.cost_model import Context, Line, ResourceCost, Status, cents, money
from qualisys_infra.plan.prices import ACCOUNT_SCOPE, PriceTable, UsageTable
from qualisys_infra.plan.words import plural

BUDGETS_SOURCE = "environments/account.tfvars budget_limits_usd"


def scope_of(stack: str, environments: Iterable[str] | None = None) -> str:
    """The environment a stack belongs to (``dev-network`` -> ``dev``), or ``account`` for the account,
    bootstrap and github stacks. With ``environments``, only those names count as environments."""
    env, _, kind = stack.rpartition("-")
    if env and kind in ENVIRONMENT_STACK_KINDS and (environments is None or env in environments):
        return env
    return ACCOUNT_SCOPE


@dataclass(frozen=True, slots=True)
class ScopeEstimate:
    """One environment (or the account's stacks): its region, its stacks' estimates and its limit."""

    scope: str
    region: str
    stacks: tuple[StackEstimate, ...]
    monthly_cost_limit: int = 0  # USD a month; 0: none

    @property
    def monthly(self) -> float:
        return cents(sum(s.monthly for s in self.stacks))

    def resources(self) -> list[ResourceCost]:
        return [r for s in self.stacks for r in s.resources]


@dataclass(frozen=True, slots=True)
class Report:
    """An estimate of several environments, with what it was made from."""

    scopes: tuple[ScopeEstimate, ...]
    prices: PriceTable
    usage: UsageTable
    today: date
    budgets: tuple[int, ...] = ()  # the account's budget thresholds, USD a month
    complete: bool = False  # every environment and the account's stacks: the budgets compare with the total

    @property
    def monthly(self) -> float:
        return cents(sum(s.monthly for s in self.scopes))

    def resources(self) -> list[ResourceCost]:
        return [r for s in self.scopes for r in s.resources()]


def build_report(
    stacks: Mapping[str, Mapping[str, Any]],
    *,
    regions: Mapping[str, str],
    limits: Mapping[str, int],
    prices: PriceTable,
    usage: UsageTable,
    today: date,
    budgets: Sequence[int] = (),
    complete: bool = False,
) -> Report:
    """Estimate ``stacks`` (name -> ``cdk.tf.json``), grouped by environment; ``regions`` maps each
    environment (and ``account``) to its region."""
    grouped: dict[str, list[StackEstimate]] = {}
    for name in sorted(stacks):
        scope = scope_of(name, [s for s in regions if s != ACCOUNT_SCOPE])
        ctx = Context(scope, regions[scope], prices, usage, today)
        grouped.setdefault(scope, []).append(estimate_config(name, stacks[name], ctx))
    order = [s for s in regions if s in grouped]
    scopes = tuple(ScopeEstimate(scope, regions[scope], tuple(grouped[scope]), limits.get(scope, 0)) for scope in order)
    return Report(scopes, prices, usage, today, tuple(budgets), complete)


# --- what an estimate was made from ---------------------------------------------------------------------------


def assumptions(resources: Iterable[ResourceCost | None]) -> list[tuple[str, float, str, int]]:
    """``(key, value, origin, resources)`` of every usage value the estimate used, by key."""
    used: dict[tuple[str, float, str], set[str]] = {}
    for cost in resources:
        if cost is None:
            continue
        for line in cost.lines:
            for value in line.usage:
                used.setdefault((value.key, value.value, value.origin), set()).add(cost.address)
    return [(k, v, o, len(a)) for (k, v, o), a in sorted(used.items(), key=lambda kv: (kv[0][0], kv[0][2]))]


def usage_line(usage: UsageTable, resources: Iterable[ResourceCost | None], *, limit: int = 0) -> str:
    """The assumptions in one line: files, then ``key = value (origin, N resources)``."""
    used = assumptions(resources)
    shown_values = used if not limit or len(used) <= limit else used[:limit]
    parts = [f"{key} = {value:g} ({origin}, {plural(count, 'resource')})" for key, value, origin, count in shown_values]
    if len(shown_values) < len(used):
        parts.append(f"and {len(used) - len(shown_values)} more (JSON lists them all)")
    return f"usage assumptions from {' + '.join(usage.files)}: " + ("; ".join(parts) or "none used")


def _budget_text(total: float, budgets: Sequence[int]) -> str:
    if not budgets:
        return ""
    parts = [f"${b:,} ({total / b:.0%} used)" if b else f"${b:,}" for b in budgets]
    return f"account budgets ({BUDGETS_SOURCE}): " + " · ".join(parts)


def _limit_text(scope: ScopeEstimate) -> str:
    if not scope.monthly_cost_limit:
        return ""
    share = scope.monthly / scope.monthly_cost_limit
    over = " OVER" if scope.monthly > scope.monthly_cost_limit else ""
    return f"limit ${scope.monthly_cost_limit:,} ({share:.0%}){over}"


def _line_text(line: Line) -> str:
    if line.unknown:
        return f"unknown ({line.unknown})"
    if line.unpriced:
        return f"not priced ({line.unpriced})"
    assert line.price is not None and line.quantity is not None  # noqa: S101 - a priced line has both
    return f"{line.quantity:,.6g} {line.unit} x ${line.price.price:g}"


# --- renderings -----------------------------------------------------------------------------------------------


def render_text(report: Report) -> str:
    out = [
        f"Monthly cost estimate, {report.prices.currency}, {report.today.isoformat()}",
        f"prices: {report.prices.description(report.today)}",
        f"usage assumptions from {' + '.join(report.usage.files)}:",
    ]
    used = assumptions(report.resources())
    out += [f"  {key} = {value:g}  ({origin}; {plural(n, 'resource')})" for key, value, origin, n in used]
    out += ["  none used"] if not used else []
    out.append("")
    for scope in report.scopes:
        limit = _limit_text(scope)
        out.append(
            f"{scope.scope} ({scope.region})  {money(scope.monthly)} a month" + (f"  · {limit}" if limit else "")
        )
        for stack in scope.stacks:
            out.append(f"  {stack.stack}  {money(stack.monthly)}")
            free = 0
            for cost in stack.resources:
                if cost.status is Status.FREE:
                    free += 1
                    continue
                if cost.status is Status.UNPRICED:
                    out.append(f"    {shown(cost.address)}  not priced: {cost.reason}")
                    continue
                out.append(f"    {shown(cost.address)}  {money(cost.monthly)}")
                out.extend(f"      {line.name}: {_line_text(line)}  {money(line.monthly or 0)}" for line in cost.lines)
            if free:
                out.append(f"    ({plural(free, 'more resource')} at no charge; JSON says why)")
        out.append("")
    what = "every environment and the account" if report.complete else "these environments"
    out.append(f"total, {what}: {money(report.monthly)} a month")
    if report.complete and report.budgets:
        out.append(_budget_text(report.monthly, report.budgets))
    out.extend(_missing_lines(report.resources()))
    return "\n".join(out) + "\n"


def _missing_lines(resources: Sequence[ResourceCost]) -> list[str]:
    unpriced = [r for r in resources if r.unpriced]
    unknown = [r for r in resources if r.unknown]
    out = [f"not priced: {plural(len(unpriced), 'resource')}" + (":" if unpriced else "")]
    out += [f"  {shown(r.address)}: {'; '.join(r.unpriced)}" for r in unpriced]
    out.append(f"unknown until apply: {plural(len(unknown), 'resource')}" + (":" if unknown else ""))
    out += [f"  {shown(r.address)}: {'; '.join(r.unknown)}" for r in unknown]
    return out


def _md(text: str) -> str:
    return md_text(text)


def _code(text: str) -> str:
    return md_code(text, in_table=True)


def render_markdown(report: Report) -> str:
    out = [
        "## Monthly cost estimate",
        "",
        f"_{_md(report.prices.description(report.today))}_",
        "",
        f"_{_md(usage_line(report.usage, report.resources(), limit=12))}_",
        "",
        "| environment | region | monthly | limit |",
        "|---|---|---:|---|",
    ]
    out += [
        f"| {_code(s.scope)} | {_code(s.region)} | {money(s.monthly)} | {_md(_limit_text(s)) or '—'} |"
        for s in report.scopes
    ]
    what = "every environment and the account" if report.complete else "these environments"
    out += [f"| **total, {what}** | | **{money(report.monthly)}** | |", ""]
    if report.complete and report.budgets:
        out += [_md(_budget_text(report.monthly, report.budgets)), ""]
    for scope in report.scopes:
        out += [
            f"### {_code(scope.scope)}: {money(scope.monthly)} a month",
            "",
            "| stack | resource | monthly |",
            "|---|---|---:|",
        ]
        for stack in scope.stacks:
            out.append(f"| {_code(stack.stack)} | | **{money(stack.monthly)}** |")
            priced = [r for r in stack.resources if r.status is not Status.FREE]
            out += [
                f"| | {_code(r.address)} | {money(r.monthly) if r.status is Status.PRICED else 'not priced'} |"
                for r in sorted(priced, key=lambda r: (-r.monthly, r.address))
            ]
            free = len(stack.resources) - len(priced)
            if free:
                out.append(f"| | _{plural(free, 'more resource')} at no charge_ | $0.00 |")
        out.append("")
    out += [
        _md(line) if not line.startswith("  ") else f"- {_md(line.strip())}"
        for line in _missing_lines(report.resources())
    ]
    return "\n".join(out) + "\n"


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "name": line.name,
        "quantity": line.quantity,
        "unit": line.unit,
        "price_key": line.price.key if line.price else None,
        "unit_price": line.price.price if line.price else None,
        "monthly": line.monthly,
        "usage": [{"key": u.key, "value": u.value, "origin": u.origin} for u in line.usage],
        "unknown": line.unknown or None,
        "unpriced": line.unpriced or None,
    }


def resource_json(cost: ResourceCost) -> dict[str, Any]:
    return {
        "address": shown(cost.address),
        "type": cost.type,
        "status": cost.status.value,
        "monthly": cost.monthly,
        "reason": cost.reason or None,
        "lines": [_line_json(line) for line in cost.lines],
    }


def prices_json(prices: PriceTable, today: date) -> dict[str, Any]:
    return {
        "files": list(prices.files),
        "read_on": prices.read_on().isoformat(),
        "age_days": (today - prices.read_on()).days,
        "stale": [p.key for p in prices.stale(today)],
        "unchecked": [p.key for p in prices.unchecked()],
        "description": prices.description(today),
    }


def usage_json(usage: UsageTable, resources: Iterable[ResourceCost | None]) -> dict[str, Any]:
    return {
        "files": list(usage.files),
        "hours_per_month": usage.hours_per_month,
        "used": [
            {"key": k, "value": v, "origin": o, "resources": n, "means": usage.keys.get(k, "")}
            for k, v, o, n in assumptions(resources)
        ],
    }


def render_json(report: Report) -> str:
    resources = report.resources()
    document = {
        "currency": report.prices.currency,
        "date": report.today.isoformat(),
        "prices": prices_json(report.prices, report.today),
        "usage": usage_json(report.usage, resources),
        "environments": [
            {
                "name": scope.scope,
                "region": scope.region,
                "monthly": scope.monthly,
                "monthly_cost_limit": scope.monthly_cost_limit or None,
                "stacks": [
                    {"name": s.stack, "monthly": s.monthly, "resources": [resource_json(r) for r in s.resources]}
                    for s in scope.stacks
                ],
            }
            for scope in report.scopes
        ],
        "monthly": report.monthly,
        "complete": report.complete,
        "budgets": [
            {"limit": b, "share": round(report.monthly / b, 4) if b else None, "source": BUDGETS_SOURCE}
            for b in (report.budgets if report.complete else ())
        ],
        "unpriced": [{"address": shown(r.address), "why": r.unpriced} for r in resources if r.unpriced],
        "unknown": [{"address": shown(r.address), "why": r.unknown} for r in resources if r.unknown],
    }
    return json.dumps(document, indent=2) + "\n"
