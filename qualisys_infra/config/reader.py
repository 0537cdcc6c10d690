"""The generic reader: one HCL document's raw values to a settings dataclass, every violation kept.

Structural checks only (unknown keys with the closest known one, missing keys, types, whole numbers
within their field's ``bounds``, literal values, printable strings); the rules that relate values to
each other are :mod:`qualisys_infra.config.rules`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from qualisys_infra.config.hclfile import HclDocument, KeyPath
from qualisys_infra.core.errors import Violation
from qualisys_infra.core.templates import ESCAPES, live_template_sequence
from qualisys_infra.core.values import kind_of

T = TypeVar("T")
MISSING: Any = object()


class Reader:
    """Converts one document's raw values to a dataclass, collecting violations as it goes."""

    def __init__(self, doc: HclDocument) -> None:
        self.doc = doc
        self.violations: list[Violation] = []

    def fail(self, path: KeyPath, message: str) -> None:
        name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        self.violations.append(Violation(self.doc.display_name, self.doc.line_of(path), name, message))

    def read(self, cls: type[T], raw: Any, path: KeyPath) -> T | Any:
        """Build ``cls`` from ``raw``; returns a dict of what converted when something did not."""
        if not isinstance(raw, dict):
            self.fail(path, f"got {show(raw)}, expected an object {{ key = value, ... }}")
            return MISSING
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        suggested: set[str] = set()
        for key, value in raw.items():
            if key not in fields:
                missing = [name for name in fields if name not in raw]
                close = difflib.get_close_matches(key, missing, n=1, cutoff=0.6)
                if close:
                    suggested.add(close[0])
                    self.fail((*path, key), f"unknown key, did you mean `{close[0]}`?")
                else:
                    self.fail((*path, key), f"unknown key, expected one of: {', '.join(fields)}")
                continue
            bounds = fields[key].metadata.get("bounds")
            values[key] = self.convert(value, hints[key], (*path, key), expected(fields[key].metadata))
            self._within_bounds((*path, key), values[key], bounds)
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if name not in raw and required and name not in suggested:
                self.fail((*path, name), f"missing required key, expected {expected(f.metadata) or 'a value'}")
        if self.violations or any(v is MISSING for v in values.values()):
            return values
        return cls(**values)

    def convert(self, value: Any, tp: Any, path: KeyPath, doc: str) -> Any:
        origin = typing.get_origin(tp)
        if isinstance(value, str) and not self._printable(path, value):
            return MISSING
        if isinstance(value, str) and not self._literal(path, value, "got"):
            return MISSING
        if dataclasses.is_dataclass(tp):
            return self.read(tp, value, path)  # type: ignore[arg-type]
        if isinstance(tp, type) and issubclass(tp, StrEnum):
            allowed = [m.value for m in tp]
            if isinstance(value, str) and value in allowed:
                return tp(value)
            close = difflib.get_close_matches(str(value), allowed, n=1) if isinstance(value, str) else []
            hint = f" (did you mean {show(close[0])}?)" if close else ""
            self.fail(path, f"got {show(value)}, expected one of {', '.join(show(a) for a in allowed)}{hint}")
            return MISSING
        if tp is bool:
            if isinstance(value, bool):
                return value
            return self._type_error(path, value, "true or false")
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            return self._type_error(path, value, doc or "a whole number")
        if tp is str:
            if isinstance(value, str):
                return value
            return self._type_error(path, value, doc or "a string")
        if origin is tuple:
            if not isinstance(value, list):
                return self._type_error(path, value, doc or "a list")
            (item_tp, _) = typing.get_args(tp)
            items = [self.convert(v, item_tp, (*path, i), "") for i, v in enumerate(value)]
            return MISSING if any(i is MISSING for i in items) else tuple(items)
        if origin in (Mapping, dict):
            if not isinstance(value, dict):
                return self._type_error(path, value, doc or "a map")
            (_, value_tp) = typing.get_args(tp)
            bad_keys = [
                k for k in value if not (self._printable((*path, k), k) and self._literal((*path, k), k, "got key"))
            ]
            if bad_keys:
                return MISSING
            converted = {k: self.convert(v, value_tp, (*path, k), "") for k, v in value.items()}
            if any(v is MISSING for v in converted.values()):
                return MISSING
            return types.MappingProxyType(converted)
        raise TypeError(f"unsupported config type {tp!r}")  # pragma: no cover - a schema bug

    def _within_bounds(self, path: KeyPath, value: Any, bounds: tuple[int, int] | None) -> None:
        """A whole number inside its field's ``bounds`` (the settings' one table of ranges)."""
        if bounds is None or not isinstance(value, int) or isinstance(value, bool):
            return
        low, high = bounds
        if not low <= value <= high:
            self.fail(path, f"got {value}, expected a whole number from {low} to {high}")

    def _printable(self, path: KeyPath, value: str) -> bool:
        """No control characters (a newline, a tab, an escape) in any string: they would reach the
        synthesized JSON, names and tags, where AWS rejects them or a reader cannot see them."""
        bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
        if bad is None:
            return True
        self.fail(path, f"got {show(value)}, expected printable text (it contains {_char_name(bad)})")
        return False

    def _literal(self, path: KeyPath, text: str, got: str) -> bool:
        """No ``${`` or ``%{`` Terraform would evaluate: every string reaches the synthesized JSON,
        where Terraform reads it as a template (an interpolation or an ``%{ if }`` directive)."""
        sequence = live_template_sequence(text)
        if sequence is None:
            return True
        self.fail(
            path,
            f"{got} {show(text)}, expected a literal value (tfvars take no expressions): Terraform would "
            f'evaluate {show(sequence)}; write {show(ESCAPES[sequence])} for a literal "{sequence}"',
        )
        return False

    def _type_error(self, path: KeyPath, value: Any, expected: str) -> Any:
        self.fail(path, f"got {show(value)} ({kind_of(value)}), expected {expected}")
        return MISSING


def expected(metadata: Mapping[str, Any]) -> str:
    """What a field takes, from its metadata: its ``doc``, and its ``bounds`` when it has them."""
    doc = str(metadata.get("doc", ""))
    bounds = metadata.get("bounds")
    return f"{doc} ({bounds[0]} to {bounds[1]})" if bounds is not None else doc


def _char_name(char: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x1b": "an escape character"}
    return names.get(char, f"the control character U+{ord(char):04X}")


def show(value: Any) -> str:
    if isinstance(value, str):
        # JSON quoting keeps a message on one line whatever the value holds (newlines, escapes).
        return json.dumps(value if len(value) <= 200 else value[:197] + "...", ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_values(obj: Any) -> Mapping[str, Any]:
    """The field values of a converted dataclass, or the partial dict when conversion failed."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in obj.items() if v is not MISSING} if isinstance(obj, dict) else {}
