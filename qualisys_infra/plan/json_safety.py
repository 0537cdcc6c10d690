"""Reading plan JSON safely: where a value sits, one-line errors, and the limits a plan must keep.

A plan file is input from outside. Before the model reads it, the text and the parsed document are
checked: valid UTF-8 and Unicode text (no unpaired surrogate), JSON numbers only (no NaN or
infinity, no integer wider than :data:`MAX_INT_BITS` bits), objects and arrays nested less than
:data:`MAX_DEPTH` deep (so no recursive walk can reach Python's limit). Every field the model uses
is type-checked (:func:`typed`, :func:`strings`, :func:`check_mask`); a wrong type is bad input,
never "no change". Each error is one line naming the file and the JSON path (:class:`Location`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.values import kind_of

MAX_DEPTH = 100  # deeper than any Terraform value; keeps every recursive walk far from Python's limit
MAX_INT_BITS = 1_000  # a number this wide is no Terraform value (and could not be printed)


class PlanError(ToolkitError):
    """A file that is not a readable Terraform plan JSON."""


def json_type(value: Any) -> str:
    return kind_of(value, json=True)


_EXPECTED = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


def _key_path(parent: str, key: str | int) -> str:
    """A JSON path step, always one line: ``a.b``, ``a[3]``, ``a["odd key"]``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isidentifier() and key.isascii():
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key)}]"


class Location:
    """Where a value sits in one plan file, for one-line errors: ``plan.json: resource_changes[3].change``.

    A step (``at / "change"``) only links to its parent; the path is written out when an error
    needs it, so locating every value of a large plan costs next to nothing.
    """

    __slots__ = ("_key", "_parent", "_path", "source")

    def __init__(self, source: str, path: str = "", *, parent: Location | None = None, key: str | int = "") -> None:
        self.source = source
        self._parent = parent
        self._key = key
        self._path: str | None = path if parent is None else None

    @property
    def path(self) -> str:
        if self._path is None:
            parent = self._parent.path if self._parent is not None else ""
            self._path = _key_path(parent, self._key)
        return self._path

    def __truediv__(self, key: str | int) -> Location:
        return Location(self.source, parent=self, key=key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and (self.source, self.path) == (other.source, other.path)

    def __hash__(self) -> int:
        return hash((self.source, self.path))

    def __repr__(self) -> str:
        return f"Location({self.source!r}, {self.path!r})"

    def error(self, message: str) -> PlanError:
        return PlanError(f"{self.source}: {self.path or '(top level)'}: {message}")

    def wrong(self, value: Any, *kinds: type) -> PlanError:
        expected = " or ".join(dict.fromkeys(_EXPECTED.get(k, k.__name__) for k in kinds))
        return self.error(f"expected {expected}, got {json_type(value)}")


NOWHERE = Location("", "")


def typed(obj: Mapping[str, Any], key: str, at: Location, *kinds: type, required: bool = False) -> Any:
    """``obj[key]`` when it has one of ``kinds`` (a bool is not a number); ``None`` when absent."""
    if key not in obj:
        if required:
            raise (at / key).error("missing")
        return None
    value = obj[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise (at / key).wrong(value, *kinds)
    return value


def strings(value: Any, parent: Location, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise (parent / key).wrong(value, list)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise (parent / key / i).wrong(item, str)
    return tuple(value)


def _mask_is_valid(mask: Any) -> bool:
    stack = [mask]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is not bool:
            return False
    return True


def check_mask(mask: Any, parent: Location, *keys: str) -> Any:
    """A sensitivity or unknown mask (at ``parent / keys``): booleans, in objects and arrays shaped like the value."""
    kind = type(mask)
    if kind is bool:
        return mask
    if kind is dict and all(type(v) is bool for v in mask.values()):
        return mask  # the common case: a flat object of booleans
    if _mask_is_valid(mask):
        return mask
    where = parent
    for key in keys:
        where = where / key
    stack = [(mask, where)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, where / k) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, where / i) for i, v in enumerate(item))
        elif not isinstance(item, bool):
            raise where.wrong(item, bool, dict, list)
    return mask


def _tree_is_valid(document: Any) -> bool:
    """The fast pass of :func:`check_tree`: whether every value is valid, without tracking paths."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        if depth >= MAX_DEPTH:
            return False
        if type(container) is dict:
            for key in container:
                if not key.isascii() and not _valid_text(key):
                    return False
            values: Iterable[Any] = container.values()
        else:
            values = container
        for value in values:
            kind = type(value)
            if kind is str:
                if not value.isascii() and not _valid_text(value):
                    return False
            elif kind is dict or kind is list:
                if value:
                    push((value, depth + 1))
                elif depth + 1 >= MAX_DEPTH:
                    return False
            elif kind is int:
                if value.bit_length() > MAX_INT_BITS:
                    return False
            elif kind is float and (value != value or value in (_INF, -_INF)):
                return False
    return True


_INF = float("inf")


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def depth_is_valid(document: Any) -> bool:
    """Whether no object or array is nested :data:`MAX_DEPTH` levels deep (one level at a time)."""
    level, depth, values = [document], 0, dict.values
    while level:
        if depth >= MAX_DEPTH:
            return False
        level = [
            v
            for container in level
            for v in (values(container) if container.__class__ is dict else container)
            if v.__class__ is dict or v.__class__ is list
        ]
        depth += 1
    return True


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


def raw_depth_is_valid(raw: bytes) -> bool:
    """Whether the JSON text nests objects and arrays less than :data:`MAX_DEPTH` deep, from its bytes.

    Escaped backslashes and quotes go first, so every remaining quote opens or closes a string; the
    text between quote pairs goes next; then each pass removes the innermost bracket pairs. All of it
    runs in C, a few times faster than walking the parsed document.
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in raw else raw
    structure = text.translate(None, _NOT_STRUCTURE)
    brackets = structure.replace(b'""', b"")  # strings without brackets inside, the common case
    if b'"' in brackets:  # some string holds a bracket: drop every string's text by position
        brackets = b"".join(structure.split(b'"')[::2])
    brackets = brackets.replace(b"{", b"[").replace(b"}", b"]")
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
    return not brackets


# In the raw text: what could decode to an unpaired surrogate (an escape, or raw bytes let through).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")


def check_tree(document: Any, source: str, *, scalars_checked: bool = False, depth_checked: bool = False) -> None:
    """Every value: nested at most :data:`MAX_DEPTH` deep, valid Unicode text, printable numbers.

    ``scalars_checked``: the raw text holds nothing that could decode to a bad string or number, so
    only the nesting is left to check; ``depth_checked``: the raw text was found shallow enough too.
    """
    if scalars_checked and type(document) in (dict, list) and (depth_checked or depth_is_valid(document)):
        return
    if isinstance(document, dict | list) and _tree_is_valid(document):
        return  # the common case; the walk below finds the JSON path of what is wrong
    stack: list[tuple[Any, int, Any]] = [(document, 0, None)]  # (value, depth, (key, parent link))

    def at(link: Any) -> Location:
        keys: list[str | int] = []
        while link is not None:
            keys.append(link[0])
            link = link[1]
        where = Location(source, "")
        for key in reversed(keys):
            where = where / key
        return where

    def text(value: str, link: Any) -> None:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise at(link).error("not valid Unicode text (an unpaired surrogate)") from None

    while stack:
        value, depth, link = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise at(link).error(f"nested more than {MAX_DEPTH} levels deep: not a Terraform plan")
            for key, item in value.items():
                text(key, link)
                stack.append((item, depth + 1, (key, link)))
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise at(link).error(f"nested more than {MAX_DEPTH} levels deep: not a Terraform plan")
            stack.extend((item, depth + 1, (i, link)) for i, item in enumerate(value))
        elif isinstance(value, str):
            text(value, link)
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
            raise at(link).error("a number too large to be a Terraform value")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise at(link).error("not a JSON number (NaN or infinity)")


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """Reading a plan makes hundreds of thousands of objects and no reference cycle: the cycle
    collector would only walk the growing tree again and again (a third of the time of a large plan)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode(data: bytes | str, source: str) -> tuple[Any, bool, bool]:
    """``terraform show -json`` output parsed: the document, whether its text holds no string or
    number that could be bad (``scalars_checked``), and whether it is also shallow enough
    (``depth_checked``); a one-line :class:`PlanError` naming ``source`` when it is no JSON."""
    if not data.strip():
        raise PlanError(f"{source}: the file is empty, expected `terraform show -json PLANFILE` output")
    odd_numbers: list[str] = []  # too long to be a Terraform number, or infinite: the full check finds where

    def parse_int(text: str) -> int:
        if len(text) > 300:  # 10**300 < 2**1000: anything longer may be too wide
            odd_numbers.append(text)
        return int(text)

    def parse_float(text: str) -> float:
        value = float(text)
        if value in (_INF, -_INF):
            odd_numbers.append(text)
        return value

    try:
        document = json.loads(data, parse_constant=_no_constant, parse_int=parse_int, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        cut_in_string = exc.msg.startswith("Unterminated string") and b'"' not in raw[exc.pos + 1 :]
        what = "truncated" if exc.pos >= len(raw.rstrip()) - 1 or cut_in_string else "not valid JSON"
        raise PlanError(f"{source}:{exc.lineno}: {what}: {exc.msg} at column {exc.colno}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{source}: not UTF-8 text; a binary plan file? run `terraform show -json` on it") from None
    except RecursionError:
        raise PlanError(f"{source}: nested more than {MAX_DEPTH} levels deep: not a Terraform plan") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise PlanError(f"{source}: not valid JSON: {str(exc).splitlines()[0]}") from None
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None or (b"\xed" in raw and _SURROGATE_BYTES.search(raw))
    clean = not odd_numbers and not surrogates
    return document, clean, clean and raw_depth_is_valid(raw)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
