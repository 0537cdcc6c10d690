"""Every Helm chart of the platform, pinned in one place: repository, chart, exact version."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Chart:
    repository: str
    chart: str
    version: str


CHARTS = {
    "kube-prometheus-stack": Chart(
        "https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "75.15.1"
    ),
    "aws-load-balancer-controller": Chart("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "1.13.3"),
    "aws-for-fluent-bit": Chart("https://aws.github.io/eks-charts", "aws-for-fluent-bit", "0.1.35"),
    "cluster-autoscaler": Chart("https://kubernetes.github.io/autoscaler", "cluster-autoscaler", "9.46.6"),
    "metrics-server": Chart("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.12.2"),
}
