"""Check a Terraform JSON configuration against the provider schemas of the installed bindings.

Every key of every resource, data source, ephemeral resource, provider and backend block must
exist in the schema; every value must have a shape the schema allows (block or attribute, list
or map, number, string or bool where the binding types it); required attributes must be there.
A ``${...}`` (or ``%{...}``) string is an expression that may stand for any value, so it is
accepted anywhere a value goes. Meta-arguments (``count``, ``for_each``, ``depends_on``,
``lifecycle``, ``provider``, ``provisioner``, ``connection``, ``//``) are Terraform's own and
allowed on every resource; ``lifecycle.ignore_changes`` must name attributes of the resource.

Levels the binding leaves untyped (``any``, maps of ``any``) and blocks of providers with no
binding installed are not guessed at: they are listed as untyped levels, not failures.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.progress import Progress
from qualisys_infra.core.templates import live_template_sequence
from qualisys_infra.gates.schema.index import (
    Block,
    SchemaIndex,
    Shape,
    ensure_indexes,
    package_for,
    snake_case,
)

META_ARGUMENTS = frozenset(
    {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection", "//"}
)
PROVIDER_META_ARGUMENTS = frozenset({"alias", "version", "//"})
LIFECYCLE_KEYS = frozenset(
    {
        "create_before_destroy",
        "prevent_destroy",
        "ignore_changes",
        "replace_triggered_by",
        "precondition",
        "postcondition",
    }
)
DYNAMIC_KEYS = frozenset({"for_each", "iterator", "labels", "content"})
# Terraform's built-in provider: no binding describes these, so they are written out here.
_REMOTE_STATE: Block = {
    "backend": (True, "string"),
    "config": (False, ("map", "any")),
    "defaults": (False, ("map", "any")),
    "workspace": (False, "string"),
}
_TERRAFORM_DATA: Block = {"input": (False, "any"), "triggers_replace": (False, "any")}
_BUILTIN: dict[tuple[str, str], Block] = {
    ("data", "terraform_remote_state"): _REMOTE_STATE,
    ("resource", "terraform_data"): _TERRAFORM_DATA,
}
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")
_EXACT_VERSION = re.compile(r"\s*=?\s*v?(\d+\.\d+\.\d+)\s*")
_KIND_WORDS = {"resource": "resource type", "data": "data source", "ephemeral": "ephemeral resource type"}


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One key or value the provider's schema does not allow, located as precisely as the JSON allows."""

    stack: str
    address: str
    construct_path: str
    attribute: str
    message: str

    def __str__(self) -> str:
        where = f"{self.construct_path} ({self.address})" if self.construct_path else self.address
        parts = [p for p in (self.stack, where, self.attribute) if p]
        return ": ".join([*parts, self.message])


@dataclass(frozen=True, slots=True)
class UntypedLevel:
    """A level of the configuration no schema describes: it is passed on unchecked."""

    stack: str
    address: str
    construct_path: str
    attribute: str
    reason: str

    @property
    def pattern(self) -> str:
        """``aws_wafv2_web_acl.rule[*].statement``: the address's type and the attribute, indices folded."""
        parts = self.address.split(".")
        kind = parts[0] + "." if parts[0] in ("data", "ephemeral", "provider", "terraform") else ""
        type_ = parts[1] if kind else parts[0]
        attribute = re.sub(r"\[\d+\]", "[*]", re.sub(r'\["[^"]*"\]', '["*"]', self.attribute))
        return f"{kind}{type_}" + (f".{attribute}" if attribute else "")

    def __str__(self) -> str:
        where = f"{self.construct_path} ({self.address})" if self.construct_path else self.address
        parts = [p for p in (self.stack, where, self.attribute) if p]
        return ": ".join([*parts, self.reason])


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What a check found: violations (failures), untyped levels and notes (neither fails)."""

    violations: tuple[SchemaViolation, ...] = ()
    untyped: tuple[UntypedLevel, ...] = ()
    notes: tuple[str, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    @staticmethod
    def merge(reports: Iterable[SchemaReport]) -> SchemaReport:
        reports = list(reports)
        return SchemaReport(
            violations=tuple(v for r in reports for v in r.violations),
            untyped=tuple(u for r in reports for u in r.untyped),
            notes=tuple(dict.fromkeys(n for r in reports for n in r.notes)),
            checked=sum(r.checked for r in reports),
        )

    def raise_for_violations(self) -> None:
        """Raise :class:`SchemaError` when there is a violation."""
        if self.violations:
            raise SchemaError(self.violations)


class SchemaError(ToolkitError):
    """A Terraform configuration uses a name or a shape its provider's schema does not allow."""

    exit_code = 1

    def __init__(self, violations: Iterable[SchemaViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("\n".join(str(v) for v in self.violations))

    def lines(self) -> list[str]:
        return [str(v) for v in self.violations]


def is_expression(value: str) -> bool:
    """A JSON string Terraform evaluates as a template: it may stand for any type.

    ``$${`` and ``%%{`` are escapes: a string holding only those is a literal string.
    """
    return live_template_sequence(value) is not None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "an object"


def _objects(value: Any) -> Iterator[dict[str, Any]] | None:
    """The objects of a JSON level Terraform allows as an object or a list of objects."""
    if isinstance(value, dict):
        return iter([value])
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return iter(value)
    return None


def _source(required: Mapping[str, Any], local: str) -> tuple[str, str]:
    """``(namespace, type)`` of a provider local name, from ``required_providers`` (default hashicorp)."""
    entry = required.get(local)
    source = entry.get("source") if isinstance(entry, dict) else None
    if not isinstance(source, str) or not source:
        return "hashicorp", local
    parts = source.lower().split("/")
    return (parts[-2] if len(parts) >= 2 else "hashicorp"), parts[-1]


@dataclass
class _Where:
    address: str
    construct_path: str = ""


@dataclass
class _Checker:
    stack: str
    cache_dir: Path | None
    progress: Progress | None
    violations: list[SchemaViolation] = field(default_factory=list)
    untyped: list[UntypedLevel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0
    required_providers: dict[str, Any] = field(default_factory=dict)
    _indexes: dict[tuple[str, str], SchemaIndex | None] = field(default_factory=dict)

    # --- reporting ---

    def fail(self, where: _Where, attribute: str, message: str) -> None:
        self.violations.append(SchemaViolation(self.stack, where.address, where.construct_path, attribute, message))

    def skip(self, where: _Where, attribute: str, reason: str) -> None:
        self.untyped.append(UntypedLevel(self.stack, where.address, where.construct_path, attribute, reason))

    # --- which schema ---

    def index(self, local: str) -> tuple[SchemaIndex | None, str]:
        """The index for a provider local name, or None and the reason there is none."""
        namespace, type_ = _source(self.required_providers, local)
        key = (namespace, type_)
        if key not in self._indexes:
            package = package_for(type_)
            found = ensure_indexes([package], cache_dir=self.cache_dir, progress=self.progress).get(package)
            if found is not None and found.provider_source.split("/")[0].lower() != namespace:
                found = None
            self._indexes[key] = found
            if found is not None:
                self._note_version(local, found)
        found = self._indexes[key]
        reason = "" if found else f"no schema: no cdktn binding installed for provider {namespace}/{type_}"
        return found, reason

    def _note_version(self, local: str, index: SchemaIndex) -> None:
        entry = self.required_providers.get(local)
        wanted = entry.get("version") if isinstance(entry, dict) else entry
        match = _EXACT_VERSION.fullmatch(wanted) if isinstance(wanted, str) else None
        if match and match.group(1) != index.provider_version:
            self.notes.append(
                f"provider {local}: the configuration pins {match.group(1)}; the schema checked is that of "
                f"{index.provider_version} ({index.label})"
            )

    # --- the configuration's levels ---

    def read_required_providers(self, config: Mapping[str, Any]) -> None:
        for block in _objects(config.get("terraform", {})) or ():
            for entry in _objects(block.get("required_providers", {})) or ():
                self.required_providers.update(entry)

    def config(self, config: Mapping[str, Any]) -> None:
        terraform = list(_objects(config.get("terraform", {})) or ())
        self.read_required_providers(config)
        # Load (or extract, in parallel) every schema this configuration needs at once.
        packages = {package_for(_source(self.required_providers, local)[1]) for local in _local_names(config)}
        ensure_indexes(sorted(packages | {"cdktn"}), cache_dir=self.cache_dir, progress=self.progress)
        for kind in ("resource", "data", "ephemeral"):
            if kind in config:
                self.typed_blocks(kind, config[kind])
        if "provider" in config:
            self.providers(config["provider"])
        if "terraform" in config:
            if not terraform:
                self.fail(_Where("terraform"), "", f"expected an object, got {_describe(config['terraform'])}")
            for block in terraform:
                self.backends(block)

    def typed_blocks(self, kind: str, value: Any) -> None:
        prefix = "" if kind == "resource" else f"{kind}."
        by_type = _objects(value)
        if by_type is None:
            self.fail(_Where(kind), "", f"expected an object of {kind} types, got {_describe(value)}")
            return
        for types in by_type:
            for type_name, named in types.items():
                by_name = _objects(named)
                if by_name is None:
                    self.fail(
                        _Where(f"{prefix}{type_name}"), "", f"expected an object of names, got {_describe(named)}"
                    )
                    continue
                for names in by_name:
                    for name, body in names.items():
                        self.typed_block(kind, type_name, f"{prefix}{type_name}.{name}", body)

    def typed_block(self, kind: str, type_name: str, address: str, bodies: Any) -> None:
        objects = _objects(bodies)
        if objects is None:
            self.fail(_Where(address), "", f"expected a block (an object), got {_describe(bodies)}")
            return
        for body in objects:
            where = _Where(address, _construct_path(body))
            self.checked += 1
            builtin = _BUILTIN.get((kind, type_name))
            local = _provider_local_name(body.get("provider"), type_name)
            if builtin is not None or local == "terraform":
                if builtin is None:
                    names = [n for (k, n) in _BUILTIN if k == kind]
                    self.fail(where, "", f"unknown {_KIND_WORDS[kind]} {type_name!r}{_closest(type_name, names)}")
                    continue
                if type_name == "terraform_remote_state":
                    # config is the named backend's: checked against it below. defaults are values
                    # for the outputs read, whatever they are.
                    self.body(
                        builtin, {k: v for k, v in body.items() if k not in ("config", "defaults")}, where, "", top=True
                    )
                    self.remote_state(body, where)
                else:
                    self.body(builtin, body, where, "", top=True)
                continue
            index, reason = self.index(local)
            if index is None:
                self.skip(where, "", reason)
                continue
            block = index.block(kind, type_name)
            if block is None:
                names = sorted(index.names(kind))
                self.fail(
                    where, "", f"unknown {_KIND_WORDS[kind]} {type_name!r} in {index.label}{_closest(type_name, names)}"
                )
                continue
            self.body(block, body, where, "", top=True, index=index, kind=kind, type_name=type_name)

    def remote_state(self, body: Mapping[str, Any], where: _Where) -> None:
        backend, config = body.get("backend"), body.get("config")
        if config is None or (isinstance(config, str) and is_expression(config)):
            return
        if not isinstance(config, dict):
            self.fail(where, "config", f"expected a map (an object), got {_describe(config)}")
            return
        core, reason = self.core()
        if not isinstance(backend, str) or is_expression(backend) or core is None:
            self.skip(where, "config", reason or "untyped: the backend is known only when Terraform runs")
            return
        block = core.block("backend", backend)
        if block is None:
            names = sorted(core.names("backend"))
            self.fail(where, "backend", f"unknown backend {backend!r}{_closest(backend, names)}")
            return
        self.body(block, config, where, "config", top=False)

    def core(self) -> tuple[SchemaIndex | None, str]:
        key = ("builtin", "terraform")
        if key not in self._indexes:
            self._indexes[key] = ensure_indexes(["cdktn"], cache_dir=self.cache_dir, progress=self.progress).get(
                "cdktn"
            )
        found = self._indexes[key]
        return found, "" if found else "no schema: the cdktn package is not installed"

    def providers(self, value: Any) -> None:
        by_name = _objects(value)
        if by_name is None:
            self.fail(_Where("provider"), "", f"expected an object of providers, got {_describe(value)}")
            return
        for providers in by_name:
            for local, bodies in providers.items():
                objects = _objects(bodies)
                if objects is None:
                    self.fail(_Where(f"provider.{local}"), "", f"expected a block (an object), got {_describe(bodies)}")
                    continue
                for body in objects:
                    alias = body.get("alias")
                    where = _Where(f"provider.{local}" + (f".{alias}" if isinstance(alias, str) else ""))
                    self.checked += 1
                    index, reason = self.index(local)
                    if index is None:
                        self.skip(where, "", reason)
                        continue
                    block = index.block("provider", index.provider)
                    if block is None:
                        self.skip(where, "", f"no schema: {index.label} describes no provider block")
                        continue
                    self.body(block, body, where, "", top=True, meta=PROVIDER_META_ARGUMENTS)

    def backends(self, terraform: Mapping[str, Any]) -> None:
        sections: list[tuple[str, str, Any]] = []
        backend = terraform.get("backend")
        if backend is not None:
            for named in _objects(backend) or ():
                sections += [(name, f"terraform.backend.{name}", body) for name, body in named.items()]
            if _objects(backend) is None:
                self.fail(_Where("terraform.backend"), "", f"expected an object, got {_describe(backend)}")
        if "cloud" in terraform:
            sections.append(("cloud", "terraform.cloud", terraform["cloud"]))
        for name, address, bodies in sections:
            core, reason = self.core()
            where = _Where(address)
            objects = _objects(bodies)
            if objects is None:
                self.fail(where, "", f"expected a block (an object), got {_describe(bodies)}")
                continue
            for body in objects:
                self.checked += 1
                if core is None:
                    self.skip(where, "", reason)
                    continue
                block = core.block("backend", name)
                if block is None:
                    names = sorted(core.names("backend"))
                    self.fail(where, "", f"unknown backend {name!r}{_closest(name, names)}")
                    continue
                # Backends may be configured partially, the rest given to `terraform init -backend-config`.
                self.body(block, body, where, "", top=False, check_required=False)

    # --- blocks and values ---

    def body(
        self,
        block: Block,
        value: Mapping[str, Any],
        where: _Where,
        path: str,
        *,
        top: bool,
        meta: frozenset[str] = META_ARGUMENTS,
        index: SchemaIndex | None = None,
        kind: str = "",
        type_name: str = "",
        check_required: bool = True,
    ) -> None:
        from_dynamic: set[str] = set()
        for key, item in value.items():
            attribute = f"{path}.{key}" if path else key
            if key == "//":
                continue
            if key in block:
                self.value(block[key][1], item, where, attribute)
            elif top and key in meta:
                if key == "lifecycle":
                    self.lifecycle(block, item, where)
            elif key == "dynamic":
                from_dynamic |= self.dynamic(block, item, where, attribute)
            else:
                self.fail(where, attribute, self.unknown(key, block, index, kind, type_name, top=top))
        if not check_required:
            return
        for name, (required, _) in block.items():
            if required and value.get(name) is None and name not in from_dynamic:
                self.fail(where, f"{path}.{name}" if path else name, "missing required attribute")

    def unknown(
        self, key: str, block: Block, index: SchemaIndex | None, kind: str, type_name: str, *, top: bool
    ) -> str:
        snake = snake_case(key)
        if snake != key and snake in block:
            return f"unknown attribute (camelCase?); Terraform's name is {snake!r}"
        message = "unknown attribute" + _closest(key, block)
        if top and index is not None and kind:
            owners = _neighbours_with(index, kind, type_name, key)
            if owners:
                message += f" ({key!r} is an attribute of {', '.join(owners)})"
        return message

    def lifecycle(self, block: Block, value: Any, where: _Where) -> None:
        for body in _objects(value) or ():
            for key, item in body.items():
                if key not in LIFECYCLE_KEYS and key != "//":
                    self.fail(where, f"lifecycle.{key}", "unknown lifecycle argument" + _closest(key, LIFECYCLE_KEYS))
                elif key == "ignore_changes" and isinstance(item, list):
                    for i, entry in enumerate(item):
                        if not isinstance(entry, str) or is_expression(entry) or entry == "all":
                            continue
                        head = re.split(r"[.\[]", entry, maxsplit=1)[0]
                        if head not in block:
                            self.fail(
                                where,
                                f"lifecycle.ignore_changes[{i}]",
                                f"{entry!r} names no attribute of this block{_closest(head, block)}",
                            )

    def dynamic(self, block: Block, value: Any, where: _Where, attribute: str) -> set[str]:
        names: set[str] = set()
        for dynamics in _objects(value) or ():
            for name, spec in dynamics.items():
                shape = block.get(name, (False, ""))[1]
                target = shape[1] if isinstance(shape, tuple) and shape[0] == "list" else shape
                if not (isinstance(target, tuple) and target[0] == "object"):
                    self.fail(where, f"{attribute}.{name}", "dynamic block of no nested block" + _closest(name, block))
                    continue
                names.add(name)
                for body in _objects(spec) or ():
                    for key in body:
                        if key not in DYNAMIC_KEYS:
                            self.fail(where, f"{attribute}.{name}.{key}", "unknown dynamic-block argument")
                    content = body.get("content")
                    if isinstance(content, dict):
                        self.body(target[1], content, where, f"{attribute}.{name}.content", top=False)
        return names

    def value(self, shape: Shape, value: Any, where: _Where, attribute: str) -> None:
        if value is None or (isinstance(value, str) and is_expression(value)):
            return
        if shape == "any":
            self.skip(where, attribute, "untyped: the binding types this level as any")
            return
        if isinstance(shape, str):
            problem = _primitive_problem(shape, value)
            if problem:
                self.fail(where, attribute, problem)
            return
        kind, inner = shape
        if kind == "list":
            self.list_value(inner, value, where, attribute)
        elif kind == "map":
            if not isinstance(value, dict):
                self.fail(where, attribute, f"expected a map (an object), got {_describe(value)}")
            elif inner == "any":
                self.skip(where, attribute, "untyped: the binding types this map's values as any")
            else:
                for key, item in value.items():
                    self.value(inner, item, where, f'{attribute}["{key}"]')
        elif kind == "object":
            self.object_value(inner, value, where, attribute)
        else:
            self.union_value(inner, value, where, attribute)

    def list_value(self, inner: Shape, value: Any, where: _Where, attribute: str) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.value(inner, item, where, f"{attribute}[{i}]")
        elif isinstance(value, dict) and isinstance(inner, tuple) and inner[0] == "object":
            # Terraform's JSON syntax takes a single object for one block of a list of blocks.
            self.object_value(inner[1], value, where, attribute)
        else:
            expected = "a list of blocks" if isinstance(inner, tuple) and inner[0] == "object" else "a list"
            self.fail(where, attribute, f"expected {expected}, got {_describe(value)}")

    def object_value(self, block: Block, value: Any, where: _Where, attribute: str) -> None:
        if isinstance(value, dict):
            self.body(block, value, where, attribute, top=False)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            if len(value) > 1:
                self.fail(where, attribute, f"at most one block allowed, got {len(value)}")
            for i, item in enumerate(value):
                self.body(block, item, where, f"{attribute}[{i}]", top=False)
        else:
            self.fail(where, attribute, f"expected a block (an object), got {_describe(value)}")

    def union_value(self, shapes: tuple[Shape, ...], value: Any, where: _Where, attribute: str) -> None:
        for shape in shapes:
            trial = _Checker(self.stack, self.cache_dir, self.progress)
            trial.value(shape, value, where, attribute)
            if not trial.violations:
                self.untyped += trial.untyped
                return
        self.fail(where, attribute, f"no allowed shape fits {_describe(value)}")


def _primitive_problem(shape: str, value: Any) -> str:
    """Why ``value`` cannot be converted to ``shape`` by Terraform, or ''."""
    if isinstance(value, dict | list):
        return f"expected a {shape} (an attribute), got {_describe(value)}"
    if shape == "number":
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER.fullmatch(value) is not None
        )
        return "" if ok else f"expected a number, got {_describe(value)}"
    if shape == "bool":
        ok = isinstance(value, bool) or value in ("true", "false")
        return "" if ok else f"expected a bool, got {_describe(value)}"
    return ""


def _closest(name: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the nearest valid name, or '' when nothing is near."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def _neighbours_with(index: SchemaIndex, kind: str, type_name: str, key: str) -> list[str]:
    """Sibling types (same service prefix, e.g. ``aws_s3_``) whose schema has ``key``."""
    head = "_".join(type_name.split("_")[:2]) + "_"
    siblings = [n for n in sorted(index.names(kind)) if n != type_name and (n + "_").startswith(head)]
    owners = []
    for sibling in siblings[:200]:
        block = index.block(kind, sibling)
        if block is not None and key in block:
            owners.append(sibling)
    return owners[:3]


def _local_names(config: Mapping[str, Any]) -> set[str]:
    """Every provider local name the configuration's blocks use."""
    names: set[str] = set()
    for kind in ("resource", "data", "ephemeral"):
        for types in _objects(config.get(kind, {})) or ():
            for type_name, named in types.items():
                for names_ in _objects(named) or ():
                    for body in names_.values():
                        for one in _objects(body) or ():
                            names.add(_provider_local_name(one.get("provider"), type_name))
    for providers in _objects(config.get("provider", {})) or ():
        names.update(providers)
    names.discard("terraform")
    return names


def _construct_path(body: Mapping[str, Any]) -> str:
    meta = body.get("//")
    metadata = meta.get("metadata") if isinstance(meta, dict) else None
    path = metadata.get("path") if isinstance(metadata, dict) else None
    return path if isinstance(path, str) else ""


def _provider_local_name(provider: Any, type_name: str) -> str:
    """The provider local name a block uses: its ``provider`` meta-argument, else its type's prefix."""
    if isinstance(provider, str) and provider:
        return provider.removeprefix("${").removesuffix("}").split(".")[0]
    return type_name.split("_", 1)[0]


def check_config(
    config: Mapping[str, Any], stack: str = "", *, cache_dir: Path | None = None, progress: Progress | None = None
) -> SchemaReport:
    """Check one Terraform JSON configuration (a parsed ``cdk.tf.json`` or ``*.tf.json``).

    ``stack`` names it in every violation. Schemas load from the cache (extracted on first use;
    ``progress`` hears about that). Never raises for what it finds: see :class:`SchemaReport`.
    """
    checker = _Checker(stack, cache_dir, progress)
    checker.config(config)
    return SchemaReport(tuple(checker.violations), tuple(checker.untyped), tuple(checker.notes), checker.checked)


def check_configs(
    configs: Mapping[str, Mapping[str, Any]], *, cache_dir: Path | None = None, progress: Progress | None = None
) -> SchemaReport:
    """:func:`check_config` over ``{stack: config}``, merged in the order given."""
    packages: set[str] = {"cdktn"}
    for config in configs.values():
        required = _Checker("", None, None)
        required.read_required_providers(config)
        packages |= {package_for(_source(required.required_providers, n)[1]) for n in _local_names(config)}
    ensure_indexes(sorted(packages), cache_dir=cache_dir, progress=progress)
    return SchemaReport.merge(
        check_config(config, stack, cache_dir=cache_dir, progress=progress) for stack, config in configs.items()
    )


def assert_matches_provider_schema(config: dict[str, Any], stack: str = "") -> None:
    """Fail (``AssertionError``) when ``config`` breaks its providers' schemas, one line per violation."""
    report = check_config(config, stack)
    if report.violations:
        count = len(report.violations)
        lines = "\n".join(f"  {v}" for v in report.violations)
        label = f"{stack}: " if stack else ""
        raise AssertionError(f"{label}{count} provider-schema violation{'s' if count > 1 else ''}:\n{lines}")
