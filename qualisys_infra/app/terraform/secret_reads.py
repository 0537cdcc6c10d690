"""Which parts of a synthesized stack read Kubernetes Secrets when Terraform plans it.

The pipeline's plan role may not read Secrets (threat model row 2: CI reads no secrets; pull requests
assume that role). Planning reads Secrets in two ways:

- refreshing a resource whose state lives in Secrets: a ``helm_release`` (Helm keeps each release's
  record as a Secret in its namespace), a ``kubernetes_secret``/``kubernetes_secret_v1``, or a
  ``kubernetes_manifest`` of kind Secret. ``plan -refresh=false`` skips refreshing, so such a stack
  can still be planned, against the state as last applied;
- reading a data source of a Secret, which Terraform does even with ``-refresh=false``: such a stack
  cannot be planned without reading Secrets at all.
"""

from __future__ import annotations

import json
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


def refresh_without_secrets(stack: str, reads: SecretReads) -> bool:
    """Whether ``stack`` can be refreshed without reading Secrets (True), or must be planned with
    ``-refresh=false`` (False); refuses a stack whose data sources read Secrets on every plan."""
    if reads.always:
        raise UsageError(
            f"--no-secret-reads: stack {stack} reads Secrets on every plan ({', '.join(reads.always)}),"
            " with or without refresh; plan it with an identity that may read them, or drop the data source"
        )
    return not reads.on_refresh
