"""A Kubernetes namespace with its guard rails: Pod Security labels, quota, limits, default-deny network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import limit_range_v1, namespace_v1, network_policy_v1, resource_quota_v1
from qualisys_infra.core.settings import NamespaceConfig

# Why a namespace is privileged. The label domain qualisys.io/ is the organisation's DNS name (as the node
# pool label of core/playwright_pool.py), not a name derived from the project setting: it stays put.
POD_SECURITY_REASON_ANNOTATION = "qualisys.io/pod-security-reason"

Ports = tuple[tuple[int, str], ...]  # (port, protocol) pairs


class PodSecurity(StrEnum):
    RESTRICTED = "restricted"
    BASELINE = "baseline"
    PRIVILEGED = "privileged"


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceProps:
    """The namespace's name, quota, and Pod Security level.

    ``pod_security`` is ``restricted`` unless a chart truly needs more; then ``privileged_reason``
    must say why (it is written into the namespace's annotations). Every namespace starts with a
    NetworkPolicy that denies all ingress and egress, plus DNS to kube-system.

    ``pod_security_version`` pins the Pod Security Standards' version (``v1.36``) so that a cluster
    upgrade, AWS's own included, does not silently change what a level admits; it comes from the
    lifecycle table's row of the cluster's minor (:mod:`qualisys_infra.core.lifecycle`).
    """

    name: str
    quota: NamespaceConfig
    pod_security_version: str
    pod_security: PodSecurity = PodSecurity.RESTRICTED
    privileged_reason: str = ""


class Namespace(Construct):
    def __init__(self, scope: Construct, id_: str, *, props: NamespaceProps) -> None:
        super().__init__(scope, id_)
        if props.pod_security is not PodSecurity.RESTRICTED and len(props.privileged_reason) < 20:
            raise ValueError(f"{props.name}: a {props.pod_security} namespace needs a written reason")
        self.name = props.name
        level = props.pod_security.value
        labels = {"kubernetes.io/metadata.name": props.name}
        for mode in ("enforce", "audit", "warn"):
            labels[f"pod-security.kubernetes.io/{mode}"] = level
            labels[f"pod-security.kubernetes.io/{mode}-version"] = props.pod_security_version
        annotations = {POD_SECURITY_REASON_ANNOTATION: props.privileged_reason} if props.privileged_reason else None
        self.namespace = namespace_v1.NamespaceV1(
            self,
            "namespace",
            metadata=[namespace_v1.NamespaceV1Metadata(name=props.name, labels=labels, annotations=annotations)],
        )
        # Read once: every read is a round trip to the engine.
        self.token: str = self.namespace.metadata.get(0).name
        ns = self.token
        q = props.quota
        resource_quota_v1.ResourceQuotaV1(
            self,
            "quota",
            metadata=resource_quota_v1.ResourceQuotaV1Metadata(name="quota", namespace=ns),
            spec=resource_quota_v1.ResourceQuotaV1Spec(
                hard={
                    "requests.cpu": q.cpu_requests,
                    "requests.memory": q.memory_requests,
                    "limits.cpu": q.cpu_limits,
                    "limits.memory": q.memory_limits,
                    "pods": str(q.pods),
                }
            ),
        )
        limit_range_v1.LimitRangeV1(
            self,
            "limits",
            metadata=limit_range_v1.LimitRangeV1Metadata(name="defaults", namespace=ns),
            spec=limit_range_v1.LimitRangeV1Spec(
                limit=[
                    limit_range_v1.LimitRangeV1SpecLimit(
                        type="Container",
                        default={"cpu": q.default_cpu, "memory": q.default_memory},
                        default_request={"cpu": "100m", "memory": "128Mi"},
                    )
                ]
            ),
        )
        self._policy(
            "default-deny",
            network_policy_v1.NetworkPolicyV1Spec(
                pod_selector=network_policy_v1.NetworkPolicyV1SpecPodSelector(), policy_types=["Ingress", "Egress"]
            ),
        )
        self.allow_egress_to_namespace("allow-dns", "kube-system", ports=((53, "UDP"), (53, "TCP")))

    def _policy(self, name: str, spec: network_policy_v1.NetworkPolicyV1Spec) -> None:
        network_policy_v1.NetworkPolicyV1(
            self,
            name,
            metadata=network_policy_v1.NetworkPolicyV1Metadata(name=name, namespace=self.token),
            spec=spec,
        )

    def _ingress(self, name: str, peer: network_policy_v1.NetworkPolicyV1SpecIngressFrom, ports: Ports) -> None:
        self._policy(
            name,
            network_policy_v1.NetworkPolicyV1Spec(
                pod_selector=network_policy_v1.NetworkPolicyV1SpecPodSelector(),
                policy_types=["Ingress"],
                ingress=[
                    network_policy_v1.NetworkPolicyV1SpecIngress(
                        from_=[peer],
                        ports=[
                            network_policy_v1.NetworkPolicyV1SpecIngressPorts(port=str(p), protocol=proto)
                            for p, proto in ports
                        ]
                        or None,
                    )
                ],
            ),
        )

    def _egress(self, name: str, peers: list[network_policy_v1.NetworkPolicyV1SpecEgressTo], ports: Ports) -> None:
        self._policy(
            name,
            network_policy_v1.NetworkPolicyV1Spec(
                pod_selector=network_policy_v1.NetworkPolicyV1SpecPodSelector(),
                policy_types=["Egress"],
                egress=[
                    network_policy_v1.NetworkPolicyV1SpecEgress(
                        to=peers,
                        ports=[
                            network_policy_v1.NetworkPolicyV1SpecEgressPorts(port=str(p), protocol=proto)
                            for p, proto in ports
                        ]
                        or None,
                    )
                ],
            ),
        )

    def allow_egress_to_namespace(self, name: str, namespace: str, *, ports: Ports = ()) -> None:
        selector = network_policy_v1.NetworkPolicyV1SpecEgressToNamespaceSelector(
            match_labels={"kubernetes.io/metadata.name": namespace}
        )
        self._egress(name, [network_policy_v1.NetworkPolicyV1SpecEgressTo(namespace_selector=selector)], ports)

    def allow_ingress_from_namespace(self, name: str, namespace: str, *, ports: Ports = ()) -> None:
        """Admit pods of ``namespace`` on ``ports`` (every port when none is given)."""
        selector = network_policy_v1.NetworkPolicyV1SpecIngressFromNamespaceSelector(
            match_labels={"kubernetes.io/metadata.name": namespace}
        )
        self._ingress(name, network_policy_v1.NetworkPolicyV1SpecIngressFrom(namespace_selector=selector), ports)

    def allow_ingress_from_network(self, name: str, cidr: str, *, ports: Ports) -> None:
        """Admit ``cidr`` (the VPC: the load balancer targets pods by IP) on ``ports``."""
        block = network_policy_v1.NetworkPolicyV1SpecIngressFromIpBlock(cidr=cidr)
        self._ingress(name, network_policy_v1.NetworkPolicyV1SpecIngressFrom(ip_block=block), ports)

    def allow_egress_to_network(self, name: str, cidr: str, *, ports: Ports) -> None:
        block = network_policy_v1.NetworkPolicyV1SpecEgressToIpBlock(cidr=cidr)
        self._egress(name, [network_policy_v1.NetworkPolicyV1SpecEgressTo(ip_block=block)], ports)

    def allow_egress_to_networks(
        self, name: str, cidrs: Sequence[str], *, ports: Ports, except_: Sequence[str] = ()
    ) -> None:
        """Let every pod reach ``cidrs`` (less ``except_``) on ``ports``, in one policy."""
        peers = [
            network_policy_v1.NetworkPolicyV1SpecEgressTo(
                ip_block=network_policy_v1.NetworkPolicyV1SpecEgressToIpBlock(cidr=cidr, except_=list(except_) or None)
            )
            for cidr in cidrs
        ]
        self._egress(name, peers, ports)
