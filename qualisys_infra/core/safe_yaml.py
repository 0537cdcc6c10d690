"""YAML from a source the toolkit does not control (a chart repository's ``index.yaml``), read
without the ways a small document can take a large amount of time, memory or stack.

PyYAML's safe loader still expands what a document asks it to: aliases let 900 bytes stand for
billions of nodes once anything walks or prints the result (``str()`` of the value ran 70 s into a
``MemoryError``), merge keys (``<<: [*a, *a, ...]``) copy node lists at load time, and libyaml's
composer recurses once per nesting level (100,000 ``[`` crash the interpreter). This loader
builds the value from libyaml's events (the parser itself is not recursive) in a loop of its own,
and refuses, with one line naming where in the document:

- aliases (``*name``) and merge keys (``<<``): data of this kind never needs them;
- nesting deeper than ``max_depth``;
- tags other than YAML's standard ones, more than one document, a mapping used as a key.

Scalars keep the safe loader's meaning (``1.10`` is a float, ``true`` a bool, ``null`` ``None``).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events, nodes

from qualisys_infra.core.errors import ToolkitError

DEFAULT_MAX_DEPTH = 64
# libyaml's parser when PyYAML was built with it: the same grammar, many times faster on large
# files (prometheus-community's index is tens of megabytes).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_KEY = object()
_MERGE = object()


class UnsafeYamlError(ToolkitError):
    """The document is YAML, but uses a feature refused here (or is nested too deeply). Exit code 2."""


def load_untrusted(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The single document in ``data`` as plain Python values (dict, list, str, int, float, bool,
    None, datetime); :class:`UnsafeYamlError` for what the module docstring lists, ``yaml.YAMLError``
    for what is not YAML."""
    loader = _LOADER(data)
    try:
        return _build(loader, max_depth)
    finally:
        loader.dispose()


def _build(loader: Any, max_depth: int) -> Any:
    # Each frame: [container, pending key] (the key is _NO_KEY for a sequence or between pairs).
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    while True:
        event = loader.get_event()
        kind = type(event)
        if kind is events.ScalarEvent:
            value = _scalar(loader, event)
            if stack:
                _add(stack, value, event)
            else:
                root = value
            continue
        if kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            is_map = kind is events.MappingStartEvent
            if event.tag not in (None, "!", _MAP_TAG if is_map else _SEQ_TAG):
                raise UnsafeYamlError(f"{_where(event)}: the tag {event.tag} is not allowed here")
            if len(stack) >= max_depth:
                raise UnsafeYamlError(f"{_where(event)}: nested more than {max_depth} levels deep")
            container: dict[Any, Any] | list[Any] = {} if is_map else []
            if stack:
                _add(stack, container, event)
            else:
                root = container
            stack.append([container, _NO_KEY])
            continue
        if kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            stack.pop()
            continue
        if kind is events.AliasEvent:
            raise UnsafeYamlError(f"{_where(event)}: uses the YAML alias *{event.anchor} (aliases are refused)")
        if kind is events.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise UnsafeYamlError(f"{_where(event)}: a second YAML document (expected one)")
            continue
        if kind is events.StreamEndEvent:
            return root
        # StreamStartEvent, DocumentEndEvent: nothing to build


def _add(stack: list[list[Any]], value: Any, event: events.Event) -> None:
    frame = stack[-1]
    container = frame[0]
    if isinstance(container, list):
        container.append(value)
    elif frame[1] is _NO_KEY:
        if isinstance(value, dict | list):
            raise UnsafeYamlError(f"{_where(event)}: a mapping key that is not a scalar")
        if value is _MERGE:
            raise UnsafeYamlError(f"{_where(event)}: uses a YAML merge key << (merge keys are refused)")
        frame[1] = value
    else:
        container[frame[1]] = value
        frame[1] = _NO_KEY


def _scalar(loader: Any, event: events.ScalarEvent) -> Any:
    value: str = event.value
    plain, _ = event.implicit
    if event.tag in (None, "!") and not plain:
        return value  # quoted or block scalar without a tag: a string
    tag = loader.resolve(nodes.ScalarNode, value, event.implicit) if event.tag in (None, "!") else event.tag
    if tag == _STR_TAG:
        return value
    if tag == _MERGE_TAG:
        return _MERGE
    node = nodes.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    try:
        return loader.construct_object(node)
    except yaml.constructor.ConstructorError as exc:
        raise UnsafeYamlError(f"{_where(event)}: {exc.problem or 'cannot be read'}") from None
    except (ValueError, OverflowError) as exc:  # an integer of more digits than Python converts
        raise UnsafeYamlError(f"{_where(event)}: {' '.join(str(exc).split())[:200]}") from None


def _where(event: events.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "the document"
