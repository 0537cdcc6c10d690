"""Which parts of a synthesized stack read Kubernetes Secrets when Terraform plans it.

The pipeline's plan role may not read Secrets (threat model row 2: CI reads no secrets; pull requests
assume that role). Planning reads Secrets in two ways:

- refreshing a resource whose state lives in Secrets: a ``helm_release`` (Helm keeps each release's
  record as a Secret in its namespace), a ``kubernetes_secret``/``kubernetes_secret_v1``, or a
  ``kubernetes_manifest`` of kind Secret. ``plan -refresh=false`` skips refreshing, so such a stack
  can still be planned, against the state as last applied;
- reading a data source of a Secret, which Terraform does even with ``-refresh=false``: such a stack
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

# Resource types whose refresh reads a Secret (the helm provider reads the release's record).
SECRET_STATE_RESOURCES = frozenset({"helm_release", "kubernetes_secret", "kubernetes_secret_v1"})
# Data sources that read a Secret whenever the stack is planned.
SECRET_DATA_SOURCES = frozenset({"kubernetes_secret", "kubernetes_secret_v1"})


@dataclass(frozen=True, slots=True)
class SecretReads:
    """What in one stack reads Secrets when planned: on refresh, and on every plan."""

    on_refresh: tuple[str, ...]  # resource addresses
    always: tuple[str, ...]  # data source addresses


def _is_secret_manifest(body: Any) -> bool:
    manifest = body.get("manifest") if isinstance(body, dict) else None
    return isinstance(manifest, dict) and manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1"


def secret_reads(config: dict[str, Any]) -> SecretReads:
    """The addresses in a synthesized stack (``cdk.tf.json`` as loaded) that read Secrets when planned."""
    resources = config.get("resource") or {}
    on_refresh = sorted(
        f"{kind}.{name}"
        for kind, by_name in resources.items()
        for name, body in (by_name or {}).items()
        if kind in SECRET_STATE_RESOURCES or (kind == "kubernetes_manifest" and _is_secret_manifest(body))
    )
    data = config.get("data") or {}
    always = sorted(f"data.{kind}.{name}" for kind in SECRET_DATA_SOURCES for name in (data.get(kind) or {}))
    return SecretReads(tuple(on_refresh), tuple(always))


def stack_secret_reads(stack_dir: Path) -> SecretReads:
    """:func:`secret_reads` of the stack synthesized in ``stack_dir``."""
    path = stack_dir / "cdk.tf.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read as a synthesized stack: {exc}; run `qualisys-infra synth`") from None
    return secret_reads(config if isinstance(config, dict) else {})


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
    """How one stack is planned: refreshed or not, and the resources targeted and left out."""

    refresh: bool = True
    targets: tuple[str, ...] = ()  # empty: the whole stack
    left_out: tuple[str, ...] = ()


NO_REFRESH = "--no-secret-reads"
LEAVE_OUT = "--leave-out-secret-readers"


def plan_scope(stack: str, stack_dir: Path, option: str | None) -> PlanScope:
    """The scope of ``stack``'s plan under ``option`` (:data:`NO_REFRESH`, :data:`LEAVE_OUT` or None:
    the identity may read Secrets, so everything is planned and refreshed)."""
    if option is None:
        return PlanScope()
    reads = stack_secret_reads(stack_dir)
    if refresh_without_secrets(stack, reads, option):
        return PlanScope()
    if option == NO_REFRESH:
        return PlanScope(refresh=False)
    config = json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))
    targets, left_out = leave_out(config, reads)
    return PlanScope(targets=targets, left_out=left_out)


# A reference to a resource in a synthesized expression or depends_on: `type.name` (no data. prefix).
_REFERENCE = re.compile(r"(?<![\w.-])([a-z][a-z0-9_]*\.[A-Za-z_][\w-]*)")


def leave_out(config: dict[str, Any], reads: SecretReads) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(targets, left_out)`` of a stack: ``left_out`` is every resource whose refresh reads Secrets
    and every resource that refers to one of them, directly or through others; ``targets`` the rest."""
    resources = config.get("resource") or {}
    refers: dict[str, set[str]] = {
        f"{kind}.{name}": set(_REFERENCE.findall(json.dumps(body)))
        for kind, by_name in resources.items()
        for name, body in (by_name or {}).items()
    }
    out = set(reads.on_refresh)
    grown = True
    while grown:
        more = {address for address, targets in refers.items() if address not in out and targets & out}
        grown = bool(more)
        out |= more
    return tuple(sorted(set(refers) - out)), tuple(sorted(out))
