"""Every reference from an environment's Helm values and Kubernetes objects to a cluster object, and
every object some stack, chart, add-on, EKS or Kubernetes creates: read from synthesized Terraform JSON.

References are found by the field that holds them, wherever it sits (a pod template inside a Rollout,
a chart's values): ``storageClassName``, ``serviceAccountName``, ``secretName``, ``secretKeyRef``,
``configMap``, ``priorityClassName``, ``ingressClassName``, Argo Rollouts' services and templates,
Ingress backends, ``namespace`` and namespace selectors, in-cluster URLs (``http://svc.ns.svc:port``),
IRSA trust subjects (``system:serviceaccount:ns:name``), every object's ``apiVersion``/``kind``,
monitors a chart's values turn on, and the resource metrics an HPA reads. Both spellings count: the
Kubernetes API's camelCase (manifests, values) and the kubernetes provider's snake_case.

What is created comes from the stacks' resources and :mod:`modules.platform.cluster_objects`.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from modules.platform.cluster_objects import (
    EKS_OBJECTS,
    KUBERNETES_OBJECTS,
    NAMESPACED,
    Kind,
    ObjectRef,
    addon_objects,
    api_kind,
    chart_objects,
)
from tests.apps.schemas import schema_version


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """``target`` is named at ``where`` (stack, resource address, path inside it)."""

    target: ObjectRef
    where: str


# field name (both spellings) -> the kind of object its string value names
_NAME_FIELDS = {
    "storageClassName": Kind.STORAGE_CLASS,
    "storage_class_name": Kind.STORAGE_CLASS,
    "priorityClassName": Kind.PRIORITY_CLASS,
    "priority_class_name": Kind.PRIORITY_CLASS,
    "ingressClassName": Kind.INGRESS_CLASS,
    "ingress_class_name": Kind.INGRESS_CLASS,
    "serviceAccountName": Kind.SERVICE_ACCOUNT,
    "service_account_name": Kind.SERVICE_ACCOUNT,
    "secretName": Kind.SECRET,
    "secret_name": Kind.SECRET,
    "existingSecret": Kind.SECRET,
    "existing_secret": Kind.SECRET,
    "activeService": Kind.SERVICE,
    "previewService": Kind.SERVICE,
    "stableService": Kind.SERVICE,
    "canaryService": Kind.SERVICE,
    "templateName": Kind.ANALYSIS_TEMPLATE,
    "storage_provisioner": Kind.CSI_DRIVER,
}
# field name -> kind of the object named by its ``name`` (an object) or by each item's ``name`` (a list)
_OBJECT_FIELDS = {
    "secretKeyRef": Kind.SECRET,
    "secret_key_ref": Kind.SECRET,
    "secretRef": Kind.SECRET,
    "secret_ref": Kind.SECRET,
    "imagePullSecrets": Kind.SECRET,
    "image_pull_secrets": Kind.SECRET,
    "configMapKeyRef": Kind.CONFIG_MAP,
    "config_map_key_ref": Kind.CONFIG_MAP,
    "configMapRef": Kind.CONFIG_MAP,
    "config_map_ref": Kind.CONFIG_MAP,
    "configMap": Kind.CONFIG_MAP,
    "config_map": Kind.CONFIG_MAP,
}
# Helm values that turn on an object of a custom kind (prometheus-operator's monitors and rules).
_MONITOR_SWITCHES = {
    "serviceMonitor": "ServiceMonitor",
    "podMonitor": "PodMonitor",
    "prometheusRule": "PrometheusRule",
}
_IN_CLUSTER_URL = re.compile(
    r"^[a-z]+://([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9-]+)\.svc(\.cluster\.local)?(:\d+)?(/|$)"
)
_NAMESPACE_TOKEN = re.compile(r"kubernetes_namespace_v1[.-](?P<key>[A-Za-z0-9_-]+?_namespace)")
_SUBJECT = re.compile(r"^system:serviceaccount:(?P<ns>[^:]+):(?P<name>[^:]+)$")
_PROVIDER_KINDS = {
    "kubernetes_namespace_v1": Kind.NAMESPACE,
    "kubernetes_storage_class_v1": Kind.STORAGE_CLASS,
    "kubernetes_service_account_v1": Kind.SERVICE_ACCOUNT,
    "kubernetes_secret_v1": Kind.SECRET,
    "kubernetes_config_map_v1": Kind.CONFIG_MAP,
    "kubernetes_service_v1": Kind.SERVICE,
    "kubernetes_priority_class_v1": Kind.PRIORITY_CLASS,
    "kubernetes_ingress_class_v1": Kind.INGRESS_CLASS,
}


def _metadata(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata") or {}
    if isinstance(meta, list):
        meta = meta[0] if meta else {}
    return meta if isinstance(meta, Mapping) else {}


class Environment:
    """One environment's stacks (``<env>-cluster``, ``-platform``, ``-apps``) read for references."""

    def __init__(self, stacks: Mapping[str, Mapping[str, Any]], environment: str, kubernetes_version: str) -> None:
        self.stacks = {name: body for name, body in stacks.items() if name.startswith(f"{environment}-")}
        self.kubernetes_version = kubernetes_version
        self.namespace_tokens: dict[str, str] = {}
        for body in self.stacks.values():
            for key, ns in ((body.get("resource") or {}).get("kubernetes_namespace_v1") or {}).items():
                self.namespace_tokens[key] = str(_metadata(ns)["name"])

    def _namespace(self, value: Any) -> str | None:
        """A namespace's name from a literal or an engine token naming a namespace resource."""
        if not isinstance(value, str) or not value:
            return None
        if "${" not in value:
            return value
        match = _NAMESPACE_TOKEN.search(value)
        if match is None:
            raise AssertionError(f"a namespace given by a token this check cannot resolve: {value}")
        return self.namespace_tokens[match.group("key")]

    def _resources(self) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
        for stack, body in sorted(self.stacks.items()):
            for type_, by_name in sorted((body.get("resource") or {}).items()):
                for name, resource in sorted(by_name.items()):
                    yield stack, type_, name, resource

    # --- what is created ---------------------------------------------------------------------------

    def created(self) -> dict[ObjectRef, str]:
        """Every object something creates, with where that is written."""
        out: dict[ObjectRef, str] = {}
        for item in (*KUBERNETES_OBJECTS, *EKS_OBJECTS):
            out[item.ref] = item.source
        for ref in _builtin_kinds(schema_version(self.kubernetes_version)):
            out[ref] = f"Kubernetes {self.kubernetes_version} API (kubernetes-validate's schemas)"
        for stack, type_, name, resource in self._resources():
            address = f"{stack}: {type_}.{name}"
            if type_ in _PROVIDER_KINDS:
                meta = _metadata(resource)
                kind = _PROVIDER_KINDS[type_]
                ns = self._namespace(meta.get("namespace")) or "" if kind in NAMESPACED else ""
                out[ObjectRef(kind, str(meta["name"]), ns)] = address
            elif type_ == "kubernetes_manifest":
                manifest = resource["manifest"]
                meta = manifest.get("metadata") or {}
                if manifest["kind"] == "CustomResourceDefinition":
                    spec = manifest["spec"]
                    for version in spec["versions"]:
                        ref = api_kind(f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                        out[ref] = address
                    continue
                try:
                    kind = Kind(manifest["kind"])
                except ValueError:
                    continue
                ns = self._namespace(meta.get("namespace")) or "" if kind in NAMESPACED else ""
                out[ObjectRef(kind, str(meta["name"]), ns)] = address
            elif type_ == "helm_release":
                values: dict[str, Any] = {}
                for text in resource.get("values") or []:
                    values.update(dict(yaml.safe_load(text) or {}))
                ns = self._namespace(resource.get("namespace")) or "default"
                for item in chart_objects(resource["chart"], release=resource["name"], values=values, namespace=ns):
                    out.setdefault(
                        item.ref, f"{address} (chart {resource['chart']} {resource['version']}): {item.source}"
                    )
            elif type_ == "aws_eks_addon":
                for item in addon_objects(resource["addon_name"]):
                    out.setdefault(item.ref, f"{address}: {item.source}")
        return out

    # --- what is referenced ------------------------------------------------------------------------

    def references(self, extra_objects: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> list[Reference]:
        """Every reference of the stacks' objects, values and IRSA trusts, and of ``extra_objects``
        (``(where, manifest)``: objects the toolkit renders at run time, such as the test pool's Job)."""
        found: list[Reference] = []
        for stack, type_, name, resource in self._resources():
            address = f"{stack}: {type_}.{name}"
            if type_ == "kubernetes_manifest":
                found += self._object(resource["manifest"], address)
            elif type_ == "helm_release":
                ns = self._namespace(resource.get("namespace")) or "default"
                found.append(Reference(ObjectRef(Kind.NAMESPACE, ns), f"{address}.namespace"))
                for i, text in enumerate(resource.get("values") or []):
                    found += self._walk(yaml.safe_load(text) or {}, ns, f"{address}.values[{i}]", values=True)
            elif type_.startswith("kubernetes_"):
                meta = _metadata(resource)
                ns = self._namespace(meta.get("namespace")) or ""
                body = {k: v for k, v in resource.items() if k not in ("//", "metadata")}
                if ns:
                    found.append(Reference(ObjectRef(Kind.NAMESPACE, ns), f"{address}.metadata.namespace"))
                found += self._walk(body, ns, address, values=False)
        for stack, config in sorted(self.stacks.items()):
            for name, document in sorted(((config.get("data") or {}).get("aws_iam_policy_document") or {}).items()):
                for statement in document.get("statement") or []:
                    for condition in statement.get("condition") or []:
                        if not str(condition.get("variable", "")).endswith(":sub"):
                            continue
                        for subject in condition.get("values") or []:
                            match = _SUBJECT.match(str(subject))
                            if match:
                                ref = ObjectRef(Kind.SERVICE_ACCOUNT, match["name"], match["ns"])
                                found.append(
                                    Reference(ref, f"{stack}: data.aws_iam_policy_document.{name} (IRSA trust)")
                                )
        for where, manifest in extra_objects:
            found += self._object(manifest, where)
        return sorted(set(found))

    def _object(self, manifest: Mapping[str, Any], where: str) -> list[Reference]:
        found = [Reference(api_kind(str(manifest["apiVersion"]), str(manifest["kind"])), f"{where} apiVersion/kind")]
        meta = manifest.get("metadata") or {}
        ns = self._namespace(meta.get("namespace")) or ""
        if ns:
            found.append(Reference(ObjectRef(Kind.NAMESPACE, ns), f"{where} metadata.namespace"))
        body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        found += self._walk(body, ns, where, values=False)
        if manifest["kind"] == "HorizontalPodAutoscaler":
            for metric in (manifest.get("spec") or {}).get("metrics") or []:
                if metric.get("type") in ("Resource", "ContainerResource"):
                    found.append(
                        Reference(ObjectRef(Kind.API_SERVICE, "v1beta1.metrics.k8s.io"), f"{where} spec.metrics")
                    )
        return found

    def _walk(self, node: Any, ns: str, where: str, *, values: bool) -> list[Reference]:
        found: list[Reference] = []

        def ref(kind: Kind, name: Any, path: str, namespace: str = "") -> None:
            if not isinstance(name, str) or not name or "${" in name:
                return
            scoped = (namespace or ns) if kind in NAMESPACED else ""
            found.append(Reference(ObjectRef(kind, name, scoped), f"{where} {path}"))
            if scoped:
                found.append(Reference(ObjectRef(Kind.NAMESPACE, scoped), f"{where} {path}"))

        def visit(item: Any, path: str, top: bool) -> None:
            if isinstance(item, list):
                for i, child in enumerate(item):
                    visit(child, f"{path}[{i}]", False)
                return
            if isinstance(item, str):
                match = _IN_CLUSTER_URL.match(item)
                if match:
                    ref(Kind.SERVICE, match.group(1), path, namespace=match.group(3))
                return
            if not isinstance(item, Mapping):
                return
            if not top and item.get("kind") == "ServiceAccount" and "name" in item:
                ref(Kind.SERVICE_ACCOUNT, item["name"], path, namespace=self._namespace(item.get("namespace")) or "")
            if not top and "apiVersion" in item and "kind" in item and isinstance(item["kind"], str):
                found.append(Reference(api_kind(str(item["apiVersion"]), item["kind"]), f"{where} {path}"))
            for key, value in item.items():
                here = f"{path}.{key}" if path else str(key)
                if key in _NAME_FIELDS:
                    ref(_NAME_FIELDS[key], value, here)
                elif key in _OBJECT_FIELDS:
                    for entry in value if isinstance(value, list) else [value]:
                        if isinstance(entry, Mapping):
                            ref(_OBJECT_FIELDS[key], entry.get("name"), here)
                elif key == "namespace" and isinstance(value, str):
                    namespace = self._namespace(value)
                    if namespace:
                        found.append(Reference(ObjectRef(Kind.NAMESPACE, namespace), f"{where} {here}"))
                elif key in ("namespaceSelector", "namespace_selector") and isinstance(value, Mapping):
                    labels = value.get("matchLabels") or value.get("match_labels") or {}
                    names = [labels.get("kubernetes.io/metadata.name"), *(value.get("matchNames") or [])]
                    for name in names:
                        namespace = self._namespace(name)
                        if namespace:
                            found.append(Reference(ObjectRef(Kind.NAMESPACE, namespace), f"{where} {here}"))
                elif key == "backend" and isinstance(value, Mapping) and isinstance(value.get("service"), Mapping):
                    ref(Kind.SERVICE, value["service"].get("name"), f"{here}.service.name")
                elif values and key == "serviceAccount" and isinstance(value, Mapping) and value.get("create") is False:
                    ref(Kind.SERVICE_ACCOUNT, value.get("name") or "default", here)
                elif (
                    values and key in _MONITOR_SWITCHES and isinstance(value, Mapping) and value.get("enabled") is True
                ):
                    found.append(
                        Reference(api_kind("monitoring.coreos.com/v1", _MONITOR_SWITCHES[key]), f"{where} {here}")
                    )
                visit(value, here, False)

        visit(node, "", True)
        return found


@functools.cache
def _builtin_kinds(version: str) -> frozenset[ObjectRef]:
    """Every kind the Kubernetes API of ``version`` serves itself (from kubernetes-validate's schemas)."""
    folder = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    text = folder.joinpath(f"v{version}.0-local-strict", "_definitions.json").read_text(encoding="utf-8")
    definitions = json.loads(text)
    kinds = set()
    for definition in definitions["$defs"].values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds.add(api_kind(api_version, gvk["kind"]))
    return frozenset(kinds)


def missing(references: Iterable[Reference], created: Mapping[ObjectRef, str]) -> list[str]:
    """One line per reference to an object nothing creates."""
    return [
        f"{r.where}: names {r.target}, which no stack, chart, add-on, EKS or Kubernetes creates"
        for r in references
        if r.target not in created
    ]
