"""What a cost estimate is made of besides the configuration: the price table and the usage assumptions.

Both are JSON files in the package (``data/prices.json``, ``data/usage.json``), each value with where it
comes from: a price names the AWS page that publishes it and where and when it was read; a usage
value says what it means (``keys``) and is a default, an environment's, or an address pattern's.
``--prices FILE`` and ``--usage FILE`` take files of the same shape, whose values replace the
built-in ones key by key. Reading either is strict: anything else is one line naming the file, the
JSON path, the value received and what is allowed (exit 2).
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import loads_json, read_json

STALE_AFTER_DAYS = 180  # a price read longer ago than this is named in every estimate
BUILT_IN_PRICES = "qualisys_infra/plan/data/prices.json"
BUILT_IN_USAGE = "qualisys_infra/plan/data/usage.json"
ACCOUNT_SCOPE = "account"  # the usage file's name for the account, github and bootstrap stacks
_DATA = "data"


def _built_in(name: str) -> tuple[Any, str]:
    text = resources.files("qualisys_infra.plan").joinpath(_DATA, name).read_text(encoding="utf-8")
    shown = f"qualisys_infra/plan/{_DATA}/{name}"
    return loads_json(text, shown), shown


def _where(shown: str, path: tuple[str, ...]) -> str:
    steps = "".join(f".{p}" if p.replace("_", "").replace("-", "").isalnum() else f"[{json.dumps(p)}]" for p in path)
    return f"{shown}: {steps.lstrip('.') or '(top level)'}"


def _fail(shown: str, path: tuple[str, ...], message: str) -> UsageError:
    return UsageError(f"{_where(shown, path)}: {message}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value[:60])
    return "an object" if isinstance(value, dict) else "an array"


def _object(value: Any, shown: str, path: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(shown, path, f"expected an object, got {_kind(value)}")
    return value


def _number(value: Any, shown: str, path: tuple[str, ...], *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise _fail(shown, path, f"expected a number >= {low:g}, got {_kind(value)}")
    return float(value)


def _text(value: Any, shown: str, path: tuple[str, ...], *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _fail(shown, path, f"expected {'a string' if empty else 'a non-empty string'}, got {_kind(value)}")
    return value


# --- prices ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """One price: ``price`` USD per ``unit``, with where it is published and where and when it was read."""

    key: str
    price: float
    unit: str
    source: str
    read_on: date
    seen_in: str = ""
    quote: str = ""
    quote_factor: float = 1.0
    checked: bool = True
    note: str = ""
    origin: str = BUILT_IN_PRICES  # the file the entry came from


_PRICE_KEYS = frozenset(
    ("price", "unit", "source", "read_on", "seen_in", "quote", "quote_factor", "checked", "note", "origin")
)


def _price(key: str, raw: Any, shown: str, path: tuple[str, ...]) -> Price:
    entry = _object(raw, shown, path)
    unknown = sorted(set(entry) - _PRICE_KEYS)
    if unknown:
        raise _fail(shown, (*path, unknown[0]), f"unknown key, expected one of: {', '.join(sorted(_PRICE_KEYS))}")
    for required in ("price", "unit", "source", "read_on"):
        if required not in entry:
            raise _fail(shown, (*path, required), "missing")
    read_on = _text(entry["read_on"], shown, (*path, "read_on"))
    try:
        day = date.fromisoformat(read_on)
    except ValueError:
        raise _fail(shown, (*path, "read_on"), f"expected a date YYYY-MM-DD, got {_kind(read_on)}") from None
    checked = entry.get("checked", True)
    if not isinstance(checked, bool):
        raise _fail(shown, (*path, "checked"), f"expected true or false, got {_kind(checked)}")
    return Price(
        key=key,
        price=_number(entry["price"], shown, (*path, "price")),
        unit=_text(entry["unit"], shown, (*path, "unit"), empty=False),
        source=_text(entry["source"], shown, (*path, "source"), empty=False),
        read_on=day,
        seen_in=_text(entry.get("seen_in", ""), shown, (*path, "seen_in")),
        quote=_text(entry.get("quote", ""), shown, (*path, "quote")),
        quote_factor=_number(entry.get("quote_factor", 1), shown, (*path, "quote_factor")),
        checked=checked,
        note=_text(entry.get("note", ""), shown, (*path, "note")),
        origin=shown,
    )


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices by region and key, and the files they were read from."""

    currency: str
    regions: Mapping[str, Mapping[str, Price]]
    files: tuple[str, ...]

    def get(self, region: str, key: str) -> Price | None:
        return self.regions.get(region, {}).get(key)

    def entries(self) -> list[Price]:
        return [p for region in self.regions.values() for p in region.values()]

    def stale(self, today: date) -> list[Price]:
        """The prices read more than :data:`STALE_AFTER_DAYS` days before ``today``."""
        return [p for p in self.entries() if (today - p.read_on).days > STALE_AFTER_DAYS]

    def unchecked(self) -> list[Price]:
        return [p for p in self.entries() if not p.checked]

    def read_on(self) -> date:
        """The oldest reading in the table: how old the table is."""
        return min((p.read_on for p in self.entries()), default=date.min)

    def description(self, today: date) -> str:
        """One line every estimate carries: which table, how old, whether stale, what is unchecked."""
        oldest = self.read_on()
        age = (today - oldest).days
        files = " + ".join(self.files)
        text = f"{self.currency} on-demand prices from {files}, read {oldest.isoformat()} ({age} days ago)"
        stale = self.stale(today)
        if stale:
            text += (
                f"; STALE: {len(stale)} of {len(self.entries())} prices were read more than {STALE_AFTER_DAYS} days"
                " ago: check them at their sources and update the table"
            )
        unchecked = self.unchecked()
        if unchecked:
            text += f"; not confirmed at a source on the day read: {', '.join(p.key for p in unchecked)}"
        return text


def _price_regions(document: Any, shown: str) -> tuple[str, dict[str, dict[str, Price]]]:
    top = _object(document, shown, ())
    unknown = sorted(set(top) - {"about", "currency", "regions"})
    if unknown:
        raise _fail(shown, (unknown[0],), "unknown key, expected one of: about, currency, regions")
    currency = _text(top.get("currency", "USD"), shown, ("currency",), empty=False)
    if currency != "USD":
        raise _fail(shown, ("currency",), f'got {_kind(currency)}, expected "USD" (the only currency priced)')
    regions: dict[str, dict[str, Price]] = {}
    for region, entries in _object(top.get("regions", {}), shown, ("regions",)).items():
        regions[region] = {
            key: _price(key, raw, shown, ("regions", region, key))
            for key, raw in _object(entries, shown, ("regions", region)).items()
        }
    return currency, regions


def load_prices(path: Path | None = None) -> PriceTable:
    """The built-in price table, with the entries of ``path`` (same shape) replacing its own key by key."""
    document, shown = _built_in("prices.json")
    currency, regions = _price_regions(document, shown)
    files = [shown]
    if path is not None:
        extra_shown = str(path)
        _, extra = _price_regions(read_json(path, extra_shown), extra_shown)
        for region, entries in extra.items():
            regions.setdefault(region, {}).update(entries)
        files.append(extra_shown)
    return PriceTable(currency=currency, regions=regions, files=tuple(files))


# --- usage ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageValue:
    """A usage value as an estimate used it: the key, the value, and where it came from."""

    key: str
    value: float
    origin: str  # "default", "production: default", "address aws_x.y*", ...


@dataclass(frozen=True, slots=True)
class _Section:
    defaults: Mapping[str, Mapping[str, float]]
    addresses: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class UsageTable:
    """The usage assumptions: defaults per resource kind, address patterns, and per-environment overrides."""

    hours_per_month: float
    keys: Mapping[str, str]
    base: _Section
    environments: Mapping[str, _Section]
    files: tuple[str, ...]
    _cache: dict[tuple[str, str, str, str], UsageValue | None] = field(default_factory=dict, compare=False)

    def lookup(self, scope: str, kind: str, address: str, key: str) -> UsageValue | None:
        """The value of ``key`` for a resource of ``kind`` at ``address`` in ``scope`` (an environment or
        ``account``): the default, then the environment's default, then matching address patterns (the
        environment's last), each over the one before; ``None`` when nothing sets it."""
        slot = (scope, kind, address, key)
        if slot in self._cache:
            return self._cache[slot]
        found: UsageValue | None = None
        layers: list[tuple[_Section, str]] = [(self.base, "")]
        if scope in self.environments:
            layers.append((self.environments[scope], f"{scope}: "))
        for section, prefix in layers:
            value = section.defaults.get(kind, {}).get(key)
            if value is not None:
                found = UsageValue(key, value, f"{prefix}default")
        for section, prefix in layers:
            for pattern, values in section.addresses.items():
                # a pattern that names a type (the text before its first dot, without wildcards) names only it
                head = pattern.split(".", 1)[0]
                if head != kind and not any(c in head for c in "*?[") and not address.startswith(head):
                    continue
                if key in values and fnmatch.fnmatchcase(address, pattern):
                    found = UsageValue(key, values[key], f"{prefix}{pattern}")
        self._cache[(scope, kind, address, key)] = found
        return found


def _usage_values(raw: Any, shown: str, path: tuple[str, ...], keys: Mapping[str, str]) -> dict[str, float]:
    values = {}
    for key, value in _object(raw, shown, path).items():
        if key not in keys:
            raise _fail(shown, (*path, key), f"unknown usage key, expected one of: {', '.join(sorted(keys))}")
        values[key] = _number(value, shown, (*path, key))
    return values


def _section(raw: Any, shown: str, path: tuple[str, ...], keys: Mapping[str, str]) -> _Section:
    body = _object(raw, shown, path)
    unknown = sorted(set(body) - {"defaults", "addresses"})
    if unknown:
        raise _fail(shown, (*path, unknown[0]), "unknown key, expected defaults or addresses")
    defaults = {
        kind: _usage_values(values, shown, (*path, "defaults", kind), keys)
        for kind, values in _object(body.get("defaults", {}), shown, (*path, "defaults")).items()
    }
    addresses = {
        pattern: _usage_values(values, shown, (*path, "addresses", pattern), keys)
        for pattern, values in _object(body.get("addresses", {}), shown, (*path, "addresses")).items()
    }
    return _Section(defaults, addresses)


def _merge(low: _Section, high: _Section) -> _Section:
    defaults = {kind: dict(values) for kind, values in low.defaults.items()}
    for kind, values in high.defaults.items():
        defaults.setdefault(kind, {}).update(values)
    addresses = {pattern: dict(values) for pattern, values in low.addresses.items()}
    for pattern, values in high.addresses.items():
        addresses.setdefault(pattern, {}).update(values)
    return _Section(defaults, addresses)


def _usage_document(
    document: Any, shown: str, keys: Mapping[str, str]
) -> tuple[float | None, _Section, dict[str, _Section]]:
    top = _object(document, shown, ())
    allowed = {"about", "hours_per_month", "keys", "defaults", "addresses", "environments"}
    unknown = sorted(set(top) - allowed)
    if unknown:
        raise _fail(shown, (unknown[0],), f"unknown key, expected one of: {', '.join(sorted(allowed))}")
    hours = None
    if "hours_per_month" in top:
        hours = _number(top["hours_per_month"], shown, ("hours_per_month",), low=1)
        if hours > 744:
            raise _fail(shown, ("hours_per_month",), f"got {hours:g}, expected at most 744 (31 days)")
    base = _section({k: top[k] for k in ("defaults", "addresses") if k in top}, shown, (), keys)
    environments = {
        scope: _section(body, shown, ("environments", scope), keys)
        for scope, body in _object(top.get("environments", {}), shown, ("environments",)).items()
    }
    return hours, base, environments


def load_usage(path: Path | None = None) -> UsageTable:
    """The built-in usage assumptions, with the values of ``path`` (same shape) replacing them key by key."""
    document, shown = _built_in("usage.json")
    raw_keys = _object(_object(document, shown, ()).get("keys", {}), shown, ("keys",))
    keys = {k: _text(v, shown, ("keys", k), empty=False) for k, v in raw_keys.items()}
    hours, base, environments = _usage_document(document, shown, keys)
    files = [shown]
    if path is not None:
        extra_shown = str(path)
        extra = read_json(path, extra_shown)
        if isinstance(extra, dict) and "keys" in extra:
            raise _fail(extra_shown, ("keys",), "the meaning of each key is the toolkit's; leave `keys` out")
        extra_hours, extra_base, extra_envs = _usage_document(extra, extra_shown, keys)
        hours = extra_hours if extra_hours is not None else hours
        base = _merge(base, extra_base)
        for scope, section in extra_envs.items():
            environments[scope] = _merge(environments.get(scope, _Section({}, {})), section)
        files.append(extra_shown)
    return UsageTable(
        hours_per_month=hours if hours is not None else 730.0,
        keys=keys,
        base=base,
        environments=environments,
        files=tuple(files),
    )
