"""What of a plan's values people may see: sensitive parts masked, unknown parts named.

``before``/``after`` hold sensitive values in clear. Every rendering goes through
:func:`display_value`, which masks by ``before_sensitive``/``after_sensitive`` and names what is
known only after apply; and then also masks any other value of the same resource that contains a
value marked sensitive (:func:`marked_strings`): Terraform does not carry the mark into attributes a
provider derives, e.g. ``terraform_data.output``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
MIN_SECRET_LENGTH = 6  # shorter marked values ("", "true", "80") would mask harmless text


def parse_json_container(value: Any) -> Any:
    """``value`` parsed when it is a string holding a JSON object or array; otherwise ``None``."""
    if not isinstance(value, str) or not value.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return any(truthy(v) for v in value.values())
    if isinstance(value, list):
        return any(truthy(v) for v in value)
    return False


def mask_at(mask: Any, key: str | int) -> Any:
    """The part of a sensitivity/unknown mask for ``key``; a ``True`` mask covers everything below."""
    if mask is True:
        return True
    if isinstance(mask, dict) and isinstance(key, str):
        return mask.get(key, False)
    if isinstance(mask, list) and isinstance(key, int):
        return mask[key] if key < len(mask) else False
    return False


def display_value(value: Any, sensitive: Any, unknown: Any, secrets: frozenset[str] = frozenset()) -> str:
    """A value as shown to people: sensitive parts masked, unknown parts named, compact JSON."""
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    masked = mask_value(value, sensitive, unknown, secrets)
    if isinstance(masked, str):
        return json.dumps(masked)
    return json.dumps(masked, sort_keys=True, separators=(", ", ": "))


def mask_value(value: Any, sensitive: Any, unknown: Any, secrets: frozenset[str] = frozenset()) -> Any:
    """``value`` with its sensitive parts and any string holding one of ``secrets`` masked, unknown parts named."""
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    if isinstance(value, dict):
        keys = set(value) | ({k for k, v in unknown.items() if v} if isinstance(unknown, dict) else set())
        return {k: mask_value(value.get(k), mask_at(sensitive, k), mask_at(unknown, k), secrets) for k in sorted(keys)}
    if isinstance(value, list):
        return [mask_value(v, mask_at(sensitive, i), mask_at(unknown, i), secrets) for i, v in enumerate(value)]
    if isinstance(value, str) and any(secret in value for secret in secrets):
        return SENSITIVE
    return value


def marked_strings(value: Any, sensitive: Any) -> Iterator[str]:
    """Every string leaf of ``value`` that ``sensitive`` marks (for copies elsewhere)."""
    if sensitive is True:
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif item is not None and len(str(item)) >= MIN_SECRET_LENGTH:
                yield str(item)
    elif isinstance(value, dict) and isinstance(sensitive, dict):
        for key, mask in sensitive.items():
            yield from marked_strings(value.get(key), mask)
    elif isinstance(value, list) and isinstance(sensitive, list):
        for item, mask in zip(value, sensitive, strict=False):
            yield from marked_strings(item, mask)
