"""PromQL as the stacks emit it, and the metric names each expression reads (with a real PromQL parser).

:func:`stack_expressions` finds every expression in synthesized stacks: the alert rules and Grafana
dashboards in any ``helm_release``'s values (``additionalPrometheusRulesMap``, ``prometheusRule``,
``grafana.dashboards``) and the Prometheus queries of Argo Rollouts' analysis templates in
``kubernetes_manifest`` objects.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import promql_parser
import yaml

from modules.platform import values
from qualisys_infra.config import Settings, load_settings
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, ROOT

TOKEN = "${TfToken[TOKEN.1]}"  # noqa: S105 - an engine token, what the stack passes at synth


class UncheckableSelector(ValueError):
    """A selector with no exact metric name (``{__name__=~"..."}``): what it reads cannot be checked."""


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    if matcher.op != promql_parser.MatchOp.Equal:
                        raise UncheckableSelector(f"{expr}: selects metrics by a pattern of names")
                    name = matcher.value
            if not name:
                raise UncheckableSelector(f"{expr}: a selector without a metric name")
            names.add(name)
            return
        for attribute in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr))
    return names


@functools.cache
def _settings() -> Settings:
    return load_settings(ENV_DIR, ENVIRONMENT_NAMES, root=ROOT)


def project() -> str:
    """The project's name (``account.tfvars``), which names the log counters, rules and dashboards."""
    return _settings().account.project


def _kube_prometheus_stack(environment: str) -> dict[str, Any]:
    env = next(e for e in _settings().environments if e.environment == environment)
    return values.kube_prometheus_stack(
        project=project(),
        environment=env.environment,
        region=env.region,
        grafana_domain=env.grafana_domain,
        retention_days=env.prometheus_retention_days,
        storage_gib=env.prometheus_storage_gib,
        alert_topic_arn=TOKEN,
        alertmanager_role_arn=TOKEN,
        grafana_ingress_annotations={},
    )


def rendered_rule_groups(environment: str = "staging") -> list[dict[str, Any]]:
    """The alert rule groups of the environment's kube-prometheus-stack values, as the stack renders them."""
    groups: list[dict[str, Any]] = _kube_prometheus_stack(environment)["additionalPrometheusRulesMap"][project()][
        "groups"
    ]
    return groups


def rendered_dashboards(environment: str = "staging") -> dict[str, dict[str, Any]]:
    """The project's dashboards as Grafana receives them from the environment's values."""
    folder = _kube_prometheus_stack(environment)["grafana"]["dashboards"][project()]
    return {name: json.loads(body["json"]) for name, body in folder.items()}


def _from_values(chart_values: Mapping[str, Any], where: str) -> Iterator[tuple[str, str]]:
    for body in (chart_values.get("additionalPrometheusRulesMap") or {}).values():
        for group in body.get("groups") or []:
            for rule in group.get("rules") or []:
                yield f"{where} rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])
    prometheus_rule = chart_values.get("prometheusRule") or {}
    if prometheus_rule.get("enabled"):
        for rule in prometheus_rule.get("rules") or []:
            yield f"{where} prometheusRule {rule.get('alert')}", str(rule["expr"])
    grafana = chart_values.get("grafana") or {}
    for folder in (grafana.get("dashboards") or {}).values():
        for name, dashboard in folder.items():
            body = json.loads(dashboard["json"]) if "json" in dashboard else {}
            for panel in body.get("panels") or []:
                for target in panel.get("targets") or []:
                    yield f"{where} dashboard {name} panel {panel.get('title')!r}", str(target["expr"])


def _queries(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        prometheus = node.get("prometheus")
        if isinstance(prometheus, Mapping) and isinstance(prometheus.get("query"), str):
            yield f"{where} analysis {node.get('name', '')}", prometheus["query"]
        for child in node.values():
            yield from _queries(child, where)
    elif isinstance(node, list):
        for child in node:
            yield from _queries(child, where)


def stack_expressions(stacks: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(where, expression) for every PromQL expression in the synthesized ``stacks``."""
    found: list[tuple[str, str]] = []
    for stack, body in stacks.items():
        resources = body.get("resource") or {}
        for address, release in (resources.get("helm_release") or {}).items():
            for text in release.get("values") or []:
                found.extend(_from_values(yaml.safe_load(text) or {}, f"{stack} helm_release.{address}"))
        for address, manifest in (resources.get("kubernetes_manifest") or {}).items():
            found.extend(_queries(manifest.get("manifest"), f"{stack} kubernetes_manifest.{address}"))
    return found
