"""One vocabulary for the review and the guardrails: what a change does, in plain words.

The diffs, the name lists, the findings and the terminal output all describe a change through
:func:`change_notes`, so a finding says "delete because no resource config" or "replace (create
first)" exactly as the diff above it does.
"""

from __future__ import annotations

import re

from qualisys_infra.core.github_text import shown
from qualisys_infra.plan.model import Kind, ResourceChange

# What each kind of change does to the object, in the words a reviewer reads.
ACTION_WORDS: dict[Kind, str] = {
    Kind.CREATE: "create",
    Kind.UPDATE: "update in place",
    Kind.REPLACE: "replace (destroy first)",
    Kind.REPLACE_CBD: "replace (create first)",
    Kind.DELETE: "destroy",
    Kind.READ: "read",
    Kind.NOOP: "no change",
    Kind.FORGET: "forget (removed from state, not destroyed)",
    Kind.REPLACE_FORGET: "replace (create the new one, forget the old one)",
    Kind.UNKNOWN: "unknown action",
}

# Terraform's ``action_reason`` values (internal/command/jsonplan) in plain words.
REASON_WORDS: dict[str, str] = {
    "replace_because_tainted": "replace because tainted",
    "replace_because_cannot_update": "replace because an attribute cannot be updated in place",
    "replace_by_request": "replace as requested (-replace)",
    "replace_by_triggers": "replace because of replace_triggered_by",
    "delete_because_no_resource_config": "delete because no resource config",
    "delete_because_wrong_repetition": "delete because count or for_each was added or removed",
    "delete_because_count_index": "delete because its count index is out of range",
    "delete_because_each_key": "delete because its for_each key is gone",
    "delete_because_no_module": "delete because its module is gone",
    "delete_because_no_move_target": "delete because the moved target does not exist",
    "read_because_config_unknown": "read during apply: its configuration is known only after apply",
    "read_because_dependency_pending": "read during apply: a dependency has changes pending",
    "read_because_check_nested": "read because a check block needs it",
}

# Kinds whose section heading does not say how: the action words go into the notes (a replace
# destroys first unless it says "create first", as in Terraform's own output).
_EXPLAINED = frozenset({Kind.REPLACE_CBD, Kind.REPLACE_FORGET, Kind.UNKNOWN})

_IRREGULAR = {"was": "were", "is": "is", "has": "have", "this": "these"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in agreement: ``1 stack``, ``2 stacks``, ``1,200 properties``, ``0 changes``."""
    return f"{n:,} {word if n == 1 else (many or plural_form(word))}"


def plural_form(word: str) -> str:
    """The English plural of one noun (regular rules; pass ``many`` to :func:`plural` otherwise)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def reason_words(reason: str) -> str:
    """An ``action_reason`` in plain words (an unknown future reason: its words, underscores as spaces)."""
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def path_text(path: tuple[str | int, ...]) -> str:
    """A replace path as Terraform writes it: ``vpc_config[0].subnet_ids``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def change_notes(change: ResourceChange) -> list[str]:
    """How and why a change happens, each note in plain words, for diffs, name lists and findings."""
    notes: list[str] = []
    if change.kind in _EXPLAINED:
        notes.append(ACTION_WORDS[change.kind])
    if change.action_reason:
        notes.append(reason_words(change.action_reason))
    if change.replace_paths:
        notes.append("forced by " + ", ".join(path_text(p) for p in change.replace_paths))
    if change.is_move:
        notes.append(f"moved from {change.previous_address}")
    if change.is_import:
        identity = change.importing.get("id") if change.importing else None
        notes.append(f"import {identity}" if isinstance(identity, str) and identity else "import")
    if change.deposed:
        notes.append(f"deposed object {change.deposed}")
    return notes


# --- a name from a plan as one shell word (one line of it: qualisys_infra.core.github_text.shown) ------------

_LINE_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def shell_word(text: str) -> str:
    """``text`` as one shell word that a person can copy and paste: as is when it is plain, in single
    quotes when it holds shell syntax (the ``["key"]`` of a for_each address), and as ``$'...'`` with
    escapes when it holds characters :func:`shown` escapes, so the hint shows no raw bidirectional or
    control character and still passes the exact address (bash and zsh read ``$'\\u202e'``)."""
    if _SHELL_SAFE.fullmatch(text):
        return text
    if shown(text) == text:
        return "'" + text.replace("'", "'\"'\"'") + "'"
    return "$'" + "".join(_shell_escape(c) for c in text) + "'"


def _shell_escape(char: str) -> str:
    """One character inside ``$'...'``."""
    if char in ("\\", "'"):
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    return _LINE_BREAKS.get(char) or (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
