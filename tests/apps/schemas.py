"""Kubernetes objects checked against the real schemas, offline: built-in kinds with
``kubernetes-validate`` (Kubernetes' own OpenAPI schemas, of the schema version the lifecycle table
gives the cluster's minor: qualisys_infra/core/lifecycle.py), Argo Rollouts' kinds with the
``openAPIV3Schema`` of the CRDs its chart installs (vendored from the pinned chart,
tests/fixtures/argo-rollouts/SOURCES.md)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from qualisys_infra.core.lifecycle import kubernetes_minor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "argo-rollouts"
CRD_FILES = {"Rollout": "rollout-crd.yaml", "AnalysisTemplate": "analysis-template-crd.yaml"}
# Kinds of other CRDs whose schema is not vendored: checked by the tests that build them.
UNCHECKED_KINDS = frozenset({"PodMonitor"})


@functools.cache
def _crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((FIXTURES / CRD_FILES[kind]).read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused, as the API server's structural pruning (with
    `kubectl apply --validate=strict`) would: a misspelled field must fail, not vanish."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def validate(obj: dict[str, Any], kubernetes_version: str) -> None:
    """Raise when ``obj`` is not a valid object of its kind (unknown fields included)."""
    kind = obj.get("kind")
    if kind in CRD_FILES:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        schema = _strict(_crd_schema(str(kind)))
        schema = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k not in ("status",)}}
        schema["properties"].pop("apiVersion", None)
        schema["properties"].pop("kind", None)
        schema["properties"].pop("metadata", None)
        jsonschema.validate(body, schema)
        return
    if kind in UNCHECKED_KINDS:
        return
    kubernetes_validate.validate(obj, f"{schema_version(kubernetes_version)}.0", strict=True)


def schema_version(kubernetes_version: str) -> str:
    """The Kubernetes schema version the tests validate a cluster of ``kubernetes_version`` against:
    the lifecycle table's entry for its minor (the minor itself while kubernetes-validate has it)."""
    row = kubernetes_minor(kubernetes_version)
    if row is None or row.schema_version is None:
        raise LookupError(f"no schema version for Kubernetes {kubernetes_version} in the lifecycle table")
    return row.schema_version
