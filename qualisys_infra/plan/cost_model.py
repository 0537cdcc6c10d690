"""The cost model: a resource's values as the pricers read them (:class:`Values`, with :data:`UNKNOWN`
for what is known only after apply), its cost lines and where it ends (:class:`Status`: priced, free,
not priced), and the price and usage tables a pricing runs against (:class:`Context`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from qualisys_infra.plan.prices import Price, PriceTable, UsageTable, UsageValue

GIB = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")


GIB_FACTOR: dict[str | None, float] = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 1024.0}


GIB_FACTOR |= {"K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30, None: 2**-30}


INTERPOLATION = "${"


class Status(StrEnum):
    PRICED = "priced"
    FREE = "free"
    UNPRICED = "unpriced"


class _Unknown:
    """A value Terraform knows only after apply (or an interpolation in the configuration)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def money(amount: float, *, sign: bool = False) -> str:
    """``$1,234.56``; with ``sign``, ``+$1.00``/``-$1.00``/``$0.00``."""
    rounded = round(amount, 2)
    if rounded == 0:
        return "$0.00"
    text = f"${abs(rounded):,.2f}"
    if sign:
        return ("+" if rounded > 0 else "-") + text
    return "-" + text if rounded < 0 else text


def cents(amount: float) -> float:
    """An amount rounded to the cent, as every line, subtotal and total is: totals are sums of lines."""
    return round(amount + 0.0, 2) + 0.0


class Values:
    """One side of one resource: its attribute values, what of them is unknown, and whether they are
    configuration (where ``${...}`` is a reference, known only after apply) or plan values."""

    __slots__ = ("config", "unknown", "values")

    def __init__(self, values: Any, unknown: Any = None, *, config: bool = False) -> None:
        self.values = values if isinstance(values, dict) else {}
        self.unknown = unknown if unknown is not None else {}
        self.config = config

    def get(self, *path: str | int) -> Any:
        """The value at ``path`` (a block given as one object or as a list of one is the same), ``None``
        when absent, :data:`UNKNOWN` when not known."""
        value: Any = self.values
        mask: Any = self.unknown
        for step in path:
            if mask is True:
                return UNKNOWN
            if isinstance(step, str) and isinstance(value, list):
                value = value[0] if value else None
                mask = mask[0] if isinstance(mask, list) and mask else mask if mask is True else False
            if isinstance(step, str):
                value = value.get(step) if isinstance(value, dict) else None
                mask = mask.get(step, False) if isinstance(mask, dict) else mask is True
            else:
                value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
                mask = mask[step] if isinstance(mask, list) and -len(mask) <= step < len(mask) else mask is True
        if mask is True:
            return UNKNOWN
        if self.config and isinstance(value, str) and INTERPOLATION in value:
            return UNKNOWN
        return value

    def raw(self, *path: str | int) -> Any:
        """The value at ``path`` as written, interpolations included (UNKNOWN only for a plan's unknown mask)."""
        config, self.config = self.config, False
        try:
            return self.get(*path)
        finally:
            self.config = config

    def text(self, *path: str | int) -> Any:
        value = self.get(*path)
        return value if value is UNKNOWN or value is None or isinstance(value, str) else str(value)

    def number(self, *path: str | int) -> Any:
        """A number (``"50"`` in configuration is 50), ``None`` when absent or not a number, or UNKNOWN."""
        value = self.get(*path)
        if value is UNKNOWN or value is None or isinstance(value, bool):
            return value if value is UNKNOWN else None
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            return None

    def flag(self, *path: str | int) -> Any:
        """A boolean (``"true"`` in configuration is true), ``None`` when absent, or UNKNOWN."""
        value = self.get(*path)
        if isinstance(value, str):
            return {"true": True, "false": False}.get(value.lower())
        return value if value is UNKNOWN or isinstance(value, bool) else None

    def items(self, *path: str) -> Any:
        """A list of blocks at ``path`` (one block given as an object is a list of one), or UNKNOWN."""
        value = self.get(*path)
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict):
            return [value]
        return value if isinstance(value, list) else []


@dataclass(slots=True)  # not frozen: made tens of thousands of times in a large plan, never changed after
class Line:
    """One cost line of one resource: ``quantity`` ``unit`` a month at ``price``."""

    name: str
    unit: str
    quantity: float | None  # None: not known until apply
    price: Price | None  # None: no price in the table (see ``unpriced``) or not needed (unknown)
    monthly: float | None  # cents; None when unknown or not priced
    usage: tuple[UsageValue, ...] = ()
    unknown: str = ""  # why the quantity or size is not known
    unpriced: str = ""  # why there is no price


@dataclass(frozen=True, slots=True)
class ResourceCost:
    """The cost lines of one resource, or why it has none."""

    address: str
    type: str
    status: Status
    lines: tuple[Line, ...] = ()
    reason: str = ""  # why it is free or not priced

    @property
    def monthly(self) -> float:
        """The known part, in cents."""
        return cents(sum(line.monthly for line in self.lines if line.monthly is not None))

    @property
    def unknown(self) -> list[str]:
        return [f"{line.name}: {line.unknown}" for line in self.lines if line.unknown]

    @property
    def unpriced(self) -> list[str]:
        if self.status is Status.UNPRICED:
            return [self.reason]
        return [f"{line.name}: {line.unpriced}" for line in self.lines if line.unpriced]


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a price needs besides the resource: where, when, which prices and assumptions."""

    scope: str  # the environment, or "account"
    region: str
    prices: PriceTable
    usage: UsageTable
    today: date


class Resource:
    """One resource being priced: its values, its siblings (same stack, same side) and line builders."""

    __slots__ = ("address", "ctx", "lines", "siblings", "type", "values")

    def __init__(self, address: str, type_: str, values: Values, siblings: Mapping[str, Values], ctx: Context):
        self.address, self.type, self.values, self.siblings, self.ctx = address, type_, values, siblings, ctx
        self.lines: list[Line] = []

    @property
    def hours(self) -> UsageValue:
        usage = self.ctx.usage
        origin = "default" if len(usage.files) == 1 else "usage files"
        return UsageValue("hours_per_month", usage.hours_per_month, origin)

    def usage(self, key: str, kind: str | None = None, address: str | None = None) -> UsageValue | None:
        return self.ctx.usage.lookup(self.ctx.scope, kind or self.type, address or self.address, key)

    def add(
        self,
        name: str,
        unit: str,
        key: Any,
        quantity: Any,
        usage: Sequence[UsageValue | None] = (),
        *,
        unknown: str = "",
    ) -> None:
        """A line of ``quantity`` ``unit`` at the price of ``key`` (UNKNOWN key or quantity: an unknown line)."""
        used = tuple(u for u in usage if u is not None) if usage else ()
        if key is UNKNOWN or quantity is UNKNOWN:
            why = unknown or "known after apply"
            self.lines.append(Line(name, unit, None, None, None, used, unknown=why))
            return
        price = self.ctx.prices.get(self.ctx.region, key)
        if price is None:
            why = f"no price for {key} in {self.ctx.region}"
            self.lines.append(Line(name, unit, float(quantity), None, None, used, unpriced=why))
            return
        self.lines.append(Line(name, unit, float(quantity), price, cents(quantity * price.price), used))

    def hourly(self, name: str, key: Any, count: Any = 1.0, usage: Sequence[UsageValue | None] = ()) -> None:
        hours = self.hours
        quantity = UNKNOWN if count is UNKNOWN else count * hours.value
        self.add(name, "hours", key, quantity, (hours, *usage))

    def from_usage(
        self, name: str, unit: str, key: str, usage_key: str, per: float = 1.0, kind: str | None = None
    ) -> None:
        """A line whose quantity is a usage value (divided by ``per``: 10k requests, 1M requests)."""
        value = self.usage(usage_key, kind)
        if value is None:
            self.lines.append(Line(name, unit, None, None, None, unknown=f"no usage value {usage_key}"))
            return
        self.add(name, unit, key, value.value / per, (value,))


Pricer = Callable[[Resource], None]


def present(value: Any) -> bool:
    return value is not None and value is not UNKNOWN
