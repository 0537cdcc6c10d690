"""Which parts of a synthesized stack read Kubernetes Secrets when Terraform plans it.

The pipeline's plan role may not read Secrets (threat model row 2: CI reads no secrets; pull requests
assume that role). Planning reads Secrets in two ways:

- refreshing a resource whose state lives in Secrets: a ``helm_release`` (Helm keeps each release's
  record as a Secret in its namespace), a Secret of the kubernetes provider, or a manifest, labels or
  annotations of kind Secret (:data:`SECRET_STATE_RESOURCES`, :data:`OBJECT_RESOURCES`).
  ``plan -refresh=false`` skips refreshing, so such a stack can still be planned, against the state
  as last applied;
- reading a data source of a Secret (:data:`SECRET_DATA_SOURCES`, :data:`OBJECT_DATA_SOURCES`),
  which Terraform does even with ``-refresh=false``: such a stack
  cannot be planned without reading Secrets at all.

A drift check wants the opposite trade: refresh everything it may read. :func:`leave_out` finds what
to target instead: every resource but those whose refresh reads Secrets and those that refer to them
(``-target`` would otherwise pull them back in as dependencies).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import read_json

# Resource types whose refresh reads a Secret (the helm provider reads the release's record).
SECRET_STATE_RESOURCES = frozenset(
    {"helm_release", "kubernetes_secret", "kubernetes_secret_v1", "kubernetes_secret_v1_data"}
)
# Resource types that read any object they are given, a Secret when its kind is Secret.
OBJECT_RESOURCES = frozenset({"kubernetes_manifest", "kubernetes_labels", "kubernetes_annotations"})
# Data sources that read a Secret whenever the stack is planned; and those that do when asked for one.
SECRET_DATA_SOURCES = frozenset({"kubernetes_secret", "kubernetes_secret_v1"})
OBJECT_DATA_SOURCES = frozenset({"kubernetes_resource", "kubernetes_resources"})


@dataclass(frozen=True, slots=True)
class SecretReads:
    """What in one stack reads Secrets when planned: on refresh, and on every plan."""

    on_refresh: tuple[str, ...]  # resource addresses
    always: tuple[str, ...]  # data source addresses


def _names_a_secret(body: Any) -> bool:
    """A kubernetes_manifest of a Secret, or a labels/annotations/resource(s) block of kind Secret."""
    if not isinstance(body, dict):
        return False
    manifest = body.get("manifest")
    if isinstance(manifest, dict):
        return manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1"
    return body.get("kind") == "Secret" and body.get("api_version") in ("v1", None)


def _addresses(blocks: Any, prefix: str, kinds: frozenset[str], objects: frozenset[str]) -> list[str]:
    return sorted(
        f"{prefix}{kind}.{name}"
        for kind, by_name in (blocks or {}).items()
        for name, body in (by_name or {}).items()
        if kind in kinds or (kind in objects and _names_a_secret(body))
    )


def secret_reads(config: dict[str, Any]) -> SecretReads:
    """The addresses in a synthesized stack (``cdk.tf.json`` as loaded) that read Secrets when planned."""
    on_refresh = _addresses(config.get("resource"), "", SECRET_STATE_RESOURCES, OBJECT_RESOURCES)
    always = _addresses(config.get("data"), "data.", SECRET_DATA_SOURCES, OBJECT_DATA_SOURCES)
    return SecretReads(tuple(on_refresh), tuple(always))


def refresh_without_secrets(stack: str, reads: SecretReads, option: str = "--no-secret-reads") -> bool:
    """Whether ``stack`` can be refreshed without reading Secrets (True), or must be planned with
    ``-refresh=false`` (False); refuses a stack whose data sources read Secrets on every plan."""
    if reads.always:
        raise UsageError(
            f"{option}: stack {stack} reads Secrets on every plan ({', '.join(reads.always)}),"
            " with or without refresh; plan it with an identity that may read them, or drop the data source"
        )
    return not reads.on_refresh


@dataclass(frozen=True, slots=True)
class PlanScope:
    """How one stack is planned: refreshed or not, and the resources targeted and left out.

    Kept beside the plan JSON as ``<stack>.scope`` (JSON; not ``*.json``, so globs of plan files
    miss it) whenever it is not the default, so every later review of that JSON says the same."""

    refresh: bool = True
    targets: tuple[str, ...] = ()  # empty: the whole stack
    left_out: tuple[str, ...] = ()

    def record(self) -> str:
        return json.dumps({"refreshed": self.refresh, "left_out": list(self.left_out)}) + "\n"


WHOLE = PlanScope()  # refreshed, nothing left out: what an identity that may read Secrets plans


def scope_file(plan_json: Path) -> Path:
    """Where the scope of the plan ``plan_json`` is kept (absent: refreshed, nothing left out)."""
    return plan_json.with_suffix(".scope")


def read_scope(plan_json: Path) -> PlanScope:
    """The scope recorded beside ``plan_json``; a damaged record is bad input (exit 2)."""
    path = scope_file(plan_json)
    if not path.exists() and not path.is_symlink():
        return WHOLE
    # a record is two levels deep: deeper is damage, refused before any walk of it
    record = read_json(path, hint="not a plan scope record; run `qualisys-infra plan` again", max_depth=2)
    refreshed = record.get("refreshed") if isinstance(record, dict) else None
    left_out = record.get("left_out") if isinstance(record, dict) else None
    if (
        not isinstance(refreshed, bool)
        or not isinstance(left_out, list)
        or not all(isinstance(a, str) for a in left_out)
    ):
        raise UsageError(
            f"{path}: not a plan scope record (expected refreshed: true|false and left_out: [addresses]);"
            " run `qualisys-infra plan` again"
        )
    return PlanScope(refresh=refreshed, left_out=tuple(left_out))


NO_REFRESH = "--no-secret-reads"
LEAVE_OUT = "--leave-out-secret-readers"


def plan_scope(stack: str, config: dict[str, Any], option: str | None) -> PlanScope:
    """The scope of ``stack``'s plan (``config``: its ``cdk.tf.json`` as loaded) under ``option``
    (:data:`NO_REFRESH`, :data:`LEAVE_OUT` or None: the identity may read Secrets, so everything is
    planned and refreshed)."""
    if option is None:
        return WHOLE
    reads = secret_reads(config)
    if refresh_without_secrets(stack, reads, option):
        return WHOLE
    if option == NO_REFRESH:
        return PlanScope(refresh=False)
    targets, left_out = leave_out(config, reads)
    if not targets:  # no -target at all would refresh everything: plan it as --no-secret-reads does
        return PlanScope(refresh=False)
    return PlanScope(targets=targets, left_out=left_out)


# A reference in a synthesized expression or depends_on: `type.name`, `data.type.name`, `local.name`
# or `module.name` (whatever follows is an attribute).
_REFERENCE = re.compile(r"(?<![\w.-])((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][\w-]*)")


def _nodes(config: dict[str, Any]) -> dict[str, Any]:
    """Every object of a stack that others can refer to, by its address, with its body."""
    nodes: dict[str, Any] = {}
    for prefix, key in (("", "resource"), ("data.", "data")):
        for kind, by_name in (config.get(key) or {}).items():
            nodes.update({f"{prefix}{kind}.{name}": body for name, body in (by_name or {}).items()})
    nodes.update({f"local.{name}": body for name, body in (config.get("locals") or {}).items()})
    nodes.update({f"module.{name}": body for name, body in (config.get("module") or {}).items()})
    return nodes


def _references(body: Any) -> set[str]:
    """Every reference in the keys and strings of ``body``, walked without recursion (a stack's JSON
    may nest as deep as its author likes)."""
    found: set[str] = set()
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.update(_REFERENCE.findall(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def leave_out(config: dict[str, Any], reads: SecretReads) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(targets, left_out)`` of a stack: ``left_out`` is every resource or module whose refresh reads
    Secrets or that refers to one, directly or through others (data sources and locals included, since
    ``-target`` pulls in everything a target depends on); ``targets`` the other resources and modules."""
    refers = {address: _references(body) for address, body in _nodes(config).items()}
    out = set(reads.on_refresh)
    grown = True
    while grown:
        more = {address for address, targets in refers.items() if address not in out and targets & out}
        grown = bool(more)
        out |= more
    targetable = {a for a in refers if not a.startswith(("data.", "local."))}
    return tuple(sorted(targetable - out)), tuple(sorted(targetable & out))
