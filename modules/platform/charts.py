"""Every Helm chart of the platform, pinned in one place: repository, chart, exact version.

Each pin names where it was verified: the chart's ``Chart.yaml`` (``version``, ``appVersion``) at
the release tag of its source repository. ``qualisys-infra charts`` compares the pins with the
repositories' ``index.yaml``.

The cluster-autoscaler is pinned per Kubernetes minor: its minor version must match the cluster's
(kubernetes/autoscaler's README), so the chart and image come from :data:`AUTOSCALER_RELEASES` by
``eks_kubernetes_version``, built from the lifecycle table of :mod:`qualisys_infra.core.lifecycle`.
The chart is the newest one whose ``appVersion`` is of that minor (or the newest chart, when none of
that minor is released yet); the image is the newest patch release of that minor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from qualisys_infra.core.lifecycle import KUBERNETES_MINORS, AutoscalerPin, minor_of

PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
EKS_CHARTS = "https://aws.github.io/eks-charts"
AUTOSCALER = "https://kubernetes.github.io/autoscaler"
METRICS_SERVER = "https://kubernetes-sigs.github.io/metrics-server/"
ARGO = "https://argoproj.github.io/argo-helm"
EXTERNAL_DNS = "https://kubernetes-sigs.github.io/external-dns/"
# GitHub publishes the Actions Runner Controller's scale-set charts only as OCI artifacts on ghcr.io
# (no index.yaml), so they sit in RUNNER_CHARTS, beside CHARTS: `qualisys-infra charts` and
# `outdated` read HTTPS indexes and do not list them yet.
ARC_CHARTS = "oci://ghcr.io/actions/actions-runner-controller-charts"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """A chart at an exact version; ``app_version`` is that version's ``appVersion``, for the record.

    ``same_app_minor`` marks a chart whose newer versions only count as updates while their
    ``appVersion`` keeps the minor of this one (the cluster-autoscaler: one line per Kubernetes minor).
    """

    repository: str
    chart: str
    version: str
    app_version: str
    same_app_minor: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalerRelease:
    """The cluster-autoscaler chart and image for one Kubernetes minor."""

    chart: Chart
    image_tag: str


# Release name -> chart, for every chart but the cluster-autoscaler (see AUTOSCALER_RELEASES).
CHARTS: Mapping[str, Chart] = MappingProxyType(
    {
        # prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3 (ea930ba, 2026-08-21): Chart.yaml version 88.5.3, appVersion v0.93.1.
        # From 75.x: no values key we set was renamed; Helm does not upgrade CRDs, so an existing install
        # needs the operator's CRDs applied first (the chart's UPGRADE.md, one note per major).
        "kube-prometheus-stack": Chart(
            repository=PROMETHEUS_COMMUNITY, chart="kube-prometheus-stack", version="88.5.3", app_version="v0.93.1"
        ),
        # aws/eks-charts, tag v0.0.242 (5239609, 2026-08-03): stable/aws-load-balancer-controller/Chart.yaml version 3.5.0, appVersion v3.5.0.
        "aws-load-balancer-controller": Chart(
            repository=EKS_CHARTS, chart="aws-load-balancer-controller", version="3.5.0", app_version="v3.5.0"
        ),
        # aws/eks-charts, tag v0.0.242 (5239609, 2026-08-03): stable/aws-for-fluent-bit/Chart.yaml version 0.2.0, appVersion 3.2.1.
        "aws-for-fluent-bit": Chart(
            repository=EKS_CHARTS, chart="aws-for-fluent-bit", version="0.2.0", app_version="3.2.1"
        ),
        # kubernetes-sigs/metrics-server, tag metrics-server-helm-chart-3.13.1 (842dcc8, 2026-06-11): charts/metrics-server/Chart.yaml version 3.13.1, appVersion 0.8.1.
        "metrics-server": Chart(
            repository=METRICS_SERVER, chart="metrics-server", version="3.13.1", app_version="0.8.1"
        ),
        # argoproj/argo-helm, tag argo-rollouts-2.41.0 (8796aea, 2026-06-05): charts/argo-rollouts/Chart.yaml version 2.41.0, appVersion v1.9.0.
        # The progressive-delivery controller the apps stack's Rollouts need (canary with ALB traffic
        # routing, blue-green, analysis against Prometheus); its CRDs come with the chart.
        "argo-rollouts": Chart(repository=ARGO, chart="argo-rollouts", version="2.41.0", app_version="v1.9.0"),
        # kubernetes-sigs/external-dns, tag external-dns-helm-chart-1.21.1 (9f26451, 2026-04-30): charts/external-dns/Chart.yaml version 1.21.1, appVersion 0.21.0.
        # Writes the Route 53 records of the ingress hosts when the environment names a hosted zone.
        "external-dns": Chart(repository=EXTERNAL_DNS, chart="external-dns", version="1.21.1", app_version="0.21.0"),
        # prometheus-community/helm-charts, tag prometheus-postgres-exporter-8.2.0 (e759e9a, 2026-07-14): Chart.yaml version 8.2.0, appVersion v0.20.1 (read 2026-12-06).
        # The metric names the dashboards read are in postgres_exporter v0.20.1's default collectors (stat_activity, stat_database, settings).
        "postgres-exporter": Chart(
            repository=PROMETHEUS_COMMUNITY,
            chart="prometheus-postgres-exporter",
            version="8.2.0",
            app_version="v0.20.1",
        ),
        # prometheus-community/helm-charts, tag prometheus-redis-exporter-6.29.0 (4cb96d5, 2026-08-09): Chart.yaml version 6.29.0, appVersion v1.89.0 (read 2026-12-06).
        "redis-exporter": Chart(
            repository=PROMETHEUS_COMMUNITY, chart="prometheus-redis-exporter", version="6.29.0", app_version="v1.89.0"
        ),
    }
)

# Release name -> chart of the metrics exporters of the data tier (modules/platform/exporters.py).
EXPORTER_CHARTS: Mapping[str, Chart] = MappingProxyType(
    {name: CHARTS[name] for name in ("postgres-exporter", "redis-exporter")}
)

# Release name -> chart of the in-cluster GitHub Actions runners (modules/platform/runners.py): the
# controller, and one runner scale set per duty (naming.RUNNER_DUTIES) from the same chart.
# actions/actions-runner-controller, tag gha-runner-scale-set-0.14.2 (9bb16ae, 2026-05-22):
# charts/gha-runner-scale-set-controller/Chart.yaml and charts/gha-runner-scale-set/Chart.yaml,
# version 0.14.2, appVersion 0.14.2 (read 2026-12-06).
RUNNER_CHARTS: Mapping[str, Chart] = MappingProxyType(
    {
        "arc-controller": Chart(
            repository=ARC_CHARTS, chart="gha-runner-scale-set-controller", version="0.14.2", app_version="0.14.2"
        ),
        "arc-runners-plan": Chart(
            repository=ARC_CHARTS, chart="gha-runner-scale-set", version="0.14.2", app_version="0.14.2"
        ),
        "arc-runners-apply": Chart(
            repository=ARC_CHARTS, chart="gha-runner-scale-set", version="0.14.2", app_version="0.14.2"
        ),
    }
)


def _autoscaler(minor: str, pin: AutoscalerPin) -> AutoscalerRelease:
    # A chart of an older appVersion (none of this minor released yet) is behind any newer chart.
    chart = Chart(
        repository=AUTOSCALER,
        chart="cluster-autoscaler",
        version=pin.chart,
        app_version=pin.chart_app_version,
        same_app_minor=minor_of(pin.chart_app_version) == minor,
    )
    return AutoscalerRelease(chart=chart, image_tag=pin.image_tag)


# Kubernetes minor -> cluster-autoscaler, from the lifecycle table (qualisys_infra/core/lifecycle.py,
# where each pin names the tags it was verified at): one table for everything pinned per minor.
AUTOSCALER_RELEASES: Mapping[str, AutoscalerRelease] = MappingProxyType(
    {
        minor: _autoscaler(minor, row.autoscaler)
        for minor, row in KUBERNETES_MINORS.items()
        if row.autoscaler is not None
    }
)


def kubernetes_minor(version: str) -> str:
    """``"1.36"`` for ``"1.36"``, ``"1.36.4"`` or ``"v1.36.4"``."""
    return minor_of(version)


def autoscaler_release(kubernetes_version: str) -> AutoscalerRelease:
    """The cluster-autoscaler of the cluster's Kubernetes minor; refuses a minor with no pinned release."""
    minor = kubernetes_minor(kubernetes_version)
    try:
        return AUTOSCALER_RELEASES[minor]
    except KeyError:
        known = ", ".join(AUTOSCALER_RELEASES)
        raise ValueError(
            f"eks_kubernetes_version {kubernetes_version!r}: no cluster-autoscaler is pinned for Kubernetes "
            f"{minor} (pinned: {known}); add one to KUBERNETES_MINORS in qualisys_infra/core/lifecycle.py"
        ) from None


def platform_charts(kubernetes_version: str) -> dict[str, Chart]:
    """Release name -> chart of every release a cluster of ``kubernetes_version`` runs (external-dns
    only where the environment names a hosted zone)."""
    return {**CHARTS, "cluster-autoscaler": autoscaler_release(kubernetes_version).chart, **RUNNER_CHARTS}


def every_pin() -> dict[str, Chart]:
    """Every pinned chart by a readable name: one per release, one per Kubernetes minor for the autoscaler."""
    pins = dict(CHARTS)
    for minor, release in AUTOSCALER_RELEASES.items():
        pins[f"cluster-autoscaler (Kubernetes {minor})"] = release.chart
    return pins
