"""Words for the type of a value read from a file, for messages: ``got 5 (a number), expected ...``."""

from __future__ import annotations

from typing import Any


def kind_of(value: Any, *, json: bool = False) -> str:
    """``"a list"``, ``"an object"``, ``"null"``...; with ``json``, JSON's own words (``"an array"``,
    ``"a boolean"``, every number ``"a number"``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean" if json else "a bool"
    if isinstance(value, int) or (json and isinstance(value, float)):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array" if json else "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
