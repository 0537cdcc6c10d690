"""The kubernetes and helm providers of a stack that works inside one EKS cluster.

Both reach the cluster's endpoint with its CA and authenticate with ``aws eks get-token`` (an exec
plugin), so no token is ever stored in state; running them needs the AWS CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.eks import EksCluster
from qualisys_infra.core.engine import Construct, Fn
from qualisys_infra.core.engine.helm import provider as helm
from qualisys_infra.core.engine.kubernetes import provider as kubernetes

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


@dataclass(frozen=True, slots=True, kw_only=True)
class _ClusterAccess:
    """How to reach and authenticate to one cluster: what both providers are given."""

    host: str
    ca_certificate: str
    command: str
    args: list[str]


def _access(cluster: EksCluster, region: str) -> _ClusterAccess:
    eks = cluster.cluster
    return _ClusterAccess(
        host=eks.endpoint,
        ca_certificate=Fn.base64decode(eks.certificate_authority.get(0).data),
        command="aws",
        args=["eks", "get-token", "--cluster-name", eks.name, "--region", region],
    )


def configure_cluster_providers(scope: Construct, *, cluster: EksCluster, region: str, helm_too: bool = True) -> None:
    """The default ``kubernetes`` provider of ``scope``'s stack for ``cluster``, and unless
    ``helm_too`` is false its ``helm`` provider too."""
    access = _access(cluster, region)
    kubernetes.KubernetesProvider(
        scope,
        "kubernetes",
        host=access.host,
        cluster_ca_certificate=access.ca_certificate,
        exec=[
            kubernetes.KubernetesProviderExec(api_version=EXEC_API_VERSION, command=access.command, args=access.args)
        ],
    )
    if not helm_too:
        return
    helm.HelmProvider(
        scope,
        "helm",
        kubernetes=helm.HelmProviderKubernetes(
            host=access.host,
            cluster_ca_certificate=access.ca_certificate,
            exec=helm.HelmProviderKubernetesExec(
                api_version=EXEC_API_VERSION, command=access.command, args=access.args
            ),
        ),
    )
