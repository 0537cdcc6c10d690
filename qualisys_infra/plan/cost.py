"""Monthly cost of Terraform resources, from a synthesized configuration or from a plan's before/after values.

Each resource type maps to cost lines (Infracost calls them cost components): a name, a monthly
quantity in a unit, and a price from the price table (:mod:`qualisys_infra.plan.prices`), e.g. a NAT
gateway is "NAT gateway" (hours) and "Data processed" (GB, from the usage assumptions). Every
resource ends in exactly one of three places, never silently dropped:

- priced: its lines, each with its quantity, unit price and monthly amount;
- free: no charge of its own, with why (IAM, security groups, a Kubernetes object on priced nodes, ...);
- not priced: a type this module has no model for, or a size the table has no price for, by name.

A line whose quantity or size is not known (a value known only after apply, an interpolation in the
configuration) is *unknown*: counted apart, never as zero. Resources the stacks create indirectly
are priced where Terraform declares them: the ALB of an ``alb`` Ingress (a Kubernetes object or a
chart's values), the EBS volume of a PersistentVolumeClaim, a node group's root volumes (its
launch template).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qualisys_infra.plan.cost_model import Context, ResourceCost, Status, Values, cents
from qualisys_infra.plan.cost_pricers import PRICERS, free_reason, price_resource
from qualisys_infra.plan.model import Kind, Plan, ResourceChange


@dataclass(frozen=True, slots=True)
class StackEstimate:
    """The monthly cost of one synthesized stack, resource by resource."""

    stack: str
    scope: str
    region: str
    resources: tuple[ResourceCost, ...]

    @property
    def monthly(self) -> float:
        return cents(sum(r.monthly for r in self.resources))


def config_resources(body: Mapping[str, Any]) -> Iterator[tuple[str, str, Values]]:
    """``(address, type, values)`` of every managed resource of a ``cdk.tf.json``; ``count`` and
    ``for_each`` given as literals are expanded, anything else is one resource of unknown count."""
    resources = body.get("resource")
    for type_, entries in resources.items() if isinstance(resources, dict) else ():
        for name, raw in entries.items() if isinstance(entries, dict) else ():
            if not isinstance(raw, dict):
                continue
            raw = {k: v for k, v in raw.items() if k != "//"}
            count, each = raw.get("count"), raw.get("for_each")
            address = f"{type_}.{name}"
            if isinstance(count, int) and not isinstance(count, bool):
                for i in range(count):
                    yield f"{address}[{i}]", type_, Values(raw, config=True)
            elif isinstance(each, (dict, list)) and not isinstance(each, str):
                for key in each:
                    yield f'{address}["{key}"]', type_, Values(raw, config=True)
            elif count is not None or each is not None:
                yield address, type_, Values(raw, True, config=True)  # how many: known after apply
            else:
                yield address, type_, Values(raw, config=True)


def estimate_config(stack: str, body: Mapping[str, Any], ctx: Context) -> StackEstimate:
    """Every resource of one stack's synthesized configuration, priced."""
    found = list(config_resources(body))
    siblings = {address: values for address, _, values in found}
    costs = tuple(price_resource(address, type_, values, siblings, ctx) for address, type_, values in found)
    return StackEstimate(stack, ctx.scope, ctx.region, costs)


class ChangeCost:
    """One resource change of a plan: its monthly cost before and after (None: it does not exist then).

    Everything is worked out once, when it is made: a review of 10,000 changes reads each many times.
    """

    __slots__ = (
        "address",
        "after",
        "before",
        "monthly_after",
        "monthly_before",
        "monthly_delta",
        "type",
        "unknown",
        "unpriced",
    )

    def __init__(self, address: str, type_: str, before: ResourceCost | None, after: ResourceCost | None) -> None:
        self.address, self.type, self.before, self.after = address, type_, before, after
        self.monthly_before = before.monthly if before is not None and before.lines else 0.0
        self.monthly_after = after.monthly if after is not None and after.lines else 0.0
        # what the cost after depends on that is known only after apply
        self.unknown: list[str] = after.unknown if after is not None and after.lines else []
        if before is after or before is None:
            self.unpriced: list[str] = after.unpriced if after is not None else []
        else:
            self.unpriced = list(dict.fromkeys([*before.unpriced, *(after.unpriced if after is not None else [])]))
        # the change of the known cost; None when the cost after is not known until apply
        self.monthly_delta: float | None = None if self.unknown else cents(self.monthly_after - self.monthly_before)

    def __repr__(self) -> str:
        return f"ChangeCost({self.address!r}, {self.monthly_before} -> {self.monthly_after})"

    @classmethod
    def unchanged(cls, address: str, resource: ResourceCost, before: bool, after: bool) -> ChangeCost:
        """A change of a type without a price model: free or not priced whatever its values, made in one step
        (``resource`` is shared by every change of its type; it carries no lines)."""
        made = object.__new__(cls)
        made.address, made.type = address, resource.type
        made.before, made.after = (resource if before else None), (resource if after else None)
        made.monthly_before = made.monthly_after = 0.0
        made.monthly_delta = 0.0
        made.unknown = _NONE
        made.unpriced = _STATIC_UNPRICED.get(resource.type, _NONE)
        return made


_NONE: list[str] = []  # shared by every change that has none; never changed


_STATIC_UNPRICED: dict[str, list[str]] = {}  # type -> [why it is not priced], shared the same way


_NO_AFTER = frozenset({Kind.DELETE, Kind.READ})


# Types whose pricing reads other resources of the same plan (a node group its launch template).
SIBLING_TYPES = frozenset({"aws_launch_template"})


_STATIC: dict[str, ResourceCost] = {}


def _static(type_: str) -> ResourceCost:
    """How a type with no price model is counted, whatever its values: free with why, or not priced."""
    if type_ not in _STATIC:
        reason = free_reason(type_)
        status = Status.FREE
        if reason is None:
            reason, status = f"no price model for {type_}", Status.UNPRICED
            _STATIC_UNPRICED[type_] = [reason]
        _STATIC[type_] = ResourceCost(f"(every {type_})", type_, status, reason=reason)
    return _STATIC[type_]


def plan_costs(plan: Plan, ctx: Context) -> tuple[ChangeCost, ...]:
    """The cost of every managed resource of ``plan`` before and after it is applied.

    A resource the plan creates costs nothing before, one it destroys nothing after; one it forgets
    keeps costing what it did (it still exists, outside Terraform). A deposed object is its own entry.
    """
    changes = [c for c in plan.changes if c.mode == "managed"]
    before_side: dict[str, Values] = {}
    after_side: dict[str, Values] = {}
    for change in changes:
        if change.type in SIBLING_TYPES and not change.deposed:
            if change.before is not None:
                before_side[change.address] = Values(change.before)
            if change.after is not None:
                after_side[change.address] = Values(change.after, change.after_unknown)
    return tuple(_change_cost(change, before_side, after_side, ctx) for change in changes)


def _change_cost(
    change: ResourceChange, before_side: Mapping[str, Values], after_side: Mapping[str, Values], ctx: Context
) -> ChangeCost:
    label = change.label
    kind = change.kind
    exists_before = change.before is not None and kind is not Kind.CREATE
    exists_after = (kind is Kind.FORGET and exists_before) or (change.after is not None and kind not in _NO_AFTER)
    if change.type not in PRICERS:  # the same whatever the values
        return ChangeCost.unchanged(label, _static(change.type), exists_before, exists_after)
    before = after = None
    if exists_before:
        before = price_resource(label, change.type, Values(change.before), before_side, ctx)
    if kind is Kind.FORGET:
        after = before
    elif exists_after:
        after = price_resource(label, change.type, Values(change.after, change.after_unknown), after_side, ctx)
    return ChangeCost(label, change.type, before, after)


def usage_used(costs: Iterable[ResourceCost | None]) -> dict[tuple[str, float, str], int]:
    """``(key, value, origin) -> resources`` over every line of ``costs``: the assumptions an estimate used."""
    used: dict[tuple[str, float, str], set[str]] = {}
    for cost in costs:
        if cost is None:
            continue
        for line in cost.lines:
            for value in line.usage:
                used.setdefault((value.key, value.value, value.origin), set()).add(cost.address)
    return {k: len(v) for k, v in sorted(used.items())}


def matches(address: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(address, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class Totals:
    """Monthly totals of a set of changes (known parts) and what is unknown or not priced in them."""

    before: float
    after: float
    unknown: tuple[str, ...] = ()
    unpriced: tuple[str, ...] = ()

    @property
    def delta(self) -> float:
        return cents(self.after - self.before)


def totals(costs: Sequence[ChangeCost]) -> Totals:
    before = cents(sum(c.monthly_before for c in costs))
    after = cents(sum(c.monthly_after for c in costs))
    unknown = tuple(c.address for c in costs if c.unknown)
    unpriced = tuple(c.address for c in costs if c.unpriced)
    return Totals(before, after, unknown, unpriced)
