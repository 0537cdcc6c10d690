"""The platform's namespaces and the traffic each may have on top of its default deny.

- every namespace but ``monitoring`` admits scraping from ``monitoring`` on the app ports (the public
  one and the internal one of readiness and metrics);
- the app namespaces (every one but the platform's own: the environments', which the settings' rules
  check) admit the load balancer (the VPC: targets are pod IPs) and Argo Rollouts' analysis (from
  kube-system) on the app port, and reach the data tier (5432, 6379) and HTTPS out;
- ``playwright-pool`` reaches the web (80, 443);
- ``monitoring`` is ``privileged`` (node-exporter, fluent-bit; the reason is written into its
  annotation), talks within itself, admits Argo Rollouts' analysis on Prometheus' port and the API
  server on the operator's webhook, scrapes every other namespace, and reaches the nodes and AWS.

The policies are enforced by the VPC CNI's network policy agent, which the cluster stack turns on
(``enableNetworkPolicy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modules.network import Network
from modules.platform.namespace import Namespace, NamespaceProps, PodSecurity
from qualisys_infra.core import playwright_pool
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import MONITORING_NAMESPACE, PLATFORM_NAMESPACES
from qualisys_infra.core.settings import NamespaceConfig

MONITORING = MONITORING_NAMESPACE
KUBE_SYSTEM = "kube-system"
PLAYWRIGHT_POOL = playwright_pool.NAMESPACE
APP_PORT = 8080
# The services' internal port (readiness and metrics, modules/apps/objects.py): Prometheus scrapes it;
# the kubelet's probes come from the node's own address, which the VPC CNI's policy agent always admits
# (aws/aws-network-policy-agent#65); no Service or load balancer reaches it.
APP_INTERNAL_PORT = 8081
PROMETHEUS_PORT = 9090
OPERATOR_WEBHOOK_PORT = 10250  # the Prometheus operator's admission webhook (kube-prometheus-stack)
ANYWHERE = "0.0.0.0/0"
MONITORING_REASON = (
    "node-exporter needs hostNetwork, hostPID and host paths, and fluent-bit reads /var/log on every node; "
    "nothing else runs here"
)


def app_namespaces(names: Iterable[str]) -> tuple[str, ...]:
    """The environments' namespaces among ``names`` (every namespace but the platform's own, which the
    settings' rules allow only for environments): where apps run, with the app traffic and the RBAC."""
    return tuple(name for name in names if name not in PLATFORM_NAMESPACES)


def platform_namespaces(
    scope: Construct, *, namespaces: Mapping[str, NamespaceConfig], network: Network, pod_security_version: str
) -> dict[str, Namespace]:
    """One :class:`Namespace` per entry of ``namespaces``, with id ``ns-<name>`` in ``scope``.

    The ids sit directly in ``scope`` (not under a grouping construct) so that the namespaces'
    addresses stay ``kubernetes_namespace_v1.ns-<name>_namespace``: replacing a namespace deletes
    everything in it.
    """
    created: dict[str, Namespace] = {}
    for name, quota in namespaces.items():
        privileged = name == MONITORING
        namespace = Namespace(
            scope,
            f"ns-{name}",
            props=NamespaceProps(
                name=name,
                quota=quota,
                pod_security=PodSecurity.PRIVILEGED if privileged else PodSecurity.RESTRICTED,
                privileged_reason=MONITORING_REASON if privileged else "",
                pod_security_version=pod_security_version,
            ),
        )
        created[name] = namespace
        if name != MONITORING:
            namespace.allow_ingress_from_namespace(
                "allow-scraping", MONITORING, ports=((APP_PORT, "TCP"), (APP_INTERNAL_PORT, "TCP"))
            )
        if name not in PLATFORM_NAMESPACES:  # an environment's: its apps run here
            vpc = network.vpc_cidr
            namespace.allow_ingress_from_network("allow-load-balancer", vpc, ports=((APP_PORT, "TCP"),))
            # Argo Rollouts (in kube-system) asks the new pods' /health before it shifts traffic.
            namespace.allow_ingress_from_namespace("allow-rollout-analysis", KUBE_SYSTEM, ports=((APP_PORT, "TCP"),))
            namespace.allow_egress_to_network("allow-data-tier", vpc, ports=((5432, "TCP"), (6379, "TCP")))
            namespace.allow_egress_to_network("allow-https-out", ANYWHERE, ports=((443, "TCP"),))
        elif name == PLAYWRIGHT_POOL:
            namespace.allow_egress_to_network("allow-web-out", ANYWHERE, ports=((443, "TCP"), (80, "TCP")))
        elif name == MONITORING:
            # Grafana, Prometheus, Alertmanager and the operator talk to each other; Argo Rollouts'
            # analysis (kube-system) asks Prometheus; the API server calls the operator's webhook.
            namespace.allow_ingress_from_namespace("allow-from-monitoring", MONITORING)
            namespace.allow_egress_to_namespace("allow-to-monitoring", MONITORING)
            namespace.allow_ingress_from_namespace(
                "allow-rollout-analysis", KUBE_SYSTEM, ports=((PROMETHEUS_PORT, "TCP"),)
            )
            namespace.allow_ingress_from_network(
                "allow-api-server-webhooks", network.vpc_cidr, ports=((OPERATOR_WEBHOOK_PORT, "TCP"),)
            )
            for target in namespaces:
                if target != MONITORING:
                    namespace.allow_egress_to_namespace(
                        f"allow-scrape-{target}", target, ports=((APP_PORT, "TCP"), (APP_INTERNAL_PORT, "TCP"))
                    )
            namespace.allow_egress_to_network(
                "allow-nodes-and-aws", ANYWHERE, ports=((443, "TCP"), (10250, "TCP"), (9100, "TCP"))
            )
    return created
