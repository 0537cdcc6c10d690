"""One service's Kubernetes objects, as plain JSON: the Argo Rollouts ``Rollout`` with its probes,
resources and restricted security context, the analysis that gates each step, the services the
rollout moves traffic between, the ALB ingress, a HorizontalPodAutoscaler, a PodDisruptionBudget
and a PodMonitor.

Two strategies, one object:

- ``CANARY`` (what every environment of the apps stack uses, so staging rehearses exactly what
  production does, story 0.12 AC4): 10 % → 50 % → 100 % of the ALB's traffic through Argo's ALB
  traffic routing; after each weight a pause and an analysis (the 5xx rate from Prometheus below
  5 % and ``/health`` answering), which aborts and rolls back by itself when it fails;
- ``BLUE_GREEN``: the new pods start behind the preview service, the same analysis runs against
  them before promotion, and the active service switches only when it passes.

Both surge one pod at a time and never take one away first (``maxSurge: 1``, ``maxUnavailable: 0``
for the canary, a full preview set for blue-green: story 0.11 AC3). Going back to one of the last
:data:`ROLLBACK_WINDOW_REVISIONS` revisions (``qualisys-infra release`` undoing a release that
failed its smoke suite) skips the steps and the analysis (``spec.rollbackWindow``, Argo Rollouts
v1.4+, "Rollback Windows" in its documentation, read 2026-12-06): the previous revision had passed
them, and a rollback should be fast.

Two container ports. ``http`` (the service's ``PORT``) serves what users need; it is the only port
the Services expose, so the only one the ingress reaches. ``internal`` (``INTERNAL_PORT``) serves
readiness and metrics: the kubelet's readiness probe and the PodMonitor reach it on the pod's own
address, from inside the cluster; no Service or ingress names it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modules.platform.metrics_contract import SERVICE_LABEL

ROLLOUTS_API = "argoproj.io/v1alpha1"
CANARY_WEIGHTS = (10, 50, 100)
ROLLBACK_WINDOW_REVISIONS = 2  # within revisionHistoryLimit (3): the ReplicaSets are still there
ERROR_RATE_LIMIT = 0.05
HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"
SERVICE_PORT = 80
# The container's ports by name: users' routes, and the probes' and Prometheus' routes.
PUBLIC_PORT_NAME = "http"
INTERNAL_PORT_NAME = "internal"
# The service's metric of served requests (prometheus-client's counter in services/hello): the 5xx
# rate is its share of responses with a 5xx status.
REQUESTS_METRIC = "http_requests_total"
# The routes that are not users' requests (their route label, as services/hello labels requests).
NOT_USER_ROUTES = (HEALTH_PATH, READY_PATH, METRICS_PATH)
# How long low use must last before the autoscaler removes a pod (the spec: "scale down when <30% for
# 5 minutes", story 0.3).
SCALE_DOWN_WINDOW_SECONDS = 300
# The pod label that names the service (copied onto its series as metrics_contract.SERVICE_LABEL).
NAME_LABEL = "app.kubernetes.io/name"
# Argo Rollouts labels each revision's pods with this; the PodMonitor copies it onto their series.
POD_HASH = "rollouts-pod-template-hash"
POD_HASH_LABEL = POD_HASH.replace("-", "_")

Obj = dict[str, Any]
# The construct id of a service's Rollout (its address is kubernetes_manifest.<service>_rollout):
# what a release may change.
ROLLOUT_ID = "rollout"


class Strategy(enum.Enum):
    CANARY = "canary"
    BLUE_GREEN = "blueGreen"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec:
    """What one service needs to run: its image, where, how big, and how it is reached.

    ``image`` is the full reference (``<registry>/<repository>:<tag>``); ``host`` the ingress host;
    ``ingress_annotations`` the edge's ALB annotations (TLS, WAF, targets); ``prometheus_url`` the
    in-cluster Prometheus the analysis asks. ``port`` is the public port (users' routes, the only
    one a Service exposes), ``internal_port`` the port of readiness and metrics (probes, Prometheus).
    Every object is labelled ``app.kubernetes.io/part-of: <project>``.
    """

    name: str
    project: str
    namespace: str
    image: str
    version: str
    port: int
    internal_port: int
    host: str
    strategy: Strategy
    prometheus_url: str
    ingress_annotations: Mapping[str, str] = field(default_factory=dict)
    min_replicas: int = 2
    max_replicas: int = 6
    cpu_target_percent: int = 70
    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "100m", "memory": "128Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "256Mi"})
    run_as_user: int = 65532
    pause_seconds: int = 120

    @property
    def labels(self) -> dict[str, str]:
        return {NAME_LABEL: self.name, "app.kubernetes.io/part-of": self.project}

    @property
    def stable_service(self) -> str:
        """The service the ingress sends (stable) traffic to: the canary's stable or blue-green's active."""
        return f"{self.name}-stable"

    @property
    def candidate_service(self) -> str:
        """The service of the new pods: the canary service or blue-green's preview."""
        return f"{self.name}-candidate"

    @property
    def analysis_template(self) -> str:
        return f"{self.name}-health"


def _metadata(spec: ServiceSpec, name: str, **extra: Any) -> Obj:
    return {"name": name, "namespace": spec.namespace, "labels": spec.labels, **extra}


def _probe(path: str, port: str, *, period: int, failures: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def pod_template(spec: ServiceSpec) -> Obj:
    """The pods: non-root with a fixed user, read-only root, no capabilities, RuntimeDefault seccomp,
    no service-account token; ``/health`` startup and liveness on the public port, ``/ready`` readiness
    on the internal one; requests and limits."""
    if spec.internal_port == spec.port:
        raise ValueError(f"{spec.name}: internal_port must differ from port ({spec.port})")
    return {
        "metadata": {"labels": spec.labels},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": spec.run_as_user,
                "runAsGroup": spec.run_as_user,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": spec.labels},
                }
            ],
            "containers": [
                {
                    "name": spec.name,
                    "image": spec.image,
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [
                        {"name": PUBLIC_PORT_NAME, "containerPort": spec.port, "protocol": "TCP"},
                        {"name": INTERNAL_PORT_NAME, "containerPort": spec.internal_port, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "PORT", "value": str(spec.port)},
                        {"name": "INTERNAL_PORT", "value": str(spec.internal_port)},
                        {"name": f"{spec.name.upper()}_VERSION", "value": spec.version},
                    ],
                    "startupProbe": _probe(HEALTH_PATH, PUBLIC_PORT_NAME, period=2, failures=30),
                    "livenessProbe": _probe(HEALTH_PATH, PUBLIC_PORT_NAME, period=10, failures=3),
                    "readinessProbe": _probe(READY_PATH, INTERNAL_PORT_NAME, period=5, failures=2),
                    "resources": {"requests": dict(spec.requests), "limits": dict(spec.limits)},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def _analysis_ref(spec: ServiceSpec) -> Obj:
    """The analysis of the new pods: their service (for /health) and their pod-template hash (for
    their own series in Prometheus), which Argo fills in with the revision being rolled out."""
    return {
        "templates": [{"templateName": spec.analysis_template}],
        "args": [
            {"name": "service", "value": spec.candidate_service},
            {"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        ],
    }


def canary_steps(spec: ServiceSpec) -> list[Obj]:
    """Each weight of :data:`CANARY_WEIGHTS` but the last: set it, pause, analyse; then 100 %."""
    steps: list[Obj] = []
    for weight in CANARY_WEIGHTS[:-1]:
        steps += [
            {"setWeight": weight},
            {"pause": {"duration": f"{spec.pause_seconds}s"}},
            {"analysis": _analysis_ref(spec)},
        ]
    steps.append({"setWeight": CANARY_WEIGHTS[-1]})
    return steps


def _strategy(spec: ServiceSpec) -> Obj:
    if spec.strategy is Strategy.CANARY:
        return {
            "canary": {
                "stableService": spec.stable_service,
                "canaryService": spec.candidate_service,
                "maxSurge": 1,
                "maxUnavailable": 0,
                "abortScaleDownDelaySeconds": 30,
                "trafficRouting": {"alb": {"ingress": spec.name, "servicePort": SERVICE_PORT}},
                "steps": canary_steps(spec),
            }
        }
    return {
        "blueGreen": {
            "activeService": spec.stable_service,
            "previewService": spec.candidate_service,
            "autoPromotionEnabled": True,
            "prePromotionAnalysis": _analysis_ref(spec),
            "scaleDownDelaySeconds": 30,
        }
    }


def rollout(spec: ServiceSpec) -> Obj:
    """The Argo Rollouts ``Rollout``; the replica count is the autoscaler's (none set here)."""
    return {
        "apiVersion": ROLLOUTS_API,
        "kind": "Rollout",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "revisionHistoryLimit": 3,
            "rollbackWindow": {"revisions": ROLLBACK_WINDOW_REVISIONS},
            "progressDeadlineSeconds": 600,
            "progressDeadlineAbort": True,
            "selector": {"matchLabels": spec.labels},
            "template": pod_template(spec),
            "strategy": _strategy(spec),
        },
    }


def error_rate_query(spec: ServiceSpec, pod_hash: str) -> str:
    """PromQL: the share of the 5xx responses of the pods of one revision (their pod-template hash)
    over the last two minutes, counting only the requests users make: probes, the load balancer's
    health checks and scrapes are all 200s, and would dilute a failing canary below the limit."""
    selector = f'namespace="{spec.namespace}",{POD_HASH_LABEL}="{pod_hash}",route!~"{"|".join(NOT_USER_ROUTES)}"'
    requests = f"sum(rate({REQUESTS_METRIC}{{{selector}}}[2m]))"
    errors = f'sum(rate({REQUESTS_METRIC}{{{selector},status=~"5.."}}[2m]))'
    # No traffic yet gives no sample: `or vector(0)` makes that a 0 % error rate, not a failure.
    return f"({errors} or vector(0)) / ({requests} > 0 or vector(1))"


def analysis_template(spec: ServiceSpec) -> Obj:
    """Two metrics, each of which fails the analysis (and so aborts the rollout) on its own."""
    return {
        "apiVersion": ROLLOUTS_API,
        "kind": "AnalysisTemplate",
        "metadata": _metadata(spec, spec.analysis_template),
        "spec": {
            "args": [{"name": "service"}, {"name": "pod-hash"}],
            "metrics": [
                {
                    "name": "error-rate",
                    "interval": "30s",
                    "count": 4,
                    "failureLimit": 1,
                    "successCondition": f"result[0] < {ERROR_RATE_LIMIT}",
                    "provider": {
                        "prometheus": {
                            "address": spec.prometheus_url,
                            "query": error_rate_query(spec, "{{args.pod-hash}}"),
                        }
                    },
                },
                {
                    "name": "health",
                    "interval": "10s",
                    "count": 3,
                    "failureLimit": 0,
                    "successCondition": 'result == "ok"',
                    "provider": {
                        "web": {
                            "url": f"http://{{{{args.service}}}}.{spec.namespace}.svc:{SERVICE_PORT}{HEALTH_PATH}",
                            "jsonPath": "{$.status}",
                            "timeoutSeconds": 5,
                        }
                    },
                },
            ],
        },
    }


def service(spec: ServiceSpec, name: str) -> Obj:
    """A ClusterIP service on :data:`SERVICE_PORT` to the public port only; Argo adds the pod-hash
    selector to route it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, name),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.labels,
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": PUBLIC_PORT_NAME, "protocol": "TCP"}],
        },
    }


def ingress(spec: ServiceSpec) -> Obj:
    """The internet-facing ALB ingress behind the edge (TLS, WAF), to the stable Service, which exposes
    the public port only: ``/ready`` and ``/metrics`` are not served there. With the canary, Argo
    writes the weighted forward action into the ``actions.<stable>`` annotation the backend names."""
    if spec.strategy is Strategy.CANARY:
        port: Obj = {"name": "use-annotation"}
    else:
        port = {"number": SERVICE_PORT}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(
            spec,
            spec.name,
            annotations={
                **spec.ingress_annotations,
                "alb.ingress.kubernetes.io/healthcheck-path": HEALTH_PATH,
            },
        ),
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "host": spec.host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": spec.stable_service, "port": port}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def autoscaler(spec: ServiceSpec) -> Obj:
    """Scale the Rollout between the minimum and maximum at 70 % CPU of the requests (spec section 6)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": ROLLOUTS_API, "kind": "Rollout", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": spec.cpu_target_percent},
                    },
                }
            ],
            # The spec (story 0.3): scale up above 70 % CPU at once; scale down only after 5 minutes of
            # low use. HPA has one target, not a second threshold: a scale-down happens when every
            # recommendation of the last SCALE_DOWN_WINDOW_SECONDS asks for fewer pods (at the 70 %
            # target, one pod of two goes when both averaged under 35 %), and then one pod a minute.
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def disruption_budget(spec: ServiceSpec) -> Obj:
    """Voluntary disruptions (node drains, upgrades) take at most one pod at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, spec.name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": spec.labels}},
    }


def _label_name(label: str) -> str:
    """A pod label as Prometheus' Kubernetes discovery names it: every character not allowed in a
    label name becomes `_` (`app.kubernetes.io/name` -> `app_kubernetes_io_name`)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label)


def pod_monitor(spec: ServiceSpec) -> Obj:
    """Prometheus scrapes ``/metrics`` on the internal port of every pod of the service once (a
    ServiceMonitor would scrape each pod once per service: both select the same pods between
    rollouts, and no Service exposes the internal port), labelled with the pod's revision, which the
    analysis selects the new pods by."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "selector": {"matchLabels": spec.labels},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "podMetricsEndpoints": [
                {
                    "port": INTERNAL_PORT_NAME,
                    "path": METRICS_PATH,
                    "interval": "15s",
                    # `service` on every series: the dashboards and alerts group by it
                    # (modules/platform/metrics_contract.py)
                    "relabelings": [
                        {
                            "sourceLabels": [f"__meta_kubernetes_pod_label_{_label_name(NAME_LABEL)}"],
                            "targetLabel": SERVICE_LABEL,
                        }
                    ],
                }
            ],
            "podTargetLabels": [POD_HASH],
        },
    }


def service_objects(spec: ServiceSpec) -> dict[str, Obj]:
    """Every object of the service, by a stable construct id."""
    return {
        ROLLOUT_ID: rollout(spec),
        "analysis": analysis_template(spec),
        "service-stable": service(spec, spec.stable_service),
        "service-candidate": service(spec, spec.candidate_service),
        "ingress": ingress(spec),
        "autoscaler": autoscaler(spec),
        "disruption-budget": disruption_budget(spec),
        "pod-monitor": pod_monitor(spec),
    }
