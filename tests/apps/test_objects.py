"""The service objects of modules.apps.objects, checked without the engine: valid against
Kubernetes' schemas and the Argo Rollouts CRDs, the analysis queries valid PromQL, the strategies
as the spec asks (stories 0.11 and 0.12)."""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import pytest

from modules.apps.objects import (
    CANARY_WEIGHTS,
    ERROR_RATE_LIMIT,
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    ROLLBACK_WINDOW_REVISIONS,
    ServiceSpec,
    Strategy,
    error_rate_query,
    pod_template,
    service_objects,
)
from tests.apps.exposure import exposure_problems
from tests.apps.schemas import validate


def _environments_minors() -> tuple[str, ...]:
    """The Kubernetes minors the environments run (their tfvars): the schemas these objects must fit."""
    from qualisys_infra.config.hclfile import read_hcl
    from qualisys_infra.core.runtime import PROJECT_ROOT
    from tests.conftest import ENVIRONMENT_NAMES

    paths = [PROJECT_ROOT / "environments" / f"{name}.tfvars" for name in ENVIRONMENT_NAMES]
    return tuple(sorted({str(read_hcl(path, path.name).values["eks_kubernetes_version"]) for path in paths}))


K8S_MINORS = _environments_minors()


def _spec(strategy: Strategy, *, internal_port: int = 8081) -> ServiceSpec:
    return ServiceSpec(
        name="hello",
        project="qualisys",
        namespace="staging",
        image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/qualisys-hello:0123abc",
        version="0123abc",
        port=8080,
        internal_port=internal_port,
        host="staging.qualisys.dev",
        strategy=strategy,
        prometheus_url="http://kps-prometheus.monitoring.svc:9090",
        ingress_annotations={"alb.ingress.kubernetes.io/scheme": "internet-facing"},
    )


@pytest.mark.parametrize("minor", K8S_MINORS)
@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_object_is_valid_against_its_schema(strategy: Strategy, minor: str) -> None:
    objects = service_objects(_spec(strategy))
    assert {o["kind"] for o in objects.values()} == {
        "Rollout",
        "AnalysisTemplate",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PodMonitor",
    }
    for obj in objects.values():
        validate(obj, minor)


@pytest.mark.parametrize(
    ("kind", "plant"),
    [
        ("Rollout", lambda o: o["spec"]["strategy"]["canary"].update(setWieght=10)),
        ("Rollout", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicy=3)),
        ("AnalysisTemplate", lambda o: o["spec"]["metrics"][0].update(provider={"prometheus": {"querry": "up"}})),
        ("HorizontalPodAutoscaler", lambda o: o["spec"].update(minReplica=2)),
        ("Ingress", lambda o: o["spec"]["rules"][0]["http"]["paths"][0].update(backendd={})),
        ("PodDisruptionBudget", lambda o: o["spec"].update(maxUnavailabe=1)),
    ],
)
def test_a_planted_mistake_fails_the_schema(kind: str, plant: Any) -> None:
    (obj,) = [copy.deepcopy(o) for o in service_objects(_spec(Strategy.CANARY)).values() if o["kind"] == kind]
    plant(obj)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate(obj, K8S_MINORS[-1])


def test_the_error_rate_query_is_promql_before_and_after_the_argument() -> None:
    spec = _spec(Strategy.CANARY)
    (template,) = [o for o in service_objects(spec).values() if o["kind"] == "AnalysisTemplate"]
    (metric,) = [m for m in template["spec"]["metrics"] if "prometheus" in m["provider"]]
    query = metric["provider"]["prometheus"]["query"]
    assert query == error_rate_query(spec, "{{args.pod-hash}}")
    # Argo substitutes {{args.pod-hash}} (the new revision's hash) before it asks Prometheus.
    expanded = query.replace("{{args.pod-hash}}", "6f7d9c8b5")
    parsed = promql_parser.parse(expanded)
    assert parsed is not None
    assert 'status=~"5.."' in expanded and 'rollouts_pod_template_hash="6f7d9c8b5"' in expanded
    # probes, health checks and scrapes (all 200s) are not users' requests: they would dilute it
    assert 'route!~"/health|/ready|/metrics"' in expanded
    assert metric["successCondition"] == f"result[0] < {ERROR_RATE_LIMIT}" and ERROR_RATE_LIMIT == 0.05
    with pytest.raises(ValueError):
        promql_parser.parse(expanded.replace("[2m]", "[2 minutes]"))


def test_production_canary_goes_10_50_100_with_analysis_after_each_step() -> None:
    spec = _spec(Strategy.CANARY)
    canary = service_objects(spec)["rollout"]["spec"]["strategy"]["canary"]
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert tuple(weights) == CANARY_WEIGHTS == (10, 50, 100)
    kinds = [next(iter(s)) for s in canary["steps"]]
    assert kinds == ["setWeight", "pause", "analysis", "setWeight", "pause", "analysis", "setWeight"]
    for step in canary["steps"]:
        if "analysis" in step:
            assert step["analysis"]["templates"] == [{"templateName": "hello-health"}]
            assert step["analysis"]["args"] == [
                {"name": "service", "value": "hello-candidate"},
                {"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            ]
    assert canary["maxUnavailable"] == 0 and canary["maxSurge"] == 1
    assert canary["trafficRouting"] == {"alb": {"ingress": "hello", "servicePort": 80}}
    ingress = service_objects(spec)["ingress"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": canary["stableService"], "port": {"name": "use-annotation"}}


def test_blue_green_runs_the_same_analysis_before_promotion() -> None:
    spec = _spec(Strategy.BLUE_GREEN)
    blue_green = service_objects(spec)["rollout"]["spec"]["strategy"]["blueGreen"]
    assert blue_green["prePromotionAnalysis"]["templates"] == [{"templateName": "hello-health"}]
    assert blue_green["activeService"] == "hello-stable" and blue_green["previewService"] == "hello-candidate"
    backend = service_objects(spec)["ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "hello-stable", "port": {"number": 80}}


def test_pods_are_restricted_probed_and_sized() -> None:
    objects = service_objects(_spec(Strategy.CANARY))
    pod = objects["rollout"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "internal"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    hpa = objects["autoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "hello"}
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["minReplicas"] >= 2
    assert objects["disruption-budget"]["spec"]["maxUnavailable"] == 1
    assert "replicas" not in objects["rollout"]["spec"], "the autoscaler owns the replica count"


def test_each_pod_is_scraped_once_with_its_revision() -> None:
    objects = service_objects(_spec(Strategy.CANARY))
    monitor = objects["pod-monitor"]
    assert monitor["kind"] == "PodMonitor" and monitor["spec"]["podTargetLabels"] == ["rollouts-pod-template-hash"]
    assert monitor["spec"]["selector"] == {"matchLabels": objects["rollout"]["spec"]["selector"]["matchLabels"]}
    assert not any(o["kind"] == "ServiceMonitor" for o in objects.values())


@pytest.mark.parametrize("strategy", list(Strategy))
def test_readiness_and_metrics_are_reachable_only_on_the_internal_port(strategy: Strategy) -> None:
    objects = service_objects(_spec(strategy))
    assert exposure_problems(objects) == []
    (container,) = objects["rollout"]["spec"]["template"]["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8080, "internal": 8081}
    assert {e["name"]: e["value"] for e in container["env"]}.items() >= {
        "PORT": "8080",
        "INTERNAL_PORT": "8081",
    }.items()
    assert objects["pod-monitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "internal"
    for name in ("service-stable", "service-candidate"):
        assert [p["targetPort"] for p in objects[name]["spec"]["ports"]] == ["http"]


def _service_port(o: dict[str, Any]) -> dict[str, Any]:
    port: dict[str, Any] = o["service-stable"]["spec"]["ports"][0]
    return port


def _container_of(o: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = o["rollout"]["spec"]["template"]["spec"]["containers"][0]
    return container


# Each way an edit could put /ready or /metrics within the internet's reach, or lose them.
EXPOSURES = [
    (
        "a service targets the internal port by name",
        lambda o: _service_port(o).update(targetPort="internal"),
        "Service hello-stable port 80 targets 'internal'",
    ),
    (
        "a service targets the internal port by number",
        lambda o: _service_port(o).update(targetPort=8081),
        "Service hello-stable port 80 targets 8081",
    ),
    (
        "a service gains a metrics port",
        lambda o: o["service-candidate"]["spec"]["ports"].append(
            {"name": "metrics", "port": 9090, "targetPort": "internal"}
        ),
        "Service hello-candidate port 9090 targets 'internal'",
    ),
    (
        "the ingress routes to another service",
        lambda o: o["ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(name="hello-ops"),
        "ingress path / goes to hello-ops",
    ),
    (
        "the readiness probe on the public port",
        lambda o: _container_of(o)["readinessProbe"]["httpGet"].update(port="http"),
        "the readiness probe asks /ready on 'http'",
    ),
    (
        "the PodMonitor scrapes the public port",
        lambda o: o["pod-monitor"]["spec"]["podMetricsEndpoints"][0].update(port="http"),
        "the PodMonitor scrapes /metrics on 'http'",
    ),
    (
        "the service is not told its internal port",
        lambda o: _container_of(o).update(env=[e for e in _container_of(o)["env"] if e["name"] != "INTERNAL_PORT"]),
        "INTERNAL_PORT is None",
    ),
    (
        "no internal container port",
        lambda o: _container_of(o).update(ports=[p for p in _container_of(o)["ports"] if p["name"] != "internal"]),
        "the container has no 'internal' port",
    ),
]


@pytest.mark.parametrize(("what", "plant", "says"), EXPOSURES, ids=[e[0] for e in EXPOSURES])
def test_fails_if_an_edit_exposes_readiness_or_metrics(what: str, plant: Any, says: str) -> None:
    objects = copy.deepcopy(service_objects(_spec(Strategy.CANARY)))
    plant(objects)
    problems = exposure_problems(objects)
    assert any(says in problem for problem in problems), f"{what}: {problems}"


def test_fails_if_the_internal_port_is_the_public_port() -> None:
    with pytest.raises(ValueError, match=r"hello: internal_port must differ from port \(8080\)"):
        pod_template(_spec(Strategy.CANARY, internal_port=8080))


HELLO_SRC = Path(__file__).resolve().parents[2] / "services" / "hello" / "src"


def test_the_service_serves_on_the_ports_the_pod_gives_it() -> None:
    """hello reads the pod's environment into the ports the objects route by: the public port serves
    the ingress's and the load balancer's /health and nothing internal; the internal one serves the
    readiness probe's and the PodMonitor's paths."""
    if str(HELLO_SRC) not in sys.path:
        sys.path.insert(0, str(HELLO_SRC))
    config = importlib.import_module("hello.config")
    app = importlib.import_module("hello.app")
    (container,) = service_objects(_spec(Strategy.CANARY))["rollout"]["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    settings = config.Settings.from_env({e["name"]: e["value"] for e in container["env"]})
    assert (settings.port, settings.internal_port) == (ports["http"], ports["internal"])
    assert HEALTH_PATH in app.PUBLIC_PATHS and HEALTH_PATH in app.INTERNAL_PATHS
    for path in (READY_PATH, METRICS_PATH):
        assert path in app.INTERNAL_PATHS and path not in app.PUBLIC_PATHS


@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_rollback_to_a_recent_revision_skips_the_steps(strategy: Strategy) -> None:
    """release undoes a failed release to the previous revision: Argo must go back at once (the
    rollback window), and the previous revision's ReplicaSet must still exist (history limit)."""
    spec = service_objects(_spec(strategy))["rollout"]["spec"]
    assert spec["rollbackWindow"] == {"revisions": ROLLBACK_WINDOW_REVISIONS}
    assert 1 <= ROLLBACK_WINDOW_REVISIONS <= spec["revisionHistoryLimit"]


def test_every_series_of_a_service_carries_the_service_label_the_dashboards_group_by() -> None:
    """The dashboards and alerts sum `by (service)`: the PodMonitor copies the pod's name label onto
    every series as `service` (without it, per-service panels showed one unlabelled series)."""
    from modules.platform.metrics_contract import SERVICE_LABEL

    spec = _spec(Strategy.CANARY)
    (endpoint,) = service_objects(spec)["pod-monitor"]["spec"]["podMetricsEndpoints"]
    assert endpoint["relabelings"] == [
        {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "targetLabel": SERVICE_LABEL}
    ]
    assert spec.labels["app.kubernetes.io/name"] == spec.name


def test_the_autoscaler_scales_down_only_after_five_minutes_of_low_use() -> None:
    """Story 0.3: scale up above 70 % CPU, scale down after 5 minutes of low use (the HPA had no
    behaviour: Kubernetes' defaults, unstated)."""
    from modules.apps.objects import SCALE_DOWN_WINDOW_SECONDS

    (hpa,) = [o for o in service_objects(_spec(Strategy.CANARY)).values() if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert SCALE_DOWN_WINDOW_SECONDS == 300 and down["stabilizationWindowSeconds"] == 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}] and down["selectPolicy"] == "Min"
    assert hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
