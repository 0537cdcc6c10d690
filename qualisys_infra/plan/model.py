"""A typed reader of ``terraform show -json`` plan output (format_version 0.1 to 1.x).

Rules taken from Terraform's own ``internal/command/jsonplan`` (see shared/reference/plan-json.md):
- classification uses the whole ``actions`` array (never ``actions[0]``); an array Terraform does
  not emit is kept as ``Kind.UNKNOWN`` and treated as destructive (fail closed);
- identity is ``(address, deposed)``: a create-before-destroy leftover is its own entry;
- deletions are read from ``resource_changes``, never from ``planned_values`` (which omits them);
- ``before``/``after`` hold sensitive values in clear: every rendering goes through
  :func:`display_value`, which masks by ``before_sensitive``/``after_sensitive``, and then also
  masks any other value of the same resource that contains a value marked sensitive (Terraform
  does not carry the mark into attributes a provider derives, e.g. ``terraform_data.output``);
- unknown keys are ignored; a ``format_version`` major other than 0 or 1 is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qualisys_infra.errors import ToolkitError

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
SUPPORTED_MAJORS = ("0", "1")


class PlanError(ToolkitError):
    """A file that is not a readable Terraform plan JSON."""


class Kind(StrEnum):
    """What a change does to one object, from its whole ``actions`` array."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete, then create (Terraform's default order)
    REPLACE_CBD = "replace-create-first"  # create_before_destroy
    DELETE = "delete"
    READ = "read"
    NOOP = "no-op"
    FORGET = "forget"
    REPLACE_FORGET = "create-then-forget"
    UNKNOWN = "unknown"


ACTIONS_TO_KIND: dict[tuple[str, ...], Kind] = {
    ("create",): Kind.CREATE,
    ("update",): Kind.UPDATE,
    ("delete", "create"): Kind.REPLACE,
    ("create", "delete"): Kind.REPLACE_CBD,
    ("delete",): Kind.DELETE,
    ("read",): Kind.READ,
    ("no-op",): Kind.NOOP,
    ("forget",): Kind.FORGET,
    ("create", "forget"): Kind.REPLACE_FORGET,
}

# Terraform's own wording and symbols, per kind.
SYMBOL = {
    Kind.CREATE: "+",
    Kind.UPDATE: "~",
    Kind.REPLACE: "-/+",
    Kind.REPLACE_CBD: "+/-",
    Kind.DELETE: "-",
    Kind.READ: "<=",
    Kind.NOOP: " ",
    Kind.FORGET: ".",
    Kind.REPLACE_FORGET: "+/.",
    Kind.UNKNOWN: "?",
}


@dataclass(frozen=True, slots=True)
class AttributeChange:
    """One attribute path whose value changes, with both sides already masked for display."""

    path: str
    before: str
    after: str
    forces_replacement: bool = False


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One entry of ``resource_changes`` (or ``resource_drift``)."""

    address: str
    deposed: str | None
    mode: str
    type: str
    name: str
    module_address: str | None
    provider: str
    actions: tuple[str, ...]
    previous_address: str | None
    action_reason: str | None
    replace_paths: tuple[tuple[str | int, ...], ...]
    importing: Mapping[str, Any] | None
    before: Any
    after: Any
    after_unknown: Any
    before_sensitive: Any
    after_sensitive: Any
    kind: Kind = Kind.UNKNOWN  # derived from ``actions`` by the reader, once

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.address, self.deposed)

    @property
    def is_destructive(self) -> bool:
        """True when an existing object is deleted: delete, both replace orders, unknown arrays."""
        return "delete" in self.actions or self.kind is Kind.UNKNOWN

    @property
    def leaves_management(self) -> bool:
        return "forget" in self.actions

    @property
    def is_move(self) -> bool:
        return self.previous_address is not None and self.previous_address != self.address

    @property
    def is_import(self) -> bool:
        return self.importing is not None

    @property
    def label(self) -> str:
        suffix = f" (deposed object {self.deposed})" if self.deposed else ""
        return f"{self.address}{suffix}"

    def attribute_changes(self) -> list[AttributeChange]:
        """The attributes whose value differs, masked where sensitive, unknown where unknown."""
        forced = {_path_text(p) for p in self.replace_paths}
        secrets = frozenset([*_marked(self.before, self.before_sensitive), *_marked(self.after, self.after_sensitive)])
        changes: list[AttributeChange] = []
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        unknown = self.after_unknown if isinstance(self.after_unknown, dict) else {}
        if self.after is None and self.kind in (Kind.DELETE, Kind.FORGET):
            after, unknown = {}, {}
        keys = sorted(set(before) | set(after) | {k for k, v in unknown.items() if v})
        for key in keys:
            b = display_value(before.get(key), _sub(self.before_sensitive, key), False, secrets)
            a = display_value(after.get(key), _sub(self.after_sensitive, key), _sub(unknown, key), secrets)
            if key not in after and not _truthy(_sub(unknown, key)):
                a = "null" if self.after is not None else "(removed)"
            if key not in before:
                b = "null" if self.before is not None else "(none)"
            if a != b or (a == SENSITIVE and before.get(key) != after.get(key)):
                changes.append(AttributeChange(key, b, a, forces_replacement=key in forced))
        return changes


@dataclass(frozen=True, slots=True)
class OutputChange:
    """One root-module output; its sensitivity is one boolean for the whole value."""

    name: str
    actions: tuple[str, ...]
    before: str
    after: str

    @property
    def kind(self) -> Kind:
        return ACTIONS_TO_KIND.get(self.actions, Kind.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole plan: resource changes in Terraform's order, drift, outputs and health flags."""

    source: str
    format_version: str
    terraform_version: str | None
    changes: tuple[ResourceChange, ...]
    drift: tuple[ResourceChange, ...]
    outputs: tuple[OutputChange, ...]
    errored: bool = False
    complete: bool = True
    applyable: bool | None = None
    deferred: int = 0
    raw_keys: frozenset[str] = field(default_factory=frozenset)

    def by_kind(self, *kinds: Kind) -> list[ResourceChange]:
        return [c for c in self.changes if c.kind in kinds]

    def counts(self) -> dict[Kind, int]:
        counts = dict.fromkeys(Kind, 0)
        for change in self.changes:
            counts[change.kind] += 1
        return counts

    @property
    def moves(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.is_move]

    @property
    def imports(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.is_import]

    @property
    def has_changes(self) -> bool:
        return any(c.kind is not Kind.NOOP or c.is_move or c.is_import for c in self.changes) or any(
            o.kind is not Kind.NOOP for o in self.outputs
        )

    def change(self, address: str, deposed: str | None = None) -> ResourceChange:
        for candidate in self.changes:
            if candidate.key == (address, deposed):
                return candidate
        raise KeyError(f"{self.source}: no change for {address}" + (f" (deposed {deposed})" if deposed else ""))

    def __iter__(self) -> Iterator[ResourceChange]:
        return iter(self.changes)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return any(_truthy(v) for v in value.values())
    if isinstance(value, list):
        return any(_truthy(v) for v in value)
    return False


def _sub(mask: Any, key: str | int) -> Any:
    """The part of a sensitivity/unknown mask for ``key``; a ``True`` mask covers everything below."""
    if mask is True:
        return True
    if isinstance(mask, dict) and isinstance(key, str):
        return mask.get(key, False)
    if isinstance(mask, list) and isinstance(key, int):
        return mask[key] if key < len(mask) else False
    return False


MIN_SECRET_LENGTH = 6  # shorter marked values ("", "true", "80") would mask harmless text


def display_value(value: Any, sensitive: Any, unknown: Any, secrets: frozenset[str] = frozenset()) -> str:
    """A value as shown to people: sensitive parts masked, unknown parts named, compact JSON."""
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    masked = _mask(value, sensitive, unknown, secrets)
    if isinstance(masked, str):
        return json.dumps(masked)
    return json.dumps(masked, sort_keys=True, separators=(", ", ": "))


def _mask(value: Any, sensitive: Any, unknown: Any, secrets: frozenset[str] = frozenset()) -> Any:
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    if isinstance(value, dict):
        keys = set(value) | ({k for k, v in unknown.items() if v} if isinstance(unknown, dict) else set())
        return {k: _mask(value.get(k), _sub(sensitive, k), _sub(unknown, k), secrets) for k in sorted(keys)}
    if isinstance(value, list):
        return [_mask(v, _sub(sensitive, i), _sub(unknown, i), secrets) for i, v in enumerate(value)]
    if isinstance(value, str) and any(secret in value for secret in secrets):
        return SENSITIVE
    return value


def _marked(value: Any, sensitive: Any) -> Iterator[str]:
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
            yield from _marked(value.get(key), mask)
    elif isinstance(value, list) and isinstance(sensitive, list):
        for item, mask in zip(value, sensitive, strict=False):
            yield from _marked(item, mask)


def _path_text(path: Sequence[str | int]) -> str:
    return str(path[0]) if path else ""


def _resource_change(entry: Mapping[str, Any], where: str) -> ResourceChange:
    change = entry.get("change")
    if not isinstance(change, dict):
        raise PlanError(f"{where}: missing `change` object")
    actions = change.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise PlanError(f"{where}: `change.actions` must be a list of strings, got {actions!r}")
    address = entry.get("address")
    if not isinstance(address, str):
        # resource_drift entries of Terraform 1.0.0 can lack an address: rebuild it.
        module = entry.get("module_address")
        prefix = "data." if entry.get("mode") == "data" else ""
        address = f"{module + '.' if module else ''}{prefix}{entry.get('type', '?')}.{entry.get('name', '?')}"
    paths = change.get("replace_paths") or []
    return ResourceChange(
        address=address,
        deposed=entry.get("deposed") if isinstance(entry.get("deposed"), str) else None,
        mode=str(entry.get("mode", "managed")),
        type=str(entry.get("type", "")),
        name=str(entry.get("name", "")),
        module_address=entry.get("module_address"),
        provider=str(entry.get("provider_name", "")),
        actions=tuple(actions),
        kind=ACTIONS_TO_KIND.get(tuple(actions), Kind.UNKNOWN),
        previous_address=entry.get("previous_address"),
        action_reason=entry.get("action_reason"),
        replace_paths=tuple(tuple(p) for p in paths if isinstance(p, list)),
        importing=change.get("importing") if isinstance(change.get("importing"), dict) else None,
        before=change.get("before"),
        after=change.get("after"),
        after_unknown=change.get("after_unknown", {}),
        before_sensitive=change.get("before_sensitive", {}),
        after_sensitive=change.get("after_sensitive", {}),
    )


def _output_change(name: str, change: Mapping[str, Any], secrets: frozenset[str]) -> OutputChange:
    actions = tuple(change.get("actions") or ())
    unknown = change.get("after_unknown") is True
    before_sensitive = change.get("before_sensitive") is True
    before = SENSITIVE if before_sensitive else display_value(change.get("before"), False, False, secrets)
    if change.get("after_sensitive") is True:
        after = SENSITIVE
    elif unknown:
        after = UNKNOWN
    else:
        after = display_value(change.get("after"), False, False, secrets)
    return OutputChange(name=name, actions=actions, before=before, after=after)


def parse_plan(document: Any, source: str) -> Plan:
    """Build a :class:`Plan` from parsed JSON; raise :class:`PlanError` naming ``source``."""
    if not isinstance(document, dict):
        raise PlanError(f"{source}: expected a JSON object from `terraform show -json`, got {type(document).__name__}")
    version = document.get("format_version")
    if not isinstance(version, str):
        raise PlanError(f"{source}: no format_version: not the output of `terraform show -json PLANFILE`")
    if "resource_changes" not in document and "planned_values" not in document:
        hint = (
            " (this looks like a state file: run `terraform show -json` on a saved plan)"
            if "values" in document
            else ""
        )
        raise PlanError(f"{source}: not a plan: no resource_changes or planned_values{hint}")
    major = version.split(".")[0]
    if major not in SUPPORTED_MAJORS:
        raise PlanError(f"{source}: format_version {version} is not supported, expected 0.x or 1.x")
    changes = tuple(
        _resource_change(e, f"{source}: resource_changes[{i}]")
        for i, e in enumerate(document.get("resource_changes") or [])
        if isinstance(e, dict)
    )
    drift = tuple(
        _resource_change(e, f"{source}: resource_drift[{i}]")
        for i, e in enumerate(document.get("resource_drift") or [])
        if isinstance(e, dict)
    )
    raw_outputs = {k: v for k, v in (document.get("output_changes") or {}).items() if isinstance(v, dict)}
    secrets: set[str] = set()
    for out in raw_outputs.values():
        secrets.update(_marked(out.get("before"), out.get("before_sensitive")))
        secrets.update(_marked(out.get("after"), out.get("after_sensitive")))
    outputs = tuple(_output_change(name, change, frozenset(secrets)) for name, change in sorted(raw_outputs.items()))
    return Plan(
        source=source,
        format_version=version,
        terraform_version=document.get("terraform_version"),
        changes=changes,
        drift=drift,
        outputs=outputs,
        errored=document.get("errored") is True,
        complete=document.get("complete") is not False,
        applyable=document.get("applyable") if isinstance(document.get("applyable"), bool) else None,
        deferred=len(document.get("deferred_changes") or []),
        raw_keys=frozenset(document),
    )


def load_plan(path: Path) -> Plan:
    """Read ``terraform show -json`` output from ``path``; one-line :class:`PlanError` on bad input."""
    shown = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise PlanError(f"{shown}: file not found") from None
    except OSError as exc:
        raise PlanError(f"{shown}: cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise PlanError(f"{shown}: the file is empty, expected `terraform show -json PLANFILE` output")
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        cut_in_string = exc.msg.startswith("Unterminated string") and b'"' not in data[exc.pos + 1 :]
        what = "truncated" if exc.pos >= len(data.rstrip()) - 1 or cut_in_string else "not valid JSON"
        raise PlanError(f"{shown}:{exc.lineno}: {what}: {exc.msg} at column {exc.colno}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{shown}: not UTF-8 text; a binary plan file? run `terraform show -json` on it") from None
    return parse_plan(document, shown)
