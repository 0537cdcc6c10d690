"""Planned values as the guardrails read them: a value inside ``change.after`` with its unknown mask and
its place in the file (:class:`Value`), and the small readers every rule shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qualisys_infra.plan.json_safety import Location
from qualisys_infra.plan.masking import mask_at
from qualisys_infra.plan.model import Kind, ResourceChange


@dataclass(frozen=True, slots=True)
class Value:
    """A planned value inside ``change.after``, with its unknown mask and its place in the file.

    Reading a container of the wrong JSON type is bad input (a one-line :class:`PlanError` naming the
    JSON path), never "nothing to check"; a value only known after apply reads as ``None``/empty.
    The place is kept as a parent link and a key, and written out only for an error.
    """

    value: Any
    unknown: Any
    parent: Value | ResourceChange  # the change itself for its whole ``after`` value
    key: str | int = ""

    @classmethod
    def after(cls, change: ResourceChange) -> Value:
        return cls(change.after, change.after_unknown, change)

    @property
    def at(self) -> Location:
        if isinstance(self.parent, ResourceChange):
            return self.parent.location / "change" / "after"
        return self.parent.at / self.key

    def __getitem__(self, key: str | int) -> Value:
        if isinstance(key, str):
            value = self.value.get(key) if isinstance(self.value, dict) else None
        else:
            value = self.value[key] if isinstance(self.value, list) and key < len(self.value) else None
        return Value(value, mask_at(self.unknown, key), self, key)

    @property
    def is_unknown(self) -> bool:
        return self.unknown is True

    def scalar(self, *kinds: type) -> Any:
        """The value when known and not null; of one of ``kinds`` (a bool is not a number)."""
        if self.is_unknown or self.value is None:
            return None
        if not isinstance(self.value, kinds) or (isinstance(self.value, bool) and bool not in kinds):
            raise self.at.wrong(self.value, *kinds)
        return self.value

    def items(self) -> list[Value]:
        """The elements of a list (or of a single nested block written as an object)."""
        if self.is_unknown or self.value is None:
            return []
        if isinstance(self.value, dict):
            return [self]
        if not isinstance(self.value, list):
            raise self.at.wrong(self.value, list)
        return [self[i] for i in range(len(self.value))]

    def strings(self) -> list[str]:
        """The known strings of a list of strings."""
        return [s for item in self.items() if (s := item.scalar(str)) is not None]


def after_value(change: ResourceChange, key: str) -> Any:
    """The planned value of ``key``; ``None`` when absent or only known after apply."""
    value = change.after.get(key) if isinstance(change.after, dict) else None
    if value is None or mask_at(change.after_unknown, key) is True:
        return None
    return value


def before_value(change: ResourceChange, key: str) -> Any:
    return change.before.get(key) if isinstance(change.before, dict) else None


WRITING = frozenset({Kind.CREATE, Kind.UPDATE, Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET})


def writes(change: ResourceChange) -> bool:
    return change.kind in WRITING


INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]')


def planned_keys(change: ResourceChange) -> dict[str, Any]:
    """``change.after`` when it is an object (an absent key reads as null, as through :class:`Value`)."""
    return change.after if isinstance(change.after, dict) else {}


def known_name(change: ResourceChange) -> str | None:
    value = Value.after(change)["name"]
    return None if value.is_unknown else value.scalar(str)


def before_values(change: ResourceChange, key: str) -> list[Any]:
    """``key`` of the object before the change, as a list (empty when there was none)."""
    value = change.before.get(key) if isinstance(change.before, dict) else None
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def status_of(state: Any) -> str:
    """``versioning_configuration.status`` of an ``aws_s3_bucket_versioning`` value, lower case."""
    found = state.get("versioning_configuration") if isinstance(state, dict) else None
    block = found[0] if isinstance(found, list) and found else found
    status = block.get("status") if isinstance(block, dict) else None
    return status.strip().lower() if isinstance(status, str) else ""


def set_text(value: Value) -> str | None:
    """A string setting, or a marker when it is set from a value known only after apply (set, not known)."""
    return "(known after apply)" if value.is_unknown else value.scalar(str)


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
