"""What exists in a cluster before the apps stack deploys, and who creates each object: pure data.

The reference check (``tests/synth/test_references.py``) lists every object the stacks' Helm values
and Kubernetes objects name (a StorageClass, ServiceAccount, Secret, ConfigMap, Service, Namespace,
PriorityClass, IngressClass, CSIDriver, API service, or an API kind a CRD must serve) and looks each
up among what some stack creates: the Terraform resources of the environment's stacks, the objects
Kubernetes and EKS make themselves (:data:`KUBERNETES_OBJECTS`, :data:`EKS_OBJECTS`), what each EKS
add-on installs (:func:`addon_objects`) and what each Helm release installs (:func:`chart_objects`,
from the release's own values, since names follow ``fullnameOverride`` and ``serviceAccount.name``).

Every entry names its source: for a chart, the template that renders it at the tag of the pinned
version (:mod:`modules.platform.charts`); for Kubernetes and EKS, the documentation that says so.
Only objects something may reference are listed, not every object a chart renders.

The names the values and constructs share (:data:`DEFAULT_STORAGE_CLASS`, :data:`KPS_FULLNAME`, ...)
are defined here, so a renamed object and its references change together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The platform stack's default StorageClass (modules/platform/storage.py) and EKS's own.
DEFAULT_STORAGE_CLASS = "gp3"
EKS_STORAGE_CLASS = "gp2"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
# kube-prometheus-stack's objects start with this (fullnameOverride): the Prometheus service is
# ``kps-prometheus``. Its Grafana subchart does not inherit it (grafana.fullname is
# "<release>-grafana" without its own override), so Grafana gets :data:`GRAFANA_FULLNAME` explicitly.
KPS_FULLNAME = "kps"
GRAFANA_FULLNAME = f"{KPS_FULLNAME}-grafana"
ALERTMANAGER_SERVICE_ACCOUNT = f"{KPS_FULLNAME}-alertmanager"  # the chart's own default name, set explicitly
ALB_INGRESS_CLASS = "alb"


class Kind(StrEnum):
    """The kinds of object a reference can name. ``API_KIND`` is a kind the API server must serve
    (built in, or from a CRD), named ``<apiVersion>/<Kind>`` (``argoproj.io/v1alpha1/Rollout``,
    ``v1/Service``)."""

    NAMESPACE = "Namespace"
    STORAGE_CLASS = "StorageClass"
    SERVICE_ACCOUNT = "ServiceAccount"
    SECRET = "Secret"  # noqa: S105 - a kind's name, not a password
    CONFIG_MAP = "ConfigMap"
    SERVICE = "Service"
    PRIORITY_CLASS = "PriorityClass"
    INGRESS_CLASS = "IngressClass"
    CSI_DRIVER = "CSIDriver"
    API_SERVICE = "APIService"
    API_KIND = "APIKind"
    ANALYSIS_TEMPLATE = "AnalysisTemplate"


NAMESPACED = frozenset({Kind.SERVICE_ACCOUNT, Kind.SECRET, Kind.CONFIG_MAP, Kind.SERVICE, Kind.ANALYSIS_TEMPLATE})


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """One object by kind, name and (for namespaced kinds) namespace."""

    kind: Kind
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind.value} {self.name}{where}"


@dataclass(frozen=True, slots=True)
class Created:
    """An object and where it is written that it is created."""

    ref: ObjectRef
    source: str


def api_kind(api_version: str, kind: str) -> ObjectRef:
    """The API kind of ``apiVersion`` and ``kind``: ``argoproj.io/v1alpha1/Rollout``, ``v1/Service``."""
    return ObjectRef(Kind.API_KIND, f"{api_version}/{kind}")


_K8S_NAMESPACES = "Kubernetes documentation, 'Namespaces' (initial namespaces), read 2026-12-06"
_K8S_PRIORITY = "Kubernetes documentation, 'Pod Priority and Preemption' (built-in classes), read 2026-12-06"
# Created by Kubernetes itself in every cluster.
KUBERNETES_OBJECTS: tuple[Created, ...] = (
    *(
        Created(ObjectRef(Kind.NAMESPACE, name), _K8S_NAMESPACES)
        for name in ("default", "kube-system", "kube-public", "kube-node-lease")
    ),
    *(
        Created(ObjectRef(Kind.PRIORITY_CLASS, name), _K8S_PRIORITY)
        for name in ("system-cluster-critical", "system-node-critical")
    ),
    Created(
        ObjectRef(Kind.SERVICE, "kubernetes", "default"),
        "Kubernetes documentation, 'Service' (the API server's own Service), read 2026-12-06",
    ),
)

# Created by EKS in every cluster, add-ons aside.
EKS_OBJECTS: tuple[Created, ...] = (
    Created(
        ObjectRef(Kind.STORAGE_CLASS, EKS_STORAGE_CLASS),
        "AWS EKS user guide, Kubernetes 1.30 release notes: gp2 is still created, no longer marked default",
    ),
)


def addon_objects(addon: str) -> tuple[Created, ...]:
    """What the EKS managed add-on ``addon`` installs that something may reference."""
    source = f"AWS EKS user guide, the {addon} add-on page (its IRSA role trusts this service account)"
    table: dict[str, tuple[ObjectRef, ...]] = {
        "vpc-cni": (ObjectRef(Kind.SERVICE_ACCOUNT, "aws-node", "kube-system"),),
        "aws-ebs-csi-driver": (
            ObjectRef(Kind.SERVICE_ACCOUNT, "ebs-csi-controller-sa", "kube-system"),
            ObjectRef(Kind.CSI_DRIVER, EBS_CSI_PROVISIONER),
        ),
        "coredns": (ObjectRef(Kind.SERVICE, "kube-dns", "kube-system"),),
        "kube-proxy": (),
        "eks-pod-identity-agent": (),
    }
    return tuple(Created(ref, source) for ref in table.get(addon, ()))


def _get(values: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _fullname(release: str, chart: str, override: Any, limit: int = 63) -> str:
    """Helm's usual ``<chart>.fullname``: the override, or the release name when it contains the
    chart's, or ``<release>-<chart>``; truncated to ``limit`` characters."""
    if override:
        name = str(override)
    elif chart in release:
        name = release
    else:
        name = f"{release}-{chart}"
    return name[:limit].rstrip("-")


def _service_account(values: Mapping[str, Any], block: tuple[str, ...], default_name: str) -> str | None:
    """The service account a chart creates from the ``block`` of its values, None when it creates none."""
    if _get(values, *block, "create", default=True) is not True:
        return None
    return str(_get(values, *block, "name", default="") or default_name)


_KPS = "prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3 (ea930ba), charts/kube-prometheus-stack/"
# (kind, the version its CRD serves)
_KPS_CRDS = (
    ("Alertmanager", "v1"),
    ("AlertmanagerConfig", "v1alpha1"),
    ("PodMonitor", "v1"),
    ("Probe", "v1"),
    ("Prometheus", "v1"),
    ("PrometheusAgent", "v1alpha1"),
    ("PrometheusRule", "v1"),
    ("ScrapeConfig", "v1alpha1"),
    ("ServiceMonitor", "v1"),
    ("ThanosRuler", "v1"),
)
_GRAFANA = (
    "grafana-community/helm-charts, tag grafana-12.11.1 (864f779, kube-prometheus-stack's dependency), charts/grafana/"
)
_LBC = "aws/eks-charts, tag v0.0.242 (5239609), stable/aws-load-balancer-controller/"
_FLUENT = "aws/eks-charts, tag v0.0.242 (5239609), stable/aws-for-fluent-bit/"
_AUTOSCALER = "kubernetes/autoscaler, charts/cluster-autoscaler/templates/serviceaccount.yaml (rbac.serviceAccount)"
_METRICS = "kubernetes-sigs/metrics-server, charts/metrics-server/templates/apiservice.yaml (apiService.create)"
_ROLLOUTS = "argoproj/argo-helm, tag argo-rollouts-2.41.0 (8796aea), charts/argo-rollouts/templates/crds/"


def _kube_prometheus_stack(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    full = _fullname(release, "kube-prometheus-stack", values.get("fullnameOverride"), limit=26)
    out = [
        Created(api_kind(f"monitoring.coreos.com/{version}", kind), f"{_KPS}charts/crds/crds/crd-{kind.lower()}s.yaml")
        for kind, version in _KPS_CRDS
        if _get(values, "crds", "enabled", default=True) is True
    ]
    helpers = f"{_KPS}templates/_helpers.tpl"
    for component, block in (("operator", "prometheusOperator"), ("prometheus", "prometheus")):
        account = _service_account(values, (block, "serviceAccount"), f"{full}-{component}")
        if account:
            out.append(Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{helpers} ({component})"))
    out.append(
        Created(ObjectRef(Kind.SERVICE, f"{full}-operator", ns), f"{_KPS}templates/prometheus-operator/service.yaml")
    )
    out.append(Created(ObjectRef(Kind.SERVICE, f"{full}-prometheus", ns), f"{_KPS}templates/prometheus/service.yaml"))
    if _get(values, "alertmanager", "enabled", default=True) is True:
        account = _service_account(values, ("alertmanager", "serviceAccount"), f"{full}-alertmanager")
        if account:
            out.append(Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{helpers} (alertmanager)"))
        out.append(
            Created(ObjectRef(Kind.SERVICE, f"{full}-alertmanager", ns), f"{_KPS}templates/alertmanager/service.yaml")
        )
        out.append(
            Created(
                ObjectRef(Kind.SECRET, f"alertmanager-{full}-alertmanager", ns),
                f"{_KPS}templates/alertmanager/secret.yaml (the configuration)",
            )
        )
    grafana = _get(values, "grafana", default={})
    if isinstance(grafana, Mapping) and grafana.get("enabled", True) is True:
        gname = _fullname(release, "grafana", grafana.get("fullnameOverride"))
        account = _service_account(grafana, ("serviceAccount",), gname)
        if account:
            out.append(Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{_GRAFANA}templates/_helpers.tpl"))
        out.append(Created(ObjectRef(Kind.SERVICE, gname, ns), f"{_GRAFANA}templates/service.yaml"))
        out.append(Created(ObjectRef(Kind.CONFIG_MAP, gname, ns), f"{_GRAFANA}templates/configmap.yaml (grafana.ini)"))
        if not _get(grafana, "admin", "existingSecret", default=""):
            out.append(
                Created(
                    ObjectRef(Kind.SECRET, gname, ns),
                    f"{_GRAFANA}templates/secret.yaml (admin-user, admin-password: generated once, kept by lookup)",
                )
            )
    return out


def _load_balancer_controller(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    full = _fullname(release, "aws-load-balancer-controller", values.get("fullnameOverride"))
    out = [
        Created(api_kind("elbv2.k8s.aws/v1beta1", kind), f"{_LBC}crds/crds.yaml")
        for kind in ("IngressClassParams", "TargetGroupBinding")
    ]
    account = _service_account(values, ("serviceAccount",), full)
    if account:
        out.append(Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{_LBC}templates/serviceaccount.yaml"))
    if values.get("createIngressClassResource", True) is True:
        name = str(values.get("ingressClass") or ALB_INGRESS_CLASS)
        out.append(Created(ObjectRef(Kind.INGRESS_CLASS, name), f"{_LBC}templates/ingressclass.yaml"))
    return out


def _fluent_bit(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    account = _service_account(
        values, ("serviceAccount",), _fullname(release, "aws-for-fluent-bit", values.get("fullnameOverride"))
    )
    return (
        [Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{_FLUENT}templates/serviceaccount.yaml")]
        if account
        else []
    )


def _cluster_autoscaler(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    default = _fullname(release, "cluster-autoscaler", values.get("fullnameOverride"))
    account = _service_account(values, ("rbac", "serviceAccount"), default)
    return [Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), _AUTOSCALER)] if account else []


def _metrics_server(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    # The resource metrics API that HorizontalPodAutoscalers on CPU and memory read.
    if _get(values, "apiService", "create", default=True) is not True:
        return []
    return [Created(ObjectRef(Kind.API_SERVICE, "v1beta1.metrics.k8s.io"), _METRICS)]


def _argo_rollouts(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    if values.get("installCRDs") is not True:
        return []
    files = {
        "Rollout": "rollout-crd.yaml",
        "AnalysisTemplate": "analysis-template-crd.yaml",
        "ClusterAnalysisTemplate": "cluster-analysis-template-crd.yaml",
        "AnalysisRun": "analysis-run-crd.yaml",
        "Experiment": "experiment-crd.yaml",
    }
    return [Created(api_kind("argoproj.io/v1alpha1", kind), f"{_ROLLOUTS}{file}") for kind, file in files.items()]


_ARC = "actions/actions-runner-controller, tag gha-runner-scale-set-0.14.2 (9bb16ae), charts/"
_ARC_KINDS = ("AutoscalingListener", "AutoscalingRunnerSet", "EphemeralRunner", "EphemeralRunnerSet")
_EXTERNAL_DNS = "kubernetes-sigs/external-dns, tag external-dns-helm-chart-1.21.1 (9f26451), charts/external-dns/"


def _arc_controller(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    out = [
        Created(
            api_kind("actions.github.com/v1alpha1", kind),
            f"{_ARC}gha-runner-scale-set-controller/crds/actions.github.com_{kind.lower()}s.yaml",
        )
        for kind in _ARC_KINDS
    ]
    full = _fullname(release, "gha-rs-controller", values.get("fullnameOverride"))
    account = _service_account(values, ("serviceAccount",), full)
    if account:
        out.append(
            Created(
                ObjectRef(Kind.SERVICE_ACCOUNT, account, ns),
                f"{_ARC}gha-runner-scale-set-controller/templates/serviceaccount.yaml",
            )
        )
    return out


def _arc_scale_set(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    # With githubConfigSecret as a map the chart renders the Secret; named (a string), an operator
    # creates it (modules/platform/runners.py), and it is not listed here.
    secret = values.get("githubConfigSecret")
    if isinstance(secret, Mapping):
        name = _fullname(release, "gha-rs", values.get("fullnameOverride")).replace("_", "-")
        return [
            Created(
                ObjectRef(Kind.SECRET, f"{name}-github-secret", ns),
                f"{_ARC}gha-runner-scale-set/templates/githubsecret.yaml",
            )
        ]
    return []


def _external_dns(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
    full = _fullname(release, "external-dns", values.get("fullnameOverride"))
    account = _service_account(values, ("serviceAccount",), full)
    return (
        [Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{_EXTERNAL_DNS}templates/serviceaccount.yaml")]
        if account
        else []
    )


_PCHARTS = "prometheus-community/helm-charts, tag {chart}-{version}, charts/{chart}/templates/"


def _exporter(chart: str, version: str) -> Callable[[str, Mapping[str, Any], str], list[Created]]:
    """The PostgreSQL and Redis exporters' charts: their service account and Service (the
    ServiceMonitor's target), both named by ``fullnameOverride``."""
    where = _PCHARTS.format(chart=chart, version=version)

    def build(release: str, values: Mapping[str, Any], ns: str) -> list[Created]:
        full = _fullname(release, chart, values.get("fullnameOverride"))
        out = [Created(ObjectRef(Kind.SERVICE, full, ns), f"{where}service.yaml")]
        account = _service_account(values, ("serviceAccount",), full)
        if account:
            out.append(Created(ObjectRef(Kind.SERVICE_ACCOUNT, account, ns), f"{where}serviceaccount.yaml"))
        return out

    return build


_CHARTS = {
    "kube-prometheus-stack": _kube_prometheus_stack,
    "aws-load-balancer-controller": _load_balancer_controller,
    "aws-for-fluent-bit": _fluent_bit,
    "cluster-autoscaler": _cluster_autoscaler,
    "metrics-server": _metrics_server,
    "argo-rollouts": _argo_rollouts,
    "gha-runner-scale-set-controller": _arc_controller,
    "gha-runner-scale-set": _arc_scale_set,
    "external-dns": _external_dns,
    "prometheus-postgres-exporter": _exporter("prometheus-postgres-exporter", "8.2.0"),
    "prometheus-redis-exporter": _exporter("prometheus-redis-exporter", "6.29.0"),
}
CHARTS_KNOWN = frozenset(_CHARTS)


def chart_objects(chart: str, *, release: str, values: Mapping[str, Any], namespace: str) -> tuple[Created, ...]:
    """What a release of ``chart`` named ``release`` with ``values`` creates in ``namespace`` that
    something may reference; refuses a chart this table does not know (add it with its sources)."""
    try:
        build = _CHARTS[chart]
    except KeyError:
        raise ValueError(
            f"chart {chart!r}: not in modules/platform/cluster_objects.py; add what it creates with its sources"
        ) from None
    return tuple(build(release, values, namespace))
