"""Structured diffs of values, as Terraform renders a change inside ``jsonencode(...)``.

An IAM policy, an ECS container definition or Helm values are one JSON string to Terraform's
provider; a change of one action inside reads as two long escaped strings. Here both sides are
parsed and compared key by key: only the paths that change are shown, with ``+`` (added), ``-``
(removed) and ``~`` (changed) markers, nested as in the value, and a count of what is unchanged.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from qualisys_infra.plan.masking import parse_json_container
from qualisys_infra.plan.words import plural

__all__ = ["DiffLine", "compact", "json_string_diff", "parse_json_container"]

VALUE_LIMIT = 400  # characters of one value on one line
MAX_DEPTH = 24  # deeper changes are shown as a whole value: a readable diff is not that deep
MAX_LINES = 200  # one attribute's structured diff; longer ones end with a count of what is left out


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a structured diff: a marker (``+ - ~`` or a space), a nesting depth and the text."""

    marker: str
    depth: int
    text: str
    opens: bool = False  # the line only opens a nested value whose changes follow


def compact(value: Any) -> str:
    """A value on one line: compact JSON, keys sorted, cut at :data:`VALUE_LIMIT` characters."""
    text = json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _key(key: str) -> str:
    return key if key.isidentifier() else json.dumps(key, ensure_ascii=False)


def _unchanged(depth: int, count: int, what: str) -> DiffLine:
    return DiffLine(" ", depth, f"# ({plural(count, 'unchanged ' + what)} hidden)")


def _opening(value: Any) -> str:
    return "{" if isinstance(value, dict) else "["


def _closing(value: Any) -> str:
    return "}" if isinstance(value, dict) else "]"


def _same_shape(before: Any, after: Any) -> bool:
    return (isinstance(before, dict) and isinstance(after, dict)) or (
        isinstance(before, list) and isinstance(after, list)
    )


def _nested(prefix: str, before: Any, after: Any, depth: int, out: list[DiffLine]) -> None:
    """``prefix`` (``key = `` or nothing) and a changed value: nested when both are containers."""
    if _same_shape(before, after) and depth < MAX_DEPTH:
        out.append(DiffLine("~", depth, prefix + _opening(after), opens=True))
        _container(before, after, depth + 1, out)
        out.append(DiffLine(" ", depth, _closing(after)))
    else:
        out.append(DiffLine("~", depth, f"{prefix}{compact(before)} -> {compact(after)}"))


def _container(before: Any, after: Any, depth: int, out: list[DiffLine]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        _object(before, after, depth, out)
    else:
        _array(before, after, depth, out)


def _object(before: dict[str, Any], after: dict[str, Any], depth: int, out: list[DiffLine]) -> None:
    keys = sorted(set(before) | set(after))
    width = max((len(_key(k)) for k in keys if before.get(k, _ABSENT) != after.get(k, _ABSENT)), default=0)
    unchanged = 0
    for key in keys:
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        name = _key(key).ljust(width)
        if old == new and type(old) is type(new):
            unchanged += 1
        elif old is _ABSENT:
            out.append(DiffLine("+", depth, f"{name} = {compact(new)}"))
        elif new is _ABSENT:
            out.append(DiffLine("-", depth, f"{name} = {compact(old)} -> null"))
        else:
            _nested(f"{name} = ", old, new, depth, out)
    if unchanged:
        out.append(_unchanged(depth, unchanged, "attribute"))


def _array(before: list[Any], after: list[Any], depth: int, out: list[DiffLine]) -> None:
    old_keys = [compact(v) for v in before]
    new_keys = [compact(v) for v in after]
    unchanged = 0
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            unchanged += i2 - i1
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for old, new in zip(before[i1:i2], after[j1:j2], strict=True):
                _nested("", old, new, depth, out)
            continue
        out.extend(DiffLine("-", depth, f"{old_keys[i]},") for i in range(i1, i2))
        out.extend(DiffLine("+", depth, f"{new_keys[j]},") for j in range(j1, j2))
    if unchanged:
        out.append(_unchanged(depth, unchanged, "element"))


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


def json_string_diff(name: str, before: Any, after: Any) -> list[DiffLine]:
    """The changes between two JSON documents held in attribute ``name``, as ``jsonencode(...)``.

    ``before`` and ``after`` are the parsed (and already masked) values. The first line names the
    attribute; the result is cut at :data:`MAX_LINES` lines with a count of the rest.
    """
    lines = [DiffLine("~", 0, f"{name} = jsonencode(", opens=True)]
    try:
        _nested("", before, after, 1, lines)
    except RecursionError:  # deeper than Python's stack; MAX_DEPTH normally stops long before
        lines[1:] = [DiffLine("~", 1, f"{compact(before)} -> {compact(after)}")]
    lines.append(DiffLine(" ", 0, ")"))
    if len(lines) > MAX_LINES:
        cut = len(lines) - MAX_LINES + 1
        lines = [*lines[: MAX_LINES - 1], DiffLine(" ", 1, f"# ({plural(cut, 'more line')} of this diff left out)")]
    return lines
