"""A typed reader of ``terraform show -json`` plan output (format_version 0.1 to 1.x).

Rules taken from Terraform's own ``internal/command/jsonplan`` (see shared/reference/plan-json.md):
- classification uses the whole ``actions`` array (never ``actions[0]``); an array Terraform does
  not emit is kept as ``Kind.UNKNOWN`` and treated as destructive (fail closed);
- identity is ``(address, deposed)``: a create-before-destroy leftover is its own entry;
- deletions are read from ``resource_changes``, never from ``planned_values`` (which omits them);
- ``before``/``after`` hold sensitive values in clear: every rendering goes through
  :func:`qualisys_infra.plan.masking.display_value` (see there);
- the JSON is read defensively (:mod:`qualisys_infra.plan.json_safety`): limits on depth, numbers
  and text, every field type-checked, one-line errors naming the JSON path;
- unknown keys are ignored; a ``format_version`` major other than 0 or 1 is rejected.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qualisys_infra.plan import plan_facts
from qualisys_infra.plan.json_safety import (
    NOWHERE,
    Location,
    PlanError,
    check_mask,
    check_tree,
    decode,
    json_type,
    strings,
    typed,
    without_gc,
)
from qualisys_infra.plan.masking import (
    SENSITIVE,
    display_value,
    marked_strings,
    mask_at,
    mask_value,
    parse_json_container,
    truthy,
)

SUPPORTED_MAJORS = ("0", "1")


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
    location: Location = NOWHERE  # where the entry is in its file, for errors about it

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

    def _secrets(self) -> frozenset[str]:
        """Every value of this resource marked sensitive, to mask its copies in other attributes."""
        return frozenset(
            [*marked_strings(self.before, self.before_sensitive), *marked_strings(self.after, self.after_sensitive)]
        )

    def attribute_changes(self) -> list[AttributeChange]:
        """The attributes whose value differs, masked where sensitive, unknown where unknown."""
        forced = {_path_text(p) for p in self.replace_paths}
        secrets = self._secrets()
        changes: list[AttributeChange] = []
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        unknown = self.after_unknown if isinstance(self.after_unknown, dict) else {}
        if self.after is None and self.kind in (Kind.DELETE, Kind.FORGET):
            after, unknown = {}, {}
        keys = sorted(set(before) | set(after) | {k for k, v in unknown.items() if v})
        for key in keys:
            b = display_value(before.get(key), mask_at(self.before_sensitive, key), False, secrets)
            a = display_value(after.get(key), mask_at(self.after_sensitive, key), mask_at(unknown, key), secrets)
            if key not in after and not truthy(mask_at(unknown, key)):
                a = "null" if self.after is not None else "(removed)"
            if key not in before:
                b = "null" if self.before is not None else "(none)"
            if a != b or (a == SENSITIVE and before.get(key) != after.get(key)):
                changes.append(AttributeChange(key, b, a, forces_replacement=key in forced))
        return changes

    def json_values(self, key: str) -> tuple[Any, Any] | None:
        """Both sides of a string attribute that holds a JSON object or array, parsed and masked.

        ``None`` unless both sides are such strings, known and not marked sensitive. Any string
        inside that contains a value marked sensitive elsewhere in the resource reads
        ``(sensitive value)``, as in :func:`display_value`.
        """
        if not isinstance(self.before, dict) or not isinstance(self.after, dict):
            return None
        if truthy(mask_at(self.before_sensitive, key)) or truthy(mask_at(self.after_sensitive, key)):
            return None
        if truthy(mask_at(self.after_unknown, key)):
            return None
        before, after = parse_json_container(self.before.get(key)), parse_json_container(self.after.get(key))
        if before is None or after is None:
            return None
        secrets = self._secrets()
        try:
            return mask_value(before, False, False, secrets), mask_value(after, False, False, secrets)
        except RecursionError:
            return None


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
    # configuration address (instance keys removed) -> argument -> the addresses its expression references
    references: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # the root module's input variables and the values this plan was made with (an image tag, say),
    # sensitive ones left out: a release is reviewed by the inputs it changes
    inputs: Mapping[str, str] = field(default_factory=dict)
    # the account and partition the plan is made in, as its aws_caller_identity / aws_partition data
    # sources read them at plan (else the aws provider's allowed_account_ids); None when not one known value
    account: str | None = None
    partition: str | None = None

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


def _path_text(path: Sequence[str | int]) -> str:
    return str(path[0]) if path else ""


MODES = ("managed", "data")

# Top-level fields and the JSON type each must have when present (unknown keys are ignored).
TOP_LEVEL: dict[str, tuple[type, ...]] = {
    "format_version": (str,),
    "terraform_version": (str,),
    "resource_changes": (list,),
    "resource_drift": (list,),
    "output_changes": (dict,),
    "planned_values": (dict,),
    "prior_state": (dict,),
    "configuration": (dict,),
    "variables": (dict,),
    "relevant_attributes": (list,),
    "checks": (list,),
    "deferred_changes": (list,),
    "deferred_action_invocations": (list,),
    "action_invocations": (list,),
    "errored": (bool,),
    "complete": (bool,),
    "applyable": (bool,),
    "timestamp": (str,),
}


_ENTRY_STRINGS = (
    "type",
    "name",
    "mode",
    "module_address",
    "address",
    "deposed",
    "provider_name",
    "previous_address",
    "action_reason",
)


def _resource_change(entry: Any, at: Location, *, drift: bool = False) -> ResourceChange:
    if type(entry) is not dict:
        raise at.wrong(entry, dict)
    change = entry.get("change")
    if type(change) is not dict:
        change = typed(entry, "change", at, dict, required=True)
    get = entry.get
    values = [get(key, _MISSING) for key in _ENTRY_STRINGS]
    for n, value in enumerate(values):
        if value.__class__ is not str:  # absent, or wrongly typed (_typed words the error)
            values[n] = None if value is _MISSING else typed(entry, _ENTRY_STRINGS[n], at, str)
    type_, name, mode, module, address, deposed, provider, previous, reason = values
    raw_actions = change.get("actions")
    actions = tuple(raw_actions) if type(raw_actions) is list else ()
    try:
        kind = ACTIONS_TO_KIND.get(actions)
    except TypeError:  # an unhashable element
        kind = None
    if kind is None:  # not one of the arrays Terraform writes: check it, then keep it as UNKNOWN
        here = at / "change"
        actions = strings(typed(change, "actions", here, list, required=True), here, "actions")
        kind = Kind.UNKNOWN
    if type_ is None:
        raise (at / "type").error("missing")
    name = name or ""
    mode = mode or "managed"
    if mode not in MODES:
        raise (at / "mode").error(f"expected one of {', '.join(MODES)}, got {json.dumps(mode)}")
    if address is None:
        if not drift:
            raise (at / "address").error("missing")
        # resource_drift entries of Terraform 1.0.0 lack an address: rebuild it.
        prefix = "data." if mode == "data" else ""
        address = f"{module + '.' if module else ''}{prefix}{type_}.{name}"
    paths: list[tuple[str | int, ...]] = []
    if "replace_paths" in change:
        here = at / "change"
        for i, path in enumerate(typed(change, "replace_paths", here, list) or []):
            if not isinstance(path, list):
                raise (here / "replace_paths" / i).wrong(path, list)
            for j, step in enumerate(path):
                if type(step) is not str and type(step) is not int:
                    raise (here / "replace_paths" / i / j).wrong(step, str, int)
            paths.append(tuple(path))
    importing = change.get("importing")
    if importing is not None or "importing" in change:
        importing = typed(change, "importing", at / "change", dict)
    for side in ("before", "after"):  # a resource's value is an object, or null when there is none
        value = change.get(side)
        if value is not None and value.__class__ is not dict:
            raise (at / "change" / side).wrong(value, dict)
    return _new_resource_change(
        (
            address,
            deposed,
            mode,
            type_,
            name,
            module,
            provider or "",
            actions,
            previous,
            reason,
            tuple(paths),
            importing,
            change.get("before"),
            change.get("after"),
            check_mask(change.get("after_unknown", {}), at, "change", "after_unknown"),
            check_mask(change.get("before_sensitive", {}), at, "change", "before_sensitive"),
            check_mask(change.get("after_sensitive", {}), at, "change", "after_sensitive"),
            kind,
            at,
        )
    )


# The slots of ResourceChange in field order: a plan of 10,000 changes is built with their setters,
# as the frozen dataclass's own __init__ does field by field, at a third of the cost.
_CHANGE_SLOTS = tuple(ResourceChange.__dict__[f.name].__set__ for f in dataclasses.fields(ResourceChange))


def _new_resource_change(values: tuple[Any, ...]) -> ResourceChange:
    change = object.__new__(ResourceChange)
    for set_slot, value in zip(_CHANGE_SLOTS, values, strict=True):
        set_slot(change, value)
    return change


_MISSING: Any = object()


def _output_change(name: str, change: Any, at: Location, secrets: frozenset[str]) -> OutputChange:
    if not isinstance(change, dict):
        raise at.wrong(change, dict)
    actions = strings(typed(change, "actions", at, list, required=True), at, "actions")
    before_sensitive = check_mask(change.get("before_sensitive", False), at, "before_sensitive")
    after_sensitive = check_mask(change.get("after_sensitive", False), at, "after_sensitive")
    unknown = check_mask(change.get("after_unknown", False), at, "after_unknown")
    before = display_value(change.get("before"), before_sensitive, False, secrets)
    after = display_value(change.get("after"), after_sensitive, unknown, secrets)
    return OutputChange(name=name, actions=actions, before=before, after=after)


def parse_plan(document: Any, source: str, *, scalars_checked: bool = False, depth_checked: bool = False) -> Plan:
    """Build a :class:`Plan` from parsed JSON; raise :class:`PlanError` naming ``source`` and the JSON path.

    A plan without ``resource_changes`` is a plan with no resource changes (Terraform leaves the empty
    list out) only when it is otherwise a whole plan: a supported ``format_version`` and a
    ``planned_values`` object that lists no resource.
    """
    with without_gc():
        return _parse_plan(document, source, scalars_checked=scalars_checked, depth_checked=depth_checked)


def _parse_plan(document: Any, source: str, *, scalars_checked: bool, depth_checked: bool) -> Plan:
    if not isinstance(document, dict):
        raise PlanError(f"{source}: expected a JSON object from `terraform show -json`, got {json_type(document)}")
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
    top = Location(source, "")
    for key, kinds in TOP_LEVEL.items():
        typed(document, key, top, *kinds)
    check_tree(document, source, scalars_checked=scalars_checked, depth_checked=depth_checked)
    if "resource_changes" not in document:
        listed = plan_facts.planned_resources(document["planned_values"].get("root_module"))
        if listed:
            raise (top / "resource_changes").error(
                f"missing, but planned_values lists {listed} resource(s): a cut or edited plan"
            )
    changes_at = top / "resource_changes"
    changes = tuple(_resource_change(e, changes_at / i) for i, e in enumerate(document.get("resource_changes", [])))
    drift = tuple(
        _resource_change(e, top / "resource_drift" / i, drift=True)
        for i, e in enumerate(document.get("resource_drift", []))
    )
    raw_outputs: dict[str, Any] = document.get("output_changes", {})
    secrets: set[str] = set()
    for name, out in raw_outputs.items():
        if isinstance(out, dict):
            at = top / "output_changes" / name
            before_mask = check_mask(out.get("before_sensitive", False), at, "before_sensitive")
            after_mask = check_mask(out.get("after_sensitive", False), at, "after_sensitive")
            secrets.update(marked_strings(out.get("before"), before_mask))
            secrets.update(marked_strings(out.get("after"), after_mask))
    outputs = tuple(
        _output_change(name, change, top / "output_changes" / name, frozenset(secrets))
        for name, change in sorted(raw_outputs.items())
    )
    return Plan(
        source=source,
        format_version=version,
        terraform_version=document.get("terraform_version"),
        changes=changes,
        drift=drift,
        outputs=outputs,
        errored=document.get("errored") is True,
        complete=document.get("complete") is not False,
        applyable=document.get("applyable"),
        deferred=len(document.get("deferred_changes", [])),
        raw_keys=frozenset(document),
        references=plan_facts.references(document.get("configuration")),
        inputs=plan_facts.inputs(document.get("variables"), document.get("configuration")),
        account=plan_facts.own_account(document.get("prior_state"), document.get("configuration")),
        partition=plan_facts.partition(document.get("prior_state")),
    )


def loads_plan(data: bytes | str, source: str) -> Plan:
    """Parse ``terraform show -json`` output; one-line :class:`PlanError` naming ``source`` on bad input."""
    with without_gc():
        document, scalars_checked, depth_checked = decode(data, source)
        return parse_plan(document, source, scalars_checked=scalars_checked, depth_checked=depth_checked)


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
    return loads_plan(data, shown)
